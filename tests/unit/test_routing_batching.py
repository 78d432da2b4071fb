"""Order batching (routing.batching): carts that fit, every order once, less walking."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.batching import BatchError, BatchOrder, Cart, batch_orders, estimate_walk
from routing.layout import layout_from_dict
from routing.picking import plan_pick_path
from routing.types import Layout, Pick

TWO_BLOCKS = layout_from_dict(
    {
        "aisles": 12,
        "aisle_pitch_m": 3.2,
        "aisle_length_m": 28.0,
        "cross_aisles_m": [0.0, 14.0, 28.0],
        "depot": {"x_m": 0.0},
        "end": {"x_m": 35.2},
    }
)
ONE_BLOCK = layout_from_dict(
    {"aisles": 6, "aisle_pitch_m": 3.0, "aisle_length_m": 20.0, "cross_aisles_m": [0.0, 20.0],
     "depot": {"x_m": 0.0}}
)  # fmt: skip


def random_orders(rng: random.Random, layout: Layout, count: int) -> list[BatchOrder]:
    return [
        BatchOrder(
            picks=tuple(
                Pick(rng.randrange(layout.aisles), round(rng.uniform(0, layout.aisle_length_m), 1))
                for _ in range(rng.randint(1, 5))
            ),
            totes=rng.choice([1, 1, 1, 2]),
            weight_g=rng.randint(200, 9000),
            volume_cm3=rng.randint(1000, 30000),
        )
        for _ in range(count)
    ]


def walk_of(layout: Layout, orders: list[BatchOrder], batch: tuple[int, ...] | list[int]) -> float:
    picks = [pick for o in batch for pick in orders[o].picks]
    return plan_pick_path(layout, picks).length_m


CART = Cart(totes=6, max_weight_g=30_000, max_volume_cm3=120_000)


def fits(orders: list[BatchOrder], batch: list[int] | tuple[int, ...], cart: Cart) -> bool:
    return (
        sum(orders[o].totes for o in batch) <= cart.totes
        and (
            cart.max_weight_g is None or sum(orders[o].weight_g for o in batch) <= cart.max_weight_g
        )
        and (
            cart.max_volume_cm3 is None
            or sum(orders[o].volume_cm3 for o in batch) <= cart.max_volume_cm3
        )
    )


@st.composite
def wave(draw: st.DrawFn) -> tuple[Layout, list[BatchOrder], Cart]:
    layout = draw(st.sampled_from([ONE_BLOCK, TWO_BLOCKS]))
    rng = random.Random(draw(st.integers(0, 10**6)))
    orders = random_orders(rng, layout, draw(st.integers(0, 60)))
    cart = Cart(
        totes=draw(st.integers(2, 8)),
        max_weight_g=draw(st.sampled_from([None, 20_000, 40_000])),
        max_volume_cm3=draw(st.sampled_from([None, 90_000])),
    )
    return layout, orders, cart


@settings(max_examples=40, deadline=None)
@given(wave())
def test_every_order_rides_on_exactly_one_cart_that_it_fits(case):
    layout, orders, cart = case
    batching = batch_orders(layout, orders, cart)

    placed = sorted(o for batch in batching.batches for o in batch)
    assert placed == list(range(len(orders)))
    for batch in batching.batches:
        assert batch
        assert fits(orders, batch, cart)


@settings(max_examples=25, deadline=None)
@given(wave())
def test_the_local_search_never_makes_the_seed_batches_worse(case):
    layout, orders, cart = case
    batching = batch_orders(layout, orders, cart)

    assert batching.estimate_m <= batching.seed_estimate_m + 1e-6
    assert batching.estimate_m == pytest.approx(
        sum(
            estimate_walk(layout, [p for o in b for p in orders[o].picks]) for b in batching.batches
        )
    )


def test_the_same_orders_give_the_same_batches():
    orders = random_orders(random.Random(5), TWO_BLOCKS, 150)

    first = batch_orders(TWO_BLOCKS, orders, CART)
    again = batch_orders(TWO_BLOCKS, list(orders), CART)

    assert first == again


def test_batches_walk_less_than_carts_filled_first_come_first_served():
    orders = random_orders(random.Random(11), TWO_BLOCKS, 200)
    batching = batch_orders(TWO_BLOCKS, orders, CART)
    fcfs: list[list[int]] = [[]]
    for index in range(len(orders)):  # fill a cart in arrival order until the next won't fit
        candidate = [*fcfs[-1], index]
        if fits(orders, candidate, CART):
            fcfs[-1] = candidate
        else:
            fcfs.append([index])

    ours = sum(walk_of(TWO_BLOCKS, orders, b) for b in batching.batches)
    theirs = sum(walk_of(TWO_BLOCKS, orders, b) for b in fcfs)
    alone = sum(walk_of(TWO_BLOCKS, orders, [i]) for i in range(len(orders)))

    assert len(batching.batches) <= len(fcfs) + 2
    assert ours < 0.9 * theirs
    assert ours < 0.4 * alone


def test_orders_that_share_aisles_share_a_cart():
    # Two orders in aisle 1, two in aisle 10: two carts of two, one aisle each.
    orders = [
        BatchOrder((Pick(10, 5.0),)),
        BatchOrder((Pick(1, 6.0),)),
        BatchOrder((Pick(10, 7.0),)),
        BatchOrder((Pick(1, 3.0),)),
    ]
    batching = batch_orders(TWO_BLOCKS, orders, Cart(totes=2))

    assert batching.batches == ((0, 2), (1, 3))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 11), st.floats(0, 28.0)), min_size=0, max_size=12),
    st.tuples(st.integers(0, 11), st.floats(0, 28.0)),
)
def test_one_more_pick_never_shortens_the_estimate(picks, extra):
    before = [Pick(a, y) for a, y in picks]
    after = [*before, Pick(*extra)]

    assert estimate_walk(TWO_BLOCKS, after) >= estimate_walk(TWO_BLOCKS, before) - 1e-9


def test_no_orders_no_carts():
    batching = batch_orders(TWO_BLOCKS, [], CART)

    assert batching.batches == ()
    assert batching.estimate_m == 0.0


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (BatchOrder((Pick(1, 1.0),), totes=7), "totes"),
        (BatchOrder((Pick(1, 1.0),), weight_g=30_001), "weight"),
        (BatchOrder((Pick(1, 1.0),), volume_cm3=200_000), "volume"),
        (BatchOrder((Pick(12, 1.0),)), "pick 0: aisle"),
        (BatchOrder((Pick(2, 1.0), Pick(3, 29.0))), "pick 1"),
        (BatchOrder((Pick(2, 1.0),), totes=0), "totes >= 1"),
    ],
)
def test_an_order_no_cart_can_take_is_refused_naming_it(order, words):
    orders = [BatchOrder((Pick(0, 1.0),)), order]
    with pytest.raises(BatchError) as refused:
        batch_orders(TWO_BLOCKS, orders, CART)

    assert refused.value.index == 1
    assert str(refused.value).startswith("order 1: ")
    assert words in str(refused.value)
