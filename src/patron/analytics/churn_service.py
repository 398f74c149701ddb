"""Churn risk over a workspace's orders, survey answers, interactions, assistant hand-overs, loyalty ledger and
analysed feedback: train with an out-of-time evaluation, store each customer's risk and top reasons (with the
model version and the time computed), read them back.

The probability alive feature comes from refitting the workspace's CLV purchase model at each cut-off (so no
later purchase leaks into a feature) — only when the workspace has a CLV fit (``patron clv fit|score``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from patron.analytics import churn
from patron.analytics.models import ChurnModel, ChurnScore, ClvModel, ClvScore
from patron.analytics.schemas import ChurnCustomerRead, ChurnModelRead, ChurnPage, ChurnReason
from patron.assistant.models import Conversation
from patron.commerce.models import Interaction, Order
from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.clock import today_in, utcnow
from patron.core.errors import NotFound, PatronError
from patron.core.models import Workspace
from patron.core.money import from_minor, minor_unit_exponent
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.feedback.models import FeedbackItem, FeedbackMention
from patron.feedback.service import current_taxonomy
from patron.loyalty.models import Entry, Member, TierMove, TierSet
from patron.surveys.models import SurveyAnswer, SurveyResponse

SCORED_QUESTIONS = ("nps", "csat", "ces")


def _local_days(moments: pd.Series, zone: str) -> pd.Series:
    stamps = pd.to_datetime(moments)
    if stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize(UTC)
    return stamps.dt.tz_convert(ZoneInfo(zone)).dt.tz_localize(None).dt.normalize()


def orders_frame(session: Session, workspace: Workspace) -> pd.DataFrame:
    """The workspace's purchases (cancelled and returned orders left out): customer_id, day (workspace zone),
    amount (major units)."""
    rows = session.execute(
        select(Order.customer_id, Order.ordered_at, Order.total_minor).where(
            Order.workspace_id == workspace.id, Order.status.not_in(NON_REVENUE_STATUSES)
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])
    if frame.empty:
        return pd.DataFrame({"customer_id": [], "day": pd.to_datetime([]), "amount": []})
    scale = 10.0 ** minor_unit_exponent(workspace.currency)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(int),
            "day": _local_days(frame["ordered_at"], workspace.timezone),
            "amount": frame["amount"].astype(float) / scale,
        }
    )


def answers_frame(session: Session, workspace: Workspace) -> pd.DataFrame:
    """Scored NPS, CSAT and CES answers of known customers: customer_id, day, score, scale_min, scale_max."""
    rows = session.execute(
        select(
            SurveyResponse.customer_id,
            SurveyResponse.completed_at,
            SurveyAnswer.score,
            SurveyAnswer.scale_min,
            SurveyAnswer.scale_max,
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(
            SurveyAnswer.workspace_id == workspace.id,
            SurveyAnswer.question_type.in_(SCORED_QUESTIONS),
            SurveyAnswer.score.is_not(None),
            SurveyResponse.customer_id.is_not(None),
            SurveyResponse.completed_at.is_not(None),
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["customer_id", "completed_at", "score", "scale_min", "scale_max"])
    if frame.empty:
        return pd.DataFrame(columns=["customer_id", "day", "score", "scale_min", "scale_max"])
    scale_max = frame["scale_max"].fillna(10)
    scale_min = frame["scale_min"].fillna(0)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(int),
            "day": _local_days(frame["completed_at"], workspace.timezone),
            "score": frame["score"].astype(float),
            "scale_min": scale_min.astype(float),
            "scale_max": scale_max.astype(float),
        }
    )


def _frame(rows: Any, columns: list[str], zone: str, days: tuple[str, ...] = ("day",)) -> pd.DataFrame:
    """Rows as a frame with each column of ``days`` (UTC moments) turned into the workspace's calendar days."""
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for name in days:
        if frame.empty:
            frame[name] = pd.to_datetime(pd.Series([], dtype="datetime64[ns]"))
        else:
            present = frame[name].notna()
            local = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
            if present.any():
                local[present] = _local_days(frame.loc[present, name], zone).astype("datetime64[ns]")
            frame[name] = local
    if "customer_id" in frame:
        frame["customer_id"] = frame["customer_id"].astype("int64")
    return frame


