"""Alerts: a metric that fell further than the workspace allows, overall or in one segment.

A fall counts when it reaches the rule's threshold and, unless the rule says otherwise, is statistically
significant: a manager should not be woken by sampling noise. Only complete days are judged: today, still
under way, is left out (``compared``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.dashboard import service
from patron.dashboard.filters import Filters
from patron.dashboard.models import AlertRule
from patron.dashboard.rollup import MetricSource
from patron.metrics import benchmarks

#: Defaults in each metric's unit: NPS points, percentage points, CES scale points.
DEFAULT_DROPS = {"nps": 5.0, "csat": 5.0, "ces": 0.3, "response_rate": 5.0}
LARGEST_DROP = {"nps": 200.0, "csat": 100.0, "ces": 6.0, "response_rate": 100.0}


@dataclass(frozen=True)
class Rule:
    metric: str
    max_drop: float
    significant_only: bool


@dataclass(frozen=True)
class Drop:
    metric: str
    segment: str | None
    kpi: service.Kpi
    rule: Rule


def rules(session: Session, workspace_id: int) -> dict[str, Rule]:
    saved = {
        r.metric: r for r in session.scalars(select(AlertRule).where(AlertRule.workspace_id == workspace_id))
    }
    return {
        metric: Rule(metric, saved[metric].max_drop, saved[metric].significant_only)
        if metric in saved
        else Rule(metric, default, True)
        for metric, default in DEFAULT_DROPS.items()
    }


def parse_rules(form: dict[str, str]) -> list[Rule]:
    """Thresholds from the alerts form; a bad one names its metric and the allowed range."""
    parsed = []
    for metric, largest in LARGEST_DROP.items():
        raw = form.get(f"{metric}.max_drop", "").strip().replace(",", ".").replace("，", ".")
        try:
            value = float(raw)
        except ValueError:
            raise PatronError(
                "alerts.bad_threshold", metric=metric, value=raw[:20], largest=f"{largest:g}"
            ) from None
        if not 0 <= value <= largest:
            raise PatronError("alerts.bad_threshold", metric=metric, value=raw[:20], largest=f"{largest:g}")
        parsed.append(Rule(metric, value, form.get(f"{metric}.significant_only") == "1"))
    return parsed


@dataclass(frozen=True)
class Settings:
    rules: list[Rule]
    industry: str | None
    #: The workspace's own NPS benchmark, or None to use its industry's.
    nps_benchmark: float | None


def parse_settings(form: dict[str, str]) -> Settings:
    """The alerts page's form: thresholds, industry and own benchmark, each checked with a named message."""
    new_rules = parse_rules(form)
    industry = form.get("industry", "").strip() or None
    if industry is not None and industry not in benchmarks.industries("en"):
        raise PatronError("alerts.unknown_industry", industry=industry[:64])
    own = form.get("nps_benchmark", "").strip().replace("−", "-")
    if not own:
        return Settings(new_rules, industry, None)
    try:
        value = float(own)
    except ValueError:
        raise PatronError("alerts.bad_benchmark", value=own[:20]) from None
    if not -100 <= value <= 100:  # also refuses nan and inf
        raise PatronError("alerts.bad_benchmark", value=own[:20])
    return Settings(new_rules, industry, value)


def save_settings(session: Session, workspace_id: int, settings: Settings) -> None:
    save_rules(session, workspace_id, settings.rules)
    workspace = session.get_one(Workspace, workspace_id)
    workspace.industry, workspace.nps_benchmark = settings.industry, settings.nps_benchmark


def save_rules(session: Session, workspace_id: int, new_rules: list[Rule]) -> None:
    saved = {
        r.metric: r for r in session.scalars(select(AlertRule).where(AlertRule.workspace_id == workspace_id))
    }
    for rule in new_rules:
        row = saved.get(rule.metric)
        if row is None:
            session.add(AlertRule(workspace_id=workspace_id, metric=rule.metric, max_drop=rule.max_drop,
                                  significant_only=rule.significant_only))  # fmt: skip
        else:
            row.max_drop, row.significant_only = rule.max_drop, rule.significant_only
    session.flush()


def is_drop(kpi: service.Kpi, rule: Rule) -> bool:
    if kpi.change is None or -kpi.change < rule.max_drop or kpi.change >= 0:
        return False
    return bool(kpi.significant) or not rule.significant_only


def compared(filters: Filters) -> Filters:
    """The filters alerts judge: complete days only. A window that reaches today is moved back to end
    yesterday (same length), so a day still filling up never reads as a fall."""
    return replace(filters, window=filters.complete())


def drops(source: MetricSource, filters: Filters, active: dict[str, Rule]) -> list[Drop]:
    """Falls against the previous period, overall and per segment (when no segment is chosen), on complete
    days (``compared``)."""
    filters = compared(filters)
    found: list[Drop] = []
    for metric, rule in active.items():
        current = source.metric(service.metric_query(filters, metric, filters.window))
        previous = source.metric(service.metric_query(filters, metric, filters.window.previous()))
        overall = service.kpi(metric, service.first(current), service.first(previous))
        if is_drop(overall, rule):
            found.append(Drop(metric, filters.segment, overall, rule))
        if filters.segment is None:
            sliced = service.breakdown_rows(source, filters, metric, "segment")
            found += [Drop(metric, label, k, rule) for label, k in sliced if is_drop(k, rule)]
    return found
