"""What `make run` does, end to end: migrate, load the demo once, serve, answer."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
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


def test_serving_https_with_a_certificate_makes_the_session_cookie_secure(tmp_path: Path):
    # A self-signed certificate for 127.0.0.1, as a warehouse LAN might start with.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    env = {**os.environ, "WMS_INSTANCE_PATH": str(tmp_path / "instance")}
    wms = Path(sys.executable).with_name("wms")
    server = subprocess.Popen(
        [str(wms), "serve", "--port", str(port), "--cert", str(cert), "--key", str(key)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"https://127.0.0.1:{port}/scanners/login"
                with urllib.request.urlopen(url, timeout=5, context=trusted) as answer:
                    cookie = answer.headers["Set-Cookie"]
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the server did not start")
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite"} <= attributes
    assert f"https://127.0.0.1:{port}/scanners/" in output


def test_a_certificate_without_its_key_is_refused(wms_cli, tmp_path: Path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")

    result = wms_cli("serve", "--cert", str(cert), database_url=f"sqlite:///{tmp_path}/x.db")

    assert result.exit_code == 2
    assert "--cert and --key go together" in result.output
