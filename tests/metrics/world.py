"""A small workspace whose metric values are worked out by hand in the comments (shared by metric and
dashboard tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.customers.models import Customer
from patron.importers import import_file
from patron.surveys import service as surveys
from patron.surveys.models import SurveyInvitation, SurveyResponse
from patron.surveys.schemas import ResponseSubmit
from tests.factories import make_workspace, write_csv

# vip answers NPS 10, 10, 9, 8, 6 in January 2025: 3 promoters, 1 passive, 1 detractor → NPS +40.
# member answers 9, 7, 5, 3, 0, 10 in February 2025: 2 promoters, 1 passive, 3 detractors → NPS −16.67.
# All 11: 5 promoters, 2 passives, 4 detractors → NPS +9.09.
NPS_ANSWERS = [("V", s, "2025-01-15") for s in (10, 10, 9, 8, 6)] + [
    ("M", s, "2025-02-10") for s in (9, 7, 5, 3, 0, 10)
]
# CSAT 5, 4, 3, 2, 5: 3 of 5 satisfied (60 %), mean 3.8. CES 7, 6, 5: mean 6, sd 1, t(.975, 2) = 4.3027 → [3.516, 8.484].
CSAT_ANSWERS = [5, 4, 3, 2, 5]
CES_ANSWERS = [7, 6, 5]


def metrics_world(engine: Engine, tmp_path: Path) -> int:
    workspace = make_workspace(engine)
    rows = [(f"V{i}", "vip", "臺北市") for i in range(5)] + [(f"M{i}", "member", "高雄市") for i in range(6)]
    import_file(
        engine,
        workspace_slug=workspace.slug,
        kind="customers",
        path=write_csv(tmp_path / "c.csv", ("external_id", "segment", "city"), rows),
    )
    with transaction(engine) as session:
        for key in ("relationship_nps", "post_purchase_csat", "support_ces"):
            surveys.save_survey(session, workspace_id=workspace.id, definition=surveys.templates()[key])
        counters = {"V": 0, "M": 0}
        for group, score, day in NPS_ANSWERS:
            customer = f"{group}{counters[group]}"
            counters[group] += 1
            read = surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(
                    survey="relationship_nps", customer_id=customer, answers={"nps": score}
                ),
            )
            moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
            session.execute(
                update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=moment)
            )
        for score in CSAT_ANSWERS:
            surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(survey="post_purchase_csat", answers={"csat": score}),
            )
        for score in CES_ANSWERS:
            surveys.submit_response(
                session,
                workspace_id=workspace.id,
                submission=ResponseSubmit(survey="support_ces", answers={"ces": score, "csat": 4}),
            )
        invitations(session, workspace.id)
    return workspace.id


def invitations(session: Any, workspace_id: int) -> None:
    """vip: 3 of 4 answered; member: 2 of 6; so 5 of 10 in all. One more never went out and is not counted."""
    survey_id = surveys.get_survey(session, workspace_id=workspace_id, key="relationship_nps").id
    ids = dict(
        session.execute(
            select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace_id)
        ).all()
    )
    sent = datetime(2025, 1, 5, tzinfo=UTC)
    plan = (
        [(f"V{i}", i < 3, True) for i in range(4)]
        + [(f"M{i}", i < 2, True) for i in range(6)]
        + [("V4", False, False)]
    )
    for index, (customer, answered, went_out) in enumerate(plan):
        session.add(
            SurveyInvitation(
                workspace_id=workspace_id, survey_id=survey_id, customer_id=ids[customer], subject=f"t{index}",
                touchpoint="relationship", nonce=f"n{workspace_id}-{index}", locale="zh-Hant", send_after=sent,
                expires_at=sent, sent_at=sent if went_out else None, answered_at=sent if answered else None,
            )
        )  # fmt: skip
