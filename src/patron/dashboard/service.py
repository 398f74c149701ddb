"""What each dashboard page shows, computed by the metrics engine for the page's filters.

Every satisfaction number here comes from ``metrics.engine`` with the same filters the page shows, on the raw
answers or on the engine's daily roll-up (``dashboard.rollup``), so the dashboard and the API can never
disagree (tested both ways). Below the minimum sample a number is flagged; a period
without answers shows no number at all rather than a 0. A week or month still under way (it contains the
workspace's today) is left out of trends unless the filters include it, marked "to date" when they do, and
never compared with a complete one (``Filters.partial``, ``Filters.period_is_partial``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import ibis
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.i18n import LANGUAGE_NAMES, Labels, humanize, translate
from patron.core.models import Workspace
from patron.customers.models import Customer
from patron.customers.service import code_labels
from patron.dashboard.filters import Filters, Period, grain_start
from patron.dashboard.rollup import MetricSource, completed_between, local_days, workspace_zone
from patron.dashboard.tables import Column, DataTable, Kind
from patron.feedback.service import ShownAnalysis, analyses_of_answers
from patron.metrics import commerce
from patron.metrics.benchmarks import Benchmark, benchmark_for
from patron.metrics.engine import MetricQuery, compare_rows
from patron.surveys.models import Survey, SurveyAnswer, SurveyInvitation, SurveyResponse
from patron.surveys.schemas import ChoiceQuestion, Question, ScaleQuestion, Touchpoint
from patron.surveys.service import definition_of
from patron.surveys.texts import pick

KPI_METRICS = ("nps", "csat", "ces", "response_rate")
BREAKDOWN_DIMENSIONS = ("segment", "touchpoint", "channel", "city", "locale", "survey", "category")
#: Scale answers shown in the responses list, in this order.
SCORED_TYPES = ("nps", "csat", "ces")
#: Changes are shown with one decimal: one that rounds to 0.0 is no change, not "▼ −0.0".
CHANGE_DIGITS = 1


@dataclass(frozen=True)
class Kpi:
    """One headline number with its interval and its change against the previous period of equal length."""

    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    sufficient: bool
    previous: float | None = None
    change: float | None = None
    p_value: float | None = None
    significant: bool | None = None
    #: Why there is no verdict on the change: "small_sample" or "no_spread" (``stats.Comparison``).
    reason: str | None = None
    #: CSAT's mean score per scale and on 0–100 (``metrics.engine.csat_means``), as (key, value) pairs.
    means: tuple[tuple[str, float], ...] = ()

    @property
    def direction(self) -> str:
        if self.change is None:
            return "none"
        shown = round(self.change, CHANGE_DIGITS)
        return "up" if shown > 0 else "down" if shown < 0 else "flat"

    @property
    def tone(self) -> str:
        """Good or bad only when the change is significant: a drift inside the noise is not news.
        Higher is better for all four (CES here is agreement that it was easy, 7 = easiest)."""
        if not self.significant or self.direction in ("none", "flat"):
            return "neutral"
        return "good" if self.direction == "up" else "bad"


def metric_query(
    filters: Filters, metric: str, window: Period, *, by: tuple[str, ...] = (), grain: str | None = None
) -> MetricQuery:
    return MetricQuery(metric, by, grain, window.since, window.until, filters.survey, where=filters.where())


def first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None


def kpi(metric: str, current: dict[str, Any] | None, previous: dict[str, Any] | None) -> Kpi:
    if current is None:
        return Kpi(metric, None, None, None, 0, False, None if previous is None else previous["value"])
    means = tuple((k, float(v)) for k, v in current.items() if k.startswith("mean_score_"))
    result = Kpi(metric, current["value"], current["ci_low"], current["ci_high"], int(current["n"]),
                 bool(current["sufficient"]), means=means)  # fmt: skip
    comparison = None if previous is None else compare_rows(metric, current, previous)
    if comparison is None or previous is None:
        return result
    return replace(result, previous=previous["value"], change=comparison.difference, p_value=comparison.p_value,
                   significant=comparison.significant, reason=comparison.reason)  # fmt: skip


@dataclass
class TrendPoint:
    period: date
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    sufficient: bool
    #: The week or month is still under way: its numbers are to date.
    partial: bool = False


@dataclass
class Overview:
    kpis: dict[str, Kpi]
    responses: int
    #: None when the period reaches today: a period to date is compared with nothing.
    previous_responses: int | None
    split: dict[str, int]
    trend: dict[str, list[TrendPoint]]
    benchmark: Benchmark | None
    tables: dict[str, DataTable] = field(default_factory=dict)
    #: The first day of the week or month under way, when the trend window reaches it (shown or left out).
    under_way: date | None = None


def under_way(filters: Filters, window: Period, grain: str) -> date | None:
    """The start of the week or month still under way inside ``window``, if any."""
    start = grain_start(window.until, grain)
    return start if filters.period_is_partial(start, grain) else None


def _all_four(source: MetricSource, query: MetricQuery) -> dict[str, list[dict[str, Any]]]:
    return {name: source.metric(replace(query, metric=name)) for name in KPI_METRICS}


def overview(source: MetricSource, workspace: Workspace, filters: Filters, locale: str) -> Overview:
    """Headline numbers with their change (none for a period to date) and the trends by week or month, the
    week or month under way left out unless the filters include it."""
    previous_window = filters.window.previous()
    current = _all_four(source, metric_query(filters, "nps", filters.window))
    previous = (
        {name: [] for name in KPI_METRICS}
        if filters.partial
        else _all_four(source, metric_query(filters, "nps", previous_window))
    )
    kpis = {name: kpi(name, first(current[name]), first(previous[name])) for name in KPI_METRICS}
    nps_row = first(current["nps"]) or {}
    split = {part: int(nps_row.get(part, 0)) for part in ("promoters", "passives", "detractors")}
    trend_window = filters.trend_window()
    trend_rows = _all_four(source, metric_query(filters, "nps", trend_window, grain=filters.grain))
    trend = {name: [point for row in trend_rows[name]
                    if (point := TrendPoint(row["period"], row["value"], row["ci_low"], row["ci_high"], int(row["n"]),
                                            bool(row["sufficient"]), filters.period_is_partial(row["period"])))
                    and (filters.include_partial or not point.partial)]
             for name in KPI_METRICS}  # fmt: skip
    result = Overview(
        kpis=kpis,
        responses=source.responses(
            filters.window.since, filters.window.until, filters.survey, filters.where()
        ),
        previous_responses=None
        if filters.partial
        else source.responses(previous_window.since, previous_window.until, filters.survey, filters.where()),
        split=split,
        trend=trend,
        benchmark=benchmark_for(workspace, locale),
        under_way=under_way(filters, trend_window, filters.grain),
    )
    result.tables = {"kpis": _kpi_table(kpis, locale), "trend": _trend_table(trend, locale, filters.grain)}
    return result


def _kpi_table(kpis: dict[str, Kpi], locale: str) -> DataTable:
    t = labels(locale)
    table = DataTable("kpis", t("dash.headline"), [
        Column(t("dash.metric")), Column(t("dash.value"), "score"), Column(t("dash.ci_low"), "score"),
        Column(t("dash.ci_high"), "score"), Column(t("dash.n"), "int"), Column(t("dash.previous"), "score"),
        Column(t("dash.change"), "score"), Column(t("dash.p_value"), "mean"), Column(t("dash.significant"), "flag"),
    ])  # fmt: skip
    for name, k in kpis.items():
        table.rows.append([t(f"metric.{name}"), k.value, k.ci_low, k.ci_high, k.n, k.previous, k.change,
                           k.p_value, k.significant])  # fmt: skip
    return table


def _trend_table(trend: dict[str, list[TrendPoint]], locale: str, grain: str) -> DataTable:
    t = labels(locale)
    columns = [Column(t("dash.period"), "month" if grain == "month" else "date")]
    for name in KPI_METRICS:
        columns += [
            Column(t(f"metric.{name}"), "score"),
            Column(f"{t(f'metric.{name}')} · {t('dash.n')}", "int"),
        ]
    periods = sorted({point.period for points in trend.values() for point in points})
    by_period = {name: {point.period: point for point in points} for name, points in trend.items()}
    partial = {point.period for points in trend.values() for point in points if point.partial}
    if partial:  # the exports carry the mark too
        columns.append(Column(t("dash.to_date_column"), "flag"))
    table = DataTable("trend", t("dash.trend"), columns)
    for period in periods:
        row: list[Any] = [period]
        for name in KPI_METRICS:
            point = by_period[name].get(period)
            row += [point.value if point else None, point.n if point else 0]
        if partial:
            row.append(period in partial)
            if period in partial:
                table.partial_rows.add(len(table.rows))
        table.rows.append(row)
    return table


def labels(locale: str) -> Callable[..., str]:
    """A translator bound to one language, as templates use it."""

    def t(code: str, **params: Any) -> str:
        return translate(code, locale, **params)

    return t


def _response_filters(session: Session, workspace_id: int, filters: Filters, window: Period) -> list[Any]:
    zone = workspace_zone(session, workspace_id)
    return completed_between(workspace_id, window.since, window.until, filters.survey, filters.where(), zone)


@dataclass
class Breakdown:
    metric: str
    dimension: str
    table: DataTable
    heatmap: DataTable
    rows: list[Kpi]
    labels: list[str]
    #: The first day of the month under way in the heat map (shown or left out).
    under_way: date | None = None


def breakdown_rows(
    source: MetricSource, filters: Filters, metric: str, dimension: str
) -> list[tuple[str, Kpi]]:
    """Each slice's number in the period, with its change against the slice's previous period."""
    if metric not in KPI_METRICS:
        raise PatronError("metrics.unknown_metric", metric=metric[:40], choices=list(KPI_METRICS))
    if dimension not in BREAKDOWN_DIMENSIONS:
        raise PatronError("metrics.unknown_dimension", dimension=dimension[:40],
                          choices=list(BREAKDOWN_DIMENSIONS))  # fmt: skip
    by = (dimension,)
    current = source.metric(metric_query(filters, metric, filters.window, by=by))
    earlier = (
        []
        if filters.partial
        else source.metric(metric_query(filters, metric, filters.window.previous(), by=by))
    )
    previous = {row[dimension]: row for row in earlier}
    return [(str(row[dimension]), kpi(metric, row, previous.get(row[dimension]))) for row in current]


#: Slices whose values are codes with labels (core.i18n.Labels); the rest are shown as stored.
LABELLED_DIMENSIONS = ("segment", "touchpoint", "channel")
#: What the metrics engine calls a slice without a value (a response without an order has no category).
NO_VALUE = "(none)"
SliceLabel = Callable[[str, Any], str]


def slice_labels(session: Session, workspace: Workspace, locale: str) -> SliceLabel:
    """How a slice's value reads on the page and in exports: segments, touchpoints and channels by their
    labels (the workspace's own segment names first), languages and surveys by name, "(none)" translated."""
    codes = code_labels(workspace, locale)
    names = {survey.key: survey_name(survey, locale)
             for survey in session.scalars(select(Survey).where(Survey.workspace_id == workspace.id))}  # fmt: skip
    return _slice_label(codes, names)


def _slice_label(codes: Labels, survey_names: dict[str, str]) -> SliceLabel:
    def label(dimension: str, value: Any) -> str:
        if value is None or value == NO_VALUE:
            return translate("dash.no_value", codes.locale)
        if dimension in LABELLED_DIMENSIONS:
            return codes(dimension, value)
        if dimension == "locale":
            return LANGUAGE_NAMES.get(str(value), str(value))
        if dimension == "survey":
            return survey_names.get(str(value), str(value))
        return str(value)

    return label


def breakdown(source: MetricSource, filters: Filters, metric: str, dimension: str, locale: str,
              slice_label: SliceLabel | None = None) -> Breakdown:  # fmt: skip
    named = slice_label or _slice_label(Labels(locale), {})
    sliced = [(named(dimension, value), k) for value, k in breakdown_rows(source, filters, metric, dimension)]
    t = labels(locale)
    table = DataTable("breakdown", f"{t(f'metric.{metric}')} · {t(f'dim.{dimension}')}", [
        Column(t(f"dim.{dimension}")), Column(t(f"metric.{metric}"), "score", t(f"help.{metric}")),
        Column(t("dash.ci_low"), "score"),
        Column(t("dash.ci_high"), "score"), Column(t("dash.n"), "int"), Column(t("dash.enough"), "flag"),
        Column(t("dash.change"), "score"), Column(t("dash.significant"), "flag"),
    ])  # fmt: skip
    for label, k in sliced:
        table.rows.append([label, k.value, k.ci_low, k.ci_high, k.n, k.sufficient, k.change, k.significant])
    monthly = replace(filters, grain="month")
    return Breakdown(metric, dimension, table, heatmap(source, filters, locale, named), [k for _, k in sliced],
                     [label for label, _ in sliced], under_way(monthly, monthly.trend_window(), "month"))  # fmt: skip


def heatmap(
    source: MetricSource, filters: Filters, locale: str, slice_label: SliceLabel | None = None
) -> DataTable:
    """NPS by touchpoint × month over the trend window; a cell below the minimum sample stays blank, and the
    month under way is left out (or, when included, headed "to date")."""
    window = replace(filters, grain="month").trend_window()
    rows = source.metric(metric_query(filters, "nps", window, by=("touchpoint",), grain="month"))
    months = sorted({row["period"] for row in rows
                     if filters.include_partial or not filters.period_is_partial(row["period"], "month")})  # fmt: skip
    touchpoints = sorted({str(row["touchpoint"]) for row in rows if row["period"] in months})
    cells = {(str(row["touchpoint"]), row["period"]): row for row in rows}
    t = labels(locale)

    def heading(month: date) -> str:
        label = month.strftime("%Y-%m")
        return f"{label} ({t('dash.to_date')})" if filters.period_is_partial(month, "month") else label

    table = DataTable("heatmap", t("dash.heatmap"),
                      [Column(t("dim.touchpoint"))] + [Column(heading(m), "score") for m in months])  # fmt: skip
    partial_columns = [i + 1 for i, m in enumerate(months) if filters.period_is_partial(m, "month")]
    named = slice_label or _slice_label(Labels(locale), {})
    for touchpoint in touchpoints:
        row: list[Any] = [named("touchpoint", touchpoint)]
        for month in months:
            cell = cells.get((touchpoint, month))
            row.append(cell["value"] if cell and cell["sufficient"] else None)
        table.partial_cells |= {(len(table.rows), column) for column in partial_columns}
        table.rows.append(row)
    return table


#: The monthly purchase table's columns after the period, each with its definition (``help.<name>``).
RETENTION_COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("customers_end", "int"), ("new_customers", "int"), ("retention_rate", "percent"), ("crr", "percent"),
    ("churn_rate", "percent"), ("repeat_purchase_rate", "percent"), ("purchase_frequency", "mean"),
    ("average_order_value", "money"),
)  # fmt: skip


