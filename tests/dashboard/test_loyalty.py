"""The Loyalty tab: every figure against a hand-computed ledger, on the page and in its exports.

The ledger (workspace in Asia/Taipei, 12-month expiry, the suite's clock at 2026-11-24T02:00Z = 10:00 local):

| when (UTC, 04:00 = noon local) | what                                   | lot left now, expiry            |
|---|---|---|
| 2025-10-15 | C003 +30 (adjust)                                 | expired by the job on 2026-10-20 |
| 2025-12-10 | C001 +50 (adjust)                                 | 10 (40 redeemed), 2026-12-10     |
| 2026-01-05 | C002 +20 (adjust)                                 | 0 (redeemed), 2027-01-05         |
| 2026-01-20 | C003 +25 (adjust)                                 | 25, 2027-01-20                   |
| 2026-02-10 | C001 +70 (adjust)                                 | 70, 2027-02-10                   |
| 2026-09-10 | C001 order O1 paid, 2 × NT$680: v2 earns ⌊1360 × 2 / 100⌋ = 27 | 27, 2027-09-10  |
| 2026-09-20 | C002 order O2 paid, the same: 27                  | 0 (20 redeemed, 7 reversed)      |
| 2026-10-05 | C001 redeems 40: 40 of the December lot           |                                  |
| 2026-10-06 | C002 redeems 40: 20 January + 20 of O2's lot      |                                  |
| 2026-10-08 | O2 cancelled: −27, 7 from O2's lot, 20 as debt    |                                  |
| 2026-10-20 | the expiry job: C003's 30                         |                                  |
| 2026-11-03 | C003 +15 (adjust, the month under way)            | 15, 2027-11-03                   |

Now: members 3; outstanding C001 10 + 70 + 27 = 107, C003 25 + 15 = 40, total 147 held by 2; debt 20 (C002).
Expiring (now < expiry ≤ now + N days): 30 days (to 2026-12-24) 10 (C001); 60 days (to 2027-01-23) 10 + 25 = 35
(2 members); 90 days (to 2027-02-22) 35 + 70 = 105 (2 members).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from patron.core import clock
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.i18n import translate
from patron.customers.models import Customer
from patron.dashboard import loyalty
from patron.dashboard.filters import parse_filters
from patron.loyalty import service
from patron.loyalty.member_view import member_card
from patron.loyalty.schemas import ProgramUpdate
from tests.loyalty.conftest import Program, make_program, order
from tests.web.conftest import PASSWORD, log_in

TODAY = date(2026, 11, 24)


def _at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T04:00:00+00:00").astimezone(UTC)


def _adjust(fx: Program, day: str, customer: str, points: int) -> None:
    with clock.frozen(_at(day)), transaction(fx.engine) as session:
        service.adjust(session, workspace=fx.workspace, customer_external_id=customer, points=points,
                       reason="welcome gift", idempotency_key=f"adj-{customer}-{day}", actor="tests")  # fmt: skip


def _redeem(fx: Program, day: str, customer: str, points: int) -> None:
    with clock.frozen(_at(day)), transaction(fx.engine) as session:
        service.redeem(session, workspace=fx.workspace, customer_external_id=customer, points=points,
                       reason="voucher", idempotency_key=f"red-{customer}-{day}")  # fmt: skip


def build_ledger(fx: Program) -> None:
    _adjust(fx, "2025-10-15", "C003", 30)
    _adjust(fx, "2025-12-10", "C001", 50)
    _adjust(fx, "2026-01-05", "C002", 20)
    _adjust(fx, "2026-01-20", "C003", 25)
    _adjust(fx, "2026-02-10", "C001", 70)
    with clock.frozen(_at("2026-09-10")):
        fx.import_orders(
            [order("O1", 1, "C001", "2026-09-10T10:00:00+08:00", "paid", "P1", 2, "680")], "o1.csv"
        )
    with clock.frozen(_at("2026-09-20")):
        fx.import_orders(
            [order("O2", 1, "C002", "2026-09-20T10:00:00+08:00", "paid", "P1", 2, "680")], "o2.csv"
        )
    _redeem(fx, "2026-10-05", "C001", 40)
    _redeem(fx, "2026-10-06", "C002", 40)
    with clock.frozen(_at("2026-10-08")):
        fx.import_orders(
            [order("O2", 1, "C002", "2026-09-20T10:00:00+08:00", "cancelled", "P1", 2, "680")], "o2c.csv"
        )
    with clock.frozen(_at("2026-10-20")), transaction(fx.engine) as session:
        service.expire_due(session, workspace_id=fx.workspace.id)
    _adjust(fx, "2026-11-03", "C003", 15)
    with transaction(fx.engine) as session:
        assert service.check(session, workspace_id=fx.workspace.id).differences == []
        session.execute(
            update(Customer)
            .where(Customer.workspace_id == fx.workspace.id, Customer.external_id == "C001")
            .values(segment="vip")
        )


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Program:
    fx = make_program(engine, tmp_path / "loyalty")
    build_ledger(fx)
    return fx


def _view(fx: Program, **params: str) -> loyalty.LoyaltyView:
    with transaction(fx.engine) as session:
        return loyalty.loyalty(session, fx.workspace, parse_filters(params, today=TODAY), "en")


def _months(view: loyalty.LoyaltyView) -> dict[str, list[object]]:
    return {row[0].strftime("%Y-%m"): row[1:] for row in view.tables["movements"].rows}  # type: ignore[union-attr]


def test_every_figure_is_the_hand_computed_one(ledger: Program) -> None:
    view = _view(ledger)
    assert view.program == "茶友會"
    assert (view.members, view.outstanding, view.members_with_points) == (3, 147, 2)
    assert (view.debt, view.members_with_debt) == (20, 1)
    assert view.expiring == {30: (10, 1), 60: (35, 2), 90: (105, 2)}
    # The trend window runs from 2025-12 (12 months back); the month under way (November) is left out, so
    # October 2025's adjustment and November's are not in the table.
    #                      earned redeemed expired reversed adjusted
    assert _months(view) == {
        "2025-12": [0, 0, 0, 0, 50],
        "2026-01": [0, 0, 0, 0, 45],
        "2026-02": [0, 0, 0, 0, 70],
        "2026-03": [0, 0, 0, 0, 0],
        "2026-04": [0, 0, 0, 0, 0],
        "2026-05": [0, 0, 0, 0, 0],
        "2026-06": [0, 0, 0, 0, 0],
        "2026-07": [0, 0, 0, 0, 0],
        "2026-08": [0, 0, 0, 0, 0],
        "2026-09": [54, 0, 0, 0, 0],
        "2026-10": [0, 80, 30, 27, 0],
    }
    assert view.under_way == date(2026, 11, 1)
    top = view.tables["top"].rows
    # external id, name, balance, debt, expiring in 30 days, enrolled (local day)
    assert top == [
        ["C001", "顧客1", 107, 0, 10, date(2025, 12, 10)],
        ["C003", "顧客3", 40, 0, 0, date(2025, 10, 15)],
    ]
    assert view.tables["debt"].rows == [["C002", "顧客2", 0, 20, 0, date(2026, 1, 5)]]
    # Each member links to their page (on the page only: the exports keep the plain id).
    assert view.tables["top"].links == {
        0: "/dashboard/loyalty/members/C001",
        1: "/dashboard/loyalty/members/C003",
    }
    assert view.tables["debt"].links == {0: "/dashboard/loyalty/members/C002"}
    assert view.tables["expiring"].rows == [
        ["Next 30 days", 10, 1],
        ["Next 60 days", 35, 2],
        ["Next 90 days", 105, 2],
    ]
    assert view.tables["summary"].rows == [["Members", None, 3], ["Points outstanding", 147, 2],
                                           ["Points debt", 20, 1]]  # fmt: skip
    # Issued in the complete months 2025-12 … 2026-10: adjustments credited 50 + 20 + 25 + 70 = 165, earned 54;
    # redeemed 80 (October), expired 30 (October's job); November (under way) left out.
    assert (view.window_issued, view.window_redeemed, view.window_expired) == (219, 80, 30)
    assert view.redemption_rate == pytest.approx(100 * 80 / 219)  # 36.53 %
    assert view.breakage_rate == pytest.approx(100 * 30 / 219)  # 13.70 %
    assert view.tables["rates"].rows == [
        ["Issued (earned and credited)", 219, None],
        ["Redeemed", 80, pytest.approx(36.5297, abs=1e-4)],
        ["Expired", 30, pytest.approx(13.6986, abs=1e-4)],
    ]
    assert view.point_value is None and view.outstanding_money is None, "no value set: points only"


def test_liability_in_money_at_the_programs_point_value(ledger: Program) -> None:
    with transaction(ledger.engine) as session:
        program = service.require_program(session, ledger.workspace.id)
        saved = service.set_program(session, workspace=ledger.workspace, data=ProgramUpdate(
            name=program.name, expiry_months=12, point_value="1.25"))  # fmt: skip
    assert saved.point_value == "1.25"
    view = _view(ledger)
    # 147 points × NT$1.25 = NT$183.75; debt 20 × 1.25 = NT$25.00
    assert (view.point_value, view.outstanding_money, view.debt_money) == (
        Decimal("1.25"), Decimal("183.75"), Decimal("25.00"))  # fmt: skip
    assert view.tables["summary"].rows == [["Members", None, 3, None], ["Points outstanding", 147, 2, 183.75],
                                           ["Points debt", 20, 1, 25.0]]  # fmt: skip
    with transaction(ledger.engine) as session:  # left out: the value stays
        kept = service.set_program(session, workspace=ledger.workspace, data=ProgramUpdate(name="茶友會"))
    assert kept.point_value == "1.25"


def test_money_rounds_half_even_to_the_currencys_digits() -> None:
    assert loyalty.money_of(1, Decimal("0.005"), "TWD") == Decimal("0.00")
    assert loyalty.money_of(3, Decimal("0.005"), "TWD") == Decimal("0.02")
    assert loyalty.money_of(147, Decimal("1.25"), "JPY") == Decimal("184")
    assert service.point_value_text(1000) == "0.1" and service.point_value_text(20000) == "2"


def test_the_month_under_way_when_asked_and_an_older_window(ledger: Program) -> None:
    months = _months(_view(ledger, partial="1"))
    assert months["2026-11"] == [0, 0, 0, 0, 15]
    older = _months(_view(ledger, period="custom", since="2025-10-01", until="2025-12-31"))
    assert older["2025-10"] == [0, 0, 0, 0, 30]
    assert older["2025-12"] == [0, 0, 0, 0, 50]


def test_a_segment_narrows_everything_to_its_members(ledger: Program) -> None:
    view = _view(ledger, segment="vip")
    assert (view.members, view.outstanding, view.members_with_points, view.debt) == (1, 107, 1, 0)
    assert view.expiring == {30: (10, 1), 60: (10, 1), 90: (80, 1)}
    months = _months(view)
    assert (months["2025-12"], months["2026-01"], months["2026-02"]) == (
        [0, 0, 0, 0, 50],
        [0] * 5,
        [0, 0, 0, 0, 70],
    )
    assert (months["2026-09"], months["2026-10"]) == ([27, 0, 0, 0, 0], [0, 40, 0, 0, 0])
    assert (view.window_issued, view.window_redeemed, view.window_expired) == (147, 40, 0)
    assert view.redemption_rate == pytest.approx(100 * 40 / 147) and view.breakage_rate == 0
    assert view.tables["debt"].rows == []


def test_a_workspace_without_a_program(engine: Engine, tmp_path: Path) -> None:
    from tests.factories import make_workspace

    workspace = make_workspace(engine)
    with transaction(engine) as session:
        view = loyalty.loyalty(session, workspace, parse_filters({}, today=TODAY), "en")
    assert view.program is None and view.tables == {}


def _viewer(fx: Program) -> str:
    email = f"viewer@{fx.workspace.slug}.example.com"
    with transaction(fx.engine) as session:
        core_service.create_user(session, workspace_id=fx.workspace.id, email=email, password=PASSWORD,
                                 role="viewer")  # fmt: skip
    return email


@pytest.mark.parametrize(
    ("language", "title"), [("zh-Hant", "會員點數"), ("zh-Hans", "会员积分"), ("en", "Loyalty")]
)
def test_the_page_and_its_exports(client: TestClient, ledger: Program, language: str, title: str) -> None:
    log_in(client, ledger.workspace.slug, _viewer(ledger))
    page = client.get(f"/dashboard/loyalty?lang={language}")
    assert page.status_code == 200
    assert title in page.text
    kpis = dict(re.findall(r'data-kpi="(\w+)" data-value="([\d.]+)"', page.text))
    assert kpis == {
        "members": "3",
        "outstanding": "147",
        "expiring": "10",
        "debt": "20",
        "redemption_rate": "36.53",
    }
    assert 'id="chart-movements"' in page.text
    assert 'name="survey"' not in page.text and 'name="segment"' in page.text, "surveys do not apply here"
    against = translate(
        "dash.showing", language, since="S", until="U", previous_since="P", previous_until="Q"
    )
    against = against.split("U")[1].split("P")[0]  # "; changes are against " in the page's language
    assert against.strip() and against not in page.text, "nothing is compared with an earlier period"
    for key in ("movements", "expiring", "summary", "rates", "top", "debt"):
        assert f'data-table="{key}"' in page.text
    export = client.get("/dashboard/loyalty/export?table=movements&format=csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[-1] == ["2026-10-01", "0", "80", "30", "27", "0"]
    top = client.get("/dashboard/loyalty/export?table=top&format=xlsx")
    assert top.status_code == 200 and top.content[:2] == b"PK"


def test_the_member_card_of_the_customer_page(ledger: Program) -> None:
    with transaction(ledger.engine) as session:
        ids = dict(session.execute(select(Customer.external_id, Customer.id).where(Customer.workspace_id == ledger.workspace.id)).all())  # fmt: skip
        cards = {c: member_card(session, workspace_id=ledger.workspace.id, customer_id=ids[c], locale="en")
                 for c in ("C001", "C002", "C004")}  # fmt: skip
    c001, c002 = cards["C001"], cards["C002"]
    assert cards["C004"] is None  # never earned, redeemed or was adjusted: no member
    assert c001 is not None and c002 is not None
    assert (c001.points, c001.debt, c001.expiring_soon, c001.entries_total) == (107, 0, 10, 4)
    assert [(lot.expires_at, lot.points, lot.remaining, lot.due) for lot in c001.lots] == [
        (_at("2026-12-10"), 50, 10, False),
        (_at("2027-02-10"), 70, 70, False),
        (datetime(2027, 9, 10, 2, tzinfo=UTC), 27, 27, False),  # the order's time, 10:00 local
    ]
    assert (c002.points, c002.debt, c002.lots) == (0, 20, [])
    assert [(e.kind, e.points, e.debt_delta, e.reason, e.order) for e in c002.entries] == [
        ("reverse", -27, 20, "Order cancelled", "O2"),
        ("redeem", -40, 0, "voucher", None),
        ("earn", 27, 0, "Purchase", "O2"),
        ("adjust", 20, 0, "welcome gift", None),
    ]


@pytest.mark.parametrize(
    ("language", "cancelled"), [("zh-Hant", "訂單取消"), ("zh-Hans", "订单取消"), ("en", "Order cancelled")]
)
def test_the_customer_page_shows_the_member(
    client: TestClient, ledger: Program, language: str, cancelled: str
) -> None:
    log_in(client, ledger.workspace.slug, _viewer(ledger))
    page = client.get(f"/customers/C002?lang={language}")
    assert page.status_code == 200
    assert 'data-points="0" data-debt="20"' in page.text
    assert cancelled in page.text and "welcome gift" in page.text
    assert 'data-points="107" data-debt="0"' in client.get("/customers/C001").text
    assert "data-loyalty" not in client.get("/customers/C004").text
