"""The Loyalty tab's rewards, referrals and catalog changes in a real browser, in each language: the hand-computed
figures of tests/dashboard/test_loyalty_rewards.py in the cells, no console error or failed request, and a
screenshot of the section in each language in test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_loyalty_rewards import build_rewards
from tests.loyalty.conftest import make_program
from tests.web.conftest import PASSWORD

WORDS = {
    "zh-Hant": ("獎勵與優惠券", "百元折價券", "推薦人已達上限"),
    "zh-Hans": ("奖励与优惠券", "百元代金券", "推荐人已达上限"),
    "en": ("Rewards and coupons", "NT$100 voucher", "Referrer at the cap"),
}


def _cells(page: Any, table: str) -> list[list[str]]:
    rows = page.locator(f'[data-table="{table}"] tbody tr')
    return [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def test_rewards_and_referrals_on_the_loyalty_tab_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path
) -> None:
    fx = make_program(engine, tmp_path / "loyalty")
    build_rewards(fx)
    email = f"viewer@{fx.workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=fx.workspace.id, email=email, password=PASSWORD,
                                 role="viewer")  # fmt: skip
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(fx.workspace.slug)
    page.get_by_label("電子郵件").fill(email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    for language, (title, voucher, cap) in WORDS.items():
        page.goto(f"{live_server}/dashboard/loyalty?lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        section = page.locator("[data-rewards]")
        assert section.locator('[data-table="rewards"] h2').inner_text() == title
        rewards = _cells(page, "rewards")
        assert [row[0] for row in rewards] == ["TEA", "V100"]
        assert rewards[1][1] == voucher and rewards[1][3:12] == [
            "100",
            "4",
            "3",
            "2",
            "1",
            "0",
            "0",
            "1",
            "100",
        ]
        assert rewards[0][4:12] == ["—", "—", "2", "0", "1", "1", "0", "100"]
        referrals = _cells(page, "referrals")
        assert [row[1] for row in referrals] == ["3", "0", "1", "2", "1", "0", "0", "0", "0", "1"]
        assert referrals[-1][0] == f"— {cap}"
        changes = _cells(page, "catalog_changes")
        assert [row[1:3] for row in changes] == [["V100", "bob"], ["TEA", "alice"], ["V100", "alice"]]
        section.scroll_into_view_if_needed()
        section.screenshot(
            path=str(ARTIFACTS / f"dashboard-loyalty-rewards-{language}-{engine.dialect.name}.png")
        )
    assert page.problems == []
