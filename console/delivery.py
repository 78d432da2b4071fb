"""Console pages for delivery: a front warehouse's routes by day with an offline map, route
planning queued for the scheduler, one route's stops and proof of delivery, cancelling a route,
failed deliveries promised again, and the outbox's dead letters.

Each page translates a request into calls of the services in wms/ (``delivery``, ``dispatch``,
``commands``, ``outbox``) and renders their answers; the rules live there. Times are shown,
and typed into the forms, in the site's local time (the dead letters, which belong to no site,
in UTC). A refused form comes back with the error next to its field (422) and nothing written;
a refusal because of the current state (a route already under way) is shown on the page (409).
Planning runs in the scheduler process (the ``plan-routes:<SITE>`` task): the page queues it
and shows the command and, once it ran, the orders no route could take and why.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

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
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from werkzeug.wrappers import Response

from console import route_map
from console.auth import actor, planner_required
from console.jobs import _local, scheduler_state
from console.planning import _chosen_site, _front_warehouses
from console.views import bp
from wms import commands, delivery, dispatch, outbox
from wms.db import transaction
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import (
    JobCommand,
    JobCommandKind,
    Order,
    OrderStatus,
    OutboxEvent,
    Package,
    Route,
    RouteKind,
    RouteStatus,
    Site,
    Stop,
    StopEventKind,
    StopStatus,
    Upload,
    utcnow,
)

#: What a datetime-local field sends (seconds when the browser adds them).
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
#: The plan commands of a site listed on its routes page.
RECENT_PLANS = 8
#: The stops whose driver is done with them: late is judged by when, not by the ETA.
SERVED = (StopStatus.DELIVERED, StopStatus.FAILED)
#: What an image endpoint may answer with its own type; anything else is sent as a download.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


def _zone(site: Site) -> ZoneInfo:
    return ZoneInfo(site.timezone)


def _hm(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M") if moment is not None else ""


def _when(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %H:%M") if moment is not None else ""


def _utc(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _window_words(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    """A window as planners say it: "Mon 23 Nov 10:00-11:00", with an en dash (site-local)."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.date() == local_end.date() or local_end.time() == dt.time():
        return f"{local_start:%a %d %b %H:%M}\u2013{local_end:%H:%M}"
    return f"{local_start:%a %d %b %H:%M}\u2013{local_end:%a %d %b %H:%M}"


def _input_value(moment: dt.datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime(LOCAL_INPUT)


def _parse_local(value: str, zone: ZoneInfo, *, field: str) -> dt.datetime:
    """A datetime-local field's value, site-local, as an aware UTC time."""
    text = value.strip()
    for pattern in (LOCAL_INPUT, LOCAL_INPUT + ":%S"):
        try:
            moment = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=zone).astimezone(dt.UTC)
    raise RuleViolation("enter a date and time, as 2026-11-23 10:00", field=field)


