"""Dashboard pages: the numbers shown equal the metrics engine's, filters live in the URL, exports, roles,
bad input named in the user's language, and one workspace never sees another's."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.core.i18n import translate
from patron.core.models import Workspace
from patron.dashboard.models import AlertRule
from patron.metrics import service as metrics
from patron.metrics.engine import MetricQuery
from patron.surveys.models import Survey
from tests.dashboard.conftest import Dash, csrf_of, log_in
from tests.metrics.world import single_ces_answer
from tests.web.conftest import make_tenant

JAN_FEB = "period=custom&since=2025-01-01&until=2025-02-28"


def _kpis(page: str) -> dict[str, dict[str, str]]:
    found = re.findall(r'data-kpi="(\w+)" data-value="([^"]*)" data-n="(\d+)" data-change="([^"]*)"', page)
    return {name: {"value": value, "n": n, "change": change} for name, value, n, change in found}


@pytest.mark.parametrize("segment", ["", "vip", "member"])
def test_overview_shows_the_engines_numbers_for_the_same_filter(
    client: TestClient, dash: Dash, segment: str
) -> None:
    log_in(client, dash.slug, dash.admin)
    page = client.get(f"/dashboard?{JAN_FEB}&segment={segment}")
    assert page.status_code == 200
    shown = _kpis(page.text)
    where = (("segment", segment),) if segment else ()
    for name in ("nps", "csat", "ces", "response_rate"):
        query = MetricQuery(name, since=metrics.parse_day("2025-01-01"), until=metrics.parse_day("2025-02-28"),
                            where=where)  # fmt: skip
        rows = metrics.run(dash.workspace_id, query, "en").rows
        if rows:
            assert float(shown[name]["value"]) == pytest.approx(rows[0].value), name
            assert int(shown[name]["n"]) == rows[0].n
        else:
            assert shown[name]["value"] == "" and shown[name]["n"] == "0", name


def test_overview_in_traditional_chinese_with_warnings_and_benchmark(client: TestClient, dash: Dash) -> None:
    landing = log_in(client, dash.slug, dash.admin)
    assert 'data-page="overview"' in landing, "people land on the dashboard"
    page = client.get(f"/dashboard?{JAN_FEB}").text
    assert '<html lang="zh-Hant">' in page
    assert "9.1" in page and "樣本 11" in page
    assert translate("metrics.small_sample", "zh-Hant", minimum=30) in page, "a small sample is flagged"
    assert "前一期間沒有回答可比較" in page, "no change without a previous period, not a 0"
    assert "產業基準（綜合零售）：51" in page and "npsbench.com" in page
    assert 'data-kpi="responses" data-value="11"' in page
    february = client.get("/dashboard?period=custom&since=2025-02-01&until=2025-02-28&lang=en").text
    assert "▼ −56.7" in february and "p = 0.296" in february
    assert "no verdict: fewer than 30 answers on one side" in february, "5 and 6 answers: no verdict"
    assert "not significant" not in february and "statistically significant" not in february


def test_each_title_once_and_the_period_to_date_said_so(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    page = client.get(f"/dashboard?{JAN_FEB}&lang=en").text
    assert page.count("<h2>NPS against the industry</h2>") == 1, (
        "the benchmark card's chart has no second title"
    )
    assert "<h2>Promoters, passives and detractors</h2>" in page
    assert "Showing Jan 1, 2025 – Feb 28, 2025; changes are against" in page
    to_date = client.get("/dashboard?period=7d&partial=1&lang=en").text
    assert 'name="partial" value="1" checked' in to_date and "to date: the period is not over" in to_date
    assert to_date.count("No comparison while the period is under way") == 3, (
        "CSAT, CES (answered today) and responses"
    )
    bad = client.get("/dashboard?partial=maybe&lang=zh-Hant")
    assert bad.status_code == 400 and "「partial」必須是 1（納入今天）或 0，而不是「maybe」。" in bad.text


def test_every_page_renders_in_every_language(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.viewer)
    for lang in ("zh-Hant", "zh-Hans", "en"):
        for page, query in [(p, q) for p in ("", "/breakdowns", "/retention", "/responses", "/surveys", "/alerts")
                            for q in (JAN_FEB, "period=30d&partial=1")]:  # fmt: skip
            answer = client.get(f"/dashboard{page}?{query}&lang={lang}")
            assert answer.status_code == 200, (page, lang, answer.text[:500])
            assert f'<html lang="{lang}">' in answer.text
            assert "{" not in re.sub(r"<script.*?</script>", "", answer.text, flags=re.S), (
                "an unfilled placeholder"
            )


def test_filters_are_in_every_link_so_a_view_can_be_shared(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    page = client.get(f"/dashboard/breakdowns?{JAN_FEB}&segment=vip&metric=csat&by=city").text
    assert (
        'href="/dashboard/retention?period=custom&amp;since=2025-01-01&amp;until=2025-02-28&amp;segment=vip'
        in page
    )
    assert "table=breakdown&amp;format=csv" in page and "metric=csat&amp;by=city" in page
    assert '<option value="city" selected>' in page and '<option value="vip" selected>' in page
    by_category = client.get(f"/dashboard/breakdowns?{JAN_FEB}&by=category&metric=nps")
    assert by_category.status_code == 200 and "<td>（無）</td>" in by_category.text, "no order, no category"


def test_bad_filters_get_the_page_back_with_the_problem_named(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    cases = {
        "/dashboard?period=fortnight": "未知的期間「fortnight」",
        "/dashboard?since=2025-02-30&until=2025-03-01": "「since」不是日期：「2025-02-30」",
        "/dashboard/breakdowns?by=shoe_size": "shoe_size",
        "/dashboard/responses?band=angry": "angry",
        "/dashboard/responses?offset=-5": "offset",
    }
    for url, needle in cases.items():
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert needle in html.unescape(answer.text), url
        assert 'class="filters"' in answer.text, "the filters are still there to fix it"
    assert client.get("/dashboard/nowhere", headers={"accept": "text/html"}).status_code == 404


def test_exports_are_the_tables_for_the_filters_in_the_url(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.admin)
    csv = client.get(f"/dashboard/breakdowns/export?{JAN_FEB}&by=segment&table=breakdown&format=csv&lang=en")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert (
        'filename="patron-breakdowns-breakdown-2025-01-01-2025-02-28.csv"'
        in csv.headers["content-disposition"]
    )
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Segment,NPS,95% low") and lines[1].startswith("Members,-16.67,")
    xlsx = client.get(f"/dashboard/responses/export?{JAN_FEB}&band=promoter&table=responses&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 1 + 5, "five promoters in January and February"
    waiting = client.get(f"/dashboard/alerts/export?{JAN_FEB}&table=waiting&format=csv")
    assert len(waiting.content.decode("utf-8-sig").splitlines()) == 1 + 4, "the four detractors"
    missing = client.get(
        f"/dashboard/overview/export?{JAN_FEB}&table=nothing", headers={"accept": "text/html"}
    )
    assert missing.status_code == 400 and "nothing" in missing.text


def test_viewers_read_and_admins_change(client: TestClient, dash: Dash, engine: Engine) -> None:
    page = log_in(client, dash.slug, dash.viewer)
    surveys_page = client.get("/dashboard/surveys").text
    assert "停用</button>" not in surveys_page, "a viewer gets no switch"
    refused = client.post("/dashboard/surveys/relationship_nps/status", data={"status": "closed", "csrf": csrf_of(page)},
                          headers={"accept": "text/html"})  # fmt: skip
    assert refused.status_code == 403 and "viewer" in refused.text
    client.post("/logout", data={"csrf": csrf_of(page)})
    page = log_in(client, dash.slug, dash.admin)
    done = client.post("/dashboard/surveys/relationship_nps/status?next=/dashboard/surveys%3Fperiod%3D30d",
                       data={"status": "closed", "csrf": csrf_of(page)}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/surveys?period=30d"
    with transaction(engine) as session:
        status = session.scalar(select(Survey.status).where(Survey.workspace_id == dash.workspace_id,
                                                             Survey.key == "relationship_nps"))  # fmt: skip
    assert status == "closed"
    assert "啟用</button>" in client.get("/dashboard/surveys").text


def test_alert_settings_save_whole_or_not_at_all(client: TestClient, dash: Dash, engine: Engine) -> None:
    page = log_in(client, dash.slug, dash.admin)
    form = {"csrf": csrf_of(page), "nps.max_drop": "50", "nps.significant_only": "", "csat.max_drop": "5",
            "csat.significant_only": "1", "ces.max_drop": "abc", "response_rate.max_drop": "5",
            "industry": "airlines", "nps_benchmark": ""}  # fmt: skip
    bad = client.post("/dashboard/alerts", data=form, headers={"accept": "text/html"})
    assert bad.status_code == 400 and "ces 的警示門檻必須是 0 到 6 之間的數字" in html.unescape(bad.text)
    with transaction(engine) as session:
        assert (
            session.scalars(select(AlertRule).where(AlertRule.workspace_id == dash.workspace_id)).all() == []
        )
        assert session.get_one(Workspace, dash.workspace_id).industry == "retail", "nothing half-saved"
    good = client.post("/dashboard/alerts", data={**form, "ces.max_drop": "0.5", "nps_benchmark": "20"},
                       follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    feb = client.get("/dashboard/alerts?period=custom&since=2025-02-01&until=2025-02-28").text
    assert 'data-alert="nps"' in feb and "由 40.0 降至 −16.7" in feb
    overview = client.get(f"/dashboard?{JAN_FEB}").text
    assert "自訂基準：20" in overview, "the workspace's own benchmark replaces the industry's"
    worse = client.post("/dashboard/alerts", data={**form, "ces.max_drop": "0.5", "nps_benchmark": "150"},
                        headers={"accept": "text/html"})  # fmt: skip
    assert worse.status_code == 400 and "−100 到 100" in worse.text


def test_survey_preview_in_each_language_cannot_be_submitted(client: TestClient, dash: Dash) -> None:
    log_in(client, dash.slug, dash.viewer)
    for lang, title in (("zh-Hant", "推薦"), ("zh-Hans", "推荐"), ("en", "recommend")):
        page = client.get(f"/dashboard/surveys/relationship_nps/preview?lang={lang}")
        assert page.status_code == 200 and title in page.text
        assert 'action="#"' in page.text and "disabled>" in page.text
    assert client.get("/dashboard/surveys/nope/preview", headers={"accept": "text/html"}).status_code == 404


def test_one_workspace_never_sees_another(
    client: TestClient, dash: Dash, engine: Engine, tmp_path: Path
) -> None:
    other = make_tenant(engine, tmp_path / "other")
    log_in(client, other.workspace.slug, other.admin_email)
    page = client.get(f"/dashboard?{JAN_FEB}").text
    assert _kpis(page)["nps"]["value"] == "" and "relationship_nps" not in page
    assert (
        client.get("/dashboard/surveys/relationship_nps/preview", headers={"accept": "text/html"}).status_code
        == 404
    )
    exported = client.get(f"/dashboard/responses/export?{JAN_FEB}&table=responses&format=csv")
    assert len(exported.content.decode("utf-8-sig").splitlines()) == 1, "only the header"


def test_pages_need_a_login(client: TestClient) -> None:
    for url in ("/dashboard", "/dashboard/alerts", "/dashboard/overview/export?table=kpis"):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_a_response_leads_to_the_customers_page_with_all_their_answers(
    client: TestClient, dash: Dash
) -> None:
    log_in(client, dash.slug, dash.admin)
    listed = client.get(f"/dashboard/responses?{JAN_FEB}&band=detractor&lang=en").text
    assert listed.count("data-response=") == 4 and 'href="/customers/M4"' in listed
    page = client.get("/customers/M4?lang=en").text
    assert 'data-responses="1"' in page and "NPS 0" in page, "M4 answered 0 in February 2025"


def test_dashboard_reads_do_not_hold_writers_back(engine: Engine, dash: Dash) -> None:
    """On SQLite a page's read session is a snapshot outside the writer queue: a slow dashboard count must
    not make survey answers wait (inside the queue they waited for the whole count)."""
    import threading

    from sqlalchemy import text, update

    from patron.web.deps import get_read_session

    reading = get_read_session()
    session = next(reading)
    session.execute(text("SELECT count(*) FROM survey_answers")).scalar_one()
    written = threading.Event()

    def write() -> None:
        with transaction(engine) as other:
            other.execute(
                update(Workspace).where(Workspace.id == dash.workspace_id).values(name="still writable")
            )
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=10)
    reading.close()
    assert written.is_set(), "the write waited for the read"


def test_a_mean_of_one_answer_shows_no_interval(client: TestClient, engine: Engine, dash: Dash) -> None:
    single_ces_answer(engine, dash.workspace_id)
    log_in(client, dash.slug, dash.admin)
    march = "period=custom&since=2025-03-01&until=2025-03-31&lang=en"
    page = client.get(f"/dashboard?{march}").text
    tile = page[page.index('data-kpi="ces"') : page.index('data-kpi="response_rate"')]
    assert 'data-value="4.0"' in tile and "no interval from a single answer" in tile
    assert "95% interval" not in tile
    exported = client.get(f"/dashboard/overview/export?{march}&table=kpis&format=csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    [ces] = [row for row in rows if row[0] == "CES"]
    assert ces[1:5] == ["4.0", "", "", "1"], "value, no interval, n"
