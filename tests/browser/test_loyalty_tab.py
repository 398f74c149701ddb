"""The Loyalty tab in a real browser, in each language: its figures, its chart drawn, no console error or
failed request, and a screenshot of each in test-artifacts/ (the ledger of tests/dashboard/test_loyalty.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.loyalty import service
from patron.loyalty.schemas import ProgramUpdate
from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_loyalty import build_ledger
from tests.loyalty.conftest import make_program
from tests.loyalty.test_tiers import add_tiers
from tests.web.conftest import PASSWORD


@pytest.mark.parametrize(
    ("language", "title"), [("zh-Hant", "會員點數"), ("zh-Hans", "会员积分"), ("en", "Loyalty")]
)
def test_the_loyalty_tab_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path, language: str, title: str
) -> None:
    fx = make_program(engine, tmp_path / "loyalty")
    build_ledger(fx)
    add_tiers(fx)  # no member spent NT$10,000: all three in the lowest tier
    with transaction(engine) as session:
        service.set_program(
            session, workspace=fx.workspace, data=ProgramUpdate(name="茶友會", point_value="1.25")
        )
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
    page.goto(f"{live_server}/dashboard/loyalty?lang={language}")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator('nav.tabs [aria-current="page"]').inner_text() == title
    tiles = {name: page.locator(f'[data-kpi="{name}"] .big').inner_text() for name in ("members", "outstanding", "expiring", "debt")}  # fmt: skip
    assert tiles == {"members": "3", "outstanding": "147", "expiring": "10", "debt": "20"}
    # 147 points × NT$1.25; redeemed 80 of 219 issued (tests/dashboard/test_loyalty.py)
    assert "183.75" in page.locator("[data-liability-money]").inner_text()
    assert page.locator('[data-kpi="redemption_rate"] .big').inner_text() == "36.5 %"
    assert page.locator('[data-table="rates"]').is_visible()
    page.wait_for_function("document.querySelectorAll('[data-chart] canvas').length >= 1")
    assert page.locator('[data-table="tiers"] tbody tr').first.locator("td").nth(2).inner_text() == "3"
    assert page.locator('[data-table="tier_moves"]').is_visible()
    page.screenshot(
        path=str(ARTIFACTS / f"dashboard-loyalty-{language}-{engine.dialect.name}.png"), full_page=True
    )
    # The top members and members in debt link to their member page (the 3 lines above, by hand: C001, C003;
    # C002 owes 20).
    top_links = page.locator('[data-table="top"] tbody [data-row-link]')
    assert [top_links.nth(i).inner_text() for i in range(top_links.count())] == ["C001", "C003"]
    debt_link = page.locator('[data-table="debt"] tbody [data-row-link]')
    assert debt_link.get_attribute("href") == "/dashboard/loyalty/members/C002"
    debt_link.click()
    page.wait_for_url(f"{live_server}/dashboard/loyalty/members/C002*")
    assert page.locator("[data-member]").get_attribute("data-member") == "C002"
    assert page.locator("html").get_attribute("lang") == language  # the language follows the viewer
    page.goto(f"{live_server}/customers/C002?lang={language}")
    page.locator("[data-loyalty]").scroll_into_view_if_needed()
    page.screenshot(
        path=str(ARTIFACTS / f"customer-loyalty-{language}-{engine.dialect.name}.png"), full_page=True
    )
    assert page.problems == []
