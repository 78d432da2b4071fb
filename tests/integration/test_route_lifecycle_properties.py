"""The route and stop lifecycles hold after any sequence of dispatch calls, refused ones included.

A hypothesis state machine drives the real services of ``wms.dispatch`` — hand-over, accept,
start, arrive, complete, cancel, receive a return — on two routes of one carrier, on the test
database. Each call runs like an API request, inside a savepoint that a refusal rolls back. A
small pure model of the lifecycles predicts, from the state before each call, whether it must
succeed (and what it must then change) or be refused with a Conflict (and change nothing).
After every step: the database agrees with the model; a completed route has no stop left to
serve; a route has at most one stop en route or arrived at, exactly one while it is in
progress; ``route.version`` never goes down and goes up with every change a carrier hears of;
the stock ledger sums to the balances (``wms check``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.integration.routes_fixtures import ACTOR, NOW, build_fleet, snapshot
from wms import check, dispatch
from wms.errors import Conflict, NotFound, RuleViolation, WmsError
from wms.models import (
    Order,
    OutboxEvent,
    Package,
    PackageLine,
    Route,
    Stock,
    Stop,
)

#: Route name -> its orders, each with its number of packages.
PLAN: dict[str, list[tuple[str, int]]] = {
    "R1": [("O1", 1), ("O2", 2), ("O3", 1)],
    "R2": [("O4", 1), ("O5", 1)],
}
ROUTES = list(PLAN)
DRIVERS = ("D1", "D2")
#: Stops that are done with; stops the driver is at or heading to.
DONE = {"delivered", "failed", "skipped"}
ACTIVE = {"en_route", "arrived"}

route_names = st.sampled_from(ROUTES)
#: The calls one step may make, weighted by repetition.
CALLS = (
    *["hand_over"] * 3, *["accept"] * 2, *["start"] * 2, *["arrive"] * 3, *["complete"] * 4,
    "cancel", *["take_back"] * 2, "bad_request",
)  # fmt: skip
BAD_REQUESTS = ("garbage scan", "no reason", "future arrival", "unknown stop", "unknown route")
#: How far a route is taken before the random calls begin.
STAGES = ("planned", "loaded", "accepted", "under way")


@dataclass
class RouteModel:
    status: str = "planned"
    driver: str | None = None
    version: int = 1
    #: Stop sequence -> status, and the order each stop carries.
    stops: dict[int, str] = field(default_factory=dict)
    orders: dict[int, str] = field(default_factory=dict)

    def remaining(self) -> list[int]:
        return sorted(seq for seq, status in self.stops.items() if status not in DONE)


class RouteLifecycleMachine(RuleBasedStateMachine):
    """One front warehouse, one carrier and two routes per example, rolled back at teardown."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.connection = engine.connect()
        self.outer = self.connection.begin()
        self.session = Session(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self.now = NOW
        try:
            self._build()
        except BaseException:
            self.teardown()
            raise

    def teardown(self) -> None:
        self.session.close()
        if self.outer.is_active:
            self.outer.rollback()
        self.connection.close()

    def _build(self) -> None:
        s = self.session
        fleet = build_fleet(s)
        self.fleet = fleet
        self.subscription_id = fleet.subscription.id
        self.driver_id = {"D1": fleet.driver.id, "D2": fleet.add_driver().id}
        self.restock_slot = fleet.house.slot(2, 1).id
        self.route_id: dict[str, int] = {}
        self.stop_id: dict[tuple[str, int], int] = {}
        self.model: dict[str, RouteModel] = {}
        self.order_id: dict[str, int] = {}
        self.order_status: dict[str, str] = {}
        self.order_item: dict[str, int] = {}
        #: Package name -> (order, SSCC, units); loaded and returned packages.
        self.packages: dict[str, tuple[str, str, int]] = {}
        self.loaded: set[str] = set()
        self.returned: set[str] = set()
        for route_name, planned in PLAN.items():
            made = []
            for k, (order_name, count) in enumerate(planned, start=1):
                order = fleet.packed_order(packages=count, km_east=k)
                made.append(order)
                self.order_id[order_name] = order.id
                self.order_status[order_name] = "packed"
                self.order_item[order_name] = order.lines[0].item_id
                for n, package in enumerate(fleet.packages(order), start=1):
                    units = s.scalar(
                        select(func.sum(PackageLine.quantity)).where(
                            PackageLine.package_id == package.id
                        )
                    )
                    self.packages[f"{order_name}/{n}"] = (order_name, package.sscc or "", units)
            route = fleet.route(made)
            self.route_id[route_name] = route.id
            model = RouteModel()
            for stop in route.stops:
                self.stop_id[(route_name, stop.sequence)] = stop.id
                model.stops[stop.sequence] = "planned"
                model.orders[stop.sequence] = planned[stop.sequence - 1][0]
            self.model[route_name] = model
        # Units of each order's item in the site's stock, as the model expects them.
        self.units = {name: self._units_in_stock(item) for name, item in self.order_item.items()}
        self.versions_seen = {name: 1 for name in ROUTES}

    def _units_in_stock(self, item_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.coalesce(func.sum(Stock.on_hand), 0)).where(Stock.item_id == item_id)
            )
        )

    # --- one request ----------------------------------------------------------------------

    def _attempt(self, what: str, expected: type[WmsError] | None, call: Any) -> bool:
        """Run a call in a savepoint as a request does; True when it succeeded."""
        self.now += dt.timedelta(minutes=1)
        before = snapshot(self.session)
        savepoint = self.session.begin_nested()
        try:
            call()
        except WmsError as exc:
            savepoint.rollback()
            event(f"{what}: refused, {type(exc).__name__}")
            assert snapshot(self.session) == before, f"refused ({exc!r}) but the state changed"
            assert expected is not None, f"{what} refused with {exc!r}, but should have succeeded"
            assert isinstance(exc, expected), f"{what} refused with {exc!r}, expected {expected}"
            return False
        savepoint.commit()
        event(f"{what}: done")
        assert expected is None, f"{what} succeeded, but {expected.__name__} was expected"
        return True

    def _bump(self, route: str) -> None:
        self.model[route].version += 1

    def _route_of(self, order: str) -> tuple[str, int]:
        for name, model in self.model.items():
            for seq, carried in model.orders.items():
                if carried == order:
                    return name, seq
        raise AssertionError(order)

    def _draw(self, data: st.DataObject, likely: list[Any], anything: list[Any], label: str) -> Any:
        """Mostly a target the call may succeed on, sometimes any (so refusals are tried too)."""
        pool = (
            likely if likely and data.draw(st.integers(0, 3), label=f"{label}: any?") else anything
        )
        return data.draw(st.sampled_from(pool), label=label)

    def _routes(self, *statuses: str) -> list[str]:
        return [name for name, model in self.model.items() if model.status in statuses]

    def _stops(self, *statuses: str, routes: list[str] | None = None) -> list[tuple[str, int]]:
        return [
            (name, seq)
            for name in routes or ROUTES
            for seq, status in self.model[name].stops.items()
            if not statuses or status in statuses
        ]

    # --- the calls ------------------------------------------------------------------------

    @initialize(stages=st.tuples(st.sampled_from(STAGES), st.sampled_from(STAGES)))
    def bring_the_routes_along(self, stages: tuple[str, str]) -> None:
        """Every route starts planned, its orders packed; some are taken along straight away
        (loaded, accepted, started) through the same calls, so short runs reach the drive."""
        for (route, stage), driver in zip(zip(ROUTES, stages, strict=True), DRIVERS, strict=True):
            reach = STAGES.index(stage)
            if reach >= 1:
                for package, (order, _, _) in self.packages.items():
                    if self._route_of(order)[0] == route:
                        self._hand_over(route, package)
            if reach >= 2:
                self._accept(route, driver)
            if reach >= 3:
                self._start(route)

    def hand_over(self, data: st.DataObject) -> None:
        loadable = self._routes("planned", "accepted")
        likely = [
            (self._route_of(order)[0], package)
            for package, (order, _, _) in self.packages.items()
            if package not in self.loaded and self._route_of(order)[0] in loadable
        ]
        anything = [(route, package) for route in ROUTES for package in self.packages]
        route, package = self._draw(data, likely, anything, "(route, package)")
        self._hand_over(route, package)

    def _hand_over(self, route: str, package: str) -> None:
        order, sscc, _ = self.packages[package]
        home, seq = self._route_of(order)
        model = self.model[home]
        ok = (
            home == route
            and self.model[route].status in ("planned", "accepted")
            and model.stops[seq] != "skipped"
            and package not in self.loaded
        )
        done = self._attempt(
            "hand_over", None if ok else Conflict,
            lambda: dispatch.hand_over(
                self.session, route_id=self.route_id[route], package_scan=sscc, user_id=None,
                now=self.now,
            ),
        )  # fmt: skip
        if not done:
            return
        self.loaded.add(package)
        if all(p in self.loaded for p, (o, _, _) in self.packages.items() if o == order):
            model.stops[seq] = "dispatched"
            self.order_status[order] = "dispatched"
            self._bump(home)

    def accept(self, data: st.DataObject) -> None:
        driver = data.draw(st.sampled_from(DRIVERS), label="driver")
        self._accept(self._draw(data, self._routes("planned"), ROUTES, "route"), driver)

    def _accept(self, route: str, driver: str) -> None:
        model = self.model[route]
        ok = model.status == "planned"
        if self._attempt(
            "accept", None if ok else Conflict,
            lambda: dispatch.accept_route(
                self.session, self.route_id[route], driver_id=self.driver_id[driver],
                actor=ACTOR, now=self.now,
            ),
        ):  # fmt: skip
            model.status, model.driver = "accepted", driver
            self._bump(route)

    def start(self, data: st.DataObject) -> None:
        self._start(self._draw(data, self._routes("accepted"), ROUTES, "route"))

    def _start(self, route: str) -> None:
        model = self.model[route]
        busy = any(
            other.status == "in_progress" and other.driver == model.driver
            for name, other in self.model.items()
            if name != route
        )
        remaining = model.remaining()
        ok = (
            model.status == "accepted"
            and not busy
            and bool(remaining)
            and all(model.stops[seq] == "dispatched" for seq in remaining)
        )
        if self._attempt(
            "start", None if ok else Conflict,
            lambda: dispatch.start_route(
                self.session, self.route_id[route], actor=ACTOR, now=self.now
            ),
        ):  # fmt: skip
            model.status = "in_progress"
            model.stops[remaining[0]] = "en_route"
            self._bump(route)

    def arrive(self, data: st.DataObject) -> None:
        likely = self._stops("dispatched", "en_route", routes=self._routes("in_progress"))
        route, seq = self._draw(data, likely, self._stops(), "(route, stop)")
        model = self.model[route]
        others_arrived = any(s != seq and status == "arrived" for s, status in model.stops.items())
        ok = (
            model.status == "in_progress"
            and model.stops[seq] in ("dispatched", "en_route")
            and not others_arrived
        )
        if self._attempt(
            "arrive", None if ok else Conflict,
            lambda: dispatch.arrive(
                self.session, self.stop_id[(route, seq)], at=self.now, actor=ACTOR, now=self.now
            ),
        ):  # fmt: skip
            for s, status in model.stops.items():
                if status == "en_route":
                    model.stops[s] = "dispatched"
            model.stops[seq] = "arrived"
            self._bump(route)

    def complete(self, data: st.DataObject) -> None:
        under_way = self._routes("in_progress")
        likely = self._stops("en_route", "arrived", routes=under_way) + self._stops(
            "dispatched", routes=under_way
        )
        route, seq = self._draw(data, likely, self._stops(), "(route, stop)")
        outcome = data.draw(st.sampled_from(["delivered", "failed"]), label="outcome")
        model = self.model[route]
        others_arrived = any(s != seq and status == "arrived" for s, status in model.stops.items())
        ok = (
            model.status == "in_progress"
            and model.stops[seq] in ("dispatched", "en_route", "arrived")
            and not others_arrived
        )
        reason = "recipient_absent" if outcome == "failed" else None
        if not self._attempt(
            f"complete {outcome}", None if ok else Conflict,
            lambda: dispatch.complete_stop(
                self.session, self.stop_id[(route, seq)], outcome=outcome, failure_reason=reason,
                at=self.now, actor=ACTOR, now=self.now,
            ),
        ):  # fmt: skip
            return
        for s, status in model.stops.items():
            if status == "en_route":
                model.stops[s] = "dispatched"
        model.stops[seq] = outcome
        order = model.orders[seq]
        self.order_status[order] = "delivered" if outcome == "delivered" else "failed_delivery"
        waiting = [s for s in model.remaining() if model.stops[s] == "dispatched"]
        following = [s for s in waiting if s > seq] or waiting
        if following:
            model.stops[following[0]] = "en_route"
        elif not model.remaining():
            model.status = "completed"
            event("a route completed")
        self._bump(route)

    def cancel(self, data: st.DataObject) -> None:
        # Mostly a route that can no longer be cancelled: a cancelled route ends the story.
        route = self._draw(
            data, self._routes("in_progress", "completed", "cancelled"), ROUTES, "route"
        )
        model = self.model[route]
        ok = model.status in ("planned", "accepted")
        if not self._attempt(
            "cancel", None if ok else Conflict,
            lambda: dispatch.cancel_route(
                self.session, self.route_id[route], actor=ACTOR, now=self.now
            ),
        ):  # fmt: skip
            return
        for seq in model.remaining():
            model.stops[seq] = "skipped"
            order = model.orders[seq]
            self.loaded -= {p for p, (o, _, _) in self.packages.items() if o == order}
            if self.order_status[order] == "dispatched":
                self.order_status[order] = "packed"
        model.status = "cancelled"
        self._bump(route)

    def take_back(self, data: st.DataObject) -> None:
        restock = data.draw(st.booleans(), label="restock")
        likely = [
            package
            for package, (order, _, _) in self.packages.items()
            if self.order_status[order] == "failed_delivery" and package not in self.returned
        ]
        package = self._draw(data, likely, list(self.packages), "package")
        order, sscc, units = self.packages[package]
        ok = self.order_status[order] == "failed_delivery" and package not in self.returned
        disposition = "restocked" if restock else "quarantined"
        if not self._attempt(
            f"return {disposition}", None if ok else Conflict,
            lambda: dispatch.receive_return(
                self.session, package_scan=sscc, disposition=disposition,
                slot_id=self.restock_slot if restock else None, user_id=None, now=self.now,
            ),
        ):  # fmt: skip
            return
        self.returned.add(package)
        self.units[order] += units
        if all(p in self.returned for p, (o, _, _) in self.packages.items() if o == order):
            self.order_status[order] = "returned"

    def bad_request(self, data: st.DataObject) -> None:
        """Requests that can never succeed are refused whatever the state, and change nothing."""
        what = data.draw(st.sampled_from(BAD_REQUESTS), label="bad request")
        route = data.draw(route_names, label="route")
        stop_id = self.stop_id[(route, 1)]
        later = self.now + dt.timedelta(hours=1)
        calls: dict[str, tuple[type[WmsError], Any]] = {
            "garbage scan": (RuleViolation, lambda: dispatch.hand_over(
                self.session, route_id=self.route_id[route], package_scan="TOTE-1", user_id=None,
                now=self.now,
            )),
            "no reason": (RuleViolation, lambda: dispatch.complete_stop(
                self.session, stop_id, outcome="failed", at=self.now, actor=ACTOR, now=self.now,
            )),
            "future arrival": (RuleViolation, lambda: dispatch.arrive(
                self.session, stop_id, at=later, actor=ACTOR, now=self.now,
            )),
            "unknown stop": (NotFound, lambda: dispatch.arrive(
                self.session, 10**9, at=self.now, actor=ACTOR, now=self.now,
            )),
            "unknown route": (NotFound, lambda: dispatch.start_route(
                self.session, 10**9, actor=ACTOR, now=self.now,
            )),
        }  # fmt: skip
        expected, call = calls[what]
        self._attempt(what, expected, call)

    # --- rules ----------------------------------------------------------------------------

    @rule(data=st.data())
    def a_request(self, data: st.DataObject) -> None:
        """One call, as a carrier, a driver or the floor would send it.

        One rule draws which call (weighted towards the drive), rather than a rule per call:
        hypothesis switches rules off at random per example (swarm testing), and short runs
        then rarely get a route as far as its last stop.
        """
        getattr(self, data.draw(st.sampled_from(CALLS), label="call"))(data)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        s = self.session
        for name, model in self.model.items():
            route = s.execute(
                select(Route.status, Route.version, Route.driver_id).where(
                    Route.id == self.route_id[name]
                )
            ).one()
            assert route.status.value == model.status, name
            assert route.version == model.version, name
            expected_driver = self.driver_id[model.driver] if model.driver else None
            assert route.driver_id == expected_driver, name
            stops = dict(
                s.execute(
                    select(Stop.sequence, Stop.status).where(Stop.route_id == self.route_id[name])
                ).all()
            )
            assert {seq: status.value for seq, status in stops.items()} == model.stops, name
        orders = dict(
            s.execute(
                select(Order.id, Order.status).where(Order.id.in_(self.order_id.values()))
            ).all()
        )
        for order, status in self.order_status.items():
            assert orders[self.order_id[order]].value == status, order
        on_vehicle = {
            sscc
            for sscc, loaded in s.execute(select(Package.sscc, Package.loaded_at)).tuples()
            if loaded is not None
        }
        # Delivered and failed orders' packages stay recorded on the stop they went out on.
        expected_on = {self.packages[p][1] for p in self.loaded}
        assert on_vehicle == expected_on
        for order, item in self.order_item.items():
            assert self._units_in_stock(item) == self.units[order], order

    @invariant()
    def lifecycles_hold(self) -> None:
        for name, model in self.model.items():
            stops = list(
                self.session.scalars(
                    select(Stop.status).where(Stop.route_id == self.route_id[name])
                )
            )
            active = sum(1 for status in stops if status.value in ACTIVE)
            assert active <= 1, f"{name}: {active} stops en route or arrived at"
            if model.status == "in_progress":
                assert active == 1, f"{name} is under way with no stop to head to"
            if model.status == "completed":
                assert all(status.value in DONE for status in stops), name
            version = self.session.scalar(
                select(Route.version).where(Route.id == self.route_id[name])
            )
            assert version is not None and version >= self.versions_seen[name]
            self.versions_seen[name] = version
            # Every change carriers hear of was published: one webhook event per version.
            published = self.session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(
                    OutboxEvent.key == f"webhook:{self.subscription_id}:route:{self.route_id[name]}"
                )
            )
            assert published == version - 1, name

    @invariant()
    def the_ledger_sums_to_the_balances(self) -> None:
        report = check.verify(self.session)
        assert report.ok, report.violations


def test_route_lifecycles_hold_after_any_sequence_of_dispatch_calls(engine: Engine) -> None:
    run_state_machine_as_test(
        lambda: RouteLifecycleMachine(engine),
        settings=settings(
            max_examples=min(settings.default.max_examples, 25),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[*settings.default.suppress_health_check, HealthCheck.too_slow],
        ),
    )
