"""CDNOW (Fader, Hardie & Lee 2005): the 2,357-customer 1/10 sample, 39-week calibration ending 1997-09-30
and 39-week holdout, made by tools/cdnow_test_data.py (whole days and cents: nothing rounded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """Per customer, in weeks: frequency, recency, T, monetary_value, and the holdout columns."""
    raw = pd.read_csv(DATA / "cdnow_summary.csv")
    repeats = raw["frequency"].to_numpy()
    return pd.DataFrame({
        "customer_id": raw["customer_id"], "frequency": repeats,
        "recency": raw["recency_days"] / 7, "T": raw["T_days"] / 7,
        "monetary_value": np.where(repeats > 0, raw["repeat_spend_cents"] / 100 / np.maximum(repeats, 1), 0.0),
        "frequency_holdout": raw["frequency_holdout"], "duration_holdout": 39.0,
    })  # fmt: skip
