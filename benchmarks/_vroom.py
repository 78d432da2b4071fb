"""VROOM (through pyvroom) on a ``routing.vrp.Problem``, for the benchmarks that run it beside ours.

pyvroom is the ``bench`` extra (``pip install -e .[bench]``); ``installed()`` says whether it
is here. ``solve`` gives VROOM the integer problem ours solves (``routing._vrp_data.to_ticks``:
seconds and metres, travel and service times rounded up, windows shrunk inwards), with the
vehicles' capabilities and the jobs' requirements as skills, each vehicle's fixed cost and the
jobs' priorities; one thread, exploration level 5, the time limit as its timeout.
"""

from __future__ import annotations

import datetime as dt

from routing.vrp import Problem

NOT_INSTALLED = "VROOM not installed: vroom skipped (pip install -e .[bench])"


def installed() -> bool:
    """Whether pyvroom can be imported here."""
    try:
        import vroom  # noqa: F401
    except ImportError:
        return False
    return True


def solve(problem: Problem, time_limit_s: float) -> tuple[dict[str, list[str]], int]:
    """VROOM's routes (vehicle id -> job ids in order) and how many jobs it left out."""
    import numpy as np
    import vroom

    from routing._vrp_data import to_ticks

    ticks = to_ticks(problem, problem.jobs)
    names = sorted(
        {c for v in ticks.vehicles for c in v.capabilities}
        | {r for j in ticks.jobs for r in j.requires}
    )
    skill = {name: n for n, name in enumerate(names, start=1)}
    vroom_input = vroom.Input()
    vroom_input.set_durations_matrix("car", np.array(ticks.travel_ticks, dtype=np.int64))
    vroom_input.set_costs_matrix("car", np.array(ticks.distance_ticks, dtype=np.int64))
    for v, vehicle in enumerate(ticks.vehicles):
        vroom_input.add_vehicle(
            vroom.Vehicle(
                v,
                start=ticks.start_node[v],
                end=ticks.end_node[v],
                capacity=list(ticks.capacity[v]),
                skills={skill[c] for c in vehicle.capabilities},
                time_window=vroom.TimeWindow(*ticks.shift[v]),
                # The cost matrix is in distance ticks at one cost unit each (the benchmarks'
                # vehicles cost 1 per metre), so the fixed cost goes in distance ticks too.
                costs=vroom.VehicleCosts(fixed=round(vehicle.fixed_cost * ticks.scale)),
            )
        )
    for position, job in enumerate(ticks.jobs):
        node = ticks.depot_count + position
        vroom_input.add_job(
            vroom.Job(
                position + 1,  # VROOM job ids are integers; 0 stays free
                location=node,
                default_service=ticks.service_ticks[node],
                delivery=list(ticks.demand[node]),
                skills={skill[r] for r in job.requires},
                priority=min(100, max(0, job.priority)),
                time_windows=[vroom.TimeWindow(a, b) for a, b in ticks.windows[node]],
            )
        )
    found = vroom_input.solve(
        exploration_level=5, nb_threads=1, timeout=dt.timedelta(seconds=time_limit_s)
    ).to_dict()
    routes = {
        ticks.vehicles[route["vehicle"]].id: [
            ticks.jobs[step["id"] - 1].id for step in route["steps"] if step["type"] == "job"
        ]
        for route in found["routes"]
    }
    return routes, len(found["unassigned"])
