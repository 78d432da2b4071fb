"""Console pages for admins: users, API tokens, and CSV imports of items and slots.

Each page translates a form into one service call in one transaction and nothing else: the
rules (what a user name looks like, who may hold a PIN, which rows of a file are wrong) live
in ``wms.users``, ``wms.tokens`` and ``wms.imports``. A refused form is shown again with the
error next to its field (422); since the service raised inside the transaction, nothing was
written. Success flashes and redirects (POST/redirect/GET) — except a new token, which is
answered on the page of the POST itself, because its plaintext must never reach a later page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from console.auth import admin_required, me
from console.views import bp
from wms import credentials
from wms import imports as importing
from wms import tokens as api_tokens
from wms import users as accounts
from wms.db import transaction
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import ApiToken, Role, Site, TokenRole, User, utcnow

#: The largest CSV file the import page takes. A warehouse's items or slots fit in far less;
#: a bigger upload is a wrong file, not a bigger warehouse.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: What a spreadsheet saves as text: comma- or semicolon-separated, or tab-separated.
IMPORT_SUFFIXES = (".csv", ".tsv", ".txt")
#: The longest token life the form offers (as ``wms token create --expires-in-days``).


def _when(moment: dt.datetime | None) -> str:
    """A stored UTC time as the admin pages show it."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _site_ids() -> list[int]:
    """The sites ticked on a form."""
    try:
        return [int(value) for value in request.form.getlist("site_ids")]
    except ValueError:
        raise RuleViolation("choose sites from the list", field="site_ids") from None


# --- users ------------------------------------------------------------------------------------


@bp.get("/users")
@admin_required
def users() -> ResponseReturnValue:
    """Every user with role, sites, badge and whether they may sign in; the form for a new one."""
    return _users_page()


def _users_page(
    *, form: dict[str, Any] | None = None, error: WmsError | None = None
) -> ResponseReturnValue:
    with transaction(readonly=True) as session:
        everyone = accounts.list_users(session)
        sites = list(session.scalars(select(Site).order_by(Site.code)))
    page = render_template(
        "console/admin_users.html",
        users=everyone,
        sites=sites,
        roles=[role.value for role in Role],
        form=form or {"username": "", "display_name": "", "role": "associate", "site_ids": []},
        error=error,
    )
    return (page, 422) if error is not None else page


@bp.post("/users")
@admin_required
def create_user() -> ResponseReturnValue:
    """Add a user; a refused form comes back with the error next to its field."""
    form: dict[str, Any] = {
        "username": request.form.get("username", ""),
        "display_name": request.form.get("display_name", ""),
        "role": request.form.get("role", ""),
        "site_ids": request.form.getlist("site_ids"),
    }
    try:
        with transaction() as session:
            user = accounts.create_user(
                session,
                username=form["username"],
                display_name=form["display_name"],
                role=form["role"],
                site_ids=_site_ids(),
                password=request.form.get("password") or None,
            )
            user_id, username = user.id, user.username
    except RuleViolation as refused:
        return _users_page(form=form, error=refused)
    flash(f"User {username} created. Give them a badge, a PIN or a password below.")
    return redirect(url_for("console.user", user_id=user_id))


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int) -> ResponseReturnValue:
    """One user: details, badge, PIN and password."""
    return _user_page(user_id)


def _user_page(
    user_id: int, *, form: dict[str, Any] | None = None, error: WmsError | None = None
) -> ResponseReturnValue:
    with transaction(readonly=True) as session:
        try:
            found = accounts.get_user(session, user_id)
        except NotFound:
            abort(404, description=f"There is no user {user_id}.")
        sites = list(session.scalars(select(Site).order_by(Site.code)))
    form = form or {
        "display_name": found.display_name,
        "role": found.role.value,
        "site_ids": [str(site.id) for site in found.sites],
        "active": found.active,
    }
    locked = found.pin_locked_until is not None and found.pin_locked_until > utcnow()
    page = render_template(
        "console/admin_user.html",
        user=found,
        sites=sites,
        roles=[role.value for role in Role],
        pin_roles=[role.value for role in accounts.PIN_ROLES],
        form=form,
        error=error,
        locked=locked,
        when=_when,
        myself=found.id == me().id,
    )
    return (page, 422) if error is not None else page


