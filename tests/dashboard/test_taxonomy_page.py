"""The taxonomy editor (/dashboard/feedback/taxonomy): the taxonomy in force as a table in three languages; an admin
saves an edited YAML as a new version that is applied to history at once; a broken YAML comes back on the page
naming its line, with the text as typed and nothing stored; viewers read only; CSRF; the body is bounded."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.feedback import service as feedback_service
from patron.feedback.models import Channel, FeedbackMention, FeedbackTaxonomy
from patron.feedback.schemas import FeedbackCreate
from patron.feedback.taxonomy import MAX_TAXONOMY_CHARS, shipped_taxonomy, shipped_yaml
from tests.factories import make_workspace
from tests.web.conftest import PASSWORD, csrf_of, log_in

PAGE = "/dashboard/feedback/taxonomy"
#: Parking is no keyword of the shipped taxonomy; the edit makes it one of "tangibles" in both languages (the
#: Chinese keyword typed in Traditional characters, the comment written in Simplified).
TEXTS = ("The parking was impossible to find.", "停车位很难找", "送餐很快但湯是冷的")
EDITED = (
    shipped_yaml()
    .replace("      zh: [裝潢, 環境,", "      zh: [停車, 裝潢, 環境,")
    .replace("      en: [decor, ambience,", "      en: [parking, decor, ambience,")
)


@dataclass
class World:
    workspace_id: int
    slug: str
    admin: str
    viewer: str
    items: list[int]


def build(engine: Engine) -> World:
    """A workspace with the three comments above, analysed with the shipped taxonomy, an admin and a viewer."""
    workspace = make_workspace(engine)
    admin, viewer = f"admin@{workspace.slug}.example.com", f"viewer@{workspace.slug}.example.com"
    with transaction(engine) as session:
        for email, role in ((admin, "admin"), (viewer, "viewer")):
            core_service.create_user(
                session, workspace_id=workspace.id, email=email, password=PASSWORD, role=role
            )
        stored = feedback_service.add_items(session, workspace_id=workspace.id, items=[
            FeedbackCreate(channel=Channel.REVIEW, source="google_maps", text=text,
                           occurred_at=datetime(2026, 11, 20, 4, i, tzinfo=UTC))
            for i, text in enumerate(TEXTS)
        ])  # fmt: skip
        feedback_service.analyze(session, workspace_id=workspace.id)
    return World(workspace.id, workspace.slug, admin, viewer, [item.id for item in stored])


def themes_of(engine: Engine, item_id: int) -> set[str]:
    with transaction(engine) as session:
        return set(session.scalars(select(FeedbackMention.theme).where(FeedbackMention.item_id == item_id)))


def versions(engine: Engine, workspace_id: int) -> list[tuple[int, str]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(FeedbackTaxonomy.version, FeedbackTaxonomy.created_by)
            .where(FeedbackTaxonomy.workspace_id == workspace_id)
            .order_by(FeedbackTaxonomy.version)
        )
        return [(version, by) for version, by in rows]


def textarea(page: str) -> str:
    match = re.search(r'<textarea id="taxonomy-yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no textarea"
    return html.unescape(match.group(1))


def test_the_page_in_three_languages_and_a_saved_edit_applies_to_history(
    engine: Engine, client: TestClient
) -> None:
    world = build(engine)
    parking_en, parking_zh, soup = world.items
    assert themes_of(engine, parking_en) == set() and themes_of(engine, parking_zh) == set()
    assert themes_of(engine, soup) == {"delivery", "food_quality", "waiting_time"}
    log_in(client, world.slug, world.admin)
    shipped_count = len(shipped_taxonomy().themes)
    assert shipped_count == 16
    for language, title, in_force, tangibles, group in (
        ("zh-Hant", "主題與關鍵字", "目前使用：內建主題第 1 版，共 16 個主題。", "有形性", "SERVQUAL 服務品質"),
        ("zh-Hans", "主题与关键词", "当前使用：内置主题第 1 版，共 16 个主题。", "有形性", "SERVQUAL 服务质量"),
        ("en", "Themes and keywords", "In force: built-in taxonomy, version 1, 16 themes.", "Tangibles", "SERVQUAL"),
    ):  # fmt: skip
        page = client.get(f"{PAGE}?lang={language}")
        assert page.status_code == 200, page.text
        assert f'<html lang="{language}"' in page.text and f"<h1>{title}</h1>" in page.text
        assert in_force in page.text and 'data-taxonomy-tag="shipped:1"' in page.text
        assert re.search(r'aria-current="page">([^<]+)<', page.text).group(1) in (
            "顧客回饋",
            "顾客反馈",
            "Feedback",
        )  # type: ignore[union-attr]
        assert page.text.count("<tr data-theme=") == shipped_count
        row = re.search(r'<tr data-theme="tangibles">(.*?)</tr>', page.text, re.S).group(1)  # type: ignore[union-attr]
        assert tangibles in row and group in row and "裝潢、環境" in row and "decor, ambience" in row
        assert textarea(page.text) == shipped_yaml()
        assert "data-read-only" not in page.text and "data-start-shipped" not in page.text
    feedback_tab = client.get("/dashboard/feedback?lang=en")
    assert f'href="{PAGE}?' in feedback_tab.text and ">Edit themes</a>" in feedback_tab.text

    token = csrf_of(client.get(f"{PAGE}?lang=en").text)
    saved = client.post(f"{PAGE}?lang=en", data={"csrf": token, "yaml": EDITED.replace("\n", "\r\n")},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?lang=en"
    assert versions(engine, world.workspace_id) == [(1, world.admin)]
    # The new version is in force and applied to all three stored comments at once (no separate analyze).
    assert themes_of(engine, parking_en) == {"tangibles"} and themes_of(engine, parking_zh) == {"tangibles"}
    assert themes_of(engine, soup) == {"delivery", "food_quality", "waiting_time"}
    after = client.get(saved.headers["location"])
    assert "Saved taxonomy version 1 with 16 themes; 3 comments analysed again." in after.text
    assert (
        'data-taxonomy-tag="workspace:1"' in after.text
        and "your taxonomy, version 1, 16 themes" in after.text
    )
    assert f"Saved by {world.admin} on" in after.text and textarea(after.text) == EDITED
    assert (
        "停車、裝潢" in after.text and "parking, decor" in after.text and "data-start-shipped" in after.text
    )
    again = client.get(PAGE + "?lang=zh-Hans")
    assert "已保存主题分类" not in again.text  # the confirmation is shown once
    # A second save is version 2; version 1 stays as it was.
    client.post(PAGE, data={"csrf": token, "yaml": shipped_yaml()})
    assert versions(engine, world.workspace_id) == [(1, world.admin), (2, world.admin)]
    with transaction(engine) as session:
        first = session.scalar(select(FeedbackTaxonomy.source).where(
            FeedbackTaxonomy.workspace_id == world.workspace_id, FeedbackTaxonomy.version == 1))  # fmt: skip
    assert first == EDITED
    assert themes_of(engine, parking_en) == set()
    start = client.get(f"{PAGE}?start=shipped&lang=zh-Hant")
    assert "下方已填入內建的主題分類" in start.text and textarea(start.text) == shipped_yaml()


def test_a_broken_yaml_is_named_on_the_page_and_nothing_is_stored(engine: Engine, client: TestClient) -> None:
    world = build(engine)
    log_in(client, world.slug, world.admin)
    token = csrf_of(client.get(PAGE).text)
    lines = EDITED.split("\n")
    tangibles_group = next(i for i, line in enumerate(lines) if "key: tangibles" in line) + 1
    assert lines[tangibles_group] == "    group: servqual"
    bad_group = "\n".join([*lines[:tangibles_group], "    group: ambience", *lines[tangibles_group + 1 :]])
    unclosed = EDITED.replace("en: [parking, decor,", "en: [parking, decor,,]\n  oops: [")
    parking = next(i for i, line in enumerate(lines) if "en: [parking," in line) + 1
    for language, typed, line, expected in (
        ("en", bad_group, tangibles_group + 1,
         f"Taxonomy, line {tangibles_group + 1}: the value of 'group' is not valid. Nothing was saved"),
        ("zh-Hant", bad_group, tangibles_group + 1,
         f"「主題分類」第 {tangibles_group + 1} 行：「group」的值不正確。尚未儲存任何變更"),
        ("zh-Hans", "version: 1\nthemes:\n  - key: x\n    group: cx\n    names: {en: X}\n", 5,
         "「主题分类」第 5 行：缺少「names.zh-Hant」。"),
        ("en", unclosed, parking, f"Taxonomy, line {parking}: this is not valid YAML."),
    ):  # fmt: skip
        page = client.post(f"{PAGE}?lang={language}", data={"csrf": token, "yaml": typed})
        assert page.status_code == 200, page.text
        problem = re.search(r"<p class=\"error\"[^>]*data-edit-problem[^>]*>([^<]+)</p>", page.text)
        assert problem and expected in html.unescape(problem.group(1)), problem and problem.group(1)
        assert textarea(page.text) == typed and 'aria-invalid="true"' in page.text
        assert f'data-error-line="{line}"' in page.text  # dashboard.js selects that line in the textarea
        assert 'data-taxonomy-tag="shipped:1"' in page.text
    assert versions(engine, world.workspace_id) == []
    assert themes_of(engine, world.items[0]) == set()


def test_refusals_viewer_csrf_and_size(engine: Engine, client: TestClient) -> None:
    world = build(engine)
    log_in(client, world.slug, world.viewer)
    page = client.get(f"{PAGE}?lang=en")
    assert page.status_code == 200 and "data-read-only" in page.text and " readonly>" in page.text
    assert "Save as a new version" not in page.text
    assert ">View themes</a>" in client.get("/dashboard/feedback?lang=en").text
    token = csrf_of(page.text)
    refused = client.post(PAGE, data={"csrf": token, "yaml": EDITED})
    assert refused.status_code == 403
    client.cookies.clear()
    log_in(client, world.slug, world.admin)
    assert client.post(PAGE, data={"csrf": "wrong", "yaml": EDITED}).status_code == 400
    token = csrf_of(client.get(PAGE).text)
    too_large = EDITED + "#" * (MAX_TAXONOMY_CHARS - len(EDITED) + 1)
    answer = client.post(f"{PAGE}?lang=en", data={"csrf": token, "yaml": too_large})
    assert answer.status_code == 413
    assert (
        f"The taxonomy is {MAX_TAXONOMY_CHARS + 1} characters long; the limit is {MAX_TAXONOMY_CHARS}."
        in answer.text
    )
    assert versions(engine, world.workspace_id) == []


def test_two_saves_at_once_the_second_is_told_and_keeps_its_text(
    engine: Engine, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: another admin's save commits version 1 between this save's read of the newest version and its
    insert (staged at the clock read that lies between them); SQLite runs one writer at a time."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: two saves cannot interleave")
    world = build(engine)
    log_in(client, world.slug, world.admin)
    token = csrf_of(client.get(PAGE).text)

    def other_admin_saves_first() -> datetime:
        monkeypatch.undo()
        with transaction(engine) as session:
            feedback_service.set_taxonomy(session, workspace_id=world.workspace_id, raw=shipped_yaml(),
                                          source="other", actor="other@example.com")  # fmt: skip
        return feedback_service.utcnow()

    monkeypatch.setattr(feedback_service, "utcnow", other_admin_saves_first)
    page = client.post(f"{PAGE}?lang=en", data={"csrf": token, "yaml": EDITED})
    assert page.status_code == 409, page.text
    assert "Someone else saved a taxonomy version at the same moment, so yours was not stored." in page.text
    assert textarea(page.text) == EDITED and 'data-taxonomy-tag="workspace:1"' in page.text
    assert versions(engine, world.workspace_id) == [(1, "other@example.com")]
    again = client.post(f"{PAGE}?lang=en", data={"csrf": token, "yaml": EDITED}, follow_redirects=False)
    assert again.status_code == 303
    assert versions(engine, world.workspace_id) == [(1, "other@example.com"), (2, world.admin)]
    assert themes_of(engine, world.items[0]) == {"tangibles"}
