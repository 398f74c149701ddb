"""Knowledge gaps fixed in a real browser: an admin adds one unanswered question as a phrasing of an entry and makes
new entries from two others, in three languages; the help centre then answers each with its entry; the entry's
page shows its history. No console error or failed request; screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from patron.assistant import records
from patron.assistant.models import Channel, Question
from patron.core.clock import utcnow
from patron.core.db import transaction
from tests.assistant.conftest import shop_with_entries
from tests.browser.conftest import ARTIFACTS
from tests.web.conftest import PASSWORD

#: (help-centre language, question, what the admin does, the answer the help centre then gives)
GAPS = [
    ("zh-Hant", "退件的郵資誰付", "return", "收到商品七天內可在「我的訂單」申請退貨。"),
    ("zh-Hans", "可以开公司发票吗", "new", "可以，结账时填写统一编号。"),
    ("en", "Can I pay by bank transfer?", "new", "Yes: choose Bank transfer at checkout."),
]


def test_an_admin_fixes_gaps_and_the_help_centre_answers_in_three_languages(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path
) -> None:
    tenant = shop_with_entries(engine, tmp_path)
    ws, slug = tenant.workspace.id, tenant.workspace.slug
    with transaction(engine) as session:
        for language, question, _, _ in GAPS:
            assert not records.ask_and_record(session, ws, question, language, Channel.HELP.value).answered
        session.execute(update(Question).where(Question.workspace_id == ws)
                        .values(asked_at=utcnow() - timedelta(days=1)))  # yesterday: in the tab's window  # fmt: skip
        rows = session.execute(select(Question.text, Question.id).where(Question.workspace_id == ws)).all()
        ids = {row.text: row.id for row in rows}
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(slug)
    page.get_by_label("電子郵件").fill(tenant.admin_email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")

    for language, question, action, answer in GAPS:
        page.goto(f"{live_server}/dashboard/assistant?lang={language}")
        example = page.locator(f'li[data-question="{ids[question]}"]')
        assert example.count() == 1
        if action == "new":
            example.locator("[data-gap-new]").click()
            page.wait_for_url("**/dashboard/assistant/entries/new?question=*")
            assert page.locator("#f-title").input_value() == question
            assert page.locator("#f-language").input_value() == language
            page.locator("#f-answer").fill(answer)
            page.locator("#f-category").fill("payments")
            page.screenshot(path=str(ARTIFACTS / f"assistant-kb-new-entry-{language}.png"), full_page=True)
            with page.expect_navigation():
                page.locator("[data-save]").click()
        else:
            example.locator('input[name="entry"]').fill(action)
            with page.expect_navigation():
                example.locator('button[type="submit"]').click()
        assert "/dashboard/assistant?" in page.url or page.url.endswith("/dashboard/assistant#gaps")
        notice = page.locator("[data-gap-notice]")
        assert notice.count() == 1 and question in notice.inner_text()
        assert page.locator(f'li[data-question="{ids[question]}"]').count() == 0  # covered: no longer a gap
        page.locator("#gaps").screenshot(path=str(ARTIFACTS / f"assistant-kb-gap-fixed-{language}.png"))

        page.goto(f"{live_server}/help/{slug}?lang={language}")
        page.locator('input[name="q"]').fill(question)
        page.locator('input[name="q"]').press("Enter")
        page.wait_for_selector("[data-answered]")
        assert page.locator("[data-answered]").get_attribute("data-answered") == "yes"
        assert page.locator("[data-answer]").inner_text().strip() == answer
        page.screenshot(path=str(ARTIFACTS / f"assistant-kb-answered-{language}.png"), full_page=True)

    page.goto(f"{live_server}/dashboard/assistant/entries?lang=zh-Hans&category=payments")
    assert page.locator("tr[data-entry]").count() == 2  # the two new entries
    page.screenshot(path=str(ARTIFACTS / "assistant-kb-entries-zh-Hans.png"), full_page=True)
    page.goto(f"{live_server}/dashboard/assistant/entries?lang=en&q=return")
    page.locator('tr[data-entry="return"] a').first.click()
    page.wait_for_url("**/dashboard/assistant/entries/return*")
    assert page.locator('[data-history] tr[data-change="phrasing"]').count() == 1
    assert page.locator("#f-phrasings").input_value() == "退件的郵資誰付"
    page.screenshot(path=str(ARTIFACTS / "assistant-kb-entry-history-en.png"), full_page=True)
    assert page.problems == []
