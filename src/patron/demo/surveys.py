"""Survey invitations and responses for the demo, consistent with each customer's behaviour.

Who is invited follows the product's own rules (consent, 30-day quiet period, triggers): a post-purchase CSAT
two days after a web/app delivery, a support CES the day after a support contact, and a relationship NPS wave
to a fifth of the customers each quarter. Whether they answer, and what, follows the hidden persona and what
happened to them: loyal customers are promoters who value quality, deal seekers care about price and score
in the middle, lapsing customers turn into detractors as they drift away, a late delivery costs satisfaction,
and a support contact costs effort. Comments are written in the customer's language about a theme that fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from patron.core.clock import utcnow
from patron.demo.generator import DemoData
from patron.surveys.texts import to_simplified

RESPONSE_RATE = {"loyal": 0.45, "regular": 0.33, "deal_seeker": 0.25, "occasional": 0.18, "lapsing": 0.22}
NPS_MEAN = {"loyal": 9.3, "regular": 7.9, "deal_seeker": 6.8, "occasional": 7.2, "lapsing": 4.2}
VALUE_MOST = {
    "loyal": (("product_quality", 0.5), ("brand", 0.3), ("loyalty_rewards", 0.2)),
    "regular": (("product_quality", 0.35), ("convenience", 0.4), ("price_value", 0.25)),
    "deal_seeker": (("price_value", 0.6), ("loyalty_rewards", 0.3), ("convenience", 0.1)),
    "occasional": (("convenience", 0.5), ("product_quality", 0.3), ("price_value", 0.2)),
    "lapsing": (("price_value", 0.5), ("convenience", 0.3), ("product_quality", 0.2)),
}
QUIET_DAYS = 30
#: What a relationship NPS answer remembers: a late delivery or a support contact in the days before the wave
#: lowers the score by this much and is what the comment is about (docs/drivers.md: the demo's drivers).
PAIN_DAYS = 120
PAIN_PENALTY = {"delivery": 3.0, "support": 2.0}
PAIN_COMMENT = 0.85
#: Loyal customers forgive more: their penalty is scaled down.
PAIN_WEIGHT = {"loyal": 0.25}
#: Interaction type -> (survey, delay): the same triggers the survey templates define.
TRIGGERS = {
    "order_delivered": ("post_purchase_csat", timedelta(days=2)),
    "support_contact": ("support_ces", timedelta(days=1)),
}

# Comment banks: theme -> (positive, negative) in zh-Hant and en; zh-Hans is derived with OpenCC.
COMMENTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "taste": (
        (
            "茶香很濃郁，回甘明顯，家人都很喜歡。",
            "The tea is fragrant with a lovely aftertaste; my family loves it.",
        ),
        (
            "這次的茶味道比以前淡，品質不太穩定。",
            "The tea tasted weaker than before; the quality is inconsistent.",
        ),
    ),
    "delivery": (
        ("出貨很快，隔天就收到了。", "Fast shipping, it arrived the next day."),
        ("送貨比預期慢了好幾天，也沒有通知。", "Delivery was late by several days and nobody told me."),
    ),
    "packaging": (
        ("包裝精美，送禮很有面子。", "Beautiful packaging, perfect as a gift."),
        ("紙盒壓壞了，茶葉灑出來。", "The box arrived crushed and tea leaves spilled out."),
    ),
    "price": (
        ("價格合理，會員折扣很划算。", "Fair prices and the member discount is worth it."),
        ("價格越來越貴，優惠也變少了。", "Prices keep going up and there are fewer deals."),
    ),
    "staff": (
        ("門市人員很親切，會耐心介紹茶款。", "Store staff are friendly and patiently explain the teas."),
        ("店員態度冷淡，問問題也愛理不理。", "Staff were cold and ignored my questions."),
    ),
    "app": (
        ("App 很好用，下單和查點數都很方便。", "The app is easy to use for ordering and checking points."),
        ("App 常常當機，結帳一直失敗。", "The app keeps crashing and checkout fails."),
    ),
    "support": (
        ("客服回覆迅速，很快就幫我處理好了。", "Support answered quickly and sorted it out fast."),
        (
            "客服回覆很慢，一直轉接，問題到現在還沒解決。",
            "The support staff were slow and unhelpful; my issue is still not solved.",
        ),
    ),
}
#: SERVQUAL (the built-in ``servqual`` survey, one item per dimension): monthly waves over the last
#: ``SERVQUAL_WAVES`` months, each to a ``1 / SERVQUAL_SHARE`` sample of customers not invited to anything within
#: the quiet period either side. Expectation ~ N(6.1, 0.6); perception = expectation + the dimension's gap + the
#: persona's shift + N(0, 0.9), both rounded and held to 1–7. Responsiveness starts well short of expectation and
#: improves wave by wave (``SERVQUAL_RESPONSIVENESS``: first and last wave's mean gap).
SERVQUAL_WAVES = 6
SERVQUAL_SHARE = 8
SERVQUAL_ITEMS = {"promised_on_time": -0.5, "prompt_service": 0.0, "trustworthy_staff": -0.2,
                  "individual_attention": -0.4, "pleasant_store": 0.4}  # fmt: skip
SERVQUAL_RESPONSIVENESS = (-2.0, -0.7)
SERVQUAL_PERSONA = {"loyal": 0.4, "regular": 0.0, "deal_seeker": -0.1, "occasional": 0.0, "lapsing": -0.7}
THEMES_BY_PERSONA = {
    "loyal": ("taste", "packaging", "staff", "app"),
    "regular": ("taste", "delivery", "app", "staff"),
    "deal_seeker": ("price", "delivery", "app"),
    "occasional": ("delivery", "packaging", "taste"),
    "lapsing": ("price", "delivery", "support", "taste"),
}


@dataclass
class DemoSurveys:
    """Rows keyed by external ids; the loader resolves them to database ids."""

    invitations: list[dict[str, object]] = field(default_factory=list)
    responses: list[dict[str, object]] = field(default_factory=list)


def _comment(theme: str, positive: bool, locale: str) -> str:
    zh_hant, english = COMMENTS[theme][0 if positive else 1]
    if locale == "en":
        return english
    return to_simplified(zh_hant) if locale == "zh-Hans" else zh_hant


def _parse(moment: object) -> datetime:
    return datetime.fromisoformat(str(moment).replace("Z", "+00:00"))


class _Builder:
    def __init__(self, data: DemoData, seed: int) -> None:
        self.data = data
        self.seed = seed
        self.rng = np.random.default_rng(seed + 1)
        self.customers = {str(c["external_id"]): c for c in data.customers}
        self.last_invited: dict[str, datetime] = {}
        self.out = DemoSurveys()
        ends = [_parse(r["ordered_at"]) for r in data.order_lines]
        self.end = max(ends) if ends else utcnow()
        self.late_orders = {
            str(i["order_id"])
            for i in data.interactions
            if i["type"] == "order_delivered" and i["detail"] == "late"
        }
        self.support_orders = {
            str(i["order_id"]) for i in data.interactions if i["type"] == "support_contact"
        }
        self.pains: dict[str, list[tuple[datetime, str]]] = {}
        for i in data.interactions:
            late = i["type"] == "order_delivered" and i["detail"] == "late"
            if late or i["type"] == "support_contact":
                self.pains.setdefault(str(i["customer_id"]), []).append(
                    (_parse(i["occurred_at"]), "delivery" if late else "support")
                )

    def pains_before(self, customer_id: str, when: datetime) -> list[str]:
        """The customer's late deliveries and support contacts in the PAIN_DAYS before ``when``, delivery first."""
        recent = {
            kind
            for at, kind in self.pains.get(customer_id, [])
            if when - timedelta(days=PAIN_DAYS) <= at < when
        }
        return [kind for kind in PAIN_PENALTY if kind in recent]

    def allowed(self, customer_id: str, when: datetime) -> bool:
        customer = self.customers[customer_id]
        if not customer["consent_surveys"] or not customer["email"]:
            return False
        last = self.last_invited.get(customer_id)
        return last is None or when - last >= timedelta(days=QUIET_DAYS)

    def invite(
        self, survey: str, customer_id: str, subject: str, when: datetime, order_id: str | None
    ) -> None:
        self.last_invited[customer_id] = when
        persona = self.data.personas[customer_id]
        customer = self.customers[customer_id]
        locale = str(customer["locale"])
        answered = bool(self.rng.random() < RESPONSE_RATE[persona])
        answered_at = when + timedelta(hours=float(self.rng.uniform(1, 72))) if answered else None
        if answered_at is not None and answered_at > self.end:
            answered_at = None
        self.out.invitations.append({
            "survey": survey, "customer_id": customer_id, "subject": subject, "order_id": order_id, "locale": locale,
            "sent_at": when, "answered_at": answered_at,
            "reminded_at": when + timedelta(days=3) if answered_at is None or answered_at - when > timedelta(days=3) else None,
        })  # fmt: skip
        if answered_at is None:
            return
        answers = self.answers(survey, persona, locale, order_id, when, self.pains_before(customer_id, when))
        self.out.responses.append({
            "survey": survey, "customer_id": customer_id, "subject": subject, "order_id": order_id, "locale": locale,
            "completed_at": answered_at, "answers": answers,
        })  # fmt: skip

    def servqual_waves(self) -> None:
        """The SERVQUAL waves, drawn after every other invitation with their own random stream, so the demo's
        other surveys stay as they were; a customer is invited only when no other invitation is within the quiet
        period either side."""
        rng = np.random.default_rng(self.seed + 19)
        sent: dict[str, list[datetime]] = {}
        for invitation in self.out.invitations:
            sent.setdefault(str(invitation["customer_id"]), []).append(_parse(invitation["sent_at"]))
        quiet = timedelta(days=QUIET_DAYS)
        customers = sorted(self.customers)
        for wave in range(SERVQUAL_WAVES):
            # the 10th of each of the last SERVQUAL_WAVES complete months (one wave per calendar month)
            months = self.end.year * 12 + self.end.month - 1 - (SERVQUAL_WAVES - wave)
            when = datetime(months // 12, months % 12 + 1, 10, 2, tzinfo=self.end.tzinfo or UTC)
            progress = wave / max(SERVQUAL_WAVES - 1, 1)
            low, high = SERVQUAL_RESPONSIVENESS
            gaps = dict(SERVQUAL_ITEMS, prompt_service=low + (high - low) * progress)
            for customer_id in rng.choice(customers, size=len(customers) // SERVQUAL_SHARE, replace=False):
                customer_id = str(customer_id)
                customer = self.customers[customer_id]
                if not customer["consent_surveys"] or not customer["email"]:
                    continue
                if any(abs(when - other) < quiet for other in sent.get(customer_id, [])):
                    continue
                sent.setdefault(customer_id, []).append(when)
                persona = self.data.personas[customer_id]
                locale = str(customer["locale"])
                answered = bool(rng.random() < RESPONSE_RATE[persona])
                answered_at = when + timedelta(hours=float(rng.uniform(1, 72))) if answered else None
                if answered_at is not None and answered_at > self.end:
                    answered_at = None
                subject = f"wave:{when:%Y-%m}"
                self.out.invitations.append({
                    "survey": "servqual", "customer_id": customer_id, "subject": subject, "order_id": None,
                    "locale": locale, "sent_at": when, "answered_at": answered_at,
                    "reminded_at": when + timedelta(days=3) if answered_at is None or answered_at - when > timedelta(days=3) else None,
                })  # fmt: skip
                if answered_at is None:
                    continue
                pairs: dict[str, dict[str, int]] = {}
                for item, gap in gaps.items():
                    expectation = float(np.clip(round(rng.normal(6.1, 0.6)), 1, 7))
                    perception = expectation + gap + SERVQUAL_PERSONA[persona] + rng.normal(0, 0.9)
                    pairs[item] = {
                        "expectation": int(expectation),
                        "perception": int(np.clip(round(perception), 1, 7)),
                    }
                self.out.responses.append({
                    "survey": "servqual", "customer_id": customer_id, "subject": subject, "order_id": None,
                    "locale": locale, "completed_at": answered_at, "answers": {"quality": pairs},
                })  # fmt: skip

    def answers(
        self, survey: str, persona: str, locale: str, order_id: str | None, when: datetime, pains: list[str]
    ) -> dict[str, object]:
        rng = self.rng
        themes = THEMES_BY_PERSONA[persona]
        if survey == "relationship_nps":
            penalty = PAIN_WEIGHT.get(persona, 1.0) * sum(PAIN_PENALTY[pain] for pain in pains)
            score = int(np.clip(round(rng.normal(NPS_MEAN[persona] - penalty, 1.4)), 0, 10))
            theme = str(rng.choice(themes))
            answers: dict[str, object] = {"nps": score}
            if pains and rng.random() < PAIN_COMMENT:  # what went wrong lately is what they write about
                answers["reason"] = _comment(pains[0], False, locale)
            elif rng.random() < 0.7:
                answers["reason"] = _comment(theme, score >= 7, locale)
            if score <= 6 and rng.random() < 0.6:
                answers["went_wrong"] = _comment(
                    str(rng.choice(("delivery", "price", "support", "taste"))), False, locale
                )
            if score >= 9 and rng.random() < 0.4:
                answers["testimonial"] = _comment(theme, True, locale)
            options = [option for option, _ in VALUE_MOST[persona]]
            weights = np.array([weight for _, weight in VALUE_MOST[persona]])
            answers["value_most"] = str(rng.choice(options, p=weights / weights.sum()))
            if rng.random() < 0.3:
                answers["improve"] = _comment(str(rng.choice(themes)), False, locale)
            return answers
        if survey == "post_purchase_csat":
            late = order_id in self.late_orders
            mean = {"loyal": 4.6, "regular": 4.2, "deal_seeker": 3.8, "occasional": 4.0, "lapsing": 3.0}[
                persona
            ]
            score = int(np.clip(round(rng.normal(mean - (1.3 if late else 0.0), 0.7)), 1, 5))
            answers = {"csat": score}
            if score <= 3:
                answers["what_to_fix"] = _comment(
                    "delivery" if late else str(rng.choice(("packaging", "taste", "price"))), False, locale
                )
            if rng.random() < 0.35:
                answers["comment"] = _comment(str(rng.choice(themes)), score >= 4, locale)
            return answers
        # support_ces: effort 1–7 (higher is easier)
        mean = {"loyal": 5.8, "regular": 5.4, "deal_seeker": 5.0, "occasional": 5.2, "lapsing": 3.2}[persona]
        effort = int(np.clip(round(rng.normal(mean, 1.2)), 1, 7))
        answers = {"ces": effort, "csat": int(np.clip(round(effort * 5 / 7 + rng.normal(0, 0.6)), 1, 5))}
        if effort <= 4 and rng.random() < 0.7:
            answers["hard_part"] = _comment("support", False, locale)
        return answers

    def build(self) -> DemoSurveys:
        events: list[tuple[datetime, str, str, str, str | None]] = []
        for event in self.data.interactions:
            trigger = TRIGGERS.get(str(event["type"]))
            if trigger is not None:
                survey, delay = trigger
                when = _parse(event["occurred_at"]) + delay
                subject = f"interaction:{event['external_id']}"
                events.append(
                    (when, survey, str(event["customer_id"]), subject, str(event["order_id"]) or None)
                )
        start = self.end - timedelta(days=730)
        for quarter in range(8):
            wave_day = start + timedelta(days=91 * quarter + 15)
            sample = self.rng.choice(list(self.customers), size=len(self.customers) // 5, replace=False)
            events.extend(
                (wave_day, "relationship_nps", str(c), f"wave:{wave_day:%Y-%m}", None) for c in sample
            )
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        for when, survey, customer_id, subject, order_id in events:
            if when <= self.end and self.allowed(customer_id, when):
                self.invite(survey, customer_id, subject, when, order_id)
        self.servqual_waves()
        return self.out


def generate_surveys(data: DemoData, seed: int) -> DemoSurveys:
    """Same data and seed, same invitations and answers."""
    return _Builder(data, seed).build()
