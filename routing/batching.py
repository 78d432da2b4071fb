"""Order batching: which orders one picker collects together on one cart, walking least.

``batch_orders(layout, orders, cart)`` groups orders into batches that each fit the cart (tote
positions, weight, volume), with two steps:

1. **Seed construction** (de Koster, van der Poort & Wolters 1999, "Efficient orderbatching
   methods in warehouses"): the order with the longest walk of its own seeds a cart; the
   order whose addition lengthens the cart's walk least joins it, again and again, until no
   remaining order fits; then the next seed.
2. **Local search** (as in Henn, Koch, Doerner, Strauss & Wäscher 2010, "Metaheuristics for
   the order batching problem in manual order picking systems"): each order in turn moves to
   the cart, or swaps places with the order of another cart, that shortens the total walk
   most, until a round improves nothing (or ``max_rounds``).

Orders are never split: an order that does not fit one cart raises ``BatchError`` (the caller
splits it first). Both steps judge a cart by ``estimate_walk``, a traversal-walk estimate from
which aisles of which blocks the cart visits, computed for every candidate at once (NumPy);
the exact walk of each final cart comes from ``routing.picking.plan_pick_path``.

Deterministic: the same input gives the same batches (ties go to the lowest index); the
optional time limit is only a cap on the local search.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.layout import make_pick
from routing.types import FrontPoint, Layout, Pick, PickError


class BatchError(ValueError):
    """An order that cannot go on any cart; ``index`` is its position in the orders given."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"order {index}: {message}")
        self.index = index


@dataclass(frozen=True, slots=True)
class BatchOrder:
    """One order (or the part of one in a temperature zone): where to pick, what it fills."""

    picks: tuple[Pick, ...]
    totes: int = 1  # tote positions it takes on the cart
    weight_g: int = 0
    volume_cm3: int = 0


@dataclass(frozen=True, slots=True)
class Cart:
    """What one pick cart holds; None: no limit in that dimension."""

    totes: int
    max_weight_g: int | None = None
    max_volume_cm3: int | None = None


@dataclass(frozen=True, slots=True)
class Batching:
    """Batches of order indexes (ascending within a batch, batches by their first order)."""

    batches: tuple[tuple[int, ...], ...]
    estimate_m: float  # sum of the batches' estimated walks
    seed_estimate_m: float  # the same after the seed construction, before the local search
    moves: int  # improving moves the local search made


#: Moves must gain more than this (metres) to count: float noise never loops.
_GAIN_M = 1e-6
#: Orders a growing cart considers, nearest its seed first (the rest are too far to matter).
SEED_CANDIDATES = 256
#: Each sub-aisle is cut into this many stretches to tell how deep into it a cart must go.
DEPTH_BINS = 2
#: Carts an order may move to or swap with in the local search: the nearest ones.
NEAREST_CARTS = 8


def batch_orders(
    layout: Layout,
    orders: Sequence[BatchOrder],
    cart: Cart,
    *,
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
    max_rounds: int = 5,
    time_limit_s: float | None = None,
) -> Batching:
    """Group the orders into carts walking least (see the module docstring).

    ``start`` and ``end`` default to the layout's depot and end point. Picks are validated
    against the layout (``PickError``); an order that does not fit the cart alone raises
    ``BatchError``. An empty list gives no batches.
    """
    began = time.perf_counter()
    if not (isinstance(cart.totes, int) and cart.totes >= 1):
        raise ValueError(f"cart totes must be a whole number >= 1, got {cart.totes!r}")
    model = _Model(layout, orders, cart, start=start, end=end)
    if not orders:
        return Batching((), 0.0, 0.0, 0)
    batches = model.seed_batches()
    seed_estimate = sum(model.estimate_of(b) for b in batches)
    moves = 0
    deadline = None if time_limit_s is None else began + time_limit_s
    for _ in range(max_rounds):
        improved = model.improve(batches, deadline)
        moves += improved
        if not improved or (deadline is not None and time.perf_counter() > deadline):
            break
    final = sorted((tuple(sorted(b)) for b in batches if b), key=lambda b: b[0])
    return Batching(
        batches=tuple(final),
        estimate_m=sum(model.estimate_of(list(b)) for b in final),
        seed_estimate_m=seed_estimate,
        moves=moves,
    )


