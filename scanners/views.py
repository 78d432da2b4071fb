"""Scanner pages: sign-in by badge, one task per screen, the command sheet, the service worker.

Pages are rendered here from the services' answers; what a scan does is posted by the page's
script to the API (``/api/v1``) with the session's CSRF token and an Idempotency-Key, through
the page's outbox. No business rule lives here.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    json,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from scanners import commands
from wms import dock, lookup, network, picklists, receiving, scanning, tasks, users
from wms.db import transaction
from wms.errors import WmsError
from wms.models import PickTaskStatus, utcnow
from wms.users import SessionUser

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint(
    "scanners",
    __name__,
    url_prefix="/scanners",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: What wedges type for the GS1 group separator they cannot send (``WMS_SCANNER_GS_STANDIN``).
DEFAULT_GS_STANDIN = "~"

#: The pages of the home menu, in the order of a shift: endpoint, label, what it is for.
MENU = (
    ("receive", "Receive", "Receipt, then items"),
    ("putaway", "Put away", "Item, then its slot"),
    ("task_list", "Tasks", "Moves waiting"),
    ("pick", "Pick", "Next pick list"),
    ("pack", "Pack", "Tote to package"),
    ("move", "Move", "Slot to slot"),
    ("count", "Count", "Count a slot"),
    ("lookup_page", "Look up", "Slot or item"),
    ("labels", "Labels", "Slot and tote"),
)

#: Who works the dispatch dock and the returns desk (admins may do everything).
DISPATCH_ROLES = frozenset({"associate", "supervisor", "admin"})

#: The dock's pages on the home menu, for the roles above.
DISPATCH_MENU = (
    ("dispatch", "Dispatch", "Load a route's vehicle"),
    ("returns", "Returns", "Failed deliveries back"),
)

# --- who is signed in ---------------------------------------------------------------------------

Page = str | WerkzeugResponse


def _idle_lock_s() -> int:
    return int(current_app.config.get("SCANNER_IDLE_LOCK_S", users.IDLE_LOCK_S))


def _user() -> SessionUser:
    return cast(SessionUser, current_user)


def is_locked() -> bool:
    """Whether this handheld's session is locked: by hand, or idle longer than allowed."""
    return users.handheld_locked(session, idle_lock_s=_idle_lock_s(), now=time.time())


def signed_in(view: F) -> F:
    """Let a page open for a signed-in, unlocked handheld; others go to the badge scan."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("scanners.login", next=request.full_path.rstrip("?")))
        if is_locked():
            session["locked"] = True
            return redirect(url_for("scanners.login", next=request.full_path.rstrip("?")))
        session["seen"] = time.time()
        return view(*args, **kwargs)

    return cast(F, wrapper)


def needs_site(view: F) -> F:
    """Let a page open once the handheld works for a site (chosen on the home page)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        site = _site()
        if site is None:
            return redirect(url_for("scanners.index"))
        return view(*args, site=site, **kwargs)

    return cast(F, wrapper)


def dock_staff(view: F) -> F:
    """Let a dock page open for associates and supervisors (and admins); others get a 403."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        role = _user().role
        if role not in DISPATCH_ROLES:
            abort(403, f"this page is for associates and supervisors; you signed in as {role}")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def _sites() -> list[dict[str, Any]]:
    user = _user()
    with transaction(readonly=True) as db:
        found = network.sites_of(db, None if user.role == "admin" else user.site_ids)
        return [{"id": s.id, "code": s.code, "name": s.name} for s in found]


def _site() -> dict[str, Any] | None:
    sites = _sites()
    chosen = session.get("site_id")
    if len(sites) == 1:
        return sites[0]
    return next((s for s in sites if s["id"] == chosen), None)


def _render(template: str, *, page: str, data: dict[str, Any] | None = None, **context: Any) -> str:
    """Render a scanner page; ``data`` reaches the page's script as JSON."""
    user = _user() if current_user.is_authenticated else None
    site = _site() if user is not None else None
    config = current_app.config
    page_data = {
        "page": page,
        "user": {"id": user.id, "name": user.display_name} if user else None,
        "site": site,
        "idleLockS": _idle_lock_s(),
        "gsStandIn": config.get("SCANNER_GS_STANDIN", DEFAULT_GS_STANDIN),
        "api": "/api/v1",
        # When the page was made, by the server's clock: a kept copy shown offline is older.
        "rendered": utcnow().isoformat(),
        **(data or {}),
    }
    return render_template(
        template, page=page, page_data=page_data, user=user, site=site, **context
    )


