"""The demo network: a central DC and front warehouses in Amsterdam, with everything in them.

``build`` makes a plan in memory — a pure function of the size, the seed and the delivery day,
so the same arguments give the same network. ``write`` bulk-inserts the plan; every unit of
stock arrives through a receipt movement, so the ledger sums to the balances from the start.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from biip.checksums import gs1_standard_check_digit
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from wms.models import (
    Carrier,
    Driver,
    Item,
    ItemBarcode,
    Movement,
    MovementKind,
    Order,
    OrderLine,
    OrderStatus,
    Role,
    Site,
    SiteKind,
    Slot,
    SlotKind,
    Stock,
    Temperature,
    User,
    Vehicle,
    VehicleKind,
    Zone,
    user_site,
)
from wms.users import badge_digest, hash_secret

TIMEZONE = "Europe/Amsterdam"
CITY_CENTRE = (52.3676, 4.9041)


@dataclass(frozen=True, slots=True)
class DemoSize:
    name: str
    front_warehouses: int
    items: int
    orders: int


SIZES: dict[str, DemoSize] = {
    "small": DemoSize("small", front_warehouses=3, items=500, orders=300),
    "city": DemoSize("city", front_warehouses=20, items=500, orders=20_000),
}

# Real neighbourhoods of Amsterdam and its edge, for the front warehouses (lat, lon).
NEIGHBOURHOODS: list[tuple[str, float, float]] = [
    ("De Pijp", 52.3547, 4.8936),
    ("Oost", 52.3600, 4.9300),
    ("Oud-West", 52.3657, 4.8665),
    ("Noord", 52.3906, 4.9210),
    ("Jordaan", 52.3745, 4.8805),
    ("Zuid", 52.3450, 4.8700),
    ("Nieuw-West", 52.3600, 4.8000),
    ("Zuidoost", 52.3100, 4.9700),
    ("IJburg", 52.3560, 4.9990),
    ("Watergraafsmeer", 52.3530, 4.9440),
    ("Buitenveldert", 52.3300, 4.8750),
    ("Amstelveen", 52.3030, 4.8600),
    ("Slotervaart", 52.3580, 4.8270),
    ("Bos en Lommer", 52.3800, 4.8480),
    ("Geuzenveld", 52.3800, 4.8100),
    ("Osdorp", 52.3580, 4.7900),
    ("Oostelijk Havengebied", 52.3750, 4.9400),
    ("Indische Buurt", 52.3620, 4.9430),
    ("Rivierenbuurt", 52.3450, 4.9050),
    ("Diemen", 52.3400, 4.9600),
    ("Centrum", 52.3731, 4.8922),
]
DC = ("DC01", "Central DC Westpoort", 52.4050, 4.8010, "Hornweg 12, 1045 AR Amsterdam")

# Rack geometry of every front warehouse: 12 aisles, 2 blocks of 10 bays, 4 levels, racks on
# both sides of each aisle; front, middle and back cross aisles. Metres, along the floor.
FRONT_LAYOUT: dict[str, Any] = {
    "aisles": 12,
    "blocks": 2,
    "bays_per_block": 10,
    "levels": 4,
    "sides": ["L", "R"],
    "bay_width_m": 1.3,
    "aisle_pitch_m": 3.2,
    "cross_aisle_width_m": 2.5,
    "cross_aisles": ["front", "middle", "back"],
    "pick_face_levels": [1, 2],
    "depot": {"aisle": 1, "position": "front"},
    "pack_station": {"aisle": 12, "position": "front"},
    # Aisles by temperature: each is walled off, picked separately and joined at packing.
    "zones": {"ambient": [1, 8], "chilled": [9, 10], "frozen": [11, 12]},
}
DC_LAYOUT: dict[str, Any] = {
    **FRONT_LAYOUT,
    "aisles": 16,
    "levels": 5,
    "pick_face_levels": [],
    "pack_station": {"aisle": 16, "position": "front"},
    "zones": {"ambient": [1, 10], "chilled": [11, 13], "frozen": [14, 16]},
}

PICK_FACE_VOLUME_CM3 = 130 * 60 * 40
RESERVE_VOLUME_CM3 = 130 * 80 * 100


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    password: str
    badge: str | None = None
    pin: str | None = None

    def login_hint(self) -> str:
        parts = [f"{self.role.value:<10} {self.username} / {self.password} (console)"]
        if self.badge:
            parts.append(f"badge {self.badge}" + (f" + PIN {self.pin}" if self.pin else ""))
        return ";  ".join(parts)


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("associate", "Ana Associate", Role.ASSOCIATE, "associate", badge="B-1001"),
    DemoUser(
        "supervisor", "Sam Supervisor", Role.SUPERVISOR, "supervisor", badge="B-2001", pin="2468"
    ),
    DemoUser("planner", "Pat Planner", Role.PLANNER, "planner"),
    DemoUser("admin", "Alex Admin", Role.ADMIN, "admin"),
)


# --- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Category:
    temperature: Temperature
    products: tuple[str, ...]
    sizes: tuple[str, ...]
    dims_mm: tuple[int, int, int]
    weight_g: int
    shelf_life_days: int | None  # None: not expiry-tracked
    share: float


A, C, F = Temperature.AMBIENT, Temperature.CHILLED, Temperature.FROZEN

# fmt: off
CATEGORIES: tuple[_Category, ...] = (
    _Category(A, ("Spaghetti", "Penne", "Fusilli", "Basmati rice", "Risotto rice", "Couscous", "Oats", "Muesli", "Cornflakes"), ("500 g", "1 kg"), (190, 80, 40), 520, None, 0.10),
    _Category(A, ("Chopped tomatoes", "Chickpeas", "Kidney beans", "Coconut milk", "Tuna in oil", "Sweetcorn", "Lentil soup"), ("400 g", "3 x 400 g"), (75, 75, 110), 430, None, 0.08),
    _Category(A, ("Ground coffee", "Coffee beans", "Black tea", "Green tea", "Hot chocolate", "Peanut butter", "Hazelnut spread", "Honey", "Strawberry jam"), ("250 g", "500 g"), (120, 90, 70), 300, None, 0.08),
    _Category(A, ("Sea salt crisps", "Paprika crisps", "Tortilla chips", "Salted peanuts", "Digestive biscuits", "Stroopwafels", "Milk chocolate", "Dark chocolate", "Granola bar"), ("150 g", "Family pack"), (200, 130, 60), 180, None, 0.10),
    _Category(A, ("Sparkling water", "Still water", "Cola", "Orange soda", "Lemon iced tea", "Apple juice", "Orange juice", "Pilsner", "Alcohol-free beer"), ("330 ml can", "1.5 l", "6 x 330 ml"), (90, 90, 250), 1100, None, 0.10),
    _Category(A, ("Toilet paper", "Kitchen roll", "Dish soap", "Laundry liquid", "Shampoo", "Toothpaste", "Hand soap", "Nappies", "Cat food", "Dog food"), ("Small", "Large"), (250, 150, 120), 700, None, 0.10),
    _Category(A, ("Sourdough bread", "Wholemeal bread", "Croissants", "Bagels", "Tortilla wraps"), ("single", "multipack"), (300, 120, 100), 450, 4, 0.04),
    _Category(A, ("Bananas", "Apples", "Pears", "Vine tomatoes", "Cucumber", "Avocado", "Lemons", "Onions", "Potatoes", "Carrots"), ("500 g", "1 kg"), (200, 150, 100), 600, 7, 0.08),
    _Category(C, ("Whole milk", "Semi-skimmed milk", "Oat drink", "Greek yoghurt", "Vanilla custard", "Whipping cream", "Buttermilk"), ("500 ml", "1 l"), (70, 70, 200), 1050, 14, 0.08),
    _Category(C, ("Free-range eggs", "Organic eggs"), ("6 pcs", "10 pcs"), (150, 100, 70), 400, 21, 0.02),
    _Category(C, ("Gouda slices", "Mature Gouda", "Mozzarella", "Brie", "Feta", "Parmesan", "Butter", "Quark"), ("250 g", "500 g"), (150, 100, 30), 250, 40, 0.04),
    _Category(C, ("Chicken breast", "Minced beef", "Salmon fillet", "Ham slices", "Smoked sausage", "Tofu", "Hummus", "Fresh pesto", "Caesar salad", "Lasagne ready meal"), ("200 g", "500 g"), (200, 140, 50), 450, 6, 0.08),
    _Category(F, ("Vanilla ice cream", "Margherita pizza", "Garden peas", "French fries", "Fish fingers", "Mixed berries", "Spinach", "Veggie burgers"), ("450 g", "1 kg"), (250, 200, 60), 700, 270, 0.10),
)

BRANDS = ("Polder", "Grachtje", "Molenaar", "Tulp & Co", "Zeebries", "Dijkhuis", "Eerlijk", "Stadsboer")
FIRST_NAMES = ("Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Mila", "Noah", "Tess", "Finn", "Yara", "Levi", "Fatima", "Mohamed", "Anouk", "Thijs", "Zoë", "Bram", "Lotte", "Ruben")
LAST_NAMES = ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "de Boer", "Yilmaz", "El Amrani", "Bos", "Vos", "Peters", "Hendriks", "Dekker", "Kok", "Brouwer", "de Graaf")
STREETS = ("Ferdinand Bolstraat", "Albert Cuypstraat", "Linnaeusstraat", "Kinkerstraat", "Javastraat", "Overtoom", "Van Woustraat", "Middenweg", "Jan Pieter Heijestraat", "Beethovenstraat", "Buikslotermeerplein", "Rijnstraat", "Haarlemmerdijk", "Bilderdijkstraat", "Czaar Peterstraat", "Plantage Middenlaan", "Amstelveenseweg", "Weesperzijde", "Postjesweg", "Molukkenstraat")
# fmt: on


def gtin13(company_prefix: str, reference: int) -> str:
    """A GTIN-13 with a valid check digit from a 7-digit company prefix and a reference."""
    payload = f"{company_prefix}{reference:05d}"
    return payload + str(gs1_standard_check_digit(payload))


def gtin14(indicator: int, gtin: str) -> str:
    """The GTIN-14 of a case holding units of ``gtin`` (indicator digit 1-8)."""
    payload = f"{indicator}{gtin[:-1]}"
    return payload + str(gs1_standard_check_digit(payload))


# --- the plan -------------------------------------------------------------------------------


@dataclass(slots=True)
class DemoPlan:
    """Rows to insert, cross-referenced by list index (``*_ix``) before ids exist."""

    size: DemoSize
    seed: int
    day: dt.date
    sites: list[dict[str, Any]] = field(default_factory=list)
    zones: list[dict[str, Any]] = field(default_factory=list)  # site_ix
    items: list[dict[str, Any]] = field(default_factory=list)
    barcodes: list[dict[str, Any]] = field(default_factory=list)  # item_ix
    slots: list[dict[str, Any]] = field(default_factory=list)  # site_ix, zone_ix, item_ix
    stock: list[dict[str, Any]] = field(default_factory=list)  # slot_ix, item_ix
    orders: list[dict[str, Any]] = field(default_factory=list)  # site_ix
    lines: list[dict[str, Any]] = field(default_factory=list)  # order_ix, item_ix
    carriers: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)  # carrier_ix, site_ix
    drivers: list[dict[str, Any]] = field(default_factory=list)  # carrier_ix


DRIVER_NAMES = (
    "Sanne",
    "Daan",
    "Fatima",
    "Luuk",
    "Noor",
    "Milan",
    "Yara",
    "Bram",
    "Aylin",
    "Jesse",
)


def today_local() -> dt.date:
    """Today's date in the demo network's time zone."""
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def build(size: DemoSize, *, seed: int = 1, day: dt.date | None = None) -> DemoPlan:
    """Plan the demo network: the same size, seed and day always give the same plan."""
    if size.front_warehouses > len(NEIGHBOURHOODS):
        raise ValueError(f"at most {len(NEIGHBOURHOODS)} front warehouses in the demo city")
    rng = random.Random(seed)
    plan = DemoPlan(size=size, seed=seed, day=day or today_local())
    _plan_sites(plan)
    _plan_items(plan, rng)
    for site_ix, site in enumerate(plan.sites):
        _plan_slots_and_stock(plan, rng, site_ix, central=site["kind"] is SiteKind.CENTRAL_DC)
    _plan_orders(plan, rng)
    _plan_carriers(plan)
    return plan


def _plan_sites(plan: DemoPlan) -> None:
    code, name, lat, lon, address = DC
    plan.sites.append(
        {
            "code": code,
            "name": name,
            "kind": SiteKind.CENTRAL_DC,
            "latitude": lat,
            "longitude": lon,
            "timezone": TIMEZONE,
            "address": address,
            "layout": DC_LAYOUT,
        }
    )
    for n, (hood, lat, lon) in enumerate(NEIGHBOURHOODS[: plan.size.front_warehouses], start=1):
        plan.sites.append(
            {
                "code": f"FW{n:02d}",
                "name": f"Front warehouse {hood}",
                "kind": SiteKind.FRONT_WAREHOUSE,
                "latitude": lat,
                "longitude": lon,
                "timezone": TIMEZONE,
                "address": f"{hood}, Amsterdam",
                "layout": FRONT_LAYOUT,
            }
        )
    for site_ix in range(len(plan.sites)):
        for temperature in Temperature:
            plan.zones.append(
                {
                    "site_ix": site_ix,
                    "code": temperature.value.upper(),
                    "name": temperature.value.title(),
                    "temperature": temperature,
                }
            )


def _plan_items(plan: DemoPlan, rng: random.Random) -> None:
    """Fill the catalogue by category share; popularity follows a Zipf-like curve."""
    reference = 0
    for category in CATEGORIES:
        wanted = round(plan.size.items * category.share)
        combos = [(b, p, s) for p in category.products for s in category.sizes for b in BRANDS]
        rng.shuffle(combos)
        for brand, product, pack in combos[:wanted]:
            reference += 1
            tracked = category.shelf_life_days is not None
            scale = rng.uniform(0.7, 1.4)
            length, width, height = (max(10, int(d * scale)) for d in category.dims_mm)
            plan.items.append(
                {
                    "sku": f"SKU-{reference:05d}",
                    "name": f"{brand} {product} {pack}",
                    "length_mm": length,
                    "width_mm": width,
                    "height_mm": height,
                    "weight_g": max(20, int(category.weight_g * scale)),
                    "lot_tracked": tracked,
                    "expiry_tracked": tracked,
                    "shelf_life_days": category.shelf_life_days,
                    "temperature": category.temperature,
                }
            )
            unit = gtin13("8712345", reference)
            plan.barcodes.append({"item_ix": len(plan.items) - 1, "barcode": unit, "quantity": 1})
            if rng.random() < 0.3:
                plan.barcodes.append(
                    {
                        "item_ix": len(plan.items) - 1,
                        "barcode": gtin14(1, unit),
                        "quantity": rng.choice((6, 8, 12)),
                    }
                )
    # Popularity: a random permutation ranked on a Zipf-like curve; A = top 20 %, B = next 30 %.
    ranks = list(range(len(plan.items)))
    rng.shuffle(ranks)
    for item, rank in zip(plan.items, ranks, strict=True):
        item["popularity"] = 1.0 / (rank + 1) ** 0.8
        share = rank / len(plan.items)
        item["velocity"] = "A" if share < 0.2 else "B" if share < 0.5 else "C"


def _zone_of_aisle(layout: dict[str, Any], aisle: int) -> Temperature:
    for name, (first, last) in layout["zones"].items():
        if first <= aisle <= last:
            return Temperature(name)
    raise ValueError(f"aisle {aisle} is in no zone")


def _plan_slots_and_stock(
    plan: DemoPlan, rng: random.Random, site_ix: int, *, central: bool
) -> None:
    site = plan.sites[site_ix]
    layout = site["layout"]
    zone_ix = {t: site_ix * len(Temperature) + i for i, t in enumerate(Temperature)}
    bays = layout["blocks"] * layout["bays_per_block"]
    pick_faces: dict[Temperature, list[int]] = {t: [] for t in Temperature}
    reserves: dict[Temperature, list[int]] = {t: [] for t in Temperature}
    for aisle in range(1, layout["aisles"] + 1):
        temperature = _zone_of_aisle(layout, aisle)
        for bay in range(1, bays + 1):
            for side in layout["sides"]:
                for level in range(1, layout["levels"] + 1):
                    is_face = level in layout["pick_face_levels"]
                    plan.slots.append(
                        {
                            "site_ix": site_ix,
                            "zone_ix": zone_ix[temperature],
                            "barcode": f"{site['code']}-{aisle:02d}-{bay:02d}{side}-{level}",
                            "kind": SlotKind.PICK_FACE if is_face else SlotKind.RESERVE,
                            "block": 1 + (bay - 1) // layout["bays_per_block"],
                            "aisle": aisle,
                            "bay": bay,
                            "side": side,
                            "level": level,
                            "volume_cm3": PICK_FACE_VOLUME_CM3 if is_face else RESERVE_VOLUME_CM3,
                            "max_weight_g": 250_000 if is_face else 600_000,
                            "item_ix": None,
                        }
                    )
                    (pick_faces if is_face else reserves)[temperature].append(len(plan.slots) - 1)
    for kind, count in ((SlotKind.DOCK, 2), (SlotKind.STAGING, 4), (SlotKind.PACK, 2)):
        for n in range(1, count + 1):
            plan.slots.append(
                {
                    "site_ix": site_ix,
                    "zone_ix": zone_ix[Temperature.AMBIENT],
                    "barcode": f"{site['code']}-{kind.value.upper().replace('_', '')}{n}",
                    "kind": kind,
                    "item_ix": None,
                    "volume_cm3": None,
                    "max_weight_g": None,
                }
            )

    received = dt.datetime.combine(plan.day, dt.time(5, 0), ZoneInfo(TIMEZONE)).astimezone(dt.UTC)
    by_temperature: dict[Temperature, list[int]] = {t: [] for t in Temperature}
    for ix, item in enumerate(plan.items):
        by_temperature[item["temperature"]].append(ix)
    for temperature, item_ixs in by_temperature.items():
        # Fast movers get the pick faces nearest the depot (low bay, low level).
        item_ixs = sorted(item_ixs, key=lambda i: -plan.items[i]["popularity"])
        faces = sorted(
            pick_faces[temperature],
            key=lambda s: (plan.slots[s]["bay"], plan.slots[s]["level"], plan.slots[s]["aisle"]),
        )
        free_reserves = list(reserves[temperature])
        rng.shuffle(free_reserves)
        for position, item_ix in enumerate(item_ixs):
            item = plan.items[item_ix]
            if not central and position < len(faces):
                face = faces[position]
                unit_cm3 = max(1, item["length_mm"] * item["width_mm"] * item["height_mm"] // 1000)
                max_qty = max(6, min(60, PICK_FACE_VOLUME_CM3 // unit_cm3 // 2))
                plan.slots[face].update(item_ix=item_ix, min_qty=max_qty // 4, max_qty=max_qty)
                lots = 2 if item["expiry_tracked"] and rng.random() < 0.3 else 1
                for _ in range(lots):
                    qty = rng.randint(max(1, max_qty // (2 * lots)), max(1, max_qty // lots))
                    _plan_stock(plan, rng, face, item_ix, qty, received)
            wants_reserve = central or rng.random() < 0.4
            if wants_reserve and free_reserves:
                cases = rng.randint(2, 6) if not central else rng.randint(20, 80)
                _plan_stock(plan, rng, free_reserves.pop(), item_ix, cases * 6, received)


def _plan_stock(
    plan: DemoPlan,
    rng: random.Random,
    slot_ix: int,
    item_ix: int,
    qty: int,
    received: dt.datetime,
) -> None:
    item = plan.items[item_ix]
    lot, expiry = "", None
    if item["lot_tracked"]:
        shelf = item["shelf_life_days"] or 365
        expiry = plan.day + dt.timedelta(days=max(1, round(shelf * rng.uniform(0.25, 1.0))))
        lot = f"L{expiry:%y%m%d}{rng.randint(10, 99)}"
        while any(
            s["slot_ix"] == slot_ix and s["item_ix"] == item_ix and s["lot"] == lot
            for s in plan.stock[-3:]
        ):
            lot = f"L{expiry:%y%m%d}{rng.randint(10, 99)}"
    plan.stock.append(
        {
            "slot_ix": slot_ix,
            "item_ix": item_ix,
            "lot": lot,
            "expiry": expiry,
            "on_hand": qty,
            "received_at": received,
        }
    )


def _plan_orders(plan: DemoPlan, rng: random.Random) -> None:
    """Orders spread over the front warehouses, in 30- or 60-minute windows, 08:00-22:00."""
    zone = ZoneInfo(TIMEZONE)
    fronts = [i for i, s in enumerate(plan.sites) if s["kind"] is SiteKind.FRONT_WAREHOUSE]
    weights = [p["popularity"] for p in plan.items]
    catalogue = list(range(len(plan.items)))
    for n in range(1, plan.size.orders + 1):
        site_ix = fronts[(n - 1) % len(fronts)]
        site = plan.sites[site_ix]
        # A delivery point within 0.3-3 km, uniform over the disc around the warehouse.
        distance_km = math.sqrt(rng.uniform(0.3**2, 3.0**2))
        bearing = rng.uniform(0, 2 * math.pi)
        lat = site["latitude"] + distance_km * math.cos(bearing) / 111.2
        lon = site["longitude"] + distance_km * math.sin(bearing) / (
            111.2 * math.cos(math.radians(site["latitude"]))
        )
        minutes = rng.choice((30, 60, 60))
        start_minute = rng.randrange(8 * 60, 22 * 60 - minutes + 1, 30)
        start = dt.datetime.combine(plan.day, dt.time(start_minute // 60, start_minute % 60), zone)
        plan.orders.append(
            {
                "site_ix": site_ix,
                "number": f"SO{plan.day:%y%m%d}{n:05d}",
                "customer_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "phone": f"+31 6 {rng.randint(10_000_000, 99_999_999)}",
                "address": f"{rng.choice(STREETS)} {rng.randint(1, 250)}, Amsterdam",
                "latitude": round(lat, 6),
                "longitude": round(lon, 6),
                "promised_start": start.astimezone(dt.UTC),
                "promised_end": (start + dt.timedelta(minutes=minutes)).astimezone(dt.UTC),
                "priority": 1 if rng.random() < 0.1 else 0,
                "status": OrderStatus.OPEN,
            }
        )
        line_count = min(12, 1 + int(rng.expovariate(1 / 3)))
        chosen: list[int] = []
        while len(chosen) < line_count:
            (item_ix,) = rng.choices(catalogue, weights=weights)
            if item_ix not in chosen:
                chosen.append(item_ix)
        for line_no, item_ix in enumerate(chosen, start=1):
            plan.lines.append(
                {
                    "order_ix": len(plan.orders) - 1,
                    "line_no": line_no,
                    "item_ix": item_ix,
                    "quantity": rng.choice((1, 1, 1, 2, 2, 3, 4, 6)),
                }
            )


def _plan_carriers(plan: DemoPlan) -> None:
    plan.carriers += [
        {"code": "CYCLO", "name": "Cyclo Couriers", "contact_email": "dispatch@cyclo.example"},
        {"code": "STADSVAN", "name": "Stadsvan Logistics", "contact_email": "ops@stadsvan.example"},
    ]
    early, late, day_shift = (
        (dt.time(7), dt.time(15)),
        (dt.time(14), dt.time(22)),
        (dt.time(8), dt.time(20)),
    )
    for site_ix, site in enumerate(plan.sites):
        code = site["code"]
        if site["kind"] is SiteKind.CENTRAL_DC:
            for n in (1, 2):
                plan.vehicles.append(
                    {
                        "carrier_ix": 1,
                        "site_ix": site_ix,
                        "code": f"{code}-TRUCK{n}",
                        "kind": VehicleKind.TRUCK,
                        "plate": f"BX-{100 + n}-T",
                        "capacity_totes": 480,
                        "capacity_kg": 8000,
                        "chilled": True,
                        "frozen": True,
                        "shift_start": dt.time(4),
                        "shift_end": dt.time(16),
                    }
                )
            continue
        for n, (start, end) in enumerate((early, early, late, late), start=1):
            plan.vehicles.append(
                {
                    "carrier_ix": 0,
                    "site_ix": site_ix,
                    "code": f"{code}-BIKE{n}",
                    "kind": VehicleKind.CARGO_BIKE,
                    "plate": "",
                    "capacity_totes": 6,
                    "capacity_kg": 120,
                    "chilled": True,
                    "frozen": False,
                    "shift_start": start,
                    "shift_end": end,
                }
            )
        for n in (1, 2):
            plan.vehicles.append(
                {
                    "carrier_ix": 1,
                    "site_ix": site_ix,
                    "code": f"{code}-VAN{n}",
                    "kind": VehicleKind.VAN,
                    "plate": f"V-{site_ix:02d}{n}-EV",
                    "capacity_totes": 40,
                    "capacity_kg": 700,
                    "chilled": True,
                    "frozen": n == 1,
                    "shift_start": day_shift[0],
                    "shift_end": day_shift[1],
                }
            )

    # A driver per vehicle, so every vehicle of a window can be driven (codes per carrier).
    for carrier_ix in range(len(plan.carriers)):
        fleet = [v for v in plan.vehicles if v["carrier_ix"] == carrier_ix]
        for n, _ in enumerate(fleet, start=1):
            first = DRIVER_NAMES[(n - 1) % len(DRIVER_NAMES)]
            plan.drivers.append(
                {
                    "carrier_ix": carrier_ix,
                    "code": f"D{n:03d}",
                    "name": f"{first} {chr(ord('A') + (n - 1) // len(DRIVER_NAMES))}.",
                    "phone": f"+31 6 {carrier_ix + 1}{n:07d}",
                }
            )


# --- writing ---------------------------------------------------------------------------------


class _Steps:
    """A rich progress bar over the tables, or nothing when progress is off."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("demo network", total=total) if progress else None

    def advance(self, rows: int, label: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=rows, description=label)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        yield progress


