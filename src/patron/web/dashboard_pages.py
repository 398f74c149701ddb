"""The dashboard: overview, breakdowns, retention, responses, surveys and alerts, with shareable filters.

Every page reads its filters from the URL (period, segment, survey), renders on the server and works
without JavaScript; HTMX swaps the content when a filter changes and ECharts draws the charts from JSON in
the page. Every table can be downloaded as CSV or Excel from ``/dashboard/{page}/export``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import today_in
from patron.core.errors import NotFound, PatronError
from patron.core.i18n import LOCALES, Labels
from patron.core.models import Role, Workspace
from patron.core.settings import get_settings
from patron.customers.service import code_labels, set_segment_labels
from patron.dashboard import alerts, loyalty_rewards, rollup, service
from patron.dashboard import assistant as assistant_view
from patron.dashboard import churn as churn_view
from patron.dashboard import drivers as drivers_view
from patron.dashboard import feedback as feedback_view
from patron.dashboard import loyalty as loyalty_view
from patron.dashboard import servqual as servqual_view
from patron.dashboard import social as social_view
from patron.dashboard import value as value_view
from patron.dashboard.filters import Filters, parse_filters
from patron.dashboard.tables import DataTable, to_csv, to_xlsx
from patron.feedback import discovery as feedback_discovery
from patron.feedback import drivers as feedback_drivers
from patron.feedback import editing as feedback_editing
from patron.feedback import service as feedback_service
from patron.feedback.taxonomy import shipped_yaml
from patron.metrics import benchmarks
from patron.metrics.service import operational_connection
from patron.social import service as social_service
from patron.surveys import answering
from patron.surveys import service as survey_service
from patron.surveys.models import Survey
from patron.surveys.texts import pick
from patron.web import charts
from patron.web.deps import ReadSessionDep, SessionDep
from patron.web.pages import ReaderDep, Viewer, ViewerDep, check_csrf, render_page
from patron.web.templating import formatters

router = APIRouter(include_in_schema=False)
PAGES = (
    "overview",
    "breakdowns",
    "retention",
    "loyalty",
    "value",
    "churn",
    "feedback",
    "servqual",
    "drivers",
    "social",
    "responses",
    "surveys",
    "alerts",
    "assistant",
    "settings",
)
RESPONSES_PER_PAGE = 50
EXPORT_ROW_LIMIT = 100_000


@dataclass
class PageData:
    context: dict[str, Any]
    tables: dict[str, DataTable]
    charts: dict[str, dict[str, Any]]


Builder = Callable[[Request, Session, Viewer, Filters, bool], PageData]


def _today(workspace: Workspace) -> date:
    return today_in(workspace.timezone)


def _t(viewer: Viewer) -> Callable[..., str]:
    return service.labels(viewer.locale)


def _overview(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    source = rollup.MetricSource(
        operational_connection(), session, viewer.workspace.id, viewer.workspace.timezone
    )
    view = service.overview(source, viewer.workspace, filters, viewer.locale)
    t = _t(viewer)
    periods = sorted({point.period for points in view.trend.values() for point in points})
    figures = {
        f"trend-{name}": charts.trend(points, t(f"metric.{name}"), t, name, periods, filters.grain)
        for name, points in view.trend.items()
        if points
    }
    if sum(view.split.values()):
        figures["split"] = charts.split(view.split, t)
    if view.benchmark is not None and view.kpis["nps"].value is not None:
        figures["benchmark"] = charts.benchmark(view.kpis["nps"], view.benchmark, t)
    return PageData({"view": view}, view.tables, figures)


def _breakdowns(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    metric = request.query_params.get("metric", "nps")
    dimension = request.query_params.get("by", "segment")
    source = rollup.MetricSource(
        operational_connection(), session, viewer.workspace.id, viewer.workspace.timezone
    )
    named = service.slice_labels(session, viewer.workspace, viewer.locale)
    view = service.breakdown(source, filters, metric, dimension, viewer.locale, named)
    t = _t(viewer)
    figures = {"breakdown": charts.bars(view.labels, view.rows, t(f"metric.{metric}"), metric),
               "heatmap": charts.heatmap(view.heatmap)}  # fmt: skip
    context = {"view": view, "metrics": service.KPI_METRICS, "dimensions": service.BREAKDOWN_DIMENSIONS,
               "extra": {"metric": metric, "by": dimension}}  # fmt: skip
    return PageData(context, {"breakdown": view.table, "heatmap": view.heatmap}, figures)


def _retention(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    view = service.retention(operational_connection(), viewer.workspace, filters, viewer.locale)
    # strict retention, churn and repeat purchase: CRR is in the table, not the chart (it passes 100 % when
    # lapsed customers come back, which reads as an error on a chart of rates)
    figures = {"retention": charts.lines(view.periods, [3, 5, 6], _t(viewer))} if view.periods.rows else {}
    return PageData({"view": view}, {"retention": view.periods, "cohorts": view.cohorts}, figures)


def _loyalty(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    view = loyalty_view.loyalty(session, viewer.workspace, filters, viewer.locale)
    figures: dict[str, dict[str, Any]] = {}
    movements = view.tables.get("movements")
    if movements is not None and any(any(row[1:5]) for row in movements.rows):
        figures["movements"] = charts.columns(movements, [1, 2, 3, 4], _t(viewer))
    view.tables.update(loyalty_rewards.rewards_tables(session, viewer.workspace, filters, viewer.locale))
    return PageData({"view": view}, view.tables, figures)


def _value(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    view = value_view.value(session, viewer.workspace, filters, viewer.locale, exporting=exporting)
    t = _t(viewer)
    figures: dict[str, dict[str, Any]] = {}
    if view.customers:
        figures["distribution"] = charts.histogram(view.histogram, t("value.customers"),
                                                   formatters(viewer.locale)["number"])  # fmt: skip
    calibration = view.tables.get("calibration")
    if calibration is not None and calibration.rows:
        figures["calibration"] = charts.paired_lines(
            [str(row[0]) for row in calibration.rows],
            {t("value.actual"): [row[2] for row in calibration.rows],  # type: ignore[misc]
             t("value.predicted"): [row[3] for row in calibration.rows]},  # type: ignore[misc]
            t("value.repeat_before"),
        )  # fmt: skip
    return PageData({"view": view}, view.tables, figures)


def _churn(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    view = churn_view.churn_risk(session, viewer.workspace, filters, viewer.locale, exporting=exporting)
    t = _t(viewer)
    figures: dict[str, dict[str, Any]] = {}
    segments = view.tables.get("segments")
    if segments is not None and segments.rows:
        figures["segments"] = charts.risk_bars(segments, t("churn_page.mean_risk"))
    if view.curves:
        figures["survival"] = charts.survival(view.curves, t)
    evaluation = view.tables.get("evaluation")
    if evaluation is not None and evaluation.rows:
        figures["evaluation"] = charts.paired_lines(
            [str(row[0]) for row in evaluation.rows],
            {t("churn_page.observed"): [row[3] for row in evaluation.rows],  # type: ignore[misc]
             t("churn_page.predicted"): [row[2] for row in evaluation.rows]},  # type: ignore[misc]
            t("churn_page.decile"), percent=True,
        )  # fmt: skip
    return PageData({"view": view}, view.tables, figures)


def _feedback(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    theme = request.query_params.get("theme", "").strip()[:64] or None
    view = feedback_view.feedback(
        session, viewer.workspace, filters, viewer.locale, theme=theme, exporting=exporting
    )
    t = _t(viewer)
    figures: dict[str, dict[str, Any]] = {}
    mentioned = [f for f in view.themes if f.items]
    if mentioned:
        figures["themes"] = charts.sentiment_bars(
            [f.name for f in mentioned], [(f.positive, f.neutral, f.negative) for f in mentioned], t
        )
    if view.total:
        labels = Labels(viewer.locale)
        figures["channels"] = charts.sentiment_bars(
            [labels("channel", c.channel) for c in view.channels],
            [(c.positive, c.neutral, c.negative) for c in view.channels], t,
        )  # fmt: skip
    trend = view.tables["trend"]
    if trend.rows:
        figures["trend"] = charts.columns(trend, list(range(1, len(trend.columns), 2)), t)
    return PageData({"view": view, "extra": {"theme": theme} if theme else {}}, view.tables, figures)


def _servqual(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    view = servqual_view.servqual_tab(session, viewer.workspace, filters, viewer.locale)
    figures: dict[str, dict[str, Any]] = {}
    if view.overall is not None and view.overall.dimensions:
        dims = view.overall.dimensions
        figures["gaps"] = charts.servqual_gaps(
            [g.name for g in dims], [g.expectation for g in dims], [g.perception for g in dims],
            [(g.gap, g.ci_low, g.ci_high) for g in dims], _t(viewer),
        )  # fmt: skip
    return PageData({"view": view}, view.tables, figures)


def _drivers(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    """Key drivers of the chosen outcome: the impact × frequency chart of the theme drivers and the table."""
    outcome = request.query_params.get("outcome", "nps").strip()[:20] or "nps"
    view = drivers_view.key_drivers(session, viewer.workspace, filters, viewer.locale, outcome=outcome)
    figures: dict[str, dict[str, Any]] = {}
    if view.report is not None:
        points = [(d.name + (" −" if d.kind == "negative" else " +"), (d.frequency or 0) * 100, d.importance * 100,
                   d.harmful, d.fix_first) for d in view.report.drivers if d.frequency is not None]  # fmt: skip
        if points:
            figures["drivers"] = charts.drivers_scatter(points, _t(viewer))
    context = {"view": view, "extra": {"outcome": outcome}, "small_sample": feedback_drivers.SMALL_SAMPLE}
    return PageData(context, view.tables, figures)


def _social(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    """Mentions per day with their sentiment, spikes, the reply queue and the tracked terms."""
    state = request.query_params.get("state", "open")
    state = state if state in social_service.QUEUE_STATES else "open"
    view = social_view.social_tab(
        session, viewer.workspace, filters, viewer.locale, state=state, exporting=exporting
    )
    figures: dict[str, dict[str, Any]] = {}
    if view.mentions:
        figures["daily"] = charts.social_daily(view.days, view.spikes, filters.today, _t(viewer))
    context = {"view": view, "extra": {"state": state} if state != "open" else {},
               "is_admin": viewer.user.role == Role.ADMIN.value}  # fmt: skip
    return PageData(context, view.tables, figures)


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "0")
    if not raw.isdigit() or len(raw) > 9:
        raise PatronError("dashboard.bad_number", field=name, value=raw[:20])
    return int(raw)


def _responses(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    params = request.query_params
    search = {"text": params.get("q", "")[:200], "band": params.get("band", ""),
              "locale": params.get("language", "")[:16], "touchpoint": params.get("touchpoint", "")[:32]}  # fmt: skip
    offset = _int_param(request, "offset")
    limit = EXPORT_ROW_LIMIT if exporting else RESPONSES_PER_PAGE
    rows, total = service.responses(session, viewer.workspace.id, filters, text=search["text"], band=search["band"],
                                    locale=search["locale"], touchpoint=search["touchpoint"], limit=limit,
                                    offset=offset, display_locale=viewer.locale)  # fmt: skip
    extra = {"q": search["text"], "band": search["band"], "language": search["locale"],
             "touchpoint": search["touchpoint"]}  # fmt: skip
    context = {"rows": rows, "total": total, "offset": offset, "limit": limit, "extra": extra,
               "bands": service.BANDS, "touchpoints": service.touchpoints(session, viewer.workspace.id)}  # fmt: skip
    table = service.responses_table(rows, viewer.locale, code_labels(viewer.workspace, viewer.locale))
    return PageData(context, {"responses": table}, {})


def _surveys(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    rows = service.surveys(session, viewer.workspace.id, filters, viewer.locale)
    table = service.surveys_table(rows, viewer.locale, code_labels(viewer.workspace, viewer.locale))
    return PageData({"rows": rows}, {"surveys": table}, {})


def _alerts(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    active = alerts.rules(session, viewer.workspace.id)
    found = alerts.drops(
        rollup.MetricSource(
            operational_connection(), session, viewer.workspace.id, viewer.workspace.timezone
        ),
        filters,
        active,
    )
    waiting, waiting_total = service.responses(session, viewer.workspace.id, filters, band="detractor",
                                               limit=EXPORT_ROW_LIMIT if exporting else 20, display_locale=viewer.locale)  # fmt: skip
    window = alerts.compared(filters).window
    since, until = feedback_service.day_bounds(viewer.workspace.timezone, window.since, window.until)
    before, _ = feedback_service.day_bounds(viewer.workspace.timezone, window.previous().since, window.since)
    spikes = feedback_service.theme_spikes(session, workspace_id=viewer.workspace.id, since=since, until=until,
                                           previous_since=before, locale=viewer.locale)  # fmt: skip
    spike_rule = {"points": f"{feedback_service.SPIKE_RISE_POINTS:g}", "minimum": feedback_service.SPIKE_MIN_MENTIONS,
                  "alpha": f"{feedback_service.SPIKE_ALPHA:g}"}  # fmt: skip
    social = social_service.spikes(session, workspace_id=viewer.workspace.id, timezone=viewer.workspace.timezone,
                                   since=window.since, until=window.until)  # fmt: skip
    context = {"rules": active, "drops": found, "compared": alerts.compared(filters).window, "waiting": waiting,
               "spikes": spikes, "spike_rule": spike_rule, "social_spikes": social,
               "waiting_total": waiting_total,
               "industries": benchmarks.industries(viewer.locale),
               "benchmark": benchmarks.benchmark_for(viewer.workspace, viewer.locale)}  # fmt: skip
    table = service.responses_table(waiting, viewer.locale, code_labels(viewer.workspace, viewer.locale))
    return PageData(context, {"waiting": table}, {})


def _settings(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    """The workspace's own names for its segments: every segment customers carry or that has a name."""
    own = viewer.workspace.segment_labels or {}
    codes = sorted(set(service.segments(session, viewer.workspace.id)) | set(own))
    defaults = {locale: Labels(locale) for locale in LOCALES}
    rows = [{"code": code, "own": own.get(code, {}),
             "default": {locale: defaults[locale]("segment", code) for locale in LOCALES}} for code in codes]  # fmt: skip
    retention = {"days": viewer.workspace.feedback_original_days}
    return PageData({"segment_rows": rows, "feedback_retention": retention}, {}, {})


