"""Who gets invited: consent, unsubscribe, fatigue, one invitation per subject, sampling, triggers, waves."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.importers import import_file
from patron.surveys import distribution
from patron.surveys.models import SurveyInvitation
from patron.surveys.service import definition_of, get_survey
from tests.factories import write_csv
from tests.surveys.helpers import NOW, survey_world


def _trigger(engine: Engine, workspace: Workspace, key: str, now=NOW):  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        ws = session.get_one(Workspace, workspace.id)
        survey = get_survey(session, workspace_id=ws.id, key=key)
        return distribution.run_trigger(
            session, workspace=ws, survey=survey, definition=definition_of(survey), now=now
        )


def _invited(engine: Engine, workspace: Workspace) -> list[tuple[str, str]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(Customer.external_id, SurveyInvitation.subject)
            .join(Customer, Customer.id == SurveyInvitation.customer_id)
            .where(SurveyInvitation.workspace_id == workspace.id)
            .order_by(Customer.external_id)
        )
        return [(a, b) for a, b in rows]


def test_trigger_invites_only_consenting_customers_inside_the_window(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    report = _trigger(engine, world.workspace, "post_purchase_csat")
    assert report.invited == 3
    assert dict(report.skipped) == {"no_consent": 1, "no_email": 1}
    assert _invited(engine, world.workspace) == [
        ("S1", "interaction:DS1"),
        ("S2", "interaction:DS2"),
        ("S3", "interaction:DS3"),
    ]
    again = _trigger(engine, world.workspace, "post_purchase_csat")
    assert again.invited == 0 and again.skipped["already_invited"] == 3, "re-running never invites twice"
    later = _trigger(engine, world.workspace, "post_purchase_csat", NOW + timedelta(hours=49))
    assert later.invited == 0 and later.skipped["recently_invited"] == 1, (
        "S2's second delivery falls in the quiet period"
    )


def test_fatigue_applies_across_surveys_and_follows_the_workspace_setting(
    engine: Engine, tmp_path: Path
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat", "relationship_nps")
    _trigger(engine, world.workspace, "post_purchase_csat")
    with transaction(engine) as session:
        ws = session.get_one(Workspace, world.workspace.id)
        survey = get_survey(session, workspace_id=ws.id, key="relationship_nps")

        def wave(sample_size: int, now: datetime) -> distribution.TriggerReport:
            return distribution.relationship_wave(
                session,
                workspace=ws,
                survey=survey,
                definition=definition_of(survey),
                sample_size=sample_size,
                now=now,
            )

        blocked = wave(sample_size=10, now=NOW + timedelta(days=29))
        assert blocked.invited == 0 and blocked.skipped["recently_invited"] == 3
        allowed = wave(sample_size=2, now=NOW + timedelta(days=31))
        assert allowed.invited == 2, "the wave stops at its sample size"
        ws.survey_quiet_days = 0
        rest = wave(sample_size=10, now=NOW + timedelta(days=31))
        assert rest.invited == 1 and rest.skipped["already_invited"] == 2


def test_sampling_is_stable_and_close_to_its_rate() -> None:
    draws = [distribution.sampled_in(0.3, 7, customer, "wave:2026-03") for customer in range(4000)]
    assert draws == [distribution.sampled_in(0.3, 7, customer, "wave:2026-03") for customer in range(4000)]
    assert 0.27 < sum(draws) / 4000 < 0.33
    assert all(distribution.sampled_in(1.0, 1, c, "x") for c in range(10))


def test_unsubscribe_is_honoured_even_when_a_later_import_says_yes(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    _trigger(engine, world.workspace, "post_purchase_csat")
    with transaction(engine) as session:
        nonce = session.scalars(
            select(SurveyInvitation.nonce).where(SurveyInvitation.workspace_id == world.workspace.id)
        ).first()
        assert nonce is not None
        customer = distribution.unsubscribe(session, nonce=nonce, now=NOW)
        assert customer is not None and customer.consent_surveys is False
        external_id = customer.external_id
    import_file(engine, workspace_slug=world.workspace.slug, kind="customers",
                path=write_csv(tmp_path / "again.csv", ("external_id", "consent_surveys"), [(external_id, "yes")]))  # fmt: skip
    with transaction(engine) as session:
        ws = session.get_one(Workspace, world.workspace.id)
        ws.survey_quiet_days = 0
        person = session.scalars(
            select(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == external_id)
        ).one()
        survey = get_survey(session, workspace_id=ws.id, key="post_purchase_csat")
        outcome = distribution.invite(
            session,
            workspace=ws,
            survey=survey,
            definition=definition_of(survey),
            customer=person,
            subject="x",
            now=NOW,
        )
        assert outcome.skipped == distribution.Skip.UNSUBSCRIBED


def test_links_are_signed() -> None:
    token = distribution.survey_token("abc")
    assert distribution.nonce_from_survey_token(token) == "abc"
    assert distribution.nonce_from_survey_token(token[:-2] + "xx") is None
    assert distribution.nonce_from_unsubscribe_token(token) is None, (
        "a survey link is not an unsubscribe link"
    )
