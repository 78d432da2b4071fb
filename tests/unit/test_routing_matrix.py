"""Travel-time matrices (routing.matrix): the great circle bent by a circuity factor, OSRM's
Table service against a local fake that follows its documented API, and the settings.

The fake (tests/unit/osrm_fake.py) computes its own great-circle figures, apart from
``routing.matrix``, and adds a toll on northbound legs, so a swapped (lon, lat) order, a
transposed table or a misplaced block all show as wrong numbers.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator

import pytest

from routing.matrix import (
    EARTH_RADIUS_M,
    HaversineProvider,
    Matrix,
    MatrixError,
    MatrixProvider,
    OsrmError,
    OsrmProvider,
    haversine_m,
    provider_from_config,
)
from routing.vrp import Depot, Job, Problem, Vehicle, validate
from tests.unit.osrm_fake import OsrmFake

CENTRAAL = (52.3791, 4.9003)  # Amsterdam Centraal, (lat, lon)
DAM = (52.3731, 4.8926)  # Dam square
MUSEUMPLEIN = (52.3579, 4.8817)
AMSTEL = (52.3467, 4.9177)
POINTS = [CENTRAAL, DAM, MUSEUMPLEIN, AMSTEL]
OSRM_AT_X = {"MATRIX_PROVIDER": "osrm", "MATRIX_OSRM_URL": "http://x"}
ROUNDING = 0.051  # the fake answers in 0.1 m and 0.1 s, as OSRM does


def city_points(count: int, seed: int = 7) -> list[tuple[float, float]]:
    """Points scattered over ~10 km around Amsterdam, rounded as OSRM's URL will carry them."""
    rng = random.Random(seed)
    return [
        (round(52.30 + rng.random() * 0.1, 6), round(4.80 + rng.random() * 0.15, 6))
        for _ in range(count)
    ]


@pytest.fixture
def osrm(monkeypatch: pytest.MonkeyPatch) -> Iterator[OsrmFake]:
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # urllib must not route the fake via a proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with OsrmFake(northbound_extra_m=100.0) as fake:
        yield fake


def expected_table(fake: OsrmFake, points: list[tuple[float, float]]) -> Matrix:
    """The matrix the fake's rules give, computed here without any HTTP."""
    size = len(points)
    legs = [[fake.leg(a, b) if i != j else (0.0, 0.0) for j, b in enumerate(points)]
            for i, a in enumerate(points)]  # fmt: skip
    return Matrix(
        tuple(tuple(leg[0] for leg in row) for row in legs),
        tuple(tuple(leg[1] for leg in row) for row in legs),
        f"fake {size}",
    )


def assert_close(got: Matrix, want: Matrix, tol: float = ROUNDING) -> None:
    for name in ("distances_m", "durations_s"):
        for i, (row_got, row_want) in enumerate(
            zip(getattr(got, name), getattr(want, name), strict=True)
        ):
            for j, (a, b) in enumerate(zip(row_got, row_want, strict=True)):
                assert a == pytest.approx(b, abs=tol), f"{name}[{i}][{j}]"


# --- the great circle -----------------------------------------------------------------------


def test_one_degree_along_a_meridian_is_111_2_km():
    degree = math.pi * EARTH_RADIUS_M / 180  # 111 195 m
    assert haversine_m((0.0, 0.0), (1.0, 0.0)) == pytest.approx(degree, rel=1e-12)
    assert haversine_m((52.0, 4.9), (53.0, 4.9)) == pytest.approx(degree, rel=1e-12)
    assert haversine_m((0.0, 179.5), (0.0, -179.5)) == pytest.approx(degree, rel=1e-12)


def test_centraal_to_dam_is_0_85_km_straight_and_1_3_times_that_by_road():
    # An equirectangular projection is exact enough over a kilometre to check against.
    mean_lat = math.radians((CENTRAAL[0] + DAM[0]) / 2)
    dx = math.radians(DAM[1] - CENTRAAL[1]) * math.cos(mean_lat) * EARTH_RADIUS_M
    dy = math.radians(DAM[0] - CENTRAAL[0]) * EARTH_RADIUS_M
    straight = haversine_m(CENTRAAL, DAM)
    assert straight == pytest.approx(math.hypot(dx, dy), rel=1e-4)
    assert 800 < straight < 900

    matrix = HaversineProvider().matrix([CENTRAAL, DAM])
    assert matrix.source == "haversine"
    assert matrix.distances_m[0][1] == pytest.approx(straight * 1.3)
    assert matrix.durations_s[0][1] == pytest.approx(straight * 1.3 / (20 / 3.6))  # ~200 s


