"""A seeded, realistic demo workspace: customers whose buying behaviour differs by hidden persona.

The generator produces rows in exactly the import file shapes (``patron import``), so the demo goes through
the same validation and upsert path as real data. Personas are kept out of the data (they are the "truth"
later analytics must recover) and returned beside it for the survey generator and for tests.

Behaviour by persona, per day a customer is active:
- loyal: frequent (about every 3 weeks), steady, bigger baskets;
- regular: about every 6–7 weeks;
- deal_seeker: rare, but six times as likely to buy in a promotion window, with a discount;
- occasional: a few times a year;
- lapsing: frequent until a churn day inside the history, silent after it, with support contacts before it
  (and half of those escalated into complaints, against 15 % for the others: ``complaints``).
Orders follow the season (Lunar New Year and Mid-Autumn gift peaks, a summer dip in hot tea, weekends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from patron.demo import catalog

ZONE = ZoneInfo("Asia/Taipei")
PERSONAS: tuple[str, ...] = ("loyal", "regular", "deal_seeker", "occasional", "lapsing")
PERSONA_SHARE = np.array([0.20, 0.30, 0.25, 0.15, 0.10])
#: Mean days between orders while active.
PERSONA_GAP_DAYS = np.array([23.0, 50.0, 120.0, 170.0, 30.0])
PROMO_BOOST = 6.0
LOCALES = ("zh-Hant", "zh-Hans", "en")
LOCALE_SHARE = np.array([0.80, 0.10, 0.10])
CHANNEL_PREFERENCES = (("web", 0.45), ("app", 0.25), ("store", 0.30))


@dataclass(frozen=True)
class DemoConfig:
    customers: int = 5_000
    seed: int = 20_251_123
    end: date = date(2026, 11, 22)
    days: int = 730


@dataclass
class DemoData:
    customers: list[dict[str, object]]
    products: list[dict[str, object]]
    order_lines: list[dict[str, object]]
    interactions: list[dict[str, object]]
    personas: dict[str, str] = field(default_factory=dict)

    @property
    def order_count(self) -> int:
        return len({row["order_id"] for row in self.order_lines})


def _festival_dates(year: int) -> dict[str, date]:
    """Approximate Gregorian dates of the gift festivals; good enough for demand peaks."""
    lunar_new_year = {
        2024: date(2024, 2, 10),
        2025: date(2025, 1, 29),
        2026: date(2026, 2, 17),
        2027: date(2027, 2, 6),
    }
    mid_autumn = {
        2024: date(2024, 9, 17),
        2025: date(2025, 10, 6),
        2026: date(2026, 9, 25),
        2027: date(2027, 9, 15),
    }
    return {
        "lunar_new_year": lunar_new_year.get(year, date(year, 2, 5)),
        "mid_autumn": mid_autumn.get(year, date(year, 9, 20)),
    }


def season_factor(day: date) -> float:
    """Relative demand on a day: festival gift peaks, summer dip, weekend lift."""
    factor = 1.0
    for festival in _festival_dates(day.year).values():
        lead = (festival - day).days
        if 0 <= lead <= 21:
            factor *= 2.2
    if day.month in (7, 8):
        factor *= 0.8
    if day.month == 12 and day.day >= 15:
        factor *= 1.4
    if day.weekday() >= 5:
        factor *= 1.25
    return factor


def is_promotion(day: date) -> bool:
    """Double 11, the 6.18 sale and the brand's anniversary week in March."""
    return (
        (day.month == 11 and day.day <= 11)
        or (day.month == 6 and 12 <= day.day <= 18)
        or (day.month == 3 and 15 <= day.day <= 21)
    )