def estimate_walk(
    layout: Layout,
    picks: Sequence[Pick],
    *,
    start: FrontPoint | None = None,
    end: FrontPoint | None = None,
) -> float:
    """The traversal-walk estimate batching judges a cart by (metres).

    Along the front cross aisle from the start past the outermost aisles with picks to the
    end; in every block up to the farthest one with picks, the shorter of walking each
    sub-aisle with picks right through (an even number of times, at least twice) and going
    into each from the front as deep as its deepest pick and back (depths rounded up to the
    middle or the back of the block), plus a pass through the block when blocks behind it
    have picks; one more sweep across the picks' aisles per block beyond the first. It ranks
    carts; it is not the walk a picker makes (``plan_pick_path`` gives that).
    """
    model = _Model(layout, [BatchOrder(tuple(picks))], Cart(1), start=start, end=end)
    return model.estimate_of([0]) if picks else 0.0


class _Model:
    """The orders as aisle-by-block occupancy, and the estimate of any set of them."""

    def __init__(
        self,
        layout: Layout,
        orders: Sequence[BatchOrder],
        cart: Cart,
        *,
        start: FrontPoint | None,
        end: FrontPoint | None,
    ) -> None:
        self.layout = layout
        blocks, aisles = layout.blocks, layout.aisles
        self.lengths = np.diff(np.array(layout.cross_aisles_m))  # per block
        self.start_x = (start or FrontPoint(layout.depot_x_m)).x_m
        self.end_x = (end or FrontPoint(layout.end_x_m)).x_m
        self.occupancy = np.zeros((len(orders), blocks, aisles, DEPTH_BINS), dtype=np.int32)
        load = np.zeros((len(orders), 3), dtype=np.int64)
        for index, order in enumerate(orders):
            for k, pick in enumerate(order.picks):
                try:
                    checked = make_pick(layout, pick.aisle, pick.y_m, index=k)
                except PickError as error:
                    raise BatchError(index, str(error)) from error
                block = self._block(checked.y_m)
                depth = (checked.y_m - layout.cross_aisles_m[block]) / self.lengths[block]
                bin_ = min(int(depth * DEPTH_BINS), DEPTH_BINS - 1)
                self.occupancy[index, block, checked.aisle, bin_] = 1
            load[index] = (order.totes, order.weight_g, order.volume_cm3)
        self.load = load
        # Where each order's picks are on average, to find near orders and carts quickly.
        self.centre = np.array(
            [
                [
                    np.mean([layout.aisle_x(p.aisle) for p in o.picks]) if o.picks else 0.0,
                    np.mean([p.y_m for p in o.picks]) if o.picks else 0.0,
                ]
                for o in orders
            ]
        ).reshape(len(orders), 2)
        self.capacity = np.array(
            [
                cart.totes,
                cart.max_weight_g if cart.max_weight_g is not None else np.iinfo(np.int64).max,
                cart.max_volume_cm3 if cart.max_volume_cm3 is not None else np.iinfo(np.int64).max,
            ],
            dtype=np.int64,
        )
        for index, order in enumerate(orders):
            if order.totes < 1 or order.weight_g < 0 or order.volume_cm3 < 0:
                raise BatchError(index, "needs totes >= 1 and weight and volume >= 0")
            over = [
                name
                for name, have, cap in zip(
                    ("totes", "weight", "volume"), load[index], self.capacity, strict=True
                )
                if have > cap
            ]
            if over:
                raise BatchError(index, f"does not fit one cart ({', '.join(over)}); split it")

    def _block(self, y: float) -> int:
        # A pick on an interior cross aisle belongs to the block behind it; on the back one,
        # to the last block.
        return min(bisect.bisect_right(self.layout.cross_aisles_m, y) - 1, self.layout.blocks - 1)

    # --- the estimate, for many occupancies at once -----------------------------------------

    def estimates(self, counts: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
        """Estimated walks of carts given as visit counts, shape (n, blocks, aisles, bins)."""
        occupied: npt.NDArray[np.bool_] = np.greater(counts, 0)
        visited = np.asarray(occupied.any(axis=3))  # per cart, block and aisle
        per_block = visited.sum(axis=2)  # sub-aisles with picks, per cart and block
        any_block = per_block > 0
        blocks = per_block.shape[1]
        # The farthest block with picks (-1: none), and the blocks up to it.
        top = np.where(
            any_block.any(axis=1), blocks - 1 - np.argmax(any_block[:, ::-1], axis=1), -1
        )
        reached = np.arange(blocks)[None, :] <= top[:, None]
        through = np.maximum(per_block + per_block % 2, 2) * self.lengths[None, :]
        # Or into each sub-aisle from the front as deep as its deepest pick and back, passing
        # through the block once up and once down when blocks behind it have picks.
        deepest = DEPTH_BINS - np.argmax(occupied[..., ::-1], axis=3)  # bins, where visited
        depth = np.where(visited, deepest, 0) * (self.lengths / DEPTH_BINS)[None, :, None]
        behind = np.arange(blocks)[None, :] < top[:, None]
        loops = 2 * depth.sum(axis=2) + np.where(behind, 2 * self.lengths[None, :], 0)
        vertical = np.where(reached, np.minimum(through, loops), 0).sum(axis=1)
        in_aisle = np.asarray(visited.any(axis=1))  # per cart and aisle
        has = in_aisle.any(axis=1)
        pitch = self.layout.aisle_pitch_m
        first = np.argmax(in_aisle, axis=1) * pitch
        last = (in_aisle.shape[1] - 1 - np.argmax(in_aisle[:, ::-1], axis=1)) * pitch
        low = np.minimum(first, min(self.start_x, self.end_x))
        high = np.maximum(last, max(self.start_x, self.end_x))
        front = (high - low) + np.minimum(
            np.abs(self.start_x - low) + np.abs(self.end_x - high),
            np.abs(self.start_x - high) + np.abs(self.end_x - low),
        )
        sweeps = np.maximum(top, 0) * (last - first)
        walk = front + sweeps + vertical
        return np.where(has, walk, 0.0)

    def estimate_of(self, members: Sequence[int]) -> float:
        if not members:
            return 0.0
        counts = self.occupancy[list(members)].sum(axis=0)[None]
        return float(self.estimates(counts)[0])

    # --- step 1: seeds ------------------------------------------------------------------------

    def seed_batches(self) -> list[list[int]]:
        alone = self.estimates(self.occupancy)
        # Farthest first; ties by index.
        queue = sorted(range(len(alone)), key=lambda i: (-alone[i], i))
        left = np.ones(len(alone), dtype=bool)
        batches: list[list[int]] = []
        for seed in queue:
            if not left[seed]:
                continue
            left[seed] = False
            members = [seed]
            counts = self.occupancy[seed].copy()
            load = self.load[seed].copy()
            remaining = np.flatnonzero(left)
            near = np.linalg.norm(self.centre[remaining] - self.centre[seed], axis=1)
            pool = remaining[np.lexsort((remaining, near))[:SEED_CANDIDATES]]
            while True:
                pool = pool[left[pool]]
                fits = np.all(self.load[pool] + load <= self.capacity, axis=1)
                if not fits.any():
                    # Nothing near fits any more: look at every remaining order once.
                    pool = np.flatnonzero(left)
                    fits = np.all(self.load[pool] + load <= self.capacity, axis=1)
                    if not fits.any():
                        break
                options = pool[fits]
                grown = self.estimates(self.occupancy[options] + counts[None])
                # Cheapest addition; among equals the lowest index.
                chosen = int(options[np.lexsort((options, grown))[0]])
                members.append(chosen)
                counts += self.occupancy[chosen]
                load += self.load[chosen]
                left[chosen] = False
            batches.append(members)
        return batches

    # --- step 2: moves and swaps ----------------------------------------------------------------

    def improve(self, batches: list[list[int]], deadline: float | None) -> int:
        """One round over every order: the best improving move or swap for each. Returns moves."""
        n = len(self.occupancy)
        batch_of = np.empty(n, dtype=int)
        for b, members in enumerate(batches):
            batch_of[members] = b
        counts = np.array([self.occupancy[m].sum(axis=0) for m in batches])
        loads = np.array([self.load[m].sum(axis=0) for m in batches])
        walks = self.estimates(counts)
        sizes = np.array([len(m) for m in batches])
        centres = np.array([self.centre[m].sum(axis=0) for m in batches])  # sums; / sizes
        # What taking each order out of its cart saves. An order whose cart walks no less
        # without it can gain nothing by moving, and its swaps are tried from the partner's
        # side; carts changed during the round are looked at afresh.
        saves = walks[batch_of] - self.estimates(counts[batch_of] - self.occupancy)
        changed_carts: set[int] = set()
        moves = 0
        for order in range(n):
            if deadline is not None and time.perf_counter() > deadline:
                break
            here = int(batch_of[order])
            if here not in changed_carts and saves[order] <= _GAIN_M:
                continue
            mine = self.occupancy[order]
            gap = np.linalg.norm(
                centres / np.maximum(sizes, 1)[:, None] - self.centre[order], axis=1
            )
            gap[sizes == 0] = math.inf
            gap[here] = math.inf
            near = np.zeros(len(batches), dtype=bool)
            near[np.argsort(gap, kind="stable")[:NEAREST_CARTS]] = True
            near &= np.isfinite(gap)
            # Moving the order out of its cart, into each near cart that has room.
            without = counts[here] - mine
            saved = walks[here] - self.estimates(without[None])[0]
            room = np.all(loads + self.load[order] <= self.capacity, axis=1) & near
            gain_move = np.full(len(batches), -math.inf)
            if room.any():
                targets = np.flatnonzero(room)
                added = self.estimates(counts[targets] + mine[None]) - walks[targets]
                gain_move[targets] = saved - added
            # Swapping with each order of a near cart.
            others = np.flatnonzero(near[batch_of])
            gain_swap = np.full(n, -math.inf)
            if others.size:
                their = batch_of[others]
                new_load_here = loads[here] - self.load[order] + self.load[others]
                new_load_there = loads[their] - self.load[others] + self.load[order]
                ok = np.all(new_load_here <= self.capacity, axis=1) & np.all(
                    new_load_there <= self.capacity, axis=1
                )
                if ok.any():
                    partners, cart_of = others[ok], their[ok]
                    here_after = self.estimates(without[None] + self.occupancy[partners])
                    there_after = self.estimates(
                        counts[cart_of] - self.occupancy[partners] + mine[None]
                    )
                    gain_swap[partners] = walks[here] + walks[cart_of] - here_after - there_after
            best_move = int(np.argmax(gain_move))
            best_swap = int(np.argmax(gain_swap))
            if max(gain_move[best_move], gain_swap[best_swap]) <= _GAIN_M:
                continue
            if gain_move[best_move] >= gain_swap[best_swap]:
                there = best_move
                counts[here] -= mine
                counts[there] += mine
                loads[here] -= self.load[order]
                loads[there] += self.load[order]
                batches[here].remove(order)
                batches[there].append(order)
                batch_of[order] = there
                sizes[here] -= 1
                sizes[there] += 1
                centres[here] -= self.centre[order]
                centres[there] += self.centre[order]
                changed = [here, there]
            else:
                partner = best_swap
                there = int(batch_of[partner])
                theirs = self.occupancy[partner]
                counts[here] += theirs - mine
                counts[there] += mine - theirs
                delta = self.load[partner] - self.load[order]
                loads[here] += delta
                loads[there] -= delta
                batches[here].remove(order)
                batches[here].append(partner)
                batches[there].remove(partner)
                batches[there].append(order)
                batch_of[order], batch_of[partner] = there, here
                shift = self.centre[partner] - self.centre[order]
                centres[here] += shift
                centres[there] -= shift
                changed = [here, there]
            walks[changed] = self.estimates(counts[changed])
            changed_carts.update(changed)
            moves += 1
        return moves
