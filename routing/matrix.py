"""Travel-time matrices: how far, in metres, and how long, in seconds, between delivery points.

``routing.vrp.solve`` takes its distance and travel-time matrices from the caller; a
``MatrixProvider`` makes them from points given as ``(lat, lon)`` in degrees (WGS 84):

- ``HaversineProvider`` (the default, works offline): the great-circle distance times a
  *circuity factor*, driven at a set speed. Streets are not straight lines: road distance
  typically runs 1.2 to 1.4 times the straight line on a street grid, more on very short trips
  and around rivers and rail lines; without the factor every route would look shorter and
  every ETA earlier than the drive. 1.3 is a common default; measure it for a city by setting
  a sample of OSRM figures against the great circle.
- ``OsrmProvider``: road distances and durations from an OSRM server's Table service
  (``/table/v1/{profile}/{lon,lat;...}``), split into blocks the server accepts, optionally
  filling the pairs OSRM cannot route (or all pairs, when it cannot be reached) from a
  fallback provider. The only module of the package that talks to the network.

A ``Matrix`` is square over the points given, in their order, with zero diagonal:
``distances_m[i][j]`` metres and ``durations_s[i][j]`` seconds from point ``i`` to point ``j``
(OSRM's may differ from ``[j][i]``: one-way streets). Plug it into a problem as
``Problem(..., distances=m.distances_m, durations=m.durations_s)``.

``provider_from_config(settings)`` builds a provider from plain ``MATRIX_*`` settings. Bad
input raises ``MatrixError`` (a ``ValueError``) naming the point, parameter or setting.
"""

from __future__ import annotations

import http.client
import json
import math
import numbers
import re
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8

#: Providers ``provider_from_config`` builds (``MATRIX_PROVIDER``).
PROVIDERS = ("haversine", "osrm")

#: OSRM codes that say the road network has no answer (a point off every road, no route):
#: a fallback may stand in. Every other code says the request itself is wrong (``TooBig``,
#: ``InvalidQuery``, ...) and is raised even with a fallback, so a misconfiguration shows.
OSRM_NO_ROUTE_CODES = frozenset({"NoSegment", "NoTable"})


class MatrixError(ValueError):
    """Points, parameters or settings a matrix cannot be made from; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class OsrmError(MatrixError):
    """The OSRM server refused the request or could not be asked (``field`` is ``"osrm"``).

    ``code`` is OSRM's own (``"TooBig"``, ``"InvalidQuery"``, ``"NoSegment"``, ...), or None
    when no OSRM answer came: unreachable, timed out, or an answer that is not OSRM's JSON.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__("osrm", message)
        self.code = code

    @property
    def fallback_applies(self) -> bool:
        """Whether a fallback provider may stand in (no answer, or no route; not a bad request)."""
        return self.code is None or self.code in OSRM_NO_ROUTE_CODES


@dataclass(frozen=True, slots=True)
class Matrix:
    """Distances (metres) and travel times (seconds) between points, in the order given.

    Square, zero diagonal, every entry finite and >= 0. ``source`` names the provider
    (``"haversine"``, ``"osrm"``, or ``"osrm+haversine"`` when a fallback filled some or all
    pairs); ``estimated`` lists the ``(i, j)`` pairs the fallback filled, and ``notes`` says
    why, for the caller to log or show.
    """

    distances_m: tuple[tuple[float, ...], ...]
    durations_s: tuple[tuple[float, ...], ...]
    source: str
    estimated: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        size = len(self.distances_m)
        for name, grid in (("distances_m", self.distances_m), ("durations_s", self.durations_s)):
            if len(grid) != size or any(len(row) != size for row in grid):
                raise MatrixError(name, f"must be a square matrix over the {size} points")
            for i, row in enumerate(grid):
                if row[i] != 0:
                    raise MatrixError(f"{name}[{i}][{i}]", f"must be 0, got {row[i]!r}")
                for j, value in enumerate(row):
                    if not (math.isfinite(value) and value >= 0):
                        raise MatrixError(
                            f"{name}[{i}][{j}]", f"must be finite and >= 0, got {value}"
                        )

    @property
    def size(self) -> int:
        """The number of points."""
        return len(self.distances_m)


class MatrixProvider(ABC):
    """Makes the ``Matrix`` over points given as ``(lat, lon)`` in degrees."""

    __slots__ = ()
    name: ClassVar[str]

    @abstractmethod
    def matrix(self, points: Sequence[tuple[float, float]]) -> Matrix:
        """The distances and travel times between the points, in their order."""


