"""The dashboard's Drivers tab: which themes and rating items move NPS, CSAT or the chance of being a detractor,
read from stored responses (``feedback.drivers``; definitions in docs/drivers.md).

The page's window, survey and segment choose the responses; ``outcome`` in the URL chooses what is explained.
When the selection cannot be analysed (too few responses, nothing that varies) the page says why instead of
failing: the reason is the analysis's own named refusal, in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.dashboard.filters import Filters
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.feedback import drivers, service
from patron.feedback.schemas import DriversReport

#: Replicates behind the page's intervals (the CLI and API take --bootstrap).
PAGE_BOOTSTRAP = 200


@dataclass
class DriversView:
    outcome: str
    report: DriversReport | None = None
    #: Why there is no analysis for these filters (a translated refusal), or None.
    reason: str | None = None
    tables: dict[str, DataTable] = field(default_factory=dict)


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def key_drivers(
    session: Session, workspace: Workspace, filters: Filters, locale: str, *, outcome: str
) -> DriversView:
    t = labels(locale)
    if outcome not in drivers.OUTCOMES:
        raise PatronError(
            "feedback.drivers_bad_outcome", value=outcome[:20], choices=", ".join(drivers.OUTCOMES)
        )
    view = DriversView(outcome)
    since, until = service.day_bounds(workspace.timezone, filters.window.since, filters.window.until)
    try:
        view.report = drivers.key_drivers(session, workspace_id=workspace.id, outcome=outcome, since=since,
                                          until=until, locale=locale, survey=filters.survey, segment=filters.segment,
                                          bootstrap=PAGE_BOOTSTRAP)  # fmt: skip
    except PatronError as problem:
        if not (problem.code.startswith("drivers.") or problem.code.startswith("feedback.drivers_")):
            raise
        view.reason = problem.message(locale)
    view.tables["drivers"] = _table(view.report, t, outcome)
    return view


def _table(report: DriversReport | None, t: Any, outcome: str) -> DataTable:
    mean_kind: Any = "percent" if outcome == "detractor" else "mean"
    scale = 100.0 if outcome == "detractor" else 1.0
    table = DataTable("drivers", t("drv.table"), [
        Column(t("drv.driver")), Column(t("drv.kind")),
        Column(t("drv.importance"), "percent", t("help.drv_importance")), Column(t("drv.interval")),
        Column(t("drv.frequency"), "percent", t("help.drv_frequency")), Column(t("drv.mean_with"), mean_kind),
        Column(t("drv.mean_without"), mean_kind), Column(t("drv.fix_first"), "flag"),
    ])  # fmt: skip
    if report is None:
        return table
    for d in report.drivers:
        interval = (
            ""
            if d.importance_low is None or d.importance_high is None
            else f"{d.importance_low * 100:.1f}–{d.importance_high * 100:.1f}%"
        )
        table.rows.append([
            d.name, t(f"drv.kind.{d.kind}"), _percent(d.importance), interval, _percent(d.frequency),
            None if d.mean_with is None else d.mean_with * scale,
            None if d.mean_without is None else d.mean_without * scale, d.fix_first,
        ])  # fmt: skip
    return table
