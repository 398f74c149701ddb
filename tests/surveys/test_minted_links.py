"""A personal link minted with ``patron surveys link`` counts as sent when it is minted (the link is handed to
someone then): it is in the response rate's denominator, and its answer in the numerator. Patron never
e-mails or reminds it.

By hand: links minted for S1, S2 and S3 (S4 has no survey consent, S5 no e-mail: refused), S1 answers →
response rate 1 / 3 = 33.333 %, Wilson 95 % interval [6.149, 79.234] %. Before, the three links had no
``sent_at``: no invitation went out, and the rate had no row at all.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.mail import Message
from patron.core.models import Workspace
from patron.metrics.engine import MetricQuery, daily_statistics, from_daily, metric
from patron.metrics.service import operational_connection
from patron.surveys import answering, distribution
from patron.surveys.models import SurveyAnswer, SurveyInvitation
from tests.surveys.helpers import survey_world

runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


def test_minted_links_count_as_sent_in_the_response_rate(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    slug, workspace_id = world.workspace.slug, world.workspace.id
    links = {}
    for customer in ("S1", "S2", "S3", "S4", "S5"):
        made = runner.invoke(app, ["surveys", "link", "post_purchase_csat", customer, "-w", slug])
        if customer in ("S4", "S5"):
            assert made.exit_code == 1, made.output
            continue
        assert made.exit_code == 0, made.output
        links[customer] = made.output.strip().rsplit("/s/", 1)[1]
    with transaction(engine) as session:
        stored = session.execute(
            select(SurveyInvitation.status, SurveyInvitation.sent_at).where(SurveyInvitation.workspace_id == workspace_id)
        ).all()  # fmt: skip
        assert [status for status, _ in stored] == ["linked"] * 3
        assert all(sent is not None for _, sent in stored)
        # S1 answers on the answer page
        now = utcnow()
        opened = answering.open_link(session, links["S1"], now)
        shown = [q.key for q in answering.questions_to_show(opened.definition, {}, [])]
        result = answering.save_page(session, opened, shown=shown, form={"csat": ["4"]}, publish_consent=False,
                                     locale="zh-Hant", now=now)  # fmt: skip
        assert result.completed and not result.problems
        scale = session.execute(
            select(SurveyAnswer.score, SurveyAnswer.scale_min, SurveyAnswer.scale_max)
            .where(SurveyAnswer.workspace_id == workspace_id)
        ).one()  # fmt: skip
        assert tuple(scale) == (4, 1, 5), "the answer page records the question's scale"
        # Patron does not e-mail or remind a link handed over by the shop, now or after the reminder delay
        workspace = session.get_one(Workspace, workspace_id)
        outbox = Outbox()
        for later in (now, now + timedelta(days=4)):
            report = distribution.send_due(session, workspace=workspace, mailer=outbox, now=later)
            assert (report.sent, report.reminded) == (0, 0)
        assert outbox.sent == []
    con = operational_connection()
    [rate] = metric(con, workspace_id, MetricQuery("response_rate", time_zone=world.workspace.timezone))
    assert (rate["n"], rate["answered"], rate["value"]) == (3, 1, pytest.approx(100 / 3))
    assert (rate["ci_low"], rate["ci_high"]) == (
        pytest.approx(6.149, abs=1e-3),
        pytest.approx(79.234, abs=1e-3),
    )
    [cached] = from_daily(daily_statistics(con, workspace_id, world.workspace.timezone),
                          MetricQuery("response_rate"))  # fmt: skip
    assert (cached["n"], cached["answered"]) == (3, 1)
