"""An offline map of delivery routes, drawn on the server as inline SVG.

No tile server and no JavaScript: the site (the depot, a square), each route's stops (circles
numbered in driving order, filled by the stop's status, ringed in the route's colour) and its
legs in order (one path per route, out from the depot through the stops; the way back to the
depot dashed) on a plain background with a scale bar and a legend. Coordinates are projected
around the depot (equirectangular: exact enough for a city's few kilometres), keeping the
aspect, so a kilometre east is as long as a kilometre north.

The map is an image to assistive technology (``role="img"``, an ``aria-label`` and a
``<title>``) whose ``<desc>`` lists every route's stops in order with their status, so the
picture is there in words too; each stop and route has its own ``<title>`` (a tooltip). Every
text is escaped. Status is never told by colour alone: the legend names each fill, and the
tooltips and the description say it.

Markup hooks for pages and tests: ``class="route-map"`` on the ``<svg>``, ``map-depot``,
``map-route`` (``data-route``), ``map-return``, ``map-stop`` (``data-stop``, ``data-status``),
``map-vehicle``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from wms.models import Route, Site

#: Route colours in turn (Okabe-Ito, which colour-blind readers can tell apart); after the
#: last, they come round again with a dashed line.
ROUTE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#1b1f24")
#: A stop's fill and the colour of its number, by status.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "planned": ("#ffffff", "#1b1f24"),
    "dispatched": ("#d1e9ff", "#1b1f24"),
    "en_route": ("#175cd3", "#ffffff"),
    "arrived": ("#fec84b", "#1b1f24"),
    "delivered": ("#067647", "#ffffff"),
    "failed": ("#b42318", "#ffffff"),
    "skipped": ("#d0d5dd", "#1b1f24"),
}
_UNKNOWN_STATUS = ("#ffffff", "#1b1f24")

_KM_PER_DEGREE_LAT = 110.574
_KM_PER_DEGREE_LON = 111.320
_MIN_SPAN_KM = 0.6  # a map of one street still shows some of the town around it
_PAD = 22.0
_STOP_R = 9.0
_LEGEND_W = 200.0
_LINE_H = 18.0
_MIN_HEIGHT = 200.0


@dataclass(frozen=True, slots=True)
class MapStop:
    """One stop as the map draws it."""

    id: int
    sequence: int
    latitude: float
    longitude: float
    status: str
    label: str  # what its tooltip names: the order number and the customer


@dataclass(frozen=True, slots=True)
class MapRoute:
    """One route as the map draws it: its stops in driving order."""

    id: int
    number: str
    status: str
    stops: tuple[MapStop, ...]
    #: The driver's last known position, for a route under way.
    vehicle: tuple[float, float] | None = None


def map_route(route: Route) -> MapRoute:
    """A loaded route (its stops, their orders and its driver) as the map draws it."""
    stops = tuple(
        MapStop(
            id=stop.id,
            sequence=stop.sequence,
            latitude=stop.latitude,
            longitude=stop.longitude,
            status=stop.status.value,
            label=" ".join(p for p in (stop.order.number if stop.order else "", stop.name) if p),
        )
        for stop in sorted(route.stops, key=lambda s: s.sequence)
    )
    vehicle = None
    driver = route.driver
    if (
        route.status.value == "in_progress"
        and driver is not None
        and driver.last_latitude is not None
        and driver.last_longitude is not None
    ):
        vehicle = (driver.last_latitude, driver.last_longitude)
    return MapRoute(route.id, route.number, route.status.value, stops, vehicle)


def route_colour(index: int) -> str:
    """The colour of the ``index``-th route of a map (the tables beside it use it too)."""
    return ROUTE_COLOURS[index % len(ROUTE_COLOURS)]


def _coord(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_km(span_km: float) -> float:
    """A round length for the scale bar, about a quarter of the map's width."""
    target = max(span_km / 4, 0.05)
    magnitude = 10 ** math.floor(math.log10(target))
    for step in (5, 2, 1):
        if step * magnitude <= target:
            return step * magnitude
    return magnitude


def _km_words(km: float) -> str:
    return f"{km * 1000:.0f} m" if km < 1 else f"{km:g} km"