def _shown(error: WmsError, scope: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """An error as the templates place it: by the field of the form ``scope`` when it names
    one of ``fields``, else at the top of the page."""
    field = error.field if error.field in fields else None
    return {"scope": scope, "field": field, "message": error.message}


def _settings() -> delivery.DeliverySettings:
    return delivery.DeliverySettings.from_config(current_app.config)


def _next_window(
    after: dt.datetime, zone: ZoneInfo, settings: delivery.DeliverySettings
) -> tuple[dt.datetime, dt.datetime]:
    """The first dispatch window starting at ``after`` or later."""
    start, end = delivery.window_of(after, minutes=settings.window_minutes, zone=zone)
    if start < after:
        start, end = delivery.window_of(end, minutes=settings.window_minutes, zone=zone)
    return start, end


# --- routes of a day ---------------------------------------------------------------------------

PLAN_FIELDS = ("window_start", "window_end")


def _day(zone: ZoneInfo, now: dt.datetime) -> tuple[dt.date | None, str, RuleViolation | None]:
    """The day asked for (``?day=YYYY-MM-DD``, site-local), today by default."""
    text = request.args.get("day", "").strip()
    if not text:
        today = now.astimezone(zone).date()
        return today, today.isoformat(), None
    try:
        return dt.date.fromisoformat(text), text, None
    except ValueError:
        return None, text, RuleViolation("choose a day, as 2026-11-23", field="day")


def _route_row(route: Route, zone: ZoneInfo, colour: str | None) -> dict[str, Any]:
    done = sum(stop.status in dispatch.DONE for stop in route.stops)
    return {
        "id": route.id,
        "number": route.number,
        "carrier": route.carrier.name,
        "vehicle": f"{route.vehicle.code} ({route.vehicle.kind.value.replace('_', ' ')})",
        "driver": route.driver.name if route.driver else "",
        "status": route.status.value,
        "done": done,
        "total": len(route.stops),
        "km": route.distance_m / 1000,
        "start": _hm(route.planned_start, zone),
        "end": _hm(route.planned_end, zone),
        "version": route.version,
        "colour": colour,
    }


def _day_routes(session: Session, site: Site, day: dt.date) -> list[dict[str, Any]]:
    """The site's delivery routes whose window starts on the local day, by window, mapped."""
    zone = _zone(site)
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    found = session.scalars(
        select(Route)
        .where(
            Route.site_id == site.id,
            Route.kind == RouteKind.DELIVERY,
            Route.window_start >= start,
            Route.window_start < end,
        )
        .options(
            selectinload(Route.stops).joinedload(Stop.order),
            joinedload(Route.carrier),
            joinedload(Route.vehicle),
            joinedload(Route.driver),
        )
        .order_by(Route.window_start, Route.window_end, Route.number)
    ).unique()
    windows: dict[tuple[dt.datetime, dt.datetime], list[Route]] = {}
    for route in found:
        windows.setdefault((route.window_start, route.window_end), []).append(route)
    shown = []
    for (window_start, window_end), routes in windows.items():
        # The map shows what will drive: cancelled routes stay in the table, off the map.
        drawn = [r for r in routes if r.status is not RouteStatus.CANCELLED]
        colours = {r.id: route_map.route_colour(i) for i, r in enumerate(drawn)}
        words = _window_words(window_start, window_end, zone)
        shown.append(
            {
                "label": words,
                "id": f"w-{window_start.astimezone(zone):%H%M}",
                "routes": [_route_row(r, zone, colours.get(r.id)) for r in routes],
                "map": route_map.route_map(
                    site, [route_map.map_route(r) for r in drawn],
                    title=f"Routes of {site.code} in the window {words}",
                ) if drawn else None,
            }
        )  # fmt: skip
    return shown


def _plan_commands(session: Session, site: Site) -> list[dict[str, Any]]:
    """The site's latest route-planning commands, newest first, with what they answered."""
    zone = _zone(site)
    found = session.scalars(
        select(JobCommand)
        .where(
            JobCommand.job_id == f"{delivery.PLAN_TASK}:{site.code}",
            JobCommand.kind == JobCommandKind.TASK,
        )
        .order_by(JobCommand.id.desc())
        .limit(RECENT_PLANS)
    )
    rows = []
    for command in found:
        payload, result = command.payload or {}, command.result or {}
        try:
            window = _window_words(
                dt.datetime.fromisoformat(payload["window_start"]),
                dt.datetime.fromisoformat(payload["window_end"]),
                zone,
            )
        except (KeyError, TypeError, ValueError):
            window = "?"
        rows.append(
            {
                "id": command.id,
                "window": window,
                "status": command.status.value,
                "requested_by": command.requested_by,
                "requested_at": _when(command.requested_at, zone),
                "finished_at": _when(command.finished_at, zone),
                "summary": command.summary,
                "error": command.error,
                "routes": len(result.get("routes_planned", []))
                + len(result.get("routes_changed", [])),
                "unassigned": list(result.get("unassigned", [])),
            }
        )
    return rows


def _routes_page(
    *, form: dict[str, str] | None = None, error: WmsError | None = None, status: int = 200
) -> ResponseReturnValue:
    now = utcnow()
    settings = _settings()
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        if site is None:
            return render_template("console/routes.html", sites=sites, site=None)
        zone = _zone(site)
        day, day_text, bad_day = _day(zone, now)
        windows = _day_routes(session, site, day) if day is not None else []
        plans = _plan_commands(session, site)
        state = scheduler_state(session, now)
        if form is None:
            upcoming = delivery.upcoming_windows(now, zone=zone, settings=settings)
            start, end = next(((s, e) for s, e in upcoming if s >= now), upcoming[0])
            form = {
                "window_start": _input_value(start, zone),
                "window_end": _input_value(end, zone),
            }
    if bad_day is not None:
        error, status = bad_day, 422
    shown = None
    if error is not None:
        shown = _shown(error, "day" if error is bad_day else "plan", ("day", *PLAN_FIELDS))
    page = render_template(
        "console/routes.html", sites=sites, site=site, day=day, day_text=day_text,
        windows=windows, plans=plans, form=form, error=shown, state=state,
        zone=site.timezone, window_minutes=settings.window_minutes,
        local=_local,
    )  # fmt: skip
    return page, status


@bp.get("/routes", endpoint="routes")
@planner_required
def routes_page() -> ResponseReturnValue:
    """A front warehouse's routes of a day by window, each window mapped; plan a window."""
    return _routes_page()


@bp.post("/routes/plan", endpoint="plan_routes")
@planner_required
def plan_routes() -> ResponseReturnValue:
    """Queue the planning of a window at a site; a second ask while one is queued finds it."""
    form = {name: request.form.get(name, "") for name in PLAN_FIELDS}
    who = actor()
    try:
        with transaction() as session:
            site = _chosen_site(_front_warehouses(session))
            if site is None:
                abort(404, description="There is no front warehouse.")
            zone, code = _zone(site), site.code
            start = _parse_local(form["window_start"], zone, field="window_start")
            end = _parse_local(form["window_end"], zone, field="window_end")
            payload = delivery.plan_payload(session, code, window_start=start, window_end=end)
            submitted = commands.submit_task(
                session, f"{delivery.PLAN_TASK}:{code}", {**payload, "actor": who}, actor=who,
                now=utcnow(),
            )  # fmt: skip
            command = submitted.command
            command_id, asked = command.id, command.payload
    except RuleViolation as refused:
        return _routes_page(form=form, error=refused, status=422)
    window = _window_words(start, end, zone)
    if submitted.created:
        flash(
            f"Route planning of {code} for {window} queued (command {command_id}); the "
            "scheduler takes it in a moment."
        )
    else:
        theirs = _window_words(
            dt.datetime.fromisoformat(asked["window_start"]),
            dt.datetime.fromisoformat(asked["window_end"]),
            zone,
        )
        flash(
            f"Route planning of {code} is already queued or running (command {command_id}, "
            f"for {theirs}): not asked twice. Ask again when it has finished.",
            "error",
        )
    day = start.astimezone(zone).date().isoformat()
    return redirect(url_for("console.routes", site=code, day=day))


# --- one route -----------------------------------------------------------------------------------


def _late(stop: Stop) -> bool:
    """Whether the stop was served, or is expected, after its window closes."""
    if stop.status is StopStatus.SKIPPED:
        return False
    if stop.status in SERVED:
        served_at = stop.arrived_at or stop.completed_at
        return served_at is not None and served_at > stop.window_end
    return stop.eta > stop.window_end


def _route_page(
    route_id: int, *, error: WmsError | None = None, status: int = 200
) -> ResponseReturnValue:
    with transaction(readonly=True) as session:
        route = session.get(
            Route,
            route_id,
            options=[
                selectinload(Route.stops).options(
                    joinedload(Stop.order), joinedload(Stop.transfer_order),
                    selectinload(Stop.events),
                ),
                joinedload(Route.site), joinedload(Route.carrier), joinedload(Route.vehicle),
                joinedload(Route.driver),
            ],
        )  # fmt: skip
        if route is None:
            abort(404, description=f"There is no route {route_id}.")
        site = route.site
        zone = _zone(site)
        to_load = dispatch.stops_to_load(session, route.id)
        waiting = Counter(p.stop_id for p in to_load)
        stop_ids = [s.id for s in route.stops]
        loaded: dict[int | None, int] = {}
        if stop_ids:
            loaded = {
                stop_id: n
                for stop_id, n in session.execute(
                    select(Package.stop_id, func.count())
                    .where(Package.stop_id.in_(stop_ids), Package.returned_at.is_(None))
                    .group_by(Package.stop_id)
                ).tuples()
            }
        stops = []
        for stop in route.stops:
            what = stop.order.number if stop.order else (
                stop.transfer_order.number if stop.transfer_order else "")  # fmt: skip
            stops.append(
                {
                    "id": stop.id,
                    "sequence": stop.sequence,
                    "what": what,
                    "name": stop.name,
                    "address": stop.address,
                    "status": stop.status.value,
                    "window": f"{_hm(stop.window_start, zone)}\u2013{_hm(stop.window_end, zone)}",
                    "eta": _hm(stop.eta, zone),
                    "served": _hm(stop.arrived_at or stop.completed_at, zone),
                    "late": _late(stop),
                    "loaded": loaded.get(stop.id, 0),
                    "to_load": waiting.get(stop.id, 0),
                    "failure_reason": stop.failure_reason.value if stop.failure_reason else "",
                    "events": [
                        {
                            "kind": event.kind.value,
                            "at": _when(event.happened_at, zone),
                            "reason": event.failure_reason.value if event.failure_reason else "",
                            "recipient": event.recipient_name,
                            "notes": event.notes,
                            "photo_id": event.photo_id,
                            "signature_id": event.signature_id,
                            "actor": event.actor,
                        }
                        for event in stop.events
                        if event.kind is not StopEventKind.EN_ROUTE
                    ],
                }
            )
        view = {
            "id": route.id,
            "number": route.number,
            "kind": route.kind.value,
            "status": route.status.value,
            "site": site.code,
            "carrier": route.carrier.name,
            "vehicle": route.vehicle.code,
            "driver": route.driver.name if route.driver else "",
            "window": _window_words(route.window_start, route.window_end, zone),
            "day": route.window_start.astimezone(zone).date().isoformat(),
            "start": _hm(route.planned_start, zone),
            "end": _hm(route.planned_end, zone),
            "km": route.distance_m / 1000,
            "version": route.version,
            "matrix_source": route.matrix_source,
            "planned_by": route.planned_by,
            "cancellable": route.status in dispatch.LOADABLE,
        }
        drawing = route_map.route_map(
            site, [route_map.map_route(route)], title=f"Route {route.number}"
        )
    shown = _shown(error, "route", ()) if error is not None else None
    page = render_template(
        "console/route.html", route=view, stops=stops, to_load=to_load, drawing=drawing,
        error=shown, zone=site.timezone,
    )  # fmt: skip
    return page, status


@bp.get("/routes/<int:route_id>", endpoint="route")
@planner_required
def route_page(route_id: int) -> ResponseReturnValue:
    """One route: its stops in order, what is still to load, what the driver reported, the map."""
    return _route_page(route_id)


@bp.post("/routes/<int:route_id>/cancel", endpoint="cancel_route")
@planner_required
def cancel_route(route_id: int) -> ResponseReturnValue:
    """Cancel a route before it leaves: its stops skipped, its packages off the vehicle."""
    try:
        with transaction() as session:
            number = dispatch.cancel_route(session, route_id, actor=actor(), now=utcnow()).number
    except NotFound:
        abort(404, description=f"There is no route {route_id}.")
    except Conflict as clash:
        return _route_page(route_id, error=clash, status=409)
    flash(
        f"Route {number} cancelled: its stops are skipped, its packages off the vehicle and "
        "its orders back to packed. Plan the window again to route them."
    )
    return redirect(url_for("console.route", route_id=route_id))


@bp.get("/uploads/<int:upload_id>", endpoint="upload")
@planner_required
def upload_file(upload_id: int) -> Response:
    """A proof-of-delivery photo or signature, as its bytes, and nothing a browser would run."""
    with transaction(readonly=True) as session:
        found = session.get(Upload, upload_id)
        if found is None:
            abort(404, description=f"There is no upload {upload_id}.")
        data, content_type, kind = found.data, found.content_type, found.kind.value
    response = make_response(data)
    if content_type in IMAGE_TYPES:
        response.headers["Content-Type"] = content_type
        response.headers["Content-Disposition"] = f'inline; filename="{kind}-{upload_id}"'
    else:  # not what the upload check lets in: never let the browser guess what it is
        response.headers["Content-Type"] = "application/octet-stream"
        response.headers["Content-Disposition"] = f'attachment; filename="{kind}-{upload_id}"'
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- failed deliveries -----------------------------------------------------------------------


def _failed_page(
    *,
    forms: dict[int, dict[str, str]] | None = None,
    error: WmsError | None = None,
    order_id: int | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    now = utcnow()
    settings = _settings()
    with transaction(readonly=True) as session:
        failed = list(
            session.scalars(
                select(Order)
                .where(Order.status == OrderStatus.FAILED_DELIVERY)
                .options(joinedload(Order.site))
                .order_by(Order.site_id, Order.promised_start, Order.id)
            )
        )
        last_failed: dict[int, Stop] = {}
        if failed:
            for tried in session.scalars(
                select(Stop)
                .where(Stop.order_id.in_([o.id for o in failed]), Stop.status == StopStatus.FAILED)
                .options(joinedload(Stop.route), selectinload(Stop.events))
                .order_by(Stop.completed_at, Stop.id)
            ):
                if tried.order_id is not None:
                    last_failed[tried.order_id] = tried  # the latest try wins
        rows = []
        for order in failed:
            zone = _zone(order.site)
            stop = last_failed.get(order.id)
            failed_window_end = stop.route.window_end if stop is not None else None
            event = next(
                (e for e in reversed(stop.events) if e.kind is StopEventKind.FAILED), None
            ) if stop is not None else None  # fmt: skip
            start, end = _next_window(max(now, failed_window_end or now), zone, settings)
            promised_again = (
                failed_window_end is not None and order.promised_start >= failed_window_end
            )
            rows.append(
                {
                    "id": order.id,
                    "number": order.number,
                    "site": order.site.code,
                    "customer": order.customer_name,
                    "address": order.address,
                    "promised": _window_words(order.promised_start, order.promised_end, zone),
                    "promised_again": promised_again,
                    "route_id": stop.route_id if stop is not None else None,
                    "route": stop.route.number if stop is not None else "",
                    "reason": stop.failure_reason.value.replace("_", " ")
                    if stop is not None and stop.failure_reason
                    else "",
                    "notes": event.notes if event is not None else "",
                    "failed_at": _when(stop.completed_at, zone) if stop is not None else "",
                    "zone": order.site.timezone,
                    "form": (forms or {}).get(order.id)
                    or {
                        "window_start": _input_value(start, zone),
                        "window_end": _input_value(end, zone),
                    },
                }
            )
    shown = None
    if error is not None:
        shown = _shown(error, f"order-{order_id}", PLAN_FIELDS)
    page = render_template(
        "console/failed_deliveries.html", rows=rows, error=shown, error_order=order_id,
        returns_page="scanners.returns" in current_app.view_functions,
    )  # fmt: skip
    return page, status


@bp.get("/failed-deliveries", endpoint="failed_deliveries")
@planner_required
def failed_deliveries() -> ResponseReturnValue:
    """Orders whose delivery failed, with the driver's reason; promise them a later window."""
    return _failed_page()


@bp.post("/failed-deliveries/<int:order_id>/redeliver", endpoint="redeliver")
@planner_required
def redeliver(order_id: int) -> ResponseReturnValue:
    """Promise a failed delivery again in a later window (the next planning routes it)."""
    form = {name: request.form.get(name, "") for name in PLAN_FIELDS}
    try:
        with transaction() as session:
            order = session.get(Order, order_id, options=[joinedload(Order.site)])
            if order is None:
                abort(404, description=f"There is no order {order_id}.")
            zone = _zone(order.site)
            start = _parse_local(form["window_start"], zone, field="window_start")
            end = _parse_local(form["window_end"], zone, field="window_end")
            number = delivery.redeliver(
                session, order_id, window_start=start, window_end=end
            ).number
    except NotFound:
        abort(404, description=f"There is no order {order_id}.")
    except RuleViolation as refused:
        return _failed_page(forms={order_id: form}, error=refused, order_id=order_id, status=422)
    except Conflict as clash:
        return _failed_page(error=clash, order_id=order_id, status=409)
    flash(
        f"Order {number} will be delivered again in {_window_words(start, end, zone)}; the next "
        "planning of that window routes it."
    )
    return redirect(url_for("console.failed_deliveries"))


# --- dead letters ------------------------------------------------------------------------------


def _dead_letters_page(*, error: WmsError | None = None, status: int = 200) -> ResponseReturnValue:
    with transaction(readonly=True) as session:
        rows = [
            {
                "id": event.id,
                "topic": event.topic,
                "key": event.key,
                "attempts": event.attempts,
                "last_error": event.last_error,
                "created_at": _utc(event.created_at),
                "dead_at": _utc(event.dead_at),
            }
            for event in outbox.dead_letters(session)
        ]
    shown = _shown(error, "dead", ()) if error is not None else None
    return render_template("console/dead_letters.html", rows=rows, error=shown), status


@bp.get("/dead-letters", endpoint="dead_letters")
@planner_required
def dead_letters() -> ResponseReturnValue:
    """Outbox events given up on after a day of retries; requeue one once its receiver works."""
    return _dead_letters_page()


@bp.post("/dead-letters/<int:event_id>/requeue", endpoint="requeue_dead_letter")
@planner_required
def requeue_dead_letter(event_id: int) -> ResponseReturnValue:
    """Give a dead letter another day of tries."""
    with transaction() as session:
        event = outbox.requeue(session, event_id, now=utcnow())
        topic = event.topic if event is not None else ""
        known = event is not None or session.get(OutboxEvent, event_id) is not None
    if not known:
        abort(404, description=f"There is no outbox event {event_id}.")
    if event is None:
        clash = Conflict(f"event {event_id} is not a dead letter (requeued already, or delivered)")
        return _dead_letters_page(error=clash, status=409)
    flash(
        f"Event {event_id} ({topic}) requeued: the outbox tries it again in a moment, and for "
        "another day."
    )
    return redirect(url_for("console.dead_letters"))
