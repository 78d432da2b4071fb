"""Delivery routes on the Solomon and X benchmark sets, against the best known, VROOM and PyVRP.

    python -m benchmarks.vrp [--quick] [--instances C101,R1*,X-n101*] [--limits 2,10]
                             [--engines ours,vroom,pyvrp] [--data DIR] [--csv PATH]
                             [--per-instance] [--seed N]

Instances: the 56 Solomon (1987) VRPTW instances (``solomon/*.txt``: 100 customers, 25
vehicles, families C1, C2, R1, R2, RC1, RC2) and the Uchoa et al. (2017) X CVRP instances
(``cvrplib/X-*.vrp``: family X), read with ``routing.instances.read_instance``. ``--data``
names the directory; by default ``../shared/benchdata`` beside the project root. The files are
never copied into the project. To get them elsewhere: the CVRPLIB website
(http://vrp.galgos.inf.puc-rio.br, instances and best known solutions as zips per set) or the
PyVRP Instances repository (https://github.com/PyVRP/Instances: ``CVRP/X-*.vrp/.sol``; the
Solomon ``.vrp``/``.sol`` files sit in its history under ``VRPTW/Solomon/``). The installed
``vrplib`` (2.x) reads and writes these formats but no longer downloads them.
``--instances`` takes names or shell patterns, comma-separated, case-insensitive.

Engines, each on one core (OR-Tools and PyVRP are single-threaded; VROOM gets one thread):

- ``ours``: ``routing.vrp.solve`` (``engine="auto"``), with the instance's coordinates; the
  ``won by`` column says which engine's routes it returned: ``pyvrp``, ``pyvrp+ortools``
  (OR-Tools' polish improved PyVRP's routes) or ``ortools``;
- ``ortools``: ``routing.vrp.solve(engine="ortools")``, our OR-Tools engine alone (the one
  that runs where PyVRP cannot: locked prefixes, more demand than the fleet carries);
- ``vroom``: VROOM through pyvroom (the ``bench`` extra: ``pip install -e .[bench]``),
  exploration level 5, one thread, the time limit as its timeout (it may stop earlier);
- ``pyvrp``: ``routing.vrp.solve(engine="pyvrp")``, PyVRP alone for the whole limit.

VROOM gets the integer problem ours does (``routing._vrp_data.to_ticks``): distances and
times in ticks of 1/``Problem.time_scale`` (1/100), distances rounded, travel and service
times rounded up, windows shrunk inwards to whole ticks, the instance's fleet. Whatever an
engine returns, its routes are re-checked here (``check_routes``): every customer exactly
once, no more routes than vehicles, capacities, and windows and the depot's closing time
recomputed in floating point with a ``TOLERANCE`` of 1e-6; and their distance is recomputed by
``routing.instances.route_distance``. A row is feasible when that check finds nothing.

Best known (``bks.csv``, ``solomon_bks_recomputed.csv`` in the data directory). Solomon:
``recomputed_float``, the literature's distance-minimising optima (Kohl et al., Jepsen et al.,
...) re-evaluated with distances as floats; the literature's own figures truncate every arc to
0.1 and are 0.2-0.6 % shorter (C101: 827.3 vs 828.94), and 8 of those optima break a window
by a hair in floats, so the float value is a near-floor, not a bound. X: ``bks_distance``,
whose arcs are rounded to the nearest integer (TSPLIB EUC_2D), as ``routing.instances`` reads
those instances, so both sides use one convention there. ``% above`` is
``(distance - best) / best``; vehicles are reported, not minimised (the Solomon optima use
whatever fleet minimises distance).

Prints a row per instance, limit and engine (with ``--per-instance``, or always for at most
12 instances), then per family and for all Solomon: instances, feasible, mean % above (over the
feasible), mean vehicles and mean time; then the issue's targets for ``ours``, each met, NOT
met or not judged (a target over a whole set is judged only when the whole set ran): a
feasible solution on every Solomon instance; mean over the 56 at most 1.0 % at 10 s and
2.5 % at 2 s (the floor), PyVRP's level, about 0.4 %, as the aim (reported); at most 3 % on
every X instance at 10 s; and never a worse mean than VROOM's on any family. Writes every row
as CSV (default ``benchmarks/results/vrp.csv``), row by row, so an interrupted run keeps what
it measured.

Runs stop on the clock, so a figure may move a little from one run to the next and with the
machine's load (another process on the same core costs the engines search time).

The full run is 61 instances, 2 limits and 3 engines: about 40 minutes (VROOM often stops
before its limit). ``--quick``: C101, R101, RC101, C201, R201 and RC201 at 2 s with every
installed engine, about 40 s.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import math
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks import _vroom
from routing.instances import Instance, read_instance, route_distance
from routing.vrp import Problem, evaluate, solve

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchdata"
SOLOMON_FAMILIES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
FAMILIES = (*SOLOMON_FAMILIES, "X")
SOLOMON = "Solomon"  # the summary row over all six Solomon families
ENGINES = ("ours", "ortools", "vroom", "pyvrp")
LIMITS_S = (2.0, 10.0)
QUICK_INSTANCES = ("C101", "R101", "RC101", "C201", "R201", "RC201")
QUICK_LIMITS_S = (2.0,)
PER_INSTANCE_UP_TO = 12  # instances; more print only the family table unless asked
TOLERANCE = 1e-6  # time units, in the float re-check of windows and closing times
WARM_UP_S = 0.1

# The targets for ours.
TARGET_MEAN_PCT = {10.0: 1.0, 2.0: 2.5}  # mean % above over the 56 Solomon, per limit
AIM_MEAN_PCT = 0.4  # PyVRP's level (reported)
TARGET_X_PCT, TARGET_X_LIMIT_S = 3.0, 10.0


@dataclass(frozen=True, slots=True)
class BestKnown:
    """The yardstick for one instance."""

    instance: str
    family: str
    customers: int
    distance: float
    vehicles: int


def best_known(data: Path) -> dict[str, BestKnown]:
    """Per instance name, its best known: Solomon as floats, X in rounded arcs."""
    found: dict[str, BestKnown] = {}
    bks = data / "bks.csv"
    if bks.exists():
        with bks.open(newline="") as handle:
            for row in csv.DictReader(handle):
                found[row["instance"]] = BestKnown(
                    row["instance"],
                    row["family"],
                    int(row["customers"]),
                    float(row["bks_distance"]),
                    int(row["bks_vehicles"]),
                )
    recomputed = data / "solomon_bks_recomputed.csv"
    if recomputed.exists():
        with recomputed.open(newline="") as handle:
            for row in csv.DictReader(handle):
                name = row["instance"]
                known = found.get(name)
                found[name] = BestKnown(
                    name,
                    known.family if known else family_of(name),
                    known.customers if known else 100,
                    float(row["recomputed_float"]),
                    int(row["vehicles"]),
                )
    return found


def family_of(name: str) -> str:
    """The family of an instance name: C1 ... RC2 for Solomon's, X for Uchoa et al.'s."""
    if name.upper().startswith("X-"):
        return "X"
    match = re.fullmatch(r"(RC|C|R)(\d)\d\d", name.upper())
    return f"{match.group(1)}{match.group(2)}" if match else "other"


def find_instances(data: Path, patterns: Sequence[str] | None = None) -> list[Path]:
    """The instance files under ``data`` whose names match one of the patterns (all if None)."""
    paths = sorted((data / "solomon").glob("*.txt")) + sorted((data / "cvrplib").glob("X-*.vrp"))
    if patterns is None:
        return sorted(paths, key=_instance_order)
    wanted = [p.strip().upper() for p in patterns if p.strip()]
    chosen = [p for p in paths if any(fnmatch.fnmatchcase(p.stem.upper(), w) for w in wanted)]
    unmatched = [
        w for w in wanted if not any(fnmatch.fnmatchcase(p.stem.upper(), w) for p in paths)
    ]
    if unmatched:
        raise ValueError(f"no instance under {data} matches {', '.join(unmatched)}")
    return sorted(chosen, key=_instance_order)


def _instance_order(path: Path) -> tuple[int, str]:
    family = family_of(path.stem)
    return FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), path.stem


# --- checking routes ------------------------------------------------------------------------


def check_routes(problem: Problem, routes: Mapping[str, Sequence[str]]) -> list[str]:
    """What makes these routes (vehicle id -> job ids in order) infeasible; [] if nothing.

    Every job exactly once, known vehicles with the jobs' capabilities, each vehicle's
    capacity, and in floating point (``TOLERANCE``): service starting inside one of the job's
    windows after leaving the depot as early as allowed, the return before the shift and the
    end depot's hours end, and the maximum duration (``routing.vrp.evaluate``'s duration,
    which leaves as late as saves waiting).
    """
    jobs = {job.id: job for job in problem.jobs}
    vehicles = {vehicle.id: vehicle for vehicle in problem.vehicles}
    depots = {depot.id: depot for depot in problem.depots}
    found: list[str] = []
    seen: Counter[str] = Counter()
    for vehicle_id, stops in routes.items():
        if not stops:
            continue
        vehicle = vehicles.get(vehicle_id)
        if vehicle is None:
            found.append(f"route on unknown vehicle {vehicle_id!r}")
            continue
        unknown = [j for j in stops if j not in jobs]
        if unknown:
            found.append(f"vehicle {vehicle_id}: unknown job(s) {', '.join(unknown)}")
            continue
        seen.update(stops)
        for d, name in enumerate(problem.dimensions):
            load = sum(jobs[j].demand[d] for j in stops)
            if load > vehicle.capacity[d]:
                found.append(f"vehicle {vehicle_id}: {name} {load} over {vehicle.capacity[d]}")
        start, end = depots[vehicle.depot], depots[vehicle.end_depot or vehicle.depot]
        now = max(vehicle.shift.start, start.hours.start)
        place = start.location
        for job_id in stops:
            job = jobs[job_id]
            if not job.requires <= vehicle.capabilities:
                found.append(f"vehicle {vehicle_id}: cannot serve {job_id} (needs {job.requires})")
            arrival = now + problem.travel_time(place, job.location)
            begin = arrival
            if job.windows:
                open_ = [w for w in job.windows if arrival <= w.end + TOLERANCE]
                if not open_:
                    latest = max(w.end for w in job.windows)
                    found.append(
                        f"vehicle {vehicle_id}: job {job_id} reached at {arrival:.6f}, "
                        f"after its window closes at {latest:g}"
                    )
                else:
                    begin = max(arrival, min(open_, key=lambda w: w.start).start)
            now, place = begin + job.service_time, job.location
        back = now + problem.travel_time(place, end.location)
        closing = min(vehicle.shift.end, end.hours.end)
        if back > closing + TOLERANCE:
            found.append(f"vehicle {vehicle_id}: back at {back:.6f}, after {closing:g}")
        if math.isfinite(vehicle.max_duration):
            (route,) = evaluate(problem, {vehicle_id: list(stops)}, engine="check").routes
            if route.duration > vehicle.max_duration + TOLERANCE:
                found.append(
                    f"vehicle {vehicle_id}: lasts {route.duration:.6f} > {vehicle.max_duration:g}"
                )
    twice = sorted(j for j, n in seen.items() if n > 1)
    if twice:
        found.append(f"served more than once: {', '.join(twice)}")
    missing = [job.id for job in problem.jobs if job.id not in seen and not job.optional]
    if missing:
        found.append(f"{len(missing)} job(s) unserved: {', '.join(missing[:5])}")
    return found


# --- the engines ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an engine returned: routes (vehicle id -> job ids), jobs it left out, who won."""

    routes: dict[str, list[str]]
    unassigned: int
    won_by: str