def _assistant(
    request: Request, session: Session, viewer: Viewer, filters: Filters, exporting: bool = False
) -> PageData:
    """The FAQ assistant: questions per day, self-service, helpfulness, hand-overs waiting, knowledge gaps."""
    view = assistant_view.assistant(session, viewer.workspace, filters, viewer.locale)
    figures: dict[str, dict[str, Any]] = {}
    if view.questions:
        figures["questions"] = charts.columns(view.per_day, [1, 2, 3], _t(viewer))
    base = str(request.base_url).rstrip("/")
    snippet = (f'<script src="{base}/static/assistant-widget.js" data-patron-help="{base}/help/'
               f'{viewer.workspace.slug}?embed=1" data-label="?" async></script>')  # fmt: skip
    notice = request.session.pop("assistant_notice", None) if not exporting else None
    return PageData({"view": view, "snippet": snippet, "help_url": f"{base}/help/{viewer.workspace.slug}",
                     "gap_notice": notice},
                    {"questions": view.per_day}, figures)  # fmt: skip


BUILDERS: dict[str, Builder] = {"overview": _overview, "breakdowns": _breakdowns, "retention": _retention,
                                "loyalty": _loyalty, "value": _value, "churn": _churn, "feedback": _feedback, "servqual": _servqual,
                                "drivers": _drivers, "social": _social,
                                "responses": _responses, "surveys": _surveys, "alerts": _alerts, "assistant": _assistant,
                                "settings": _settings}  # fmt: skip


