"""Picking KPIs per front warehouse and local day, from waves really planned and picked."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from tests.integration.waves_fixtures import NOW, Warehouse, build_warehouse
from wms import kpis, picklists, waves
from wms.errors import RuleViolation
from wms.models import OrderStatus, PickList, Role, Temperature, User

SETTINGS = waves.WaveSettings(cart_totes=4, cart_max_weight_g=20_000, tote_volume_cm3=20_000)
TODAY = dt.date(2026, 11, 23)  # NOW is 10:00 in Amsterdam


@pytest.fixture
def house(session: Session) -> Warehouse:
    return build_warehouse(session)


def picker(session: Session, name: str) -> User:
    person = User(username=name, display_name=name.title(), role=Role.ASSOCIATE)
    session.add(person)
    session.flush()
    return person


def pick_a_wave(session: Session, house: Warehouse, who: User) -> list[PickList]:
    """Plan and release a wave of what is due, and pick every one of its lists in full."""
    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)
    assert plan.wave is not None
    waves.release_wave(session, plan.wave.id, now=NOW)
    done = []
    while (pick_list := picklists.take_next(session, house.site.id, user_id=who.id)) is not None:
        for task in sorted(pick_list.tasks, key=lambda t: t.sequence):
            picklists.confirm_task(
                session, pick_list.id, task.id, quantity=task.quantity, user_id=who.id
            )
        done.append(pick_list)
    return done


def retime(pick_list: PickList, start: dt.datetime, minutes: float) -> None:
    """Say the list was taken at ``start`` and its last task confirmed ``minutes`` later."""
    pick_list.started_at = start
    tasks = sorted(pick_list.tasks, key=lambda t: t.sequence)
    for k, task in enumerate(tasks, start=1):
        task.done_at = start + dt.timedelta(minutes=minutes * k / len(tasks))
    pick_list.done_at = tasks[-1].done_at


def lines_of(pick_list: PickList) -> int:
    return len({t.order_line_id for t in pick_list.tasks if t.picked_qty > 0})


def test_a_picked_wave_gives_orders_lines_walk_per_line_and_pick_rate(session, house):
    bread, milk = house.stocked(), house.stocked(Temperature.CHILLED)
    soap = house.stocked(aisle=4, bay=9)
    made = [
        house.order([(bread, 1), (soap, 2)]),
        house.order([(milk, 1)]),
        house.order([(soap, 1)]),
    ]
    ann = picker(session, "ann")
    lists = pick_a_wave(session, house, ann)
    assert all(order.status is OrderStatus.PICKED for order in made)
    for pick_list in lists:  # each list took Ann 30 minutes this morning
        retime(pick_list, NOW - dt.timedelta(hours=2), 30)
    session.flush()

    [site] = kpis.front_warehouse_kpis(session, now=NOW, days=3, site_ids=[house.site.id])

    assert [d.day for d in site.days] == [
        TODAY - dt.timedelta(days=2),
        TODAY - dt.timedelta(1),
        TODAY,
    ]
    today = site.days[-1]
    lines = sum(lines_of(p) for p in lists)
    walk = sum(p.walk_m or 0.0 for p in lists)
    assert (today.orders, today.lines, today.pickers) == (3, 4, 1)
    assert lines == 4
    assert today.walk_m == pytest.approx(walk) and walk > 0
    assert today.walk_per_line_m == pytest.approx(walk / 4)
    assert today.picker_hours == pytest.approx(0.5 * len(lists))
    assert today.pick_rate == pytest.approx(4 / (0.5 * len(lists)))
    assert site.days[0] == kpis.DayKpis(day=TODAY - dt.timedelta(days=2))
    assert site.days[0].walk_per_line_m is None and site.days[0].pick_rate is None
    assert site.total.orders == 3 and site.total.lines == 4


def test_days_are_the_sites_local_days(session, house):
    tea = house.stocked()
    house.order([(tea, 1)])
    [pick_list] = pick_a_wave(session, house, picker(session, "bo"))
    # 23:40 UTC on the 22nd is 00:40 on the 23rd in Amsterdam: today there, not yesterday.
    retime(pick_list, dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC), 10)
    session.flush()

    [site] = kpis.front_warehouse_kpis(session, now=NOW, days=2, site_ids=[house.site.id])

    assert [(d.day, d.orders, d.lines) for d in site.days] == [
        (TODAY - dt.timedelta(days=1), 0, 0),
        (TODAY, 1, 1),
    ]


def test_unpicked_orders_and_other_sites_are_not_counted(session, house):
    tea = house.stocked()
    waiting = house.order([(tea, 1)])
    plan = waves.plan_wave(session, house.site.id, settings=SETTINGS, now=NOW)
    assert plan.wave is not None
    waves.release_wave(session, plan.wave.id, now=NOW)  # released, nobody picked yet
    other = build_warehouse(session)
    other.order([(other.stocked(), 1)])
    [done] = pick_a_wave(session, other, picker(session, "cy"))
    retime(done, NOW - dt.timedelta(hours=1), 20)
    session.flush()

    found = kpis.front_warehouse_kpis(
        session, now=NOW, days=1, site_ids=[house.site.id, other.site.id]
    )

    by_code = {s.code: s.days[-1] for s in found}
    assert waiting.status is OrderStatus.IN_WAVE
    assert (by_code[house.site.code].orders, by_code[house.site.code].lines) == (0, 0)
    assert (by_code[other.site.code].orders, by_code[other.site.code].lines) == (1, 1)
    assert by_code[other.site.code].pick_rate == pytest.approx(1 / (20 / 60))


def test_every_front_warehouse_is_listed_by_code_even_without_picking(session, house):
    codes = [s.code for s in kpis.front_warehouse_kpis(session, now=NOW, days=7)]
    assert house.site.code in codes and codes == sorted(codes)
    with pytest.raises(RuleViolation):
        kpis.front_warehouse_kpis(session, now=NOW, days=0)