#: (instance, time limit in s, seed) -> Outcome
Engine = Callable[[Instance, float, int], Outcome]


def _solve_with(engine: str) -> Engine:
    def run(instance: Instance, time_limit_s: float, seed: int) -> Outcome:
        solution = solve(
            instance.problem,
            time_limit_s=time_limit_s,
            seed=seed,
            coordinates=instance.coordinates,
            engine=engine,
        )
        routes = {r.vehicle: [visit.job for visit in r.visits] for r in solution.routes}
        return Outcome(routes, len(solution.unassigned), solution.engine)

    run.__doc__ = f"``routing.vrp.solve(engine={engine!r})``."
    return run


#: ``routing.vrp.solve`` as the application calls it.
solve_ours = _solve_with("auto")


def solve_vroom(instance: Instance, time_limit_s: float, seed: int) -> Outcome:
    """VROOM on the integer problem ours solves (``benchmarks._vroom``)."""
    routes, unassigned = _vroom.solve(instance.problem, time_limit_s)
    return Outcome(routes, unassigned, "vroom")


ENGINE_SOLVERS: dict[str, Engine] = {
    "ours": solve_ours,
    "ortools": _solve_with("ortools"),
    "vroom": solve_vroom,
    "pyvrp": _solve_with("pyvrp"),
}