# --- sign-in, lock, switch ----------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    """Sign in by badge scan; supervisors, planners and admins add their PIN."""
    locked = bool(current_user.is_authenticated and session.get("locked"))
    switching = request.args.get("switch") == "1"
    message = ""
    badge = ""
    ask_pin = False
    if request.method == "POST":
        badge = request.form.get("badge", "").strip()
        pin = request.form.get("pin") or None
        if badge:
            with transaction() as db:
                # A wrong PIN is counted on the user: commit whatever the check says.
                check = users.check_badge(
                    db, secret_key=current_app.config["SECRET_KEY"], badge=badge, pin=pin
                )
                user = SessionUser.of(check.user) if check.user is not None else None
            if user is not None:
                previous = current_user.get_id() if current_user.is_authenticated else None
                site_id = session.get("site_id") if previous == str(user.id) else None
                # A new session for whoever signs in: nothing of the last one carries over
                # (its CSRF token included), but the same user unlocking keeps their site.
                session.clear()
                login_user(user)
                if site_id is not None:
                    session["site_id"] = site_id
                session["locked"] = False
                session["seen"] = time.time()
                return redirect(_safe_next(request.args.get("next")))
            message = check.message
            ask_pin = check.refusal in ("pin_required", "wrong_pin")
            if not ask_pin:
                badge = ""
        else:
            message = "scan your badge"
    status = 200 if not message or (ask_pin and not request.form.get("pin")) else 422
    return _render(
        "scanners/login.html",
        page="login",
        data={"error": message if status == 422 else ""},
        message=message,
        badge=badge,
        ask_pin=ask_pin,
        locked=locked,
        switching=switching,
    ), status  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only pages of this app are followed after sign-in."""
    if target and target.startswith("/scanners/") and not target.startswith("//"):
        return target
    return url_for("scanners.index")


@bp.post("/lock")
def lock() -> Page:
    """Lock the handheld (idle or by hand); the same badge unlocks, another switches."""
    if current_user.is_authenticated:
        session["locked"] = True
    return redirect(url_for("scanners.login", next=request.form.get("next") or None))


@bp.post("/logout")
def logout() -> Page:
    """Sign out; the outbox keeps what it holds until its user signs in again."""
    logout_user()
    session.pop("site_id", None)
    session.pop("locked", None)
    return redirect(url_for("scanners.login"))


@bp.get("/session")
def session_state() -> Response:
    """Who this handheld acts for and a fresh CSRF token, for the outbox before it sends."""
    if not current_user.is_authenticated:
        return Response('{"user": null}', mimetype="application/json", status=401)
    if is_locked():
        return Response('{"user": null, "locked": true}', mimetype="application/json", status=401)
    payload = {"user": {"id": _user().id, "name": _user().display_name}, "csrf": generate_csrf()}
    response = Response(json.dumps(payload), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/active")
def active() -> Response:
    """Scanning on one page for a long while is activity too: the page says so here."""
    if current_user.is_authenticated and not is_locked():
        session["seen"] = time.time()
        return Response(status=204)
    return Response(status=401)


# --- home ---------------------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST"])
@signed_in
def index() -> Page:
    """The menu, or the choice of site first when the user works for several."""
    sites = _sites()
    if request.method == "POST":
        wanted = request.form.get("site_id", type=int)
        if wanted not in {s["id"] for s in sites}:
            abort(422, "choose one of your sites")
        session["site_id"] = wanted
        return redirect(url_for("scanners.index"))
    site = _site()
    waiting = picking = 0
    if site is not None:
        with transaction(readonly=True) as db:
            waiting = len(tasks.tasks_for(db, site_id=site["id"], user_id=_user().id))
            picking = 1 if picklists.in_progress_for(db, site["id"], user_id=_user().id) else 0
    return _render(
        "scanners/home.html",
        page="home",
        sites=sites,
        menu=MENU,
        dispatch_menu=DISPATCH_MENU if _user().role in DISPATCH_ROLES else (),
        waiting=waiting,
        picking=picking,
    )


# --- the task pages -----------------------------------------------------------------------------


@bp.get("/receive")
@signed_in
@needs_site
def receive(site: dict[str, Any]) -> Page:
    """Receive: scan the receipt (or a dock for a blind receipt), then items and quantities."""
    receipt = None
    receipt_id = request.args.get("receipt", type=int)
    if receipt_id is not None:
        with transaction(readonly=True) as db:
            try:
                summary = receiving.summary_at(db, receipt_id, site_id=site["id"])
            except WmsError:
                abort(404, f"receipt {receipt_id} is not at {site['code']}")
            found = summary.receipt
            names = lookup.item_names(db, [line.item_id for line in summary.lines])
            receipt = {
                "id": found.id,
                "number": found.number,
                "kind": found.kind.value,
                "status": found.status.value,
                "dock": found.dock_slot.barcode,
                "lines": [
                    {
                        "item_id": line.item_id,
                        "sku": line.sku,
                        "name": names.get(line.item_id, ""),
                        "lot": line.lot,
                        "expected": line.expected,
                        "received": line.received,
                    }
                    for line in summary.lines
                ],
            }
    return _render("scanners/receive.html", page="receive", data={"receipt": receipt})


@bp.get("/putaway")
@signed_in
@needs_site
def putaway(site: dict[str, Any]) -> Page:
    """Put away: scan a received item at the dock, see its slot, scan the slot."""
    return _render("scanners/putaway.html", page="putaway")


@bp.get("/tasks")
@signed_in
@needs_site
def task_list(site: dict[str, Any]) -> Page:
    """Every move-type task for this user or nobody at the site, worked on one page."""
    with transaction(readonly=True) as db:
        waiting = tasks.tasks_for(db, site_id=site["id"], user_id=_user().id)
        barcodes = lookup.item_barcodes(db, [t.item_id for t in waiting])
        rows = [
            {
                "id": t.id,
                "kind": t.kind.value,
                "status": t.status.value,
                "sku": t.item.sku,
                "name": t.item.name,
                "lot": t.lot,
                "remaining": t.quantity - t.done_qty,
                "from": t.from_slot.barcode,
                "to": t.to_slot.barcode if t.to_slot is not None else None,
                "barcodes": barcodes.get(t.item_id, []),
            }
            for t in waiting
        ]
    return _render("scanners/tasks.html", page="tasks", data={"tasks": rows})


@bp.get("/pick")
@signed_in
@needs_site
def pick(site: dict[str, Any]) -> Page:
    """Pick: the walk of the user's pick list, one task at a time (slot, item, quantity, tote)."""
    with transaction(readonly=True) as db:
        current = picklists.in_progress_for(db, site["id"], user_id=_user().id)
        pick_list = None
        svg = None
        if current is not None:
            active = [t for t in current.tasks if t.status is not PickTaskStatus.CANCELLED]
            barcodes = lookup.item_barcodes(db, [t.item_id for t in active])
            svg = picklists.svg(db, current)
            pick_list = {
                "id": current.id,
                "number": current.number,
                "temperature": current.temperature.value,
                "walk_m": current.walk_m,
                "tasks": [
                    {
                        "id": t.id,
                        "status": t.status.value,
                        "slot": t.slot.barcode,
                        "sku": t.item.sku,
                        "name": t.item.name,
                        "lot": t.lot,
                        "quantity": t.quantity,
                        "picked": t.picked_qty,
                        "tote": t.tote_code,
                        "order": t.order.number,
                        "barcodes": barcodes.get(t.item_id, []),
                    }
                    for t in active
                ],
            }
    return _render("scanners/pick.html", page="pick", data={"pickList": pick_list}, svg=svg)


