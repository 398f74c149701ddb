"""SERVQUAL gap analysis (Parasuraman, Zeithaml & Berry 1988; definitions in docs/servqual.md).

Each SERVQUAL answer row holds one item's expectation (E) and perception (P) on 1–7 for one respondent (one
completed response). The gap of an item is P − E, paired per respondent:

- item: over the respondents with both scores for it (listwise per item; rows missing one side are counted in
  ``incomplete`` and left out), n, mean E, mean P, mean gap and Student's t 95 % interval of the paired gaps;
- dimension: each respondent's dimension scores are the means of their complete items in that dimension; the
  dimension's figures are the means of those over the respondents with at least one complete item, with the t
  interval of the respondents' dimension gaps;
- the unweighted SERVQUAL score is the mean of the dimension gaps (the five, or as many as have answers);
  the weighted score needs importance weights per dimension, which no SERVQUAL survey asks today (the template
  has none), so it is reported as empty.

Fewer than ``MIN_SAMPLE`` respondents (30, as every metric) is flagged as a small sample. Groups: overall, by the
customer's segment, or by calendar month of completion in the workspace's time zone. A workspace without any
SERVQUAL answer gets each dimension's theme sentiment from feedback instead (``source = theme_sentiment``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from patron.core.clock import as_utc
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.metrics.stats import MIN_SAMPLE, mean_interval
from patron.surveys import service as survey_service
from patron.surveys import texts
from patron.surveys.models import ResponseStatus, Survey, SurveyAnswer, SurveyResponse
from patron.surveys.schemas import ServqualDimension, ServqualQuestion

DIMENSIONS: tuple[str, ...] = tuple(d.value for d in ServqualDimension)
GROUPINGS = ("segment", "month")
#: The share of a dimension's theme mentions that are positive or negative stands in for its gap only where no
#: SERVQUAL answer exists at all.
SOURCE_ANSWERS, SOURCE_THEMES = "answers", "theme_sentiment"


class Gap(BaseModel):
    """Expectation, perception and gap (P − E) of one item or dimension, on the 1–7 scale."""

    key: str
    name: str
    dimension: str
    n: int
    expectation: float | None
    perception: float | None
    gap: float | None
    ci_low: float | None
    ci_high: float | None
    sufficient: bool
    #: Answer rows of this item (or the dimension's items) with only one of the two scores: left out.
    incomplete: int = 0


class GapGroup(BaseModel):
    #: None for everyone; a segment code ("" for responses without a customer or segment) or a month "YYYY-MM".
    group: str | None
    respondents: int
    score: float | None
    weighted_score: float | None = None
    dimensions: list[Gap]
    items: list[Gap]


class ThemeSentiment(BaseModel):
    dimension: str
    name: str
    mentions: int
    positive: int
    negative: int
    positive_share: float | None
    negative_share: float | None


class ServqualReport(BaseModel):
    source: Literal["answers", "theme_sentiment"]
    survey: str | None
    by: str | None
    min_sample: int = MIN_SAMPLE
    groups: list[GapGroup] = []
    themes: list[ThemeSentiment] = []


@dataclass(frozen=True)
class ItemInfo:
    key: str
    dimension: str
    label: dict[str, str]


@dataclass
class _Sums:
    n: int = 0
    expectation: float = 0.0
    perception: float = 0.0
    gap: float = 0.0
    gap_squares: float = 0.0
    incomplete: int = 0

    def add(self, expectation: float, perception: float) -> None:
        difference = perception - expectation
        self.n += 1
        self.expectation += expectation
        self.perception += perception
        self.gap += difference
        self.gap_squares += difference * difference


@dataclass
class _Group:
    items: dict[str, _Sums] = field(default_factory=lambda: defaultdict(_Sums))
    dimensions: dict[str, _Sums] = field(default_factory=lambda: defaultdict(_Sums))
    respondents: set[int] = field(default_factory=set)


def servqual_items(survey: Survey) -> list[tuple[str, ItemInfo]]:
    """(question key, item) of every SERVQUAL question of the survey, in its order."""
    definition = survey_service.definition_of(survey)
    return [
        (question.key, ItemInfo(item.key, item.dimension.value, dict(item.label)))
        for question in definition.questions
        if isinstance(question, ServqualQuestion)
        for item in question.items
    ]


def _surveys(
    session: Session, workspace_id: int, survey: str | None
) -> list[tuple[Survey, list[tuple[str, ItemInfo]]]]:
    if survey is not None:
        found = survey_service.get_survey(session, workspace_id=workspace_id, key=survey)
        items = servqual_items(found)
        if not items:
            raise PatronError("servqual.no_questions", survey=survey)
        return [(found, items)]
    chosen = []
    for candidate in survey_service.list_surveys(session, workspace_id=workspace_id):
        items = servqual_items(candidate)
        if items:
            chosen.append((candidate, items))
    return chosen


def day_bounds(
    timezone: str, since: date | None, until: date | None
) -> tuple[datetime | None, datetime | None]:
    """UTC instants of the start of ``since`` and the end of ``until`` (inclusive) in the workspace's calendar;
    either may be open."""
    if since is not None and until is not None and since > until:
        raise PatronError("metrics.empty_period", since=since.isoformat(), until=until.isoformat())
    zone = ZoneInfo(timezone)
    start = None if since is None else as_utc(datetime.combine(since, time(), zone))
    end = None if until is None else as_utc(datetime.combine(until + timedelta(days=1), time(), zone))
    return start, end


def _gap(key: str, name: str, dimension: str, sums: _Sums) -> Gap:
    estimate = mean_interval(sums.n, sums.gap, sums.gap_squares)
    n = sums.n
    return Gap(
        key=key, name=name, dimension=dimension, n=n,
        expectation=sums.expectation / n if n else None, perception=sums.perception / n if n else None,
        gap=None if estimate is None else estimate.mean, ci_low=None if estimate is None else estimate.ci_low,
        ci_high=None if estimate is None else estimate.ci_high, sufficient=n >= MIN_SAMPLE,
        incomplete=sums.incomplete,
    )  # fmt: skip


def _finish(
    group: str | None, data: _Group, items: dict[str, ItemInfo], names: dict[str, str], locale: str
) -> GapGroup:
    dimensions = [_gap(d, names.get(d, d), d, data.dimensions[d]) for d in DIMENSIONS if d in data.dimensions]
    gaps = [d.gap for d in dimensions if d.gap is not None]
    item_gaps = [
        _gap(key, texts.pick(info.label, locale), info.dimension, data.items[key])
        for key, info in items.items()
        if key in data.items
    ]
    # largest shortfall first; items without a complete pair last
    item_gaps.sort(key=lambda g: (g.gap is None, g.gap if g.gap is not None else 0.0, g.key))
    return GapGroup(
        group=group,
        respondents=len(data.respondents),
        score=sum(gaps) / len(gaps) if gaps else None,
        dimensions=dimensions,
        items=item_gaps,
    )


def dimension_names(locale: str) -> dict[str, str]:
    from patron.core.i18n import translate

    return {d: translate(f"servqual.dimension.{d}", locale) for d in DIMENSIONS}


def gap_report(
    session: Session,
    *,
    workspace_id: int,
    timezone: str,
    locale: str,
    survey: str | None = None,
    by: str | None = None,
    since: date | None = None,
    until: date | None = None,
    segment: str | None = None,
) -> ServqualReport:
    """SERVQUAL gaps per dimension and item, overall or ``by`` segment or month; see the module's docstring."""
    if by is not None and by not in GROUPINGS:
        raise PatronError("servqual.bad_grouping", value=by[:40], choices=list(GROUPINGS))
    start, end = day_bounds(timezone, since, until)
    chosen = _surveys(session, workspace_id, survey)
    names = dimension_names(locale)
    if survey is None and not _any_answers(session, workspace_id):
        return ServqualReport(
            source=SOURCE_THEMES, survey=None, by=by, themes=theme_sentiment(session, workspace_id=workspace_id,
                                                                             timezone=timezone, locale=locale,
                                                                             since=since, until=until,
                                                                             segment=segment),
        )  # fmt: skip
    items: dict[str, ItemInfo] = {}
    lookup: dict[tuple[int, str, str], ItemInfo] = {}
    for found, questions in chosen:
        for question_key, item in questions:
            items.setdefault(item.key, item)
            lookup[(found.id, question_key, item.key)] = item
    rows = _answer_rows(session, workspace_id, [found.id for found, _ in chosen], start, end, segment)
    zone = ZoneInfo(timezone)
    groups: dict[str | None, _Group] = defaultdict(_Group)
    # per group and respondent: each dimension's (E, P) item sums and count, for the respondent's dimension means
    per_respondent: dict[str | None, dict[tuple[int, str], list[float]]] = defaultdict(dict)
    for (
        response_id,
        survey_id,
        question_key,
        item_key,
        perception,
        expectation,
        completed_at,
        segment_code,
    ) in rows:
        info = lookup.get((survey_id, question_key, item_key))
        if info is None:  # an item the survey no longer has
            continue
        if by == "segment":
            key: str | None = segment_code or ""
        elif by == "month":
            local = as_utc(completed_at).astimezone(zone)
            key = f"{local.year:04d}-{local.month:02d}"
        else:
            key = None
        data = groups[key]
        if perception is None or expectation is None:
            data.items[info.key].incomplete += 1
            data.dimensions[info.dimension].incomplete += 1
            continue
        data.items[info.key].add(float(expectation), float(perception))
        data.respondents.add(response_id)
        totals = per_respondent[key].setdefault((response_id, info.dimension), [0.0, 0.0, 0.0])
        totals[0] += expectation
        totals[1] += perception
        totals[2] += 1
    for key, respondents in per_respondent.items():
        for (_, dimension), (e_sum, p_sum, count) in respondents.items():
            groups[key].dimensions[dimension].add(e_sum / count, p_sum / count)
    order = sorted(groups, key=lambda k: (k is not None, k or ""))
    return ServqualReport(
        source=SOURCE_ANSWERS, survey=survey, by=by,
        groups=[_finish(key, groups[key], items, names, locale) for key in order],
    )  # fmt: skip