def available_engines(requested: Sequence[str]) -> tuple[list[str], list[str]]:
    """The requested engines that can run here, and a note per one that cannot."""
    engines, notes = [], []
    for name in requested:
        if name not in ENGINE_SOLVERS:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {name!r}")
        module = {"vroom": "vroom"}.get(name)
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                extra = " (pip install -e .[bench])" if name == "vroom" else ""
                notes.append(f"{name} skipped: the {module} package is not installed{extra}")
                continue
        engines.append(name)
    return engines, notes


# --- one run --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One engine on one instance at one limit: a row of the tables and of the CSV."""

    instance: str
    family: str
    customers: int
    engine: str
    limit_s: float
    seed: int
    feasible: bool
    unassigned: int  # left out by the engine
    vehicles: int  # non-empty routes
    distance: float  # recomputed from the routes (routing.instances.route_distance)
    best_distance: float | None
    best_vehicles: int | None
    pct_above: float | None
    wall_s: float
    won_by: str  # ours: "pyvrp", "pyvrp+ortools" or "ortools"; a peer: its own name
    problems: str  # what the route check found, "; "-separated (first 3)


def run_instance(
    instance: Instance,
    *,
    engine: str,
    time_limit_s: float,
    best: BestKnown | None = None,
    seed: int = 0,
    solvers: Mapping[str, Engine] = ENGINE_SOLVERS,
) -> Row:
    """Run one engine on one instance, check its routes and measure them against the best."""
    started = time.perf_counter()
    outcome = solvers[engine](instance, time_limit_s, seed)
    wall_s = time.perf_counter() - started
    problem = instance.problem
    problems = check_routes(problem, outcome.routes)
    if outcome.unassigned and not any("unserved" in p for p in problems):
        problems.append(f"{outcome.unassigned} job(s) left out by the engine")
    customer = dict(zip((job.id for job in problem.jobs), instance.customer_ids, strict=True))
    routes = [[customer[j] for j in stops if j in customer] for stops in outcome.routes.values()]
    routes = [route for route in routes if route]
    distance = route_distance(instance, routes)
    pct = (distance - best.distance) / best.distance * 100 if best and best.distance else None
    return Row(
        instance=instance.name,
        family=best.family if best else family_of(instance.name),
        customers=len(problem.jobs),
        engine=engine,
        limit_s=time_limit_s,
        seed=seed,
        feasible=not problems,
        unassigned=outcome.unassigned,
        vehicles=len(routes),
        distance=round(distance, 4),
        best_distance=best.distance if best else None,
        best_vehicles=best.vehicles if best else None,
        pct_above=round(pct, 4) + 0.0 if pct is not None else None,  # no "-0.0"
        wall_s=round(wall_s, 3),
        won_by=outcome.won_by,
        problems="; ".join(problems[:3]),
    )