class _Projection:
    """Kilometres from the depot, scaled into the map's drawing area."""

    def __init__(
        self, depot: tuple[float, float], points: list[tuple[float, float]], w: float, h: float
    ) -> None:
        self.lat0, self.lon0 = depot
        self.cos0 = math.cos(math.radians(self.lat0))
        kms = [self._km(p) for p in [depot, *points]]
        xs, ys = [k[0] for k in kms], [k[1] for k in kms]
        self.min_x, self.max_x = min(xs), max(xs)
        self.min_y, self.max_y = min(ys), max(ys)
        span_x = max(self.max_x - self.min_x, _MIN_SPAN_KM)
        span_y = max(self.max_y - self.min_y, _MIN_SPAN_KM)
        self.spans = (span_x, span_y)
        self.scale = min((w - 2 * _PAD) / span_x, (h - 2 * _PAD) / span_y)  # px per km
        # Centre the drawing in the area whatever the aspect.
        self.off_x = (w - (self.max_x - self.min_x) * self.scale) / 2
        self.off_y = (h - (self.max_y - self.min_y) * self.scale) / 2
        self.span_km = (w - 2 * _PAD) / self.scale

    def _km(self, point: tuple[float, float]) -> tuple[float, float]:
        lat, lon = point
        return (
            (lon - self.lon0) * _KM_PER_DEGREE_LON * self.cos0,
            (lat - self.lat0) * _KM_PER_DEGREE_LAT,
        )

    def xy(self, point: tuple[float, float]) -> tuple[float, float]:
        x, y = self._km(point)
        return (
            self.off_x + (x - self.min_x) * self.scale,
            self.off_y + (self.max_y - y) * self.scale,  # north is up
        )


