"""CSAT reads each answer on its own question's scale: a 1–10 survey's top box is 8–10 and a 1–5 survey's 4–5,
alone or together, on every path (engine on each database and DuckDB, Parquet export, daily roll-up, API, CLI,
dashboard), without the caller naming a scale.

By hand (see ``csat_world``):
- ``csat_ten`` (1–10): 10, 9, 8, 7 from vip customers, 6, 5, 4, 3 from members → 3 of 8 in 8–10 = 37.5 %
  (one threshold of 4 for every answer gave 7 of 8 = 87.5 %); mean on 1–10 = 52 / 8 = 6.5.
- ``post_purchase_csat`` (1–5): 5, 4 from vip, 3, 2 from members → 2 of 4 in 4–5 = 50 %; mean 3.5.
- Both surveys: 5 of 12 = 41.667 %. On 0–100, (score − 1) / (max − 1) · 100: the 1–5 answers give 100, 75,
  50, 25 (sum 250), the 1–10 answers (9 + 8 + … + 2) / 9 · 100 = 4400 / 9; mean (250 + 4400/9) / 12 = 61.5741.
- vip only: 3 + 2 = 5 of 6 = 83.333 %; means 8.5 (1–10) and 4.5 (1–5); on 0–100 (175 + 3000/9) / 6 = 84.7222.
- members only: 0 of 6 = 0 %.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.clock import today_in
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.dashboard import rollup, service
from patron.dashboard.filters import parse_filters
from patron.importers import import_file
from patron.metrics.engine import MetricQuery, connect, daily_statistics, from_daily, metric
from patron.metrics.export import export_parquet, open_parquet
from patron.metrics.service import operational_connection
from patron.surveys import service as surveys
from patron.surveys.models import SurveyAnswer
from patron.surveys.schemas import ResponseSubmit
from patron.web.app import create_app
from tests.factories import make_workspace, write_csv
from tests.metrics.test_engine import _duckdb_copy
from tests.web.conftest import PASSWORD, log_in

TEN = [10, 9, 8, 7, 6, 5, 4, 3]
FIVE = [5, 4, 3, 2]
ALL_SHARE = 100 * 5 / 12
ALL_NORMALISED = (250 + 4400 / 9) / 12
VIP_NORMALISED = (175 + 3000 / 9) / 6
runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "COLUMNS": "200"})


def ten_point_definition() -> Any:
    document = surveys.templates()["post_purchase_csat"].model_dump(mode="json", exclude_none=True)
    document["key"] = "csat_ten"
    document["questions"][0]["scale"] = 10
    document["questions"][1]["show_if"]["between"] = [1, 5]
    return surveys.parse_definition(document)


def csat_world(engine: Engine, tmp_path: Path) -> tuple[int, str, str]:
    """The workspace of the module docstring; returns its id, slug and an API key."""
    workspace = make_workspace(engine)
    people = [(f"V{i}", "vip") for i in range(6)] + [(f"M{i}", "member") for i in range(6)]
    import_file(engine, workspace_slug=workspace.slug, kind="customers",
                path=write_csv(tmp_path / "c.csv", ("external_id", "segment"), people))  # fmt: skip
    with transaction(engine) as session:
        surveys.save_survey(
            session, workspace_id=workspace.id, definition=surveys.templates()["post_purchase_csat"]
        )
        surveys.save_survey(session, workspace_id=workspace.id, definition=ten_point_definition())
        answers = [("csat_ten", f"V{i}", s) for i, s in enumerate(TEN[:4])]
        answers += [("csat_ten", f"M{i}", s) for i, s in enumerate(TEN[4:])]
        answers += [("post_purchase_csat", f"V{4 + i}", s) for i, s in enumerate(FIVE[:2])]
        answers += [("post_purchase_csat", f"M{4 + i}", s) for i, s in enumerate(FIVE[2:])]
        # the set-wise group-commit path for the 1–10 survey, one at a time for the 1–5 one
        batch = [{"workspace_id": workspace.id, "submission": ResponseSubmit(survey=key, customer_id=who, answers={"csat": s})}
                 for key, who, s in answers if key == "csat_ten"]  # fmt: skip
        assert all(not isinstance(outcome, Exception) for outcome in surveys.submit_responses(session, batch))
        for key, who, score in answers:
            if key == "post_purchase_csat":
                surveys.submit_response(session, workspace_id=workspace.id, submission=ResponseSubmit(
                    survey=key, customer_id=who, answers={"csat": score}))  # fmt: skip
        _, api_key = core_service.create_api_key(session, workspace_id=workspace.id, name="csat")
    return workspace.id, workspace.slug, api_key


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> tuple[int, str, str]:
    return csat_world(engine, tmp_path)


def _one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def test_every_answer_records_its_questions_scale(engine: Engine, world: tuple[int, str, str]) -> None:
    workspace_id, _, _ = world
    with transaction(engine) as session:
        stored = session.execute(
            select(SurveyAnswer.score, SurveyAnswer.scale_min, SurveyAnswer.scale_max)
            .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.question_type == "csat")
            .order_by(SurveyAnswer.scale_max, SurveyAnswer.score)
        ).all()
    assert [tuple(row) for row in stored] == [(s, 1, 5) for s in sorted(FIVE)] + [
        (s, 1, 10) for s in sorted(TEN)
    ]


def test_csat_on_each_answers_own_scale_on_every_engine(
    engine: Engine, world: tuple[int, str, str], tmp_path: Path
) -> None:
    workspace_id, _, _ = world
    operational = connect(engine.url.render_as_string(hide_password=False))
    export_parquet(operational, workspace_id, tmp_path / "export")
    cons = {
        engine.dialect.name: operational,
        "duckdb": _duckdb_copy(engine),
        "parquet": open_parquet(tmp_path / "export"),
    }
    for name, con in cons.items():
        ten = _one(metric(con, workspace_id, MetricQuery("csat", survey="csat_ten")))
        assert (ten["n"], ten["satisfied"], ten["value"]) == (8, 3, pytest.approx(37.5)), name
        assert (ten["mean_score_1_10"], ten["n_1_10"], ten["mean_score_0_100"]) == (
            pytest.approx(6.5), 8, pytest.approx(100 * 44 / 72)), name  # fmt: skip
        assert "mean_score_1_5" not in ten, name
        five = _one(metric(con, workspace_id, MetricQuery("csat", survey="post_purchase_csat")))
        assert (five["n"], five["satisfied"], five["value"], five["mean_score_1_5"]) == (
            4, 2, pytest.approx(50.0), pytest.approx(3.5)), name  # fmt: skip
        both = _one(metric(con, workspace_id, MetricQuery("csat")))
        assert (both["n"], both["satisfied"], both["value"]) == (12, 5, pytest.approx(ALL_SHARE)), name
        assert (both["mean_score_1_5"], both["n_1_5"], both["mean_score_1_10"], both["n_1_10"]) == (
            pytest.approx(3.5), 4, pytest.approx(6.5), 8), name  # fmt: skip
        assert both["mean_score_0_100"] == pytest.approx(ALL_NORMALISED), name
        vip = _one(metric(con, workspace_id, MetricQuery("csat", where=(("segment", "vip"),))))
        assert (vip["n"], vip["satisfied"], vip["value"]) == (6, 5, pytest.approx(500 / 6)), name
        assert (vip["mean_score_1_5"], vip["mean_score_1_10"], vip["mean_score_0_100"]) == (
            pytest.approx(4.5), pytest.approx(8.5), pytest.approx(VIP_NORMALISED)), name  # fmt: skip
        by_segment = metric(con, workspace_id, MetricQuery("csat", by=("segment",)))
        assert [(r["segment"], r["satisfied"], r["n"]) for r in by_segment] == [
            ("member", 0, 6),
            ("vip", 5, 6),
        ], name
        by_survey = metric(con, workspace_id, MetricQuery("csat", by=("survey",), grain="month"))
        assert [(r["survey"], r["value"]) for r in by_survey] == [
            ("csat_ten", pytest.approx(37.5)), ("post_purchase_csat", pytest.approx(50.0))], name  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        MetricQuery("csat"),
        MetricQuery("csat", survey="csat_ten"),
        MetricQuery("csat", where=(("segment", "vip"),)),
        MetricQuery("csat", by=("segment", "survey"), grain="week"),
    ],
    ids=["all", "ten", "vip", "by-segment-survey-week"],
)
def test_the_roll_up_equals_the_engine_across_scales(
    engine: Engine, world: tuple[int, str, str], query: MetricQuery
) -> None:
    workspace_id, _, _ = world
    con = operational_connection()
    expected = metric(con, workspace_id, query)
    got = from_daily(daily_statistics(con, workspace_id), query)
    assert len(got) == len(expected) > 0
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            assert mine[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    if query.survey == "csat_ten":
        assert got[0]["value"] == pytest.approx(37.5)


def test_the_api_gives_37_5_percent_without_a_scale(engine: Engine, world: tuple[int, str, str]) -> None:
    _, _, api_key = world
    headers = {"Authorization": f"Bearer {api_key}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        ten = client.get("/api/v1/metrics/csat?survey=csat_ten", headers=headers)
        assert ten.status_code == 200, ten.text
        [row] = ten.json()["rows"]
        assert (row["n"], row["value"], row["counts"]["satisfied"]) == (8, pytest.approx(37.5), 3.0)
        assert (row["counts"]["mean_score_1_10"], row["counts"]["n_1_10"]) == (pytest.approx(6.5), 8.0)
        assert "mean_score_1_5" not in row["counts"]
        [both] = client.get("/api/v1/metrics/csat", headers=headers).json()["rows"]
        assert (both["value"], both["counts"]["mean_score_0_100"]) == (
            pytest.approx(ALL_SHARE), pytest.approx(ALL_NORMALISED))  # fmt: skip
        [vip] = client.get("/api/v1/metrics/csat?where=segment:vip", headers=headers).json()["rows"]
        assert vip["value"] == pytest.approx(500 / 6)


def test_the_cli_gives_37_5_percent_and_the_mean_per_scale(world: tuple[int, str, str]) -> None:
    _, slug, _ = world
    shown = runner.invoke(app, ["metrics", "csat", "--survey", "csat_ten", "-w", slug, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    [row] = json.loads(shown.output)["rows"]
    assert row["value"] == pytest.approx(37.5)
    table = runner.invoke(app, ["metrics", "csat", "-w", slug])
    assert table.exit_code == 0, table.output
    assert "41.7" in table.output and "Mean score" in table.output
    assert "on 1–5: 3.50; on 1–10: 6.50; normalised to 0–100: 61.6" in " ".join(table.output.split())
    chinese = runner.invoke(app, ["metrics", "csat", "--survey", "csat_ten", "-w", slug, "--lang", "zh-Hant"])
    assert "37.5" in chinese.output and "1–10 分制：6.50；換算為 0–100：61.1" in chinese.output, (
        chinese.output
    )


def test_the_dashboard_gives_37_5_percent_cached_and_raw(engine: Engine, world: tuple[int, str, str]) -> None:
    """The answers were given today (the suite's clock): the last 7 days to date hold them."""
    workspace_id, _, _ = world
    views = {}
    for survey, expected in (("csat_ten", 37.5), ("", ALL_SHARE)):
        with transaction(engine) as session:
            workspace = session.get_one(Workspace, workspace_id)
            filters = parse_filters({"period": "7d", "partial": "1", "survey": survey},
                                    today=today_in(workspace.timezone))  # fmt: skip
            for cached in (True, False):
                source = rollup.MetricSource(operational_connection(), session, workspace_id, workspace.timezone,
                                             cached=cached)  # fmt: skip
                views[(survey, cached)] = service.overview(source, workspace, filters, "en")
        assert views[(survey, True)] == views[(survey, False)]
        csat = views[(survey, True)].kpis["csat"]
        assert csat.value == pytest.approx(expected), survey
    ten = dict(views[("csat_ten", True)].kpis["csat"].means)
    assert ten == {"mean_score_1_10": pytest.approx(6.5), "mean_score_0_100": pytest.approx(100 * 44 / 72)}


def test_the_dashboard_page_shows_37_5_percent_and_the_means(
    engine: Engine, world: tuple[int, str, str]
) -> None:
    workspace_id, slug, _ = world
    with transaction(engine) as session:
        core_service.create_user(session, workspace_id=workspace_id, email=f"admin@{slug}.example.com",
                                 password=PASSWORD, role="admin")  # fmt: skip
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        log_in(client, slug, f"admin@{slug}.example.com")
        for lang, means in (
            ("en", "Mean score: on 1–10: 6.50; normalised to 0–100: 61.1"),
            ("zh-Hant", "平均分數：1–10 分制：6.50；換算為 0–100：61.1"),
            ("zh-Hans", "平均分数：1–10 分制：6.50；换算为 0–100：61.1"),
        ):
            page = client.get(f"/dashboard?period=7d&partial=1&survey=csat_ten&lang={lang}")
            assert page.status_code == 200
            tile = page.text.split('data-kpi="csat"', 1)[1].split("</article>", 1)[0]
            assert 'data-value="37.5"' in tile and means in tile, tile
