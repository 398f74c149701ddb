"""A workspace with consenting customers, deliveries to trigger on, and installed survey templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.importers import import_file
from patron.surveys.service import save_survey, templates
from tests.factories import make_workspace, write_csv, write_jsonl

#: The test world happens now (the suite's clock, tests/conftest.py): the answer page checks expiry against it.
NOW = utcnow().replace(microsecond=0)


@dataclass
class SurveyWorld:
    workspace: Workspace
    api_key: str


def survey_world(engine: Engine, folder: Path, *surveys: str) -> SurveyWorld:
    """Customers: S1 zh-Hant, S2 zh-Hans, S3 en (all consenting); S4 without survey consent; S5 without email.
    Deliveries: S1–S5 delivered 3 days before NOW; S1 again 20 days before NOW (outside the 14-day look-back);
    S2 delivered 1 hour before NOW (inside the 48-hour delay)."""
    workspace = make_workspace(engine)
    folder.mkdir(parents=True, exist_ok=True)
    customers = write_csv(
        folder / "c.csv",
        ("external_id", "name", "email", "locale", "consent_surveys"),
        [("S1", "王小明", "s1@example.com", "zh-Hant", "是"), ("S2", "李娜", "s2@example.com", "zh-Hans", "yes"),
         ("S3", "Amy Lee", "s3@example.com", "en", "1"), ("S4", "陳怡君", "s4@example.com", "zh-Hant", "否"),
         ("S5", "林家豪", "", "zh-Hant", "yes")],
    )  # fmt: skip
    import_file(engine, workspace_slug=workspace.slug, kind="customers", path=customers)

    def event(customer: str, ident: str, ago: timedelta) -> dict[str, object]:
        return {"external_id": ident, "customer_id": customer, "occurred_at": (NOW - ago).isoformat(),
                "type": "order_delivered", "channel": "web", "order_id": f"O-{ident}"}  # fmt: skip

    events = [event(c, f"D{c}", timedelta(days=3)) for c in ("S1", "S2", "S3", "S4", "S5")]
    events += [event("S1", "OLD1", timedelta(days=20)), event("S2", "NEW2", timedelta(hours=1))]
    import_file(
        engine,
        workspace_slug=workspace.slug,
        kind="interactions",
        path=write_jsonl(folder / "e.jsonl", events),
    )
    with transaction(engine) as session:
        ws = session.get_one(Workspace, workspace.id)
        for key in surveys:
            save_survey(session, workspace_id=ws.id, definition=templates()[key])
        _, api_key = core_service.create_api_key(session, workspace_id=ws.id, name="t")
        session.expunge(ws)
    return SurveyWorld(ws, api_key)