# --- summaries and targets ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FamilyRow:
    """One engine on one family at one limit."""

    family: str
    engine: str
    limit_s: float
    instances: int
    feasible: int
    mean_pct_above: float | None  # over the feasible rows with a best known
    mean_vehicles: float
    mean_wall_s: float
    won_by: str  # ours: how often each engine's routes won


def summarise(rows: Sequence[Row]) -> list[FamilyRow]:
    """One FamilyRow per (family, engine, limit), plus one over all Solomon families."""
    groups: dict[tuple[str, str, float], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.family, row.engine, row.limit_s)].append(row)
        if row.family in SOLOMON_FAMILIES:
            groups[(SOLOMON, row.engine, row.limit_s)].append(row)
    out = []
    for (family, engine, limit), group in groups.items():
        pct = [r.pct_above for r in group if r.feasible and r.pct_above is not None]
        won = Counter(r.won_by for r in group) if engine == "ours" else Counter()
        out.append(
            FamilyRow(
                family=family,
                engine=engine,
                limit_s=limit,
                instances=len(group),
                feasible=sum(r.feasible for r in group),
                mean_pct_above=round(statistics.fmean(pct), 4) if pct else None,
                mean_vehicles=round(statistics.fmean(r.vehicles for r in group), 2),
                mean_wall_s=round(statistics.fmean(r.wall_s for r in group), 3),
                won_by=", ".join(f"{name} {n}" for name, n in sorted(won.items())),
            )
        )
    order = [*FAMILIES, SOLOMON]
    return sorted(
        out,
        key=lambda r: (
            r.limit_s,
            order.index(r.family) if r.family in order else len(order),
            ENGINES.index(r.engine) if r.engine in ENGINES else len(ENGINES),
        ),
    )


