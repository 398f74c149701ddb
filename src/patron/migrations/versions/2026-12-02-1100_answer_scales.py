"""answer scales: each scored answer records the ends of its question's scale (scale_min, scale_max).

CSAT's top box was one threshold for every answer whatever its scale; it now comes from each answer's own
``scale_max``. Existing answers are filled from their survey's definition (the question with the answer's
key); a CSAT answer whose question is no longer in the definition gets 1–10 when any answer to that question
of that survey is above 5, else 1–5.

Revision ID: 0010_answer_scales
Revises: 0009
Create Date: 2026-12-02 11:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010_answer_scales"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A question type's scale when it is fixed (the definitions' ``bounds()`` at the time of this revision).
FIXED = {"nps": (0, 10), "ces": (1, 7), "servqual": (1, 7)}


def _bounds(question: dict[str, Any]) -> tuple[int, int] | None:
    kind = question.get("type")
    if kind in FIXED:
        return FIXED[kind]
    if kind == "csat":
        return 1, int(question.get("scale") or 5)
    if kind == "rating":
        return int(question.get("min", 1)), int(question.get("max", 5))
    return None


def upgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scale_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scale_max", sa.Integer(), nullable=True))
    bind = op.get_bind()
    update = sa.text(
        "UPDATE survey_answers SET scale_min = :low, scale_max = :high WHERE survey_id = :survey"
        " AND question_key = :key AND question_type = :kind AND score IS NOT NULL"
    )
    for survey_id, definition in bind.execute(sa.text("SELECT id, definition FROM surveys")).all():
        document = json.loads(definition) if isinstance(definition, str) else definition
        for question in (document or {}).get("questions") or []:
            bounds = _bounds(question)
            if bounds is not None and question.get("key"):
                bind.execute(update, {"low": bounds[0], "high": bounds[1], "survey": survey_id,
                                      "key": question["key"], "kind": question["type"]})  # fmt: skip
    bind.execute(
        sa.text(
            "UPDATE survey_answers SET scale_min = 1, scale_max = CASE WHEN EXISTS (SELECT 1 FROM survey_answers"
            " AS other WHERE other.survey_id = survey_answers.survey_id AND other.question_key ="
            " survey_answers.question_key AND other.question_type = 'csat' AND other.score > 5) THEN 10 ELSE 5 END"
            " WHERE question_type = 'csat' AND score IS NOT NULL AND scale_max IS NULL"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_column("scale_max")
        batch_op.drop_column("scale_min")
