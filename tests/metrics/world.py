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
# February against January (member − vip is the same with the sign turned), as docs/metrics.md computes it:
# Tango's score intervals (docs/metrics.md): February (2 P, 3 D of 6) [−0.691893, 0.481170] — at δ = −0.691893,
# w = 13·δ − 5 = −13.994609, d = (√(w² + 144·δ(1 − δ)) − w)/24 = (√(195.8491 − 168.5676) + 13.994609)/24 = 0.800741,
# score = (−1 + 6·0.691893)/√(6·(1.601482 − 1.170608)) = 3.151358/1.607870 = 1.95997 ≈ z; January (3 P, 1 D of 5)
# [−0.349282, 0.826421] likewise. Change d = −0.166667 − 0.4 = −0.566667.
# 95 % interval (MOVER): upper = d + √((0.481170 + 0.166667)² + (0.4 + 0.349282)²) = −0.566667 + 0.990513
# = 0.423846; lower = d − √((−0.166667 + 0.691893)² + (0.826421 − 0.4)²) = −0.566667 − 0.676533 = −1.243200.
# p = 2·(1 − Φ(z*)) at the z* where the upper end reaches 0 (found by Brent's method): 0.29602. (Rocks' adjusted
# Wald, used before, gave [−120.164, 35.757], p = 0.29205; the plain Wald test p = 0.2685.) Neither month has
# 30 answers: no verdict.
NPS_CHANGE_BY_HAND = {"low": -124.320, "high": 42.385, "p": 0.29602}
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


def single_ces_answer(engine: Engine, workspace_id: int) -> None:
    """One more CES answer, 4, alone in March 2025 (with a CSAT 4 beside it): a mean of one answer."""
    with transaction(engine) as session:
        read = surveys.submit_response(
            session,
            workspace_id=workspace_id,
            submission=ResponseSubmit(survey="support_ces", answers={"ces": 4, "csat": 4}),
        )
        moment = datetime(2025, 3, 15, 3, 0, tzinfo=UTC)
        session.execute(
            update(SurveyResponse).where(SurveyResponse.id == read.id).values(completed_at=moment)
        )


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