# --- points and the great circle ------------------------------------------------------------


def check_points(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points as float ``(lat, lon)`` pairs; MatrixError names the first bad one.

    Latitude must be -90 to 90 and longitude -180 to 180 degrees, finite. A point given as
    (lon, lat) by mistake is often in range too and cannot be caught here: mind the order.
    """
    checked = []
    for i, point in enumerate(points):
        try:
            lat, lon = point
        except (TypeError, ValueError):
            raise MatrixError(f"point {i}", f"must be a (lat, lon) pair, got {point!r}") from None
        for name, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise MatrixError(f"point {i} {name}", f"must be a number, got {value!r}")
            if not (math.isfinite(value) and -limit <= value <= limit):
                raise MatrixError(
                    f"point {i} {name}", f"must be -{limit} to {limit} degrees, got {value!r}"
                )
        checked.append((float(lat), float(lon)))
    return checked


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance in metres between two ``(lat, lon)`` points (a spherical Earth)."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _real(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MatrixError(field, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise MatrixError(field, f"must be finite, got {value!r}")
    return number


def _freeze(grid: list[list[float]]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(row) for row in grid)


# --- straight lines, bent -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HaversineProvider(MatrixProvider):
    """Great-circle distance times ``circuity``, driven at ``speed_kmh``; symmetric, offline.

    ``distances_m[i][j] = haversine * circuity`` (metres) and ``durations_s[i][j] =
    distances_m[i][j] / speed + stop_overhead_s`` (seconds), where ``stop_overhead_s`` is a
    fixed cost of every leg between two different places (finding a place to stop, say); a
    leg between two orders at the same spot costs nothing. ``speed_kmh`` is the average
    door-to-door speed, lights and traffic included (20 km/h suits a van in a city centre).
    """

    speed_kmh: float = 20.0
    circuity: float = 1.3
    stop_overhead_s: float = 0.0

    name: ClassVar[str] = "haversine"

    def __post_init__(self) -> None:
        if not _real("speed_kmh", self.speed_kmh) > 0:
            raise MatrixError("speed_kmh", f"must be > 0, got {self.speed_kmh!r}")
        if not _real("circuity", self.circuity) >= 1:
            raise MatrixError(
                "circuity", f"must be >= 1 (roads are never shorter), got {self.circuity!r}"
            )
        if not _real("stop_overhead_s", self.stop_overhead_s) >= 0:
            raise MatrixError("stop_overhead_s", f"must be >= 0, got {self.stop_overhead_s!r}")

    def matrix(self, points: Sequence[tuple[float, float]]) -> Matrix:
        """The straight-line-times-circuity matrix over the points (see the class)."""
        checked = check_points(points)
        size = len(checked)
        metres_per_s = self.speed_kmh / 3.6
        distances = [[0.0] * size for _ in range(size)]
        durations = [[0.0] * size for _ in range(size)]
        for i in range(size):
            for j in range(i + 1, size):
                metres = haversine_m(checked[i], checked[j]) * self.circuity
                seconds = metres / metres_per_s + (self.stop_overhead_s if metres > 0 else 0.0)
                distances[i][j] = distances[j][i] = metres
                durations[i][j] = durations[j][i] = seconds
        return Matrix(_freeze(distances), _freeze(durations), self.name)


# --- OSRM's Table service -------------------------------------------------------------------

_PROFILE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class OsrmProvider(MatrixProvider):
    """Road distances and durations from an OSRM server's Table service.

    Each request is ``GET {base_url}/table/v1/{profile}/{lon},{lat};...
    ?annotations=duration,distance`` (OSRM takes longitude first; the points here are
    ``(lat, lon)``) and carries at most ``max_points`` coordinates: keep it at or below the
    server's ``--max-table-size`` (default 100). More points are cut into blocks of
    ``max_points // 2``, and each pair of blocks is one request naming its ``sources`` and
    ``destinations``; the answers are stitched into one matrix. Rows are sources: one-way
    streets make the matrix asymmetric. The diagonal is 0.

    ``timeout_s`` bounds each network operation (connecting, each read), not the whole call.

    Without a ``fallback``, pairs OSRM cannot route (``null`` in its answer) raise
    ``MatrixError`` naming the point in most of them; a server that cannot be reached or does
    not answer in time, and any OSRM error code, raise ``OsrmError`` (``code`` says which).
    With a fallback, unroutable pairs are filled from it (``source``
    becomes ``"osrm+<fallback>"``, the pairs are in ``Matrix.estimated``); when OSRM cannot be
    asked at all, or finds a point off every road (``NoSegment``), every pair is. Codes that
    say the request is wrong (``TooBig``, ``InvalidQuery``, ...) raise even with a fallback.
    """

    base_url: str
    profile: str = "driving"
    timeout_s: float = 10.0
    max_points: int = 100
    fallback: MatrixProvider | None = None

    name: ClassVar[str] = "osrm"

    def __post_init__(self) -> None:
        url = self.base_url
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise MatrixError("base_url", f"must be an http:// or https:// URL, got {url!r}")
        if parts.query or parts.fragment:
            raise MatrixError("base_url", f"must not have a query or fragment, got {url!r}")
        object.__setattr__(self, "base_url", url.rstrip("/"))
        if not (isinstance(self.profile, str) and _PROFILE.fullmatch(self.profile)):
            raise MatrixError(
                "profile", f"must be letters, digits, '_' or '-' (driving), got {self.profile!r}"
            )
        if not _real("timeout_s", self.timeout_s) > 0:
            raise MatrixError("timeout_s", f"must be > 0 seconds, got {self.timeout_s!r}")
        points = self.max_points
        if isinstance(points, bool) or not isinstance(points, int) or points < 2:
            raise MatrixError("max_points", f"must be a whole number >= 2, got {points!r}")
        if self.fallback is not None and not isinstance(self.fallback, MatrixProvider):
            raise MatrixError("fallback", f"must be a MatrixProvider, got {self.fallback!r}")

    def matrix(self, points: Sequence[tuple[float, float]]) -> Matrix:
        """The road matrix over the points from OSRM, with the fallback's help if given."""
        checked = check_points(points)
        size = len(checked)
        if size == 0:
            return Matrix((), (), self.name)
        try:
            durations, distances = self._table(checked)
        except OsrmError as error:
            if self.fallback is None or not error.fallback_applies:
                raise
            spare = self.fallback.matrix(checked)
            pairs = tuple((i, j) for i in range(size) for j in range(size) if i != j)
            note = f"{error.message}; every pair from {spare.source}"
            return Matrix(
                spare.distances_m, spare.durations_s, f"{self.name}+{spare.source}", pairs, (note,)
            )
        missing = [
            (i, j)
            for i in range(size)
            for j in range(size)
            if i != j and (durations[i][j] is None or distances[i][j] is None)
        ]
        if not missing:
            return Matrix(_filled(distances), _filled(durations), self.name)
        if self.fallback is None:
            raise _no_route(missing)
        spare = self.fallback.matrix(checked)
        for i, j in missing:
            distances[i][j] = spare.distances_m[i][j]
            durations[i][j] = spare.durations_s[i][j]
        note = f"OSRM found no route for {len(missing)} pair(s); those from {spare.source}"
        return Matrix(
            _filled(distances),
            _filled(durations),
            f"{self.name}+{spare.source}",
            tuple(missing),
            (note,),
        )

    # The tables hold None where OSRM answered null, until the fallback fills them.
    def _table(
        self, points: list[tuple[float, float]]
    ) -> tuple[list[list[float | None]], list[list[float | None]]]:
        size = len(points)
        durations: list[list[float | None]] = [[0.0] * size for _ in range(size)]
        distances: list[list[float | None]] = [[0.0] * size for _ in range(size)]
        if size <= self.max_points:
            blocks = [(range(size), range(size))]
        else:
            step = self.max_points // 2
            chunks = [range(s, min(s + step, size)) for s in range(0, size, step)]
            blocks = [(rows, cols) for rows in chunks for cols in chunks]
        for rows, cols in blocks:
            block_durations, block_distances = self._block(points, rows, cols)
            for a, i in enumerate(rows):
                for b, j in enumerate(cols):
                    if i != j:
                        durations[i][j] = block_durations[a][b]
                        distances[i][j] = block_distances[a][b]
        return durations, distances

    def _block(
        self, points: list[tuple[float, float]], rows: range, cols: range
    ) -> tuple[list[list[float | None]], list[list[float | None]]]:
        """One Table request: ``rows`` to ``cols`` (indexes into points)."""
        query = "annotations=duration,distance"
        if rows == cols:
            coordinates = [points[i] for i in rows]
        else:  # sources first, then destinations, named by their index in this request
            coordinates = [points[i] for i in rows] + [points[j] for j in cols]
            sources = ";".join(str(k) for k in range(len(rows)))
            destinations = ";".join(str(len(rows) + k) for k in range(len(cols)))
            query = f"sources={sources}&destinations={destinations}&{query}"
        path = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in coordinates)
        endpoint = f"{self.base_url}/table/v1/{self.profile}"
        where = f"{endpoint} (points {_span(rows)} to {_span(cols)})"
        answer = self._get(f"{endpoint}/{path}?{query}", where)
        return (
            _grid(answer, "durations", len(rows), len(cols), where),
            _grid(answer, "distances", len(rows), len(cols), where),
        )

    def _get(self, url: str, where: str) -> dict[str, Any]:
        """OSRM's JSON answer to one GET; OsrmError for anything but ``code`` ``Ok``."""
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "frontwms-routing"}
        )
        try:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as refusal:  # OSRM answers its errors with HTTP 400
                with refusal:
                    status, body = refusal.code, refusal.read()
        except TimeoutError:
            raise OsrmError(f"{where} did not answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise OsrmError(f"{where} did not answer within {self.timeout_s:g} s") from None
            raise OsrmError(f"cannot reach {where}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise OsrmError(f"lost the connection to {where}: {error!r}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("code"), str):
            raise OsrmError(f"{where} answered HTTP {status}, not an OSRM JSON answer")
        code = answer["code"]
        if code != "Ok":
            message = answer.get("message")
            detail = f"{code}: {message}" if isinstance(message, str) and message else code
            hint = ""
            if code == "TooBig":
                hint = f"; lower max_points ({self.max_points}) to the server's --max-table-size"
            raise OsrmError(f"{where} refused the request: {detail}{hint}", code=code)
        if status != 200:
            raise OsrmError(f"{where} answered HTTP {status} with code Ok")
        return answer


def _filled(grid: list[list[float | None]]) -> tuple[tuple[float, ...], ...]:
    """The table once every null is filled."""
    rows = []
    for row in grid:
        cells = []
        for value in row:
            assert value is not None, "a null left in the table"
            cells.append(value)
        rows.append(tuple(cells))
    return tuple(rows)


def _span(indexes: range) -> str:
    return f"{indexes.start}-{indexes.stop - 1}"


def _grid(
    answer: Mapping[str, Any], key: str, rows: int, cols: int, where: str
) -> list[list[float | None]]:
    """The ``rows`` by ``cols`` table under ``key``: numbers, or None where OSRM found no route."""
    grid = answer.get(key)
    if (
        not isinstance(grid, list)
        or len(grid) != rows
        or any(not isinstance(row, list) or len(row) != cols for row in grid)
    ):
        raise OsrmError(f"{where} answered no {rows}x{cols} table of {key}")
    table: list[list[float | None]] = []
    for row in grid:
        cells: list[float | None] = []
        for value in row:
            if value is None:
                cells.append(None)
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= 0)
            ):
                raise OsrmError(f"{where} answered {key} holding {value!r}")
            else:
                cells.append(float(value))
        table.append(cells)
    return table


