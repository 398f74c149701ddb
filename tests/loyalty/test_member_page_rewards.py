"""The member's page lists the rewards they can redeem now, with the points still missing, and their referral
link when the program rewards referrals."""

from __future__ import annotations

from fastapi.testclient import TestClient

from patron.core.db import transaction
from patron.loyalty import member_page, referrals
from patron.loyalty.schemas import ReferralSettingsUpdate
from patron.web.app import create_app
from tests.loyalty.conftest import Program
from tests.loyalty.test_rewards import _adjust, _catalog


def test_the_member_page_offers_rewards_in_reach_and_the_referral_link(program: Program) -> None:
    # 120 points at the suite's clock (2026-11-24): V100 (100 points, 2 in stock) can be redeemed now, 10% off
    # (500) needs 380 more; the oolong ended on 1 Nov and the tea tasting starts on 1 Dec, so neither is offered.
    _adjust(program, "C001", 120)
    _catalog(program)
    with transaction(program.engine) as session:
        link = member_page.mint_link(session, workspace=program.workspace, customer_external_id="C001")
    client = TestClient(create_app())
    english = client.get(f"/m/{link.token}?lang=en").text
    assert "NT$100 voucher · 100 points · <strong>you can redeem this now</strong>" in english
    assert "10% off · 500 points · " in english and "380 more points needed" in english
    assert "A pack of oolong" not in english and "Tea tasting" not in english
    assert english.index("NT$100 voucher") < english.index("10% off"), "cheapest first"
    assert "Invite a friend" not in english, "no referral rewards, no referral link"
    assert "還差 380 點" in client.get(f"/m/{link.token}?lang=zh-Hant").text

    with transaction(program.engine) as session:
        referrals.set_settings(session, workspace=program.workspace,
                               data=ReferralSettingsUpdate(referrer_points=100, referee_points=50))  # fmt: skip
    simplified = client.get(f"/m/{link.token}?lang=zh-Hans").text
    with transaction(program.engine) as session:
        code = referrals.member_code(session, workspace=program.workspace, customer_external_id="C001")
    assert "推荐好友" in simplified and f"您的推荐码：{code.code}" in simplified
    assert f'<a href="{code.link}">' in simplified and code.link.endswith(
        f"/r/{program.workspace.slug}/{code.code}"
    )