@bp.post("/users/<int:user_id>")
@admin_required
def update_user(user_id: int) -> ResponseReturnValue:
    """Change display name, role, sites and whether the user may sign in."""
    form: dict[str, Any] = {
        "display_name": request.form.get("display_name", ""),
        "role": request.form.get("role", ""),
        "site_ids": request.form.getlist("site_ids"),
        "active": "active" in request.form,
    }
    try:
        with transaction() as session:
            changed = accounts.update_user(
                session,
                user_id,
                display_name=form["display_name"],
                role=form["role"],
                site_ids=_site_ids(),
                active=form["active"],
                acting_user_id=me().id,
            )
            username = changed.username
    except NotFound:
        abort(404, description=f"There is no user {user_id}.")
    except RuleViolation as refused:
        return _user_page(user_id, form=form, error=refused)
    flash(f"User {username} saved.")
    return redirect(url_for("console.user", user_id=user_id))


@bp.post("/users/<int:user_id>/badge")
@admin_required
def set_badge(user_id: int) -> ResponseReturnValue:
    """Give the user a badge (kept only as its HMAC), or take it away."""
    remove = request.form.get("action") == "remove"
    badge = None if remove else request.form.get("badge", "")
    return _secret_change(
        user_id,
        lambda session: accounts.set_badge(
            session, user_id, secret_key=current_app.config["SECRET_KEY"], badge=badge
        ),
        done="badge taken away" if remove else "badge set",
    )


@bp.post("/users/<int:user_id>/pin")
@admin_required
def reset_pin(user_id: int) -> ResponseReturnValue:
    """Give the user a new handheld PIN; any wait after wrong PINs is lifted."""
    pin = request.form.get("pin", "")
    return _secret_change(
        user_id, lambda session: accounts.reset_pin(session, user_id, pin=pin), done="new PIN set"
    )


@bp.post("/users/<int:user_id>/password")
@admin_required
def set_password(user_id: int) -> ResponseReturnValue:
    """Give the user a new console password; any wait after wrong tries is lifted."""
    password = request.form.get("password", "")
    return _secret_change(
        user_id,
        lambda session: accounts.set_password(session, user_id, password=password),
        done="new password set",
    )


def _secret_change(
    user_id: int, change: Callable[[Session], User], *, done: str
) -> ResponseReturnValue:
    """Run one badge, PIN or password change; the secret itself is never shown back."""
    try:
        with transaction() as session:
            username = change(session).username
    except NotFound:
        abort(404, description=f"There is no user {user_id}.")
    except RuleViolation as refused:
        return _user_page(user_id, error=refused)
    flash(f"User {username}: {done}.")
    return redirect(url_for("console.user", user_id=user_id))


# --- API tokens -------------------------------------------------------------------------------


@bp.get("/tokens")
@admin_required
def tokens() -> ResponseReturnValue:
    """Every API token: prefix, role, sites, when created, last used, expiring, revoked."""
    return _tokens_page()


def _tokens_page(
    *,
    form: dict[str, Any] | None = None,
    error: WmsError | None = None,
    status: int = 200,
    new_token: dict[str, str] | None = None,
) -> Response:
    now = utcnow()
    with transaction(readonly=True) as session:
        rows = api_tokens.list_tokens(session)
        sites = list(session.scalars(select(Site).order_by(Site.code)))
    page = render_template(
        "console/admin_tokens.html",
        tokens=rows,
        sites=sites,
        roles=[role.value for role in TokenRole],
        form=form or {"name": "", "role": "integration", "site_ids": [], "expires_days": ""},
        error=error,
        new_token=new_token,
        now=now,
        when=_when,
        max_days=credentials.MAX_DAYS,
    )
    response = make_response(page, status)
    if new_token is not None:
        # The plaintext is on this page only: no cache, no history entry may keep a copy.
        response.headers["Cache-Control"] = "no-store"
    return response


def _token_role(value: str) -> TokenRole:
    try:
        return TokenRole(value)
    except ValueError:
        allowed = ", ".join(role.value for role in TokenRole)
        raise RuleViolation(f"choose a role: {allowed}", field="role") from None


def _shown_once(token: ApiToken, plaintext: str) -> dict[str, str]:
    return {"plaintext": plaintext, "prefix": token.prefix, "name": token.name}


@bp.post("/tokens")
@admin_required
def create_token() -> ResponseReturnValue:
    """Issue a token and show its plaintext on this answer only."""
    form: dict[str, Any] = {
        "name": request.form.get("name", ""),
        "role": request.form.get("role", ""),
        "site_ids": request.form.getlist("site_ids"),
        "expires_days": request.form.get("expires_days", ""),
    }
    try:
        with transaction() as session:
            token, plaintext = api_tokens.issue(
                session,
                name=form["name"],
                role=_token_role(form["role"]),
                site_ids=_site_ids(),
                created_by=me().id,
                expires_at=credentials.expiry_in_days(form["expires_days"], now=utcnow()),
            )
            shown = _shown_once(token, plaintext)
    except RuleViolation as refused:
        if refused.field == "expires_at":
            refused.field = "expires_days"
        return _tokens_page(form=form, error=refused, status=422)
    return _tokens_page(new_token=shown, status=201)


