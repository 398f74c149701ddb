"""The demo shop's knowledge base answers every one of its own questions in zh-Hant, zh-Hans and English, and its
history of questions, ratings and hand-overs is the assistant's own; loading twice changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.assistant import service
from patron.assistant.models import Conversation, Question
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.dashboard.assistant import assistant
from patron.dashboard.filters import parse_filters
from patron.demo.assistant import DAYS, TOPICS, load_assistant
from patron.surveys.texts import to_simplified
from tests.web.conftest import make_tenant


def test_the_demo_assistant_answers_its_topics_and_has_a_history(engine: Engine, tmp_path: Path) -> None:
    tenant = make_tenant(engine, tmp_path)
    report = load_assistant(engine, slug=tenant.workspace.slug, end=date(2026, 10, 31), seed=7)
    assert report is not None and report.entries == 2 * len(TOPICS) == 34
    ws = tenant.workspace.id
    with transaction(engine) as session:
        for key, _, title, _, _, en_title, _, _ in TOPICS:
            for question, expected in ((title, key), (to_simplified(title), key), (en_title, f"{key}-en")):
                answer = service.ask(session, ws, question, "en")
                assert answer.answered and answer.source is not None and answer.source.id == expected, (
                    question
                )
        asked = session.scalar(select(func.count()).select_from(Question).where(Question.workspace_id == ws))
        handed = session.scalar(
            select(func.count()).select_from(Conversation).where(Conversation.workspace_id == ws)
        )
        statuses = set(session.scalars(select(Conversation.status).where(Conversation.workspace_id == ws)))
        workspace = session.get_one(Workspace, ws)
        filters = parse_filters({"period": "custom", "since": "2026-08-03", "until": "2026-10-31"},
                                today=date(2026, 11, 24))  # fmt: skip
        view = assistant(session, workspace, filters, "zh-Hant")
    assert (asked, handed) == (report.questions, report.handovers)
    assert 3 * DAYS <= asked <= 9 * DAYS and statuses == {"open", "answered", "closed"}
    assert view.questions == asked and view.rated == report.ratings and view.gaps
    assert 0 < view.self_service_rate < 100 and 0 < view.helpfulness < 100  # type: ignore[operator]
    assert load_assistant(engine, slug=tenant.workspace.slug, end=date(2026, 10, 31), seed=7) is None
