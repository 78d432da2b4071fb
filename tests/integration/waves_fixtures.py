"""A small front warehouse with racks, zones and stock, for the wave, pick and pack tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wms.models import (
    Item,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    Zone,
)

#: 6 aisles (ambient 1-4, chilled 5, frozen 6), two blocks of 5 bays of 1.2 m, 3 m apart.
LAYOUT: dict[str, Any] = {
    "aisles": 6,
    "blocks": 2,
    "bays_per_block": 5,
    "bay_width_m": 1.2,
    "aisle_pitch_m": 3.0,
    "cross_aisle_width_m": 2.0,
    "depot": {"aisle": 1},
    "pack_station": {"aisle": 6},
    "zones": {"ambient": [1, 4], "chilled": [5, 5], "frozen": [6, 6]},
}
AISLES_OF = {Temperature.AMBIENT: (1, 4), Temperature.CHILLED: (5, 5), Temperature.FROZEN: (6, 6)}
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@dataclass
class Warehouse:
    """One front warehouse: a slot per aisle, bay and side at level 1, items stocked on demand."""

    session: Session
    site: Site
    zones: dict[Temperature, Zone]
    slots: dict[tuple[int, int, str], Slot] = field(default_factory=dict)
    counter: int = 0

    def slot(self, aisle: int, bay: int, side: str = "L") -> Slot:
        return self.slots[(aisle, bay, side)]

    def item(self, temperature: Temperature = Temperature.AMBIENT, **fields: Any) -> Item:
        self.counter += 1
        values: dict[str, Any] = {
            "sku": f"W-{self.site.code}-{self.counter:04d}",
            "name": f"Wave item {self.counter}",
            "length_mm": 100,
            "width_mm": 100,
            "height_mm": 100,  # a litre
            "weight_g": 500,
            "temperature": temperature,
            **fields,
        }
        item = Item(**values)
        self.session.add(item)
        self.session.flush()
        return item

    def stock(
        self, item: Item, qty: int, *, aisle: int, bay: int, side: str = "L", **kw: Any
    ) -> Stock:
        row = Stock(slot_id=self.slot(aisle, bay, side).id, item_id=item.id, on_hand=qty, **kw)
        self.session.add(row)
        self.session.flush()
        self.session.add(
            Movement(
                stock_id=row.id,
                kind=MovementKind.RECEIPT,
                quantity=qty,
                operation_id=str(uuid.uuid4()),
                reason="test receipt",
            )
        )
        self.session.flush()
        return row

    def stocked(
        self,
        temperature: Temperature = Temperature.AMBIENT,
        qty: int = 50,
        *,
        aisle: int | None = None,
        bay: int = 1,
        **fields: Any,
    ) -> Item:
        item = self.item(temperature, **fields)
        self.stock(item, qty, aisle=aisle or AISLES_OF[temperature][0], bay=bay)
        return item

    def order(
        self,
        lines: list[tuple[Item, int]],
        *,
        start: dt.datetime | None = None,
        minutes: int = 60,
        priority: int = 0,
        km_east: float = 1.0,
    ) -> Order:
        self.counter += 1
        start = start or NOW + dt.timedelta(minutes=40)
        order = Order(
            number=f"O-{self.site.code}-{self.counter:05d}",
            site_id=self.site.id,
            customer_name=f"Customer {self.counter}",
            address=f"Straat {self.counter}",
            latitude=self.site.latitude,
            longitude=self.site.longitude + km_east / 68.0,
            promised_start=start,
            promised_end=start + dt.timedelta(minutes=minutes),
            priority=priority,
        )
        for line_no, (item, qty) in enumerate(lines, start=1):
            order.lines.append(OrderLine(line_no=line_no, item_id=item.id, quantity=qty))
        self.session.add(order)
        self.session.flush()
        return order


def build_warehouse(
    session: Session, code: str | None = None, layout: dict[str, Any] | None = LAYOUT
) -> Warehouse:
    code = code or f"WV{uuid.uuid4().hex[:6].upper()}"
    site = Site(
        code=code,
        name=f"Wave test {code}",
        kind=SiteKind.FRONT_WAREHOUSE,
        latitude=52.37,
        longitude=4.89,
        timezone="Europe/Amsterdam",
        layout=layout,
    )
    session.add(site)
    session.flush()
    zones = {}
    for temperature in Temperature:
        zone = Zone(
            site_id=site.id,
            code=temperature.value.upper(),
            name=temperature.value,
            temperature=temperature,
        )
        session.add(zone)
        zones[temperature] = zone
    session.flush()
    house = Warehouse(session, site, zones)
    for temperature, (first, last) in AISLES_OF.items():
        for aisle in range(first, last + 1):
            for bay in range(1, 11):
                for side in ("L", "R"):
                    slot = Slot(
                        site_id=site.id,
                        zone_id=zones[temperature].id,
                        barcode=f"{code}-{aisle:02d}-{bay:02d}{side}",
                        kind=SlotKind.PICK_FACE,
                        block=1 + (bay - 1) // 5,
                        aisle=aisle,
                        bay=bay,
                        side=side,
                        level=1,
                    )
                    session.add(slot)
                    house.slots[(aisle, bay, side)] = slot
    session.flush()
    return house


WarehouseFactory = Callable[..., Warehouse]