CHUNK = 5000


def _insert(
    session: Session, model: type[Any], rows: Sequence[dict[str, Any]], steps: _Steps, label: str
) -> list[int]:
    """Bulk-insert rows, returning their ids in order."""
    ids: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        result = session.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True), list(chunk)
        )
        ids.extend(result.scalars().all())
        steps.advance(len(chunk), label)
    return ids


def _rows(rows: Sequence[dict[str, Any]], **refs: list[int]) -> list[dict[str, Any]]:
    """Plan rows as table rows: ``site=site_ids`` turns each ``site_ix`` into a ``site_id``."""
    out = []
    for row in rows:
        values = {k: v for k, v in row.items() if not k.endswith("_ix") and k != "popularity"}
        for name, ids in refs.items():
            ix = row[f"{name}_ix"]
            values[f"{name}_id"] = ids[ix] if ix is not None else None
        out.append(values)
    return out


def write(
    session: Session, plan: DemoPlan, *, secret_key: str, progress: bool = False
) -> dict[str, int]:
    """Insert the plan; stock arrives through receipt movements. Returns counts per table."""
    total = sum(
        len(rows)
        for rows in (plan.sites, plan.zones, plan.items, plan.barcodes, plan.slots, plan.stock,
                     plan.stock, plan.orders, plan.lines, plan.carriers, plan.vehicles,
                plan.drivers)
    )  # fmt: skip
    with _progress(progress) as bar:
        steps = _Steps(bar, total)
        site_ids = _insert(session, Site, _rows(plan.sites), steps, "sites")
        zone_ids = _insert(session, Zone, _rows(plan.zones, site=site_ids), steps, "zones")
        item_ids = _insert(session, Item, _rows(plan.items), steps, "items")
        _insert(session, ItemBarcode, _rows(plan.barcodes, item=item_ids), steps, "barcodes")
        slot_rows = _rows(plan.slots, site=site_ids, zone=zone_ids, item=item_ids)
        slot_ids = _insert(session, Slot, slot_rows, steps, "slots")
        stock_rows = _rows(plan.stock, slot=slot_ids, item=item_ids)
        stock_ids = _insert(session, Stock, stock_rows, steps, "stock")
        # The ledger: one receipt per stock row, so on-hand equals the sum of movements.
        operation = str(uuid.UUID(int=random.Random(plan.seed).getrandbits(128)))
        receipts = [
            {"stock_id": stock_id, "kind": MovementKind.RECEIPT, "quantity": s["on_hand"],
             "operation_id": operation, "reason": "demo network opening stock",
             "reference": "demo", "created_at": s["received_at"]}
            for stock_id, s in zip(stock_ids, plan.stock, strict=True)
        ]  # fmt: skip
        _insert(session, Movement, receipts, steps, "ledger")
        order_ids = _insert(session, Order, _rows(plan.orders, site=site_ids), steps, "orders")
        line_rows = _rows(plan.lines, order=order_ids, item=item_ids)
        _insert(session, OrderLine, line_rows, steps, "order lines")
        carrier_ids = _insert(session, Carrier, _rows(plan.carriers), steps, "carriers")
        vehicle_rows = _rows(plan.vehicles, carrier=carrier_ids, site=site_ids)
        _insert(session, Vehicle, vehicle_rows, steps, "vehicles")
        _insert(session, Driver, _rows(plan.drivers, carrier=carrier_ids), steps, "drivers")
    _write_users(session, site_ids, secret_key)
    session.flush()
    return {
        "sites": len(plan.sites),
        "slots": len(plan.slots),
        "items": len(plan.items),
        "stock rows": len(plan.stock),
        "units": sum(s["on_hand"] for s in plan.stock),
        "orders": len(plan.orders),
        "order lines": len(plan.lines),
        "vehicles": len(plan.vehicles),
        "drivers": len(plan.drivers),
        "users": len(DEMO_USERS),
    }


def _write_users(session: Session, site_ids: list[int], secret_key: str) -> None:
    for demo_user in DEMO_USERS:
        user = User(
            username=demo_user.username,
            display_name=demo_user.display_name,
            role=demo_user.role,
            password_hash=hash_secret(demo_user.password),
            badge_hmac=badge_digest(secret_key, demo_user.badge) if demo_user.badge else None,
            pin_hash=hash_secret(demo_user.pin) if demo_user.pin else None,
        )
        session.add(user)
        session.flush()
        session.execute(
            insert(user_site), [{"user_id": user.id, "site_id": sid} for sid in site_ids]
        )


def database_is_empty(session: Session) -> bool:
    """True when no site, item, user or order exists yet."""
    return not any(
        session.scalar(select(exists().select_from(model))) for model in (Site, Item, User, Order)
    )


def demo_logins(session: Session) -> list[str]:
    """Login hints for the demo users that exist in this database."""
    present = set(
        session.scalars(
            select(User.username).where(User.username.in_([u.username for u in DEMO_USERS]))
        )
    )
    return [u.login_hint() for u in DEMO_USERS if u.username in present]
