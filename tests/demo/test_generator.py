"""The demo generator: seeded, shaped like the import files, and behaviourally different by persona."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from patron.demo.generator import PERSONAS, ZONE, DemoConfig, generate, is_promotion, season_factor
from patron.demo.loader import load_demo


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return generate(DemoConfig(customers=1_500, seed=7, end=date(2026, 6, 30)))


def test_same_seed_same_data_other_seed_other_data() -> None:
    config = DemoConfig(customers=60, seed=3, end=date(2026, 1, 31))
    assert generate(config) == generate(config)
    assert (
        generate(DemoConfig(customers=60, seed=4, end=date(2026, 1, 31))).order_lines
        != generate(config).order_lines
    )


def test_volumes_and_languages(data) -> None:  # type: ignore[no-untyped-def]
    assert len(data.customers) == 1_500
    per_customer = data.order_count / 1_500
    assert 9 <= per_customer <= 15, "≈60,000 orders for 5,000 customers over two years"
    locales = Counter(c["locale"] for c in data.customers)
    assert locales.most_common(1)[0][0] == "zh-Hant" and set(locales) == {"zh-Hant", "zh-Hans", "en"}
    first, last = (
        min(r["ordered_at"] for r in data.order_lines),
        max(r["ordered_at"] for r in data.order_lines),
    )
    assert first >= "2024-06-30" and last <= "2026-06-30T16"


def test_personas_behave_differently(data) -> None:  # type: ignore[no-untyped-def]
    orders = Counter(r["customer_id"] for r in data.order_lines if r["line_no"] == 1)
    mean = {
        p: statistics.mean(orders.get(c, 0) for c, q in data.personas.items() if q == p) for p in PERSONAS
    }
    assert mean["loyal"] > 2 * mean["regular"] > 2 * mean["occasional"]
    last_order: dict[object, str] = {}
    for row in data.order_lines:
        last_order[row["customer_id"]] = max(last_order.get(row["customer_id"], ""), str(row["ordered_at"]))
    recent = "2026-03-01"
    share_recent = {
        p: statistics.mean(
            last_order.get(c, "") >= recent for c, q in data.personas.items() if q == p and c in last_order
        )
        for p in ("loyal", "lapsing")
    }
    assert share_recent["loyal"] > 0.9 and share_recent["lapsing"] < 0.5, "lapsing customers stop buying"


def test_deal_seekers_buy_in_promotions_with_discounts(data) -> None:  # type: ignore[no-untyped-def]
    deal = {c for c, p in data.personas.items() if p == "deal_seeker"}
    rows = [r for r in data.order_lines if r["customer_id"] in deal]
    promo_share = statistics.mean(is_promotion(date.fromisoformat(str(r["ordered_at"])[:10])) for r in rows)
    others = [r for r in data.order_lines if r["customer_id"] not in deal]
    assert promo_share > 2 * statistics.mean(
        is_promotion(date.fromisoformat(str(r["ordered_at"])[:10])) for r in others
    )
    assert any(int(str(r["discount"])) > 0 for r in rows)


def test_seasonality() -> None:
    assert season_factor(date(2026, 2, 10)) > 2 * season_factor(date(2026, 4, 15)), "Lunar New Year gift peak"
    assert season_factor(date(2025, 7, 16)) < season_factor(date(2025, 4, 16)), "summer dip (both Wednesdays)"


def test_demo_loads_through_the_importer_without_rejects(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    said: list[str] = []
    slug = f"demo-{engine.dialect.name}-{tmp_path.name[-6:]}".lower().replace("_", "-")
    summary = load_demo(engine, slug=slug,
                        customers=80, seed=1, end=date(2026, 1, 31), admin_password="0123456789ab", data_dir=tmp_path,
                        log=said.append, locale="zh-Hant")  # fmt: skip
    assert summary.startswith("顧客 80 位、") and (tmp_path / "orders.csv").exists()
    assert said[0] == "產生 80 位顧客（種子 1，歷史資料至 2026-01-31）…" and said[1].startswith(
        "  顧客：80 列（新增 80"
    )
    feedback = next(line for line in said if line.startswith("  已分析 "))
    assert int(feedback.split()[1]) >= 300, "300 demo comments at least, and the survey comments"
    from patron.core import service as core_service
    from patron.core.db import transaction
    from patron.feedback import testimonials

    with transaction(engine) as session:  # consented testimonials, the newest approved for the public page
        page = testimonials.list_testimonials(
            session, workspace_id=core_service.get_workspace(session, slug).id
        )
    assert page.total >= 3 and page.approved == min(6, page.total)  # 3 with 80 customers, all approved
    assert {item.display_as for item in page.items} <= {"full", "initials", "anonymous"}
    with engine.connect() as connection:  # the demo's answers record their questions' scales, like every path
        scales = connection.execute(text(
            "SELECT a.question_type, a.scale_min, a.scale_max, count(*) FROM survey_answers a"
            " JOIN workspaces w ON w.id = a.workspace_id WHERE w.slug = :slug AND a.score IS NOT NULL"
            " GROUP BY a.question_type, a.scale_min, a.scale_max ORDER BY a.question_type"), {"slug": slug}).all()  # fmt: skip
    assert [(kind, low, high) for kind, low, high, _ in scales] == [
        ("ces", 1, 7),
        ("csat", 1, 5),
        ("nps", 0, 10),
        ("servqual", 1, 7),
    ]


def test_complaints_follow_support_contacts_and_leave_the_rest_alone(data) -> None:  # type: ignore[no-untyped-def]
    """Each complaint escalates a support contact of the same customer, order, channel and topic on the same local
    day; lapsing customers complain far more often; complaints come after every other row (their own numbers)."""
    contacts = [i for i in data.interactions if i["type"] == "support_contact"]
    made = [i for i in data.interactions if i["type"] == "complaint"]
    assert made and all(str(i["external_id"]).startswith("K") for i in made)
    assert [i for i in data.interactions if i["type"] != "complaint"] == data.interactions[
        : len(data.interactions) - len(made)
    ]
    by_key = {(c["customer_id"], c["order_id"], c["channel"], c["detail"]): c for c in contacts}
    for complaint in made:
        contact = by_key[
            (complaint["customer_id"], complaint["order_id"], complaint["channel"], complaint["detail"])
        ]
        assert 0 < (_moment(complaint) - _moment(contact)).total_seconds() <= 2.5 * 3600
        assert _moment(complaint).astimezone(ZONE).date() == _moment(contact).astimezone(ZONE).date()

    def share(lapsing: bool) -> float:
        mine = [c for c in contacts if (data.personas[str(c["customer_id"])] == "lapsing") == lapsing]
        keys = {(c["customer_id"], c["order_id"], c["detail"]) for c in made}
        return sum((c["customer_id"], c["order_id"], c["detail"]) in keys for c in mine) / len(mine)

    assert share(True) > 0.35 and share(False) < 0.25  # 50 % and 15 % drawn


def _moment(row: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(row["occurred_at"]))