def signals_frame(session: Session, workspace: Workspace, themes_at: date | None = None) -> churn.Signals:
    """The workspace's service, loyalty and feedback rows for ``churn.signal_features`` (days in the workspace's
    zone). The theme columns are the most frequent negative themes on or before ``themes_at`` (none without)."""
    ws, zone = workspace.id, workspace.timezone
    interactions = _frame(
        session.execute(
            select(Interaction.customer_id, Interaction.occurred_at, Interaction.type).where(
                Interaction.workspace_id == ws,
                Interaction.type.in_((*churn.SUPPORT_TYPES, churn.CANCELLATION_TYPE)),
            )
        ),
        ["customer_id", "day", "type"],
        zone,
    )
    handovers = _frame(
        session.execute(
            select(Conversation.customer_id, Conversation.created_at, Conversation.closed_at).where(
                Conversation.workspace_id == ws, Conversation.customer_id.is_not(None)
            )
        ),
        ["customer_id", "day", "closed"],
        zone,
        ("day", "closed"),
    )
    members = _frame(
        session.execute(select(Member.customer_id, Member.enrolled_at).where(Member.workspace_id == ws)),
        ["customer_id", "day"],
        zone,
    )
    entries = _frame(
        session.execute(
            select(Member.customer_id, Entry.created_at, Entry.kind, Entry.points, Entry.debt_delta)
            .join(Member, Member.id == Entry.member_id)
            .where(Entry.workspace_id == ws)
        ),
        ["customer_id", "day", "kind", "points", "debt_delta"],
        zone,
    )
    tiers = _tier_moves(session, workspace)
    items = _frame(
        session.execute(
            select(FeedbackItem.customer_id, FeedbackItem.occurred_at, FeedbackItem.sentiment).where(
                FeedbackItem.workspace_id == ws,
                FeedbackItem.customer_id.is_not(None),
                FeedbackItem.analyzed_with.is_not(None),
            )
        ),
        ["customer_id", "day", "sentiment"],
        zone,
    )
    mentions = _frame(
        session.execute(
            select(
                FeedbackItem.customer_id,
                FeedbackMention.occurred_at,
                FeedbackMention.theme,
                FeedbackMention.sentiment,
            )
            .join(FeedbackItem, FeedbackItem.id == FeedbackMention.item_id)
            .where(FeedbackMention.workspace_id == ws, FeedbackItem.customer_id.is_not(None))
        ),
        ["customer_id", "day", "theme", "sentiment"],
        zone,
    )
    themes = churn.top_negative_themes(mentions, themes_at) if themes_at is not None else ()
    return churn.Signals(interactions, handovers, members, entries, tiers, items, mentions, themes)


def _tier_moves(session: Session, workspace: Workspace) -> pd.DataFrame:
    """Each tier move as (customer_id, day, rank): the rank of the tier reached in the newest tier version's
    order (tiers are kept lowest first; a code the version lacks counts as the lowest)."""
    tier_set = session.scalar(
        select(TierSet).where(TierSet.workspace_id == workspace.id).order_by(TierSet.version.desc()).limit(1)
    )
    rows = session.execute(
        select(Member.customer_id, TierMove.created_at, TierMove.to_tier)
        .join(Member, Member.id == TierMove.member_id)
        .where(TierMove.workspace_id == workspace.id)
        .order_by(TierMove.id)
    ).all()
    if tier_set is None:
        rows = []
    rank = {str(t["code"]): i for i, t in enumerate(tier_set.tiers)} if tier_set is not None else {}
    frame = _frame(rows, ["customer_id", "day", "tier"], workspace.timezone)
    frame["rank"] = [float(rank.get(str(code), 0)) for code in frame["tier"]]
    return frame[["customer_id", "day", "rank"]]