def _local_datetime(day: date, hour: float) -> str:
    moment = datetime.combine(day, time(), ZONE) + timedelta(hours=hour)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Generator:
    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.start = config.end - timedelta(days=config.days - 1)
        self.days = [self.start + timedelta(days=i) for i in range(config.days)]
        self.season = np.array([season_factor(d) for d in self.days])
        self.season /= self.season.mean()
        self.promo = np.array([is_promotion(d) for d in self.days])
        self.gift_season = np.array([season_factor(d) > 2.0 for d in self.days])
        self.interactions: list[dict[str, object]] = []

    # ------------------------------------------------------------------ products
    def products(self) -> list[dict[str, object]]:
        return [
            {
                "external_id": f"P{i + 1:04d}",
                "name": name,
                "category": category,
                "price": price,
                "currency": "TWD",
            }
            for i, (category, name, price) in enumerate(catalog.PRODUCTS)
        ]

    # ------------------------------------------------------------------ customers
    def _name(self, locale: str) -> str:
        rng = self.rng
        if locale == "zh-Hant":
            return str(rng.choice(catalog.SURNAMES_HANT)) + str(rng.choice(catalog.GIVEN_HANT))
        if locale == "zh-Hans":
            return str(rng.choice(catalog.SURNAMES_HANS)) + str(rng.choice(catalog.GIVEN_HANS))
        return f"{rng.choice(catalog.GIVEN_EN)} {rng.choice(catalog.SURNAMES_EN)}"

    def customers(self) -> tuple[list[dict[str, object]], np.ndarray, np.ndarray, np.ndarray]:
        """Rows plus, per customer, persona index, first active day index and last active day index."""
        n, rng = self.config.customers, self.rng
        personas = rng.choice(len(PERSONAS), size=n, p=PERSONA_SHARE)
        locales = rng.choice(len(LOCALES), size=n, p=LOCALE_SHARE)
        city_names = [c for c, _ in catalog.CITIES]
        city_weights = np.array([w for _, w in catalog.CITIES])
        cities = rng.choice(len(city_names), size=n, p=city_weights / city_weights.sum())
        # 60 % were customers before the history starts; the rest join during it, more in gift seasons.
        joined_before = rng.random(n) < 0.6
        join_weights = self.season / self.season.sum()
        join_day = np.where(joined_before, 0, rng.choice(self.config.days, size=n, p=join_weights))
        churn_day = np.full(n, self.config.days - 1)
        lapsing = personas == PERSONAS.index("lapsing")
        span = self.config.days - join_day[lapsing]
        churn_day[lapsing] = join_day[lapsing] + (span * rng.uniform(0.2, 0.8, size=lapsing.sum())).astype(
            int
        )
        rows: list[dict[str, object]] = []
        for i in range(n):
            locale = LOCALES[locales[i]]
            if joined_before[i]:
                signup = self.start - timedelta(days=int(rng.integers(1, 5 * 365)))
            else:
                signup = self.days[join_day[i]]
            birthday = date(int(rng.integers(1955, 2007)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
            external_id = f"C{i + 1:06d}"
            rows.append(
                {
                    "external_id": external_id,
                    "name": self._name(locale),
                    "email": f"{external_id.lower()}@{rng.choice(catalog.EMAIL_DOMAINS)}",
                    "phone": f"09{int(rng.integers(10_000_000, 99_999_999)):08d}",
                    "birthday": birthday.isoformat(),
                    "gender": str(rng.choice(["female", "male", "other"], p=[0.58, 0.40, 0.02])),
                    "locale": locale,
                    "city": city_names[cities[i]],
                    "segment": "",  # filled from spend once orders exist
                    "signup_at": _local_datetime(signup, float(rng.uniform(9, 23))),
                    "consent_email": bool(rng.random() < 0.7),
                    "consent_sms": bool(rng.random() < 0.4),
                    "consent_surveys": bool(rng.random() < 0.65),
                }
            )
        return rows, personas, join_day, churn_day

    # ------------------------------------------------------------------ orders
    def orders(
        self,
        customers: list[dict[str, object]],
        personas: np.ndarray,
        join_day: np.ndarray,
        churn_day: np.ndarray,
        products: list[dict[str, object]],
    ) -> list[dict[str, object]]:
        rng, days = self.rng, self.config.days
        by_category: dict[str, list[int]] = {}
        for index, product in enumerate(products):
            by_category.setdefault(str(product["category"]), []).append(index)
        categories = list(by_category)
        day_index = np.arange(days)
        lines: list[dict[str, object]] = []
        order_no = 0
        deal = PERSONAS.index("deal_seeker")
        for i, customer in enumerate(customers):
            persona = int(personas[i])
            rate = (1.0 / PERSONA_GAP_DAYS[persona]) * self.season * rng.lognormal(0.0, 0.35)
            if persona == deal:
                rate = np.where(self.promo, rate * PROMO_BOOST, rate)
            active = (day_index >= join_day[i]) & (day_index <= churn_day[i])
            counts = rng.poisson(np.where(active, rate, 0.0))
            channel_names = [c for c, _ in CHANNEL_PREFERENCES]
            weights = np.array([w for _, w in CHANNEL_PREFERENCES]) * rng.dirichlet([2.0, 2.0, 2.0])
            weights /= weights.sum()
            store = catalog.STORES.get(str(customer["city"]))
            for d in np.flatnonzero(counts):
                for _ in range(int(counts[d])):
                    order_no += 1
                    day = self.days[d]
                    channel = str(rng.choice(channel_names, p=weights))
                    if channel == "store" and store is None:
                        channel = "web"
                    hour = (
                        float(rng.uniform(10, 21.5))
                        if channel == "store"
                        else float(rng.triangular(7, 21, 24))
                    )
                    status = self._status(int(d))
                    order_id = f"O{order_no:07d}"
                    promo_discount = persona == deal and bool(self.promo[d])
                    category_weights = np.array(
                        [3.0 if (c == "gift_boxes" and self.gift_season[d]) else 1.0 for c in categories]
                    )
                    n_lines = 1 + min(int(rng.poisson(1.2 if persona == 0 else 0.8)), 5)
                    chosen: set[int] = set()
                    for _ in range(n_lines):
                        category = categories[
                            rng.choice(len(categories), p=category_weights / category_weights.sum())
                        ]
                        product_index = int(rng.choice(by_category[category]))
                        if product_index in chosen:
                            continue
                        chosen.add(product_index)
                        line_no = len(chosen)
                        product = products[product_index]
                        price = int(str(product["price"]))
                        quantity = 1 + int(rng.poisson(0.4 if category != "ready_to_drink" else 2.0))
                        discount = (
                            round(price * quantity * float(rng.choice([0.1, 0.15, 0.2])))
                            if promo_discount
                            else 0
                        )
                        lines.append(
                            {
                                "order_id": order_id, "line_no": line_no, "customer_id": customer["external_id"],
                                "ordered_at": _local_datetime(day, hour), "status": status, "channel": channel,
                                "store": store if channel == "store" else "", "currency": "TWD",
                                "product_id": product["external_id"], "quantity": quantity,
                                "unit_price": price, "discount": discount,
                            }
                        )  # fmt: skip
                    self._order_interactions(customer, order_id, int(d), hour, channel, status, persona)
        return lines

    def _status(self, day_index: int) -> str:
        recency = self.config.days - 1 - day_index
        if recency <= 1:
            return "paid"
        if recency <= 4:
            return "shipped"
        draw = float(self.rng.random())
        return "cancelled" if draw < 0.025 else "returned" if draw < 0.045 else "completed"

    # ------------------------------------------------------------------ interactions
    def _event(
        self,
        customer: dict[str, object],
        day_index: int,
        hour: float,
        kind: str,
        channel: str,
        **extra: object,
    ) -> None:
        if day_index >= self.config.days:
            return
        self.interactions.append(
            {
                "customer_id": customer["external_id"], "occurred_at": _local_datetime(self.days[day_index], hour),
                "type": kind, "channel": channel, "product_id": extra.get("product_id", ""),
                "order_id": extra.get("order_id", ""), "detail": extra.get("detail", ""),
            }
        )  # fmt: skip

    def _order_interactions(
        self,
        customer: dict[str, object],
        order_id: str,
        day: int,
        hour: float,
        channel: str,
        status: str,
        persona: int,
    ) -> None:
        rng = self.rng
        if channel in ("web", "app"):
            for _ in range(int(rng.poisson(1.5))):
                lead = float(rng.uniform(0.05, 2.0))
                self._event(customer, day, max(hour - lead, 0.0), "product_view", channel,
                            product_id=f"P{int(rng.integers(1, len(catalog.PRODUCTS) + 1)):04d}")  # fmt: skip
            if status == "completed":
                delay = int(rng.integers(1, 4)) + (2 if rng.random() < 0.08 else 0)
                self._event(customer, day + delay, float(rng.uniform(10, 19)), "order_delivered", channel,
                            order_id=order_id, detail="late" if delay > 3 else "")  # fmt: skip
        elif channel == "store":
            self._event(customer, day, hour, "store_visit", "store", order_id=order_id)
        # Problems cluster among the customers about to leave: that is part of why they leave.
        support_chance = 0.15 if persona == PERSONAS.index("lapsing") else 0.04
        if rng.random() < support_chance:
            topic = str(rng.choice(["delivery", "product_quality", "refund", "membership", "payment"]))
            self._event(customer, day + int(rng.integers(1, 6)), float(rng.uniform(9, 21)), "support_contact",
                        str(rng.choice(["chat", "phone", "email"])), order_id=order_id, detail=topic)  # fmt: skip

    def background_interactions(
        self, customers: list[dict[str, object]], join_day: np.ndarray, churn_day: np.ndarray
    ) -> None:
        """Newsletter opens and app sessions that happen whether or not the customer buys."""
        rng = self.rng
        newsletter_days = [i for i, d in enumerate(self.days) if d.day == 5]
        for i, customer in enumerate(customers):
            last = int(churn_day[i])
            engaged = last == self.config.days - 1
            if customer["consent_email"]:
                open_rate = 0.45 if engaged else 0.15
                for d in newsletter_days:
                    if d >= join_day[i] and rng.random() < (open_rate if d <= last else 0.03):
                        hour = float(rng.uniform(8, 23))
                        self._event(customer, d, hour, "email_open", "email", detail="newsletter")
                        if rng.random() < 0.25:
                            self._event(customer, d, hour + 0.05, "email_click", "email", detail="newsletter")
            sessions = rng.poisson(max(last - int(join_day[i]), 0) / 60.0)
            for d in rng.integers(int(join_day[i]), last + 1, size=sessions):
                self._event(customer, int(d), float(rng.uniform(7, 24)), "app_open", "app")

    def run(self) -> DemoData:
        products = self.products()
        customers, personas, join_day, churn_day = self.customers()
        lines = self.orders(customers, personas, join_day, churn_day, products)
        self.background_interactions(customers, join_day, churn_day)
        _assign_segments(customers, lines, self.start, self.days[-1])
        self.interactions.sort(key=lambda row: (str(row["occurred_at"]), str(row["customer_id"])))
        for number, row in enumerate(self.interactions, start=1):
            row["external_id"] = f"E{number:08d}"
        self.interactions.extend(complaints(self.interactions, personas_by_id(customers, personas),
                                            self.config.seed))  # fmt: skip
        return DemoData(
            customers=customers,
            products=products,
            order_lines=lines,
            interactions=self.interactions,
            personas={
                str(c["external_id"]): PERSONAS[int(p)] for c, p in zip(customers, personas, strict=True)
            },
        )


def _assign_segments(
    customers: list[dict[str, object]], lines: list[dict[str, object]], start: date, end: date
) -> None:
    """The visible CRM segment a brand would keep: VIP by spend, new by signup date, member otherwise."""
    spend: dict[object, int] = {}
    for line in lines:
        if line["status"] not in ("cancelled", "returned"):
            amount = int(str(line["unit_price"])) * int(str(line["quantity"])) - int(str(line["discount"]))
            spend[line["customer_id"]] = spend.get(line["customer_id"], 0) + amount
    threshold = float(np.quantile(list(spend.values()), 0.9)) if spend else 0.0
    recent = (
        datetime.combine(end - timedelta(days=90), time(), ZONE)
        .astimezone(UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    for customer in customers:
        total = spend.get(customer["external_id"], 0)
        if total and total >= threshold:
            customer["segment"] = "vip"
        elif str(customer["signup_at"]) >= recent:
            customer["segment"] = "new"
        else:
            customer["segment"] = "member"


def generate(config: DemoConfig) -> DemoData:
    """The same config always yields the same data, row for row."""
    return _Generator(config).run()


#: The chance that a support contact is escalated into a complaint (an interaction of type ``complaint`` a few
#: hours later, on the same channel, about the same topic): customers about to leave complain more.
COMPLAINT_CHANCE = {"lapsing": 0.5}
COMPLAINT_CHANCE_OTHERS = 0.15


def personas_by_id(customers: list[dict[str, object]], personas: np.ndarray) -> dict[str, str]:
    return {str(c["external_id"]): PERSONAS[int(p)] for c, p in zip(customers, personas, strict=True)}


def complaints(
    interactions: list[dict[str, object]], personas: dict[str, str], seed: int
) -> list[dict[str, object]]:
    """Complaints escalated from support contacts (``COMPLAINT_CHANCE``), drawn from a random stream of their
    own and numbered ``K…`` after the other interactions, so every other row of the demo stays as it was."""
    rng = np.random.default_rng([seed, 16])
    made: list[dict[str, object]] = []
    for row in interactions:
        if row["type"] != "support_contact":
            continue
        chance = COMPLAINT_CHANCE.get(personas.get(str(row["customer_id"]), ""), COMPLAINT_CHANCE_OTHERS)
        if rng.random() >= chance:
            continue
        # support contacts are between 09:00 and 21:00 local: the complaint stays on the same local day
        at = datetime.fromisoformat(str(row["occurred_at"])) + timedelta(hours=float(rng.uniform(0.25, 2.5)))
        made.append({**row, "type": "complaint", "occurred_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "external_id": f"K{len(made) + 1:08d}"})  # fmt: skip
    return made