def test_a_haversine_matrix_is_symmetric_with_zero_diagonal_and_duration_at_the_speed():
    points = city_points(12)
    provider = HaversineProvider(speed_kmh=30.0, circuity=1.25)
    matrix = provider.matrix(points)
    assert matrix.size == 12
    for i in range(12):
        assert matrix.distances_m[i][i] == matrix.durations_s[i][i] == 0.0
        for j in range(12):
            assert matrix.distances_m[i][j] == matrix.distances_m[j][i]
            assert matrix.distances_m[i][j] == pytest.approx(
                haversine_m(points[i], points[j]) * 1.25
            )
            assert matrix.durations_s[i][j] == pytest.approx(matrix.distances_m[i][j] / (30 / 3.6))
            for k in range(12):  # the great circle keeps the triangle inequality
                assert matrix.distances_m[i][k] <= (
                    matrix.distances_m[i][j] + matrix.distances_m[j][k] + 1e-6
                )


def test_the_stop_overhead_is_paid_on_every_leg_between_two_places_only():
    matrix = HaversineProvider(stop_overhead_s=60).matrix([CENTRAAL, DAM, DAM])
    assert matrix.durations_s[0][1] == pytest.approx(matrix.distances_m[0][1] / (20 / 3.6) + 60)
    assert matrix.durations_s[1][2] == 0.0  # two orders at one address: no second stop
    assert matrix.distances_m[1][2] == 0.0


def test_no_points_give_an_empty_matrix():
    assert HaversineProvider().matrix([]) == Matrix((), (), "haversine")


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ((90.5, 4.9), "point 1 lat"),
        ((-91.0, 4.9), "point 1 lat"),
        ((52.3, 180.01), "point 1 lon"),
        ((52.3, -200.0), "point 1 lon"),
        ((math.nan, 4.9), "point 1 lat"),
        ((52.3, math.inf), "point 1 lon"),
        (("52.3", 4.9), "point 1 lat"),
        ((True, 4.9), "point 1 lat"),
        ((52.3, None), "point 1 lon"),
        ((52.3, 4.9, 0.0), "point 1"),
        (52.3, "point 1"),
    ],
)
def test_bad_coordinates_are_refused_naming_the_point_and_the_field(point, field):
    for provider in (HaversineProvider(), OsrmProvider("http://127.0.0.1:9")):
        with pytest.raises(MatrixError) as refused:
            provider.matrix([CENTRAAL, point, DAM])
        assert refused.value.field == field
        assert str(refused.value).startswith(f"{field}: ")


def test_the_ends_of_the_ranges_are_accepted():
    matrix = HaversineProvider().matrix([(90.0, 180.0), (-90.0, -180.0)])
    assert matrix.distances_m[0][1] == pytest.approx(math.pi * EARTH_RADIUS_M * 1.3)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"speed_kmh": 0}, "speed_kmh"),
        ({"speed_kmh": -20.0}, "speed_kmh"),
        ({"speed_kmh": math.nan}, "speed_kmh"),
        ({"speed_kmh": math.inf}, "speed_kmh"),
        ({"speed_kmh": "20"}, "speed_kmh"),
        ({"circuity": 0.9}, "circuity"),
        ({"circuity": math.nan}, "circuity"),
        ({"stop_overhead_s": -1}, "stop_overhead_s"),
    ],
)
def test_bad_haversine_parameters_are_refused_naming_them(options, field):
    with pytest.raises(MatrixError) as refused:
        HaversineProvider(**options)
    assert refused.value.field == field


def test_a_matrix_must_be_square_with_zero_diagonal_and_no_negative_entry():
    with pytest.raises(MatrixError, match="square"):
        Matrix(((0.0, 1.0),), ((0.0, 1.0),), "test")
    with pytest.raises(MatrixError, match=r"distances_m\[1\]\[1\]"):
        Matrix(((0.0, 1.0), (1.0, 2.0)), ((0.0, 1.0), (1.0, 0.0)), "test")
    with pytest.raises(MatrixError, match=r"durations_s\[0\]\[1\]"):
        Matrix(((0.0, 1.0), (1.0, 0.0)), ((0.0, -1.0), (1.0, 0.0)), "test")


def test_a_matrix_plugs_into_a_vehicle_routing_problem():
    matrix = HaversineProvider().matrix(POINTS)
    problem = Problem(
        depots=(Depot("fw-1", 0),),
        vehicles=(Vehicle("van-1", "fw-1"),),
        jobs=tuple(Job(f"J{k}", k) for k in range(1, len(POINTS))),
        distances=matrix.distances_m,
        durations=matrix.durations_s,
    )
    validate(problem)


