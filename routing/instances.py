"""Benchmark instances: Solomon and VRPLIB files read into a ``routing.vrp.Problem``.

The reader module of the package (with ``__main__``, the only one that opens files). It
follows the conventions of the literature the best known solutions come from:

- Instances with time windows (Solomon's, in his text format or in VRPLIB form): Euclidean
  distances as floats, travel time equal to distance, waiting allowed, service starting no
  later than the due date, every vehicle back at the depot by the depot's due date (the
  depot's window becomes ``Depot.hours``); ``time_scale`` 100.
- Instances without time windows (the CVRP X instances, ``EDGE_WEIGHT_TYPE : EUC_2D``): each
  arc rounded to the nearest integer, as TSPLIB does; ``time_scale`` 1.
- The objective is distance alone: every vehicle has ``cost_per_distance`` 1 and no fixed cost.
  One capacity dimension, ``"quantity"``.
- The fleet is the file's vehicle count (Solomon's header, VRPLIB's ``VEHICLES``); a file
  without one gets a vehicle per customer, i.e. as many as can be used.
- Customers keep the ids of ``.sol`` files, 1 to N-1: a Solomon file's customer number; in a
  VRPLIB file (the depot is node 1) the node number minus one. Job ids are those ids as text.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vrplib.parse import parse_solomon, parse_solution, parse_vrplib

from routing.vrp import Depot, Job, Problem, TimeWindow, Vehicle, VrpError, validate

FORMATS = ("solomon", "vrplib")
_FORMAT_BY_SUFFIX = {".txt": "solomon", ".vrp": "vrplib"}

#: Ticks per unit inside the solvers for float distances (instances with time windows).
FLOAT_TIME_SCALE = 100

# The VRPLIB keys this reader models. Any other (a route length limit, release times, prizes,
# several depots' sections, ...) would be a constraint silently dropped, so it is refused.
_VRPLIB_KEYS = frozenset(
    {
        "name",
        "comment",
        "type",
        "dimension",
        "vehicles",
        "capacity",
        "service_time",
        "edge_weight_type",
        "node_coord",
        "demand",
        "time_window",
        "depot",
    }
)
_SOLOMON_COLUMNS = "CUST NO., XCOORD., YCOORD., DEMAND, READY TIME, DUE DATE, SERVICE TIME"


@dataclass(frozen=True, slots=True)
class Instance:
    """A benchmark instance as a problem, with what is needed to compare with its ``.sol``."""

    name: str
    problem: Problem
    coordinates: tuple[tuple[float, float], ...]  # per location (the depot is location 0)
    customer_ids: tuple[int, ...]  # per job of problem.jobs, its id in .sol files
    fleet: int | None  # the file's vehicle count; None: unlimited (a vehicle per customer)
    rounding: str  # "float" (exact Euclidean arcs) or "round" (each arc to the nearest integer)


def read_instance(path: str | Path, fmt: str | None = None) -> Instance:
    """Read a Solomon or VRPLIB instance file into a problem (see the module docstring).

    ``fmt`` is ``"solomon"`` or ``"vrplib"``; by default ``.txt`` files are Solomon's and
    ``.vrp`` files VRPLIB. A file that cannot be read, or read as an instance of the
    conventions above, raises ``VrpError`` naming the file.
    """
    path = Path(path)
    where = str(path)
    if fmt is None:
        fmt = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if fmt is None:
            raise VrpError(
                where, "unknown instance format: name it (solomon or vrplib) or use .txt or .vrp"
            )
    if fmt not in FORMATS:
        raise VrpError(where, f"format must be solomon or vrplib, got {fmt!r}")
    text = _read_text(path)
    customer_ids = _solomon_customer_ids(where, text) if fmt == "solomon" else None
    try:
        if fmt == "solomon":
            data = parse_solomon(text, compute_edge_weights=False)
        else:
            data = parse_vrplib(text, compute_edge_weights=False)
    except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise VrpError(where, f"is not a {fmt} instance ({reason})") from exc
    if fmt == "vrplib":
        _check_vrplib(where, data)
    return _instance(where, data, customer_ids)


def read_solution(path: str | Path) -> list[list[int]]:
    """The routes of a ``.sol`` file, each a list of customer ids in visiting order."""
    where = str(path)
    text = _read_text(Path(path))
    try:
        routes = parse_solution(text)["routes"]
    except ValueError as exc:
        raise VrpError(where, f"is not a solution file ({exc})") from exc
    if not routes:
        raise VrpError(where, "holds no routes (lines like 'Route #1: 5 3 7')")
    return [list(route) for route in routes]


def route_distance(instance: Instance, routes: Sequence[Sequence[int]]) -> float:
    """The distance of routes given as customer ids, from and back to the depot.

    Summed in floating point over the problem's arcs, so under the instance's rounding
    convention: comparable with the best known distance of an X instance as it stands, and
    with a Solomon one's up to the literature's truncation of each arc to 0.1.
    """
    problem = instance.problem
    location = {
        customer: job.location
        for customer, job in zip(instance.customer_ids, problem.jobs, strict=True)
    }
    depot = problem.depots[0].location
    legs: list[float] = []
    for route in routes:
        if not route:
            continue
        stops = [depot]
        for customer in route:
            if customer not in location:
                raise VrpError(f"customer {customer}", f"is not in instance {instance.name}")
            stops.append(location[customer])
        stops.append(depot)
        legs += (problem.distances[a][b] for a, b in itertools.pairwise(stops))
    return math.fsum(legs)


# --- reading --------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VrpError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise VrpError(str(path), f"is not UTF-8 text: {exc.reason}") from exc


def _solomon_customer_ids(where: str, text: str) -> tuple[int, ...]:
    """The customer numbers of a Solomon file's table (depot row first), checked strictly.

    vrplib reads the table with numpy, which turns a number it cannot read into -1 without a
    word, and it drops the customer number; so every row is checked (and numbered) here.
    """
    lines = [
        (number, stripped)
        for number, line in enumerate(text.splitlines(), start=1)
        if (stripped := line.strip()) and not stripped.startswith("#")
    ]
    if len(lines) < 7 or not lines[5][1].startswith("CUST"):
        raise VrpError(where, "is not a solomon instance (no VEHICLE and CUSTOMER tables)")
    numbers = []
    for number, line in lines[6:]:
        fields = line.split()
        if len(fields) != 7 or not all(_is_int(f) for f in fields):
            raise VrpError(f"{where} line {number}", f"needs 7 whole numbers ({_SOLOMON_COLUMNS})")
        numbers.append(int(fields[0]))
    if len(set(numbers)) != len(numbers):
        raise VrpError(where, "a customer number appears twice")
    return tuple(numbers[1:])


def _is_int(field: str) -> bool:
    try:
        int(field)
    except ValueError:
        return False
    return True


def _check_vrplib(where: str, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - _VRPLIB_KEYS)
    if unknown:
        names = ", ".join(key.upper() for key in unknown)
        raise VrpError(where, f"{names}: not modelled by this reader")
    if data.get("edge_weight_type") != "EUC_2D":
        raise VrpError(
            where, f"EDGE_WEIGHT_TYPE must be EUC_2D, got {data.get('edge_weight_type')!r}"
        )
    depots = data.get("depot")
    if depots is None or np.asarray(depots).tolist() != [0]:
        raise VrpError(where, "DEPOT_SECTION must name node 1 as the one depot")


def _instance(
    where: str, data: Mapping[str, Any], customer_ids: tuple[int, ...] | None
) -> Instance:
    coords = _numbers(where, data, "node_coord", 2)
    size = len(coords)
    if size < 1:
        raise VrpError(where, "NODE_COORD has no depot")
    if "dimension" in data and data["dimension"] != size:
        raise VrpError(where, f"DIMENSION is {data['dimension']} but there are {size} nodes")
    demand = _numbers(where, data, "demand", None, size)
    if not all(float(d).is_integer() for d in demand):
        raise VrpError(where, "DEMAND must be whole numbers")
    capacity = _whole(where, data, "capacity")
    fleet = _whole(where, data, "vehicles") if "vehicles" in data else None
    if fleet is not None and fleet < 1:
        raise VrpError(where, f"VEHICLES must be at least 1, got {fleet}")
    service_time = data.get("service_time", 0)  # one for all (VRPLIB may say so) or per node
    if np.ndim(service_time) == 0:
        service_time = [service_time] * size
    service = _numbers(where, {"service_time": service_time}, "service_time", None, size)
    timed = "time_window" in data
    window: list[tuple[TimeWindow, ...]] = [()] * size
    if timed:
        window = [
            (TimeWindow(float(a), float(b)),)
            for a, b in _numbers(where, data, "time_window", 2, size)
        ]
    coordinates = tuple((float(x), float(y)) for x, y in coords)
    exact = [[math.dist(a, b) for b in coordinates] for a in coordinates]
    # TSPLIB's nint: half up (no Euclidean distance between integer points is exactly n + .5).
    distances = tuple(
        tuple(d if timed else float(math.floor(d + 0.5)) for d in row) for row in exact
    )
    if customer_ids is None:
        customer_ids = tuple(range(1, size))
    jobs = tuple(
        Job(
            id=str(customer),
            location=node,
            demand=(int(demand[node]),),
            service_time=float(service[node]),
            windows=window[node],
        )
        for node, customer in enumerate(customer_ids, start=1)
    )
    hours = window[0][0] if timed else TimeWindow()
    vehicles = tuple(
        Vehicle(id=f"v{k}", depot="depot", capacity=(capacity,), cost_per_distance=1.0)
        for k in range(1, (fleet if fleet is not None else size - 1) + 1)
    )
    problem = Problem(
        depots=(Depot("depot", 0, hours),),
        vehicles=vehicles,
        jobs=jobs,
        distances=distances,
        dimensions=("quantity",),
        time_scale=FLOAT_TIME_SCALE if timed else 1,
    )
    try:
        validate(problem)
    except VrpError as exc:
        raise VrpError(where, str(exc)) from exc
    name = str(data.get("name", Path(where).stem)).strip()
    return Instance(name, problem, coordinates, customer_ids, fleet, "float" if timed else "round")


def _numbers(
    where: str, data: Mapping[str, Any], key: str, columns: int | None, rows: int | None = None
) -> np.ndarray:
    """The finite numbers under key, one row per node (``columns`` None: one number a node)."""
    label = key.upper()
    if key not in data:
        raise VrpError(where, f"{label} is missing")
    try:
        array = np.asarray(data[key], dtype=float)
    except (TypeError, ValueError) as exc:
        raise VrpError(where, f"{label} must hold numbers only") from exc
    width = () if columns is None else (columns,)
    if array.ndim != 1 + len(width) or array.shape[1:] != width:
        raise VrpError(where, f"{label} needs {columns or 1} number(s) per node")
    if rows is not None and len(array) != rows:
        raise VrpError(where, f"{label} has {len(array)} rows for {rows} nodes")
    if not np.isfinite(array).all():
        raise VrpError(where, f"{label} must hold finite numbers")
    return array


def _whole(where: str, data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise VrpError(where, f"{key.upper()} must be one whole number, got {value!r}")
    return int(value)
