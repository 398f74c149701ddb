"""The taxonomy editor in a real browser: reached from the Feedback tab, shown in each language, an admin edits the
YAML in the textarea and saves (the confirmation names the version, themes and comments analysed again, the new
keyword is in the table), a broken line is named on the page with the text kept; no console error or failed
request; screenshots in test-artifacts/ (the comments of tests/dashboard/test_taxonomy_page.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.dashboard.test_taxonomy_page import EDITED, build
from tests.web.conftest import PASSWORD

LANGUAGES = (
    ("zh-Hant", "主題與關鍵字", "已儲存主題分類第 1 版，共 16 個主題；已重新分析 3 則回饋。"),
    ("zh-Hans", "主题与关键词", "已保存主题分类第 1 版，共 16 个主题；已重新分析 3 条反馈。"),
    ("en", "Themes and keywords", "Saved taxonomy version 1 with 16 themes; 3 comments analysed again."),
)


def test_the_taxonomy_editor_in_three_languages(engine: Engine, live_server: str, laptop: Any) -> None:
    world = build(engine)
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(world.slug)
    page.get_by_label("電子郵件").fill(world.admin)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    page.goto(f"{live_server}/dashboard/feedback?lang=zh-Hant")
    page.locator("[data-edit-taxonomy]").click()
    page.wait_for_url(f"{live_server}/dashboard/feedback/taxonomy*")
    assert page.locator("h1").inner_text() == "主題與關鍵字"
    assert page.locator("tr[data-theme]").count() == 16
    for step, (language, title, confirmation) in enumerate(LANGUAGES):
        page.goto(f"{live_server}/dashboard/feedback/taxonomy?lang={language}")
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("h1").inner_text() == title
        if step == 0:  # the admin edits and saves, in the browser
            page.locator("#taxonomy-yaml").fill(EDITED)
            page.locator(".taxonomy-form button[type=submit]").click()
            page.locator("[data-saved]").wait_for()
            assert page.locator("[data-saved]").inner_text() == confirmation
        assert page.locator("#taxonomy").get_attribute("data-taxonomy-tag") == "workspace:1"
        assert "停車" in page.locator('tr[data-theme="tangibles"] [data-keywords]').inner_text()
        page.screenshot(
            path=str(ARTIFACTS / f"dashboard-taxonomy-{language}-{engine.dialect.name}.png"), full_page=True
        )
    broken = EDITED.replace("    group: cx\n", "    group: ambience\n", 1)
    page.locator("#taxonomy-yaml").fill(broken)
    page.locator(".taxonomy-form button[type=submit]").click()
    problem = page.locator("[data-edit-problem]")
    problem.wait_for()
    line = EDITED.split("\n").index("    group: cx") + 1
    assert problem.inner_text().startswith(f"Taxonomy, line {line}: the value of 'group' is not valid.")
    assert page.locator("#taxonomy-yaml").input_value() == broken
    selected = (
        "b => b.value.slice(b.selectionStart, b.selectionEnd)"  # the named line, selected for the person
    )
    assert page.locator("#taxonomy-yaml").evaluate(selected) == "    group: ambience"
    on_screen = "p => { const r = p.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    assert page.locator("#taxonomy-problem").evaluate(
        on_screen
    )  # the form's #edit-taxonomy brought it into view
    assert page.locator("#taxonomy").get_attribute("data-taxonomy-tag") == "workspace:1"
    page.screenshot(
        path=str(ARTIFACTS / f"dashboard-taxonomy-error-{engine.dialect.name}.png"), full_page=False
    )
    assert page.problems == []
