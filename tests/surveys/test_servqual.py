"""SERVQUAL gaps (``surveys.servqual``) against hand-computed values, on SQLite and PostgreSQL.

Four respondents of a six-item survey (reliability has two items, every other dimension one), the workspace in
Asia/Taipei. E, P per item (gap P − E):

    respondent  segment  completed (UTC)        r1     r2        s1     a1     e1     t1
    A           vip      2026-10-15 02:00       6,4    7,6       7,3    5,5    4,5    3,4
    B           regular  2026-10-31 17:00 (*)   5,5    6,3       6,4    6,6    5,4    4,4
    C           vip      2026-11-10 02:00       7,5    –,5 (**)  7,6    6,7    5,5    5,6
    D           (none)   2026-11-20 02:00       4,6    –         5,2    –      –      –

(*) 2026-11-01 01:00 in Taipei: a November answer. (**) the expectation is missing: left out of r2, counted.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.feedback.models import FeedbackItem, FeedbackMention
from patron.surveys import service as survey_service
from patron.surveys.models import SurveyAnswer, SurveyResponse
from patron.surveys.schemas import SurveyDefinition
from patron.surveys.servqual import ServqualReport, gap_report
from patron.web.app import create_app
from tests.factories import make_workspace
from tests.web.conftest import PASSWORD, log_in

T3 = 3.182446305284263  # Student's t, 97.5th percentile, 3 degrees of freedom
T1 = 12.706204736174705  # … 1 degree of freedom
ITEMS = [("r1", "reliability"), ("r2", "reliability"), ("s1", "responsiveness"), ("a1", "assurance"),
         ("e1", "empathy"), ("t1", "tangibles")]  # fmt: skip
RESPONDENTS: list[tuple[str | None, datetime, dict[str, tuple[int | None, int]]]] = [
    ("vip", datetime(2026, 10, 15, 2, tzinfo=UTC),
     {"r1": (6, 4), "r2": (7, 6), "s1": (7, 3), "a1": (5, 5), "e1": (4, 5), "t1": (3, 4)}),
    ("regular", datetime(2026, 10, 31, 17, tzinfo=UTC),
     {"r1": (5, 5), "r2": (6, 3), "s1": (6, 4), "a1": (6, 6), "e1": (5, 4), "t1": (4, 4)}),
    ("vip", datetime(2026, 11, 10, 2, tzinfo=UTC),
     {"r1": (7, 5), "r2": (None, 5), "s1": (7, 6), "a1": (6, 7), "e1": (5, 5), "t1": (5, 6)}),
    (None, datetime(2026, 11, 20, 2, tzinfo=UTC), {"r1": (4, 6), "s1": (5, 2)}),
]  # fmt: skip
DEFINITION = {
    "key": "sq", "name": {"en": "Service quality", "zh-Hant": "服務品質"}, "kind": "custom",
    "touchpoint": "store_visit",
    "questions": [
        {"key": "nps", "type": "nps", "label": {"en": "Recommend?", "zh-Hant": "推薦？"}},
        {"key": "quality", "type": "servqual", "label": {"en": "Quality", "zh-Hant": "品質"},
         "items": [{"key": key, "dimension": dim, "label": {"en": key.upper(), "zh-Hant": key.upper()}}
                   for key, dim in ITEMS]},
    ],
}  # fmt: skip
_worlds: dict[str, Workspace] = {}
runner = CliRunner(
    env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "PATRON_LANG": None, "COLUMNS": "200"}
)


def servqual_world(engine: Engine) -> Workspace:
    """Built once per database for the module."""
    key = str(engine.url)
    if key not in _worlds:
        _worlds[key] = build_world(engine)
    return _worlds[key]


def build_world(engine: Engine) -> Workspace:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        survey, _ = survey_service.save_survey(
            session, workspace_id=workspace.id, definition=SurveyDefinition.model_validate(DEFINITION)
        )
        plain = dict(DEFINITION, key="plain", questions=DEFINITION["questions"][:1])
        survey_service.save_survey(
            session, workspace_id=workspace.id, definition=SurveyDefinition.model_validate(plain)
        )
        for index, (segment, completed, pairs) in enumerate(RESPONDENTS):
            customer_id = None
            if segment:
                customer = Customer(workspace_id=workspace.id, external_id=f"C{index}", segment=segment)
                session.add(customer)
                session.flush()
                customer_id = customer.id
            response = SurveyResponse(
                workspace_id=workspace.id, survey_id=survey.id, survey_version=1, customer_id=customer_id,
                touchpoint="store_visit", channel="email", locale="en", status="completed", started_at=completed,
                completed_at=completed,
            )  # fmt: skip
            session.add(response)
            session.flush()
            for item, (expected, perceived) in pairs.items():
                session.add(SurveyAnswer(
                    workspace_id=workspace.id, response_id=response.id, survey_id=survey.id, question_key="quality",
                    question_type="servqual", item_key=item, score=perceived, expected_score=expected, scale_min=1,
                    scale_max=7,
                ))  # fmt: skip
    return workspace


def report(engine: Engine, **options: Any) -> ServqualReport:
    workspace = servqual_world(engine)
    with transaction(engine) as session:
        return gap_report(
            session, workspace_id=workspace.id, timezone=workspace.timezone, locale="en", **options
        )


def figures(gap: Any) -> tuple[Any, ...]:
    return (gap.n, gap.expectation, gap.perception, gap.gap)


def test_gaps_per_item_and_dimension_with_intervals(engine: Engine) -> None:
    result = report(engine, survey="sq")
    assert result.source == "answers" and [g.group for g in result.groups] == [None]
    everyone = result.groups[0]
    assert everyone.respondents == 4 and everyone.weighted_score is None
    items = {g.key: g for g in everyone.items}
    # r1: gaps −2, 0, −2, +2: mean −0.5, Σ(d − d̄)² = 11, s = √(11/3), half-width t₃·s/√4
    assert figures(items["r1"]) == pytest.approx((4, 5.5, 5.0, -0.5))
    half = T3 * (11 / 3) ** 0.5 / 2
    assert (items["r1"].ci_low, items["r1"].ci_high) == pytest.approx((-0.5 - half, -0.5 + half))
    # r2: C's pair has no expectation: two pairs (−1, −3), one incomplete; s = √2, half-width t₁·√2/√2
    assert figures(items["r2"]) == pytest.approx((2, 6.5, 4.5, -2.0)) and items["r2"].incomplete == 1
    assert (items["r2"].ci_low, items["r2"].ci_high) == pytest.approx((-2 - T1, -2 + T1))
    # s1: −4, −2, −1, −3: mean −2.5, Σ(d − d̄)² = 5
    half = T3 * (5 / 3) ** 0.5 / 2
    assert figures(items["s1"]) == pytest.approx((4, 6.25, 3.75, -2.5))
    assert (items["s1"].ci_low, items["s1"].ci_high) == pytest.approx((-2.5 - half, -2.5 + half))
    assert figures(items["a1"]) == pytest.approx((3, 17 / 3, 6.0, 1 / 3))
    assert figures(items["e1"]) == pytest.approx((3, 14 / 3, 14 / 3, 0.0))
    assert figures(items["t1"]) == pytest.approx((3, 4.0, 14 / 3, 2 / 3))
    # largest shortfall first
    assert [g.key for g in everyone.items] == ["s1", "r2", "r1", "e1", "a1", "t1"]
    assert not any(g.sufficient for g in everyone.items)  # all under 30 respondents
    dims = {g.key: g for g in everyone.dimensions}
    assert [g.key for g in everyone.dimensions] == ["reliability", "responsiveness", "assurance", "empathy",
                                                     "tangibles"]  # fmt: skip
    # reliability per respondent (mean of their complete items): A (6.5, 5.0), B (5.5, 4.0), C (7, 5), D (4, 6)
    # gaps −1.5, −1.5, −2, +2: mean −0.75, Σ(d − d̄)² = 10.25
    assert (
        figures(dims["reliability"]) == pytest.approx((4, 5.75, 5.0, -0.75))
        and dims["reliability"].incomplete == 1
    )
    half = T3 * (10.25 / 3) ** 0.5 / 2
    assert (dims["reliability"].ci_low, dims["reliability"].ci_high) == pytest.approx(
        (-0.75 - half, -0.75 + half)
    )
    assert dims["reliability"].name == "Reliability"
    assert figures(dims["responsiveness"]) == pytest.approx((4, 6.25, 3.75, -2.5))
    # unweighted SERVQUAL score: (−0.75 − 2.5 + 1/3 + 0 + 2/3) / 5
    assert everyone.score == pytest.approx(-0.45)


def test_by_month_in_the_workspace_calendar_and_by_segment(engine: Engine) -> None:
    months = report(engine, survey="sq", by="month")
    assert [g.group for g in months.groups] == ["2026-10", "2026-11"]  # B's 17:00 UTC is 1 November in Taipei
    october, november = months.groups
    assert october.respondents == 1 and november.respondents == 3
    # October is A alone: reliability −1.5, responsiveness −4, assurance 0, empathy +1, tangibles +1
    assert october.score == pytest.approx(-0.7)
    assert {g.key: g.ci_low for g in october.dimensions} == dict.fromkeys(
        ["reliability", "responsiveness", "assurance", "empathy", "tangibles"]
    )  # one respondent: no interval
    responsiveness = next(g for g in november.dimensions if g.key == "responsiveness")
    assert figures(responsiveness) == pytest.approx((3, 6.0, 4.0, -2.0))  # B −2, C −1, D −3
    segments = report(engine, survey="sq", by="segment")
    assert [g.group for g in segments.groups] == ["", "regular", "vip"]
    vip = next(g for g in segments.groups[2].dimensions if g.key == "responsiveness")
    assert figures(vip) == pytest.approx((2, 7.0, 4.5, -2.5))  # A −4, C −1: s = √4.5, half t₁·s/√2 = 1.5·t₁
    assert (vip.ci_low, vip.ci_high) == pytest.approx((-2.5 - 1.5 * T1, -2.5 + 1.5 * T1))
    only_vip = report(engine, survey="sq", segment="vip")
    assert only_vip.groups[0].respondents == 2
    november_only = report(engine, since=date(2026, 11, 1), until=date(2026, 11, 30))
    assert november_only.groups[0].respondents == 3 and november_only.survey is None


def test_bad_input_is_named(engine: Engine) -> None:
    with pytest.raises(PatronError) as unknown:
        report(engine, survey="nope")
    assert (unknown.value.code, unknown.value.status) == ("survey.not_found", 404)
    with pytest.raises(PatronError) as plain:
        report(engine, survey="plain")
    assert (plain.value.code, plain.value.status) == ("servqual.no_questions", 400)
    with pytest.raises(PatronError) as grouping:
        report(engine, by="week")
    assert grouping.value.code == "servqual.bad_grouping"


def test_without_servqual_answers_each_dimension_shows_its_theme_sentiment(engine: Engine) -> None:
    workspace = make_workspace(engine)
    moment = datetime(2026, 11, 3, 4, tzinfo=UTC)
    mentions = [
        ("responsiveness", "negative"),
        ("responsiveness", "negative"),
        ("responsiveness", "positive"),
        ("tangibles", "positive"),
        ("price_value", "negative"),
    ]  # one item each (a mention is per item)
    with transaction(engine) as session:
        for index, (theme, sentiment) in enumerate(mentions):
            item = FeedbackItem(workspace_id=workspace.id, source_key=f"k{index}", channel="chat", occurred_at=moment,
                                text="x", masked_text="x", analysis_text="x", language="en")  # fmt: skip
            session.add(item)
            session.flush()
            session.add(FeedbackMention(workspace_id=workspace.id, item_id=item.id, theme=theme, clause=0,
                                        sentiment=sentiment, score=0.5, occurred_at=moment, channel="chat"))  # fmt: skip
    with transaction(engine) as session:
        result = gap_report(session, workspace_id=workspace.id, timezone=workspace.timezone, locale="zh-Hant")
    assert result.source == "theme_sentiment" and result.groups == []
    themes = {t.dimension: (t.mentions, t.positive, t.negative, t.positive_share, t.negative_share)
              for t in result.themes}  # fmt: skip
    assert themes["responsiveness"] == pytest.approx((3, 1, 2, 1 / 3, 2 / 3))
    assert themes["tangibles"] == (1, 1, 0, 1.0, 0.0) and themes["empathy"] == (0, 0, 0, None, None)
    assert [t.name for t in result.themes][:2] == ["可靠性", "回應性"]
    assert json.loads(result.model_dump_json())["source"] == "theme_sentiment"
    shown = runner.invoke(app, ["servqual", "-w", workspace.slug, "--lang", "zh-Hant"])
    assert shown.exit_code == 0 and "改為顯示各構面在意見回饋中的主題情緒（並非差距）" in shown.output
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        log_in(client, workspace.slug, viewer)
        page = client.get("/dashboard/servqual?period=custom&since=2026-11-01&until=2026-11-23&lang=en")
        assert page.status_code == 200 and "data-themes-instead" in page.text
        exported = client.get("/dashboard/servqual/export?period=custom&since=2026-11-01&until=2026-11-23"
                              "&table=themes&format=csv")  # fmt: skip
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[2] == ["Responsiveness", "3", "33.33", "66.67"]


def test_the_cli_table_csv_json_and_bad_input(engine: Engine) -> None:
    workspace = servqual_world(engine)
    table = runner.invoke(app, ["servqual", "--survey", "sq", "-w", workspace.slug])
    assert table.exit_code == 0, table.output
    assert "Responsiveness" in table.output and "-2.50" in table.output and "-0.45" in table.output
    assert "fewer than 30 respondents" in table.output
    months = runner.invoke(app, ["servqual", "--by", "month", "-w", workspace.slug, "--format", "json"])
    assert [g["group"] for g in json.loads(months.output)["groups"]] == ["2026-10", "2026-11"]
    flat = runner.invoke(app, ["servqual", "--by", "segment", "-w", workspace.slug, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(flat.output)))
    vip = next(
        r for r in rows if (r["group"], r["level"], r["key"]) == ("vip", "dimension", "responsiveness")
    )
    assert (vip["n"], float(vip["gap"]), vip["small_sample"]) == ("2", -2.5, "True")
    score = next(r for r in rows if (r["group"], r["level"]) == ("", "score"))
    assert float(score["gap"]) == pytest.approx((2 - 3) / 2)  # D alone: reliability +2, responsiveness −3
    for args, expected in [
        (["--survey", "nope", "--lang", "zh-Hant"], "此工作區沒有代號為 nope 的問卷。"),
        (["--survey", "plain", "--lang", "zh-Hans"], "问卷「plain」没有 SERVQUAL 题目。"),
        (["--by", "week"], "Unknown grouping 'week'; choose one of segment, month."),
        (["--format", "xml"], None),
    ]:
        bad = runner.invoke(app, ["servqual", "-w", workspace.slug, *args])
        assert bad.exit_code == 2 and bad.output.strip().count("\n") == 0, bad.output
        assert expected is None or bad.output.strip() == expected


def test_the_api(engine: Engine) -> None:
    workspace = servqual_world(engine)
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=workspace.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "zh-TW"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        done = client.get("/api/v1/servqual", params={"survey": "sq", "by": "month"}, headers=headers)
        assert done.status_code == 200
        body = done.json()
        assert body["source"] == "answers" and [g["group"] for g in body["groups"]] == ["2026-10", "2026-11"]
        assert body["groups"][0]["score"] == pytest.approx(-0.7)
        assert body["groups"][0]["dimensions"][1]["name"] == "回應性"
        unknown = client.get("/api/v1/servqual", params={"survey": "nope"}, headers=headers)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "survey.not_found"
        plain = client.get("/api/v1/servqual", params={"survey": "plain"}, headers=headers)
        assert plain.status_code == 400 and plain.json()["error"]["code"] == "servqual.no_questions"
        assert client.get("/api/v1/servqual", params={"by": "week"}, headers=headers).status_code == 422
        assert client.get("/api/v1/servqual").status_code == 401


WINDOW = "period=custom&since=2026-10-01&until=2026-11-30"


def test_the_dashboard_tab_tables_exports_languages_and_a_bad_survey(engine: Engine) -> None:
    workspace = servqual_world(engine)
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        log_in(client, workspace.slug, viewer)
        page = client.get(f"/dashboard/servqual?{WINDOW}&survey=sq&lang=en")
        assert page.status_code == 200
        html = page.text
        assert (
            'data-kpi="servqual" data-value="-0.4500"' in html
            and 'data-kpi="worst" data-value="responsiveness"' in html
        )
        assert (
            "data-small-sample" in html
            and 'id="chart-gaps"' in html
            and 'aria-current="page">SERVQUAL<' in html
        )
        exported = client.get(f"/dashboard/servqual/export?{WINDOW}&survey=sq&table=items&format=csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:6] == [
            "Item",
            "Dimension",
            "Respondents",
            "Expectation (E)",
            "Perception (P)",
            "Gap (P − E)",
        ]
        assert [(r[0], r[5]) for r in rows[1:3]] == [
            ("S1", "-2.5"),
            ("R2", "-2.0"),
        ]  # largest shortfall first
        # the suite's today is 24 November: November is under way, left out unless asked for
        months = client.get(f"/dashboard/servqual/export?{WINDOW}&table=months&format=csv")
        lines = list(csv.reader(io.StringIO(months.content.decode("utf-8-sig"))))
        assert [tuple(r[:3]) for r in lines[1:]] == [("2026-10-01", "1", "-0.7")]
        months = client.get(f"/dashboard/servqual/export?{WINDOW}&partial=1&table=months&format=csv")
        lines = list(csv.reader(io.StringIO(months.content.decode("utf-8-sig"))))
        # November (B, C, D): reliability −0.5, responsiveness −2, assurance 0.5, empathy −0.5, tangibles 0.5
        assert [tuple(r[:3]) for r in lines[1:]] == [("2026-10-01", "1", "-0.7"), ("2026-11-01", "3", "-0.4")]
        segments = client.get(f"/dashboard/servqual/export?{WINDOW}&table=segments&format=xlsx")
        assert segments.status_code == 200 and segments.content[:2] == b"PK"
        for lang, word in (("zh-Hant", "回應性"), ("zh-Hans", "响应性"), ("en", "Responsiveness")):
            assert word in client.get(f"/dashboard/servqual?{WINDOW}&lang={lang}").text
        bad = client.get(f"/dashboard/servqual?{WINDOW}&survey=plain&lang=zh-Hant")
        assert bad.status_code == 400 and "問卷「plain」沒有 SERVQUAL 題目。" in bad.text