# --- OSRM's Table service -------------------------------------------------------------------


def test_osrm_is_asked_for_lon_lat_with_durations_and_distances(osrm: OsrmFake):
    matrix = OsrmProvider(osrm.url).matrix(POINTS)

    (request,) = osrm.requests
    assert request.profile == "driving"
    assert request.query == {"annotations": "duration,distance"}  # sources, destinations: all
    assert request.points == tuple(POINTS)  # read back as (lat, lon)
    assert matrix.source == "osrm"
    assert matrix.estimated == ()
    assert_close(matrix, expected_table(osrm, POINTS))
    # Had the provider sent lat,lon the fake would have measured other points altogether.
    swapped = expected_table(osrm, [(lon, lat) for lat, lon in POINTS])
    gaps = [
        abs(a - b)
        for row, other in zip(matrix.distances_m, swapped.distances_m, strict=True)
        for a, b in zip(row, other, strict=True)
    ]
    assert max(gaps) > 300  # metres, against the 0.05 m the figures above agree to


def test_rows_are_sources_so_one_way_figures_stay_the_right_way_round(osrm: OsrmFake):
    matrix = OsrmProvider(osrm.url).matrix([AMSTEL, CENTRAAL])  # Centraal is north of Amstel
    assert matrix.distances_m[0][1] == pytest.approx(matrix.distances_m[1][0] + 100, abs=0.1)


def test_the_profile_is_the_one_configured(osrm: OsrmFake):
    OsrmProvider(osrm.url + "/", profile="bike").matrix(POINTS[:2])
    assert osrm.requests[0].profile == "bike"


@pytest.mark.parametrize(("count", "max_points"), [(23, 6), (23, 7), (10, 9), (5, 2)])
def test_blocks_over_max_points_stitch_the_same_matrix_as_one_request(count, max_points):
    points = city_points(count)
    with OsrmFake(northbound_extra_m=100.0, max_table_size=count) as fake:
        whole = OsrmProvider(fake.url, max_points=count).matrix(points)
        fake.max_table_size = max_points  # the server's --max-table-size
        fake.requests.clear()
        blocks = OsrmProvider(fake.url, max_points=max_points).matrix(points)
    assert blocks == whole
    assert_close(blocks, expected_table(fake, points))
    assert len(fake.requests) > 1
    assert all(len(request.points) <= max_points for request in fake.requests)
    assert any("sources" in request.query for request in fake.requests)


def test_too_many_points_for_the_server_surface_its_too_big_code(osrm: OsrmFake):
    osrm.max_table_size = 3
    with pytest.raises(OsrmError) as refused:
        OsrmProvider(osrm.url, max_points=10, fallback=HaversineProvider()).matrix(POINTS)
    assert refused.value.code == "TooBig"
    assert refused.value.field == "osrm"
    assert "TooBig: Too many table coordinates" in str(refused.value)
    assert "max_points (10)" in str(refused.value)  # what to change


@pytest.mark.parametrize("code", ["InvalidQuery", "InvalidValue", "InvalidOptions", "TooBig"])
def test_an_osrm_refusal_is_raised_with_its_code_even_with_a_fallback(osrm: OsrmFake, code):
    osrm.error = (code, "Query string malformed close to position 28")
    for fallback in (None, HaversineProvider()):
        with pytest.raises(OsrmError) as refused:
            OsrmProvider(osrm.url, fallback=fallback).matrix(POINTS)
        assert refused.value.code == code
        assert f"{code}: Query string malformed close to position 28" in str(refused.value)
        assert f"{osrm.url}/table/v1/driving" in str(refused.value)


def test_a_point_off_every_road_is_named_when_there_is_no_fallback(osrm: OsrmFake):
    osrm.islands.add(MUSEUMPLEIN)
    with pytest.raises(MatrixError) as refused:
        OsrmProvider(osrm.url).matrix(POINTS)
    assert refused.value.field == "point 2"
    assert "no road route for 6 pair(s)" in str(refused.value)
    assert "fallback" in str(refused.value)


@pytest.mark.parametrize("max_points", [100, 2, 3])
def test_unroutable_pairs_are_filled_from_the_fallback_and_listed(osrm: OsrmFake, max_points):
    osrm.islands.add(MUSEUMPLEIN)
    fallback = HaversineProvider(speed_kmh=15)
    matrix = OsrmProvider(osrm.url, max_points=max_points, fallback=fallback).matrix(POINTS)

    assert matrix.source == "osrm+haversine"
    assert set(matrix.estimated) == {(2, k) for k in (0, 1, 3)} | {(k, 2) for k in (0, 1, 3)}
    assert "6 pair(s)" in matrix.notes[0]
    spare, road = fallback.matrix(POINTS), expected_table(osrm, POINTS)
    for i in range(4):
        for j in range(4):
            want = spare if (i, j) in matrix.estimated else road
            assert matrix.distances_m[i][j] == pytest.approx(want.distances_m[i][j], abs=ROUNDING)
            assert matrix.durations_s[i][j] == pytest.approx(want.durations_s[i][j], abs=ROUNDING)


