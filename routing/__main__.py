"""The routing command line: ``python -m routing pick|vrp ...``.

``pick --layout L.json --picks P.json`` plans a pick path; ``vrp --instance FILE`` solves a
Solomon or VRPLIB benchmark instance. With ``routing.instances`` (the instance reader), the only
modules of the package that read or write files. Exit codes: 0 planned; 2 the command cannot
run as written (a usage error, a file that cannot be read or written, invalid JSON or instance,
a layout or pick outside the rules, a method that does not apply), with one line on stderr
saying why.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from routing.instances import FORMATS, read_instance
from routing.layout import layout_from_dict, picks_from_list
from routing.picking import DEFAULT_TIME_LIMIT_S, METHODS, plan_pick_path
from routing.render import render_svg
from routing.vrp import VrpError, solve

EXIT_BAD_INPUT = 2

#: ``vrp``: the engines of ``routing.vrp.solve`` and the default cap on its search.
VRP_ENGINES = ("auto", "ortools", "pyvrp")
VRP_TIME_LIMIT_S = 10.0


class _Refused(Exception):
    """The command cannot run as written; the message is the one line shown to the user."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line with argv (default: sys.argv[1:]) and return the exit code."""
    args = _parser().parse_args(argv)
    command = _vrp if args.command == "vrp" else _pick
    try:
        return command(args)
    except _Refused as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m routing",
        description="Pick paths through a warehouse layout; vehicle routes for VRP instances.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    pick = commands.add_parser(
        "pick",
        help="plan the shortest walk from the depot through a pick list to the end point",
        description="Plan the walk from the depot through every pick to the end point.",
    )
    pick.add_argument("--layout", required=True, type=Path, help="layout JSON file")
    pick.add_argument(
        "--picks",
        required=True,
        type=Path,
        help='picks JSON file: [{"aisle": 3, "y_m": 12.5}, ...]',
    )
    # Not argparse choices: an unknown method is a one-line error like any other bad input.
    pick.add_argument(
        "--method", default="auto", help=f"one of {', '.join(METHODS)} (default: auto)"
    )
    pick.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT_S,
        metavar="S",
        help=f"cap on OR-Tools search time in seconds (default: {DEFAULT_TIME_LIMIT_S:g})",
    )
    pick.add_argument("--svg", type=Path, metavar="OUT.svg", help="also draw the walk to this file")
    pick.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )
    _add_vrp_parser(commands)
    return parser


def _pick(args: argparse.Namespace) -> int:
    if args.method not in METHODS:
        raise _Refused(f"--method must be one of {', '.join(METHODS)}; got {args.method!r}")
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise _Refused(
            f"--time-limit must be a positive number of seconds, got {args.time_limit:g}"
        )
    try:
        layout = layout_from_dict(
            _read_json(args.layout, dict, 'an object like {"aisles": 12, ...}')
        )
        picks_data = _read_json(args.picks, list, 'a list like [{"aisle": 3, "y_m": 12.5}]')
        picks = picks_from_list(layout, picks_data)
        started = time.perf_counter()
        path = plan_pick_path(layout, picks, method=args.method, time_limit_s=args.time_limit)
        ms = (time.perf_counter() - started) * 1000.0
    except ValueError as exc:  # LayoutError, PickError, NotApplicable: each names the culprit
        raise _Refused(str(exc)) from exc

    # Write the picture first, so a failed write leaves nothing half-printed on stdout.
    if args.svg is not None:
        try:
            args.svg.write_text(render_svg(layout, picks, path), encoding="utf-8")
        except OSError as exc:
            raise _Refused(f"cannot write {args.svg}: {exc.strerror or exc}") from exc

    if args.json:
        result = {
            "order": list(path.order),
            "length_m": path.length_m,
            "method": path.method,
            "ms": round(ms, 3),
        }
        print(json.dumps(result))
        return 0
    print(
        f"{path.method}: {path.length_m:.1f} m through {len(picks)} picks, planned in {ms:.1f} ms"
    )
    for rank, index in enumerate(path.order, start=1):
        pick = picks[index]
        print(f"{rank:4d}. pick {index:<4d} aisle {pick.aisle:<3d} y {pick.y_m:g} m")
    return 0


