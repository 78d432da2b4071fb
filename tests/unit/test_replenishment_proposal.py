"""Pick-face replenishment proposals: a pure function of levels, demand and open tasks."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from wms.replenishment import FaceLevel, ReserveRow, propose

SOON = dt.date(2026, 12, 10)
LATER = dt.date(2027, 1, 10)


def face(**changes) -> FaceLevel:
    level = FaceLevel(
        slot_id=1,
        barcode="A-01-01",
        item_id=7,
        sku="MILK",
        min_qty=5,
        max_qty=20,
        on_hand=3,
        reserved=0,
        reserve=(
            ReserveRow(11, "R-LATER", "L2", LATER, 40),
            ReserveRow(12, "R-SOON", "L1", SOON, 30),
        ),
    )
    return replace(level, **changes)


def test_a_face_below_min_is_topped_up_to_max_from_the_first_to_expire():
    [proposal] = propose([face()])

    assert (proposal.reason, proposal.quantity) == ("replenish", 17)  # 20 - 3 on hand
    assert proposal.source is not None and proposal.source.barcode == "R-SOON"
    assert "below min 5" in " ".join(proposal.trace)
    assert "R-SOON (lot L1, 2026-12-10)" in proposal.trace[-1]


def test_reserved_units_count_as_gone_but_still_take_room():
    [proposal] = propose([face(on_hand=12, reserved=9)])  # 3 free, 12 in the slot

    assert (proposal.reason, proposal.quantity) == ("replenish", 8)


def test_units_on_hold_near_expiry_are_not_free_but_still_take_room():
    # 12 in the slot, 10 of them held by the expiry sweep: 2 pickable, below min 5.
    [proposal] = propose([face(on_hand=12, on_hold=10)])

    assert (proposal.reason, proposal.quantity) == ("replenish", 8)  # room 20 - 12
    assert proposal.trace[0] == "12 on hand - 0 reserved - 10 on hold + 0 on its way = 2 free"


def test_a_face_at_or_above_min_is_left_alone():
    [proposal] = propose([face(on_hand=5)])

    assert (proposal.reason, proposal.quantity) == ("above_min", 0)
    assert "not below min 5" in proposal.trace[-1]


def test_demand_of_open_orders_due_soon_triggers_a_top_up_before_the_face_runs_short():
    [proposal] = propose([face(on_hand=10, demand=7)])  # 10 free, 3 after the orders

    assert (proposal.reason, proposal.quantity) == ("replenish", 10)
    assert "- 7 wanted by open orders due soon = 3" in proposal.trace


def test_a_face_with_an_open_task_never_gets_a_second():
    [proposal] = propose([face(on_hand=0, on_its_way=4, open_task_id=99)])

    assert (proposal.reason, proposal.quantity) == ("task_open", 0)
    assert "task 99 already brings 4" in proposal.trace[-1]


def test_no_room_and_no_reserve_say_so():
    [full, empty] = propose([face(on_hand=20, reserved=18), face(reserve=())])

    assert (full.reason, full.quantity) == ("no_room", 0)
    assert (empty.reason, empty.quantity) == ("no_reserve", 0)
    assert "the reserve holds no free MILK" in empty.trace[-1]


def test_one_reserve_row_too_small_brings_what_it_has():
    [proposal] = propose([face(reserve=(ReserveRow(12, "R-SOON", "", None, 6),))])

    assert proposal.quantity == 6
    assert "the rest of the room waits for the next run" in proposal.trace[-1]


rows = st.lists(
    st.builds(
        ReserveRow,
        slot_id=st.integers(1, 50),
        barcode=st.sampled_from(["R-1", "R-2", "R-3"]),
        lot=st.sampled_from(["", "L1", "L2"]),
        expiry=st.none() | st.dates(dt.date(2026, 1, 1), dt.date(2028, 1, 1)),
        free=st.integers(0, 100),
    ),
    max_size=4,
)


@st.composite
def levels(draw) -> FaceLevel:
    max_qty = draw(st.integers(1, 200))
    on_hand = draw(st.integers(0, 250))
    return face(
        min_qty=draw(st.integers(0, max_qty)),
        max_qty=max_qty,
        on_hand=on_hand,
        reserved=draw(st.integers(0, on_hand)),
        on_its_way=draw(st.integers(0, 50)),
        open_task_id=draw(st.none() | st.integers(1, 9)),
        demand=draw(st.integers(0, 100)),
        reserve=tuple(draw(rows)),
    )


@given(st.lists(levels(), max_size=5))
def test_a_proposal_never_overfills_double_books_or_takes_more_than_the_reserve_has(faces):
    for level, proposal in zip(faces, propose(faces), strict=True):
        if not proposal.creates_task:
            assert proposal.quantity == 0
            continue
        assert proposal.source is not None
        assert level.open_task_id is None
        assert level.on_hand + level.on_its_way + proposal.quantity <= level.max_qty
        assert proposal.quantity <= proposal.source.free
        assert level.on_hand - level.reserved + level.on_its_way - level.demand < level.min_qty
        # The source is the first to expire of the rows with free units.
        firsts = [r for r in level.reserve if r.free > 0]
        earliest = min((r.expiry or dt.date.max) for r in firsts)
        assert (proposal.source.expiry or dt.date.max) == earliest
