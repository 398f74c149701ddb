"""Emerging topics and testimonials in a real browser, in three languages: the taxonomy page lists the paper-straw
topics with their figures and examples, an admin accepts one as a new theme with one click (the confirmation names
the version, the theme appears in the table); the testimonials page approves one with a click; the public page
shows it in each language and inside another site's iframe. No console error or failed request; screenshots in
test-artifacts/ (the values: tests/dashboard/test_discovery_testimonials.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.feedback import service as feedback_service
from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_discovery_testimonials import WINDOW, shop_with_testimonials
from tests.factories import make_workspace
from tests.feedback.test_discovery import _items
from tests.web.conftest import PASSWORD


def _log_in(page: Any, live_server: str, slug: str, email: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(slug)
    page.get_by_label("電子郵件").fill(email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")


def _admin(engine: Engine, workspace_id: int, slug: str) -> str:
    email = f"admin@{slug}.example.com"
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=workspace_id, email=email, password=PASSWORD, role="admin"
        )
    return email


def test_emerging_topics_accepted_with_one_click(engine: Engine, live_server: str, laptop: Any) -> None:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        feedback_service.add_items(session, workspace_id=workspace.id, items=_items())
    page = laptop
    _log_in(page, live_server, workspace.slug, _admin(engine, workspace.id, workspace.slug))
    for language, title, figures in (
        ("en", "Emerging topics", "5 comments · 29.4% of all comments · 1 in the period before ▲ 4"),
        ("zh-Hans", "新兴话题", "5 条反馈 · 占全部反馈 29.4% · 前一段期间 1 条 ▲ 4"),
        ("zh-Hant", "新興話題", "5 則回饋 · 占全部回饋 29.4% · 前一段期間 1 則 ▲ 4"),
    ):
        page.goto(f"{live_server}/dashboard/feedback/taxonomy?{WINDOW}&lang={language}#discovery")
        section = page.locator("#discovery")
        assert section.locator("h2").inner_text() == title
        first = section.locator("article.topic").first
        assert first.locator(".figures").inner_text() == figures
        assert section.locator("article.topic").count() == 2
        assert "[PHONE]" in first.locator(".examples").inner_text()
        section.screenshot(path=str(ARTIFACTS / f"dashboard-discovery-{language}-{engine.dialect.name}.png"))
    # zh-Hant: the name and keywords are pre-filled in Traditional characters; one click makes the theme.
    form = page.locator("article.topic").first.locator("form")
    assert form.locator("input[name=keywords]").input_value() == "吸管、軟掉"
    form.locator("input[name=name]").fill("紙吸管")
    form.locator("[data-accept=new]").click()
    page.locator("[data-accepted]").wait_for()
    assert (
        page.locator("[data-accepted]").inner_text()
        == "新主題「紙吸管」已存為主題分類第 1 版；已重新分析 18 則回饋。"
    )
    assert page.locator('tr[data-theme="topic"] td.name').first.inner_text() == "紙吸管"
    assert page.locator("article.topic").count() == 1
    page.screenshot(
        path=str(ARTIFACTS / f"dashboard-discovery-accepted-{engine.dialect.name}.png"), full_page=True
    )
    assert page.problems == []


def test_testimonials_approved_and_shown_in_an_iframe(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path
) -> None:
    ws, slug = shop_with_testimonials(
        engine, tmp_path, "Friendly staff and delicious tea, highly recommended!"
    )
    page = laptop
    _log_in(page, live_server, slug, _admin(engine, ws, slug))
    page.goto(f"{live_server}/dashboard/feedback?lang=zh-Hant")
    page.locator("[data-testimonials-link]").click()
    page.wait_for_url(f"{live_server}/dashboard/feedback/testimonials*")
    for language, title in (("zh-Hant", "推薦見證"), ("zh-Hans", "推荐见证"), ("en", "Testimonials")):
        page.goto(f"{live_server}/dashboard/feedback/testimonials?lang={language}")
        assert page.locator("h1").inner_text() == title
        assert page.locator("li[data-item]").count() == 2
        page.screenshot(path=str(ARTIFACTS / f"dashboard-testimonials-{language}-{engine.dialect.name}.png"),
                        full_page=True)  # fmt: skip
    for approved in (1, 2):  # each click reloads the page with one fewer pending
        page.locator('li[data-status="pending"]').first.locator("[data-action=approve]").click()
        page.locator('li[data-status="approved"]').nth(approved - 1).wait_for()
    assert page.locator("#testimonials").get_attribute("data-approved") == "2"
    for language, title in (
        ("zh-Hant", "顧客怎麼說"),
        ("zh-Hans", "顾客怎么说"),
        ("en", "What customers say about"),
    ):
        page.goto(f"{live_server}/t/{slug}?lang={language}")
        assert page.locator("h1").inner_text().startswith(title)
        names = page.locator("figcaption [data-name]").all_inner_texts()
        assert sorted(names) == ["Amy Lee", "王○○"]
        page.screenshot(
            path=str(ARTIFACTS / f"public-testimonials-{language}-{engine.dialect.name}.png"), full_page=True
        )
    # Another site frames the widget.
    page.set_content(
        f'<h1>Shop</h1><iframe src="{live_server}/t/{slug}?embed=1&amp;lang=en" width="600" height="400"></iframe>'
    )
    frame = page.frame_locator("iframe")
    frame.locator("figure.testimonial").first.wait_for()
    assert frame.locator("figure.testimonial").count() == 2
    page.screenshot(path=str(ARTIFACTS / f"public-testimonials-embedded-{engine.dialect.name}.png"))
    assert page.problems == []


def test_the_respondent_chooses_how_to_be_named_on_a_phone(engine: Engine, tmp_path: Path, phone: Any,
                                                           live_server: str) -> None:  # fmt: skip
    """The testimonial question on a phone: the consent box, then the name forms with anonymous chosen; ticking
    the box and choosing initials is what the response keeps."""
    from sqlalchemy import select

    from patron.surveys.models import SurveyResponse
    from tests.surveys.test_respondent_pages import _links

    links, slug = _links(engine, tmp_path, "relationship_nps")
    phone.goto(live_server + links["zh-Hant"])
    phone.locator('label.pill:has(input[value="10"])').click()
    with phone.expect_navigation():
        phone.get_by_role("button", name="下一題").click()
    with phone.expect_navigation():
        phone.get_by_role("button", name="下一題").click()  # the reason, left empty
    phone.locator("textarea").fill("店員很親切，推薦給大家")
    assert phone.locator('input[name="_publish_as"][value="anonymous"]').is_checked()
    phone.get_by_label("我同意將我的評語公開分享。").check()
    phone.get_by_label("只顯示姓氏（例如 王○○）").check()
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "nothing is wider than the phone"
    phone.screenshot(
        path=str(ARTIFACTS / f"survey-phone-testimonial-{engine.dialect.name}.png"), full_page=True
    )
    with phone.expect_navigation():
        phone.get_by_role("button", name="下一題").click()
    with transaction(engine) as session:
        workspace_id = core_service.get_workspace(session, slug).id
        stored = session.execute(select(SurveyResponse.publish_consent, SurveyResponse.publish_as)
                                 .where(SurveyResponse.workspace_id == workspace_id)).one()  # fmt: skip
    assert tuple(stored) == (True, "initials")
    assert phone.problems == []


def test_not_a_topic_and_its_undo_on_a_phone_and_a_laptop(
    engine: Engine, live_server: str, laptop: Any, phone: Any
) -> None:
    """The "Not a topic" button beside accept, in three languages at phone and laptop width: one click and the
    straw topic (5 comments) is no longer suggested and its keywords are listed as dismissed; Restore brings it
    back."""
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        feedback_service.add_items(session, workspace_id=workspace.id, items=_items())
    email = _admin(engine, workspace.id, workspace.slug)
    for device, page in (("laptop", laptop), ("phone", phone)):
        _log_in(page, live_server, workspace.slug, email)
        for language, button, notice, restore in (
            ("zh-Hant", "不是話題", "已標為不是話題：吸管、軟掉。之後不會再建議。", "復原"),
            ("zh-Hans", "不是话题", "已标为不是话题：吸管、软掉。之后不会再建议。", "恢复"),
            ("en", "Not a topic", "Dismissed as not a topic: 吸管, 软掉. They will not be suggested again.", "Restore"),
        ):  # fmt: skip
            page.goto(f"{live_server}/dashboard/feedback/taxonomy?{WINDOW}&lang={language}#discovery")
            topics = page.locator("#discovery article.topic")
            assert topics.count() == 2
            dismiss = topics.first.locator("[data-dismiss]")
            assert dismiss.inner_text() == button and dismiss.is_visible()
            width = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            before = page.evaluate(width)
            dismiss.click()
            page.locator("[data-dismissed-notice]").wait_for()
            assert page.locator("[data-dismissed-notice]").inner_text() == notice
            assert page.locator("#discovery article.topic").count() == 1
            assert (
                page.locator("#discovery article.topic").first.get_attribute("data-topic") == "paper straws"
            )
            assert page.locator("[data-dismissed]").count() == 2
            assert (before, page.evaluate(width)) == (0, 0), "nothing is wider than the page"
            page.locator("#discovery").screenshot(
                path=str(
                    ARTIFACTS / f"dashboard-discovery-dismissed-{device}-{language}-{engine.dialect.name}.png"
                )
            )
            for _ in range(2):  # each keyword has its own Restore button; each click reloads the page
                restore_button = page.locator("[data-restore]").first
                assert restore_button.inner_text() == restore
                restore_button.click()
                page.locator('[data-dismissed-notice="restored"]').wait_for()
            assert page.locator("[data-dismissed]").count() == 0
            assert page.locator("#discovery article.topic").count() == 2
        assert page.problems == []
