"""The member look-up and one member's account on the dashboard, against the hand-computed ledger of
tests/dashboard/test_loyalty.py: the full ledger page by page with its filters in the URL, lots with their expiry,
the consent record, and the CSV/Excel exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from patron.core.db import transaction
from patron.dashboard import loyalty_member
from patron.loyalty import service
from tests.dashboard.test_loyalty import _viewer, ledger  # noqa: F401  (the fixture)
from tests.loyalty.conftest import Program
from tests.web.conftest import log_in


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_member_account_in_three_languages(client: TestClient, ledger: Program) -> None:  # noqa: F811
    log_in(client, ledger.workspace.slug, _viewer(ledger))
    for language, word in (("en", "Ledger"), ("zh-Hant", "點數明細"), ("zh-Hans", "积分明细")):
        page = client.get(f"/dashboard/loyalty/members/C001?lang={language}")
        assert page.status_code == 200 and word in page.text
        assert 'data-ledger-total="4"' in page.text
    # C001: adjust +50 (2025-12-10), +70 (2026-02-10), O1 earns 27 (v2), redeems 40 (2026-10-05); now
    # 10 + 70 + 27 = 107 live, 10 expiring within 30 days (the December lot), no debt.
    page = client.get("/dashboard/loyalty/members/C001?lang=en").text
    for metric, value in (("points", 107), ("expiring", 10), ("debt", 0)):
        assert f'data-metric="{metric}" data-value="{value}"' in page
    ledger_csv = _csv(client.get("/dashboard/loyalty/members/C001/export?table=ledger&format=csv").content)
    assert ledger_csv[0][:9] == ["Time", "Kind", "Points", "Debt change", "Reason", "Source", "Order / line",
                                 "Version", "Who / reference"]  # fmt: skip
    assert [row[1:9] for row in ledger_csv[1:]] == [
        ["Redeemed", "-40", "0", "voucher", "Reward", "", "", ""],
        ["Earned", "27", "0", "Purchase", "Order", "O1 #1", "2", ""],
        ["Adjusted", "70", "0", "welcome gift", "Manual adjustment", "", "", "tests"],
        ["Adjusted", "50", "0", "welcome gift", "Manual adjustment", "", "", "tests"],
    ]
    assert ledger_csv[1][0] == "2026-10-05 12:00:00"  # 04:00 UTC shown in Taipei
    lots = _csv(client.get("/dashboard/loyalty/members/C001/export?table=lots&format=csv").content)
    assert lots[1:] == [
        ["2025-12-10", "2026-12-10", "50", "10", "Live"],
        ["2026-02-10", "2027-02-10", "70", "70", "Live"],
        ["2026-09-10", "2027-09-10", "27", "27", "Live"],
    ]
    adjusted = client.get("/dashboard/loyalty/members/C001/export?table=ledger&format=xlsx&kind=adjust")
    sheet = load_workbook(io.BytesIO(adjusted.content)).active
    assert sheet is not None and [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)] == [70, 50]
    # C002 owes 20 after O2 was cancelled: both lots used up.
    c2 = client.get("/dashboard/loyalty/members/C002?lang=en&source=order")
    assert 'data-metric="debt" data-value="20"' in c2.text and 'data-ledger-total="2"' in c2.text
    used = _csv(client.get("/dashboard/loyalty/members/C002/export?table=lots&format=csv").content)
    assert [row[3:] for row in used[1:]] == [["0", "Used up"], ["0", "Used up"]]


def test_paging_filters_and_bad_input(
    client: TestClient,
    ledger: Program,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_in(client, ledger.workspace.slug, _viewer(ledger))
    monkeypatch.setattr(loyalty_member, "LEDGER_PAGE", 3)
    first = client.get("/dashboard/loyalty/members/C001?lang=en").text
    assert "page 1 of 2" in first and 'href="/dashboard/loyalty/members/C001?page=2" rel="next"' in first
    second = client.get("/dashboard/loyalty/members/C001?lang=en&page=2").text
    assert second.count("welcome gift") == 1 and 'rel="prev"' in second
    bad = client.get("/dashboard/loyalty/members/C001?lang=en&kind=bogus")
    assert bad.status_code == 400 and "“bogus” is not one of earn, redeem" in bad.text
    zh = client.get("/dashboard/loyalty/members/C001?lang=zh-Hant&page=0")
    assert zh.status_code == 400 and "不是" in zh.text
    assert client.get("/dashboard/loyalty/members/C004?lang=en").status_code == 404  # never joined
    assert client.get("/dashboard/loyalty/members/C001/export?table=nope").status_code == 400


def test_lookup_and_consent_record(client: TestClient, ledger: Program) -> None:  # noqa: F811
    log_in(client, ledger.workspace.slug, _viewer(ledger))
    exact = client.get("/dashboard/loyalty/members?q=C002", follow_redirects=False)
    assert (exact.status_code, exact.headers["location"]) == (303, "/dashboard/loyalty/members/C002")
    listed = client.get("/dashboard/loyalty/members?q=c00&lang=en").text
    assert 'data-found="3"' in listed  # C004 is no member
    assert "No member matches" in client.get("/dashboard/loyalty/members?q=zzz&lang=en").text
    with transaction(ledger.engine) as session:
        service.enrol(session, workspace=ledger.workspace, customer_external_id="C004",
                      consent=service.Consent(datetime(2026, 11, 1, 2, tzinfo=UTC), "pos", "store 3"))  # fmt: skip
        service.unenrol(session, workspace=ledger.workspace, customer_external_id="C003", actor="tests")
    c4 = client.get("/dashboard/loyalty/members/C004?lang=en").text
    assert 'data-field="consent_source">pos<' in c4 and 'data-field="consent_by">store 3<' in c4
    c3 = client.get("/dashboard/loyalty/members/C003?lang=en")
    assert 'data-active="no"' in c3.text and "Left the program on" in c3.text
    forfeited = _csv(
        client.get("/dashboard/loyalty/members/C003/export?table=ledger&format=csv&source=leave").content
    )
    assert [row[1:6] for row in forfeited[1:]] == [
        ["Expired", "-15", "0", "Left the program", "Leaving the program"],
        ["Expired", "-25", "0", "Left the program", "Leaving the program"],
    ]
    assert "Left the program on" in client.get("/customers/C003?lang=en").text
    customer = client.get("/customers/C001?lang=en").text
    assert "data-member-left" not in customer
    assert 'href="/dashboard/loyalty/members/C001" data-member-account' in customer


def test_the_overview_as_data_api_and_cli(client: TestClient, ledger: Program) -> None:  # noqa: F811
    from typer.testing import CliRunner

    from patron.cli import app
    from patron.core import service as core_service

    with transaction(ledger.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=ledger.workspace.id, name="tests")
    headers = {"Authorization": f"Bearer {key}"}
    body = client.get("/api/v1/loyalty/overview", headers=headers).json()
    # the hand-computed ledger of tests/dashboard/test_loyalty.py
    assert (body["members"], body["outstanding"], body["debt"], body["members_with_debt"]) == (3, 147, 20, 1)
    assert [(e["days"], e["points"], e["members"]) for e in body["expiring"]] == [
        (30, 10, 1),
        (60, 35, 2),
        (90, 105, 2),
    ]
    months = {
        m["month"]: [m["earned"], m["redeemed"], m["expired"], m["reversed"], m["adjusted"]]
        for m in body["months"]
    }
    assert months["2026-09"] == [54, 0, 0, 0, 0] and months["2026-10"] == [0, 80, 30, 27, 0]
    assert (body["issued"], body["redeemed"], body["expired"]) == (219, 80, 30)
    assert round(body["redemption_rate"], 2) == 36.53 and round(body["breakage_rate"], 2) == 13.70
    assert client.get("/api/v1/loyalty/overview?until=nope", headers=headers).status_code == 422
    # C002 leaves with a debt of 20: written off, not counted as issued; no longer a member.
    with transaction(ledger.engine) as session:
        service.unenrol(session, workspace=ledger.workspace, customer_external_id="C002", actor="tests")
    after = client.get("/api/v1/loyalty/overview?partial=true", headers=headers).json()
    assert (after["members"], after["debt"], after["outstanding"]) == (2, 0, 147)
    assert after["months"][-1]["month"] == "2026-11" and after["months"][-1]["adjusted"] == 15 + 20
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
    shown = runner.invoke(app, ["loyalty", "overview", "--workspace", ledger.workspace.slug, "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "茶友會: 2 members, 147 points outstanding, debt 0" in shown.output
    assert "219 points issued, redemption rate 36.5 %, breakage 13.7 %" in shown.output