def _no_route(missing: Sequence[tuple[int, int]]) -> MatrixError:
    """The error for unroutable pairs, naming the point in most of them (an island, a typo)."""
    counts: dict[int, int] = {}
    for i, j in missing:
        counts[i] = counts.get(i, 0) + 1
        counts[j] = counts.get(j, 0) + 1
    culprit = min(counts, key=lambda p: (-counts[p], p))
    involved = [(i, j) for i, j in missing if culprit in (i, j)]
    i, j = involved[0]
    return MatrixError(
        f"point {culprit}",
        f"OSRM finds no road route for {len(involved)} pair(s) with this point (e.g. point {i} "
        f"to point {j}), {len(missing)} pair(s) in all; check its coordinates, or configure a "
        "fallback",
    )


# --- from settings --------------------------------------------------------------------------

#: Every ``MATRIX_*`` setting ``provider_from_config`` reads, and its default.
CONFIG_DEFAULTS: Mapping[str, object] = {
    "MATRIX_PROVIDER": "haversine",
    "MATRIX_SPEED_KMH": 20.0,
    "MATRIX_CIRCUITY": 1.3,
    "MATRIX_STOP_OVERHEAD_S": 0.0,
    "MATRIX_OSRM_URL": None,
    "MATRIX_OSRM_PROFILE": "driving",
    "MATRIX_OSRM_TIMEOUT_S": 10.0,
    "MATRIX_OSRM_MAX_POINTS": 100,
    "MATRIX_OSRM_FALLBACK": "none",
}

