"""A member's account on the dashboard in a real browser, in each language: reached from the Loyalty tab's
look-up, its tiles, the ledger paged and filtered through the URL, no console error or failed request, and a
screenshot of each in test-artifacts/ (the ledger of tests/dashboard/test_loyalty.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.dashboard import loyalty_member
from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_loyalty import build_ledger
from tests.loyalty.conftest import make_program
from tests.web.conftest import PASSWORD


def _log_in(page: Any, live_server: str, slug: str, email: str) -> Any:
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(slug)
    page.get_by_label("電子郵件").fill(email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    return page


@pytest.mark.parametrize(
    ("language", "ledger_title"), [("zh-Hant", "點數明細"), ("zh-Hans", "积分明细"), ("en", "Ledger")]
)
def test_the_member_account_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path, language: str, ledger_title: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    fx = make_program(engine, tmp_path / "loyalty")
    build_ledger(fx)
    monkeypatch.setattr(
        loyalty_member, "LEDGER_PAGE", 3
    )  # the server runs in this process: 4 entries, 2 pages
    email = f"viewer@{fx.workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=fx.workspace.id, email=email, password=PASSWORD,
                                 role="viewer")  # fmt: skip
    page = _log_in(laptop, live_server, fx.workspace.slug, email)
    page.goto(f"{live_server}/dashboard/loyalty?lang={language}")
    page.locator("[data-member-search] input[name=q]").fill("C001")
    page.locator("[data-member-search] button").click()
    page.wait_for_url(f"{live_server}/dashboard/loyalty/members/C001")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator('[data-table="ledger"] h2').inner_text() == ledger_title
    tiles = {
        m: page.locator(f'[data-metric="{m}"]').get_attribute("data-value")
        for m in ("points", "expiring", "debt")
    }
    assert tiles == {"points": "107", "expiring": "10", "debt": "0"}
    assert page.locator('[data-table="ledger"] tbody tr').count() == 3
    assert page.locator('[data-table="lots"] tbody tr').count() == 3
    page.screenshot(
        path=str(ARTIFACTS / f"loyalty-member-{language}-{engine.dialect.name}.png"), full_page=True
    )
    page.locator('a[rel="next"]').click()
    page.wait_for_url("**/members/C001?page=2")
    assert page.locator('[data-table="ledger"] tbody tr').count() == 1
    page.select_option("select[name=kind]", "adjust")
    page.locator("[data-ledger-filters] button").click()
    page.wait_for_url("**/members/C001?kind=adjust*")
    assert page.locator("[data-ledger-total]").get_attribute("data-ledger-total") == "2"
    assert page.problems == []


@pytest.mark.parametrize("language", ["zh-Hant", "en"])
def test_an_admin_edits_the_catalog_and_adds_an_earn_rule_version(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path, language: str
) -> None:
    fx = make_program(engine, tmp_path / "loyalty")
    email = f"admin@{fx.workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=fx.workspace.id, email=email, password=PASSWORD,
                                 role="admin")  # fmt: skip
    page = _log_in(laptop, live_server, fx.workspace.slug, email)
    page.goto(f"{live_server}/dashboard/loyalty?lang={language}")
    page.locator("[data-catalog-link]").click()
    page.locator("[data-new-reward]").click()
    page.fill("#f-code", "V100")
    for field, value in (("name_zh_hant", "百元折價券"), ("name_zh_hans", "百元代金券"), ("name_en", "NT$100 voucher"),
                         ("points_cost", "80"), ("stock", "50")):  # fmt: skip
        page.fill(f"#f-{field}", value)
    page.locator("[data-save]").click()  # no amount: refused with the problem named
    assert page.locator("[data-problem]").is_visible()
    page.fill("#f-amount", "100")
    page.locator("[data-save]").click()
    page.wait_for_url("**/dashboard/loyalty/rewards/V100?saved=created")
    page.fill("#f-points_cost", "90")
    page.locator("[data-save]").click()
    page.wait_for_url("**/rewards/V100?saved=saved")
    assert page.locator('[data-history] tr[data-field="points_cost"]').count() == 2  # created, then changed
    page.screenshot(
        path=str(ARTIFACTS / f"loyalty-reward-editor-{language}-{engine.dialect.name}.png"), full_page=True
    )
    page.goto(f"{live_server}/dashboard/loyalty/rules?lang={language}")
    page.fill("#f-points_per_unit", "3")
    page.locator("[data-save]").click()
    page.wait_for_url("**/dashboard/loyalty/rules?saved=3")
    assert page.locator("tr[data-version]").count() == 3
    page.screenshot(
        path=str(ARTIFACTS / f"loyalty-rules-{language}-{engine.dialect.name}.png"), full_page=True
    )
    # the one refused form (400, on purpose) is the only failed request
    assert page.problems == [
        "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