def _add_vrp_parser(commands: Any) -> None:
    vrp = commands.add_parser(
        "vrp",
        help="solve a Solomon or VRPLIB vehicle routing instance",
        description="Solve a vehicle routing benchmark instance (distance only).",
    )
    vrp.add_argument("--instance", required=True, type=Path, help="instance file (.txt or .vrp)")
    # Not argparse choices: a bad value is a one-line error like any other bad input.
    vrp.add_argument(
        "--format",
        metavar="FORMAT",
        help=f"one of {', '.join(FORMATS)} (default: .txt solomon, .vrp vrplib)",
    )
    vrp.add_argument(
        "--time-limit",
        type=float,
        default=VRP_TIME_LIMIT_S,
        metavar="S",
        help=f"cap on the search in seconds (default: {VRP_TIME_LIMIT_S:g})",
    )
    vrp.add_argument(
        "--engine", default="auto", help=f"one of {', '.join(VRP_ENGINES)} (default: auto)"
    )
    vrp.add_argument("--seed", type=int, default=0, metavar="N", help="PyVRP's seed (default: 0)")
    vrp.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )


def _vrp(args: argparse.Namespace) -> int:
    if args.format is not None and args.format not in FORMATS:
        raise _Refused(f"--format must be one of {', '.join(FORMATS)}; got {args.format!r}")
    if args.engine not in VRP_ENGINES:
        raise _Refused(f"--engine must be one of {', '.join(VRP_ENGINES)}; got {args.engine!r}")
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise _Refused(
            f"--time-limit must be a positive number of seconds, got {args.time_limit:g}"
        )
    if not 0 <= args.seed < 2**32:  # PyVRP's generator takes an unsigned 32-bit seed
        raise _Refused(f"--seed must be 0 to {2**32 - 1}, got {args.seed}")
    try:
        instance = read_instance(args.instance, args.format)
        started = time.perf_counter()
        solution = solve(
            instance.problem,
            time_limit_s=args.time_limit,
            engine=args.engine,
            seed=args.seed,
            coordinates=instance.coordinates,
        )
        ms = (time.perf_counter() - started) * 1000.0
    except VrpError as exc:
        raise _Refused(str(exc)) from exc

    customer = dict(
        zip((job.id for job in instance.problem.jobs), instance.customer_ids, strict=True)
    )
    routes = [[customer[visit.job] for visit in route.visits] for route in solution.routes]
    unassigned = [customer[u.job] for u in solution.unassigned]
    if args.json:
        result = {
            "routes": routes,
            "distance": solution.distance,
            "vehicles": len(routes),
            "unassigned": unassigned,
            "engine": solution.engine,
            "ms": round(ms, 3),
        }
        print(json.dumps(result))
        return 0
    print(
        f"{instance.name} by {solution.engine}: distance {solution.distance:.2f},"
        f" {len(routes)} vehicles, {len(unassigned)} unassigned, solved in {ms:.1f} ms"
    )
    for rank, route in enumerate(routes, start=1):
        print(f"{rank:4d}. {' '.join(map(str, route))}")
    for u in solution.unassigned:
        print(f"   -  {customer[u.job]} unassigned: {u.reason}")
    return 0


def _read_json(path: Path, kind: type, shape: str) -> Any:
    """The JSON value in the file, which must be of kind (described as shape)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _Refused(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise _Refused(f"{path} is not UTF-8 text: {exc.reason}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Refused(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, kind):
        raise _Refused(f"{path}: must hold {shape}")
    return data


if __name__ == "__main__":
    sys.exit(main())
