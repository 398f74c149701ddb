"""What a respondent sees: "Next" while a question may follow and "Submit" on the last page, the shop's name
(not Patron's) on the thank-you page, and a preview that names the shop once. In three languages."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.surveys import distribution
from patron.surveys.service import definition_of, get_survey
from tests.surveys.helpers import NOW, survey_world
from tests.web.conftest import client, log_in

__all__ = ["client"]
BUTTONS = {
    "zh-Hant": ("下一題", "送出答案"),
    "zh-Hans": ("下一题", "提交答案"),
    "en": ("Next", "Send my answers"),
}
CONTINUE = {"zh-Hant": "繼續", "zh-Hans": "继续", "en": "Continue"}
THANKS = {"zh-Hant": "感謝您撥冗填答！", "zh-Hans": "感谢您拨冗填答！", "en": "Thank you for your time!"}
SHOP = "山嵐茶咖"


def _links(engine: Engine, tmp_path: Path, key: str) -> tuple[dict[str, str], str]:
    """Personal links for S1 (zh-Hant), S2 (zh-Hans) and S3 (en) to one survey of a shop named 山嵐茶咖."""
    world = survey_world(engine, tmp_path, key)
    links = {}
    with transaction(engine) as session:
        ws = session.get_one(Workspace, world.workspace.id)
        ws.name = SHOP
        survey = get_survey(session, workspace_id=ws.id, key=key)
        for locale, external_id in (("zh-Hant", "S1"), ("zh-Hans", "S2"), ("en", "S3")):
            customer = session.scalars(
                select(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == external_id)
            ).one()
            outcome = distribution.invite(session, workspace=ws, survey=survey, definition=definition_of(survey),
                                          customer=customer, subject=f"wave:{locale}", now=NOW)  # fmt: skip
            assert outcome.invitation is not None
            links[locale] = f"/s/{distribution.survey_token(outcome.invitation.nonce)}"
        return links, ws.slug


def _button(page: str) -> str:
    """The survey form's button (a logged-in preview also has the logout button)."""
    form = page[page.index('name="_shown"') :]
    found = re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', form)
    assert len(found) == 1, found
    return found[0]


def _shown(page: str) -> str:
    found = re.search(r'name="_shown" value="([^"]*)"', page)
    assert found
    return found.group(1)


def _header(page: str) -> str:
    found = re.search(r'<header class="bar">(.*?)</header>', page, flags=re.S)
    return found.group(1) if found else ""


def test_the_last_question_says_submit(engine: Engine, tmp_path: Path, client: TestClient) -> None:
    """Relationship NPS, one question a page: "Next" up to the last question, which a promoter reaches after
    the testimonial and the value question; "Submit" on it."""
    links, _ = _links(engine, tmp_path, "relationship_nps")
    for locale, link in links.items():
        next_label, submit_label = BUTTONS[locale]
        answers = {"nps": "9", "reason": "好喝", "testimonial": "", "value_most": "brand", "improve": ""}
        steps = []
        page = client.get(link).text
        while "_shown" in page:
            shown = _shown(page)
            steps.append((shown, _button(page)))
            page = client.post(link, data={"_shown": shown, shown: answers[shown]}).text
        assert steps == [("nps", next_label), ("reason", next_label), ("testimonial", next_label),
                         ("value_most", next_label), ("improve", submit_label)], locale  # fmt: skip
        assert THANKS[locale] in page


def test_a_page_that_may_bring_a_follow_up_says_continue(
    engine: Engine, tmp_path: Path, client: TestClient
) -> None:
    """Post-purchase CSAT shows its questions on one page; a low score brings one more question, so that page
    says "Continue" (neither "Next question" nor "Submit"); the follow-up, the last, says "Submit"."""
    links, _ = _links(engine, tmp_path, "post_purchase_csat")
    for locale, link in links.items():
        submit_label = BUTTONS[locale][1]
        first = client.get(link).text
        assert _shown(first) == "csat,comment" and _button(first) == CONTINUE[locale]
        follow_up = client.post(link, data={"_shown": "csat,comment", "csat": "2"}).text
        assert _shown(follow_up) == "what_to_fix" and _button(follow_up) == submit_label, locale


def test_the_thank_you_page_carries_the_shops_name(
    engine: Engine, tmp_path: Path, client: TestClient
) -> None:
    links, _ = _links(engine, tmp_path, "relationship_nps")
    for locale, link in links.items():
        for key, value in (
            ("nps", "3"),
            ("reason", ""),
            ("went_wrong", ""),
            ("value_most", ""),
            ("improve", ""),
        ):
            client.post(link, data={"_shown": key, key: value})
        done = client.get(link).text
        assert THANKS[locale] in done and f'lang="{locale}"' in done
        header = _header(done)
        assert f'<span class="brand">{SHOP}</span>' in header and "Patron" not in header, (locale, header)
        embedded = client.get(f"{link}?embed=1").text
        assert THANKS[locale] in embedded and '<header class="bar">' not in embedded, (
            "no page header in an iframe"
        )


def test_the_preview_names_the_shop_once(engine: Engine, tmp_path: Path, client: TestClient) -> None:
    from patron.core import service as core_service
    from tests.web.conftest import PASSWORD

    _, slug = _links(engine, tmp_path, "relationship_nps")
    with transaction(engine) as session:
        ws = core_service.get_workspace(session, slug)
        core_service.create_user(session, workspace_id=ws.id, email="boss@example.com", password=PASSWORD)
    log_in(client, slug, "boss@example.com")
    for locale, (_, submit_label) in BUTTONS.items():
        preview = client.get(f"/dashboard/surveys/relationship_nps/preview?lang={locale}").text
        assert _header(preview).count(SHOP) == 1, locale
        assert _button(preview) == submit_label, "every question on one page: its button would submit"
