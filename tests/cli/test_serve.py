"""What `make run` does, end to end: migrate, load the demo once, serve, answer."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_served_demo_network_is_healthy_and_shows_its_counts(
    wms_cli, new_database, tmp_path: Path
):
    url = new_database()
    assert wms_cli("db", "upgrade", database_url=url).exit_code == 0
    loaded = wms_cli("demo", "load", "--if-empty", database_url=url)
    assert loaded.exit_code == 0, loaded.output

    port = _free_port()
    env = {
        **os.environ,
        "WMS_DATABASE_URL": url,
        "WMS_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    wms = Path(sys.executable).with_name("wms")
    server = subprocess.Popen(
        [str(wms), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = _get(f"{base}/healthz")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the server did not start")
                time.sleep(0.2)
        assert status == 200
        assert json.loads(body) == {"status": "ok", "database": "ok"}

        status, page = _get(f"{base}/")
        assert status == 200
        counts = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', page))
        assert counts["front_warehouses"] == "3"
        assert counts["central_dcs"] == "1"
        assert counts["open_orders"] == "300"
        assert _get(f"{base}/api/docs")[0] == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    # The banner names every entry point and the demo logins.
    for expected in ("/scanners/", "/console/", "/api/docs", "associate", "supervisor"):
        assert expected in output
