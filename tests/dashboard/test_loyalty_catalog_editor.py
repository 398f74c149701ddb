"""Editing the rewards catalog and adding earn-rule versions on the dashboard: admins add and change rewards through CSRF-checked forms, bad
input is refused with a named message in the page's language (nothing saved), every change is recorded with who
made it, and viewers only read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.dashboard import loyalty_catalog
from patron.loyalty import rewards, service
from tests.loyalty.conftest import Program, make_program
from tests.web.conftest import PASSWORD, csrf_of, log_in

NEW = "/dashboard/loyalty/rewards/new"


@pytest.fixture
def program(engine: Engine, tmp_path: Path) -> Program:
    return make_program(engine, tmp_path / "loyalty")


def _user(fx: Program, role: str) -> str:
    email = f"{role}@{fx.workspace.slug}.example.com"
    with transaction(fx.engine) as session:
        core_service.create_user(
            session, workspace_id=fx.workspace.id, email=email, password=PASSWORD, role=role
        )
    return email


def _form(**changes: str) -> dict[str, str]:
    form = {"code": "V100", "kind": "voucher", "name_zh_hant": "百元折價券", "name_zh_hans": "百元代金券",
            "name_en": "NT$100 voucher", "points_cost": "80", "amount": "100", "percent": "", "stock": "50",
            "valid_from": "2026-12-01T00:00", "valid_until": "2027-01-01T00:00", "per_member_limit": "2",
            "coupon_days": "30", "active": "1"}  # fmt: skip
    return form | changes


def test_admin_adds_and_edits_a_reward_with_an_audit_trail(client: TestClient, program: Program) -> None:
    admin = _user(program, "admin")
    log_in(client, program.workspace.slug, admin)
    csrf = csrf_of(client.get(f"{NEW}?lang=en").text)
    made = client.post(NEW, data=_form(csrf=csrf), follow_redirects=False)
    assert (made.status_code, made.headers["location"]) == (
        303,
        "/dashboard/loyalty/rewards/V100?saved=created",
    )
    with transaction(program.engine) as session:
        read = rewards.get_reward(session, workspace=program.workspace, code="V100")
    # The window was typed in the workspace's zone (Asia/Taipei): 1 December 00:00 is 30 November 16:00 UTC.
    assert (read.points_cost, read.amount, read.stock, read.per_member_limit) == (80, "100.00", 50, 2)
    assert read.valid_from == datetime(2026, 11, 30, 16, tzinfo=UTC)
    page = client.get("/dashboard/loyalty/rewards/V100?saved=created&lang=en").text
    assert "Reward added." in page and 'value="80"' in page
    # Change the cost, clear the stock and the limit: recorded field by field, with who.
    changed = client.post("/dashboard/loyalty/rewards/V100", follow_redirects=False,
                          data=_form(csrf=csrf, points_cost="90", stock="", per_member_limit=""))  # fmt: skip
    assert changed.headers["location"] == "/dashboard/loyalty/rewards/V100?saved=saved"
    same = client.post("/dashboard/loyalty/rewards/V100", follow_redirects=False,
                       data=_form(csrf=csrf, points_cost="90", stock="", per_member_limit=""))  # fmt: skip
    assert same.headers["location"] == "/dashboard/loyalty/rewards/V100?saved=unchanged"
    with transaction(program.engine) as session:
        read = rewards.get_reward(session, workspace=program.workspace, code="V100")
        changes = rewards.catalog_changes(session, workspace_id=program.workspace.id, code="V100")
    assert (read.points_cost, read.stock, read.per_member_limit) == (90, None, None)
    assert [(c.action, c.actor) for c in changes] == [("update", admin), ("create", admin)]
    assert changes[0].changes == {"points_cost": [80, 90], "stock": [50, None], "per_member_limit": [2, None]}
    listed = client.get("/dashboard/loyalty/rewards?lang=zh-Hant").text
    assert 'data-reward="V100"' in listed and "百元折價券" in listed and admin in listed


def test_bad_input_is_named_in_the_page_language_and_nothing_is_saved(
    client: TestClient, program: Program
) -> None:
    log_in(client, program.workspace.slug, _user(program, "admin"))
    csrf = csrf_of(client.get(NEW).text)
    for changes, status, words in (
        ({"points_cost": "abc", "lang": "en"}, 400, "points_cost"),
        ({"amount": "", "lang": "zh-Hant"}, 400, "折價券須有金額"),
        ({"valid_until": "2026-11-01T00:00"}, 400, "2026"),
        ({"code": "bad code!"}, 400, "code"),
        ({"percent": "10", "kind": "discount", "amount": "", "name_en": ""}, 400, "name_en"),
    ):
        lang = changes.pop("lang", "en")
        answer = client.post(f"{NEW}?lang={lang}", data=_form(csrf=csrf, **changes))
        assert answer.status_code == status, (changes, answer.text[:300])
        assert "data-problem" in answer.text and words in answer.text, changes
    with transaction(program.engine) as session:
        assert rewards.list_rewards(session, workspace=program.workspace) == []
    assert client.post(NEW, data=_form(csrf="forged")).status_code == 400  # a forged form: refused
    client.post(NEW, data=_form(csrf=csrf))
    twice = client.post(f"{NEW}?lang=en", data=_form(csrf=csrf))
    assert twice.status_code == 409 and "V100" in twice.text


def test_viewers_read_only(client: TestClient, program: Program) -> None:
    with transaction(program.engine) as session:
        loyalty_catalog.create_from_form(session, program.workspace, _form(), "tests")
    log_in(client, program.workspace.slug, _user(program, "viewer"))
    page = client.get("/dashboard/loyalty/rewards/V100?lang=en")
    assert (
        page.status_code == 200
        and "data-reward-form" not in page.text
        and 'data-field="points_cost">80<' in page.text
    )
    assert client.get(NEW).status_code == 403
    csrf = csrf_of(page.text)  # the log-out form's
    assert client.post("/dashboard/loyalty/rewards/V100", data=_form(csrf=csrf)).status_code == 403
    assert client.get("/dashboard/loyalty/rewards/NOPE").status_code == 404


def _rule(**changes: str) -> dict[str, str]:
    form = {"effective_from": "2026-12-01 00:00", "currency": "TWD", "points_per_unit": "3", "per_amount": "100",
            "category_multipliers": "tea: 150\ncoffee: 0", "product_multipliers": "P2: 300",
            "bonus_periods": "2026-12-05 00:00 | 2026-12-07 00:00 | 200", "first_purchase_bonus": "20",
            "min_spend": "300"}  # fmt: skip
    return form | changes


def test_admin_adds_an_earn_rule_version(client: TestClient, program: Program) -> None:
    admin = _user(program, "admin")
    log_in(client, program.workspace.slug, admin)
    page = client.get("/dashboard/loyalty/rules?lang=en").text
    assert 'data-versions="2"' in page and 'name="points_per_unit" value="2"' in page  # starts from v2
    csrf = csrf_of(page)
    for changes, lang, status, words in (
        ({"effective_from": "2026-01-01 00:00"}, "en", 409, "version 2"),
        ({"category_multipliers": "tea 150"}, "zh-Hant", 400, "category_multipliers 第 1 行"),
        ({"bonus_periods": "2026-12-05 | 200"}, "en", 400, "bonus_periods, line 1"),
        ({"points_per_unit": "x"}, "en", 400, "points_per_unit"),
        ({"category_multipliers": "tea: 20000"}, "en", 400, "tea"),
        ({"product_multipliers": "P2 300"}, "zh-Hans", 400, "product_multipliers 第 1 行"),
        ({"product_multipliers": "P2: 20000"}, "en", 400, "must be 0–10000 percent, not 20000"),
    ):
        answer = client.post(f"/dashboard/loyalty/rules?lang={lang}", data=_rule(csrf=csrf, **changes))
        assert answer.status_code == status and "data-problem" in answer.text and words in answer.text, (
            changes
        )
    added = client.post("/dashboard/loyalty/rules", data=_rule(csrf=csrf), follow_redirects=False)
    assert added.headers["location"] == "/dashboard/loyalty/rules?saved=3"
    with transaction(program.engine) as session:
        v3 = service.list_rules(session, workspace_id=program.workspace.id)[-1]
    assert (v3.version, v3.points_per_unit, v3.created_by) == (3, 3, admin)
    assert v3.effective_from == datetime(2026, 11, 30, 16, tzinfo=UTC)  # midnight in Taipei
    assert v3.category_multipliers == {"tea": 150, "coffee": 0} and v3.bonus_periods[0].percent == 200
    assert v3.product_multipliers == {"P2": 300}
    shown = client.get("/dashboard/loyalty/rules?saved=3&lang=en").text
    assert "Version 3 added." in shown and "<td data-products>P2 300 %</td>" in shown
    assert ">P2: 300</textarea>" in shown  # the next version's form starts from v3's product multipliers


def test_viewers_read_the_rules_only(client: TestClient, program: Program) -> None:
    log_in(client, program.workspace.slug, _user(program, "viewer"))
    page = client.get("/dashboard/loyalty/rules?lang=zh-Hans")
    assert page.status_code == 200 and "data-rule-form" not in page.text and "累点规则" in page.text
    assert client.post("/dashboard/loyalty/rules", data=_rule(csrf=csrf_of(page.text))).status_code == 403


def test_admin_adds_a_tier_version_from_its_yaml(client: TestClient, program: Program) -> None:
    admin = _user(program, "admin")
    log_in(client, program.workspace.slug, admin)
    page = client.get("/dashboard/loyalty/tiers?lang=en").text
    assert 'data-versions="0"' in page and "一般會員" in page  # a first version to start from
    csrf = csrf_of(page)
    document = (
        "currency: TWD\nwindow_months: 12\nreview_month: 1\ngrace_months: 6\ntiers:\n"
        "- {code: member, names: {zh-Hant: 一般會員, zh-Hans: 一般会员, en: Member}, birthday_points: 100}\n"
        "- {code: premium, names: {zh-Hant: 高級會員, zh-Hans: 高级会员, en: Premium}, threshold: '10000',"
        " points_percent: 150}\n"
    )
    for text, lang, words in (
        ("tiers: [", "en", "Cannot read the tiers in form"),
        (document.replace("points_percent: 150", "points_percent: 50"), "en", "points_percent"),
        (document.replace(", en: Premium", ""), "zh-Hant", "premium"),
    ):
        answer = client.post(f"/dashboard/loyalty/tiers?lang={lang}", data={"csrf": csrf, "document": text})
        assert answer.status_code == 400 and "data-problem" in answer.text and words in answer.text, text
    added = client.post(
        "/dashboard/loyalty/tiers", data={"csrf": csrf, "document": document}, follow_redirects=False
    )
    assert added.headers["location"] == "/dashboard/loyalty/tiers?saved=1"
    shown = client.get("/dashboard/loyalty/tiers?lang=zh-Hant").text
    assert 'data-versions="1"' in shown and 'data-tier="premium"' in shown and admin in shown
    log_in(client, program.workspace.slug, _user(program, "viewer"))
    read_only = client.get("/dashboard/loyalty/tiers?lang=en")
    assert "data-tiers-form" not in read_only.text
    assert (
        client.post(
            "/dashboard/loyalty/tiers", data={"csrf": csrf_of(read_only.text), "document": document}
        ).status_code
        == 403
    )
