"""Sign-in forms hold each client address to a budget of posts (guessing across accounts)."""

from __future__ import annotations

import re

import pytest

from wms.app import create_app


def _csrf(page) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the form carries its CSRF token"
    return found.group(1)


@pytest.fixture
def strict_app(sessions, tmp_path):
    return create_app(
        {
            "PROFILE": "testing",
            "INSTANCE_PATH": str(tmp_path),
            "SIGN_IN_RATE_LIMIT": "3 per minute",
        },
        sessions=sessions,
    )


@pytest.mark.parametrize("path", ["/console/login", "/scanners/login"])
def test_a_fourth_sign_in_post_within_the_minute_is_told_to_wait(strict_app, path):
    client = strict_app.test_client()
    token = _csrf(client.get(path))
    answers = [
        client.post(
            path,
            data={
                "csrf_token": token,
                "username": f"nobody{n}",
                "password": "x",
                "badge": "1",
                "pin": "0000",
            },
        )
        for n in range(4)
    ]
    assert all(a.status_code != 429 for a in answers[:3])
    assert answers[3].status_code == 429
    assert int(answers[3].headers["Retry-After"]) > 0
    assert "text/html" in answers[3].content_type
    # Reading the form is not an attempt.
    assert client.get(path).status_code == 200
    # Another address has its own budget.
    other = strict_app.test_client()
    fresh = other.post(
        path,
        data={"csrf_token": _csrf(other.get(path)), "username": "a", "password": "b"},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert fresh.status_code != 429
