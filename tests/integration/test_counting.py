"""Blind cycle counts: the whole slot is counted, small variances apply, big ones wait."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from wms import allocation, check
from wms.counting import (
    DEFAULT_VARIANCE_THRESHOLD,
    CountBelowReserved,
    CountedLine,
    approve_count,
    cancel_count,
    reject_count,
    start_count,
    submit_count,
)
from wms.errors import Conflict, NotFound, RuleViolation
from wms.models import (
    CountStatus,
    Movement,
    MovementKind,
    Role,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    StockCount,
    StockCountLine,
    Temperature,
    User,
    Zone,
)
from wms.stock import adjust, flag_for_count

LATER = dt.date.today() + dt.timedelta(days=30)
T = DEFAULT_VARIANCE_THRESHOLD


def _state(session) -> tuple[object, ...]:
    session.flush()
    return (
        session.execute(select(Stock.id, Stock.on_hand, Stock.reserved).order_by(Stock.id)).all(),
        session.scalar(select(func.count()).select_from(Movement)),
        session.execute(
            select(StockCount.id, StockCount.status, StockCount.closed_at).order_by(StockCount.id)
        ).all(),
        session.scalar(select(func.count()).select_from(StockCountLine)),
        session.execute(select(Slot.id, Slot.needs_count).order_by(Slot.id)).all(),
    )


@contextmanager
def nothing_changes(session) -> Iterator[None]:
    """Assert that the block changed no balance, movement, count, count line or slot flag."""
    before = _state(session)
    yield
    assert _state(session) == before


@pytest.fixture
def site(make_site):
    return make_site()


@pytest.fixture
def slot(make_slot, make_zone, site):
    return make_slot("R-01", zone=make_zone(site=site), kind=SlotKind.RESERVE)


@pytest.fixture
def supervisor(session):
    person = User(username="boss", display_name="Boss", role=Role.SUPERVISOR)
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def counter(session):
    person = User(username="counter", display_name="Counter", role=Role.ASSOCIATE)
    session.add(person)
    session.flush()
    return person


@pytest.fixture
def milk(make_stock, slot):
    """10 units of MILK in the slot."""
    return make_stock("MILK", qty=10, slot=slot)


@pytest.fixture
def bread(make_stock, slot):
    """4 units of BREAD in the slot."""
    return make_stock("BREAD", qty=4, slot=slot)


def _on_hand(session, row):
    return session.scalar(select(Stock.on_hand).where(Stock.id == row.id))


def _count_movements(session, count):
    return session.scalars(
        select(Movement).where(Movement.reference == f"count:{count.id}").order_by(Movement.id)
    ).all()


def _lines(count):
    return sorted((ln.item.sku, ln.lot, ln.expected_qty, ln.counted_qty) for ln in count.lines)


# --- starting ----------------------------------------------------------------------------------


def test_starting_a_count_opens_it_for_the_slot(session, slot, counter):
    count = start_count(session, slot.id, reason="periodic", user_id=counter.id)

    assert (count.slot_id, count.status, count.reason) == (slot.id, CountStatus.OPEN, "periodic")
    assert count.requested_by == counter.id
    assert count.lines == []


def test_a_count_of_a_flagged_slot_takes_the_flags_reason(session, slot):
    flag_for_count(session, slot.id, reason="short pick: 2 missing")

    assert start_count(session, slot.id).reason == "short pick: 2 missing"


def test_a_slot_has_one_unfinished_count_at_a_time(session, slot, milk):
    first = start_count(session, slot.id)
    with nothing_changes(session), pytest.raises(Conflict) as err:
        start_count(session, slot.id)
    assert err.value.field == "slot_id"

    submit_count(session, first.id, lines=[CountedLine(milk.item_id, 0)], variance_threshold=T)
    assert first.status is CountStatus.PENDING_APPROVAL
    with nothing_changes(session), pytest.raises(Conflict):
        start_count(session, slot.id)

    reject_count(session, first.id, user_id=None, reason="recount")
    assert start_count(session, slot.id).status is CountStatus.OPEN


def test_starting_a_count_of_an_unknown_slot_is_a_rule_violation(session):
    with pytest.raises(RuleViolation) as err:
        start_count(session, 999_999)
    assert err.value.field == "slot_id"


def test_a_reason_longer_than_the_column_is_refused(session, slot):
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        start_count(session, slot.id, reason="x" * 256)
    assert err.value.field == "reason"


# --- submitting: applied at once --------------------------------------------------------------


def test_a_count_that_matches_the_book_is_applied_without_movements(session, slot, milk, counter):
    flag_for_count(session, slot.id, reason="short pick")
    count = start_count(session, slot.id)

    submit_count(
        session,
        count.id,
        lines=[CountedLine(milk.item_id, 10)],
        variance_threshold=T,
        user_id=counter.id,
    )

    assert count.status is CountStatus.APPLIED
    assert (count.counted_by, count.counted_at is not None, count.closed_at is not None) == (
        counter.id,
        True,
        True,
    )
    assert _lines(count) == [("MILK", "", 10, 10)]
    assert _count_movements(session, count) == []
    assert (slot.needs_count, slot.count_reason) == (False, None)
    assert check.verify(session).ok


def test_small_variances_are_applied_at_once_with_one_count_movement_per_row(
    session, slot, milk, bread, counter
):
    flag_for_count(session, slot.id, reason="short pick")
    count = start_count(session, slot.id)

    submit_count(
        session,
        count.id,
        lines=[CountedLine(milk.item_id, 7), CountedLine(bread.item_id, 6)],
        variance_threshold=T,
        user_id=counter.id,
    )

    assert count.status is CountStatus.APPLIED
    assert (_on_hand(session, milk), _on_hand(session, bread)) == (7, 6)
    moves = _count_movements(session, count)
    assert sorted((m.stock_id, m.kind, m.quantity) for m in moves) == sorted(
        [(milk.id, MovementKind.COUNT, -3), (bread.id, MovementKind.COUNT, 2)]
    )
    assert len({m.operation_id for m in moves}) == 1
    assert all(m.user_id == counter.id for m in moves)
    assert "counted 7, expected 10" in next(m.reason for m in moves if m.stock_id == milk.id)
    assert slot.needs_count is False
    assert check.verify(session).ok


def test_rows_the_counter_did_not_mention_are_counted_as_zero(session, slot, milk, bread):
    count = start_count(session, slot.id)

    submit_count(session, count.id, lines=[CountedLine(milk.item_id, 10)], variance_threshold=T)

    assert count.status is CountStatus.APPLIED
    assert _lines(count) == [("BREAD", "", 4, 0), ("MILK", "", 10, 10)]
    assert _on_hand(session, bread) == 0
    assert check.verify(session).ok


def test_an_empty_slot_counted_empty_is_applied(session, slot):
    count = start_count(session, slot.id)

    submit_count(session, count.id, lines=[], variance_threshold=T)

    assert (count.status, count.lines) == (CountStatus.APPLIED, [])


def test_found_units_of_another_item_or_lot_get_a_stock_row(
    session, slot, milk, make_item, make_stock
):
    yoghurt = make_item("YOG", expiry_tracked=True)
    make_stock(item=yoghurt, slot=slot, qty=2, lot="L1", expiry=LATER)
    eggs = make_item("EGGS")
    count = start_count(session, slot.id)

    submit_count(
        session,
        count.id,
        lines=[
            CountedLine(milk.item_id, 10),
            CountedLine(yoghurt.id, 2, lot="L1"),
            CountedLine(yoghurt.id, 3, lot="L2", expiry=LATER),
            CountedLine(eggs.id, 1),
        ],
        variance_threshold=T,
    )

    assert count.status is CountStatus.APPLIED
    found = {
        (row.item.sku, row.lot): (row.on_hand, row.expiry)
        for row in session.scalars(select(Stock).where(Stock.slot_id == slot.id))
    }
    assert found == {
        ("MILK", ""): (10, None),
        ("YOG", "L1"): (2, LATER),
        ("YOG", "L2"): (3, LATER),
        ("EGGS", ""): (1, None),
    }
    assert check.verify(session).ok


def test_a_variance_equal_to_the_threshold_is_still_applied(session, slot, milk):
    count = start_count(session, slot.id)

    submit_count(session, count.id, lines=[CountedLine(milk.item_id, 12)], variance_threshold=2)

    assert count.status is CountStatus.APPLIED
    assert _on_hand(session, milk) == 12


def test_the_default_threshold_is_five_units():
    assert DEFAULT_VARIANCE_THRESHOLD == 5


# --- submitting: waiting for approval ----------------------------------------------------------


def test_a_variance_above_the_threshold_waits_for_approval_and_changes_nothing_on_hand(
    session, slot, milk, bread
):
    flag_for_count(session, slot.id, reason="short pick")
    count = start_count(session, slot.id)
    before = (_on_hand(session, milk), _on_hand(session, bread))
    moves = session.scalar(select(func.count()).select_from(Movement))

    submit_count(
        session,
        count.id,
        lines=[CountedLine(milk.item_id, 10), CountedLine(bread.item_id, 1)],
        variance_threshold=2,
    )

    assert count.status is CountStatus.PENDING_APPROVAL
    assert _lines(count) == [("BREAD", "", 4, 1), ("MILK", "", 10, 10)]
    assert (_on_hand(session, milk), _on_hand(session, bread)) == before
    assert session.scalar(select(func.count()).select_from(Movement)) == moves
    assert slot.needs_count is True
    assert check.verify(session).ok


@pytest.fixture
def pending(session, slot, milk, bread):
    """A count of the slot waiting for approval: MILK 10 → 2, BREAD 4 → 4."""
    flag_for_count(session, slot.id, reason="short pick")
    count = start_count(session, slot.id)
    submit_count(
        session,
        count.id,
        lines=[CountedLine(milk.item_id, 2), CountedLine(bread.item_id, 4)],
        variance_threshold=T,
    )
    assert count.status is CountStatus.PENDING_APPROVAL
    return count


def test_approving_applies_the_count_and_clears_the_slots_flag(
    session, pending, slot, milk, bread, supervisor
):
    approve_count(session, pending.id, user_id=supervisor.id)

    assert (pending.status, pending.decided_by) == (CountStatus.APPLIED, supervisor.id)
    assert pending.closed_at is not None
    assert (_on_hand(session, milk), _on_hand(session, bread)) == (2, 4)
    ((stock_id, quantity, kind, user_id),) = [
        (m.stock_id, m.quantity, m.kind, m.user_id) for m in _count_movements(session, pending)
    ]
    assert (stock_id, quantity, kind, user_id) == (milk.id, -8, MovementKind.COUNT, supervisor.id)
    assert slot.needs_count is False
    assert check.verify(session).ok


def test_approving_after_stock_moved_applies_the_variance_and_keeps_the_later_movement(
    session, pending, slot, milk, supervisor
):
    # 3 units found after the count (10 expected, 2 counted) are real: they must stay.
    adjust(session, slot_id=slot.id, item_id=milk.item_id, quantity=3, reason="found")

    approve_count(session, pending.id, user_id=supervisor.id)

    assert _on_hand(session, milk) == 2 + 3
    (movement,) = _count_movements(session, pending)
    assert movement.quantity == 2 - 10
    assert "counted 2, expected 10, 13 on hand when applied" in movement.reason
    assert check.verify(session).ok


def test_rejecting_changes_nothing_and_keeps_the_slot_flagged_for_a_recount(
    session, pending, slot, milk, supervisor
):
    before = _state(session)

    reject_count(session, pending.id, user_id=supervisor.id, reason="count again, aisle was dark")

    assert (pending.status, pending.decided_by) == (CountStatus.REJECTED, supervisor.id)
    assert "rejected: count again, aisle was dark" in pending.reason
    assert _on_hand(session, milk) == 10
    assert slot.needs_count is True
    assert slot.count_reason == f"count {pending.id} rejected: count again, aisle was dark"
    after = _state(session)
    assert (after[0], after[1]) == (before[0], before[1])
    assert check.verify(session).ok


def test_rejecting_a_count_of_an_unflagged_slot_flags_it(session, slot, milk, supervisor):
    count = start_count(session, slot.id)
    submit_count(session, count.id, lines=[CountedLine(milk.item_id, 0)], variance_threshold=T)

    reject_count(session, count.id, user_id=supervisor.id, reason="recount")

    assert slot.needs_count is True


def test_rejecting_without_a_reason_is_refused(session, pending, supervisor):
    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        reject_count(session, pending.id, user_id=supervisor.id, reason="  ")
    assert err.value.field == "reason"


# --- reserved units ----------------------------------------------------------------------------


@pytest.fixture
def reserve_units(session, make_order, site):
    """Allocate units of a stock row to a new order (the slot must be allocatable)."""

    def make(row, qty):
        order = make_order(site=site, lines=[(row.item, qty)])
        result = allocation.allocate(session, order.lines[0].id)
        assert result.allocated == qty
        return order.lines[0]

    return make


def test_counting_below_the_reserved_units_cannot_be_applied_at_once(
    session, slot, make_stock, reserve_units
):
    row = make_stock("MILK", qty=4, slot=slot)
    reserve_units(row, 3)
    count = start_count(session, slot.id)

    with nothing_changes(session), pytest.raises(CountBelowReserved) as err:
        submit_count(session, count.id, lines=[CountedLine(row.item_id, 2)], variance_threshold=T)
    assert isinstance(err.value, Conflict)
    assert "release those allocations" in err.value.message
    assert count.status is CountStatus.OPEN


def test_approving_below_the_reserved_units_waits_until_the_allocations_are_released(
    session, slot, milk, reserve_units, supervisor
):
    line = reserve_units(milk, 3)
    count = start_count(session, slot.id)
    submit_count(session, count.id, lines=[CountedLine(milk.item_id, 1)], variance_threshold=T)
    assert count.status is CountStatus.PENDING_APPROVAL

    with nothing_changes(session), pytest.raises(CountBelowReserved):
        approve_count(session, count.id, user_id=supervisor.id)
    assert count.status is CountStatus.PENDING_APPROVAL

    allocation.release_line(session, line.id)
    approve_count(session, count.id, user_id=supervisor.id)

    assert count.status is CountStatus.APPLIED
    assert _on_hand(session, milk) == 1
    assert check.verify(session).ok


def test_counting_at_least_the_reserved_units_is_applied(session, slot, milk, reserve_units):
    reserve_units(milk, 3)
    count = start_count(session, slot.id)

    submit_count(session, count.id, lines=[CountedLine(milk.item_id, 8)], variance_threshold=T)

    assert count.status is CountStatus.APPLIED
    assert session.execute(
        select(Stock.on_hand, Stock.reserved).where(Stock.id == milk.id)
    ).one() == (8, 3)
    assert check.verify(session).ok


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (lambda plain, fresh: CountedLine(999_999, 1), "lines[1].item_id"),
        (lambda plain, fresh: CountedLine(plain.id, -1), "lines[1].quantity"),
        (lambda plain, fresh: CountedLine(plain.id, "3"), "lines[1].quantity"),
        (lambda plain, fresh: CountedLine(fresh.id, 1), "lines[1].lot"),
        (lambda plain, fresh: CountedLine(plain.id, 1, lot="L1"), "lines[1].lot"),
        (lambda plain, fresh: CountedLine(plain.id, 1, expiry=LATER), "lines[1].expiry"),
        (lambda plain, fresh: CountedLine(fresh.id, 1, lot="NEW"), "lines[1].expiry"),
        (
            lambda plain, fresh: CountedLine(fresh.id, 1, lot="L1", expiry=LATER),
            "lines[1].expiry",
        ),
        (lambda plain, fresh: CountedLine(fresh.id, 2, lot="L0"), "lines[1]"),
    ],
    ids=[
        "unknown-item",
        "negative",
        "text",
        "lot-tracked-without-lot",
        "lot-on-untracked-item",
        "expiry-on-untracked-item",
        "found-lot-without-expiry",
        "expiry-disagrees-with-the-row",
        "counted-twice",
    ],
)
def test_a_bad_count_line_is_refused_naming_the_line_and_field(
    session, slot, make_item, make_stock, line, field
):
    plain = make_stock("PLAIN", qty=3, slot=slot).item
    fresh = make_item("FRESH", expiry_tracked=True)
    make_stock(item=fresh, slot=slot, qty=2, lot="L1", expiry=LATER + dt.timedelta(days=1))
    count = start_count(session, slot.id)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        submit_count(
            session,
            count.id,
            lines=[CountedLine(fresh.id, 0, lot="L0"), line(plain, fresh)],
            variance_threshold=T,
        )
    assert err.value.field == field
    assert count.status is CountStatus.OPEN


@pytest.mark.parametrize("threshold", [-1, 2.5, "5", True])
def test_a_threshold_that_is_not_a_whole_number_of_units_is_refused(session, slot, threshold):
    count = start_count(session, slot.id)

    with nothing_changes(session), pytest.raises(RuleViolation) as err:
        submit_count(session, count.id, lines=[], variance_threshold=threshold)
    assert err.value.field == "variance_threshold"


def test_submitting_a_count_that_is_not_open_is_a_conflict(session, pending, slot, milk):
    with nothing_changes(session), pytest.raises(Conflict) as err:
        submit_count(
            session, pending.id, lines=[CountedLine(milk.item_id, 10)], variance_threshold=T
        )
    assert err.value.field == "count_id"


@pytest.mark.parametrize("state", ["open", "applied", "rejected", "cancelled"])
def test_approving_or_rejecting_a_count_that_is_not_pending_is_a_conflict(
    session, slot, milk, supervisor, state
):
    count = start_count(session, slot.id)
    if state == "applied":
        submit_count(session, count.id, lines=[CountedLine(milk.item_id, 10)], variance_threshold=T)
    elif state == "rejected":
        submit_count(session, count.id, lines=[], variance_threshold=T)
        reject_count(session, count.id, user_id=supervisor.id, reason="recount")
    elif state == "cancelled":
        cancel_count(session, count.id)

    with nothing_changes(session), pytest.raises(Conflict):
        approve_count(session, count.id, user_id=supervisor.id)
    with nothing_changes(session), pytest.raises(Conflict):
        reject_count(session, count.id, user_id=supervisor.id, reason="no")


def test_an_open_count_can_be_cancelled_and_the_slot_counted_again(session, slot, supervisor):
    count = start_count(session, slot.id)

    cancel_count(session, count.id, user_id=supervisor.id, reason="started by mistake")

    assert (count.status, count.decided_by) == (CountStatus.CANCELLED, supervisor.id)
    assert count.reason == "started by mistake"
    assert start_count(session, slot.id).status is CountStatus.OPEN


def test_a_submitted_count_cannot_be_cancelled(session, pending):
    with nothing_changes(session), pytest.raises(Conflict):
        cancel_count(session, pending.id)


@pytest.mark.parametrize("operation", ["submit", "approve", "reject", "cancel"])
def test_an_unknown_count_is_not_found(session, operation):
    call = {
        "submit": lambda: submit_count(session, 999_999, lines=[], variance_threshold=T),
        "approve": lambda: approve_count(session, 999_999, user_id=None),
        "reject": lambda: reject_count(session, 999_999, user_id=None, reason="x"),
        "cancel": lambda: cancel_count(session, 999_999),
    }[operation]

    with nothing_changes(session), pytest.raises(NotFound):
        call()


# --- at the same time, on PostgreSQL -----------------------------------------------------------


@pytest.mark.postgres
def test_counters_starting_a_count_of_one_slot_at_once_open_only_one(pg_sessions):
    with pg_sessions.begin() as s:
        site = Site(code="FW", name="FW", kind=SiteKind.FRONT_WAREHOUSE, latitude=52.0,
                    longitude=4.9, timezone="Europe/Amsterdam")  # fmt: skip
        s.add(site)
        s.flush()
        zone = Zone(site_id=site.id, code="AMB", name="Ambient", temperature=Temperature.AMBIENT)
        s.add(zone)
        s.flush()
        slot = Slot(site_id=site.id, zone_id=zone.id, barcode="R-1", kind=SlotKind.RESERVE)
        s.add(slot)
        s.flush()
        slot_id = slot.id

    counters = 6
    together = threading.Barrier(counters, timeout=10)
    started: list[int] = []
    refused: list[BaseException] = []

    def start() -> None:
        try:
            together.wait()
            with pg_sessions.begin() as s:
                started.append(start_count(s, slot_id).id)
        except BaseException as exc:
            refused.append(exc)

    threads = [threading.Thread(target=start) for _ in range(counters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(started) == 1
    assert len(refused) == counters - 1
    assert all(isinstance(exc, Conflict) for exc in refused), refused
    with pg_sessions() as s:
        assert (
            s.scalars(select(StockCount.id).where(StockCount.slot_id == slot_id)).all() == started
        )