@bp.post("/tokens/<prefix>/revoke")
@admin_required
def revoke_token(prefix: str) -> ResponseReturnValue:
    """Revoke a token: requests bearing it are refused from now on."""
    try:
        with transaction() as session:
            token = api_tokens.revoke(session, prefix)
            name = token.name
    except NotFound:
        abort(404, description=f"No token has the prefix {prefix!r}.")
    flash(f"Token {prefix} ({name}) revoked: requests with it are refused from now on.")
    return redirect(url_for("console.tokens"))


@bp.post("/tokens/<prefix>/rotate")
@admin_required
def rotate_token(prefix: str) -> ResponseReturnValue:
    """Revoke a token and issue its successor, shown on this answer only."""
    try:
        with transaction() as session:
            token, plaintext = api_tokens.rotate(session, prefix, created_by=me().id)
            shown = _shown_once(token, plaintext)
    except NotFound:
        abort(404, description=f"No token has the prefix {prefix!r}.")
    except Conflict as clash:
        return _tokens_page(error=clash, status=409)
    return _tokens_page(new_token=shown, status=201)


# --- CSV imports ------------------------------------------------------------------------------

IMPORTERS = {"items": importing.import_items, "slots": importing.import_slots}


@bp.get("/imports")
@admin_required
def imports() -> ResponseReturnValue:
    """The upload form for a CSV file of items or of slots."""
    return _import_page()


def _import_page(
    *,
    what: str = "items",
    error: WmsError | None = None,
    rejected: importing.ImportRejected | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    page = render_template(
        "console/admin_import.html",
        what=what,
        error=error,
        rejected=rejected,
        item_columns=importing.ITEM_COLUMNS,
        slot_columns=importing.SLOT_COLUMNS,
        max_mb=MAX_IMPORT_BYTES // (1024 * 1024),
    )
    return page, status


@bp.post("/imports")
@admin_required
def run_import() -> ResponseReturnValue:
    """Import items or slots from an uploaded CSV: all rows, or none and every bad one listed."""
    what = request.form.get("what", "")
    dry_run = "dry_run" in request.form
    if what not in IMPORTERS:
        refused = RuleViolation("choose what the file holds: items or slots", field="what")
        return _import_page(what="items", error=refused, status=422)
    try:
        content = _uploaded_csv()
    except _FileTooLarge as too_large:
        return _import_page(what=what, error=too_large, status=413)
    except RuleViolation as refused:
        return _import_page(what=what, error=refused, status=422)
    service = IMPORTERS[what]
    try:
        # A check writes nothing, so it needs no write lock (as `wms import --dry-run`).
        with transaction(readonly=dry_run) as session:
            report = service(session, io.BytesIO(content), dry_run=dry_run)
    except importing.ImportRejected as rejected:
        return _import_page(what=what, rejected=rejected, status=422)
    except RuleViolation as refused:
        return _import_page(what=what, error=refused, status=422)
    counts = f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    if report.dry_run:
        flash(f"Checked {report.rows} {what} rows, all valid; nothing written: {counts}.")
    else:
        flash(f"Imported {report.rows} {what} rows: {counts}.")
    return redirect(url_for("console.imports"))


class _FileTooLarge(RuleViolation):
    """The upload is over the page's limit (answered 413, not 422)."""


def _uploaded_csv() -> bytes:
    """The uploaded file's bytes, refusing no file, a wrong type, an empty or too large one."""
    too_large = _FileTooLarge(
        f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB", field="file"
    )
    if (request.content_length or 0) > MAX_IMPORT_BYTES + 64 * 1024:  # the form's own bytes
        raise too_large
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise RuleViolation("choose a CSV file to upload", field="file")
    name = PurePath(upload.filename).name
    if PurePath(name).suffix.lower() not in IMPORT_SUFFIXES:
        raise RuleViolation(
            f"{name} is not a CSV file: save the sheet as CSV (UTF-8) and upload that",
            field="file",
        )
    content = upload.stream.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise too_large
    if not content.strip():
        raise RuleViolation(f"{name} is empty", field="file")
    if content.startswith(b"PK\x03\x04"):
        raise RuleViolation(
            f"{name} is a spreadsheet workbook, not CSV: save it as CSV (UTF-8)", field="file"
        )
    return content
