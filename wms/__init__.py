"""The front-warehouse fulfilment domain: models, stock ledger, services, CLI.

``wms.app.create_app`` is the one composition root; nothing is built at import time.
"""