def _shell(session: Session, viewer: Viewer, page: str) -> dict[str, Any]:
    surveys = session.scalars(
        select(Survey).where(Survey.workspace_id == viewer.workspace.id).order_by(Survey.key)
    )
    return {"page": page, "pages": PAGES, "segments": service.segments(session, viewer.workspace.id),
            "surveys": [(s.key, service.survey_name(s, viewer.locale)) for s in surveys],
            "is_admin": viewer.user.role == Role.ADMIN.value}  # fmt: skip


def _show(request: Request, session: Session, viewer: Viewer, page: str) -> Response:
    """The page for its filters; a bad filter gets the page back with the problem named, status 400."""
    context = _shell(session, viewer, page)
    try:
        filters = parse_filters(request.query_params, today=_today(viewer.workspace))
        data = BUILDERS[page](request, session, viewer, filters, False)
    except PatronError as problem:
        fallback = parse_filters({}, today=_today(viewer.workspace))
        context |= {"filters": fallback, "problem": problem.message(viewer.locale), "tables": {}, "charts": {},
                    "extra": {}}  # fmt: skip
        return render_page(request, viewer, f"dashboard/{page}.html", context, status_code=problem.status)
    context |= {
        "filters": filters,
        "problem": None,
        "tables": data.tables,
        "charts": data.charts,
        "extra": {},
    }
    context |= data.context
    return render_page(request, viewer, f"dashboard/{page}.html", context)