def test_a_server_that_is_down_is_a_clear_error_or_the_fallback():
    fake = OsrmFake().start()
    url = fake.url
    fake.stop()
    with pytest.raises(OsrmError) as refused:
        OsrmProvider(url, timeout_s=2).matrix(POINTS)
    assert refused.value.code is None
    assert str(refused.value).startswith(f"osrm: cannot reach {url}/table/v1/driving")

    matrix = OsrmProvider(url, timeout_s=2, fallback=HaversineProvider()).matrix(POINTS)
    assert matrix.source == "osrm+haversine"
    assert len(matrix.estimated) == 4 * 3  # every pair
    assert (matrix.distances_m, matrix.durations_s) == (
        HaversineProvider().matrix(POINTS).distances_m,
        HaversineProvider().matrix(POINTS).durations_s,
    )
    assert "cannot reach" in matrix.notes[0]


def test_a_server_that_hangs_times_out_with_a_clear_error_or_the_fallback(osrm: OsrmFake):
    osrm.delay_s = 10  # released when the fixture stops the fake
    started = time.perf_counter()
    with pytest.raises(OsrmError, match=r"did not answer within 0\.2 s") as refused:
        OsrmProvider(osrm.url, timeout_s=0.2).matrix(POINTS)
    assert refused.value.code is None
    matrix = OsrmProvider(osrm.url, timeout_s=0.2, fallback=HaversineProvider()).matrix(POINTS)
    assert matrix.source == "osrm+haversine"
    assert "did not answer" in matrix.notes[0]
    assert time.perf_counter() - started < 2


def test_a_hung_server_stops_the_blocks_at_the_first_timeout(osrm: OsrmFake):
    osrm.delay_s = 10
    provider = OsrmProvider(osrm.url, timeout_s=0.2, max_points=2, fallback=HaversineProvider())
    started = time.perf_counter()
    provider.matrix(POINTS)  # 16 blocks; only the first is waited for
    assert time.perf_counter() - started < 1


def test_no_segment_falls_back_for_every_pair_or_is_raised(osrm: OsrmFake):
    osrm.error = ("NoSegment", "Could not find a matching segment for coordinate 2")
    with pytest.raises(OsrmError, match="NoSegment: Could not find") as refused:
        OsrmProvider(osrm.url).matrix(POINTS)
    assert refused.value.code == "NoSegment"
    matrix = OsrmProvider(osrm.url, fallback=HaversineProvider()).matrix(POINTS)
    assert matrix.source == "osrm+haversine"
    assert len(matrix.estimated) == 12


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (502, b"<html>Bad Gateway</html>", "answered HTTP 502, not an OSRM JSON answer"),
        (200, b'{"code": "Ok", "durations": [[0, 1], [1, 0]]}', "no 2x2 table of distances"),
        (200, b'{"code": "Ok", "durations": [[0]], "distances": [[0]]}', "no 2x2 table"),
        (
            200,
            b'{"code": "Ok", "durations": [[0, -4], [1, 0]], "distances": [[0, 1], [1, 0]]}',
            "durations holding -4",
        ),
        (
            200,
            b'{"code": "Ok", "durations": [[0, "1"], [1, 0]], "distances": [[0, 1], [1, 0]]}',
            "durations holding '1'",
        ),
    ],
)
def test_an_answer_that_is_not_a_table_is_a_clear_error(osrm: OsrmFake, status, body, message):
    osrm.raw = (status, body)
    with pytest.raises(OsrmError, match=message) as refused:
        OsrmProvider(osrm.url).matrix(POINTS[:2])
    assert refused.value.code is None


