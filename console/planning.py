"""Console pages for planning at the front warehouses: replenishment proposals with their
trace, waves (preview, plan, release, cancel, progress, pick paths), transfers and stock-out
warnings, KPIs with small SVG charts, slotting suggestions and the expiry sweep's findings.

Each page translates a request into calls of the services in wms/ and renders their answers;
the rules live there. Previews run the service and roll back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

from console import charts
from console.auth import actor, me, planner_required
from console.views import bp
from wms import expiry, kpis, picklists, replenishment, slotting, transfers, waves
from wms.db import database, transaction
from wms.errors import WmsError
from wms.models import (
    PickList,
    PickTask,
    PickTaskStatus,
    Site,
    SiteKind,
    TransferStatus,
    Wave,
    utcnow,
)


def _front_warehouses(session: Session) -> list[Site]:
    return list(
        session.scalars(
            select(Site).where(Site.kind == SiteKind.FRONT_WAREHOUSE).order_by(Site.code)
        )
    )


def _chosen_site(sites: list[Site]) -> Site | None:
    """The site of ``?site=CODE`` (or the form's), the first front warehouse by default."""
    code = request.values.get("site")
    if code is None:
        return sites[0] if sites else None
    site = next((s for s in sites if s.code == code), None)
    if site is None:
        abort(404, description=f"There is no front warehouse {code!r}.")
    return site


@contextmanager
def _rolled_back() -> Iterator[Session]:
    """A session whose work is always rolled back: previews keep nothing."""
    session = database().sessions()
    try:
        with session.begin():
            yield session
            session.rollback()
    finally:
        session.close()


# --- replenishment -----------------------------------------------------------------------------


@bp.get("/replenishment", endpoint="replenishment")
@planner_required
def replenishment_page() -> str:
    """What the next replenishment run would do at a site, face by face, with the trace."""
    show_all = request.args.get("all") == "1"
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        run = replenishment.replenish(session, site.id, dry_run=True) if site else None
        proposals = list(run.proposals) if run else []
        reasons = Counter(p.reason for p in proposals)
        if not show_all:
            proposals = [p for p in proposals if p.reason != "above_min"]
    return render_template(
        "console/replenishment.html", sites=sites, site=site, run=run, proposals=proposals,
        reasons=reasons, show_all=show_all,
    )  # fmt: skip


# --- waves ---------------------------------------------------------------------------------------


def _progress(session: Session, wave_ids: list[int]) -> dict[int, Counter[str]]:
    """Pick tasks by status per wave."""
    counts: dict[int, Counter[str]] = {wave_id: Counter() for wave_id in wave_ids}
    if not wave_ids:
        return counts
    rows = session.execute(
        select(PickList.wave_id, PickTask.status)
        .join(PickTask, PickTask.pick_list_id == PickList.id)
        .where(PickList.wave_id.in_(wave_ids))
    )
    for wave_id, status in rows:
        counts[wave_id][status.value] += 1
    return counts


@bp.get("/waves", endpoint="waves")
@planner_required
def waves_page() -> str:
    """The site's waves, newest first, with their progress; preview or plan the next one."""
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        recent = (
            list(
                session.scalars(
                    select(Wave)
                    .where(Wave.site_id == site.id)
                    .options(selectinload(Wave.pick_lists))
                    .order_by(Wave.id.desc())
                    .limit(30)
                )
            )
            if site
            else []
        )
        progress = _progress(session, [w.id for w in recent])
    return render_template(
        "console/waves.html", sites=sites, site=site, waves=recent, progress=progress,
        preview=None,
    )  # fmt: skip


def _settings() -> waves.WaveSettings:
    return waves.WaveSettings.from_config(current_app.config)


@bp.post("/waves/preview")
@planner_required
def wave_preview() -> str:
    """What planning a wave now would do, kept nowhere."""
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
    if site is None:
        abort(404, description="There is no front warehouse.")
    with _rolled_back() as session:
        plan = waves.plan_wave(session, site.id, settings=_settings(), lock=False)
        preview: dict[str, Any] = {"wave": None, "skipped": plan.skipped}
        if plan.wave is not None:
            wave = plan.wave
            preview["wave"] = {
                "orders": wave.orders_count,
                "lines": wave.lines_count,
                "walk_m": wave.walk_m,
                "single_order_walk_m": wave.single_order_walk_m,
                "pick_lists": [
                    {"temperature": pl.temperature.value, "tasks": len(pl.tasks),
                     "totes": pl.totes, "walk_m": pl.walk_m}
                    for pl in wave.pick_lists
                ],
            }  # fmt: skip
    return render_template(
        "console/waves.html", sites=sites, site=site, waves=[], progress={}, preview=preview
    )


@bp.post("/waves/plan")
@planner_required
def wave_plan() -> Response:
    """Plan a wave of the orders due now (kept as planned, not released)."""
    with transaction() as session:
        site = _chosen_site(_front_warehouses(session))
        if site is None:
            abort(404, description="There is no front warehouse.")
        code = site.code
        plan = waves.plan_wave(session, site.id, settings=_settings(), by=me().id)
        wave_id = plan.wave.id if plan.wave is not None else None
        number = plan.wave.number if plan.wave is not None else None
        left_out = len(plan.skipped)
    if wave_id is None:
        flash(f"No wave planned at {code}: no order is due ({left_out} left out).", "error")
        return redirect(url_for("console.waves", site=code))
    flash(f"Wave {number} planned ({left_out} order(s) left out); release it when ready.")
    return redirect(url_for("console.wave_page", wave_id=wave_id))


@bp.get("/waves/<int:wave_id>")
@planner_required
def wave_page(wave_id: int) -> str:
    """One wave: figures, progress, and each pick list with its walk drawn."""
    with transaction(readonly=True) as session:
        wave = session.get(
            Wave,
            wave_id,
            options=[
                selectinload(Wave.pick_lists)
                .selectinload(PickList.tasks)
                .options(selectinload(PickTask.slot), selectinload(PickTask.item))
            ],
        )
        if wave is None:
            abort(404, description=f"There is no wave {wave_id}.")
        lists = []
        for pick_list in wave.pick_lists:
            done = sum(t.status in (PickTaskStatus.PICKED, PickTaskStatus.SHORT)
                       for t in pick_list.tasks)  # fmt: skip
            drawing = picklists.svg(session, pick_list)
            lists.append({"pick_list": pick_list, "done": done, "total": len(pick_list.tasks),
                          "svg": Markup(drawing) if drawing else None})  # fmt: skip
        progress = _progress(session, [wave.id])[wave.id]
        site_code = wave.site.code
    return render_template(
        "console/wave.html", wave=wave, lists=lists, progress=progress, site_code=site_code
    )


@bp.post("/waves/<int:wave_id>/<any(release, cancel):action>")
@planner_required
def wave_action(wave_id: int, action: str) -> Response:
    """Release a planned wave to the floor, or cancel one before picking starts."""
    try:
        with transaction() as session:
            if action == "release":
                wave = waves.release_wave(session, wave_id, by=me().id, now=utcnow())
            else:
                wave = waves.cancel_wave(session, wave_id, now=utcnow())
            number = wave.number
    except WmsError as refused:
        flash(f"Not done: {refused.message}", "error")
        return redirect(url_for("console.wave_page", wave_id=wave_id))
    flash(f"Wave {number} {'released' if action == 'release' else 'cancelled'}.")
    return redirect(url_for("console.wave_page", wave_id=wave_id))


# --- KPIs, slotting, expiry ----------------------------------------------------------------


def _days_arg(default: int = 14) -> int:
    days = request.args.get("days", default, type=int)
    if days is None or not 1 <= days <= 90:
        abort(400, description="days must be a whole number from 1 to 90.")
    return days


@bp.get("/kpis", endpoint="kpis")
@planner_required
def kpis_page() -> str:
    """Per front warehouse: orders, lines, walk per line and pick rate, by day, as charts."""
    days = _days_arg()
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        figures = kpis.front_warehouse_kpis(session, now=utcnow(), days=days)
    chosen = next((f for f in figures if site and f.site_id == site.id), None)
    charts_of_site = None
    if chosen is not None:
        label = [d.day.strftime("%d %b") for d in chosen.days]
        charts_of_site = [
            charts.bar_chart(list(zip(label, [d.orders for d in chosen.days], strict=True)),
                             title=f"Orders picked a day at {chosen.code}", unit="orders"),
            charts.bar_chart(list(zip(label, [d.lines for d in chosen.days], strict=True)),
                             title=f"Lines picked a day at {chosen.code}", unit="lines"),
            charts.line_chart(list(zip(label, [d.walk_per_line_m for d in chosen.days],
                                       strict=True)),
                              title=f"Walk per line at {chosen.code}", unit="m"),
            charts.line_chart(list(zip(label, [d.pick_rate for d in chosen.days], strict=True)),
                              title=f"Pick rate at {chosen.code}", unit="lines/picker-hour"),
        ]  # fmt: skip
    sparks = {
        f.site_id: charts.sparkline(
            [(d.day.strftime("%d %b"), d.orders) for d in f.days],
            title=f"Orders a day at {f.code}", unit="orders",
        )
        for f in figures
    }  # fmt: skip
    return render_template(
        "console/kpis.html", sites=sites, site=site, figures=figures, chosen=chosen,
        charts_of_site=charts_of_site, sparks=sparks, days=days,
    )  # fmt: skip


@bp.get("/slotting", endpoint="slotting")
@planner_required
def slotting_page() -> str:
    """Fast movers far from the depot and slow ones near it: the swaps that save walking."""
    days = _days_arg()
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        review = (
            slotting.review_slotting(session, site_id=site.id, now=utcnow(), days=days)
            if site
            else None
        )
    return render_template(
        "console/slotting.html", sites=sites, site=site, review=review, days=days
    )


@bp.get("/expiry", endpoint="expiry")
@planner_required
def expiry_page() -> str:
    """What the expiry sweep would hold, release and flag now at a site (nothing changes)."""
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        site = _chosen_site(sites)
        settings = expiry.ExpirySettings.from_config(current_app.config)
        sweep = (
            expiry.sweep_expiry(
                session, now=utcnow(), settings=settings, site_id=site.id, dry_run=True
            )
            if site
            else None
        )
    return render_template("console/expiry.html", sites=sites, site=site, sweep=sweep)


# --- transfers -------------------------------------------------------------------------------


@bp.get("/transfers", endpoint="transfers")
@planner_required
def transfers_page() -> str:
    """Open transfers DC → front warehouse with their forecast figures, and stock-out risks."""
    status = request.args.get("status") or None
    with transaction(readonly=True) as session:
        sites = _front_warehouses(session)
        code = request.args.get("site") or None
        site = _chosen_site(sites) if code else None
        try:
            orders = transfers.list_transfers(
                session, site_id=site.id if site else None, status=status
            )
        except WmsError as refused:
            abort(400, description=refused.message)
        risks = transfers.stockout_risks(session, site_id=site.id if site else None)
    return render_template(
        "console/transfers.html", sites=sites, site=site, orders=orders, risks=risks,
        status=status, statuses=[s.value for s in TransferStatus],
    )  # fmt: skip


@bp.post("/transfers/<int:transfer_id>/cancel")
@planner_required
def transfer_cancel(transfer_id: int) -> Response:
    """Cancel a planned transfer (and its receipt at the front warehouse)."""
    try:
        with transaction() as session:
            number = transfers.cancel_transfer(session, transfer_id, by=actor()).number
    except WmsError as refused:
        flash(f"Not cancelled: {refused.message}", "error")
    else:
        flash(f"Transfer {number} cancelled, and its receipt with it.")
    return redirect(url_for("console.transfers"))
