"""minted links count as sent: a personal link (``patron surveys link``) is sent when it is minted.

Such invitations kept ``sent_at`` empty, so they and their answers were in neither side of the response
rate. From now on minting sets ``sent_at`` and the status ``linked``. Existing ones are found by what only a
handed-out link can show: a subject ``link:…`` (minted without an order), or an invitation opened or
answered without ever being e-mailed. They get ``sent_at`` = when they were minted (``created_at``), and
``linked`` if still pending. A link minted for an order and never opened looks exactly like an invitation
waiting to be e-mailed and is left as it is.

Revision ID: 0011_minted_links
Revises: 0010_answer_scales
Create Date: 2026-12-02 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_minted_links"
down_revision: str | None = "0010_answer_scales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MINTED = (
    "sent_at IS NULL AND customer_id IS NOT NULL"
    " AND (subject LIKE 'link:%' OR opened_at IS NOT NULL OR answered_at IS NOT NULL)"
)


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE survey_invitations SET status = CASE WHEN status = 'pending' THEN 'linked' ELSE status END,"
            f" sent_at = created_at WHERE {MINTED}"
        )
    )


def downgrade() -> None:
    # Older code knows no "linked": as "pending" it would e-mail the link, as "sent" remind by e-mail. "sent"
    # with the reminder marked as done does neither; sent_at stays, so the response rate does not change.
    op.get_bind().execute(
        sa.text(
            "UPDATE survey_invitations SET status = 'sent', reminded_at = COALESCE(reminded_at, sent_at)"
            " WHERE status = 'linked'"
        )
    )