@dataclass
class Retention:
    periods: DataTable
    cohorts: DataTable
    #: The first day of the month under way, when the months shown reach it (shown or left out).
    under_way: date | None = None


#: Retention, CRR and churn set a month against the one before: for a month under way they are not known yet.
ACROSS_MONTHS = ("retention_rate", "crr", "churn_rate")


def _month_after(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def retention(con: ibis.BaseBackend, workspace: Workspace, filters: Filters, locale: str) -> Retention:
    """Monthly CRR, churn and repeat purchase over the trend window, and the cohorts that started in it.

    The month under way is left out unless the filters include it; then it is marked, and the rates that set
    it against the month before (retention, CRR, churn) stay blank rather than read 2 % and 98 %. In the
    cohort matrix the same goes for each cohort's cell of the month under way."""
    monthly = replace(filters, grain="month")
    window = monthly.trend_window()
    under = under_way(monthly, window, "month")

    def shown(month: date) -> bool:
        return filters.include_partial or not monthly.period_is_partial(month)

    zone = workspace.timezone
    periods = [row for row in commerce.retention(con, workspace.id, zone=zone, grain="month", currency=workspace.currency,
                                                 segment=filters.segment)
               if window.since <= row["period"] <= window.until and shown(row["period"])]  # fmt: skip
    t = labels(locale)
    columns = [Column(t("dash.period"), "month")] + [
        Column(t(f"ret.{name}"), kind, t(f"help.{name}")) for name, kind in RETENTION_COLUMNS
    ]
    marked = any(monthly.period_is_partial(row["period"]) for row in periods)
    if marked:
        columns.append(Column(t("dash.to_date_column"), "flag"))
    table = DataTable("retention", t("dash.retention"), columns)
    for row in periods:
        partial = monthly.period_is_partial(row["period"])
        rates = {key: None if partial else row[key] for key in ACROSS_MONTHS}
        cells: list[Any] = [row["period"], row["customers_end"], row["new_customers"], rates["retention_rate"], rates["crr"],
                            rates["churn_rate"], row["repeat_purchase_rate"], row["purchase_frequency"],
                            float(row["average_order_value"])]  # fmt: skip
        if marked:
            cells.append(partial)
        if partial:
            table.partial_rows.add(len(table.rows))
        table.rows.append(cells)
    cohorts = [row for row in commerce.cohorts(con, workspace.id, zone=zone, grain="month", segment=filters.segment)
               if window.since <= row["cohort"] <= window.until and shown(row["cohort"])]  # fmt: skip
    lines: list[tuple[date, int, list[Any]]] = []
    partial_cells: set[tuple[int, int]] = set()
    for row in cohorts:
        shares: list[Any] = []
        for offset, share in enumerate(row["retention"]):
            if monthly.period_is_partial(_month_after(row["cohort"], offset)):
                if not filters.include_partial:
                    break
                partial_cells.add((len(lines), 2 + offset))
            shares.append(share)
        lines.append((row["cohort"], row["size"], shares))
    width = max((len(shares) for _, _, shares in lines), default=0)
    matrix = DataTable("cohorts", t("dash.cohorts"), [Column(t("dash.cohort"), "month", t("help.cohort")), Column(t("dash.size"), "int")]
                       + [Column(f"+{k}", "percent") for k in range(width)], partial_cells=partial_cells)  # fmt: skip
    for cohort, size, shares in lines:
        matrix.rows.append([cohort, size, *shares, *([None] * (width - len(shares)))])
    return Retention(table, matrix, under)


#: Other answers the list shows under their question, besides comments (``choices`` is JSON: a SQL filter on
#: it would not tell a stored JSON null from a list).
SHOWN_TYPES = ("single_choice", "multiple_choice", "rating")


@dataclass(frozen=True)
class ShownAnswer:
    """An answer as the responses list shows it, under its question: a comment's text, the chosen options by
    their labels, or a rating out of its scale."""

    question: str
    text: str
    kind: str  # "comment", "choice" or "rating"
    answer_id: int = 0
    #: A comment's analysis as a feedback item (sentiment, themes in the page's language); None when the comment
    #: is not an item yet (stored before comments became items, until ``patron feedback analyze``).
    analysis: ShownAnalysis | None = None


@dataclass
class ResponseRow:
    id: int
    completed_at: datetime | None
    survey: str
    survey_name: str
    touchpoint: str
    channel: str
    locale: str
    scores: dict[str, int]
    answers: list[ShownAnswer]
    customer_external_id: str | None
    customer_name: str | None

    @property
    def comments(self) -> list[ShownAnswer]:
        return [a for a in self.answers if a.kind == "comment"]


def _shown(answer: SurveyAnswer, question: Question | None, locale: str) -> ShownAnswer | None:
    """How one stored answer reads, in the survey's current wording (a question since removed from the survey
    is named by its key, made readable)."""
    asked = pick(question.label, locale) if question is not None else humanize(answer.question_key)
    if answer.text:
        return ShownAnswer(asked, answer.text, "comment", answer.id)
    if answer.choices is not None:
        options = (
            {o.key: pick(o.label, locale) for o in question.options}
            if isinstance(question, ChoiceQuestion)
            else {}
        )
        separator = "、" if locale.startswith("zh") else ", "
        return ShownAnswer(
            asked, separator.join(options.get(c) or humanize(c) for c in answer.choices), "choice"
        )
    if answer.question_type == "rating" and answer.score is not None:
        high = question.bounds()[1] if isinstance(question, ScaleQuestion) else None
        return ShownAnswer(
            asked, f"{answer.score} / {high}" if high is not None else str(answer.score), "rating"
        )
    return None


BANDS = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def responses(session: Session, workspace_id: int, filters: Filters | None, *, text: str = "", band: str = "",
              locale: str = "", touchpoint: str = "", customer_id: int | None = None, limit: int = 50,
              offset: int = 0, display_locale: str = "en") -> tuple[list[ResponseRow], int]:  # fmt: skip
    """Completed responses newest first, with their scores and comments; ``text`` searches the comments.
    Without ``filters``, from all time (a customer's page shows everything they ever answered)."""
    if band and band not in BANDS:
        raise PatronError("dashboard.bad_band", value=band[:40], choices=list(BANDS))
    if touchpoint and touchpoint not in (choices := touchpoints(session, workspace_id)):
        raise PatronError("dashboard.bad_touchpoint", value=touchpoint[:40], choices=list(choices))
    conditions = [SurveyResponse.workspace_id == workspace_id, SurveyResponse.status == "completed"]
    if filters is not None:
        conditions = _response_filters(session, workspace_id, filters, filters.listing)
    if customer_id is not None:
        conditions.append(SurveyResponse.customer_id == customer_id)
    if locale:
        conditions.append(SurveyResponse.locale == locale)
    if touchpoint:
        conditions.append(SurveyResponse.touchpoint == touchpoint)
    answer = SurveyAnswer
    if text.strip():
        conditions.append(SurveyResponse.id.in_(select(answer.response_id).where(
            answer.workspace_id == workspace_id, answer.text.like(_like(text.strip()), escape="\\"))))  # fmt: skip
    if band:
        low, high = BANDS[band]
        conditions.append(SurveyResponse.id.in_(select(answer.response_id).where(
            answer.workspace_id == workspace_id, answer.question_type == "nps", answer.score.between(low, high))))  # fmt: skip
    total = int(session.scalar(select(func.count()).select_from(SurveyResponse).where(*conditions)) or 0)
    page = session.execute(
        select(SurveyResponse, Survey, Customer)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .outerjoin(Customer, Customer.id == SurveyResponse.customer_id)
        .where(*conditions)
        .order_by(SurveyResponse.completed_at.desc(), SurveyResponse.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [response.id for response, _, _ in page]
    scores: dict[int, dict[str, int]] = {i: {} for i in ids}
    shown: dict[int, list[ShownAnswer]] = {i: [] for i in ids}
    questions = {survey.id: {q.key: q for q in definition_of(survey).questions} for _, survey, _ in page}
    survey_of = {response.id: response.survey_id for response, _, _ in page}
    if ids:
        for a in session.scalars(select(answer).where(answer.workspace_id == workspace_id, answer.response_id.in_(ids),
                                 or_(answer.question_type.in_((*SCORED_TYPES, *SHOWN_TYPES)),
                                     and_(answer.text.is_not(None), answer.text != "")))
                                 .order_by(answer.id)):  # fmt: skip
            if a.question_type in SCORED_TYPES and a.score is not None:
                scores[a.response_id].setdefault(a.question_type, a.score)
            elif (
                item := _shown(a, questions[survey_of[a.response_id]].get(a.question_key), display_locale)
            ) is not None:
                shown[a.response_id].append(item)
    # Each comment's sentiment and themes, from its feedback item: two queries for the page.
    analyses = analyses_of_answers(
        session,
        workspace_id=workspace_id,
        answer_ids=[c.answer_id for answers in shown.values() for c in answers if c.kind == "comment"],
        locale=display_locale,
    )
    for answers in shown.values():
        for position, c in enumerate(answers):
            if c.kind == "comment" and c.answer_id in analyses:
                answers[position] = replace(c, analysis=analyses[c.answer_id])
    rows = [
        ResponseRow(
            response.id,
            response.completed_at,
            survey.key,
            survey_name(survey, display_locale),
            response.touchpoint,
            response.channel,
            response.locale,
            scores[response.id],
            shown[response.id],
            customer.external_id if customer else None,
            customer.name if customer else None,
        )
        for response, survey, customer in page
    ]
    return rows, total


def responses_table(rows: list[ResponseRow], locale: str, codes: Labels | None = None) -> DataTable:
    t, codes = labels(locale), codes or Labels(locale)
    table = DataTable("responses", t("dash.responses"), [
        Column(t("dash.completed_at")), Column(t("dim.survey")), Column(t("dim.touchpoint")), Column(t("dim.channel")),
        Column(t("dim.locale")), Column(t("metric.nps"), "int"), Column(t("metric.csat"), "int"),
        Column(t("metric.ces"), "int"), Column(t("dash.comments")), Column(t("dash.other_answers")),
        Column(t("dash.customer")), Column(t("dash.comment_sentiment")), Column(t("dash.comment_themes")),
    ])  # fmt: skip

    def pairs(answers: list[ShownAnswer]) -> str:
        return " / ".join(t("dash.answer_to", question=a.question, answer=a.text) for a in answers)

    def sentiments(answers: list[ShownAnswer]) -> str:
        return " / ".join(
            t("fb." + a.analysis.sentiment) if a.analysis and a.analysis.sentiment else t("fb.not_analysed")
            for a in answers
        )

    def themes(answers: list[ShownAnswer]) -> str:
        return " / ".join(
            ", ".join(f"{theme.name} · {t('fb.' + theme.sentiment)}" for theme in a.analysis.themes)
            if a.analysis
            else ""
            for a in answers
        )

    for r in rows:
        table.rows.append([r.completed_at.isoformat() if r.completed_at else None, r.survey,
                           codes("touchpoint", r.touchpoint), codes("channel", r.channel),
                           r.locale, r.scores.get("nps"), r.scores.get("csat"), r.scores.get("ces"),
                           pairs(r.comments), pairs([a for a in r.answers if a.kind != "comment"]),
                           r.customer_external_id, sentiments(r.comments), themes(r.comments)])  # fmt: skip
    return table


def survey_name(survey: Survey, locale: str) -> str:
    """The survey's name in ``locale`` (its key when it has none)."""
    name = survey.definition.get("name")
    return pick(name, locale) if isinstance(name, dict) else survey.key


@dataclass
class SurveySummary:
    key: str
    name: str
    kind: str
    touchpoint: str
    channel: str
    status: str
    version: int
    invited: int
    answered: int
    responses: int
    response_rate: float | None


def _count_by_survey(session: Session, survey_column: Any, *conditions: Any) -> dict[int, int]:
    query = select(survey_column, func.count()).where(*conditions).group_by(survey_column)
    return {int(survey_id): int(count) for survey_id, count in session.execute(query)}


def surveys(session: Session, workspace_id: int, filters: Filters, locale: str) -> list[SurveySummary]:
    """Every survey (or the one chosen) with the invitations sent in the period, how many of those were
    answered (as the response rate counts them), and the responses completed in the period from any source;
    days are the workspace's, and a segment counts its customers' invitations and responses only."""
    invitation, response = SurveyInvitation, SurveyResponse
    zone = workspace_zone(session, workspace_id)
    start, end = local_days(filters.window.since, filters.window.until, zone)
    went_out = [
        invitation.workspace_id == workspace_id,
        invitation.sent_at >= start,
        invitation.sent_at < end,
    ]
    for dimension, value in filters.where():
        column = {"segment": Customer.segment, "city": Customer.city}[dimension]
        members = select(Customer.id).where(Customer.workspace_id == workspace_id, column == value)
        went_out.append(invitation.customer_id.in_(members))
    sent = _count_by_survey(session, invitation.survey_id, *went_out)
    answered = _count_by_survey(session, invitation.survey_id, *went_out, invitation.answered_at.is_not(None))
    completed = _count_by_survey(session, response.survey_id, *_response_filters(session, workspace_id, filters,
                                                                                  filters.window))  # fmt: skip
    chosen = [Survey.workspace_id == workspace_id] + (
        [Survey.key == filters.survey] if filters.survey else []
    )
    summaries = []
    for survey in session.scalars(select(Survey).where(*chosen).order_by(Survey.key)):
        invited, done = int(sent.get(survey.id, 0)), int(answered.get(survey.id, 0))
        summaries.append(SurveySummary(survey.key, survey_name(survey, locale), survey.kind, survey.touchpoint,
                                       survey.channel, survey.status, survey.version, invited, done,
                                       int(completed.get(survey.id, 0)), 100 * done / invited if invited else None))  # fmt: skip
    return summaries


def surveys_table(rows: list[SurveySummary], locale: str, codes: Labels | None = None) -> DataTable:
    t, codes = labels(locale), codes or Labels(locale)
    table = DataTable("surveys", t("dash.surveys"), [
        Column(t("dim.survey")), Column(t("dash.name")), Column(t("dim.touchpoint")), Column(t("dim.channel")),
        Column(t("dash.status")), Column(t("dash.invited"), "int"), Column(t("dash.answered"), "int"),
        Column(t("metric.response_rate"), "percent"), Column(t("dash.responses"), "int"),
    ])  # fmt: skip
    for s in rows:
        table.rows.append([s.key, s.name, codes("touchpoint", s.touchpoint), codes("channel", s.channel),
                           t(f"status.{s.status}"), s.invited, s.answered,
                           s.response_rate, s.responses])  # fmt: skip
    return table


def segments(session: Session, workspace_id: int) -> list[str]:
    """The segments customers carry, for the filter's choices."""
    query = (select(Customer.segment).where(Customer.workspace_id == workspace_id, Customer.segment.is_not(None))
             .distinct().order_by(Customer.segment))  # fmt: skip
    return [str(value) for value in session.scalars(query)]


def touchpoints(session: Session, workspace_id: int) -> list[str]:
    """The touchpoints a response can have, for the responses filter: Patron's own (every channel checks
    them) and any the workspace's surveys use."""
    known = [str(t) for t in Touchpoint]
    used = session.scalars(select(Survey.touchpoint).where(Survey.workspace_id == workspace_id).distinct())
    return known + sorted(set(used) - set(known))