#: A target's verdict: True met, False not met, None not judged.
Verdict = bool | None


def targets(rows: Sequence[Row], set_sizes: Mapping[str, int]) -> list[tuple[str, Verdict]]:
    """The issue's targets for ours: (what was measured, verdict).

    ``set_sizes``: per family, how many instances the full set has (a target over a set is
    judged only when all of them ran; a failure on the instances that ran is a failure).
    """
    found: list[tuple[str, Verdict]] = []
    ours = [r for r in rows if r.engine == "ours"]
    solomon_size = sum(set_sizes.get(f, 0) for f in SOLOMON_FAMILIES)
    limits = sorted({r.limit_s for r in rows})
    for limit in limits:
        runs = [r for r in ours if r.limit_s == limit and r.family in SOLOMON_FAMILIES]
        if not runs:
            continue
        bad = [r.instance for r in runs if not r.feasible]
        text = f"{limit:g} s: feasible on every Solomon instance: {len(runs) - len(bad)} of "
        text += f"{len(runs)} run ({solomon_size} in the set)"
        if bad:
            text += f"; infeasible: {', '.join(bad)}"
        found.append((text, False if bad else _whole(len(runs), solomon_size)))
    for limit in limits:
        runs = [r for r in ours if r.limit_s == limit and r.family in SOLOMON_FAMILIES]
        if not runs:
            continue
        pct = [r.pct_above for r in runs if r.feasible and r.pct_above is not None]
        mean = statistics.fmean(pct) if pct else math.nan
        pyvrp = _mean_pct(rows, "pyvrp", limit, {r.instance for r in runs})
        vs = f"; PyVRP alone {pyvrp:.2f} %" if pyvrp is not None else ""
        bound = TARGET_MEAN_PCT.get(limit)
        if bound is None:
            text = f"{limit:g} s: mean % above over {len(pct)} feasible Solomon: {mean:.2f} %{vs}"
            found.append((text, None))
            continue
        text = (
            f"{limit:g} s: mean over the {solomon_size} Solomon <= {bound:g} %: {mean:.2f} % "
            f"over {len(pct)} feasible of {len(runs)} run (aim ~{AIM_MEAN_PCT:g} %{vs})"
        )
        verdict: Verdict = _whole(len(runs), solomon_size)
        if verdict is not None:
            verdict = len(pct) == len(runs) and mean <= bound
        found.append((text, verdict))
    x_runs = [r for r in ours if r.family == "X" and r.limit_s == TARGET_X_LIMIT_S]
    if x_runs:
        over = [
            r.instance
            for r in x_runs
            if not r.feasible or r.pct_above is None or r.pct_above > TARGET_X_PCT
        ]
        pct = [r.pct_above for r in x_runs if r.pct_above is not None]
        text = (
            f"{TARGET_X_LIMIT_S:g} s: <= {TARGET_X_PCT:g} % on every X instance: worst "
            f"{max(pct, default=math.nan):.2f} %, mean {statistics.fmean(pct):.2f} % over "
            f"{len(x_runs)} run ({set_sizes.get('X', 0)} in the set)"
        )
        if over:
            text += f"; over or infeasible: {', '.join(over)}"
        found.append((text, False if over else _whole(len(x_runs), set_sizes.get("X", 0))))
    else:
        text = f"{TARGET_X_LIMIT_S:g} s: <= {TARGET_X_PCT:g} % on every X instance: no run"
        found.append((text, None))
    found.extend(_against_vroom(rows, set_sizes))
    return found


