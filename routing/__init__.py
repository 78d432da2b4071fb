"""Pure optimisation for the warehouse: layouts, pick paths, batching, vehicle routes.

Dataclasses in, dataclasses out; no Flask, no SQLAlchemy, no ``wms`` imports, no I/O
(ARCHITECTURE.md). Pick paths arrive with issue #4, vehicle routes with issue #5.
"""