def _any_answers(session: Session, workspace_id: int) -> bool:
    return (
        session.scalar(
            select(SurveyAnswer.id)
            .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.question_type == "servqual")
            .limit(1)
        )
        is not None
    )


def _answer_rows(
    session: Session,
    workspace_id: int,
    survey_ids: list[int],
    start: datetime | None,
    end: datetime | None,
    segment: str | None,
) -> Iterable[tuple[int, int, str, str, int | None, int | None, datetime, str | None]]:
    if not survey_ids:
        return []
    query = (
        select(SurveyAnswer.response_id, SurveyAnswer.survey_id, SurveyAnswer.question_key, SurveyAnswer.item_key,
               SurveyAnswer.score, SurveyAnswer.expected_score, SurveyResponse.completed_at, Customer.segment)
        .join(SurveyResponse, and_(SurveyResponse.id == SurveyAnswer.response_id,
                                   SurveyResponse.workspace_id == SurveyAnswer.workspace_id))
        .outerjoin(Customer, and_(Customer.id == SurveyResponse.customer_id,
                                  Customer.workspace_id == SurveyResponse.workspace_id))
        .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.survey_id.in_(survey_ids),
               SurveyAnswer.question_type == "servqual", SurveyResponse.status == ResponseStatus.COMPLETED.value,
               SurveyResponse.completed_at.is_not(None))
        .order_by(SurveyAnswer.response_id, SurveyAnswer.id)
    )  # fmt: skip
    if start is not None:
        query = query.where(SurveyResponse.completed_at >= start)
    if end is not None:
        query = query.where(SurveyResponse.completed_at < end)
    if segment:
        query = query.where(Customer.segment == segment)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def theme_sentiment(
    session: Session,
    *,
    workspace_id: int,
    timezone: str,
    locale: str,
    since: date | None,
    until: date | None,
    segment: str | None = None,
) -> list[ThemeSentiment]:
    """Each SERVQUAL dimension's theme in feedback: mentions, positive and negative (clause sentiment)."""
    from patron.feedback import service as feedback_service

    if since is None and until is None:
        start, end = (
            datetime(1900, 1, 1, tzinfo=ZoneInfo("UTC")),
            datetime(9999, 12, 31, tzinfo=ZoneInfo("UTC")),
        )
    else:
        start, end = feedback_service.day_bounds(timezone, since, until)
    figures = feedback_service.theme_figures(
        session, workspace_id=workspace_id, since=start, until=end, locale=locale, segment=segment
    )
    by_key = {f.theme: f for f in figures}
    names = dimension_names(locale)
    result = []
    for dimension in DIMENSIONS:
        f = by_key.get(dimension)
        result.append(
            ThemeSentiment(
                dimension=dimension, name=f.name if f else names[dimension], mentions=f.items if f else 0,
                positive=f.positive if f else 0, negative=f.negative if f else 0,
                positive_share=f.positive_share if f else None, negative_share=f.negative_share if f else None,
            )
        )  # fmt: skip
    return result