@bp.get("/pack")
@signed_in
@needs_site
def pack(site: dict[str, Any]) -> Page:
    """Pack: scan a tote, confirm its order's lines, close the package, print its label."""
    return _render("scanners/pack.html", page="pack")


@bp.get("/move")
@signed_in
@needs_site
def move(site: dict[str, Any]) -> Page:
    """Move: source slot, item, quantity, destination slot."""
    return _render("scanners/move.html", page="move")


@bp.get("/count")
@signed_in
@needs_site
def count(site: dict[str, Any]) -> Page:
    """Blind count: scan the slot, then each item and how many; no expected figure is shown."""
    return _render("scanners/count.html", page="count")


@bp.get("/lookup")
@signed_in
@needs_site
def lookup_page(site: dict[str, Any]) -> Page:
    """Look up a scanned slot (what it holds) or item (where it is, lots, expiry)."""
    code = request.args.get("code", "").strip()
    found: dict[str, Any] | None = None
    message = ""
    if code:
        standin = current_app.config.get("SCANNER_GS_STANDIN", DEFAULT_GS_STANDIN)
        with transaction(readonly=True) as db:
            try:
                slot = scanning.find_slot(db, code)
            except WmsError:
                slot = None
            if slot is not None and slot.site_id == site["id"]:
                rows = lookup.slot_contents(db, slot.id)
                found = {
                    "slot": slot,
                    "rows": [
                        (r.item.sku, r.item.name, r.lot, r.expiry, r.on_hand, r.reserved)
                        for r in rows
                    ],
                }
            else:
                try:
                    item, _units = scanning.find_item(
                        db, scanning.parse_scan(code.replace(standin, "\x1d"))
                    )
                    rows = lookup.item_whereabouts(db, item.id, site_id=site["id"])
                    found = {
                        "item": item,
                        "rows": [
                            (
                                r.slot.barcode,
                                r.slot.kind.value,
                                r.lot,
                                r.expiry,
                                r.on_hand,
                                r.reserved,
                            )
                            for r in rows
                        ],
                    }
                except WmsError as error:
                    message = f"{code}: {error.message}"
    return _render(
        "scanners/lookup.html",
        page="lookup",
        data={"error": message},
        code=code,
        found=found,
        message=message,
    )