def test_bad_points_are_refused_before_osrm_is_asked(osrm: OsrmFake):
    with pytest.raises(MatrixError, match="point 1 lon"):
        OsrmProvider(osrm.url).matrix([CENTRAAL, (52.0, 190.0)])
    assert osrm.requests == []
    assert OsrmProvider(osrm.url).matrix([]) == Matrix((), (), "osrm")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"base_url": "ftp://osrm.local"}, "base_url"),
        ({"base_url": "file:///etc/passwd"}, "base_url"),
        ({"base_url": "osrm.local:5000"}, "base_url"),
        ({"base_url": "http://osrm.local?x=1"}, "base_url"),
        ({"profile": "../route"}, "profile"),
        ({"profile": ""}, "profile"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": math.inf}, "timeout_s"),
        ({"max_points": 1}, "max_points"),
        ({"max_points": 50.0}, "max_points"),
        ({"max_points": True}, "max_points"),
        ({"fallback": "haversine"}, "fallback"),
    ],
)
def test_bad_osrm_parameters_are_refused_naming_them(options, field):
    with pytest.raises(MatrixError) as refused:
        OsrmProvider(**{"base_url": "http://osrm.local:5000", **options})
    assert refused.value.field == field


# --- from settings --------------------------------------------------------------------------


def test_no_settings_give_the_offline_default():
    assert provider_from_config({"SECRET_KEY": "x"}) == HaversineProvider(20.0, 1.3, 0.0)


def test_haversine_settings_may_come_as_text_from_the_environment():
    provider = provider_from_config(
        {"MATRIX_PROVIDER": "Haversine", "MATRIX_SPEED_KMH": "25", "MATRIX_CIRCUITY": " 1.4 "}
    )
    assert provider == HaversineProvider(speed_kmh=25.0, circuity=1.4)


def test_osrm_settings_build_an_osrm_provider_with_its_fallback(osrm: OsrmFake):
    provider = provider_from_config(
        {
            "MATRIX_PROVIDER": "osrm",
            "MATRIX_OSRM_URL": osrm.url,
            "MATRIX_OSRM_PROFILE": "car",
            "MATRIX_OSRM_TIMEOUT_S": "3",
            "MATRIX_OSRM_MAX_POINTS": "50",
            "MATRIX_OSRM_FALLBACK": "haversine",
            "MATRIX_SPEED_KMH": 15,
        }
    )
    assert isinstance(provider, MatrixProvider)
    assert provider == OsrmProvider(
        osrm.url, profile="car", timeout_s=3.0, max_points=50, fallback=HaversineProvider(15.0)
    )
    assert provider.matrix(POINTS).source == "osrm"
    assert osrm.requests[0].profile == "car"
    plain = provider_from_config({"MATRIX_PROVIDER": "osrm", "MATRIX_OSRM_URL": osrm.url})
    assert plain == OsrmProvider(osrm.url)  # driving, 10 s, 100 points, no fallback


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"MATRIX_PROVIDER": "google"}, "MATRIX_PROVIDER"),
        ({"MATRIX_PROVIDER": 1}, "MATRIX_PROVIDER"),
        ({"MATRIX_PROVIDER": "osrm"}, "MATRIX_OSRM_URL"),
        ({"MATRIX_PROVIDER": "osrm", "MATRIX_OSRM_URL": " "}, "MATRIX_OSRM_URL"),
        ({"MATRIX_PROVIDER": "osrm", "MATRIX_OSRM_URL": "ftp://x"}, "MATRIX_OSRM_URL"),
        ({"MATRIX_SPEED_KMH": "fast"}, "MATRIX_SPEED_KMH"),
        ({"MATRIX_SPEED_KMH": 0}, "MATRIX_SPEED_KMH"),
        ({"MATRIX_SPEED_KMH": True}, "MATRIX_SPEED_KMH"),
        ({"MATRIX_CIRCUITY": "0.8"}, "MATRIX_CIRCUITY"),
        ({"MATRIX_STOP_OVERHEAD_S": "-5"}, "MATRIX_STOP_OVERHEAD_S"),
        ({"MATRIX_SPEED_KPH": 20}, "MATRIX_SPEED_KPH"),  # a typo is not silently ignored
        (
            {**OSRM_AT_X, "MATRIX_OSRM_TIMEOUT_S": 0},
            "MATRIX_OSRM_TIMEOUT_S",
        ),
        (
            {**OSRM_AT_X, "MATRIX_OSRM_PROFILE": "a/b"},
            "MATRIX_OSRM_PROFILE",
        ),
        (
            {**OSRM_AT_X, "MATRIX_OSRM_MAX_POINTS": "1e2"},
            "MATRIX_OSRM_MAX_POINTS",
        ),
        (
            {**OSRM_AT_X, "MATRIX_OSRM_MAX_POINTS": 1},
            "MATRIX_OSRM_MAX_POINTS",
        ),
        (
            {**OSRM_AT_X, "MATRIX_OSRM_FALLBACK": "yes"},
            "MATRIX_OSRM_FALLBACK",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_key(settings, key):
    with pytest.raises(MatrixError) as refused:
        provider_from_config(settings)
    assert refused.value.field == key
    assert str(refused.value).startswith(f"{key}: ")
