"""The Social tab: mentions per day and their sentiment as hand-counted below, the reply queue handled and reopened
by an admin (a viewer and a missing CSRF token are refused), its exports, in three languages.

Workspace in Asia/Taipei tracking 山嵐 (brand; social and review). Items, Taipei time:
  20 Nov  a  social  山嵐的奶茶很好喝              positive
          b  review  山嵐外送太慢了                negative   -> queue (negative)
          c  social  請問山嵐明天有營業嗎？        neutral    -> queue (question)
  21 Nov  (nothing)
  22 Nov  d  social  山嵐的店員很親切              positive
          e  social  今天天氣很差                  negative   (no mention: not counted, not queued)
          f  social  山岚 app 又当机了             (not analysed; Simplified, still a mention)
  24 Nov  g  social  山嵐太難喝了 (23 Nov 23:30 UTC) negative   -> queue; outside the window
Window 20–22 Nov: mentions 3 + 0 + 2 = 5, analysed 3 + 0 + 1 = 4, negative 1 → negative share 1/4 = 25 %;
20 Nov positive share 1/3 = 33.3 %, negative 1/3; 22 Nov positive 1/1 = 100 %, negative 0 %. The reply queue is
a work list, not a window's figure: every open item, newest first (g, c, b).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.models import Workspace
from patron.dashboard import social as social_view
from patron.dashboard.filters import parse_filters
from patron.feedback import service as feedback
from patron.feedback.models import Channel, FeedbackItem
from patron.feedback.schemas import FeedbackCreate
from patron.social import service as social
from tests.factories import make_workspace
from tests.web.conftest import PASSWORD, csrf_of, log_in

WINDOW = "period=custom&since=2026-11-20&until=2026-11-22"
ITEMS = (  # source id, channel, text, UTC time, sentiment
    ("a", Channel.SOCIAL, "山嵐的奶茶很好喝", datetime(2026, 11, 20, 2, 0, tzinfo=UTC), "positive"),
    ("b", Channel.REVIEW, "山嵐外送太慢了", datetime(2026, 11, 20, 5, 0, tzinfo=UTC), "negative"),
    ("c", Channel.SOCIAL, "請問山嵐明天有營業嗎？", datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "neutral"),
    ("d", Channel.SOCIAL, "山嵐的店員很親切", datetime(2026, 11, 22, 1, 0, tzinfo=UTC), "positive"),
    ("e", Channel.SOCIAL, "今天天氣很差", datetime(2026, 11, 22, 2, 0, tzinfo=UTC), "negative"),
    ("f", Channel.SOCIAL, "山岚 app 又当机了", datetime(2026, 11, 22, 3, 0, tzinfo=UTC), None),
    ("g", Channel.SOCIAL, "山嵐太難喝了", datetime(2026, 11, 23, 23, 30, tzinfo=UTC), "negative"),
)


@dataclass
class SocialWorld:
    workspace: Workspace
    admin: str
    viewer: str
    ids: dict[str, int]


def build_social(engine: Engine) -> SocialWorld:
    ws = make_workspace(engine, timezone="Asia/Taipei")
    admin, viewer = f"admin@{ws.slug}.example.com", f"viewer@{ws.slug}.example.com"
    with transaction(engine) as session:
        for email, role in ((admin, "admin"), (viewer, "viewer")):
            core_service.create_user(session, workspace_id=ws.id, email=email, password=PASSWORD, role=role)
        social.add_term(session, workspace_id=ws.id, term="山嵐", kind="brand")
        feedback.add_items(session, workspace_id=ws.id, items=[
            FeedbackCreate(channel=channel, text=text, occurred_at=at, source="test", source_id=key, author=f"u-{key}",
                           reply_to=f"https://example.com/{key}")
            for key, channel, text, at, _ in ITEMS
        ])  # fmt: skip
        rows = {
            i.source_key: i
            for i in session.scalars(select(FeedbackItem).where(FeedbackItem.workspace_id == ws.id))
        }
        ids = {}
        for key, *_, sentiment in ITEMS:
            row = next(r for k, r in rows.items() if k.endswith(key))
            row.sentiment = sentiment  # set by hand: the figures below do not hang on the model
            ids[key] = row.id
        workspace = session.get_one(Workspace, ws.id)
    return SocialWorld(workspace, admin, viewer, ids)


def test_the_figures_as_hand_counted(engine: Engine) -> None:
    world = build_social(engine)
    filters = parse_filters(
        {"period": "custom", "since": "2026-11-20", "until": "2026-11-22"}, today=date(2026, 11, 24)
    )
    with transaction(engine) as session:
        view = social_view.social_tab(session, world.workspace, filters, "en")
    assert (view.mentions, view.analysed, view.negative) == (5, 4, 1) and view.negative_share == 0.25
    days = view.tables["days"].rows
    assert [row[:3] for row in days] == [
        [date(2026, 11, 20), 3, 3],
        [date(2026, 11, 21), 0, 0],
        [date(2026, 11, 22), 2, 1],
    ]
    assert days[0][3] == pytest.approx(100 / 3) and days[0][4] == pytest.approx(100 / 3)
    assert days[1][3] is None and days[2][3] == 100.0 and days[2][4] == 0.0
    assert view.tables["days"].partial_rows == set() and view.spikes == []
    assert [item.item_id for item in view.queue.items] == [world.ids[k] for k in "gcb"]  # newest first
    assert view.queue.total == 3 and view.tables["queue"].rows[1][6] is True  # c asks a question
    assert view.tables["terms"].rows == [["山嵐", "Brand", "Social media, Review", 6]]


def test_the_page_in_three_languages_and_the_queue_handled_and_reopened(
    engine: Engine, client: TestClient
) -> None:
    world = build_social(engine)
    log_in(client, world.workspace.slug, world.admin)
    for language, tab in (("zh-Hant", "社群聆聽"), ("zh-Hans", "社交聆听"), ("en", "Social")):
        page = client.get(f"/dashboard/social?{WINDOW}&lang={language}")
        assert page.status_code == 200, page.text
        assert re.search(r'aria-current="page">([^<]+)<', page.text).group(1) == tab  # type: ignore[union-attr]
        assert 'data-kpi="mentions" data-value="5"' in page.text and 'data-value="0.2500"' in page.text
        assert 'data-queue="3"' in page.text and 'id="chart-daily"' in page.text
    page = client.get(f"/dashboard/social?{WINDOW}&lang=en")
    token = csrf_of(page.text)
    b = world.ids["b"]
    refused = client.post(f"/dashboard/social/{b}/handle", data={"csrf": "wrong", "note": "x"})
    assert refused.status_code == 400  # a missing or wrong CSRF token, as on every form
    done = client.post(f"/dashboard/social/{b}/handle?next=/dashboard/social%3F{WINDOW.replace('&', '%26')}",
                       data={"csrf": token, "note": "Called the customer"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/dashboard/social?{WINDOW}"
    again = client.post(f"/dashboard/social/{b}/handle", data={"csrf": token}, follow_redirects=False)
    assert again.status_code == 409 and world.admin in again.text
    still_open = client.get(f"/dashboard/social?{WINDOW}&lang=en")
    assert 'data-queue="2"' in still_open.text and f'data-queue-item="{b}"' not in still_open.text
    handled = client.get(f"/dashboard/social?{WINDOW}&state=handled&lang=en")
    assert f'data-queue-item="{b}" data-handled="yes"' in handled.text
    assert f"Handled by {world.admin}" in handled.text and "Called the customer" in handled.text
    exported = client.get(f"/dashboard/social/export?{WINDOW}&state=handled&table=queue&format=csv&lang=en")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Time", "Channel", "Source"] and len(lines) == 2
    assert (
        lines[1][4] == "山嵐外送太慢了"
        and lines[1][7] == world.admin
        and lines[1][8] == "Called the customer"
    )
    reopened = client.post(f"/dashboard/social/{b}/reopen", data={"csrf": token}, follow_redirects=False)
    assert reopened.status_code == 303
    assert 'data-queue="3"' in client.get(f"/dashboard/social?{WINDOW}&lang=en").text
    missing = client.post(f"/dashboard/social/{world.ids['e']}/handle", data={"csrf": token})
    assert missing.status_code == 404  # not mentioning a tracked term: not in the queue
    client.post("/logout", data={"csrf": token})
    log_in(client, world.workspace.slug, world.viewer)
    viewer_page = client.get(f"/dashboard/social?{WINDOW}&lang=en")
    assert viewer_page.status_code == 200 and 'data-action="handle"' not in viewer_page.text
    forbidden = client.post(f"/dashboard/social/{b}/handle", data={"csrf": csrf_of(viewer_page.text)})
    assert forbidden.status_code == 403


def test_without_tracked_terms_the_page_says_how_to_add_them(engine: Engine, client: TestClient) -> None:
    ws = make_workspace(engine, timezone="Asia/Taipei")
    with transaction(engine) as session:
        core_service.create_user(
            session, workspace_id=ws.id, email="a@x.example.com", password=PASSWORD, role="admin"
        )
    log_in(client, ws.slug, "a@x.example.com")
    for language, words in (("zh-Hant", "尚未追蹤"), ("zh-Hans", "尚未追踪"), ("en", "No brand names")):
        page = client.get(f"/dashboard/social?lang={language}")
        assert page.status_code == 200 and "data-no-terms" in page.text and words in page.text
