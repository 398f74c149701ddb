"""Emerging topics (docs/feedback.md, "Discovering emerging topics"): on a hand-built set where the topics and
their counts are known — paper straws in Traditional and Simplified Chinese counted together, and in English —
then accepted into the taxonomy in one step (a new version, applied to history) on SQLite and PostgreSQL, through
the service, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.feedback import discovery, service
from patron.feedback.schemas import FeedbackCreate
from patron.web.app import create_app
from tests.factories import make_workspace

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


def _at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 4, 0, tzinfo=UTC)


#: The period is the 30 days up to yesterday, 2026-10-25 – 2026-11-23 in Taipei (the tests' clock: 2026-11-24).
STRAWS_ZH = [
    "紙吸管一下就軟掉了",  # Traditional
    "这次的纸吸管又软掉",  # Simplified
    "吸管是纸做的，泡一下就烂",  # Simplified, 吸管 without 纸吸管
    "店員很親切，但是紙吸管一下就軟掉",  # a theme in the first clause, the topic in the second
    "紙吸管很難用，請回電 0912-345-678",  # personal data: the example shows it masked
]
STRAWS_EN = [
    "The paper straw went soggy in minutes",
    "Paper straws are useless",
    "the paper straws fall apart",
]
THEMED = ["外送很快", "價格便宜，CP值很高", "店員態度很差", "The staff were friendly", "delivery was late",
          "the app kept crashing", "退款很快"]  # fmt: skip
NOISE = ["停車很方便", "感謝你們"]  # one item each, and stop words: no topic
BEFORE = ["紙吸管又軟了"]  # the period before (2026-09-25 – 2026-10-24)


def _items() -> list[FeedbackCreate]:
    texts = [(text, _at(10 + i % 10)) for i, text in enumerate(STRAWS_ZH + STRAWS_EN + THEMED + NOISE)]
    texts += [(text, _at(15, 10)) for text in BEFORE]
    return [
        FeedbackCreate(channel="review", source="google_maps", source_id=f"d{i}", occurred_at=at, text=text)  # type: ignore[arg-type]
        for i, (text, at) in enumerate(texts)
    ]


@pytest.fixture
def shop(engine: Engine) -> Workspace:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        service.add_items(session, workspace_id=workspace.id, items=_items())
    return workspace


def _window(workspace: Workspace) -> tuple[datetime, datetime]:
    return service.day_bounds(workspace.timezone, None, None)


def test_terms_lift_and_initials_by_hand() -> None:
    assert discovery.clause_terms("纸吸管一下就软掉了") == {
        "纸吸管": ("纸吸管", "zh"), "吸管": ("吸管", "zh"), "软掉": ("软掉", "zh")}  # fmt: skip
    english = discovery.clause_terms("the paper straws fall apart")
    assert english["straw"] == ("straws", "en") and english["paper straw"] == ("paper straws", "en")
    assert "the" not in english and "[phone]" not in discovery.clause_terms("call [phone] now")
    # 5 of 10 items with an unmatched clause, none of 8 with a matched one: (5/10) / (0.5/8.5) = 8.5.
    assert discovery.lift(5, 10, 0, 8) == pytest.approx(8.5)
    assert discovery.lift(3, 10, 2, 8) == pytest.approx(0.3 / (2.5 / 8.5))
    assert (
        discovery.in_script("软掉", "zh-Hant") == "軟掉" and discovery.in_script("软掉", "zh-Hans") == "软掉"
    )


def test_topics_counts_and_examples_by_hand(engine: Engine, shop: Workspace) -> None:
    since, until = _window(shop)
    with transaction(engine) as session:
        report = discovery.discover(session, workspace_id=shop.id, since=since, until=until)
    # 17 analysed items in the period; 10 have a clause no theme matches (5 + 3 straws, 2 noise).
    assert (report.analysed, report.with_unmatched) == (17, 10)
    assert [(t.label, t.keywords, t.items, t.previous, t.change) for t in report.topics] == [
        ("吸管", ["吸管", "软掉"], 5, 1, 4),  # both scripts together; 纸吸管 gives way to 吸管
        ("paper straws", ["paper straws", "paper straw"], 3, 0, 3),
    ]
    chinese, english = report.topics
    assert chinese.share == pytest.approx(5 / 17) and english.share == pytest.approx(3 / 17)
    assert chinese.lift == pytest.approx(8.5)  # (5/10) / (0.5/8.5)
    assert english.lift == pytest.approx(round((3 / 10) / (0.5 / 8.5), 3))
    texts = [example.text for example in chinese.examples]
    assert len(texts) == 3 and all("0912" not in text for text in texts)
    assert "紙吸管很難用，請回電 [PHONE]" in texts  # the masked copy, in the script it was written in
    # A topic needs 3 items: with 6, nothing is left.
    with transaction(engine) as session:
        assert (
            discovery.discover(session, workspace_id=shop.id, since=since, until=until, min_items=6).topics
            == []
        )


def test_accept_in_one_step_applies_to_history(engine: Engine, shop: Workspace) -> None:
    since, until = _window(shop)
    with transaction(engine) as session:
        topic = discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics[0]
        done = discovery.accept(session, workspace_id=shop.id, actor="admin@example.com",
                                keywords=[discovery.in_script(k, "zh-Hant") for k in topic.keywords],
                                name="紙吸管")  # fmt: skip
    assert (done.theme, done.created, done.version, done.themes, done.analysed) == ("topic", True, 1, 17, 18)
    with transaction(engine) as session:
        taxonomy = service.current_taxonomy(session, shop.id)
        theme = taxonomy.by_key()["topic"]
        assert theme.names == {"zh-Hant": "紙吸管", "zh-Hans": "纸吸管", "en": "紙吸管"} and theme.zh == (
            "吸管",
            "软掉",
        )
        source = service.taxonomy_source(session, shop.id)
        assert source.startswith("# Patron's shipped theme taxonomy")  # the comments are kept
        figures = {f.theme: f for f in service.theme_figures(session, workspace_id=shop.id, since=since,
                                                             until=until, locale="zh-Hant")}  # fmt: skip
        assert figures["topic"].items == 5  # the topic's items, analysed again with the new version
        left = discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics
        assert [t.label for t in left] == ["paper straws"]
        # "Add to theme X": the English topic joins product quality (its flow list edited in place).
        added = discovery.accept(session, workspace_id=shop.id, actor="admin@example.com",
                                 keywords=left[0].keywords, theme="product_quality")  # fmt: skip
    assert (added.theme, added.created, added.version) == ("product_quality", False, 2)
    with transaction(engine) as session:
        source = service.taxonomy_source(session, shop.id)
        assert "stopped working, paper straws, paper straw]" in source and source.startswith("# Patron's")
        figures = {f.theme: f for f in service.theme_figures(session, workspace_id=shop.id, since=since,
                                                             until=until, locale="en")}  # fmt: skip
        assert figures["product_quality"].items == 3
        assert discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics == []
        # Named refusals, nothing stored.
        for kwargs, code in (
            ({"keywords": ["吸管"], "name": "again"}, "feedback.discovery_known_keywords"),
            ({"keywords": [" "], "name": "x"}, "feedback.discovery_no_keywords"),
            ({"keywords": ["a+b"], "name": "x"}, "feedback.discovery_bad_keyword"),
            ({"keywords": ["parking"], "name": " "}, "feedback.discovery_no_name"),
            ({"keywords": ["parking"], "theme": "nope"}, "feedback.unknown_theme"),
        ):
            with pytest.raises(PatronError) as caught:
                discovery.accept(session, workspace_id=shop.id, actor="a", **kwargs)  # type: ignore[arg-type]
            assert caught.value.code == code
        assert service.current_taxonomy(session, shop.id).version == 2


def test_a_flow_style_document_is_written_out_again_and_still_checked() -> None:
    raw = ('version: 1\nthemes: [{key: a, group: cx, names: {zh-Hant: 甲, zh-Hans: 甲, en: A}, '
           'keywords: {en: [alpha]}}]\n')  # fmt: skip
    from patron.feedback.taxonomy import parse_taxonomy

    document = parse_taxonomy(raw).document
    entry = {"key": "b", "group": "cx", "names": {"zh-Hant": "乙", "zh-Hans": "乙", "en": "B"},
             "keywords": {"en": ["beta"]}}  # fmt: skip
    written = discovery.with_theme(raw, document, entry)
    assert [t.key for t in parse_taxonomy(written).themes] == ["a", "b"]
    more = discovery.with_keywords(written, parse_taxonomy(written).document, "a", ["甲乙"], ["gamma"])
    assert parse_taxonomy(more).themes[0].en == ("alpha", "gamma") and parse_taxonomy(more).themes[0].zh == (
        "甲乙",
    )


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_discovery_api_and_cli(engine: Engine, shop: Workspace, client: TestClient) -> None:
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
    found = client.get("/api/v1/feedback/discovery?days=30", headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert [(t["label"], t["items"], t["previous"]) for t in body["topics"]] == [
        ("吸管", 5, 1),
        ("paper straws", 3, 0),
    ]
    assert body["analysed"] == 17 and "0912" not in found.text
    bad = client.post(
        "/api/v1/feedback/discovery/accept", headers=headers, json={"keywords": ["a+b"], "name": "x"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "feedback.discovery_bad_keyword"
    accepted = client.post("/api/v1/feedback/discovery/accept", headers=headers,
                           json={"keywords": ["paper straw", "paper straws"], "name": "Paper straws"})  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    assert {k: accepted.json()[k] for k in ("theme", "created", "version")} == {
        "theme": "paper_straws", "created": True, "version": 1}  # fmt: skip

    listed = runner.invoke(app, ["feedback", "discover", "--days", "30", "-w", shop.slug, "--lang", "en"])
    assert listed.exit_code == 0, listed.output
    assert (
        "1 emerging topics in the last 30 days (17 analysed comments" in listed.output
        and "吸管" in listed.output
    )
    as_json = json.loads(runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--json"]).output)
    assert [t["items"] for t in as_json["topics"]] == [5]
    none = runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--accept", "3", "--lang", "en"])
    assert none.exit_code == 2 and "There is no topic 3: 1 topics were found." in none.output
    done = runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--accept", "1", "--name", "吸管問題",
                               "--lang", "zh-Hant"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "主題「topic」已納入主題分類第 2 版" in done.output


def test_dismissing_a_topic_stops_suggesting_it_and_undo_brings_it_back(
    engine: Engine, shop: Workspace
) -> None:
    # The rule by hand: a term holding a dismissed keyword, or part of one, is no candidate (plurals folded).
    assert discovery.is_dismissed("纸吸管", "zh", ["吸管"]) and discovery.is_dismissed(
        "吸管", "zh", ["纸吸管"]
    )
    assert discovery.is_dismissed("straw", "en", ["paper straws"])
    assert discovery.is_dismissed("soggy paper straw", "en", ["paper straws"])
    assert not discovery.is_dismissed("paper cup", "en", ["paper straws"])
    assert not discovery.is_dismissed("奶茶", "zh", ["paper straws"])
    since, until = _window(shop)
    with transaction(engine) as session:
        english = discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics[1]
        terms = discovery.dismiss(
            session, workspace_id=shop.id, keywords=english.keywords, actor="a@example.com"
        )
        assert [(t.keyword, t.dismissed_by) for t in terms.terms] == [
            ("paper straw", "a@example.com"), ("paper straws", "a@example.com")]  # fmt: skip
        report = discovery.discover(session, workspace_id=shop.id, since=since, until=until)
        # Only the Chinese topic is left, its figures unchanged: 5 items, 1 before, 17 analysed.
        assert [(t.label, t.items, t.previous) for t in report.topics] == [("吸管", 5, 1)]
        assert (report.analysed, report.with_unmatched) == (17, 10)
        # The Traditional form of a keyword is the same dismissal (stored as analysed); twice changes nothing.
        discovery.dismiss(session, workspace_id=shop.id, keywords=["吸管", "軟掉"], actor="b@example.com")
        again = discovery.dismiss(session, workspace_id=shop.id, keywords=["軟掉"], actor="c@example.com")
        assert [(t.keyword, t.dismissed_by) for t in again.terms] == [
            ("paper straw", "a@example.com"), ("paper straws", "a@example.com"),
            ("吸管", "b@example.com"), ("软掉", "b@example.com")]  # fmt: skip
        assert discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics == []
        assert service.current_taxonomy(session, shop.id).origin == "shipped"  # the taxonomy is not touched
        # Undo: the English topic comes back with its 3 items.
        left = discovery.restore(session, workspace_id=shop.id, keywords=["Paper Straws", "paper straw"])
        assert [t.keyword for t in left.terms] == ["吸管", "软掉"]
        back = discovery.discover(session, workspace_id=shop.id, since=since, until=until).topics
        assert [(t.label, t.items) for t in back] == [("paper straws", 3)]
        with pytest.raises(PatronError) as caught:
            discovery.restore(session, workspace_id=shop.id, keywords=["parking"])
        assert caught.value.code == "feedback.discovery_not_dismissed" and caught.value.status == 404


def test_dismissing_through_the_api_and_the_cli(engine: Engine, shop: Workspace, client: TestClient) -> None:
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=shop.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
    done = client.post(
        "/api/v1/feedback/discovery/dismiss", headers=headers, json={"keywords": ["吸管", "軟掉"]}
    )
    assert done.status_code == 200, done.text
    assert [t["keyword"] for t in done.json()["terms"]] == ["吸管", "软掉"]
    found = client.get("/api/v1/feedback/discovery?days=30", headers=headers).json()
    assert [(t["label"], t["items"]) for t in found["topics"]] == [("paper straws", 3)]
    listed = client.get("/api/v1/feedback/discovery/dismissed", headers=headers).json()
    assert [t["keyword"] for t in listed["terms"]] == ["吸管", "软掉"]
    missing = client.post(
        "/api/v1/feedback/discovery/restore", headers=headers, json={"keywords": ["parking"]}
    )
    assert (
        missing.status_code == 404 and missing.json()["error"]["code"] == "feedback.discovery_not_dismissed"
    )
    restored = client.post(
        "/api/v1/feedback/discovery/restore", headers=headers, json={"keywords": ["吸管", "软掉"]}
    )
    assert restored.status_code == 200 and restored.json()["terms"] == []

    dismissed = runner.invoke(
        app, ["feedback", "discover", "-w", shop.slug, "--dismiss", "2", "--lang", "en"]
    )
    assert dismissed.exit_code == 0, dismissed.output
    assert (
        "2 keywords are dismissed as not a topic." in dismissed.output and "paper straws" in dismissed.output
    )
    as_json = json.loads(runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--json"]).output)
    assert [(t["label"], t["items"]) for t in as_json["topics"]] == [("吸管", 5)]
    listed_cli = runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--dismissed", "--json"])
    assert [t["keyword"] for t in json.loads(listed_cli.output)["terms"]] == ["paper straw", "paper straws"]
    undone = runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--restore", "paper straw, paper straws",
                                 "--lang", "zh-Hant"])  # fmt: skip
    assert undone.exit_code == 0, undone.output
    assert "共 0 個關鍵字已標為不是話題。" in undone.output
    none = runner.invoke(
        app, ["feedback", "discover", "-w", shop.slug, "--restore", "parking", "--lang", "en"]
    )
    assert none.exit_code != 0 and "The keyword 'parking' is not dismissed" in none.output
    as_json = json.loads(runner.invoke(app, ["feedback", "discover", "-w", shop.slug, "--json"]).output)
    assert [t["items"] for t in as_json["topics"]] == [5, 3]
