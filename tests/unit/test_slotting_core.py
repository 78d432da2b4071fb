"""The pure core of the slotting review: swaps best saving first, ABC classes by pick share."""

from __future__ import annotations

import pytest

from wms.models import VelocityClass
from wms.slotting import FaceUse, plan_slotting, velocity_classes

A, B, C = VelocityClass.A, VelocityClass.B, VelocityClass.C


def face(slot_id: int, distance_m: float, item_id: int | None, picks: int = 0, zone: int = 1):
    return FaceUse(
        slot_id=slot_id,
        barcode=f"F-{slot_id:02d}",
        zone_id=zone,
        distance_m=distance_m,
        item_id=item_id,
        sku=None if item_id is None else f"SKU-{item_id}",
        picks=picks,
    )


def plan(faces, *, days=10.0, **kw):
    picks = {f.item_id: f.picks for f in faces if f.item_id is not None}
    return plan_slotting(faces, days=days, item_picks=picks, velocity={}, **kw)


def test_the_best_saving_goes_first_and_each_face_swaps_once():
    faces = [
        face(1, 5.0, item_id=11, picks=0),  # near, slow
        face(2, 8.0, item_id=12, picks=10),  # middle, medium
        face(3, 30.0, item_id=13, picks=100),  # far, fast
        face(4, 25.0, item_id=14, picks=40),  # far-ish, quite fast
    ]

    swaps = plan(faces).swaps

    assert [(s.far.slot_id, s.near.slot_id) for s in swaps] == [(3, 1), (4, 2)]
    assert swaps[0].metres_saved_per_day == pytest.approx(2 * 25.0 * 10.0)
    assert swaps[1].metres_saved_per_day == pytest.approx(2 * 17.0 * 3.0)
    savings = [s.metres_saved_per_day for s in swaps]
    assert savings == sorted(savings, reverse=True)


def test_nothing_is_suggested_when_the_fast_movers_are_already_nearest():
    faces = [face(1, 2.0, 1, picks=50), face(2, 10.0, 2, picks=5), face(3, 20.0, 3, picks=0)]
    assert plan(faces).swaps == ()


def test_faces_of_another_zone_or_of_the_same_item_never_swap():
    faces = [
        face(1, 2.0, 1, picks=0, zone=2),
        face(2, 20.0, 7, picks=30),
        face(3, 3.0, 7, picks=1),  # the same item's second face
    ]
    assert plan(faces).swaps == ()


def test_an_empty_near_face_is_a_move():
    [move] = plan([face(1, 2.0, None), face(2, 20.0, 5, picks=10)]).swaps
    assert move.is_move and move.metres_saved_per_day == pytest.approx(2 * 18.0 * 1.0)


def test_the_number_of_swaps_and_the_smallest_saving_are_bounded():
    faces = [face(i, float(i), i, picks=100 - 10 * i) for i in range(1, 9)]
    reversed_faces = [face(i, float(20 - i), i, picks=100 - 10 * i) for i in range(1, 9)]
    assert len(plan(reversed_faces, max_swaps=2).swaps) == 2
    assert plan(faces).swaps == ()
    big = plan(reversed_faces, min_saving_m_per_day=1_000.0).swaps
    assert big == ()


def test_the_same_input_gives_the_same_plan():
    faces = [face(i, float((i * 7) % 11), i, picks=(i * 5) % 13) for i in range(1, 30)]
    assert plan(faces) == plan(list(faces))


def test_days_must_be_positive():
    with pytest.raises(ValueError, match="days"):
        plan([face(1, 1.0, 1)], days=0)


def test_abc_classes_follow_the_cumulative_pick_share():
    classes = velocity_classes({1: 70, 2: 15, 3: 10, 4: 5, 5: 0})
    assert classes == {1: A, 2: A, 3: B, 4: C, 5: C}
    assert velocity_classes({}) == {}
    assert velocity_classes({9: 0}) == {9: C}


def test_items_whose_class_no_longer_matches_are_listed_with_their_share():
    faces = [face(1, 1.0, 1, picks=90), face(2, 2.0, 2, picks=10)]
    result = plan_slotting(
        faces,
        days=7,
        item_picks={1: 90, 2: 10, 3: 0},
        velocity={1: A, 2: A, 3: A},
        skus={3: "NEVER"},
    )
    assert [(r.item_id, r.sku, r.current, r.suggested) for r in result.reclassify] == [
        (2, "SKU-2", A, B),
        (3, "NEVER", A, C),
    ]
    assert result.reclassify[0].share == pytest.approx(0.1)


def test_no_picks_at_all_suggests_no_reclassification():
    result = plan_slotting([face(1, 1.0, 1)], days=7, item_picks={}, velocity={1: A})
    assert result.reclassify == ()
