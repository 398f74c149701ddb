"""The emerging topics on the taxonomy page (three languages, the figures by hand, accepting in one step as an admin,
a refusal on the page, viewers read only) and the testimonials page (three languages, approve and hide, the CSV
and Excel exports through the safe table, the embed code), on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.feedback import service as feedback_service
from patron.surveys import service as survey_service
from patron.surveys.schemas import ResponseSubmit
from tests.factories import make_workspace
from tests.feedback.test_discovery import _items
from tests.surveys.helpers import survey_world
from tests.web.conftest import PASSWORD, csrf_of, log_in

TAXONOMY = "/dashboard/feedback/taxonomy"
#: The 30 days up to yesterday (the tests' clock: 2026-11-24), as tests/feedback/test_discovery.py counts them.
WINDOW = "period=custom&since=2026-10-25&until=2026-11-23"
TESTIMONIALS = "/dashboard/feedback/testimonials"


def _users(engine: Engine, workspace_id: int, slug: str) -> tuple[str, str]:
    admin, viewer = f"admin@{slug}.example.com", f"viewer@{slug}.example.com"
    with transaction(engine) as session:
        for email, role in ((admin, "admin"), (viewer, "viewer")):
            core_service.create_user(
                session, workspace_id=workspace_id, email=email, password=PASSWORD, role=role
            )
    return admin, viewer


def _topics(page: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in
            re.finditer(r'<article class="topic" data-topic="([^"]+)" data-items="(\d+)" data-previous="(\d+)">', page)]  # fmt: skip


def test_topics_on_the_taxonomy_page_and_accepting_them(engine: Engine, client: TestClient) -> None:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        feedback_service.add_items(session, workspace_id=workspace.id, items=_items())
    admin, viewer = _users(engine, workspace.id, workspace.slug)
    log_in(client, workspace.slug, admin)
    for language, title, figures, keywords in (
        ("zh-Hant", "新興話題", "5 則回饋</span> · <span data-figure=\"share\">占全部回饋 29.4%</span> · <span data-figure=\"previous\">前一段期間 1 則", "吸管、軟掉"),
        ("zh-Hans", "新兴话题", "5 条反馈</span> · <span data-figure=\"share\">占全部反馈 29.4%</span> · <span data-figure=\"previous\">前一段期间 1 条", "吸管、软掉"),
        ("en", "Emerging topics", "5 comments</span> · <span data-figure=\"share\">29.4% of all comments</span> · <span data-figure=\"previous\">1 in the period before", "吸管、软掉"),
    ):  # fmt: skip
        page = client.get(f"{TAXONOMY}?{WINDOW}&lang={language}")
        assert page.status_code == 200, page.text
        assert f"<h2>{title}</h2>" in page.text and 'data-analysed="17"' in page.text
        assert _topics(page.text) == [("吸管", "5", "1"), ("paper straws", "3", "0")]
        assert figures in page.text and "▲ 4" in page.text  # 5 now, 1 before (5/17 = 29.4%)
        assert f'name="keywords" size="40" maxlength="2000" value="{keywords}"' in page.text
        assert "紙吸管很難用，請回電 [PHONE]" in page.text and "0912" not in page.text
    token = csrf_of(client.get(f"{TAXONOMY}?{WINDOW}&lang=zh-Hant").text)
    refused = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang=en", data={"csrf": token, "topic": "1", "keywords": "a+b",
                                                              "name": "x", "action": "new"})  # fmt: skip
    assert refused.status_code == 200 and "data-topic-problem" in refused.text
    assert "The keyword &#39;a+b&#39; cannot be used" in refused.text and 'value="a+b"' in refused.text
    done = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang=zh-Hant", follow_redirects=False,
                       data={"csrf": token, "topic": "1", "keywords": "吸管、軟掉", "name": "紙吸管", "action": "new"})  # fmt: skip
    assert (
        done.status_code == 303 and done.headers["location"] == f"{TAXONOMY}?{WINDOW}&lang=zh-Hant#discovery"
    )
    after = client.get(done.headers["location"])
    assert "新主題「紙吸管」已存為主題分類第 1 版；已重新分析 18 則回饋。" in after.text
    assert _topics(after.text) == [("paper straws", "3", "0")] and '<tr data-theme="topic">' in after.text
    added = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang=en", follow_redirects=True, data={"csrf": token, "topic": "1", "action": "add",
                        "keywords": "paper straws, paper straw", "theme": "product_quality"})  # fmt: skip
    assert (
        "Keywords added to “Product quality” in taxonomy version 2; 18 comments analysed again." in added.text
    )
    assert _topics(added.text) == [] and "No emerging topic in this period" in added.text
    with transaction(engine) as session:
        assert feedback_service.current_taxonomy(session, workspace.id).version == 2

    client.post("/logout", data={"csrf": token})
    log_in(client, workspace.slug, viewer)
    page = client.get(f"{TAXONOMY}?lang=en")
    assert page.status_code == 200 and "data-accept-form" not in page.text
    forbidden = client.post(
        f"{TAXONOMY}/topics", data={"csrf": csrf_of(page.text), "keywords": "停車", "name": "停車"}
    )
    assert forbidden.status_code == 403


def shop_with_testimonials(engine: Engine, folder: Path, english: str) -> tuple[int, str]:
    """A shop with two consented testimonials: 王小明 (S1) by initials, Amy Lee (S3) by full name, writing
    ``english``; answers the workspace id and slug."""
    made = survey_world(engine, folder, "relationship_nps")
    with transaction(engine) as session:
        for key, customer, text, form in (("a", "S1", "店員很親切，飲料很好喝，推薦給大家", "initials"),
                                          ("b", "S3", english, "full")):  # fmt: skip
            survey_service.submit_response(session, workspace_id=made.workspace.id, submission=ResponseSubmit(
                survey="relationship_nps", client_key=key, customer_id=customer,
                answers={"nps": 10, "testimonial": text}, publish_consent=True, publish_as=form))  # type: ignore[arg-type]  # fmt: skip
    return made.workspace.id, made.workspace.slug


def test_the_testimonials_page_decisions_and_exports(
    engine: Engine, tmp_path: Path, client: TestClient
) -> None:
    ws, slug = shop_with_testimonials(engine, tmp_path, "=1+1 Lovely tea and such friendly staff")
    admin, viewer = _users(engine, ws, slug)
    log_in(client, slug, admin)
    for language, title, pending, initials in (("zh-Hant", "推薦見證", "待審（2）", "姓氏或縮寫"),
                                               ("zh-Hans", "推荐见证", "待审（2）", "姓氏或缩写"),
                                               ("en", "Testimonials", "Pending (2)", "initials")):  # fmt: skip
        page = client.get(f"{TESTIMONIALS}?lang={language}")
        assert page.status_code == 200, page.text
        assert f"<h1>{title}</h1>" in page.text and pending in page.text
        assert f'<span data-name>王○○</span> <span class="muted">({initials})</span>' in page.text
        assert "<span data-name>Amy Lee</span>" in page.text and "王小明" not in page.text
        assert html.escape(f"/t/{slug}?embed=1&lang={language}") in page.text
    feedback_tab = client.get("/dashboard/feedback?lang=en")
    assert f'href="{TESTIMONIALS}?lang=en" data-testimonials-link>Testimonials</a>' in feedback_tab.text
    page = client.get(f"{TESTIMONIALS}?lang=en")
    item = re.search(
        r'data-item="(\d+)" data-status="pending">\s*<div class="meta">.*?Amy Lee', page.text, re.S
    )
    assert item is not None
    done = client.post(f"{TESTIMONIALS}/{item.group(1)}/approve?lang=en", data={"csrf": csrf_of(page.text)},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{TESTIMONIALS}?lang=en#t-{item.group(1)}"
    after = client.get(f"{TESTIMONIALS}?status=approved&lang=en")
    assert 'data-approved="1"' in after.text and after.text.count('data-status="approved"') == 1
    assert f"By {admin}," in after.text
    csv = client.get(f"{TESTIMONIALS}/export?format=csv&lang=en")
    assert csv.status_code == 200
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Item,Date,Name shown,Name allowed,Survey,Status,Comment (masked)"
    assert ",Amy Lee,full name,relationship_nps,Approved,'=1+1 Lovely tea and such friendly staff" in lines[1]
    assert ",王○○,initials,relationship_nps,Pending,店員很親切，飲料很好喝，推薦給大家" in lines[2]
    xlsx = client.get(f"{TESTIMONIALS}/export?format=xlsx&status=approved&lang=zh-Hant")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]  # type: ignore[union-attr]
    assert (
        rows[0][2] == "顯示名稱"
        and len(rows) == 2
        and rows[1][2:6] == ["Amy Lee", "全名", "relationship_nps", "已核准"]
    )
    assert rows[1][6] == "'=1+1 Lovely tea and such friendly staff" and sheet.cell(2, 7).data_type == "s"  # type: ignore[union-attr]

    client.post("/logout", data={"csrf": csrf_of(after.text)})
    log_in(client, slug, viewer)
    page = client.get(f"{TESTIMONIALS}?lang=en")
    assert page.status_code == 200 and "data-action=" not in page.text
    forbidden = client.post(f"{TESTIMONIALS}/{item.group(1)}/hide", data={"csrf": csrf_of(page.text)})
    assert forbidden.status_code == 403


def test_not_a_topic_on_the_taxonomy_page_and_its_undo(engine: Engine, client: TestClient) -> None:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        feedback_service.add_items(session, workspace_id=workspace.id, items=_items())
    admin, viewer = _users(engine, workspace.id, workspace.slug)
    log_in(client, workspace.slug, admin)
    token = csrf_of(client.get(f"{TAXONOMY}?{WINDOW}&lang=zh-Hant").text)
    for language, done_text, restored_text, button in (
        ("zh-Hant", "已標為不是話題：吸管、軟掉。之後不會再建議。", "已復原：吸管、軟掉 可能會再次被建議。", "不是話題"),
        ("zh-Hans", "已标为不是话题：吸管、软掉。之后不会再建议。", "已恢复：吸管、软掉 可能会再次被建议。", "不是话题"),
        ("en", "Dismissed as not a topic: 吸管, 软掉. They will not be suggested again.", "Restored: 吸管, 软掉 may be suggested again.", "Not a topic"),
    ):  # fmt: skip
        page = client.get(f"{TAXONOMY}?{WINDOW}&lang={language}")
        assert 'data-dismiss title="' in page.text and f">{button}</button>" in page.text
        keywords = "吸管、軟掉" if language == "zh-Hant" else "吸管、软掉"
        done = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang={language}", follow_redirects=False,
                           data={"csrf": token, "topic": "1", "keywords": keywords, "name": "x", "action": "dismiss"})  # fmt: skip
        assert done.status_code == 303 and done.headers["location"].endswith("#discovery")
        after = client.get(done.headers["location"])
        assert html.unescape(done_text) in html.unescape(after.text)
        assert _topics(after.text) == [("paper straws", "3", "0")]  # 5 straw comments no longer suggested
        assert 'data-dismissed-list="2"' in after.text and 'data-restore="软掉"' in after.text
        with transaction(engine) as session:
            assert feedback_service.current_taxonomy(session, workspace.id).origin == "shipped"
        undone = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang={language}", follow_redirects=True,
                             data={"csrf": token, "keywords": "吸管、软掉", "action": "restore"})  # fmt: skip
        assert html.unescape(restored_text) in html.unescape(undone.text)
        assert _topics(undone.text) == [("吸管", "5", "1"), ("paper straws", "3", "0")]
        assert "data-dismissed-list" not in undone.text
    refused = client.post(f"{TAXONOMY}/topics?{WINDOW}&lang=en",
                          data={"csrf": token, "keywords": "parking", "action": "restore"})  # fmt: skip
    assert refused.status_code == 200 and "The keyword &#39;parking&#39; is not dismissed" in refused.text
    client.post(
        f"{TAXONOMY}/topics?{WINDOW}&lang=en",
        data={"csrf": token, "keywords": "parking", "action": "dismiss"},
    )
    client.post("/logout", data={"csrf": token})
    log_in(client, workspace.slug, viewer)
    page = client.get(f"{TAXONOMY}?{WINDOW}&lang=en")
    assert (
        'data-dismissed="parking"' in page.text
        and "data-restore" not in page.text
        and "data-dismiss " not in page.text
    )
    forbidden = client.post(f"{TAXONOMY}/topics", data={"csrf": csrf_of(page.text), "keywords": "parking",
                                                         "action": "restore"})  # fmt: skip
    assert forbidden.status_code == 403
