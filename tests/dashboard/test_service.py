"""Dashboard views against hand-computed values (tests/metrics/world.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.dashboard import alerts, rollup, service
from patron.dashboard.filters import Filters, parse_filters
from patron.dashboard.tables import to_csv, to_xlsx
from patron.importers import import_file
from patron.metrics.service import operational_connection
from patron.surveys import service as surveys
from patron.surveys.models import SurveyInvitation
from patron.surveys.schemas import ResponseSubmit
from tests.dashboard.conftest import Dash
from tests.factories import ORDER_HEADER, write_csv
from tests.metrics.world import NPS_CHANGE_BY_HAND
from tests.web.conftest import make_tenant

TODAY = date(2026, 11, 24)
#: The answers the tests submit are completed today (the suite's clock): a period has to include today to show them.
LAST_WEEK_TO_DATE = {"period": "7d", "partial": "1"}
JAN_FEB = {"since": "2025-01-01", "until": "2025-02-28"}
FEBRUARY = {"since": "2025-02-01", "until": "2025-02-28"}  # 28 days: compared with 4–31 January


def _filters(**params: str) -> Filters:
    return parse_filters(params, today=TODAY)


@pytest.fixture
def live(engine: Engine, dash: Dash) -> Iterator[rollup.MetricSource]:
    """Metrics straight from the raw answers (the overview tests compare it with the cached roll-up)."""
    with Session(engine) as session:
        yield rollup.MetricSource(
            operational_connection(), session, dash.workspace_id, dash.zone, cached=False
        )


def _overview(engine: Engine, dash: Dash, filters: Filters) -> service.Overview:
    """The overview from the cached roll-up, checked against the same overview from the raw answers."""
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, dash.workspace_id)
        cached = service.overview(rollup.MetricSource(operational_connection(), session, workspace.id, workspace.timezone), workspace,
                                  filters, "en")  # fmt: skip
        raw = service.overview(rollup.MetricSource(operational_connection(), session, workspace.id, workspace.timezone, cached=False),
                               workspace, filters, "en")  # fmt: skip
    assert cached == raw
    return cached


def test_overview_numbers_are_the_hand_computed_ones(engine: Engine, dash: Dash) -> None:
    view = _overview(engine, dash, _filters(**JAN_FEB))
    nps = view.kpis["nps"]
    assert (round(nps.value or 0, 4), nps.n, nps.sufficient) == (9.0909, 11, False), "5 P, 2 Pa, 4 D of 11"
    assert nps.change is None and nps.direction == "none", "nothing answered in Nov–Dec 2024"
    assert view.split == {"promoters": 5, "passives": 2, "detractors": 4}
    rate = view.kpis["response_rate"]
    assert (rate.value, rate.n) == (50.0, 10), "5 of the 10 invitations that went out on 5 January"
    assert view.kpis["csat"].value is None and view.kpis["csat"].n == 0, "CSAT was answered in 2026"
    assert view.responses == 11 and view.previous_responses == 0
    assert view.benchmark is not None and (view.benchmark.nps, view.benchmark.industry) == (
        51.0, "General retail, multicategory")  # fmt: skip
    assert [p.value for p in view.trend["nps"]] == pytest.approx([40.0, -100 / 6])
    assert [str(p.period) for p in view.trend["nps"]] == ["2025-01-01", "2025-02-01"]


def test_change_against_the_previous_period_and_its_significance(engine: Engine, dash: Dash) -> None:
    view = _overview(engine, dash, _filters(**FEBRUARY))
    assert (view.responses, view.previous_responses) == (6, 5), (
        "member's six in February, vip's five on 15 January"
    )
    nps = view.kpis["nps"]
    assert nps.value == pytest.approx(-100 / 6) and nps.previous == pytest.approx(40.0)
    assert nps.change == pytest.approx(-56.6667, abs=1e-4) and nps.direction == "down"
    # The MOVER interval of the change and its p-value, worked out in tests/metrics/world.py: p = 0.29602.
    # Neither month has 30 answers: no verdict, so no colour.
    assert nps.p_value == pytest.approx(NPS_CHANGE_BY_HAND["p"], abs=1e-4)
    assert nps.significant is None and nps.reason == "small_sample" and nps.tone == "neutral"


def test_segment_and_survey_filters(engine: Engine, dash: Dash) -> None:
    vip = _overview(engine, dash, _filters(**JAN_FEB, segment="vip"))
    assert (vip.kpis["nps"].value, vip.responses) == (40.0, 5)
    assert vip.kpis["response_rate"].value == 75.0, "3 of 4 vip invitations answered"
    other = _overview(engine, dash, _filters(**JAN_FEB, survey="post_purchase_csat"))
    assert other.kpis["nps"].value is None and other.responses == 0


def test_breakdown_by_segment_and_the_touchpoint_heatmap(
    engine: Engine, dash: Dash, live: rollup.MetricSource
) -> None:
    view = service.breakdown(live, _filters(**JAN_FEB), "nps", "segment",
                             "zh-Hant")  # fmt: skip
    assert view.labels == ["一般會員", "VIP 顧客"], "segments by their labels, not their codes"
    assert [round(k.value or 0, 2) for k in view.rows] == [-16.67, 40.0]
    assert [k.n for k in view.rows] == [6, 5]
    assert view.table.columns[0].label == "客群"
    assert view.heatmap.rows == [["整體關係", None, None]], "both months are under 30 answers: blank"
    with pytest.raises(PatronError) as caught:
        service.breakdown(live, _filters(), "nps", "shoe_size", "en")
    assert "shoe_size" in caught.value.message("en")


def test_responses_list_search_and_bands(engine: Engine, dash: Dash) -> None:
    with transaction(engine) as session:
        surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", customer_id="M5", answers={"nps": 2, "reason": "包裝破損，100% 不滿意"}))  # fmt: skip
    with transaction(engine) as session:
        everything, total = service.responses(session, dash.workspace_id, _filters(**JAN_FEB))
        assert total == 11 and len(everything) == 11
        detractors, count = service.responses(
            session, dash.workspace_id, _filters(**JAN_FEB), band="detractor"
        )
        assert count == 4 and all(r.scores["nps"] <= 6 for r in detractors)
        found, hits = service.responses(
            session, dash.workspace_id, _filters(**LAST_WEEK_TO_DATE), text="100%"
        )
        assert hits == 1 and found[0].customer_external_id == "M5"
        [comment] = found[0].comments
        assert (comment.question, comment.text, comment.kind) == (
            "What is the main reason for your score?", "包裝破損，100% 不滿意", "comment")  # fmt: skip
        # analysed on arrival: broken packaging is negative on product quality and on tangibles (the packaging)
        assert comment.analysis is not None and comment.analysis.sentiment == "negative"
        assert [(t.key, t.sentiment) for t in comment.analysis.themes] == [
            ("product_quality", "negative"), ("tangibles", "negative")]  # fmt: skip
        _, listed = service.responses(session, dash.workspace_id, _filters(period="7d"), text="100%")
        assert listed == 1, "a list runs to today even when the period's numbers stop at yesterday"
        _, literal = service.responses(session, dash.workspace_id, _filters(**LAST_WEEK_TO_DATE), text="0_")
        assert literal == 0, "% and _ are searched for literally"
        with pytest.raises(PatronError):
            service.responses(session, dash.workspace_id, _filters(), band="angry")


def test_survey_list_counts_follow_the_period_segment_and_survey(engine: Engine, dash: Dash) -> None:
    """The world's invitations: 10 sent on 5 January 2025 (vip 3 of 4 answered, member 2 of 6); its NPS
    responses: vip's 5 on 15 January, member's 6 on 10 February; CSAT 5 and CES 3 today. One more invitation,
    sent at 17:00 UTC on 31 January, is 1 February in Taipei, and was answered."""
    with transaction(engine) as session:
        survey_id = surveys.get_survey(session, workspace_id=dash.workspace_id, key="relationship_nps").id
        customer_id = session.scalar(select(Customer.id).where(Customer.workspace_id == dash.workspace_id,
                                                               Customer.external_id == "V4"))  # fmt: skip
        late = datetime(2025, 1, 31, 17, 0, tzinfo=UTC)
        session.add(SurveyInvitation(workspace_id=dash.workspace_id, survey_id=survey_id, customer_id=customer_id,
                                     subject="late", touchpoint="relationship", nonce=f"late-{dash.workspace_id}",
                                     locale="zh-Hant", send_after=late, expires_at=late, sent_at=late,
                                     answered_at=late))  # fmt: skip

    def counts(**params: str) -> dict[str, tuple[int, int, float | None, int]]:
        with transaction(engine) as session:
            rows = service.surveys(session, dash.workspace_id, _filters(**params), "zh-Hant")
        return {s.key: (s.invited, s.answered, s.response_rate, s.responses) for s in rows}

    january = {"since": "2025-01-01", "until": "2025-01-31"}
    assert counts(**january)["relationship_nps"] == (10, 5, 50.0, 5)
    assert counts(**january)["post_purchase_csat"] == (0, 0, None, 0), (
        "no invitations went out: no rate, not 0 %"
    )
    late = counts(**FEBRUARY)["relationship_nps"]
    assert late == (1, 1, 100.0, 6), "Taipei's 1 February, not UTC's 31 January"
    vip, member = (counts(**january, segment=segment)["relationship_nps"] for segment in ("vip", "member"))
    assert vip == (4, 3, 75.0, 5) and member == (6, 2, 100 / 3, 0)
    today = counts(**LAST_WEEK_TO_DATE)
    assert [today[key][3] for key in ("relationship_nps", "post_purchase_csat", "support_ces")] == [0, 5, 3]
    assert counts(period="7d")["post_purchase_csat"] == (0, 0, None, 0), "the complete days before today"
    assert list(counts(**LAST_WEEK_TO_DATE, survey="support_ces")) == ["support_ces"], "the survey filter"


def test_alerts_respect_threshold_and_significance(
    engine: Engine, dash: Dash, live: rollup.MetricSource
) -> None:
    run = live
    with transaction(engine) as session:
        defaults = alerts.rules(session, dash.workspace_id)
    assert defaults["nps"] == alerts.Rule("nps", 5.0, True)
    assert alerts.drops(run, _filters(**FEBRUARY), defaults) == [], "−56.7 but p = 0.27"
    relaxed = alerts.parse_rules({"nps.max_drop": "50", "csat.max_drop": "5", "ces.max_drop": "0,3",
                                  "response_rate.max_drop": "5"})  # fmt: skip
    with transaction(engine) as session:
        alerts.save_rules(session, dash.workspace_id, relaxed)
    with transaction(engine) as session:
        saved = alerts.rules(session, dash.workspace_id)
    assert saved["nps"] == alerts.Rule("nps", 50.0, False) and saved["ces"].max_drop == 0.3
    found = alerts.drops(run, _filters(**FEBRUARY), saved)
    assert [(d.metric, d.segment, round(d.kpi.change or 0, 2)) for d in found] == [("nps", None, -56.67)]
    strict = {**saved, "nps": alerts.Rule("nps", 60.0, False)}
    assert alerts.drops(run, _filters(**FEBRUARY), strict) == []
    with pytest.raises(PatronError) as caught:
        alerts.parse_rules({"nps.max_drop": "-3"})
    assert "nps" in caught.value.message("en") and "0 to 200" in caught.value.message("en")
    assert "-3" in caught.value.message("zh-Hant")


def test_retention_follows_the_period_and_the_segment(engine: Engine, tmp_path: Path) -> None:
    tenant = make_tenant(engine, tmp_path)
    filters = _filters(since="2025-03-01", until="2025-03-31")
    con = operational_connection()
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, tenant.workspace.id)
        view = service.retention(con, workspace, filters, "en")
        assert [row[:3] for row in view.periods.rows] == [[date(2025, 3, 1), 1, 1]]
        assert view.cohorts.rows == [[date(2025, 3, 1), 1, 100.0]]
        session.execute(update(Customer).where(Customer.workspace_id == workspace.id).values(segment="vip"))
        assert (
            service.retention(
                con, workspace, _filters(**filters.params(), segment="member"), "en"
            ).periods.rows
            == []
        )


def test_retention_counts_the_workspace_calendar_and_marks_the_running_month(
    engine: Engine, tmp_path: Path
) -> None:
    """C002's first order at 00:30 on 1 April in Taipei (31 March in UTC) is April's; in April the month
    is marked as still running."""
    tenant = make_tenant(engine, tmp_path)
    order = ("O3", 1, "C002", "2025-04-01T00:30:00+08:00", "completed", "web", "P1", 1, "680", "")
    import_file(engine, workspace_slug=tenant.workspace.slug, kind="orders",
                path=write_csv(tmp_path / "o3.csv", ORDER_HEADER, [order]))  # fmt: skip
    # the dashboard's own idea of today (the filters') decides which month is under way
    filters = parse_filters(
        {"since": "2025-03-01", "until": "2025-04-30", "partial": "1"}, today=date(2025, 4, 15)
    )
    with transaction(engine) as session:
        workspace = session.get_one(Workspace, tenant.workspace.id)
        view = service.retention(operational_connection(), workspace, filters, "en")
    # period, active, new, retention … to date (the last column); April's retention is blank, not 0-ish
    assert [(row[0], row[1], row[2], row[-1]) for row in view.periods.rows] == [
        (date(2025, 3, 1), 1, 1, False), (date(2025, 4, 1), 1, 1, True)]  # fmt: skip
    assert view.periods.rows[1][3] is None and view.periods.partial_rows == {1}
    assert [row[:3] for row in view.cohorts.rows] == [
        [date(2025, 3, 1), 1, 100.0],
        [date(2025, 4, 1), 1, 100.0],
    ]
    assert view.cohorts.partial_cells == {(0, 3), (1, 2)}, "each cohort's April cell is to date"
    assert view.periods.columns[-1].label == "To date"


def test_tables_export_as_csv_and_excel(engine: Engine, dash: Dash, live: rollup.MetricSource) -> None:
    table = service.breakdown(live, _filters(**JAN_FEB), "nps", "segment",
                              "zh-Hant").table  # fmt: skip
    text = to_csv(table).decode("utf-8")
    assert text.startswith("\ufeff客群,NPS 淨推薦值,"), "a BOM so Excel reads the Chinese headers"
    assert text.splitlines()[1].startswith("一般會員,-16.67,") and text.splitlines()[2].startswith(
        "VIP 顧客,40.0,"
    )
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    assert sheet["A1"].value == "客群" and sheet["B2"].value == -16.67 and sheet["E3"].value == 5


def test_the_cached_roll_up_follows_new_answers_and_changed_segments(engine: Engine, dash: Dash) -> None:
    assert _overview(engine, dash, _filters(**LAST_WEEK_TO_DATE)).kpis["csat"].n == 8
    with transaction(engine) as session:
        surveys.submit_response(session, workspace_id=dash.workspace_id,
                                submission=ResponseSubmit(survey="post_purchase_csat", answers={"csat": 1}))  # fmt: skip
    assert _overview(engine, dash, _filters(**LAST_WEEK_TO_DATE)).kpis["csat"].n == 9, (
        "a new answer counts at once"
    )
    assert _overview(engine, dash, _filters(**JAN_FEB, segment="vip")).kpis["nps"].n == 5
    with transaction(engine) as session:
        session.execute(update(Customer).where(Customer.workspace_id == dash.workspace_id,
                                               Customer.external_id == "M0").values(segment="vip"))  # fmt: skip
    assert _overview(engine, dash, _filters(**JAN_FEB, segment="vip")).kpis["nps"].n == 6, "M0 moved to vip"


def test_new_answers_and_answered_invitations_are_counted_day_by_day(
    engine: Engine, dash: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first full count, a new response, an old invitation being answered and a customer changing
    segment update the cached roll-up by recounting their days only (a full recount here would fail), and it
    still equals the raw data."""
    _overview(engine, dash, _filters(**JAN_FEB))

    def no_full_recount(*args: object, **kwargs: object) -> None:
        raise AssertionError("the roll-up was computed in full")

    monkeypatch.setattr(rollup.engine, "daily_statistics", no_full_recount)
    with transaction(engine) as session:
        surveys.submit_response(session, workspace_id=dash.workspace_id, submission=ResponseSubmit(
            survey="relationship_nps", customer_id="V1", answers={"nps": 0}))  # fmt: skip
        invitation = session.scalars(select(SurveyInvitation).where(
            SurveyInvitation.workspace_id == dash.workspace_id, SurveyInvitation.answered_at.is_(None),
            SurveyInvitation.sent_at.is_not(None)).order_by(SurveyInvitation.id)).first()  # fmt: skip
        assert invitation is not None
        invitation.answered_at = utcnow()
    recent = _overview(engine, dash, _filters(**LAST_WEEK_TO_DATE))
    assert recent.kpis["nps"].n == 1 and recent.kpis["nps"].value == -100.0
    january = _overview(engine, dash, _filters(**JAN_FEB))
    assert january.kpis["response_rate"].value == 60.0, "6 of the 10 sent on 5 January are now answered"
    with transaction(engine) as session:
        session.execute(update(Customer).where(Customer.workspace_id == dash.workspace_id,
                                               Customer.external_id == "M1").values(segment="vip"))  # fmt: skip
    vip = _overview(engine, dash, _filters(**JAN_FEB, segment="vip"))
    assert vip.kpis["nps"].n == 6 and vip.kpis["response_rate"].n == 5, "M1's answer and invitation moved"