@router.get("/dashboard", response_class=HTMLResponse)
def overview_page(request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    return _show(request, session, viewer, "overview")


@router.get("/dashboard/{page}", response_class=HTMLResponse)
def dashboard_page(page: str, request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    if page not in BUILDERS:
        raise NotFound("request.not_found", path=request.url.path)
    return _show(request, session, viewer, page)


@router.get("/dashboard/{page}/export")
def export(
    page: str,
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    table: Annotated[str, Query(max_length=32)],
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """One of the page's tables, for exactly the filters in the URL."""
    if page not in BUILDERS:
        raise NotFound("request.not_found", path=request.url.path)
    filters = parse_filters(request.query_params, today=_today(viewer.workspace))
    data = BUILDERS[page](request, session, viewer, filters, True)
    chosen = data.tables.get(table)
    if chosen is None:
        raise PatronError("dashboard.unknown_table", table=table, choices=list(data.tables))
    return download(chosen, f"patron-{page}-{table}-{filters.window.since}-{filters.window.until}", format)


def download(chosen: DataTable, name: str, format: str) -> Response:
    """A table as a CSV or Excel attachment (``name`` without its extension), through the safe writers."""
    if format == "csv":
        body, media = to_csv(chosen), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx(chosen), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})  # fmt: skip


def _require_admin(viewer: Viewer) -> None:
    if viewer.user.role != Role.ADMIN.value:
        raise PatronError("auth.forbidden", status=403, role=viewer.user.role)


def _back(request: Request, fallback: str) -> RedirectResponse:
    """Back to the page the form was on, filters included; only paths on this site."""
    target = request.query_params.get("next", "")
    return RedirectResponse(target if target.startswith("/dashboard") else fallback, status_code=303)


@router.post("/dashboard/surveys/{key}/status")
def set_survey_status(
    key: str,
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    status: Annotated[str, Form(pattern="^(active|closed)$")],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Switch a survey on or off. Closed surveys accept no more answers and send no more invitations."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    survey_service.set_status(session, workspace_id=viewer.workspace.id, key=key, status=status)
    return _back(request, "/dashboard/surveys")


@router.post("/dashboard/social/{item_id}/{action}")
def answer_social_item(
    item_id: int,
    action: Literal["handle", "reopen"],
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Mark a post or review in the reply queue handled (with a note), or put it back: who and when are kept."""
    check_csrf(request, csrf)
    _require_admin(viewer)
    if action == "handle":
        social_service.handle(session, workspace_id=viewer.workspace.id, item_id=item_id, actor=viewer.user.email,
                              note=note)  # fmt: skip
    else:
        social_service.reopen(
            session, workspace_id=viewer.workspace.id, item_id=item_id, actor=viewer.user.email
        )
    return _back(request, "/dashboard/social")


@router.get("/dashboard/surveys/{key}/preview", response_class=HTMLResponse)
def preview_survey(key: str, request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    """The survey as a respondent sees it, all questions on one page, in the chosen language; not answerable."""
    survey = survey_service.get_survey(session, workspace_id=viewer.workspace.id, key=key)
    definition = survey_service.definition_of(survey)
    context = {"token": "", "definition": definition, "questions": list(definition.questions), "answers": {},
               "problems": {}, "done": 0, "total": len(definition.questions), "pick": pick, "preview": True,
               "kind": answering.question_kind, "seen": [], "visible_seen": [], "name": "",
               "brand": viewer.workspace.name, "embed": False, "form_query": "", "survey": survey, "last": True}  # fmt: skip
    return render_page(request, viewer, "survey.html", context)


async def _form_fields(request: Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.form()).items()}


@router.post("/dashboard/alerts")
def save_alert_settings(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    form: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    """Alert thresholds and the NPS benchmark; all saved or, on any bad value, none."""
    check_csrf(request, form.get("csrf", ""))
    _require_admin(viewer)
    alerts.save_settings(session, viewer.workspace.id, alerts.parse_settings(form))
    return _back(request, "/dashboard/alerts")


@router.post("/dashboard/settings/segments")
def save_segment_labels(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    form: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    """The segments' names in each language, all saved or, on any bad one, none."""
    check_csrf(request, form.get("csrf", ""))
    _require_admin(viewer)
    labels: dict[str, dict[str, str]] = {}
    for field, code in form.items():
        index = field.removeprefix("segment-")
        if field.startswith("segment-") and index.isdigit():
            labels[code] = {locale: form.get(f"{field}-{locale}", "") for locale in LOCALES}
    set_segment_labels(session, workspace_id=viewer.workspace.id, labels=labels)
    return RedirectResponse("/dashboard/settings", status_code=303)


# ------------------------------------------------------------------------------------------ taxonomy editor
TAXONOMY_PAGE = "/dashboard/feedback/taxonomy"


def _taxonomy_page(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    text: str | None = None,
    problem: PatronError | None = None,
    topic_problem: PatronError | None = None,
    topic_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The taxonomy in force as a table, its YAML in a form (``text``: what the person typed, kept when it was
    refused), and the emerging topics of the period with their one-step accept forms."""
    current = feedback_editing.in_force(session, viewer.workspace.id)
    shipped = request.query_params.get("start") == "shipped"
    if text is None:
        text = shipped_yaml() if shipped else current.yaml
    try:
        filters = parse_filters(request.query_params, today=_today(viewer.workspace))
    except PatronError:
        filters = parse_filters({}, today=_today(viewer.workspace))
    saved = request.session.pop("taxonomy_saved", None) if problem is None and topic_problem is None else None
    accepted = request.session.pop("topic_accepted", None) if topic_problem is None else None
    dismissed = request.session.pop("topic_dismissed", None) if topic_problem is None else None
    since, until = feedback_service.day_bounds(
        viewer.workspace.timezone, filters.window.since, filters.window.until
    )
    topics = feedback_discovery.discover(session, workspace_id=viewer.workspace.id, since=since, until=until)
    context = _shell(session, viewer, "feedback") | {
        "filters": filters, "problem": None, "tables": {}, "charts": {}, "extra": {}, "current": current,
        "text": text, "edit_problem": problem.message(viewer.locale) if problem else None,
        "problem_line": problem.params.get("line") if problem else None,
        "saved": saved if isinstance(saved, dict) else None, "from_shipped": shipped and problem is None,
        "discovery": topics, "in_script": lambda word: feedback_discovery.in_script(word, viewer.locale),
        "keywords_text": lambda topic: feedback_discovery.keywords_text(topic, viewer.locale),
        "topic_problem": topic_problem.message(viewer.locale) if topic_problem else None,
        "topic_form": topic_form or {}, "accepted": accepted if isinstance(accepted, dict) else None,
        "theme_names": {theme.key: theme.name(viewer.locale) for theme in current.taxonomy.themes},
        "dismissed": {"restored": bool(dismissed.get("restored")),
                      "text": ("、" if viewer.locale != "en" else ", ").join(
                          feedback_discovery.in_script(str(word), viewer.locale) for word in dismissed.get("keywords", []))}
        if isinstance(dismissed, dict) else None,
        "dismissed_terms": feedback_discovery.dismissed_terms(session, workspace_id=viewer.workspace.id).terms,
    }  # fmt: skip
    return render_page(request, viewer, "dashboard/taxonomy.html", context, status_code=status_code)


@router.get(TAXONOMY_PAGE, response_class=HTMLResponse)
def taxonomy_page(request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    """The feedback themes in force, readable, and their YAML to edit (admins save, viewers read)."""
    return _taxonomy_page(request, session, viewer)


async def _taxonomy_form(request: Request) -> dict[str, str]:
    """The editor's form. Starlette bounds a form field at 1 MB as sent (a Chinese character is 9 bytes
    percent-encoded), which would refuse a document within ``MAX_TAXONOMY_CHARS`` with a bare 400: the field may
    be as large as the body may be (``PATRON_MAX_BODY_BYTES``, enforced before parsing), and the document's own
    limit is checked by the service as a named error."""
    form = await request.form(max_part_size=get_settings().max_body_bytes)
    return {key: str(value) for key, value in form.items()}


@router.post(TAXONOMY_PAGE, response_class=HTMLResponse)
def save_taxonomy(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    form: Annotated[dict[str, str], Depends(_taxonomy_form)],
) -> Response:
    """A new taxonomy version, applied to every stored item; a refused document comes back on the page with its
    line named and the text as typed, nothing stored."""
    check_csrf(request, form.get("csrf", ""))
    _require_admin(viewer)
    raw = form.get("yaml", "").replace("\r\n", "\n")
    source = _t(viewer)("fbtax.source")
    try:
        with session.begin_nested():  # a refusal stores nothing
            saved = feedback_editing.save(session, workspace_id=viewer.workspace.id, raw=raw, source=source,
                                          actor=viewer.user.email)  # fmt: skip
    except PatronError as problem:
        status = problem.status if problem.status in (409, 413) else 200  # a bad document: the page, 200
        return _taxonomy_page(request, session, viewer, text=raw, problem=problem, status_code=status)
    request.session["taxonomy_saved"] = {"version": saved.version, "themes": saved.themes,
                                         "analysed": saved.analysed}  # fmt: skip
    lang = request.query_params.get("lang", "")
    return RedirectResponse(TAXONOMY_PAGE + (f"?lang={quote(lang)}" if lang else ""), status_code=303)


def _taxonomy_url(request: Request, anchor: str = "") -> str:
    """The taxonomy page with the filters and language the form came from (the path is fixed: no open redirect)."""
    query = request.url.query
    return TAXONOMY_PAGE + (f"?{query}" if query else "") + anchor


@router.post(TAXONOMY_PAGE + "/topics", response_class=HTMLResponse)
def accept_topic(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    form: Annotated[dict[str, str], Depends(_form_fields)],
) -> Response:
    """An emerging topic into the taxonomy in one step: a new theme (``action=new``, named in the page's language)
    or more keywords for a theme (``action=add``); stored as a new version and applied to every item at once.
    A refusal comes back on the page with what was typed."""
    check_csrf(request, form.get("csrf", ""))
    _require_admin(viewer)
    action = form.get("action", "new")
    keywords = feedback_discovery.split_keywords(form.get("keywords", "")[:2000])
    if action in ("dismiss", "restore"):
        return _dismiss_topic(request, session, viewer, form, keywords, restore=action == "restore")
    try:
        with session.begin_nested():
            done = feedback_discovery.accept(
                session, workspace_id=viewer.workspace.id, keywords=keywords,
                name=form.get("name", "")[:200] if action == "new" else None,
                theme=(form.get("theme", "")[:48] or None) if action == "add" else None,
                actor=viewer.user.email, source=_t(viewer)("fbdisc.source"),
            )  # fmt: skip
    except PatronError as problem:
        status = problem.status if problem.status in (409, 413) else 200
        return _taxonomy_page(
            request, session, viewer, topic_problem=problem, topic_form=form, status_code=status
        )
    request.session["topic_accepted"] = done.model_dump()
    return RedirectResponse(_taxonomy_url(request, "#discovery"), status_code=303)


def _dismiss_topic(
    request: Request,
    session: Session,
    viewer: Viewer,
    form: dict[str, str],
    keywords: list[str],
    *,
    restore: bool,
) -> Response:
    """ "Not a topic" (the topic's keywords are dismissed: not suggested again) or its undo; a refusal comes back
    on the page."""
    try:
        with session.begin_nested():
            if restore:
                feedback_discovery.restore(session, workspace_id=viewer.workspace.id, keywords=keywords)
            else:
                feedback_discovery.dismiss(session, workspace_id=viewer.workspace.id, keywords=keywords,
                                           actor=viewer.user.email)  # fmt: skip
    except PatronError as problem:
        status = problem.status if problem.status in (409, 413) else 200
        return _taxonomy_page(
            request, session, viewer, topic_problem=problem, topic_form=form, status_code=status
        )
    words = [feedback_discovery.dismissed_key(word) for word in keywords if word.strip()]
    request.session["topic_dismissed"] = {"restored": restore, "keywords": words}
    return RedirectResponse(_taxonomy_url(request, "#discovery"), status_code=303)