@bp.get("/labels")
@signed_in
@needs_site
def labels(site: dict[str, Any]) -> Page:
    """Print labels: scan a slot or a tote (packages print from the pack page)."""
    code = request.args.get("code", "").strip()
    found: dict[str, Any] | None = None
    message = ""
    if code:
        with transaction(readonly=True) as db:
            try:
                slot = scanning.find_slot(db, code)
                if slot.site_id == site["id"]:
                    found = {"what": f"slot {slot.barcode}", "path": f"slots/{slot.id}"}
            except WmsError:
                try:
                    order = picklists.order_of_tote(db, code)
                    if order.site_id == site["id"]:
                        found = {
                            "what": f"tote {code.upper()} (order {order.number})",
                            "path": f"totes/{code.upper()}",
                        }
                except WmsError:
                    pass
            if found is None:
                message = f"{code}: neither a slot nor a tote label of {site['code']}"
    return _render(
        "scanners/labels.html",
        page="labels",
        data={"error": message},
        code=code,
        found=found,
        message=message,
    )


@bp.get("/dispatch")
@signed_in
@dock_staff
@needs_site
def dispatch(site: dict[str, Any]) -> Page:
    """Dispatch: scan (or choose) a route or its vehicle, then each package onto the vehicle."""
    route_id = request.args.get("route", type=int)
    with transaction(readonly=True) as db:
        if route_id is None:
            routes = _plain(dock.route_board(db, site["id"], now=utcnow()))
            route = None
        else:
            try:
                load = dock.route_load(db, route_id)
            except WmsError:
                load = None
            if load is None or load["site_id"] != site["id"]:
                abort(404, f"route {route_id} does not leave from {site['code']}")
            route, routes = _plain(load), []
    return _render(
        "scanners/dispatch.html",
        page="dispatch",
        data={"route": route, "routes": routes},
        route=route,
        routes=routes,
    )


def _plain(value: Any) -> Any:
    """A service's figures as the page's script reads them: enums by value, times ISO 8601."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@bp.get("/returns")
@signed_in
@dock_staff
@needs_site
def returns(site: dict[str, Any]) -> Page:
    """Returns: a failed delivery's package, then back to stock (scan the slot) or quarantine."""
    return _render("scanners/returns.html", page="returns")


@bp.get("/commands")
def command_sheet() -> str:
    """A printable sheet of the command barcodes every page understands."""
    return render_template("scanners/commands.html", sheet=commands.sheet())


# --- errors: answered on a scanner page, with a scan field, never a bare error page -----------


def _error_page(status: int, title: str, detail: str) -> tuple[str, int]:
    back = request.referrer if request.referrer and "/scanners/" in request.referrer else None
    page = _render(
        "scanners/error.html",
        page="error",
        data={"error": detail},
        title=title,
        detail=detail,
        back=back,
    )
    return page, status


@bp.errorhandler(CSRFError)
def on_stale_form(error: CSRFError) -> tuple[str, int]:
    """A form from a session that is gone (signed out elsewhere, the cookie lost)."""
    return _error_page(400, "Scan again", "This page was older than your session: scan again.")


@bp.errorhandler(HTTPException)
def on_http_error(error: HTTPException) -> tuple[str, int]:
    return _error_page(error.code or 500, error.name, error.description or "")


@bp.errorhandler(WmsError)
def on_refusal(error: WmsError) -> tuple[str, int]:
    return _error_page(422, "Cannot do that", error.message)


# --- offline ------------------------------------------------------------------------------------

_STATIC = Path(__file__).parent / "static" / "scanners"


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from /scanners/ so that it may keep these pages offline."""
    response = Response((_STATIC / "sw.js").read_text(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
def offline() -> str:
    """What the service worker shows for a page it has never kept."""
    return render_template("scanners/offline.html")
