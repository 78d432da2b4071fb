"""A stand-in for an OSRM server's Table service on 127.0.0.1, for tests (no OSRM needed).

It answers ``GET /table/v1/{profile}/{lon},{lat};...[.json]?sources=&destinations=
&annotations=`` as OSRM's HTTP API documents it (docs/http.md of osrm-backend): coordinates
longitude first; ``sources`` and ``destinations`` as ``all`` (the default) or ``;``-separated
indexes into the coordinates; ``annotations`` ``duration`` (the default), ``distance`` or both;
rows of each table are the sources in order, columns the destinations; ``null`` where no route
exists; errors as HTTP 400 with ``{"code": ..., "message": ...}``; ``TooBig`` when sources times
destinations exceed ``max_table_size`` squared, as osrm-routed's ``--max-table-size`` does.

Its figures are checkable: the distance is the great circle times ``circuity`` plus
``northbound_extra_m`` on legs heading north (so the table is asymmetric and a transposed or
misplaced block shows), and the duration is the distance at ``speed_kmh``. It can be told to
answer an error code (``error``), ``null`` for every pair with one end on an ``island``,
arbitrary bytes (``raw``), or to hold its answer for ``delay_s`` (a hung server).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

EARTH_RADIUS_M = 6_371_008.8


def great_circle_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (lat, lon) points; written apart from routing.matrix on purpose."""
    phi1, phi2 = math.radians(a[0]), math.radians(b[0])
    dphi, dlam = phi2 - phi1, math.radians(b[1] - a[1])
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.atan2(math.sqrt(h), math.sqrt(1 - h))


@dataclass(frozen=True)
class TableRequest:
    """One table request as the fake parsed it; ``points`` are (lat, lon) like the provider's."""

    profile: str
    points: tuple[tuple[float, float], ...]
    sources: tuple[int, ...]
    destinations: tuple[int, ...]
    annotations: tuple[str, ...]
    query: dict[str, str]


class _Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class OsrmFake:
    """The fake server; ``with OsrmFake() as fake: ... fake.url ...`` runs it in a thread."""

    def __init__(
        self,
        *,
        circuity: float = 1.0,
        speed_kmh: float = 36.0,
        northbound_extra_m: float = 0.0,
        max_table_size: int = 100,
    ) -> None:
        self.circuity = circuity
        self.speed_kmh = speed_kmh
        self.northbound_extra_m = northbound_extra_m
        self.max_table_size = max_table_size
        self.error: tuple[str, str] | None = None  # (code, message) to answer with HTTP 400
        self.raw: tuple[int, bytes] | None = None  # (status, body) to answer verbatim
        self.islands: set[tuple[float, float]] = set()  # (lat, lon): no route to or from
        self.delay_s = 0.0
        self.requests: list[TableRequest] = []
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to give the provider (``http://127.0.0.1:PORT``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OsrmFake:
        # A short poll keeps stop() quick (shutdown waits for the loop to look).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the port (a later request is refused)."""
        self._release.set()  # a held answer goes now
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OsrmFake:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the answer -----------------------------------------------------------------------

    def leg(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        """(metres, seconds) the fake answers from a to b, both (lat, lon)."""
        metres = great_circle_m(a, b) * self.circuity
        if b[0] > a[0]:
            metres += self.northbound_extra_m
        return metres, metres / (self.speed_kmh / 3.6)

    def answer(self, path: str) -> tuple[int, dict[str, object]]:
        """The HTTP status and JSON body for a request path (with its query)."""
        try:
            request = self._parse(path)
        except _Refusal as refusal:
            return 400, {"code": refusal.code, "message": refusal.message}
        self.requests.append(request)
        if self.error is not None:
            return 400, {"code": self.error[0], "message": self.error[1]}
        if len(request.sources) * len(request.destinations) > self.max_table_size**2:
            return 400, {"code": "TooBig", "message": "Too many table coordinates"}
        durations: list[list[float | None]] = []
        distances: list[list[float | None]] = []
        for s in request.sources:
            duration_row: list[float | None] = []
            distance_row: list[float | None] = []
            for d in request.destinations:
                a, b = request.points[s], request.points[d]
                if s != d and (self._on_island(a) != self._on_island(b)):
                    duration_row.append(None)
                    distance_row.append(None)
                    continue
                metres, seconds = self.leg(a, b)
                duration_row.append(round(seconds, 1))  # OSRM gives 0.1 s and 0.1 m
                distance_row.append(round(metres, 1))
            durations.append(duration_row)
            distances.append(distance_row)
        body: dict[str, object] = {
            "code": "Ok",
            "sources": [_waypoint(request.points[s]) for s in request.sources],
            "destinations": [_waypoint(request.points[d]) for d in request.destinations],
        }
        if "duration" in request.annotations:
            body["durations"] = durations
        if "distance" in request.annotations:
            body["distances"] = distances
        return 200, body

    def _on_island(self, point: tuple[float, float]) -> bool:
        return any(
            abs(point[0] - lat) < 1e-6 and abs(point[1] - lon) < 1e-6 for lat, lon in self.islands
        )

    def _parse(self, path: str) -> TableRequest:
        parts = urlsplit(path)
        segments = parts.path.split("/")
        if len(segments) != 5 or segments[0] != "":
            raise _Refusal("InvalidUrl", f"URL string malformed: {parts.path}")
        _, service, version, profile, coordinates = segments
        if service != "table":
            raise _Refusal("InvalidService", f"Service {service} not found!")
        if version != "v1":
            raise _Refusal("InvalidVersion", f"Service {service} not found!")
        coordinates = coordinates.removesuffix(".json")
        points = []
        for pair in coordinates.split(";"):
            try:
                lon_text, lat_text = pair.split(",")
                lon, lat = float(lon_text), float(lat_text)
            except ValueError:
                raise _Refusal("InvalidUrl", f"URL string malformed close to {pair!r}") from None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise _Refusal("InvalidValue", "Invalid coordinate value.")
            points.append((lat, lon))
        try:
            query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            raise _Refusal("InvalidQuery", "Query string malformed") from None
        for key in query:
            if key not in {"sources", "destinations", "annotations"}:
                raise _Refusal("InvalidQuery", f"Query string malformed: unknown option {key}")
        sources = self._indexes(query.get("sources", "all"), len(points))
        destinations = self._indexes(query.get("destinations", "all"), len(points))
        annotations = tuple(query.get("annotations", "duration").split(","))
        if not set(annotations) <= {"duration", "distance"}:
            raise _Refusal("InvalidOptions", f"Invalid annotations {query['annotations']!r}")
        return TableRequest(profile, tuple(points), sources, destinations, annotations, query)

    @staticmethod
    def _indexes(text: str, size: int) -> tuple[int, ...]:
        if text == "all":
            return tuple(range(size))
        try:
            indexes = tuple(int(part) for part in text.split(";"))
        except ValueError:
            raise _Refusal("InvalidQuery", f"Query string malformed: {text!r}") from None
        if any(not 0 <= k < size for k in indexes):
            raise _Refusal("InvalidOptions", "Index out of range")
        return indexes


def _waypoint(point: tuple[float, float]) -> dict[str, object]:
    return {"hint": "", "distance": 0.0, "name": "", "location": [point[1], point[0]]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: OsrmFake

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client gave up on a held answer (a broken pipe is the point)."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        fake = self.server.fake
        if fake.delay_s:
            fake._release.wait(fake.delay_s)
        if fake.raw is not None:
            status, body = fake.raw
        else:
            status, answer = fake.answer(self.path)
            body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the base's names
        """No access log on stderr; ``OsrmFake.requests`` is the log."""