def _whole(ran: int, size: int) -> Verdict:
    return True if size and ran >= size else None


def _mean_pct(rows: Sequence[Row], engine: str, limit: float, names: set[str]) -> float | None:
    pct = [
        r.pct_above
        for r in rows
        if r.engine == engine
        and r.limit_s == limit
        and r.instance in names
        and r.feasible
        and r.pct_above is not None
    ]
    return statistics.fmean(pct) if pct else None


def _against_vroom(rows: Sequence[Row], set_sizes: Mapping[str, int]) -> list[tuple[str, Verdict]]:
    """Never a worse mean % above than VROOM's on any family, per limit, like for like."""
    if not any(r.engine == "vroom" for r in rows):
        return [("never worse than VROOM's mean on any family: VROOM did not run", None)]
    found: list[tuple[str, Verdict]] = []
    by_key = {(r.engine, r.instance, r.limit_s): r for r in rows}
    for limit in sorted({r.limit_s for r in rows}):
        parts, verdicts = [], []
        for family in FAMILIES:
            pairs = [
                (r, by_key[("vroom", r.instance, limit)])
                for r in rows
                if r.engine == "ours"
                and r.limit_s == limit
                and r.family == family
                and ("vroom", r.instance, limit) in by_key
            ]
            if not pairs:
                continue
            # Ours infeasible where VROOM is not is worse whatever the distances say.
            lost = any(o.feasible < v.feasible for o, v in pairs)
            both = [(o, v) for o, v in pairs if o.feasible and v.feasible]
            ours_mean = statistics.fmean(o.pct_above or 0.0 for o, _ in both) if both else 0
            vroom_mean = statistics.fmean(v.pct_above or 0.0 for _, v in both) if both else 0
            worse = lost or ours_mean > vroom_mean + 1e-9
            complete = len(pairs) >= set_sizes.get(family, 0) > 0
            verdicts.append(False if worse and complete else (None if not complete else True))
            mark = "" if complete else f" ({len(pairs)} of {set_sizes.get(family, 0)})"
            parts.append(f"{family} {ours_mean:.2f} vs {vroom_mean:.2f}{mark}")
        if not parts:
            continue
        if False in verdicts:
            verdict: Verdict = False
        elif None in verdicts or len(verdicts) < sum(1 for f in FAMILIES if set_sizes.get(f)):
            verdict = None
        else:
            verdict = True
        text = f"{limit:g} s: never worse than VROOM's mean on any family (ours vs VROOM, %): "
        found.append((text + ", ".join(parts), verdict))
    return found


# --- printing -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text  # the best known rounded to 4 decimals


def _print_instances(console: Console, rows: Sequence[Row]) -> None:
    table = Table(title="per instance: distance, vehicles, % above best known, time")
    for column in (
        "instance",
        "limit s",
        "engine",
        "distance",
        "veh",
        "best",
        "best veh",
        "% above",
        "feasible",
        "wall s",
        "won by",
    ):
        table.add_column(column, justify="left" if column in ("instance", "engine") else "right")
    previous = None
    for row in sorted(rows, key=lambda r: (r.limit_s, _instance_order(Path(r.instance)))):
        if previous is not None and (row.instance, row.limit_s) != previous:
            table.add_section()
        previous = (row.instance, row.limit_s)
        table.add_row(
            row.instance,
            f"{row.limit_s:g}",
            row.engine,
            f"{row.distance:.2f}",
            str(row.vehicles),
            "-" if row.best_distance is None else f"{row.best_distance:.2f}",
            "-" if row.best_vehicles is None else str(row.best_vehicles),
            _pct(row.pct_above),
            "yes" if row.feasible else "[red]NO[/]",
            f"{row.wall_s:.2f}",
            row.won_by,
        )
    console.print(table)


