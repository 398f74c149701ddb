"""Double-sided referrals: every refusal rule (recorded with its reason), qualification after the return window
(a refunded order and one below the minimum spend do not qualify), settlement idempotent, hand-computed points;
and the same over the API and the CLI.

Terms: 100 points to the referrer, 50 to the new customer, a 30-day return window, at most 2 referrals per
referrer, NT$300 minimum spend. Referrals are recorded on 2026-09-01 (UTC)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.importers import import_file
from patron.loyalty import referrals, service
from patron.loyalty.orders import refund_order
from patron.loyalty.schemas import ReferralCreate, ReferralSettingsUpdate, RefundCreate
from patron.web.app import create_app
from tests.factories import write_csv
from tests.loyalty.conftest import Program, order, utc

TERMS = ReferralSettingsUpdate(referrer_points=100, referee_points=50, return_days=30, cap=2, min_spend="300")
runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


def _people(fx: Program) -> None:
    """C001 gets a phone; C005 shares C001's email (written differently), C006 its phone; C007–C009 are new."""
    rows = [("C001", "顧客1", "c1@example.com", "0912-345-678"), ("C005", "五", " C1@Example.com", ""),
            ("C006", "六", "six@example.com", "+886 912 345 678"), ("C007", "七", "seven@example.com", ""),
            ("C008", "八", "eight@example.com", ""), ("C009", "九", "nine@example.com", "")]  # fmt: skip
    path = write_csv(fx.folder / "people.csv", ("external_id", "name", "email", "phone"), rows)
    report = import_file(fx.engine, workspace_slug=fx.workspace.slug, kind="customers", path=path)
    assert report.rejected == 0, report.errors
    with transaction(fx.engine) as session:
        referrals.set_settings(session, workspace=fx.workspace, data=TERMS)


def _record(fx: Program, code: str, customer: str) -> tuple[str, str | None]:
    with clock.frozen(utc("2026-09-01T00:00:00+00:00")), transaction(fx.engine) as session:
        read = referrals.record(
            session, workspace=fx.workspace, data=ReferralCreate(code=code, customer_id=customer)
        )
    return read.status, read.reason


def _settle(fx: Program, at: str | None = None) -> tuple[int, int, int]:
    with clock.frozen(utc(at)) if at else nullcontext(), transaction(fx.engine) as session:
        report = referrals.settle(session, workspace=fx.workspace)
    return report.rewarded, report.waiting, report.points


def _referral_points(fx: Program, customer: str) -> list[tuple[str, int]]:
    with transaction(fx.engine) as session:
        page = service.entries(session, workspace_id=fx.workspace.id, customer_external_id=customer)
    return [(e.reason, e.points) for e in reversed(page.items) if e.source == "referral"]


