"""Metrics over the API and the command line, on the operational database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.metrics import service
from tests.metrics.world import NPS_CHANGE_BY_HAND, metrics_world, single_ces_answer


@pytest.fixture
def world(engine: Engine, tmp_path: Path, client: TestClient) -> tuple[str, dict[str, str]]:
    from patron.core import service as core_service

    workspace_id = metrics_world(engine, tmp_path)
    with transaction(engine) as session:
        slug = session.get_one(Workspace, workspace_id).slug
        _, key = core_service.create_api_key(session, workspace_id=workspace_id, name="m")
    return slug, {"Authorization": f"Bearer {key}"}


def test_metrics_over_the_api(client: TestClient, world: tuple[str, dict[str, str]]) -> None:
    _, headers = world
    answer = client.get(
        "/api/v1/metrics/nps?by=segment&grain=month&since=2025-01&until=2025-02", headers=headers
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [(r["group"]["segment"], r["period"], round(r["value"], 2), r["sufficient"]) for r in rows] == [
        ("member", "2025-02-01", -16.67, False), ("vip", "2025-01-01", 40.0, False),
    ]  # fmt: skip
    assert rows[1]["counts"] == {"promoters": 3.0, "passives": 1.0, "detractors": 1.0}
    empty = client.get(
        "/api/v1/metrics/nps?since=2031-01", headers={**headers, "Accept-Language": "zh-TW"}
    ).json()
    assert (empty["rows"], empty["message"]) == ([], "此範圍內沒有回覆。")
    for query, code in (("nps?by=shoe_size", "metrics.unknown_dimension"), ("nps?grain=fortnight", "metrics.unknown_grain"),
                        ("happiness", "metrics.unknown_metric"), ("nps?since=2025-13", "metrics.bad_date")):  # fmt: skip
        bad = client.get(f"/api/v1/metrics/{query}", headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == code


def test_metrics_on_the_command_line(world: tuple[str, dict[str, str]]) -> None:
    slug, _ = world
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})
    table = runner.invoke(app, ["metrics", "nps", "--by", "segment", "-w", slug])
    assert table.exit_code == 0, table.output
    assert "40.0" in table.output and "fewer than 30 answers" in table.output
    as_csv = runner.invoke(
        app, ["metrics", "csat", "--survey", "post_purchase_csat", "--format", "csv", "-w", slug]
    )
    [header, row] = list(csv.reader(io.StringIO(as_csv.output)))
    assert header[:3] == ["period", "n", "value"] and row[:3] == ["", "5", "60.0"]
    as_json = json.loads(runner.invoke(app, ["metrics", "ces", "--format", "json", "-w", slug]).output)
    assert as_json["rows"][0]["value"] == pytest.approx(6.0)
    # CES 7, 6, 5: mean 6, sd 1, t(.975, 2) = 4.3027 → 6 ± 4.3027/√3 = [3.516, 8.484], low and high apart
    [ces] = csv.DictReader(
        io.StringIO(runner.invoke(app, ["metrics", "ces", "--format", "csv", "-w", slug]).output)
    )
    assert list(ces) == ["period", "n", "value", "se", "ci_low", "ci_high", "sufficient", "change", "change_ci_low",
                         "change_ci_high", "change_p_value", "change_significant", "change_reason"]  # fmt: skip
    assert (float(ces["ci_low"]), float(ces["ci_high"])) == (
        pytest.approx(3.516, abs=1e-3),
        pytest.approx(8.484, abs=1e-3),
    )
    by_segment = runner.invoke(
        app, ["metrics", "nps", "--by", "segment", "--format", "csv", "-w", slug]
    ).output
    assert by_segment.splitlines()[0].startswith("segment,period,n,value,se,ci_low,ci_high,")
    bad = runner.invoke(app, ["metrics", "nps", "--by", "colour", "-w", slug])
    assert bad.exit_code == 2 and "Cannot slice by 'colour'" in bad.output


def test_metrics_filter_by_attribute(client: TestClient, world: tuple[str, dict[str, str]]) -> None:
    _, headers = world
    vip = client.get("/api/v1/metrics/nps?where=segment:vip", headers=headers).json()
    assert [(r["n"], r["value"]) for r in vip["rows"]] == [(5, 40.0)]
    both = client.get(
        "/api/v1/metrics/overview?where=segment:member&where=city:高雄市", headers=headers
    ).json()
    assert [(r["n"], round(r["value"], 2)) for r in both["nps"]["rows"]] == [(6, -16.67)]
    bad = client.get("/api/v1/metrics/nps?where=segment", headers=headers)
    assert bad.status_code == 400 and "segment" in bad.json()["error"]["message"]
    unknown = client.get("/api/v1/metrics/nps?where=shoe:42", headers=headers)
    assert unknown.status_code == 400 and "shoe" in unknown.json()["error"]["message"]


def test_two_segments_compared(client: TestClient, world: tuple[str, dict[str, str]]) -> None:
    _, headers = world
    answer = client.get("/api/v1/metrics/nps/compare?by=segment&a=vip&b=member", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # vip +40 against member −16.67: January against February in NPS_CHANGE_BY_HAND, the sign turned.
    assert body["difference"] == pytest.approx(56.6667, abs=1e-4)
    assert (body["ci_low"], body["ci_high"]) == (
        pytest.approx(-NPS_CHANGE_BY_HAND["high"], abs=1e-2),
        pytest.approx(-NPS_CHANGE_BY_HAND["low"], abs=1e-2),
    )
    assert body["p_value"] == pytest.approx(NPS_CHANGE_BY_HAND["p"], abs=1e-4)
    assert body["significant"] is None and body["reason"] == "small_sample", "5 and 6 answers: no verdict"
    assert (body["a"]["n"], body["b"]["n"]) == (5, 6)
    missing = client.get("/api/v1/metrics/nps/compare?by=segment&a=vip&b=gold", headers=headers)
    assert missing.status_code == 404 and "gold" in missing.json()["error"]["message"]
    unknown = client.get("/api/v1/metrics/nps/compare?by=shoe&a=1&b=2", headers=headers)
    assert unknown.status_code == 400 and "shoe" in unknown.json()["error"]["message"]


def test_metrics_export_as_parquet(world: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    slug, _ = world
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})
    target = tmp_path / "nps.parquet"
    done = runner.invoke(app, ["metrics", "nps", "--by", "segment", "--grain", "month", "--format", "parquet",
                               "--output", str(target), "-w", slug])  # fmt: skip
    assert done.exit_code == 0, done.output
    rows = pq.read_table(target).to_pylist()
    assert [(r["segment"], str(r["period"]), r["n"], round(r["value"], 2), r["sufficient"]) for r in rows] == [
        ("member", "2025-02-01", 6, -16.67, False), ("vip", "2025-01-01", 5, 40.0, False),
    ]  # fmt: skip
    missing = runner.invoke(app, ["metrics", "nps", "--format", "parquet", "-w", slug])
    assert missing.exit_code != 0 and "--output" in missing.output


def test_months_parse_to_their_first_and_last_day() -> None:
    assert str(service.parse_day("2024-02", end=True)) == "2024-02-29"
    assert str(service.parse_day("2025-03")) == "2025-03-01"


def test_csat_counts_every_csat_question_unless_a_survey_is_named(world: tuple[str, dict[str, str]]) -> None:
    slug, _ = world
    runner = CliRunner(env={"LANG": "en_US.UTF-8"})
    # post-purchase 5, 4, 3, 2, 5 and support 4, 4, 4: 6 of 8 satisfied = 75 %.
    [_, row] = list(
        csv.reader(io.StringIO(runner.invoke(app, ["metrics", "csat", "--format", "csv", "-w", slug]).output))
    )
    assert row[1:3] == ["8", "75.0"]


def test_the_overview_answers_all_three(client: TestClient, world: tuple[str, dict[str, str]]) -> None:
    _, headers = world
    body = client.get("/api/v1/metrics/overview?by=segment", headers=headers).json()
    assert set(body) == {"nps", "csat", "ces"}
    assert {r["group"]["segment"]: round(r["value"], 2) for r in body["nps"]["rows"]} == {
        "member": -16.67,
        "vip": 40.0,
    }
    assert body["ces"]["rows"][0]["n"] == 3


def test_a_mean_of_one_answer_has_no_interval(
    engine: Engine, client: TestClient, world: tuple[str, dict[str, str]]
) -> None:
    slug, headers = world
    with transaction(engine) as session:
        workspace_id = session.scalars(select(Workspace.id).where(Workspace.slug == slug)).one()
    single_ces_answer(engine, workspace_id)
    [row] = client.get("/api/v1/metrics/ces?since=2025-03&until=2025-03", headers=headers).json()["rows"]
    assert (row["n"], row["value"], row["se"], row["ci_low"], row["ci_high"]) == (1, 4.0, None, None, None)
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})
    as_csv = runner.invoke(app, ["metrics", "ces", "--since", "2025-03", "--until", "2025-03", "--format", "csv",
                                 "-w", slug])  # fmt: skip
    [line] = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert (line["n"], line["value"], line["se"], line["ci_low"], line["ci_high"]) == (
        "1",
        "4.0",
        "",
        "",
        "",
    ), "no interval, not 4.00 – 4.00"