def _print_families(console: Console, summary: Sequence[FamilyRow]) -> None:
    table = Table(title="per family: mean % above best known (over the feasible), mean time")
    for column in (
        "family",
        "limit s",
        "engine",
        "instances",
        "feasible",
        "mean % above",
        "mean veh",
        "mean s",
        "won by (ours)",
    ):
        table.add_column(column, justify="left" if column in ("family", "engine") else "right")
    previous = None
    for row in summary:
        if previous is not None and (row.family, row.limit_s) != previous:
            table.add_section()
        previous = (row.family, row.limit_s)
        table.add_row(
            row.family,
            f"{row.limit_s:g}",
            row.engine,
            str(row.instances),
            str(row.feasible),
            _pct(row.mean_pct_above),
            f"{row.mean_vehicles:.1f}",
            f"{row.mean_wall_s:.2f}",
            row.won_by,
        )
    console.print(table)


# --- the run --------------------------------------------------------------------------------


def _warm_up(instance: Instance, engines: Sequence[str], seed: int) -> None:
    """One short untimed run per engine: imports, OR-Tools' and PyVRP's first models."""
    for engine in engines:
        ENGINE_SOLVERS[engine](instance, WARM_UP_S, seed)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 Solomon instances at 2 s")
    parser.add_argument("--instances", help="names or patterns, e.g. C101,R1*,X-n101*")
    parser.add_argument("--limits", help="seconds per instance, e.g. 2,10 (quick: 2)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="ours,ortools,vroom,pyvrp")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="benchmark data directory")
    parser.add_argument("--csv", default="benchmarks/results/vrp.csv")
    parser.add_argument("--per-instance", action="store_true", help="print every row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    console = Console(width=150)
    data = Path(args.data)
    if not data.is_dir():
        parser.error(f"no benchmark data at {data} (see the module docstring)")
    patterns = args.instances.split(",") if args.instances else None
    if patterns is None and args.quick:
        patterns = list(QUICK_INSTANCES)
    try:
        paths = find_instances(data, patterns)
        engines, notes = available_engines([e.strip() for e in args.engines.split(",")])
    except ValueError as error:
        parser.error(str(error))
    limits = _floats(args.limits) if args.limits else (QUICK_LIMITS_S if args.quick else LIMITS_S)
    for note in notes:
        console.print(f"[yellow]{note}[/]")
    if not paths or not engines:
        parser.error("nothing to run")
    known = best_known(data)
    set_sizes = Counter(family_of(p.stem) for p in find_instances(data))

    out = Path(args.csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    started = time.perf_counter()
    with out.open("w", newline="") as handle, Progress(console=console) as progress:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Row)])
        writer.writeheader()
        task = progress.add_task("instances", total=len(paths) * len(limits) * len(engines))
        for index, path in enumerate(paths):
            instance = read_instance(path)
            if index == 0:
                progress.update(task, description="warming up")
                _warm_up(instance, engines, args.seed)
            for limit in limits:
                for engine in engines:
                    progress.update(task, description=f"{instance.name} {limit:g} s {engine}")
                    row = run_instance(
                        instance,
                        engine=engine,
                        time_limit_s=limit,
                        best=known.get(instance.name),
                        seed=args.seed,
                    )
                    rows.append(row)
                    writer.writerow(asdict(row))
                    handle.flush()
                    progress.advance(task)

    if args.per_instance or len(paths) <= PER_INSTANCE_UP_TO:
        _print_instances(console, rows)
    _print_families(console, summarise(rows))
    for text, verdict in targets(rows, set_sizes):
        mark = {True: "[green]met[/]", False: "[red]NOT met[/]", None: "not judged"}[verdict]
        console.print(f"target: {text}: {mark}")
    for row in rows:
        if row.problems:
            console.print(f"[red]{row.instance} {row.limit_s:g} s {row.engine}:[/] {row.problems}")
    console.print(
        f"{len(paths)} instance(s); limits {', '.join(f'{t:g} s' for t in limits)}; "
        f"{', '.join(engines)}; seed {args.seed}; best known from {data}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