# A provider's parameter → the setting it comes from, so errors name the setting.
_KEYS = {
    "speed_kmh": "MATRIX_SPEED_KMH",
    "circuity": "MATRIX_CIRCUITY",
    "stop_overhead_s": "MATRIX_STOP_OVERHEAD_S",
    "base_url": "MATRIX_OSRM_URL",
    "profile": "MATRIX_OSRM_PROFILE",
    "timeout_s": "MATRIX_OSRM_TIMEOUT_S",
    "max_points": "MATRIX_OSRM_MAX_POINTS",
}


def provider_from_config(settings: Mapping[str, object]) -> MatrixProvider:
    """The provider the ``MATRIX_*`` settings describe (other keys are ignored).

    ``MATRIX_PROVIDER``: ``haversine`` (the default) with ``MATRIX_SPEED_KMH`` (20),
    ``MATRIX_CIRCUITY`` (1.3) and ``MATRIX_STOP_OVERHEAD_S`` (0); or ``osrm`` with
    ``MATRIX_OSRM_URL`` (required), ``MATRIX_OSRM_PROFILE`` (``driving``),
    ``MATRIX_OSRM_TIMEOUT_S`` (10), ``MATRIX_OSRM_MAX_POINTS`` (100) and
    ``MATRIX_OSRM_FALLBACK`` (``none``, or ``haversine`` built from the settings above).
    Numbers may be given as text (environment variables). A missing or empty value takes the
    default. MatrixError names the setting: an unknown provider, a missing URL, a value out of
    range, or an unknown ``MATRIX_*`` key (a typo would otherwise be silently ignored).
    """
    unknown = sorted(
        key
        for key in settings
        if isinstance(key, str) and key.startswith("MATRIX_") and key not in CONFIG_DEFAULTS
    )
    if unknown:
        raise MatrixError(unknown[0], f"unknown setting; known: {', '.join(CONFIG_DEFAULTS)}")
    kind = _choice(settings, "MATRIX_PROVIDER", PROVIDERS)
    try:
        haversine = HaversineProvider(
            speed_kmh=_number(settings, "MATRIX_SPEED_KMH"),
            circuity=_number(settings, "MATRIX_CIRCUITY"),
            stop_overhead_s=_number(settings, "MATRIX_STOP_OVERHEAD_S"),
        )
        if kind == "haversine":
            return haversine
        url = _text(settings, "MATRIX_OSRM_URL")
        if url is None:
            raise MatrixError("MATRIX_OSRM_URL", "is needed when MATRIX_PROVIDER is osrm")
        fallback = _choice(settings, "MATRIX_OSRM_FALLBACK", ("none", "haversine"))
        return OsrmProvider(
            base_url=url,
            profile=_text(settings, "MATRIX_OSRM_PROFILE") or "driving",
            timeout_s=_number(settings, "MATRIX_OSRM_TIMEOUT_S"),
            max_points=_whole(settings, "MATRIX_OSRM_MAX_POINTS"),
            fallback=haversine if fallback == "haversine" else None,
        )
    except MatrixError as error:
        if error.field in _KEYS:
            raise MatrixError(_KEYS[error.field], error.message) from None
        raise


def _value(settings: Mapping[str, object], key: str) -> object:
    value = settings.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return CONFIG_DEFAULTS[key]
    return value.strip() if isinstance(value, str) else value


def _text(settings: Mapping[str, object], key: str) -> str | None:
    value = _value(settings, key)
    if value is not None and not isinstance(value, str):
        raise MatrixError(key, f"must be text, got {value!r}")
    return value


def _choice(settings: Mapping[str, object], key: str, choices: Sequence[str]) -> str:
    value = _text(settings, key)
    if value is None or value.lower() not in choices:
        raise MatrixError(key, f"must be one of {', '.join(choices)}; got {value!r}")
    return value.lower()


def _number(settings: Mapping[str, object], key: str) -> float:
    value = _value(settings, key)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise MatrixError(key, f"must be a number, got {value!r}") from None
    return _real(key, value)


def _whole(settings: Mapping[str, object], key: str) -> int:
    value = _value(settings, key)
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MatrixError(key, f"must be a whole number, got {value!r}")
    return value
