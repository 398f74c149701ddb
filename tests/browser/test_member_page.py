"""The loyalty member's page on a phone (390×844), in each language: balance, points expiring soon, tier and
progress, benefits and history; nothing wider than the phone, no script, no console error; screenshots in
test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from patron.core.clock import frozen
from patron.core.db import transaction
from patron.loyalty import service
from patron.loyalty.member_page import mint_link
from tests.browser.conftest import ARTIFACTS
from tests.loyalty.conftest import make_program, order, utc
from tests.loyalty.test_tiers import add_tiers, coffee, import_at

#: (language, tier, progress text, benefit, a history reason)
EXPECTED = [
    ("zh-Hant", "高級會員", "再消費", "消費享 5% 折扣", "首購加贈"),
    ("zh-Hans", "高级会员", "再消费", "消费享 5% 折扣", "首购加赠"),
    ("en", "Premium", "more to reach VIP", "5% off your purchases", "First-purchase bonus"),
]


def test_member_page_on_a_phone_in_three_languages(
    engine: Engine, tmp_path: Path, live_server: str, phone: Any
) -> None:
    program = make_program(engine, tmp_path / "loyalty")
    add_tiers(program)
    # O1 (10 Jan 2026, NT$10,020 under v1): 100 points + the 50-point first-purchase bonus, expiring 10 Jan 2027;
    # it makes C001 高級會員. O2 (1 Nov 2026, 3 × tea NT$680 under v2 at 150 %): ⌊2040 × 2 / 100 × 1.5⌋ = 61.
    import_at(
        program,
        "2026-01-11T10:00:00+08:00",
        [coffee("O1", "C001", "2026-01-10T10:00:00+08:00", 40)],
        "o1.csv",
    )
    import_at(program, "2026-11-02T10:00:00+08:00",
              [order("O2", 1, "C001", "2026-11-01T10:00:00+08:00", "completed", "P1", 3, "680")], "o2.csv")  # fmt: skip
    with frozen(utc("2026-12-20T02:00:00Z")):
        with transaction(engine) as session:
            service.redeem(session, workspace=program.workspace, customer_external_id="C001", points=30,
                           reason="咖啡兌換券", idempotency_key="pos-1")  # fmt: skip
            link = mint_link(session, workspace=program.workspace, customer_external_id="C001")
        url = link.url.replace(link.url.split("/m/")[0], live_server)
        for language, tier, progress, benefit, reason in EXPECTED:
            phone.goto(f"{url}?lang={language}")
            assert phone.locator("html").get_attribute("lang") == language
            assert phone.locator("#balance b").inner_text() == "181"  # 150 + 61 − 30
            assert phone.locator("#tier b").inner_text() == tier
            assert progress in phone.locator("#tier-progress").inner_text()
            assert phone.locator("progress").get_attribute("value") == "40"  # NT$12,060 of NT$30,000
            assert benefit in phone.locator("ul.benefits").inner_text()
            assert reason in phone.locator("table.history").inner_text()
            assert "咖啡兌換券" in phone.locator("table.history").inner_text()
            assert (
                phone.locator("ul.expiring li").count() == 1
            )  # 120 points left of O1's lots, due 10 Jan 2027
            assert phone.locator("script").count() == 0
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"nothing is wider than the phone ({language})"
            phone.screenshot(path=str(ARTIFACTS / f"member-page-{language}.png"), full_page=True)
    assert phone.problems == []
