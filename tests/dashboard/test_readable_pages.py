"""Dashboard pages read as words, not codes: segments (named by the workspace on its settings page, by API or
CLI), touchpoints, channels and surveys; the touchpoint filter is a choice; metrics carry their definitions."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.i18n import translate
from patron.core.models import Workspace
from patron.surveys.schemas import ResponseSubmit, Touchpoint
from patron.surveys.service import save_survey, submit_response, templates
from tests.dashboard.conftest import Dash, csrf_of, log_in

#: Everything in the hand-made world: NPS in January–February 2025, CSAT and CES at the suite's "now".
ALL = "period=custom&since=2025-01-01&until=2026-11-30"
CODES = r"(vip|member|relationship|post_purchase|support_closed|email|\(none\))"
#: A code as the whole text of an element (any language), or anywhere in Chinese text.
RAW_CELL, RAW_WORD = re.compile(rf">\s*{CODES}\s*<"), re.compile(rf"\b{CODES}\b")


def _visible(page: str) -> str:
    """What a person reads: no tags, attributes or scripts."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_code))


def test_dashboard_pages_show_words_not_codes(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    pages = [
        f"/dashboard/breakdowns?{ALL}&by={by}"
        for by in ("segment", "touchpoint", "channel", "locale", "survey")
    ]
    pages += [f"/dashboard/responses?{ALL}", f"/dashboard/surveys?{ALL}", f"/dashboard/alerts?{ALL}",
              f"/dashboard?{ALL}&segment=vip"]  # fmt: skip
    for lang in ("zh-Hant", "zh-Hans", "en"):
        for url in pages:
            page = client.get(f"{url}&lang={lang}").text
            assert not RAW_CELL.search(page), (lang, url, RAW_CELL.findall(page))
            if lang != "en":
                assert not RAW_WORD.search(_visible(page)), (lang, url, RAW_WORD.findall(_visible(page)))
    by_segment = _visible(client.get(f"/dashboard/breakdowns?{ALL}&by=segment&lang=zh-Hans").text)
    assert "普通会员" in by_segment and "VIP 顾客" in by_segment
    by_touchpoint = _visible(
        client.get(f"/dashboard/breakdowns?{ALL}&by=touchpoint&metric=csat&lang=en").text
    )
    assert "After purchase" in by_touchpoint and "Support case closed" in by_touchpoint
    by_survey = _visible(client.get(f"/dashboard/breakdowns?{ALL}&by=survey&metric=csat&lang=zh-Hant").text)
    assert "購物滿意度調查" in by_survey, "a survey by its name"
    responses = _visible(client.get(f"/dashboard/responses?{ALL}&lang=zh-Hant").text)
    assert "整體關係" in responses and "電子郵件" in responses, "touchpoint and channel of each response"


def test_the_touchpoint_filter_is_a_choice(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    page = client.get(f"/dashboard/responses?{ALL}&lang=en").text
    menu = re.search(r'<select name="touchpoint">(.*?)</select>', page, flags=re.S)
    assert menu, "a menu, not a text box"
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', menu.group(1))
    assert options[0] == ("", "All") and [value for value, _ in options[1:]] == [str(t) for t in Touchpoint]
    assert ("support_closed", "Support case closed") in options
    counts = {}
    for touchpoint in ("relationship", "post_purchase", "support_closed", "delivery"):
        chosen = client.get(f"/dashboard/responses?{ALL}&touchpoint={touchpoint}").text
        assert f'<option value="{touchpoint}" selected>' in chosen
        counts[touchpoint] = int(re.search(r'data-total="(\d+)"', chosen).group(1))  # type: ignore[union-attr]
    assert counts == {"relationship": 11, "post_purchase": 5, "support_closed": 3, "delivery": 0}
    bad = client.get(f"/dashboard/responses?{ALL}&touchpoint=shoe&lang=zh-Hant")
    assert bad.status_code == 400 and "未知的接觸點「shoe」" in bad.text and "post_purchase" in bad.text


def test_segment_names_from_the_settings_page_are_used_everywhere(
    client: TestClient, dash: Dash, engine: Engine
) -> None:
    page = log_in(client, dash.slug, dash.admin)
    settings = client.get("/dashboard/settings").text
    assert settings.count("<tr data-segment=") == 2 and 'placeholder="VIP 顧客"' in settings
    assert 'name="period"' not in settings, "no period filter on the settings page"
    form = {"csrf": csrf_of(page), "segment-0": "member", "segment-0-zh-Hant": "", "segment-0-zh-Hans": "",
            "segment-0-en": "", "segment-1": "vip", "segment-1-zh-Hant": "金卡會員", "segment-1-zh-Hans": "",
            "segment-1-en": "Gold members"}  # fmt: skip
    saved = client.post("/dashboard/settings/segments", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/dashboard/settings"
    with transaction(engine) as session:
        own = session.get_one(Workspace, dash.workspace_id).segment_labels
    assert own == {"vip": {"zh-Hant": "金卡會員", "zh-Hans": "金卡会员", "en": "Gold members"}}, (
        "the Simplified name is derived; a segment without names keeps none"
    )
    for lang, name, member in (("zh-Hant", "金卡會員", "一般會員"), ("zh-Hans", "金卡会员", "普通会员"),
                               ("en", "Gold members", "Members")):  # fmt: skip
        breakdown = client.get(f"/dashboard/breakdowns?{ALL}&by=segment&lang={lang}").text
        assert f'<option value="vip">{name}</option>' in breakdown, "the segment filter"
        assert f"<td>{name}</td>" in breakdown and f"<td>{member}</td>" in breakdown, "the breakdown table"
    export = client.get(
        f"/dashboard/breakdowns/export?{ALL}&by=segment&table=breakdown&format=csv&lang=zh-Hant"
    )
    assert export.content.decode("utf-8-sig").splitlines()[2].startswith("金卡會員,")
    too_long = client.post("/dashboard/settings/segments?lang=zh-Hant", data={**form, "segment-0-en": "x" * 101},
                           headers={"accept": "text/html"})  # fmt: skip
    assert too_long.status_code == 400 and "客群「member」的 en 名稱超過 100 個字元。" in html.unescape(
        too_long.text
    )
    with transaction(engine) as session:
        assert session.get_one(Workspace, dash.workspace_id).segment_labels == own, "nothing half-saved"
    cleared = {key: ("" if key.startswith("segment-1-") else value) for key, value in form.items()}
    client.post("/dashboard/settings/segments", data=cleared)
    assert "<td>VIP</td>" in client.get(f"/dashboard/breakdowns?{ALL}&by=segment&lang=en").text, (
        "back to default"
    )


def test_viewers_see_segment_names_but_cannot_change_them(client: TestClient, dash: Dash) -> None:
    page = log_in(client, dash.slug, dash.viewer)
    settings = client.get("/dashboard/settings").text
    assert 'name="segment-1-en" value="" placeholder="VIP"' in settings and " disabled>" in settings
    refused = client.post("/dashboard/settings/segments", data={"csrf": csrf_of(page), "segment-0": "vip",
                                                                 "segment-0-en": "Gold"},
                          headers={"accept": "text/html"})  # fmt: skip
    assert refused.status_code == 403


def test_segment_names_by_api_and_cli(client: TestClient, dash: Dash, engine: Engine) -> None:
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=dash.workspace_id, name="t")
    headers = {"Authorization": f"Bearer {key}"}
    listed = client.get("/api/v1/segments", headers=headers).json()
    assert listed == [
        {"segment": "member", "customers": 6, "own": {},
         "labels": {"zh-Hant": "一般會員", "zh-Hans": "普通会员", "en": "Members"}},
        {"segment": "vip", "customers": 5, "own": {}, "labels": {"zh-Hant": "VIP 顧客", "zh-Hans": "VIP 顾客", "en": "VIP"}},
    ]  # fmt: skip
    put = client.put(
        "/api/v1/segments/labels", headers=headers, json={"labels": {"vip": {"zh-Hans": "金卡会员"}}}
    )
    assert put.status_code == 200
    assert put.json()[1]["labels"] == {"zh-Hant": "金卡會員", "zh-Hans": "金卡会员", "en": "VIP"}
    bad = client.put("/api/v1/segments/labels", headers={**headers, "Accept-Language": "en"},
                     json={"labels": {"vip": {"fr": "Or"}}})  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "The label of segment 'vip' is in an unknown language 'fr'; use zh-Hant, zh-Hans, en."
    )

    runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
    named = runner.invoke(app, ["customers", "segments", "member", "--zh-hant", "一般會員卡", "--en", "Card holders",
                                "-w", dash.slug])  # fmt: skip
    assert named.exit_code == 0, named.output
    assert "Card holders" in named.output and "一般会员卡" in named.output and "金卡會員" in named.output
    cleared = runner.invoke(app, ["customers", "segments", "vip", "--clear", "-w", dash.slug])
    assert cleared.exit_code == 0 and "VIP 顧客" in cleared.output
    refused = runner.invoke(app, ["customers", "segments", "vip", "--en", "x" * 101, "-w", dash.slug])
    assert refused.exit_code == 2 and "longer than 100 characters" in refused.output


def test_every_metric_on_the_pages_has_its_definition(client: TestClient, dash: Dash) -> None:
    """The KPI tiles have a "?" with the definition; the retention and breakdown tables define their columns
    under the table, each header linking to its definition. Texts as in docs/metrics.md, in three languages."""
    log_in(client, dash.slug, dash.viewer)
    for lang in ("zh-Hant", "zh-Hans", "en"):
        overview = client.get(f"/dashboard?{ALL}&lang={lang}").text
        for metric in ("nps", "csat", "ces", "response_rate"):
            found = re.search(rf'<details class="help" data-help="{metric}"><summary [^>]*>\?</summary>'
                              rf'<p class="help-body" role="note">([^<]+)</p></details>', overview)  # fmt: skip
            assert found and html.unescape(found.group(1)) == translate(f"help.{metric}", lang), (
                lang,
                metric,
            )
        retention = html.unescape(client.get(f"/dashboard/retention?{ALL}&lang={lang}").text)
        for name in ("crr", "retention_rate", "churn_rate", "repeat_purchase_rate", "purchase_frequency",
                     "average_order_value", "customers_end", "new_customers"):  # fmt: skip
            assert f"<dd>{translate(f'help.{name}', lang)}</dd>" in retention, (lang, name)
        assert retention.count('class="help-link" href="#def-retention-') == 8
        assert re.search(r'<div id="def-retention-4"><dt>[^<]*CRR', retention), (
            "the CRR header's link lands on CRR"
        )
        breakdown = html.unescape(client.get(f"/dashboard/breakdowns?{ALL}&metric=ces&lang={lang}").text)
        assert f"<dd>{translate('help.ces', lang)}</dd>" in breakdown
    assert "so it can exceed retention, and even 100 %" in translate("help.crr", "en")
    assert "甚至超過 100%" in translate("help.crr", "zh-Hant") and "甚至超过 100%" in translate(
        "help.crr", "zh-Hans"
    )


DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_the_definitions_on_the_pages_are_the_documented_ones() -> None:
    """Each English help text quotes the formula docs/metrics.md gives, so page and docs cannot drift apart."""
    ease = "the company made it easy to handle my issue"  # the page quotes it with typographic quotes
    docs = DOCS.read_text(encoding="utf-8").replace("**", "").replace(f'"{ease}"', f"“{ease}”")
    quoted = {
        "nps": ["% promoters (9–10) − % detractors (0–6), on −100 … 100", "Tango's score interval", "|P − D − n·δ| / √(n·(2d + δ·(1 − δ))) ≤ 1.96"],
        "csat": ["% of answers in the top box: 4–5 on the 5-point scale, 8–10 on the 1–10 scale", "Wilson score interval"],
        "ces": ["mean agreement, 1–7, with “the company made it easy to handle my issue”; higher is easier (better)",
                "mean ± t(0.975, n − 1)·s/√n"],
        "response_rate": ["% of invitations that went out", "Wilson score interval"],
        "crr": ["(E − N) / S", "It also counts customers who return after a gap, so it can exceed retention"],
        "retention_rate": ["customers active in both this and the previous period / S"],
        "churn_rate": ["1 − retention rate"],
        "repeat_purchase_rate": ["customers with 2+ purchases in the period / active customers"],
        "purchase_frequency": ["purchases / active customers"],
        "average_order_value": ["revenue / purchases", "A purchase is an order that was not cancelled or returned"],
        "customers_end": ["active in this period"],
        "new_customers": ["first purchase ever in this period"],
        "cohort": ["customers by first-purchase period", "% of the cohort active 0, 1, 2 … periods later"],
    }  # fmt: skip
    for name, phrases in quoted.items():
        for phrase in phrases:
            assert phrase in docs, (name, phrase, "not in docs/metrics.md")
            assert phrase in translate(f"help.{name}", "en"), (name, phrase, "not on the page")


def test_responses_show_each_answer_under_its_question(
    client: TestClient, dash: Dash, engine: Engine
) -> None:
    """Comments with their question, choices by their labels, ratings out of their scale; in the list, on the
    customer's page and in the export."""
    with transaction(engine) as session:
        save_survey(session, workspace_id=dash.workspace_id, definition=templates()["most_least_liked"])
        for survey, answers in (
            ("relationship_nps", {"nps": 9, "reason": "茶很香", "value_most": "price_value"}),
            ("most_least_liked", {"most_liked": "門市親切", "least_liked": "停車不便", "overall": 4}),
        ):
            submit_response(session, workspace_id=dash.workspace_id,
                            submission=ResponseSubmit(survey=survey, customer_id="V1", answers=answers))  # fmt: skip
    log_in(client, dash.slug, dash.admin)
    expected = {
        "zh-Hant": [("comment", "您給這個分數的主要原因是什麼？", "茶很香"), ("choice", "您最重視我們的哪一點？", "價格與划算程度"),
                    ("comment", "您最喜歡我們的哪一點？", "門市親切"), ("comment", "您最不喜歡我們的哪一點？", "停車不便"),
                    ("rating", "整體評分", "4 / 5")],
        "zh-Hans": [("comment", "您给这个分数的主要原因是什么？", "茶很香"), ("choice", "您最重视我们的哪一点？", "价格与划算程度"),
                    ("comment", "您最喜欢我们的哪一点？", "門市親切"), ("comment", "您最不喜欢我们的哪一点？", "停車不便"),
                    ("rating", "整体评分", "4 / 5")],
        "en": [("comment", "What is the main reason for your score?", "茶很香"),
               ("choice", "What do you value most about us?", "Price and value"),
               ("comment", "What do you like most about us?", "門市親切"),
               ("comment", "What do you like least about us?", "停車不便"), ("rating", "Overall rating", "4 / 5")],
    }  # fmt: skip
    shown = re.compile(r'data-answer="(\w+)"><(?:figcaption|span class="question")>([^<]+)</(?:figcaption|span)>'
                       r'\s*(?:<blockquote[^>]*>|<span class="value">)([^<]+)<')  # fmt: skip
    for lang, answers in expected.items():
        for url in (f"/dashboard/responses?period=7d&lang={lang}", f"/customers/V1?lang={lang}"):
            page = html.unescape(client.get(url).text)
            found = shown.findall(page)
            assert sorted(found) == sorted(answers), (url, found)
    export = client.get("/dashboard/responses/export?period=7d&table=responses&format=csv&lang=en")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][8:10] == ["Comments", "Other answers"]
    assert sorted(row[8:10] for row in rows[1:] if row[8] or row[9]) == [
        [
            "What do you like most about us?: 門市親切 / What do you like least about us?: 停車不便",
            "Overall rating: 4 / 5",
        ],
        [
            "What is the main reason for your score?: 茶很香",
            "What do you value most about us?: Price and value",
        ],
    ]
