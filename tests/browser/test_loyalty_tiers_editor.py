"""The tiers editor in a real browser, in each language: an admin reaches it from the Loyalty tab, finds a first
version to start from, is refused a tier set that does not hold (named, nothing saved), adds one, sees it listed
with its tiers in the page's language and the next version's form starting from it; a screenshot of each in
test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.loyalty import tiers
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_loyalty_member import _log_in
from tests.loyalty.conftest import make_program
from tests.web.conftest import PASSWORD

DOCUMENT = """currency: TWD
window_months: 12
review_month: 1
grace_months: 6
tiers:
- {code: member, names: {zh-Hant: 一般會員, zh-Hans: 一般会员, en: Member}, birthday_points: 100}
- {code: premium, names: {zh-Hant: 高級會員, zh-Hans: 高级会员, en: Premium}, threshold: '6000',
   discount_percent: 5, points_percent: 150, birthday_points: 300}
- {code: vip, names: {zh-Hant: VIP 會員, zh-Hans: VIP 会员, en: VIP}, threshold: '20000', discount_percent: 10,
   points_percent: 200, birthday_points: 800, exclusive_events: true, early_access: true}
"""


@pytest.mark.parametrize(
    ("language", "title", "saved", "premium"),
    [
        ("zh-Hant", "會員等級", "已新增第 1 版。", "高級會員"),
        ("zh-Hans", "会员等级", "已新增第 1 版。", "高级会员"),
        ("en", "Tiers", "Version 1 added.", "Premium"),
    ],
)
def test_an_admin_adds_a_tier_version_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path, language: str, title: str, saved: str,
    premium: str,
) -> None:  # fmt: skip
    fx = make_program(engine, tmp_path / "loyalty")
    email = f"admin@{fx.workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=fx.workspace.id, email=email, password=PASSWORD,
                                 role="admin")  # fmt: skip
    page = _log_in(laptop, live_server, fx.workspace.slug, email)
    page.goto(f"{live_server}/dashboard/loyalty?lang={language}")
    page.locator("[data-tiers-link]").click()
    page.wait_for_url(f"{live_server}/dashboard/loyalty/tiers")
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("h1").inner_text() == title
    assert page.locator("[data-tier-sets]").get_attribute("data-versions") == "0"
    assert "一般會員" in page.locator("#f-document").input_value()  # a first version to start from
    # A multiplier below 100 % is refused by name, in the page's language, and nothing is saved.
    page.fill("#f-document", DOCUMENT.replace("points_percent: 150", "points_percent: 50"))
    page.locator("[data-save]").click()
    assert (
        page.locator("[data-problem]").is_visible()
        and "points_percent" in page.locator("[data-problem]").inner_text()
    )
    assert "points_percent: 50" in page.locator("#f-document").input_value()  # what was typed is kept
    page.fill("#f-document", DOCUMENT)
    page.locator("[data-save]").click()
    page.wait_for_url("**/dashboard/loyalty/tiers?saved=1")
    assert page.locator("[data-notice]").inner_text() == saved
    version = page.locator('section[data-version="1"]')
    assert version.locator("tr[data-tier]").count() == 3
    assert version.locator('tr[data-tier="premium"] td').first.inner_text() == premium
    cells = [c.strip() for c in version.locator('tr[data-tier="vip"] td').all_inner_texts()]
    assert cells[2:] == ["10 %", "200 %", "800"]  # discount, points multiplier, birthday points
    assert "code: vip" in page.locator("#f-document").input_value()  # the next version starts from this one
    page.screenshot(
        path=str(ARTIFACTS / f"loyalty-tiers-editor-{language}-{engine.dialect.name}.png"), full_page=True
    )
    with transaction(engine) as session:
        (added,) = tiers.list_tier_sets(session, workspace_id=fx.workspace.id, locale="en")
    assert (added.version, added.created_by, [t.code for t in added.tiers]) == (
        1,
        email,
        ["member", "premium", "vip"],
    )
    # the one refused form (400, on purpose) is the only failed request
    assert page.problems == [
        "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
