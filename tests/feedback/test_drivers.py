"""Key drivers over stored responses (patron.feedback.drivers), the CLI and the API, on SQLite and PostgreSQL.

The data are written row by row (responses, answers, comments as feedback items and their theme mentions), so every
figure is computed here again by hand: frequencies and means by counting, and the Shapley (LMG) shares from the R²
of every subset of predictors fitted on the raw rows by least squares, averaged over every entry order."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
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
from patron.feedback import drivers
from patron.feedback.models import FeedbackItem, FeedbackMention
from patron.surveys.models import SurveyAnswer, SurveyResponse
from patron.surveys.schemas import SurveyDefinition
from patron.surveys.service import save_survey
from patron.web.app import create_app
from tests.factories import make_workspace
from tests.web.conftest import PASSWORD

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None, "COLUMNS": "200"})
DAY = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
N = 40
# Response i: delivery mentioned negatively for i < 10; staff mentioned positively for 10 ≤ i < 18; the speed rating
# is missing for i = 39; NPS as below; customers in segment "vip" for even i.
DELIVERY_NEG = range(0, 10)
STAFF_OTHER = range(10, 18)


def nps(i: int) -> int:
    return 2 + i % 3 if i < 10 else 7 + i % 4


def speed(i: int) -> int | None:
    return None if i == 39 else 1 + (i * 7) % 5


DEFINITION = {
    "key": "drv", "kind": "nps", "touchpoint": "relationship", "channel": "email",
    "name": {"en": "Drivers", "zh-Hant": "驅動", "zh-Hans": "驱动"},
    "questions": [
        {"key": "nps", "type": "nps", "label": {"en": "Recommend?", "zh-Hant": "推薦？", "zh-Hans": "推荐？"}},
        {"key": "speed", "type": "rating", "min": 1, "max": 5, "required": False,
         "label": {"en": "Speed", "zh-Hant": "速度", "zh-Hans": "速度"}},
        {"key": "why", "type": "text", "required": False, "label": {"en": "Why?", "zh-Hant": "為何？", "zh-Hans": "为何？"}},
    ],
}  # fmt: skip


@dataclass
class World:
    workspace: Workspace
    key: str
    viewer: str


def build_drivers(engine: Engine) -> World:
    """The 40 responses described above (survey ``drv``), with an API key and a viewer."""
    workspace = make_workspace(engine)
    viewer = f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace.id, email=viewer, password=PASSWORD, role="viewer"
        )
        survey, _ = save_survey(
            session, workspace_id=workspace.id, definition=SurveyDefinition.model_validate(DEFINITION)
        )
        _, key = core_service.create_api_key(session, workspace_id=workspace.id, name="t")
        for i in range(N):
            customer = Customer(
                workspace_id=workspace.id, external_id=f"C{i}", segment="vip" if i % 2 == 0 else "new"
            )
            session.add(customer)
            session.flush()
            response = SurveyResponse(workspace_id=workspace.id, survey_id=survey.id, survey_version=1,
                                      customer_id=customer.id, touchpoint="relationship", channel="email",
                                      locale="en", status="completed", started_at=DAY, completed_at=DAY)  # fmt: skip
            session.add(response)
            session.flush()
            answers = [SurveyAnswer(workspace_id=workspace.id, response_id=response.id, survey_id=survey.id,
                                    question_key="nps", question_type="nps", score=nps(i), scale_min=0, scale_max=10)]  # fmt: skip
            if speed(i) is not None:
                answers.append(SurveyAnswer(workspace_id=workspace.id, response_id=response.id, survey_id=survey.id,
                                            question_key="speed", question_type="rating", score=speed(i),
                                            scale_min=1, scale_max=5))  # fmt: skip
            comment = SurveyAnswer(workspace_id=workspace.id, response_id=response.id, survey_id=survey.id,
                                   question_key="why", question_type="text", text=f"comment {i}")  # fmt: skip
            session.add_all([*answers, comment])
            session.flush()
            item = FeedbackItem(workspace_id=workspace.id, source_key=f"answer:{comment.id}", channel="survey",
                                source="drv", occurred_at=DAY, survey_answer_id=comment.id, text=f"comment {i}",
                                masked_text=f"comment {i}", analysis_text=f"comment {i}", language="en",
                                sentiment="neutral", sentiment_score=0.5, analyzed_with="shipped:1")  # fmt: skip
            session.add(item)
            session.flush()
            themes = [("delivery", "negative")] if i in DELIVERY_NEG else []
            themes += [("staff_attitude", "positive")] if i in STAFF_OTHER else []
            # Payment once only: below the minimum, never enters.
            themes += [("payment", "negative")] if i == 20 else []
            for theme, sentiment in themes:
                session.add(FeedbackMention(workspace_id=workspace.id, item_id=item.id, theme=theme, clause=0,
                                            sentiment=sentiment, score=0.1, occurred_at=DAY, channel="survey"))  # fmt: skip
    return World(workspace, key, viewer)


@pytest.fixture
def world(engine: Engine) -> World:
    return build_drivers(engine)


def _lmg_by_hand(columns: list[list[float]], y: list[float]) -> tuple[float, list[float]]:
    """R² of each subset by least squares on the raw rows (with an intercept); each predictor's gain averaged over
    every order of entry."""
    ys = np.array(y)
    total = ((ys - ys.mean()) ** 2).sum()

    def r2(subset: tuple[int, ...]) -> float:
        design = np.column_stack([np.ones(len(y)), *[columns[j] for j in subset]])
        fitted = design @ np.linalg.lstsq(design, ys, rcond=None)[0]
        return 1 - ((ys - fitted) ** 2).sum() / total

    p = len(columns)
    shares = [0.0] * p
    orders = list(itertools.permutations(range(p)))
    for order in orders:
        for position, j in enumerate(order):
            before = tuple(sorted(order[:position]))
            shares[j] += (r2(tuple(sorted((*before, j)))) - r2(before)) / len(orders)
    return r2(tuple(range(p))), shares


def test_drivers_by_hand_cli_and_api(engine: Engine, world) -> None:
    workspace, key = world.workspace, world.key
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    with transaction(engine) as session:
        report = drivers.key_drivers(session, workspace_id=workspace.id, outcome="nps", since=since, until=until,
                                     locale="en", survey="drv", bootstrap=100)  # fmt: skip
    rows = [i for i in range(N) if speed(i) is not None]  # i = 39 has no speed rating: left out
    assert (report.responses, report.rows, report.missing) == (40, 39, 1)
    y = [float(nps(i)) for i in rows]
    delivery = [1.0 if i in DELIVERY_NEG else 0.0 for i in rows]
    staff = [1.0 if i in STAFF_OTHER else 0.0 for i in rows]
    rating = [float(speed(i)) for i in rows]  # type: ignore[arg-type]
    r2, shares = _lmg_by_hand([rating, delivery, staff], y)
    assert report.r_squared == pytest.approx(r2, abs=1e-10)
    by_key = {d.key: d for d in report.drivers}
    assert set(by_key) == {"rating:speed", "delivery:negative", "staff_attitude:other"}
    assert by_key["rating:speed"].importance == pytest.approx(shares[0], abs=1e-10)
    assert by_key["delivery:negative"].importance == pytest.approx(shares[1], abs=1e-10)
    assert by_key["staff_attitude:other"].importance == pytest.approx(shares[2], abs=1e-10)
    # Delivery: 10 of 39 rows; NPS with it: 2,3,4,2,3,4,2,3,4,2 → 29 / 10; without: the other 29 rows.
    d = by_key["delivery:negative"]
    assert d.frequency == pytest.approx(10 / 39)
    assert d.mean_with == pytest.approx(29 / 10)
    without = [nps(i) for i in rows if i >= 10]
    assert d.mean_without == pytest.approx(sum(without) / 29)
    assert d.name == "Delivery" and d.harmful and d.fix_first
    s = by_key["staff_attitude:other"]
    assert s.frequency == pytest.approx(8 / 39) and not s.harmful and not s.fix_first
    assert s.mean_with == pytest.approx(sum(nps(i) for i in STAFF_OTHER) / 8)
    assert by_key["rating:speed"].frequency is None and by_key["rating:speed"].name == "Speed"
    assert report.drivers[0].importance >= report.drivers[-1].importance
    assert sum(x.importance for x in report.drivers) == pytest.approx(report.r_squared, abs=1e-12)
    assert all(x.importance_low <= x.importance <= x.importance_high for x in report.drivers)
    assert report.small_sample and report.outcome_mean == pytest.approx(sum(y) / 39)

    # Detractor (0/1, a linear probability model) over all surveys: no rating items, all 40 rows.
    with transaction(engine) as session:
        detractor = drivers.key_drivers(session, workspace_id=workspace.id, outcome="detractor", since=since,
                                        until=until, locale="zh-Hant", bootstrap=0)  # fmt: skip
        assert detractor.rows == 40 and detractor.missing == 0
        flags = [1.0 if nps(i) <= 6 else 0.0 for i in range(N)]
        r2, shares = _lmg_by_hand([[1.0 if i in DELIVERY_NEG else 0.0 for i in range(N)],
                                   [1.0 if i in STAFF_OTHER else 0.0 for i in range(N)]], flags)  # fmt: skip
        found = {x.key: x for x in detractor.drivers}
        assert found["delivery:negative"].importance == pytest.approx(shares[0], abs=1e-10)
        assert found["delivery:negative"].mean_with == 1.0 and found["delivery:negative"].harmful
        assert found["delivery:negative"].importance_low is None
        # The vip segment (even i): 20 rows, fewer than 30.
        with pytest.raises(PatronError) as caught:
            drivers.key_drivers(session, workspace_id=workspace.id, outcome="nps", since=since, until=until,
                                locale="en", segment="vip")  # fmt: skip
        assert caught.value.code == "drivers.too_few_rows" and caught.value.params["rows"] == 20
        with pytest.raises(PatronError) as caught:
            drivers.key_drivers(session, workspace_id=workspace.id, outcome="csat", since=since, until=until,
                                locale="en")  # fmt: skip
        assert caught.value.code == "feedback.drivers_nothing_to_analyse"

    cli = runner.invoke(app, ["feedback", "drivers", "-w", workspace.slug, "--survey", "drv", "--since", "2026-11-01",
                              "--until", "2026-11-30", "--format", "json", "--bootstrap", "50"])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.output)
    assert printed["rows"] == 39 and {x["key"] for x in printed["drivers"]} == set(by_key)
    csv_out = runner.invoke(app, ["feedback", "drivers", "-w", workspace.slug, "--since", "2026-11-01",
                                  "--until", "2026-11-30", "--format", "csv", "--bootstrap", "0"])  # fmt: skip
    assert csv_out.exit_code == 0 and csv_out.output.splitlines()[0].startswith("driver,kind,importance")
    table = runner.invoke(app, ["feedback", "drivers", "-w", workspace.slug, "--since", "2026-11-01",
                                "--until", "2026-11-30", "--bootstrap", "0"])  # fmt: skip
    assert table.exit_code == 0 and "Delivery" in table.output
    bad = runner.invoke(app, ["feedback", "drivers", "-w", workspace.slug, "--segment", "vip", "--since",
                              "2026-11-01", "--until", "2026-11-30"])  # fmt: skip
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "20" in bad.output

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {key}"}
        answer = client.get("/api/v1/feedback/drivers", headers=headers,
                            params={"survey": "drv", "since": "2026-11-01", "until": "2026-11-30", "bootstrap": 20})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == 39
        refused = client.get("/api/v1/feedback/drivers", headers=headers,
                             params={"segment": "vip", "since": "2026-11-01", "until": "2026-11-30"})  # fmt: skip
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "drivers.too_few_rows"
        unknown = client.get("/api/v1/feedback/drivers", headers=headers, params={"survey": "nope"})
        assert unknown.status_code == 404
    assert not math.isnan(report.r_squared)
