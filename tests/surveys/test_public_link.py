"""Anonymous public links and the embeddable snippet for a checkout thank-you page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.ratelimit import SlidingWindowLimiter
from patron.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from patron.surveys.service import templates
from patron.web import survey_pages
from tests.web.conftest import Tenant


def _install(client: TestClient, tenant: Tenant, public: bool) -> None:
    document: dict[str, Any] = templates()["post_purchase_csat"].model_dump(mode="json", exclude_none=True)
    document["settings"]["public"] = public
    assert client.post("/api/v1/surveys", headers=tenant.headers, json=document).status_code == 200


def test_a_public_link_gives_one_browser_one_response(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    _install(client, tenant, public=True)
    snippet = client.get("/api/v1/surveys/post_purchase_csat/embed", headers=tenant.headers).json()
    path = snippet["url"].removeprefix("http://127.0.0.1:8000")
    assert snippet["html"].startswith(f'<iframe src="{snippet["url"]}?embed=1"')

    english = {"Accept-Language": "en-US,en;q=0.9"}
    first = client.get(f"{path}?embed=1&order=O1", headers=english, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].endswith("?embed=1")
    token_path = first.headers["location"].split("?")[0]
    page = client.get(first.headers["location"], headers=english)
    assert "Overall, how satisfied are you with this purchase?" in page.text
    assert '<header class="bar">' not in page.text, "embedded pages have no chrome"
    assert 'action="' + token_path + '?embed=1"' in page.text
    assert client.get(path, follow_redirects=False).headers["location"].startswith(token_path), (
        "the same browser gets the same link"
    )

    done = client.post(
        token_path + "?embed=1", data={"_shown": "csat,comment", "csat": "5", "comment": "Lovely tea"}
    )
    assert "Thanks for your feedback!" in done.text
    again = client.get(path, headers=english)
    assert "Thanks for your feedback!" in again.text, "one response per browser"
    with transaction(engine) as session:
        [response] = session.scalars(
            select(SurveyResponse).where(SurveyResponse.workspace_id == tenant.workspace.id)
        ).all()
        scores = list(
            session.scalars(
                select(SurveyAnswer.score).where(
                    SurveyAnswer.response_id == response.id, SurveyAnswer.question_key == "csat"
                )
            )
        )
    assert (response.customer_id, response.order_external_id, response.status, scores) == (
        None,
        "O1",
        "completed",
        [5],
    )


def test_surveys_are_not_public_unless_the_manager_says_so(client: TestClient, tenant: Tenant) -> None:
    _install(client, tenant, public=False)
    page = client.get(f"/p/{tenant.workspace.slug}/post_purchase_csat", headers={"accept": "text/html"})
    assert page.status_code == 404 and "此問卷連結無效" in page.text
    assert client.get(f"/p/{tenant.workspace.slug}/nope", headers={"accept": "text/html"}).status_code == 404
    snippet = client.get("/api/v1/surveys/post_purchase_csat/embed", headers=tenant.headers)
    assert snippet.status_code == 409 and snippet.json()["error"]["code"] == "survey.not_public"


def test_one_address_cannot_flood_a_public_link_with_new_browsers(
    client: TestClient, tenant: Tenant, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new browser is an invitation (and counts in the response rate): a script clearing its cookies
    gets a kind 429 page after the limit, and no invitation is stored for it."""
    monkeypatch.setattr(survey_pages, "_public_starts", lambda limiter=SlidingWindowLimiter(3, 600): limiter)
    _install(client, tenant, public=True)
    path = f"/p/{tenant.workspace.slug}/post_purchase_csat"
    page = {"accept": "text/html", "Accept-Language": "zh-TW"}

    def new_browser() -> int:
        client.cookies.clear()
        return client.get(path, headers=page, follow_redirects=False).status_code

    assert [new_browser() for _ in range(3)] == [303, 303, 303]
    client.cookies.clear()
    refused = client.get(path, headers=page, follow_redirects=False)
    assert refused.status_code == 429 and "請過幾分鐘再試一次" in refused.text
    with transaction(engine) as session:
        invitations = session.scalar(
            select(func.count()).where(SurveyInvitation.workspace_id == tenant.workspace.id)
        )
    assert invitations == 3
