"""The RFM summary the models start from, written once as an Ibis expression so it runs where the orders
live (SQLite, PostgreSQL, DuckDB, Spark); a pandas frame of transactions goes through the same expression on
an in-process DuckDB.

Definitions (Fader, Hardie & Lee 2005; lifetimes' and pymc-marketing's ``rfm_summary``): purchases on the
same calendar day (in the workspace's time zone) count as one. Per customer, over purchases up to and
including ``observation_end``:

- ``frequency``: purchase days after the first (repeat purchases);
- ``recency``: time from the first purchase day to the last; 0 without repeat purchases;
- ``T``: time from the first purchase day to ``observation_end``;
- ``monetary_value``: mean value of the repeat purchase days (the first is left out, as the Gamma-Gamma
  model expects); 0 without repeat purchases.

Times are whole days divided by the unit (1 for days, 7 for weeks). A train/test split adds, for customers
whose first purchase falls in the calibration window, ``frequency_holdout`` (purchase days after it, up to
``observation_end``), ``monetary_value_holdout`` and ``duration_holdout``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.commerce.service import NON_REVENUE_STATUSES
from patron.core.clock import utcnow
from patron.core.errors import PatronError
from patron.core.money import minor_unit_exponent
from patron.metrics.engine import local_day_number

#: days per model time unit
TIME_UNITS = {"D": 1, "W": 7}
_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def _unit(time_unit: str) -> int:
    if time_unit not in TIME_UNITS:
        raise PatronError("clv.unknown_time_unit", unit=time_unit, choices=list(TIME_UNITS))
    return TIME_UNITS[time_unit]


def purchase_days(purchases: ir.Table, *, zone: str = "UTC") -> ir.Table:
    """``(customer_id, ordered_at, value)`` → one row per customer and calendar day with its value summed."""
    days = purchases.select(
        customer_id=purchases.customer_id,
        day=local_day_number(purchases.ordered_at, zone),
        value=purchases.value.cast("float64"),
    )
    return days.group_by(["customer_id", "day"]).aggregate(value=days.value.sum())


def summary_expression(
    days: ir.Table, *, observation_end: date, calibration_end: date | None = None, time_unit: str = "D"
) -> ir.Table:
    """The RFM summary of ``purchase_days``; with ``calibration_end``, the calibration summary up to it and
    the holdout columns up to ``observation_end``."""
    unit = float(_unit(time_unit))
    end = day_number(observation_end)
    cut = end if calibration_end is None else day_number(calibration_end)
    if calibration_end is not None and cut >= end:
        raise PatronError(
            "clv.bad_split", calibration_end=calibration_end.isoformat(), observation_end=observation_end.isoformat()
        )  # fmt: skip
    calibration = days.filter(days.day <= cut)
    marked = calibration.mutate(first_day=calibration.day.min().over(group_by=calibration.customer_id))
    per = marked.group_by("customer_id").aggregate(
        first_day=marked.day.min(),
        last_day=marked.day.max(),
        purchases=marked.count(),
        total=marked.value.sum(),
        first_value=ibis.ifelse(marked.day == marked.first_day, marked.value, 0.0).sum(),
    )
    repeats = (per.purchases - 1).cast("int64")
    summary = per.select(
        customer_id=per.customer_id,
        frequency=repeats,
        recency=(per.last_day - per.first_day).cast("float64") / unit,
        T=(ibis.literal(cut, "int64") - per.first_day).cast("float64") / unit,
        monetary_value=ibis.ifelse(repeats > 0, (per.total - per.first_value) / repeats.cast("float64"), 0.0),
    )
    if calibration_end is None:
        return summary
    later = days.filter((days.day > cut) & (days.day <= end))
    holdout = later.group_by(later.customer_id.name("holdout_customer")).aggregate(
        frequency_holdout=later.count(), holdout_total=later.value.sum()
    )
    joined = summary.left_join(holdout, summary.customer_id == holdout.holdout_customer)
    counted = joined.frequency_holdout.fill_null(0).cast("int64")
    return joined.select(
        *summary.columns,
        frequency_holdout=counted,
        monetary_value_holdout=ibis.ifelse(counted > 0, joined.holdout_total / counted.cast("float64"), 0.0),
        duration_holdout=ibis.literal(float((end - cut) / unit), "float64"),
    )


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("customer_id", ignore_index=True)
    frame["frequency"] = frame["frequency"].astype("int64")
    if "frequency_holdout" in frame.columns:
        frame["frequency_holdout"] = frame["frequency_holdout"].astype("int64")
    return frame


def workspace_summary(
    con: ibis.BaseBackend,
    workspace_id: int,
    *,
    observation_end: date,
    calibration_end: date | None = None,
    time_unit: str = "D",
    zone: str = "UTC",
    currency: str = "TWD",
) -> pd.DataFrame:
    """The RFM summary of a workspace's purchases (orders neither cancelled nor returned), values in the
    currency's major unit; ``customer_id`` is the internal customer id. Orders after now are refused: they
    are a data error (a wrong year or time zone), and would make a customer's T negative."""
    o = con.table("orders")
    kept = o.filter(o.workspace_id == workspace_id, o.status.notin(list(NON_REVENUE_STATUSES)))
    now = utcnow().replace(tzinfo=None)
    ahead = kept.filter(kept.ordered_at > now)
    future = ahead.aggregate(n=ahead.count(), first=ahead.ordered_at.min()).execute()
    if len(future) and int(future["n"].iloc[0] or 0) > 0:
        first = pd.Timestamp(future["first"].iloc[0]).isoformat()
        raise PatronError("clv.future_orders", count=int(future["n"].iloc[0]), first=first)
    scale = 10.0 ** minor_unit_exponent(currency)
    purchases = kept.select(
        customer_id=kept.customer_id,
        ordered_at=kept.ordered_at,
        value=kept.total_minor.cast("float64") / scale,
    )
    expression = summary_expression(
        purchase_days(purchases, zone=zone), observation_end=observation_end, calibration_end=calibration_end,
        time_unit=time_unit,
    )  # fmt: skip
    return _ordered(expression.execute())


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "date",
    monetary_value_col: str | None = None,
    observation_end: date | datetime | str | None = None,
    calibration_end: date | datetime | str | None = None,
    time_unit: str = "D",
    zone: str = "UTC",
) -> pd.DataFrame:
    """The RFM summary of a transactions frame (one row per order or order line), through the same Ibis
    expression on an in-process DuckDB. Times without a zone are calendar times; with one they are counted in
    ``zone``'s days. ``observation_end`` defaults to the latest transaction's day; transactions after it are
    left out."""
    for column in (customer_id_col, datetime_col, *([monetary_value_col] if monetary_value_col else [])):
        if column not in transactions.columns:
            raise PatronError("clv.missing_column", column=column, model="rfm_summary",
                              required=f"{customer_id_col}, {datetime_col}")  # fmt: skip
    moments = pd.to_datetime(transactions[datetime_col], errors="coerce")
    if moments.isna().any():
        row = int(moments.isna().to_numpy().nonzero()[0][0])
        raise PatronError(
            "clv.bad_date", column=datetime_col, row=row + 1, value=str(transactions[datetime_col].iloc[row])
        )
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        zone = "UTC"  # calendar times: their day is the day written
    values: Any = (
        pd.to_numeric(transactions[monetary_value_col], errors="coerce") if monetary_value_col else 0.0
    )
    frame = pd.DataFrame({"customer_id": transactions[customer_id_col].to_numpy(),
                          "ordered_at": moments.astype("datetime64[us]"), "value": values})  # fmt: skip
    if frame["value"].isna().any():
        row = int(frame["value"].isna().to_numpy().nonzero()[0][0])
        raise PatronError("clv.bad_value", column=monetary_value_col, customer=str(frame["customer_id"].iloc[row]),
                          value=str(transactions[monetary_value_col].iloc[row]), model="rfm_summary")  # fmt: skip
    con = ibis.duckdb.connect()
    days = purchase_days(con.create_table("transactions", frame), zone=zone)
    end = _as_date(observation_end) if observation_end is not None else _latest_day(days)
    expression = summary_expression(
        days, observation_end=end, calibration_end=_as_date(calibration_end) if calibration_end else None,
        time_unit=time_unit,
    )  # fmt: skip
    result = _ordered(expression.execute())
    return (
        result if monetary_value_col else result.drop(columns=[c for c in result.columns if "monetary" in c])
    )


def rfm_train_test_split(
    transactions: pd.DataFrame,
    *,
    calibration_end: date | datetime | str,
    observation_end: date | datetime | str,
    **options: Any,
) -> pd.DataFrame:
    """``rfm_summary`` over the calibration window with the holdout columns (see the module docstring)."""
    return rfm_summary(
        transactions, calibration_end=calibration_end, observation_end=observation_end, **options
    )


def _as_date(value: date | datetime | str) -> date:
    return pd.Timestamp(value).date()


def _latest_day(days: ir.Table) -> date:
    latest = int(days.day.max().execute())
    return date.fromordinal(_EPOCH.toordinal() + latest)
