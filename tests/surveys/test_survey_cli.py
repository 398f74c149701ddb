"""The survey and webhook commands as an operator runs them from cron or a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.surveys.distribution import nonce_from_survey_token
from patron.surveys.models import SurveyInvitation
from tests.surveys.helpers import survey_world

runner = CliRunner(env={"LANG": "en_US.UTF-8", "COLUMNS": "200"})


def _invitations(engine: Engine, workspace_id: int) -> int:
    with transaction(engine) as session:
        return int(
            session.scalar(select(func.count()).where(SurveyInvitation.workspace_id == workspace_id)) or 0
        )


def test_dispatch_dry_run_plans_but_keeps_nothing(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat", "relationship_nps")
    planned = runner.invoke(
        app,
        [
            "surveys",
            "dispatch",
            "--dry-run",
            "--wave",
            "relationship_nps",
            "--sample",
            "1",
            "-w",
            world.workspace.slug,
        ],
    )
    assert planned.exit_code == 0, planned.output
    assert (
        "post_purchase_csat" in planned.output
        and "no consent 1" in planned.output
        and "dry run" in planned.output
    )
    assert _invitations(engine, world.workspace.id) == 0


def test_dispatch_with_the_mail_server_down_keeps_the_invitations_for_the_next_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = survey_world(engine, tmp_path, "post_purchase_csat")
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")
    monkeypatch.setattr(get_settings(), "smtp_port", 9)
    result = runner.invoke(app, ["surveys", "dispatch", "-w", world.workspace.slug])
    assert "cannot reach the mail server" in result.output and "Traceback" not in result.output
    with transaction(engine) as session:
        statuses = list(
            session.scalars(
                select(SurveyInvitation.status).where(SurveyInvitation.workspace_id == world.workspace.id)
            )
        )
    assert statuses == ["pending"] * 3, "planned, not sent: the next run sends them"


def test_a_personal_link_from_the_command_line(engine: Engine, tmp_path: Path) -> None:
    world = survey_world(engine, tmp_path, "relationship_nps")
    made = runner.invoke(app, ["surveys", "link", "relationship_nps", "S1", "-w", world.workspace.slug])
    assert made.exit_code == 0, made.output
    token = made.output.strip().rsplit("/s/", 1)[1]
    assert nonce_from_survey_token(token) is not None
    refused = runner.invoke(app, ["surveys", "link", "relationship_nps", "S4", "-w", world.workspace.slug])
    assert refused.exit_code == 1 and "not invited: no consent" in refused.output, (
        "S4 did not consent to surveys"
    )


def test_templates_export_and_webhook_delivery_commands(engine: Engine, tmp_path: Path) -> None:
    listed = runner.invoke(app, ["surveys", "templates", "--export", str(tmp_path / "t")])
    assert listed.exit_code == 0 and "relationship_nps" in listed.output
    assert sorted(p.name for p in (tmp_path / "t").iterdir())[0] == "most_least_liked.yaml"
    delivered = runner.invoke(app, ["webhooks", "deliver"])
    assert delivered.exit_code == 0 and delivered.output.startswith("delivered ")