def _spread(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Move markers that would sit on one another round a small circle, so each is seen."""
    placed: list[tuple[float, float]] = []
    for x, y in points:
        nx, ny, turn = x, y, 0
        apart = 2 * _STOP_R - 1  # circles may touch, not hide one another
        while any(math.hypot(nx - px, ny - py) < apart for px, py in placed) and turn < 60:
            turn += 1
            angle = turn * 2.4  # the golden angle, near enough: no two land on one spot
            radius = apart * (1 + turn / 8)
            nx, ny = x + radius * math.cos(angle), y + radius * math.sin(angle)
        placed.append((nx, ny))
    return placed


def route_map(
    site: Site | tuple[float, float, str],
    routes: Sequence[MapRoute],
    *,
    title: str,
    width: int = 720,
    height: int = 420,
) -> Markup:
    """The site, the routes' stops and legs in order, a scale bar and a legend, as SVG.

    ``site`` is a :class:`Site` or ``(latitude, longitude, code)``. Routes are coloured in the
    order given (:func:`route_colour`). ``height`` is the most the map takes; it is shorter
    when the stops spread more east-west than north-south.
    """
    if width < 2 * _LEGEND_W or height < 160:
        raise ValueError(f"a route map needs at least {2 * _LEGEND_W:.0f} x 160 px")
    if isinstance(site, Site):
        depot, code = (site.latitude, site.longitude), site.code
    else:
        depot, code = (site[0], site[1]), site[2]
    map_w = width - _LEGEND_W
    points = [(s.latitude, s.longitude) for r in routes for s in r.stops]
    points += [r.vehicle for r in routes if r.vehicle is not None]
    # As tall as the drawing needs (a route along one street needs little), up to ``height``,
    # and never shorter than the legend.
    spans = _Projection(depot, points, map_w, height).spans
    natural = (map_w - 2 * _PAD) * spans[1] / spans[0] + 2 * _PAD
    height = int(max(min(natural, height), _MIN_HEIGHT, _legend_height(routes)))
    projection = _Projection(depot, points, map_w, height)
    depot_xy = projection.xy(depot)

    stops_total = sum(len(r.stops) for r in routes)
    label = f"{title}: {len(routes)} route(s), {stops_total} stop(s) from {code}"
    desc = "; ".join(
        f"{r.number} ({r.status.replace('_', ' ')}): "
        + (
            ", ".join(
                f"{s.sequence}. {s.label or 'stop'} ({s.status.replace('_', ' ')})" for s in r.stops
            )
            or "no stops"
        )
        for r in routes
    )
    parts: list[Markup] = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" class="route-map" role="img" width="{w}" '
            'height="{h}" viewBox="0 0 {w} {h}" aria-label="{label}" '
            'font-family="system-ui, sans-serif">'
        ).format(w=width, h=height, label=label),
        Markup("<title>{}</title>").format(label),
        Markup("<desc>{}</desc>").format(desc or "no routes"),
        Markup(
            '<rect class="map-ground" x="0" y="0" width="{w}" height="{h}" fill="#f2f5f8" '
            'stroke="#d9dee5"/>'
        ).format(w=_coord(map_w), h=height),
    ]

    # Every stop's place on the drawing first (spread where they coincide), then the legs
    # through those places and the markers over them.
    stop_xy = [projection.xy((s.latitude, s.longitude)) for r in routes for s in r.stops]
    all_xy = _spread([depot_xy, *stop_xy])[1:]
    places: list[list[tuple[float, float]]] = []
    at = 0
    for route in routes:
        places.append(all_xy[at : at + len(route.stops)])
        at += len(route.stops)

    for index, (route, xy) in enumerate(zip(routes, places, strict=True)):
        if not xy:
            continue
        colour = route_colour(index)
        dash = "" if index < len(ROUTE_COLOURS) else ' stroke-dasharray="8 3"'
        out = " ".join(
            f"{'M' if i == 0 else 'L'}{_coord(x)},{_coord(y)}"
            for i, (x, y) in enumerate([depot_xy, *xy])
        )
        order = " → ".join([code, *(str(s.sequence) for s in route.stops)])
        parts.append(
            Markup(
                '<path class="map-route" data-route="{id}" d="{d}" fill="none" stroke="{c}" '
                'stroke-width="3" stroke-linejoin="round" stroke-linecap="round"{dash}>'
                "<title>{number}: {order}</title></path>"
            ).format(id=route.id, d=out, c=colour, dash=dash, number=route.number, order=order)
        )
        back_x, back_y = xy[-1]
        parts.append(
            Markup(
                '<path class="map-return" d="M{x1},{y1} L{x2},{y2}" fill="none" stroke="{c}" '
                'stroke-width="1.5" stroke-dasharray="3 4" opacity="0.8">'
                "<title>{number}: back to {code}</title></path>"
            ).format(
                x1=_coord(back_x),
                y1=_coord(back_y),
                x2=_coord(depot_xy[0]),
                y2=_coord(depot_xy[1]),
                c=colour,
                number=route.number,
                code=code,
            )
        )

    dx, dy = depot_xy
    parts.append(
        Markup(
            '<g class="map-depot"><rect x="{x}" y="{y}" width="16" height="16" fill="#102a43" '
            'stroke="#ffffff" stroke-width="2"/><title>{code}: the front warehouse (depot)</title>'
            '</g><text x="{tx}" y="{ty}" font-size="11" font-weight="bold" fill="#102a43">'
            "{code}</text>"
        ).format(
            x=_coord(dx - 8), y=_coord(dy - 8), tx=_coord(dx + 11), ty=_coord(dy - 9), code=code
        )
    )

    for index, (route, xy) in enumerate(zip(routes, places, strict=True)):
        colour = route_colour(index)
        for stop, (x, y) in zip(route.stops, xy, strict=True):
            fill, ink = STATUS_COLOURS.get(stop.status, _UNKNOWN_STATUS)
            parts.append(
                Markup(
                    '<g class="map-stop" data-stop="{id}" data-status="{status}">'
                    '<circle cx="{x}" cy="{y}" r="{r}" fill="{fill}" stroke="{c}" '
                    'stroke-width="2.5"/>'
                    '<text x="{x}" y="{ty}" font-size="10" font-weight="bold" '
                    'text-anchor="middle" fill="{ink}">{seq}</text>'
                    "<title>{number} stop {seq}: {label} ({words})</title></g>"
                ).format(
                    id=stop.id,
                    status=stop.status,
                    x=_coord(x),
                    y=_coord(y),
                    r=_coord(_STOP_R),
                    fill=fill,
                    c=colour,
                    ty=_coord(y + 3.5),
                    ink=ink,
                    seq=stop.sequence,
                    number=route.number,
                    label=stop.label or "stop",
                    words=stop.status.replace("_", " "),
                )
            )
        if route.vehicle is not None:
            vx, vy = projection.xy(route.vehicle)
            parts.append(
                Markup(
                    '<g class="map-vehicle"><path d="M{x},{top} L{right},{bottom} L{left},{bottom} '
                    'Z" fill="{c}" stroke="#ffffff" stroke-width="1.5"/>'
                    "<title>{number}: the driver's last position</title></g>"
                ).format(
                    x=_coord(vx),
                    top=_coord(vy - 9),
                    right=_coord(vx + 8),
                    bottom=_coord(vy + 6),
                    left=_coord(vx - 8),
                    c=colour,
                    number=route.number,
                )
            )

    parts += _scale_bar(projection, height)
    parts += _legend(routes, map_w, code)
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _scale_bar(projection: _Projection, height: int) -> list[Markup]:
    km = _nice_km(projection.span_km)
    length = km * projection.scale
    x, y = _PAD, height - 10.0
    return [
        Markup(
            '<g class="map-scale" fill="#1b1f24" font-size="10">'
            '<path d="M{x},{y1} L{x},{y} L{x2},{y} L{x2},{y1}" fill="none" stroke="#1b1f24" '
            'stroke-width="1.5"/><text x="{tx}" y="{ty}">{words}</text></g>'
        ).format(
            x=_coord(x),
            y=_coord(y),
            y1=_coord(y - 5),
            x2=_coord(x + length),
            tx=_coord(x + length + 5),
            ty=_coord(y),
            words=_km_words(km),
        )
    ]


def _statuses(routes: Sequence[MapRoute]) -> list[str]:
    """The stop statuses on the map, in lifecycle order (the legend names each)."""
    return [s for s in STATUS_COLOURS if any(st.status == s for r in routes for st in r.stops)]


def _legend_height(routes: Sequence[MapRoute]) -> float:
    lines = 3 + len(routes) + len(_statuses(routes))
    lines += any(r.vehicle is not None for r in routes)
    return 20.0 + lines * _LINE_H


def _legend(routes: Sequence[MapRoute], left: float, code: str) -> list[Markup]:
    x = left + 12
    y = 20.0
    parts = [
        Markup('<g class="map-legend" font-size="11" fill="#1b1f24">'),
        Markup('<text x="{x}" y="{y}" font-weight="bold">Legend</text>').format(
            x=_coord(x), y=_coord(y)
        ),
    ]
    y += _LINE_H
    parts.append(
        Markup(
            '<rect x="{x}" y="{ry}" width="12" height="12" fill="#102a43"/>'
            '<text x="{tx}" y="{y}">{code} (depot)</text>'
        ).format(x=_coord(x), ry=_coord(y - 10), tx=_coord(x + 20), y=_coord(y), code=code)
    )
    for index, route in enumerate(routes):
        y += _LINE_H
        dash = "" if index < len(ROUTE_COLOURS) else ' stroke-dasharray="6 2"'
        parts.append(
            Markup(
                '<path d="M{x},{ly} L{x2},{ly}" stroke="{c}" stroke-width="3"{dash}/>'
                '<text x="{tx}" y="{y}">{number} ({n})</text>'
            ).format(
                x=_coord(x),
                x2=_coord(x + 14),
                ly=_coord(y - 4),
                c=route_colour(index),
                dash=dash,
                tx=_coord(x + 20),
                y=_coord(y),
                number=route.number,
                n=f"{len(route.stops)} stop{'s' if len(route.stops) != 1 else ''}",
            )
        )
    for status in _statuses(routes):
        y += _LINE_H
        fill, _ = STATUS_COLOURS[status]
        parts.append(
            Markup(
                '<circle cx="{cx}" cy="{cy}" r="6" fill="{fill}" stroke="#1b1f24" '
                'stroke-width="1"/><text x="{tx}" y="{y}">stop {words}</text>'
            ).format(
                cx=_coord(x + 7),
                cy=_coord(y - 4),
                fill=fill,
                tx=_coord(x + 20),
                y=_coord(y),
                words=status.replace("_", " "),
            )
        )
    if any(r.vehicle is not None for r in routes):
        y += _LINE_H
        parts.append(
            Markup(
                '<path d="M{x},{top} L{r},{b} L{x1},{b} Z" fill="#1b1f24"/>'
                '<text x="{tx}" y="{y}">driver (last position)</text>'
            ).format(
                x=_coord(x + 7),
                top=_coord(y - 11),
                r=_coord(x + 13),
                b=_coord(y),
                x1=_coord(x + 1),
                tx=_coord(x + 20),
                y=_coord(y),
            )
        )
    y += _LINE_H
    parts.append(
        Markup(
            '<path d="M{x},{ly} L{x2},{ly}" stroke="#1b1f24" stroke-width="1.5" '
            'stroke-dasharray="3 4"/><text x="{tx}" y="{y}">back to the depot</text>'
        ).format(x=_coord(x), x2=_coord(x + 14), ly=_coord(y - 4), tx=_coord(x + 20), y=_coord(y))
    )
    parts.append(Markup("</g>"))
    return parts
