"""The Feedback tab on SQLite and PostgreSQL: every figure against the hand-counted one, the click-through to a
theme's comments, the exports, three languages, and a bad theme named."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.dashboard import feedback as feedback_view
from patron.dashboard.filters import parse_filters
from patron.feedback import service
from patron.feedback.models import FeedbackMention
from patron.feedback.schemas import FeedbackCreate
from tests.factories import make_workspace
from tests.feedback.test_service import ITEMS
from tests.web.conftest import PASSWORD, log_in

WINDOW = "period=custom&since=2026-11-01&until=2026-11-23&partial=1"


@dataclass
class Shop:
    workspace: Workspace
    viewer: str


def build_feedback(engine: Engine) -> Shop:
    """The comments of tests/feedback/test_service.py (no customer links), analysed. In November:
    staff m1 −, k3 +, r2 +; returns s1 −, p1 −; food r1 −, r2 +; waiting r1 +, m1 −; price k3 +; delivery r1 +;
    app s1 −. Items per channel: review r1 +, r2 +; email m1 −; chat k3 +; social s1 −; phone p1 −."""
    workspace = make_workspace(engine)
    items = [
        FeedbackCreate(**{k: v for k, v in item.items() if k not in ("email", "customer_id")})
        for item in ITEMS
    ]  # type: ignore[arg-type]
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        service.add_items(session, workspace_id=workspace.id, items=items)
        service.analyze(session, workspace_id=workspace.id)
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
    return Shop(workspace, viewer)


def test_every_figure_is_the_hand_counted_one(engine: Engine) -> None:
    shop = build_feedback(engine)
    filters = parse_filters({"period": "custom", "since": "2026-11-01", "until": "2026-11-23", "grain": "month",
                             "partial": "1"}, today=date(2026, 11, 24))  # fmt: skip
    with transaction(engine) as session:
        view = feedback_view.feedback(
            session, shop.workspace, filters, "en", theme="returns_refunds", exporting=False
        )
    assert view.total == 6 and view.taxonomy == "built-in taxonomy, version 1"
    themes = view.tables["themes"].rows
    assert [row for row in themes if row[2]] == [
        ["Staff attitude", "Customer experience", 3, 2, 0, 1, 2 / 3 * 100, 1 / 3 * 100],
        ["Food quality", "Customer experience", 2, 1, 0, 1, 50.0, 50.0],
        ["Returns and refunds", "Customer experience", 2, 0, 0, 2, 0.0, 100.0],
        ["Waiting time", "Customer experience", 2, 1, 0, 1, 50.0, 50.0],
        ["Price and value", "Customer experience", 1, 1, 0, 0, 100.0, 0.0],
        ["Delivery", "Customer experience", 1, 1, 0, 0, 100.0, 0.0],
        ["App and website", "Customer experience", 1, 0, 0, 1, 0.0, 100.0],
    ]
    assert view.tables["channels"].rows == [
        ["Survey", 0, 0, 0, 0, None, None], ["Email", 1, 0, 0, 1, 0.0, 100.0], ["Phone", 1, 0, 0, 1, 0.0, 100.0],
        ["Chat", 1, 1, 0, 0, 100.0, 0.0], ["Review", 2, 2, 0, 0, 100.0, 0.0], ["Social media", 1, 0, 0, 1, 0.0, 100.0],
    ]  # fmt: skip
    # The trend: November (to date, included) for the five most mentioned themes, items and negative mentions;
    # the October comment (cleanliness) is in the trend window but on no followed theme.
    trend = view.tables["trend"]
    assert [c.label for c in trend.columns][:3] == [
        "Period",
        "Staff attitude",
        "Staff attitude · negative mentions",
    ]
    assert trend.rows[-1] == [date(2026, 11, 1), 3, 1, 2, 1, 2, 2, 2, 1, 1, 0]
    assert trend.rows[-2] == [date(2026, 10, 1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert view.comments_total == 2
    assert [row[1:4] for row in view.tables["comments"].rows] == [
        ["Phone", "Negative", "Returns and refunds (Negative)"],
        ["Social media", "Negative", "App and website (Negative), Returns and refunds (Negative)"],
    ]
    assert view.tables["comments"].rows[0][4] == "請聯絡我 [PHONE] 或 [EMAIL]，退貨流程太麻煩"


def test_the_page_in_three_languages_its_click_through_and_exports(
    engine: Engine, client: TestClient
) -> None:
    shop = build_feedback(engine)
    log_in(client, shop.workspace.slug, shop.viewer)
    for language, tab, staff in (("zh-Hant", "顧客回饋", "服務態度"), ("zh-Hans", "顾客反馈", "服务态度"),
                                 ("en", "Feedback", "Staff attitude")):  # fmt: skip
        page = client.get(f"/dashboard/feedback?{WINDOW}&lang={language}")
        assert page.status_code == 200
        assert re.search(r'aria-current="page">([^<]+)<', page.text).group(1) == tab  # type: ignore[union-attr]
        kpis = dict(re.findall(r'data-kpi="([\w-]+)" data-value="(\d+)"', page.text))
        assert kpis == {
            "items": "6",
            "theme-staff_attitude": "3",
            "theme-returns_refunds": "2",
            "theme-food_quality": "2",
        }
        assert staff in page.text and 'id="chart-themes"' in page.text and 'id="chart-channels"' in page.text
        assert 'name="survey"' not in page.text and 'data-comments="6"' in page.text
        assert "0912" not in page.text and "amy@example.com" not in page.text
    chosen = client.get(f"/dashboard/feedback?{WINDOW}&theme=food_quality&lang=zh-Hant")
    assert 'data-comments="2"' in chosen.text and "提到「餐點品質」的回饋" in chosen.text
    assert chosen.text.count('data-mention="food_quality" data-mention-sentiment="negative"') == 1
    assert chosen.text.count('data-mention="delivery" data-mention-sentiment="positive"') == 1
    export = client.get(
        f"/dashboard/feedback/export?{WINDOW}&theme=food_quality&table=comments&format=csv&lang=en"
    )
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0][0] == "Time"
    themes = client.get(f"/dashboard/feedback/export?{WINDOW}&table=themes&format=xlsx")
    assert themes.status_code == 200 and themes.content[:2] == b"PK"
    first = list(csv.reader(io.StringIO(client.get(f"/dashboard/feedback/export?{WINDOW}&table=themes&format=csv&lang=en")
                                        .content.decode("utf-8-sig"))))[1]  # fmt: skip
    assert first == ["Staff attitude", "Customer experience", "3", "2", "0", "1", "66.67", "33.33"]
    bad = client.get(f"/dashboard/feedback?{WINDOW}&theme=nonsense&lang=en")
    assert bad.status_code == 400 and "Unknown theme &#39;nonsense&#39;." in bad.text


def test_a_workspace_without_feedback_says_what_to_do(engine: Engine, client: TestClient) -> None:
    workspace = make_workspace(engine)
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
    log_in(client, workspace.slug, viewer)
    page = client.get("/dashboard/feedback?lang=en")
    assert (
        page.status_code == 200 and "data-no-feedback" in page.text and "patron feedback analyze" in page.text
    )


def _mentions(
    engine: Engine, workspace_id: int, theme: str, day: datetime, negative: int, total: int
) -> None:
    """``total`` items on ``day`` mentioning ``theme``, ``negative`` of them negatively (written directly: the
    rule is about counts, not about what the model reads)."""
    items = [FeedbackCreate(channel="review", source_id=f"{theme}-{day.date()}-{i}", occurred_at=day, text=f"#{i}")  # type: ignore[arg-type]
             for i in range(total)]  # fmt: skip
    with transaction(engine) as session:
        stored = service.add_items(session, workspace_id=workspace_id, items=items)
        session.add_all(
            FeedbackMention(workspace_id=workspace_id, item_id=s.id, theme=theme, clause=0, score=0.5,
                            sentiment="negative" if i < negative else "positive", occurred_at=day, channel="review")
            for i, s in enumerate(stored)
        )  # fmt: skip


def test_theme_spikes_on_the_alerts_page(engine: Engine, client: TestClient) -> None:
    """Alerts judge the last 90 complete days (26 Aug – 23 Nov 2026) against the 90 before (28 May – 25 Aug).
    Delivery: 4 of 20 negative before, 12 of 20 now: +40 points, z = 0.4 / √(0.4 · 0.6 · (1/20 + 1/20)) = 2.582,
    one-sided p = 0.0049: a spike. Payment: 0 of 5 → 5 of 5, too few mentions. Food: 20 of 100 → 30 of 100,
    +10 points, under the 15-point rise (z = 1.633, p = 0.0512, not significant either)."""
    workspace = make_workspace(engine)
    before, now = datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 11, 10, 4, tzinfo=UTC)
    for theme, day, negative, total in (("delivery", before, 4, 20), ("delivery", now, 12, 20), ("payment", before, 0, 5),
                                        ("payment", now, 5, 5), ("food_quality", before, 20, 100),
                                        ("food_quality", now, 30, 100)):  # fmt: skip
        _mentions(engine, workspace.id, theme, day, negative, total)
    assert service.rise_p_value(12, 20, 4, 20) == pytest.approx(0.0049116, abs=1e-6)
    assert service.rise_p_value(30, 100, 20, 100) == pytest.approx(0.05124, abs=1e-5)
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
        spikes = service.theme_spikes(session, workspace_id=workspace.id, since=datetime(2026, 8, 25, 16, tzinfo=UTC),
                                      until=datetime(2026, 11, 23, 16, tzinfo=UTC),
                                      previous_since=datetime(2026, 5, 27, 16, tzinfo=UTC), locale="en")  # fmt: skip
    assert [(s.theme, s.mentions, s.negative, s.before_mentions, s.before_negative) for s in spikes] == [
        ("delivery", 20, 12, 20, 4)]  # fmt: skip
    assert (spikes[0].before_share, spikes[0].share) == (20.0, 60.0)
    log_in(client, workspace.slug, viewer)
    page = client.get("/dashboard/alerts?lang=en")
    assert page.status_code == 200 and 'data-spikes="1"' in page.text and 'data-spike="delivery"' in page.text
    assert "negative share 20.0% → 60.0% (20 mentions, 20 before; p = 0.005)" in page.text
    assert 'data-spikes="1"' in client.get("/dashboard/alerts?lang=zh-Hant").text
