"""Key drivers over a workspace's survey responses: which themes (from each response's comments) and which rating
items move NPS, CSAT or the chance of being a detractor (docs/drivers.md).

One row per completed survey response in the window (by completion time, in the workspace's calendar), of the
chosen survey and the customer's segment when given, that has an answer to the outcome question:

* outcome ``nps``: the 0–10 score; ``csat``: the CSAT score on its scale (answers on different scales are refused:
  choose one survey); ``detractor``: 1 when the NPS score is 0–6, else 0 (a linear probability model: shares of
  R² of a least-squares fit of a 0/1 outcome). A response with two such questions takes their mean.
* per theme, two yes/no predictors: the response's comments mention the theme in a negative clause; they mention
  it otherwise (positive or neutral) and never negatively. A response without an analysed comment mentions
  nothing. Only indicators with at least ``MIN_MENTIONS`` responses on each side enter.
* rating items answered in the same response (one survey only: the predictor set must mean the same for every
  row). A row missing one is left out (listwise) and counted.

At most ``MAX_SHAPLEY_PREDICTORS`` predictors enter: every rating item first, then theme indicators by how many
responses show them. Importance is the Shapley (LMG) share of R² with a percentile bootstrap interval; Johnson's
weight is given beside it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.analytics import drivers as relimp
from patron.core.errors import PatronError
from patron.customers.models import Customer
from patron.feedback.models import FeedbackItem, FeedbackMention
from patron.feedback.schemas import DriverRead, DriversReport
from patron.feedback.service import current_taxonomy
from patron.surveys.models import ResponseStatus, Survey, SurveyAnswer, SurveyResponse
from patron.surveys.service import definition_of, get_survey
from patron.surveys.texts import pick

OUTCOMES = ("nps", "csat", "detractor")
#: An indicator enters only when at least this many responses show it, and this many do not.
MIN_MENTIONS = 5
#: Below this many rows the page warns that intervals are wide and ranks may change.
SMALL_SAMPLE = 200
BOOTSTRAP = 200
SEED = 20261202


@dataclass
class _Predictor:
    key: str
    kind: str  # "negative", "other" (theme indicators) or "rating"
    name: str
    values: dict[int, float]
    theme: str | None = None


def key_drivers(
    session: Session,
    *,
    workspace_id: int,
    outcome: str,
    since: datetime,
    until: datetime,
    locale: str,
    survey: str | None = None,
    segment: str | None = None,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
) -> DriversReport:
    """The drivers of ``outcome`` over responses completed from ``since`` (inclusive) to ``until`` (exclusive)."""
    if outcome not in OUTCOMES:
        raise PatronError("feedback.drivers_bad_outcome", value=outcome[:20], choices=", ".join(OUTCOMES))
    chosen = get_survey(session, workspace_id=workspace_id, key=survey) if survey else None
    conditions: list[Any] = [
        SurveyResponse.workspace_id == workspace_id,
        SurveyResponse.status == ResponseStatus.COMPLETED.value,
        SurveyResponse.completed_at >= since,
        SurveyResponse.completed_at < until,
    ]
    if chosen is not None:
        conditions.append(SurveyResponse.survey_id == chosen.id)
    if segment:
        conditions.append(
            SurveyResponse.customer_id.in_(
                select(Customer.id).where(Customer.workspace_id == workspace_id, Customer.segment == segment)
            )
        )
    responses = select(SurveyResponse.id).where(*conditions)
    question = "csat" if outcome == "csat" else "nps"
    scores: dict[int, list[float]] = defaultdict(list)
    scales: set[tuple[int | None, int | None]] = set()
    for response_id, score, low, high in session.execute(
        select(SurveyAnswer.response_id, SurveyAnswer.score, SurveyAnswer.scale_min, SurveyAnswer.scale_max)
        .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.question_type == question,
               SurveyAnswer.score.is_not(None), SurveyAnswer.response_id.in_(responses))
    ):  # fmt: skip
        scores[int(response_id)].append(float(score or 0))
        scales.add((low, high))
    if question == "csat" and len(scales) > 1:
        shown = ", ".join(
            f"{low}–{high}" for low, high in sorted(scales, key=lambda s: (s[0] or 0, s[1] or 0))
        )
        raise PatronError("feedback.drivers_mixed_scales", scales=shown)
    ids = sorted(scores)
    outcome_of = {rid: float(np.mean(values)) for rid, values in scores.items()}
    if outcome == "detractor":
        outcome_of = {rid: 1.0 if value <= 6 else 0.0 for rid, value in outcome_of.items()}
    predictors = _theme_predictors(session, workspace_id, responses, set(ids), locale)
    ratings = _rating_predictors(session, workspace_id, responses, chosen, locale, set(ids))
    candidates = [*ratings, *predictors]
    limit = relimp.MAX_SHAPLEY_PREDICTORS
    entered, left_out = candidates[:limit], candidates[limit:]
    x = np.array([[p.values.get(rid, 0.0 if p.kind != "rating" else np.nan) for p in entered] for rid in ids],
                 dtype=np.float64).reshape(len(ids), len(entered))  # fmt: skip
    y = np.array([outcome_of[rid] for rid in ids], dtype=np.float64)
    if not entered:
        raise PatronError("feedback.drivers_nothing_to_analyse", responses=len(ids), minimum=MIN_MENTIONS)
    result = relimp.relative_importance(x, y, [p.key for p in entered], bootstrap=bootstrap, seed=seed)
    complete = np.isfinite(x).all(axis=1)
    x, y = x[complete], y[complete]
    by_key = {p.key: (index, p) for index, p in enumerate(entered)}
    average_share = result.r_squared / len(result.names)
    found: list[DriverRead] = []
    for position, key in enumerate(result.names):
        column, predictor = by_key[key]
        values = x[:, column]
        frequency = with_mean = without_mean = None
        if predictor.kind != "rating":
            frequency = float(values.mean())
            with_mean, without_mean = float(y[values == 1].mean()), float(y[values == 0].mean())
        correlation = float(np.corrcoef(values, y)[0, 1])
        harmful = correlation > 0 if outcome == "detractor" else correlation < 0
        share = float(result.lmg[position])
        found.append(DriverRead(
            key=key, kind=predictor.kind, theme=predictor.theme, name=predictor.name, importance=share,
            importance_low=_finite(result.lmg_interval[position, 0]),
            importance_high=_finite(result.lmg_interval[position, 1]),
            share_of_r_squared=share / result.r_squared if result.r_squared > 0 else None,
            johnson=float(result.johnson[position]), frequency=frequency, mean_with=with_mean,
            mean_without=without_mean, correlation=correlation, harmful=harmful,
            fix_first=bool(harmful and predictor.kind != "rating" and share >= average_share
                           and frequency is not None and frequency >= _mean_frequency(entered, x)),
        ))  # fmt: skip
    found.sort(key=lambda d: -d.importance)
    return DriversReport(
        outcome=outcome, rows=result.rows, missing=result.missing, responses=len(ids),
        r_squared=result.r_squared, r_squared_low=_finite(result.r_squared_interval[0]),
        r_squared_high=_finite(result.r_squared_interval[1]), outcome_mean=float(y.mean()), drivers=found,
        constant=list(result.constant), left_out=[p.key for p in left_out], bootstrap=bootstrap, seed=seed,
        level=result.level, small_sample=result.rows < SMALL_SAMPLE,
    )  # fmt: skip


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _mean_frequency(entered: list[_Predictor], x: np.ndarray) -> float:
    """The mean frequency of the theme indicators that entered (what "frequent" is measured against)."""
    columns = [index for index, p in enumerate(entered) if p.kind != "rating"]
    return float(x[:, columns].mean()) if columns else 0.0


def _theme_predictors(
    session: Session, workspace_id: int, responses: Any, ids: set[int], locale: str
) -> list[_Predictor]:
    """Per theme, the responses whose comments mention it negatively, and those mentioning it only otherwise."""
    taxonomy = current_taxonomy(session, workspace_id)
    names = {theme.key: theme.name(locale) for theme in taxonomy.themes}
    order = {theme.key: index for index, theme in enumerate(taxonomy.themes)}
    negative: dict[str, set[int]] = defaultdict(set)
    mentioned: dict[str, set[int]] = defaultdict(set)
    rows = session.execute(
        select(SurveyAnswer.response_id, FeedbackMention.theme, FeedbackMention.sentiment)
        .join(FeedbackItem, FeedbackItem.id == FeedbackMention.item_id)
        .join(SurveyAnswer, SurveyAnswer.id == FeedbackItem.survey_answer_id)
        .where(FeedbackMention.workspace_id == workspace_id, FeedbackItem.workspace_id == workspace_id,
               SurveyAnswer.response_id.in_(responses))
    )  # fmt: skip
    for response_id, theme, sentiment in rows:
        rid = int(response_id)
        if rid not in ids or theme not in names:
            continue
        mentioned[theme].add(rid)
        if sentiment == "negative":
            negative[theme].add(rid)
    out: list[tuple[int, int, _Predictor]] = []
    total = len(ids)
    for theme, everyone in mentioned.items():
        sets = {"negative": negative[theme], "other": everyone - negative[theme]}
        for kind, members in sets.items():
            if MIN_MENTIONS <= len(members) <= total - MIN_MENTIONS:
                predictor = _Predictor(
                    f"{theme}:{kind}", kind, names[theme], dict.fromkeys(members, 1.0), theme
                )
                out.append((-len(members), order[theme] * 2 + (kind == "other"), predictor))
    out.sort(key=lambda entry: (entry[0], entry[1]))
    unique: list[_Predictor] = []
    seen: set[frozenset[int]] = set()
    for _, _, predictor in out:
        shown = frozenset(predictor.values)
        if shown not in seen:  # two indicators true for exactly the same responses are one predictor
            seen.add(shown)
            unique.append(predictor)
    return unique


def _rating_predictors(
    session: Session, workspace_id: int, responses: Any, chosen: Survey | None, locale: str, ids: set[int]
) -> list[_Predictor]:
    """Rating items of the chosen survey (none without one), in the survey's order."""
    if chosen is None:
        return []
    labels = {q.key: pick(q.label, locale) for q in definition_of(chosen).questions if q.type == "rating"}
    values: dict[str, dict[int, float]] = defaultdict(dict)
    for response_id, key, score in session.execute(
        select(SurveyAnswer.response_id, SurveyAnswer.question_key, func.avg(SurveyAnswer.score))
        .where(SurveyAnswer.workspace_id == workspace_id, SurveyAnswer.question_type == "rating",
               SurveyAnswer.score.is_not(None), SurveyAnswer.response_id.in_(responses))
        .group_by(SurveyAnswer.response_id, SurveyAnswer.question_key)
    ):  # fmt: skip
        if int(response_id) in ids:
            values[str(key)][int(response_id)] = float(score)
    return [
        _Predictor(f"rating:{key}", "rating", labels.get(key, key), values[key])
        for key in labels
        if values[key]
    ]
