"""An erasure deletes the customer's invitations and detaches their responses: the dashboard's cached roll-up
must be counted again, so it still gives the raw answers' numbers (docs/privacy.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.customers import erasure
from patron.customers.models import Customer
from patron.surveys.models import InvitationStatus, SurveyInvitation
from tests.dashboard.conftest import Dash
from tests.dashboard.test_service import JAN_FEB, _filters, _overview


def test_the_cached_overview_after_an_erasure_is_the_raw_one(engine: Engine, dash: Dash) -> None:
    ws = dash.workspace_id
    days = {"SILENT1": datetime(2025, 1, 20, 2, tzinfo=UTC), "SILENT2": datetime(2025, 2, 10, 2, tzinfo=UTC)}
    with transaction(engine) as session:
        # two customers invited each on a day of their own, who never answered; the first is erased below, so nothing
        # but the erasure says that day changed (its invitation is neither the newest nor answered)
        silent = ["SILENT1", "SILENT2"]
        session.add_all([Customer(workspace_id=ws, external_id=e, name=f"顧客 {e}") for e in silent])
        survey_id = session.scalars(
            select(SurveyInvitation.survey_id).where(SurveyInvitation.workspace_id == ws)
        ).first()
        assert survey_id is not None
        session.flush()
        for external_id in silent:
            customer = session.scalars(select(Customer).where(Customer.workspace_id == ws,
                                                              Customer.external_id == external_id)).one()  # fmt: skip
            session.add(SurveyInvitation(workspace_id=ws, survey_id=survey_id, customer_id=customer.id,
                                         subject=f"wave:erase-{external_id}", touchpoint="relationship",
                                         nonce=f"erase{customer.id:027d}", locale="en", send_after=days[external_id],
                                         expires_at=days[external_id], sent_at=days[external_id], status=InvitationStatus.SENT.value))  # fmt: skip
            session.flush()
    before = _overview(engine, dash, _filters(**JAN_FEB))  # counts the roll-up and keeps it
    with transaction(engine) as session:
        erasure.erase_customer(session, workspace_id=ws, external_id=silent[0], actor="tests")
    after = _overview(engine, dash, _filters(**JAN_FEB))  # cached == raw, checked inside
    assert after.kpis["nps"].n == before.kpis["nps"].n
    assert after.kpis["response_rate"].n == before.kpis["response_rate"].n - 1, "the invitation went"
