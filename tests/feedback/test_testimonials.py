"""Testimonials on SQLite and PostgreSQL (docs/feedback.md, "Testimonials"): only positive answers to a question
that asks for consent, from respondents who gave it, named as they allowed; approve and hide; the API, the CLI,
the public page /t/{workspace} (three languages, escaped, no cookie, framable with embed=1); and an erased
customer's testimonial disappears everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.customers.erasure import erase_customer
from patron.feedback import testimonials
from patron.surveys import service as survey_service
from patron.surveys.schemas import ResponseSubmit
from patron.web.app import create_app
from tests.surveys.helpers import SurveyWorld, survey_world

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})

#: (client key, customer, nps, {question: comment}, consent, name form)
RESPONSES = [
    ("t-s1", "S1", 10, {"testimonial": "店員很親切，飲料很好喝，推薦給大家"}, True, "initials"),  # 王小明 → 王○○
    ("t-s3", "S3", 9, {"testimonial": "The staff were friendly and the tea was delicious <script>alert(1)</script>"},
     True, "full"),  # Amy Lee
    ("t-anon", None, 10, {"testimonial": "服务很好，下次还会再来"}, True, "full"),  # no customer: anonymous
    ("t-no-consent", "S2", 10, {"testimonial": "Great place, friendly staff"}, False, "full"),  # never shown
    ("t-negative", "S2", 9, {"testimonial": "太难喝了，很失望"}, True, "full"),  # not positive
    ("t-other-question", "S3", 10, {"reason": "Friendly staff and delicious tea, highly recommended!"}, True,
     "full"),  # consent covers the question that asked for it, not the reason
]  # fmt: skip


def world(engine: Engine, folder: Path) -> SurveyWorld:
    made = survey_world(engine, folder, "relationship_nps")
    with transaction(engine) as session:
        for key, customer, nps, comments, consent, form in RESPONSES:
            survey_service.submit_response(session, workspace_id=made.workspace.id, submission=ResponseSubmit(
                survey="relationship_nps", client_key=key, customer_id=customer,
                answers={"nps": nps, **comments}, publish_consent=consent, publish_as=form))  # type: ignore[arg-type]  # fmt: skip
    return made


def test_names_as_allowed_by_hand() -> None:
    assert testimonials.initials("王小明") == "王○○" and testimonials.initials("Amy  Lee") == "A. L."
    assert testimonials.initials("jane") == "J."
    assert testimonials.display_name("full", " Amy Lee ") == "Amy Lee"
    assert testimonials.display_name("anonymous", "Amy Lee") is None
    assert testimonials.display_name("full", None) is None


def _by_text(page: object) -> dict[str, tuple[str | None, str, str]]:
    return {item.text[:6]: (item.display_name, item.display_as, item.status) for item in page.items}  # type: ignore[attr-defined]


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_consent_decisions_public_page_and_erasure(
    engine: Engine, tmp_path: Path, client: TestClient
) -> None:
    made = world(engine, tmp_path)
    ws, slug = made.workspace.id, made.workspace.slug
    with transaction(engine) as session:
        page = testimonials.list_testimonials(session, workspace_id=ws)
    assert (page.total, page.pending, page.approved, page.hidden) == (3, 3, 0, 0)
    assert _by_text(page) == {
        "店員很親切，": ("王○○", "initials", "pending"),
        "The st": ("Amy Lee", "full", "pending"),
        "服务很好，下": (None, "anonymous", "pending"),
    }
    ids = {item.text[:6]: item.item_id for item in page.items}

    headers = {"Authorization": f"Bearer {made.api_key}", "Accept-Language": "en"}
    listed = client.get("/api/v1/feedback/testimonials", headers=headers)
    assert listed.status_code == 200 and listed.json()["total"] == 3
    assert (
        "Great place" not in listed.text
        and "太难喝" not in listed.text
        and "highly recommended" not in listed.text
    )
    for text, status in (("店員很親切，", "approved"), ("The st", "approved"), ("服务很好，下", "hidden")):
        done = client.post(
            f"/api/v1/feedback/testimonials/{ids[text]}", headers=headers, json={"status": status}
        )
        assert (
            done.status_code == 200 and done.json()["status"] == status and done.json()["decided_by"] == "api"
        )
    with transaction(engine) as session:
        from sqlalchemy import select

        from patron.feedback.models import FeedbackItem

        no_consent = session.scalar(select(FeedbackItem.id).where(FeedbackItem.workspace_id == ws,
                                                                  FeedbackItem.text == "Great place, friendly staff"))  # fmt: skip
    refused = client.post(
        f"/api/v1/feedback/testimonials/{no_consent}", headers=headers, json={"status": "approved"}
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "feedback.testimonial_not_found"
    approved = client.get("/api/v1/feedback/testimonials?status=approved", headers=headers).json()
    assert (approved["total"], approved["approved"], approved["pending"], approved["hidden"]) == (2, 2, 0, 1)

    # The public page: approved only, in three languages, escaped, no cookie; framable only with embed=1.
    for language, title in (("en", f"What customers say about {made.workspace.name}"),
                            ("zh-Hant", f"顧客怎麼說{made.workspace.name}"), ("zh-Hans", f"顾客怎么说{made.workspace.name}")):  # fmt: skip
        public = client.get(f"/t/{slug}?lang={language}")
        assert (
            public.status_code == 200 and f'<html lang="{language}"' in public.text and title in public.text
        )
        assert public.text.count("data-testimonial=") == 2 and "服务很好" not in public.text
        assert "王○○" in public.text and "Amy Lee" in public.text and "王小明" not in public.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in public.text and "<script>alert" not in public.text
        assert "set-cookie" not in public.headers and public.headers["x-frame-options"] == "DENY"
    framed = client.get(f"/t/{slug}?embed=1&lang=zh-Hant")
    assert (
        "x-frame-options" not in framed.headers
        and "frame-ancestors *" in framed.headers["content-security-policy"]
    )
    assert "set-cookie" not in framed.headers and "data-testimonial=" in framed.text
    assert client.get("/t/no-such-shop").status_code == 404

    cli = runner.invoke(app, ["feedback", "testimonials", "-w", slug, "--lang", "en"])
    assert cli.exit_code == 0 and "3 testimonials: 2 approved, 0 pending, 1 hidden." in cli.output
    hidden = runner.invoke(
        app, ["feedback", "testimonials", "-w", slug, "--hide", str(ids["The st"]), "--json"]
    )
    assert hidden.exit_code == 0, hidden.output
    as_json = json.loads(runner.invoke(app, ["feedback", "testimonials", "-w", slug, "--json"]).output)
    assert (as_json["approved"], as_json["hidden"]) == (1, 2)

    # Erasing 王小明 (S1) deletes the item and its decision: gone from the list, the API and the public page.
    with transaction(engine) as session:
        erased = erase_customer(session, workspace_id=ws, external_id="S1", actor="tests")
    assert erased.counts["feedback_testimonials"] == 1
    with transaction(engine) as session:
        page = testimonials.list_testimonials(session, workspace_id=ws)
    assert (page.total, page.approved) == (2, 0) and "店員很親切，" not in _by_text(page)
    public = client.get(f"/t/{slug}?lang=en")
    assert (
        "data-testimonial=" not in public.text
        and "王○○" not in public.text
        and "No testimonials yet." in public.text
    )


def test_the_answer_page_asks_how_to_name_the_respondent(
    engine: Engine, tmp_path: Path, client: TestClient
) -> None:
    """The testimonial question shows the consent box and the name forms (anonymous chosen by default); what the
    respondent picks is kept with the consent, and a name form without the consent box ticked is not."""
    from sqlalchemy import select

    from patron.surveys.models import SurveyResponse
    from tests.surveys.test_respondent_pages import _links

    links, slug = _links(engine, tmp_path, "relationship_nps")
    labels = {
        "zh-Hant": "只顯示姓氏（例如 王○○）",
        "zh-Hans": "只显示姓氏（例如 王○○）",
        "en": "My initials only",
    }
    for (locale, link), consent in zip(links.items(), (True, True, False), strict=True):
        client.post(link, data={"_shown": "nps", "nps": "10"})
        page = client.post(link, data={"_shown": "reason", "reason": ""}).text
        assert labels[locale] in page and 'name="_publish_as" value="anonymous" checked' in page
        form = {"_shown": "testimonial", "testimonial": "店員很親切，推薦", "_publish_as": "initials"}
        client.post(link, data=form | ({"_publish": "1"} if consent else {}))
    with transaction(engine) as session:
        workspace_id = core_service.get_workspace(session, slug).id
        stored = session.execute(select(SurveyResponse.locale, SurveyResponse.publish_consent, SurveyResponse.publish_as)
                                 .where(SurveyResponse.workspace_id == workspace_id).order_by(SurveyResponse.id)).all()  # fmt: skip
    assert [tuple(row) for row in stored] == [("zh-Hant", True, "initials"), ("zh-Hans", True, "initials"),
                                              ("en", False, "anonymous")]  # fmt: skip
