"""Signing in to the planner console, and who may open its pages.

Planners and admins sign in with user name and password (argon2; wrong passwords back off like
wrong PINs). The session is Flask-Login's, shared with the scanner pages; forms carry
Flask-WTF's CSRF token. Pages take :func:`planner_required` or :func:`admin_required`: a
visitor who is not signed in is sent to the sign-in form, a signed-in user of another role is
refused with 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from console.views import bp
from wms import users
from wms.db import transaction
from wms.models import Role
from wms.users import SessionUser

F = TypeVar("F", bound=Callable[..., Any])


def me() -> SessionUser:
    """The signed-in user of this request."""
    return cast(SessionUser, current_user._get_current_object())


def actor() -> str:
    """How job runs and commands name the signed-in user ("user:3")."""
    return f"user:{me().id}"


def _requires(roles: tuple[Role, ...]) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if me().role not in {role.value for role in roles}:
                abort(
                    403,
                    description="This page is for "
                    + " and ".join(r.value + "s" for r in roles)
                    + ".",
                )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


planner_required = _requires((Role.PLANNER, Role.ADMIN))
admin_required = _requires((Role.ADMIN,))


def _safe_next(target: str | None) -> str:
    """Only console pages are followed after sign-in (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    """Sign in with user name and password."""
    message = ""
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        if not username or not password:
            message = "enter your user name and password"
        else:
            with transaction() as db:
                # Wrong passwords are counted on the user: commit whatever the check says.
                check = users.check_password(db, username=username, password=password)
                user = SessionUser.of(check.user) if check.user is not None else None
            if user is not None:
                session.clear()  # a new session: nothing of the last one carries over
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
            message = check.message
        return render_template("console/login.html", message=message, username=username), 422
    return render_template("console/login.html", message=message, username=username)


@bp.post("/logout")
def logout() -> Response:
    """Sign out of the console (and of a handheld session in the same browser)."""
    logout_user()
    session.clear()
    return redirect(url_for("console.login"))