def test_referral_rules_settlement_and_points(program: Program) -> None:
    fx = program
    _people(fx)
    fx.import_orders([order("O4", 1, "C004", "2026-08-01T10:00:00+08:00", "paid", "P1", 1, "680")], "o4.csv")
    with transaction(fx.engine) as session:
        mine = referrals.member_code(session, workspace=fx.workspace, customer_external_id="C001")
    assert len(mine.code) == 8 and mine.link.endswith(f"/r/{fx.workspace.slug}/{mine.code}")
    assert _record(fx, mine.code, "C001") == ("refused", "self_customer")
    assert _record(fx, mine.code, "C005") == ("refused", "self_email")
    assert _record(fx, mine.code, "C006") == ("refused", "self_phone")
    assert _record(fx, mine.code, "C004") == ("refused", "not_new")  # bought on 1 August
    assert _record(fx, mine.code.lower(), "C007") == ("pending", None)
    assert _record(fx, mine.code, "C007") == ("refused", "already_referred")
    assert _record(fx, mine.code, "C008") == ("pending", None)
    assert _record(fx, mine.code, "C009") == ("refused", "cap")  # the third of a cap of 2
    with pytest.raises(PatronError) as unknown, transaction(fx.engine) as session:
        referrals.record(
            session, workspace=fx.workspace, data=ReferralCreate(code="ZZZZZZZZ", customer_id="C009")
        )
    assert unknown.value.code in ("loyalty.referral_code_not_found",)

    # C007: O71 (NT$680) refunded whole five days later does not qualify; O72 (2 × NT$250.50 = 501) does, its
    # window ends 2026-10-31. C008: O80 (NT$250.50) is below the minimum; O81 (NT$680) placed 2026-11-10 waits
    # until 2026-12-10.
    fx.import_orders([order("O71", 1, "C007", "2026-09-10T10:00:00+08:00", "paid", "P1", 1, "680"),
                      order("O72", 1, "C007", "2026-10-01T10:00:00+08:00", "paid", "P2", 2, "250.50"),
                      order("O80", 1, "C008", "2026-09-05T10:00:00+08:00", "paid", "P2", 1, "250.50"),
                      order("O81", 1, "C008", "2026-11-10T10:00:00+08:00", "paid", "P1", 1, "680")], "o7.csv")  # fmt: skip
    with clock.frozen(utc("2026-09-15T00:00:00+00:00")), transaction(fx.engine) as session:
        refund_order(
            session, workspace=fx.workspace, order_external_id="O71", data=RefundCreate(idempotency_key="r71")
        )
    assert _settle(fx, "2026-10-20T00:00:00+00:00") == (0, 2, 0)  # O72's window still open
    assert _settle(fx) == (1, 1, 150)  # now (24 November): C007's referral, 100 + 50
    assert _settle(fx) == (0, 1, 0)  # again: nothing twice
    assert _settle(fx, "2026-12-11T00:00:00+00:00") == (1, 0, 150)
    assert _referral_points(fx, "C001") == [("referral_referrer", 100), ("referral_referrer", 100)]
    assert _referral_points(fx, "C007") == [("referral_referee", 50)]
    assert _referral_points(fx, "C008") == [("referral_referee", 50)]
    with transaction(fx.engine) as session:
        page = referrals.list_referrals(session, workspace_id=fx.workspace.id)
        mine = referrals.member_code(session, workspace=fx.workspace, customer_external_id="C001")
        assert service.check(session, workspace_id=fx.workspace.id).differences == []
    assert Counter((r.status, r.reason) for r in page.items) == Counter(
        {("rewarded", None): 2, ("refused", "self_customer"): 1, ("refused", "self_email"): 1,
         ("refused", "self_phone"): 1, ("refused", "not_new"): 1, ("refused", "already_referred"): 1,
         ("refused", "cap"): 1})  # fmt: skip
    assert {r.referee: r.order_id for r in page.items if r.status == "rewarded"} == {
        "C007": "O72",
        "C008": "O81",
    }
    assert (mine.pending, mine.rewarded, mine.refused) == (0, 2, 6)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_referrals_over_the_api_and_the_cli(program: Program, client: TestClient) -> None:
    fx = program
    _people(fx)
    with transaction(fx.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=fx.workspace.id, name="tests")
    headers = {"Authorization": f"Bearer {key}"}
    api = "/api/v1/loyalty"
    code = client.get(f"{api}/members/C002/referral", headers=headers).json()["code"]
    for locale, words in (
        ("en", "cannot refer themselves"),
        ("zh-TW", "不能推薦自己"),
        ("zh-CN", "不能推荐自己"),
    ):
        refused = client.post(f"{api}/referrals", headers={**headers, "Accept-Language": locale},
                              json={"code": code, "customer_id": "C002"})  # fmt: skip
        error = refused.json()["error"]
        assert (refused.status_code, error["code"]) == (409, "loyalty.referral_self_customer")
        assert words in error["message"]
    assert (
        client.get(f"{api}/referrals?status=refused", headers=headers).json()["total"] == 3
    )  # each recorded
    ok = client.post(f"{api}/referrals", headers=headers, json={"code": code, "customer_id": "C007"})
    assert ok.status_code == 201 and (ok.json()["status"], ok.json()["referrer"]) == ("pending", "C002")
    assert (
        client.post(
            f"{api}/referrals", headers=headers, json={"code": "nope", "customer_id": "C007"}
        ).status_code
        == 400
    )
    assert client.post(f"{api}/referrals/settle", headers=headers).json() == {
        "rewarded": 0,
        "waiting": 1,
        "points": 0,
    }
    settings = client.put(f"{api}/referrals/settings", headers=headers,
                          json={"referrer_points": 10, "referee_points": 5, "share_url": "https://shop.example.com/join"})  # fmt: skip
    assert settings.status_code == 200 and settings.json()["cap"] is None
    assert client.get(f"{api}/members/C002/referral", headers=headers).json()["link"] == (
        f"https://shop.example.com/join?ref={code}")  # fmt: skip
    for language, words in (
        ("zh-Hant", "邀請您加入茶友會"),
        ("zh-Hans", "邀请您加入茶友會"),
        ("en", "You are invited to 茶友會"),
    ):
        page = client.get(f"/r/{fx.workspace.slug}/{code.lower()}?lang={language}")  # the share link's page
        assert (
            page.status_code == 200
            and words in page.text
            and code in page.text
            and "<script" not in page.text
        )
    assert (
        client.get(f"/r/{fx.workspace.slug}/{code[:-1]}", headers={"Accept-Language": "en"}).status_code
        == 404
    )
    assert "Invitation not found" in client.get(f"/r/nope/{code}?lang=en").text
    ws = ["--workspace", fx.workspace.slug, "--lang", "en"]
    shown = runner.invoke(app, ["loyalty", "referrals", "code", "C003", *ws])
    assert shown.exit_code == 0 and "referral code" in shown.output
    code3 = shown.output.split("referral code ")[1].split(",")[0]
    self_referral = runner.invoke(app, ["loyalty", "referrals", "add", code3, "C003", *ws])
    assert self_referral.exit_code == 2 and "cannot refer themselves" in self_referral.output
    zh = runner.invoke(app, ["loyalty", "referrals", "add", code3, "C003", "--workspace", fx.workspace.slug,
                             "--lang", "zh-Hans"])  # fmt: skip
    assert zh.exit_code == 2 and "不能推荐自己" in zh.output
    added = runner.invoke(app, ["loyalty", "referrals", "add", code3, "C008", *ws])
    assert added.exit_code == 0 and "Referral recorded: C008, referred by C003" in added.output
    settled = runner.invoke(app, ["loyalty", "referrals", "settle", *ws])
    assert settled.exit_code == 0 and "0 rewarded (0 points), 2 still waiting" in settled.output
    terms = runner.invoke(app, ["loyalty", "referrals", "settings", "--referrer", "100", "--referee", "50",
                                "--cap", "3", *ws])  # fmt: skip
    assert terms.exit_code == 0 and "cap 3" in terms.output
    listed = runner.invoke(app, ["loyalty", "referrals", "list", "--json", *ws])
    assert listed.exit_code == 0 and '"total": 7' in listed.output
