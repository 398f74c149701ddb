"""A customer answers the relationship NPS survey in zh-Hant on a phone, in a real browser."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.surveys import distribution
from patron.surveys.models import SurveyAnswer, SurveyResponse
from patron.surveys.service import definition_of, get_survey
from tests.browser.conftest import ARTIFACTS
from tests.surveys.helpers import NOW, survey_world


def _personal_link(engine: Engine, tmp_path: Path, base_url: str) -> tuple[str, int]:
    world = survey_world(engine, tmp_path, "relationship_nps")
    with transaction(engine) as session:
        ws = session.get_one(Workspace, world.workspace.id)
        survey = get_survey(session, workspace_id=ws.id, key="relationship_nps")
        customer = session.scalars(
            select(Customer).where(Customer.workspace_id == ws.id, Customer.external_id == "S1")
        ).one()
        outcome = distribution.invite(session, workspace=ws, survey=survey, definition=definition_of(survey),
                                      customer=customer, subject="wave:test", now=NOW)  # fmt: skip
        assert outcome.invitation is not None
        return f"{base_url}/s/{distribution.survey_token(outcome.invitation.nonce)}", ws.id


def _next(phone: Any, button: str = "下一題") -> None:
    """Each question is its own page: wait for the next one before reading it (reading straight after the
    click could still see the page before, which made this test flaky)."""
    with phone.expect_navigation():
        phone.get_by_role("button", name=button).click()


#: The colour of a pixel of a PNG, read by the browser itself (drawn on a canvas): no image library needed.
PIXEL = """async ([png, x, y]) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  return Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""
BRAND = (0x2F, 0x6F, 0x5E)  # --accent in patron.css


def _progress_colours(phone: Any) -> tuple[list[int], list[int]]:
    """The colour at the filled start and the empty end of the progress bar, as drawn."""
    bar = phone.locator("progress")
    png = base64.b64encode(bar.screenshot()).decode()
    box = bar.bounding_box()
    scale = 2  # the phone's device scale factor
    middle = int(box["height"] * scale / 2)
    filled = phone.evaluate(PIXEL, [png, 3 * scale, middle])
    empty = phone.evaluate(PIXEL, [png, int(box["width"] * scale) - 4 * scale, middle])
    return filled, empty


def test_nps_on_a_phone_in_traditional_chinese(
    engine: Engine, tmp_path: Path, live_server: str, phone: Any
) -> None:
    link, workspace_id = _personal_link(engine, tmp_path, live_server)
    phone.goto(link)
    assert phone.locator("legend").first.inner_text().startswith("您有多大可能向朋友或同事推薦我們？")
    assert phone.locator("#progress-text").inner_text() == "已完成 0 / 4 題", (
        "follow-ups are not counted until they apply"
    )
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "nothing is wider than the phone"

    _next(phone)
    assert phone.get_by_role("alert").first.inner_text() == "請檢查下方標示的問題。"
    assert phone.locator("#e-nps").inner_text() == "請回答這個問題。"
    phone.screenshot(
        path=str(ARTIFACTS / f"survey-phone-validation-{engine.dialect.name}.png"), full_page=True
    )

    phone.locator('label.pill:has(input[value="3"])').click()
    _next(phone)
    assert phone.locator("#progress-text").inner_text() == "已完成 1 / 5 題"
    filled, empty = _progress_colours(phone)
    assert all(abs(a - b) <= 12 for a, b in zip(filled, BRAND, strict=True)), (
        f"progress drawn {filled}, not the brand colour"
    )
    assert filled != empty, "the rest of the bar is the track"
    phone.locator("textarea[name=reason]").fill("送貨比預期慢了三天")
    _next(phone)
    assert phone.locator("legend").first.inner_text().startswith("很抱歉讓您失望了"), (
        "detractors get the follow-up"
    )
    phone.screenshot(
        path=str(ARTIFACTS / f"survey-phone-follow-up-{engine.dialect.name}.png"), full_page=True
    )
    phone.locator("textarea[name=went_wrong]").fill("紙盒壓壞了，茶葉灑出來")
    _next(phone)
    phone.get_by_label("價格與划算程度").check()
    _next(phone)
    _next(phone, "送出答案")  # the last, optional question left empty: its button submits
    assert "感謝您撥冗填答！" in phone.locator("main").inner_text()
    phone.go_back()
    phone.reload()
    assert "感謝您撥冗填答！" in phone.locator("main").inner_text(), (
        "back and reload do not reopen the survey"
    )
    assert phone.problems == [], phone.problems

    with transaction(engine) as session:
        [response] = session.scalars(
            select(SurveyResponse).where(SurveyResponse.workspace_id == workspace_id)
        ).all()
        answers = {
            a.question_key: a.score or a.text or a.choices
            for a in session.scalars(select(SurveyAnswer).where(SurveyAnswer.response_id == response.id))
        }
    assert response.status == "completed"
    assert answers == {
        "nps": 3,
        "reason": "送貨比預期慢了三天",
        "went_wrong": "紙盒壓壞了，茶葉灑出來",
        "value_most": ["price_value"],
    }
