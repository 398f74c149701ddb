"""Enrolment with consent: the program's setting (auto / consent), the recorded consent, the enrolment import,
leaving the program (points forfeited, debt written off, the ledger still at zero difference), coming back,
and marketing only to members whose consent allows it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.importers import import_file
from patron.loyalty import orders, service
from patron.loyalty.models import Enrolment, Entry, Member
from patron.loyalty.schemas import ProgramUpdate
from patron.web.app import create_app
from tests.factories import write_csv
from tests.loyalty.conftest import Program, order

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
ENROL_HEADER = ("customer", "consented_at", "consent", "source", "recorded_by")


def _mode(program: Program, mode: Enrolment) -> None:
    with transaction(program.engine) as session:
        service.set_program(
            session, workspace=program.workspace, data=ProgramUpdate(name="茶友會", enrolment=mode)
        )


def _points(program: Program, customer: str) -> int:
    with transaction(program.engine) as session:
        return service.balance(
            session, workspace_id=program.workspace.id, customer_external_id=customer
        ).points


def _check(program: Program) -> None:
    with transaction(program.engine) as session:
        assert service.check(session, workspace_id=program.workspace.id).differences == []


def _members(program: Program) -> int:
    with transaction(program.engine) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Member).where(Member.workspace_id == program.workspace.id)
            )
            or 0
        )


def _import(program: Program, rows: list[tuple[object, ...]], name: str = "enrol.csv") -> object:
    path = write_csv(program.folder / name, ENROL_HEADER, rows)
    return import_file(
        program.engine, workspace_slug=program.workspace.slug, kind="loyalty_members", path=path
    )


def test_consent_program_enrols_by_import_and_orders_earn_from_the_consent_on(program: Program) -> None:
    _mode(program, Enrolment.CONSENT)
    program.import_orders([
        order("O1", 1, "C001", "2026-07-01T10:00:00+08:00", "completed", "P1", 1, "680"),
        order("O2", 1, "C002", "2026-07-01T10:00:00+08:00", "completed", "P1", 1, "680"),
        order("O3", 1, "C001", "2026-09-01T10:00:00+08:00", "completed", "P1", 2, "680"),
    ])  # fmt: skip
    assert _members(program) == 0  # nobody consented: no member, nothing earned
    report = _import(program, [
        ("C001", "2026-08-15 12:00", "yes", "pos", "cashier 7"),
        ("C002", "", "no", "", ""),
        ("C009", "", "", "", ""),
        ("C003", "", "", "", ""),
    ])  # fmt: skip
    assert (report.inserted, report.updated, report.rejected) == (2, 0, 2)  # type: ignore[attr-defined]
    codes = sorted(e.code for e in report.errors)  # type: ignore[attr-defined]
    assert codes == ["import.unknown_customer", "loyalty.import_no_consent"]
    with transaction(program.engine) as session:
        orders.sync_orders(session, workspace=program.workspace)
        read = service.membership(session, workspace_id=program.workspace.id, customer_external_id="C001")
        c3 = service.membership(session, workspace_id=program.workspace.id, customer_external_id="C003")
    # O1 (July) came before the consent of 15 August: nothing. O3 under v2: 1,360 × 2 / 100 = 27.
    assert _points(program, "C001") == 27
    assert (read.member, read.consent_source, read.consent_by) == (True, "pos", "cashier 7")
    assert read.consent_at == read.earns_from == datetime(2026, 8, 15, 4, tzinfo=UTC)
    assert c3.consent_source == "import" and c3.consent_at is not None  # empty: the import's time
    assert c3.consent_at.date() == datetime(2026, 11, 24, tzinfo=UTC).date()
    again = _import(
        program, [("C001", "2026-08-15 12:00", "yes", "pos", "cashier 7"), ("C003", "", "", "", "")]
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)  # type: ignore[attr-defined]
    _check(program)


def test_leaving_forfeits_points_writes_off_debt_and_coming_back_starts_from_zero(program: Program) -> None:
    ws = program.workspace
    with transaction(program.engine) as session:
        service.adjust(session, workspace=ws, customer_external_id="C001", points=20, reason="welcome",
                       idempotency_key="w-1", actor="tests")  # fmt: skip
    program.import_orders([order("O1", 1, "C001", "2026-07-01T10:00:00+08:00", "paid", "P1", 1, "680")])
    with transaction(program.engine) as session:  # 20 + 13 (v2: 680 × 2 / 100) = 33; spend 30
        service.redeem(session, workspace=ws, customer_external_id="C001", points=30, reason="voucher",
                       idempotency_key="r-1")  # fmt: skip
    program.import_orders(
        [order("O1", 1, "C001", "2026-07-01T10:00:00+08:00", "cancelled", "P1", 1, "680")], "o2.csv"
    )
    assert _points(program, "C001") == 0  # 3 left were taken back, 10 more became debt
    with transaction(program.engine) as session:
        left = service.unenrol(session, workspace=ws, customer_external_id="C001", actor="manager@shop")
        twice = service.unenrol(session, workspace=ws, customer_external_id="C001", actor="manager@shop")
    assert (left.member, left.forfeited, left.written_off, left.points, left.debt) == (False, 0, 10, 0, 0)
    assert (twice.forfeited, twice.written_off) == (0, 0)
    _check(program)
    # C002 leaves with points: all forfeited as expire entries (source leave)
    with transaction(program.engine) as session:
        service.adjust(session, workspace=ws, customer_external_id="C002", points=45, reason="x",
                       idempotency_key="w-2", actor="tests")  # fmt: skip
        gone = service.unenrol(
            session, workspace=ws, customer_external_id="C002", actor="api", reason="asked"
        )
        kinds = session.execute(
            select(Entry.kind, Entry.source, Entry.points, Entry.reason, Entry.source_ref)
            .where(Entry.workspace_id == ws.id, Entry.source == "leave")
            .order_by(Entry.id)
        ).all()
    assert gone.forfeited == 45
    assert [tuple(k) for k in kinds] == [
        ("adjust", "leave", 10, "debt_written_off", "manager@shop"),
        ("expire", "leave", -45, "asked", "api"),
    ]
    _check(program)
    # Out of the program: refused with a named error; orders do not enrol or earn.
    with transaction(program.engine) as session, pytest.raises(PatronError) as refused:
        service.redeem(session, workspace=ws, customer_external_id="C002", points=1, reason="x",
                       idempotency_key="r-2")  # fmt: skip
    assert refused.value.code == "loyalty.member_left"
    program.import_orders(
        [order("O4", 1, "C001", "2026-11-01T10:00:00+08:00", "completed", "P1", 1, "680")], "o4.csv"
    )
    with transaction(program.engine) as session:
        assert session.scalar(select(func.count()).select_from(Entry).where(Entry.workspace_id == ws.id,
                              Entry.order_external_id == "O4")) == 0  # fmt: skip
        back = service.enrol(session, workspace=ws, customer_external_id="C001",
                             consent=service.Consent(at=datetime(2026, 11, 24, 1, tzinfo=UTC), source="web_form"))  # fmt: skip
        orders.sync_orders(session, workspace=ws)
    # Back from zero; O4 (1 November) was placed while out: it earns nothing.
    assert (back.member, back.points, back.debt, back.consent_source) == (True, 0, 0, "web_form")
    assert _points(program, "C001") == 0
    _check(program)


def test_auto_program_records_how_members_joined(program: Program) -> None:
    program.import_orders([order("O1", 1, "C001", "2026-07-01T10:00:00+08:00", "completed", "P1", 1, "680")])
    with transaction(program.engine) as session:
        auto = service.membership(session, workspace_id=program.workspace.id, customer_external_id="C001")
        assert (
            service.program_read(service.require_program(session, program.workspace.id)).enrolment == "auto"
        )
    assert (auto.consent_source, auto.consent_at, auto.earns_from) == ("auto", None, None)
    report = _import(program, [("C001", "2026-11-01 09:00", "yes", "paper", "")])
    assert (report.inserted, report.updated) == (0, 1)  # type: ignore[attr-defined]
    with transaction(program.engine) as session:
        read = service.membership(session, workspace_id=program.workspace.id, customer_external_id="C001")
    assert (read.consent_source, read.earns_from) == ("paper", None)  # what it earns is unchanged
    assert _points(program, "C001") == 13


def test_marketing_only_to_consenting_members(program: Program) -> None:
    ws = program.workspace
    with transaction(program.engine) as session:
        for customer in ("C001", "C002", "C003"):
            service.enrol(session, workspace=ws, customer_external_id=customer)
        session.execute(update(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == "C002")
                        .values(consent_email=False))  # fmt: skip
        session.execute(update(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == "C003")
                        .values(consent_sms=True, phone="+886912345678"))  # fmt: skip
        service.unenrol(session, workspace=ws, customer_external_id="C001", actor="tests")
        ids = dict(session.execute(select(Customer.external_id, Member.id).join(Member, Member.customer_id == Customer.id)
                                   .where(Member.workspace_id == ws.id)).all())  # fmt: skip
        audience = service.marketing_audience(session, ws.id, list(ids.values()))
    # C001 left, C002 said no to email and has no phone, C003 consents to both.
    assert audience == {ids["C003"]: ["email", "sms"]}


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_api_carries_consent_and_leaving(program: Program, client: TestClient) -> None:
    with transaction(program.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=program.workspace.id, name="tests")
    headers = {"Authorization": f"Bearer {key}"}
    base = "/api/v1/loyalty/members"
    body = {"consented_at": "2026-11-20T10:00:00+08:00", "source": "pos", "recorded_by": "store 12"}
    joined = client.post(f"{base}/C001", headers=headers, json=body)
    assert joined.status_code == 200, joined.text
    assert (joined.json()["member"], joined.json()["consent_source"], joined.json()["consent_by"]) == (
        True, "pos", "store 12",
    )  # fmt: skip
    plain = client.post(f"{base}/C002", headers=headers).json()
    assert (plain["consent_source"], plain["consent_by"]) == ("api", "api")
    future = client.post(f"{base}/C003", headers=headers, json={"consented_at": "2030-01-01T00:00:00Z"})
    assert (future.status_code, future.json()["error"]["code"]) == (400, "loyalty.consent_in_future")
    bad = client.post(f"{base}/C003", headers=headers, json={"source": "no spaces!"})
    assert bad.status_code == 422
    client.post(
        f"{base}/C001/adjust", headers=headers, json={"points": 9, "reason": "x", "idempotency_key": "a1"}
    )
    left = client.post(f"{base}/C001/leave", headers={**headers, "Accept-Language": "zh-TW"},
                       json={"reason": "moved abroad"})  # fmt: skip
    assert (left.status_code, left.json()["forfeited"], left.json()["member"]) == (200, 9, False)
    refused = client.post(f"{base}/C001/redeem", headers={**headers, "Accept-Language": "zh-TW"},
                          json={"points": 1, "reason": "x", "idempotency_key": "r1"})  # fmt: skip
    assert refused.status_code == 409 and "已退出" in refused.json()["error"]["message"]
    adjust = client.post(f"{base}/C001/adjust", headers=headers,
                         json={"points": 5, "reason": "x", "idempotency_key": "a2"})  # fmt: skip
    assert (adjust.status_code, adjust.json()["error"]["code"]) == (409, "loyalty.member_left")
    shown = client.get(f"{base}/C001/membership", headers=headers).json()
    assert (shown["member"], shown["left_at"] is not None) == (False, True)
    assert client.get(f"{base}/C009/membership", headers=headers).status_code == 404
    assert client.get("/api/v1/loyalty/check", headers=headers).json()["differences"] == []


def test_cli_enrol_unenrol_history(program: Program) -> None:
    ws = ["--workspace", program.workspace.slug, "--lang", "en"]
    set_mode = runner.invoke(app, ["loyalty", "program", "--name", "茶友會", "--enrolment", "consent", *ws])
    assert set_mode.exit_code == 0 and "Only customers enrolled with a recorded consent" in set_mode.output
    joined = runner.invoke(app, ["loyalty", "enrol", "C001", "--at", "2026-11-01T09:00", "--source", "paper",
                                 "--by", "Amy", *ws])  # fmt: skip
    assert joined.exit_code == 0, joined.output
    assert "C001 is a member since" in joined.output and "source paper, recorded by Amy" in joined.output
    assert "consent 2026-11-01T01:00:00+00:00" in joined.output  # 09:00 in Taipei
    bad = runner.invoke(app, ["loyalty", "enrol", "C002", "--at", "yesterday", *ws])
    assert bad.exit_code == 2 and "yesterday is not a date and time" in bad.output
    for i in range(25):
        runner.invoke(app, ["loyalty", "adjust", "C001", "1", "--key", f"k{i}", "--reason", f"r{i}", *ws])
    page = runner.invoke(app, ["loyalty", "history", "C001", "--limit", "10", "--offset", "20", *ws])
    assert page.exit_code == 0 and "Entries 21–25 of 25" in page.output and "r4" in page.output
    out = runner.invoke(app, ["loyalty", "unenrol", "C001", "--by", "Amy", *ws])
    assert out.exit_code == 0 and "25 points forfeited, debt of 0 written off" in out.output
    zh = runner.invoke(app, ["loyalty", "redeem", "C001", "1", "--key", "x", "--workspace", program.workspace.slug,
                             "--lang", "zh-Hant"])  # fmt: skip
    assert zh.exit_code == 2 and "已退出會員計畫" in zh.output
