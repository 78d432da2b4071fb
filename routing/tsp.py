"""Exact shortest open paths for small instances (Held-Karp dynamic programme).

A path starts at node ``start``, visits every other node once and ends at ``end`` (which may
equal ``start``: a tour). O(n² 2ⁿ) time, so it is meant for up to about 12 nodes: the reference
that tests and benchmarks hold the fast methods to.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

#: Beyond this many intermediate nodes the table grows too large to be a sensible default.
MAX_HELD_KARP_NODES = 13


def path_length(matrix: Sequence[Sequence[float]], nodes: Sequence[int]) -> float:
    """The length of a path through nodes in the given order."""
    return sum(matrix[a][b] for a, b in itertools.pairwise(nodes))


def held_karp(
    matrix: Sequence[Sequence[float]], *, start: int, end: int
) -> tuple[tuple[int, ...], float]:
    """The shortest path from start through every other node to end: (node order, length).

    The order lists the intermediate nodes only (neither start nor end). Ties are broken by
    the smallest node index, so the answer is deterministic.
    """
    size = len(matrix)
    middle = [v for v in range(size) if v not in (start, end)]
    if len(middle) > MAX_HELD_KARP_NODES:
        raise ValueError(
            f"held_karp takes at most {MAX_HELD_KARP_NODES} nodes besides start and end, "
            f"got {len(middle)}"
        )
    if not middle:
        return (), (matrix[start][end] if start != end else 0.0)
    # best[(subset, last)] = (length from start through subset ending at last, previous node)
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for i, v in enumerate(middle):
        best[(1 << i, i)] = (matrix[start][v], -1)
    for subset in range(1, 1 << len(middle)):
        for last in range(len(middle)):
            if not subset & (1 << last) or (subset, last) not in best:
                continue
            length, _ = best[(subset, last)]
            for nxt in range(len(middle)):
                if subset & (1 << nxt):
                    continue
                key = (subset | (1 << nxt), nxt)
                candidate = length + matrix[middle[last]][middle[nxt]]
                if key not in best or candidate < best[key][0]:
                    best[key] = (candidate, last)
    full = (1 << len(middle)) - 1
    final_length, last = min(
        ((best[(full, i)][0] + matrix[middle[i]][end], i) for i in range(len(middle))),
    )
    order: list[int] = []
    subset = full
    while last != -1:
        order.append(middle[last])
        _, previous = best[(subset, last)]
        subset &= ~(1 << last)
        last = previous
    order.reverse()
    return tuple(order), final_length