def theme_names(session: Session, workspace: Workspace, themes: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """{theme: {locale: name}} for the theme features' reasons (stored with them: the taxonomy may change)."""
    by_key = current_taxonomy(session, workspace.id).by_key()
    return {t: dict(by_key[t].names) for t in themes if t in by_key}


def _alive_at(
    con: ibis.BaseBackend | None, workspace: Workspace, cutoff: date, model: str | None
) -> pd.DataFrame | None:
    """Probability alive at ``cutoff`` from the CLV purchase model refitted on orders up to it (None without
    a CLV fit or when the fit cannot be made)."""
    if con is None or model is None:
        return None
    from patron.analytics import service as clv_service

    try:
        result = clv_service.fit(con, workspace, model=model, observation_end=cutoff)
    except PatronError:
        return None
    alive = result.purchase.expected_probability_alive(result.summary)["probability_alive"].to_numpy()
    if not np.isfinite(alive).all():
        return None
    return pd.DataFrame(
        {"customer_id": result.summary["customer_id"].astype(int), "probability_alive": alive}
    )


@dataclass(frozen=True)
class Trained:
    model: Any
    evaluation: churn.Evaluation
    features: pd.DataFrame
    reference: pd.Series
    cutoff: date
    definition: str = "inactivity"
    themes: tuple[str, ...] = ()


def train(
    session: Session,
    workspace: Workspace,
    *,
    window_days: int = 90,
    as_of: date | None = None,
    con: ibis.BaseBackend | None = None,
    k: int | None = None,
    definition: str = "inactivity",
) -> Trained:
    """Evaluate out of time and fit the model that scores today.

    With ``as_of`` = A and window N: the evaluation trains at A − 2N (labels from (A − 2N, A − N]) and tests at
    A − N (labels from (A − N, A]); the final model trains at A − N (labels up to A) and scores features at A.
    The theme features are the most frequent negative themes up to A − 2N, the same columns for all three."""
    rule = churn.ChurnDefinition(window_days, definition)
    end = as_of or today_in(workspace.timezone)
    orders = orders_frame(session, workspace)
    if orders.empty:
        raise PatronError("churn.no_orders")
    answers = answers_frame(session, workspace)
    signals = signals_frame(session, workspace, themes_at=end - timedelta(days=2 * window_days))
    cancellations = signals.cancellations()
    if rule.kind == "cancelled" and cancellations.empty:
        raise PatronError("churn.no_cancellations", type=churn.CANCELLATION_TYPE)
    clv_model = session.scalar(
        select(ClvModel.purchase_model)
        .where(ClvModel.workspace_id == workspace.id)
        .order_by(ClvModel.id.desc())
    )
    test_cutoff = end - timedelta(days=window_days)
    cutoffs = (test_cutoff - timedelta(days=window_days), test_cutoff, end)
    alive = {c: _alive_at(con, workspace, c, clv_model) for c in cutoffs}
    tables = {c: churn.feature_table(orders, answers, c, alive[c], signals) for c in cutoffs}
    if rule.kind == "cancelled":  # a customer who has cancelled is no longer a subscriber to score
        for c in cutoffs:
            tables[c] = tables[c].drop(
                index=list(churn.cancelled_by(orders, cancellations, c)), errors="ignore"
            )
    for c in cutoffs[:2]:
        if tables[c].empty:
            raise PatronError("churn.too_little_history", cutoff=c.isoformat())
    train_x, test_x = tables[cutoffs[0]], tables[cutoffs[1]]
    train_y = churn.labels(orders, cutoffs[0], rule, cancellations).reindex(train_x.index).to_numpy()
    test_y = churn.labels(orders, cutoffs[1], rule, cancellations).reindex(test_x.index).to_numpy()
    with churn.threads_for(max(len(train_x), len(test_x))):
        held = churn.fit(train_x, train_y)
        evaluation = churn.evaluate(
            test_y,
            held.predict_proba(test_x)[:, 1],
            k,
            train_customers=len(train_x),
            train_cutoff=cutoffs[0],
            test_cutoff=cutoffs[1],
        )
        final = churn.fit(test_x, test_y)
    return Trained(final, evaluation, tables[end], test_x.median(), end, rule.kind, signals.themes)


def score(
    session: Session,
    workspace: Workspace,
    *,
    window_days: int = 90,
    as_of: date | None = None,
    con: ibis.BaseBackend | None = None,
    k: int | None = None,
    definition: str = "inactivity",
) -> tuple[ChurnModel, int]:
    """Train, then replace the workspace's churn scores (risk, top three reasons, risk × stored CLV)."""
    session.execute(select(Workspace.id).where(Workspace.id == workspace.id).with_for_update())
    trained = train(
        session, workspace, window_days=window_days, as_of=as_of, con=con, k=k, definition=definition
    )
    x = trained.features
    with churn.threads_for(len(x)):
        risk = trained.model.predict_proba(x)[:, 1] if len(x) else np.array([])
        contrib = churn.contributions(trained.model, x, trained.reference) if len(x) else None
    names = theme_names(session, workspace, trained.themes)
    reasons = churn.top_reasons(contrib, x, theme_names=names) if contrib is not None else []
    saved = ChurnModel(
        workspace_id=workspace.id,
        definition=trained.definition,
        window_days=window_days,
        cutoff=trained.cutoff,
        computed_at=utcnow(),
        evaluation=trained.evaluation.as_dict(),
        customers=len(x),
    )
    session.add(saved)
    session.flush()
    clv = dict(
        session.execute(
            select(ClvScore.customer_id, ClvScore.clv_minor).where(ClvScore.workspace_id == workspace.id)
        ).all()
    )
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for customer_id, p, why in zip(x.index, risk, reasons, strict=True):
        value = clv.get(int(customer_id))
        rows.append(
            {
                "workspace_id": workspace.id,
                "customer_id": int(customer_id),
                "model_id": saved.id,
                "computed_at": now,
                "risk": float(p),
                "clv_minor": value,
                "value_at_risk_minor": None if value is None else round(float(p) * value),
                "currency": workspace.currency,
                "reasons": why,
            }
        )
    session.execute(delete(ChurnScore).where(ChurnScore.workspace_id == workspace.id))
    for start in range(0, len(rows), 10_000):
        session.execute(insert(ChurnScore), rows[start : start + 10_000])
    return saved, len(rows)


def latest_model(session: Session, *, workspace_id: int) -> ChurnModel:
    model = session.scalar(
        select(ChurnModel).where(ChurnModel.workspace_id == workspace_id).order_by(ChurnModel.id.desc())
    )
    if model is None:
        raise NotFound("churn.no_model")
    return model


def model_read(model: ChurnModel) -> ChurnModelRead:
    return ChurnModelRead(
        model_version=model.version,
        definition=model.definition,
        window_days=model.window_days,
        cutoff=model.cutoff,
        computed_at=model.computed_at,
        customers=model.customers,
        evaluation=model.evaluation,
    )


def _read(row: ChurnScore, external_id: str, model: ChurnModel, locale: str | None) -> ChurnCustomerRead:
    return ChurnCustomerRead(
        customer_id=external_id,
        model_version=model.version,
        cutoff=model.cutoff,
        computed_at=row.computed_at,
        risk=row.risk,
        clv=None if row.clv_minor is None else from_minor(row.clv_minor, row.currency),
        value_at_risk=None
        if row.value_at_risk_minor is None
        else from_minor(row.value_at_risk_minor, row.currency),
        currency=row.currency,
        reasons=[
            ChurnReason(
                feature=str(r["feature"]),
                contribution=float(str(r["contribution"])),
                text=churn.reason_text(r, locale),
            )
            for r in row.reasons
        ],
    )


def customer_risk(
    session: Session, *, workspace_id: int, external_id: str, locale: str | None = None
) -> ChurnCustomerRead:
    customer = session.scalar(scoped(Customer, workspace_id, Customer.external_id == external_id))
    if customer is None:
        raise NotFound("customer.not_found", external_id=external_id)
    row = session.scalar(scoped(ChurnScore, workspace_id, ChurnScore.customer_id == customer.id))
    if row is None:
        raise NotFound("churn.not_scored", external_id=external_id)
    return _read(row, external_id, session.get_one(ChurnModel, row.model_id), locale)


def at_risk(
    session: Session, *, workspace_id: int, limit: int = 50, offset: int = 0, locale: str | None = None
) -> ChurnPage:
    """Customers by value at risk (risk × CLV), highest first; customers without a CLV score after them by
    risk; ties by external id."""
    total = session.scalar(
        select(func.count()).select_from(ChurnScore).where(ChurnScore.workspace_id == workspace_id)
    )
    query = (
        select(ChurnScore, Customer.external_id, ChurnModel)
        .join(Customer, Customer.id == ChurnScore.customer_id)
        .join(ChurnModel, ChurnModel.id == ChurnScore.model_id)
        .where(ChurnScore.workspace_id == workspace_id)
        .order_by(
            ChurnScore.value_at_risk_minor.is_(None),
            ChurnScore.value_at_risk_minor.desc(),
            ChurnScore.risk.desc(),
            Customer.external_id,
        )
        .limit(limit)
        .offset(offset)
    )
    items = [_read(row, ext, model, locale) for row, ext, model in session.execute(query).all()]
    return ChurnPage(total=int(total or 0), items=items)


def evaluate_file(path: Any, *, target: str = "Churn", folds: int = 5, seed: int = 0) -> list[float]:
    """``patron churn evaluate-file``: stratified cross-validated AUC of the same classifier on a customer table."""
    x, y = churn.read_table(path, target)
    return churn.cross_validate_table(x, y, folds=folds, seed=seed)
