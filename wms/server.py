"""Production serving: gunicorn with several workers around the app factory."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from wms.app import create_app

        # Each worker builds its own app (and engine) after the fork.
        return create_app()


def run_gunicorn(
    *, host: str, port: int, workers: int, cert: str | None = None, key: str | None = None
) -> None:
    """Serve with gunicorn: one app per worker process, access log on stdout; HTTPS with cert."""
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "graceful_timeout": 10,
        "timeout": 60,
    }
    if cert and key:
        options.update(certfile=cert, keyfile=key)
    _Gunicorn(options).run()
