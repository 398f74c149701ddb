"""Social spike rule: false-alarm and detection rates on generated daily series with known spikes.

    python bench/social_spikes.py [--series 200] [--seed 20261202]

Each series is 365 days of mentions, Poisson with a weekly pattern (Saturday and Sunday 1.3 times the weekday
rate), every mention analysed and negative with probability 0.20. Ten spike days per series (never in the first
28 days, at least 14 days apart) are split evenly between two kinds:

- volume spikes: that day's rate is ``--volume-factor`` times the usual (negative share unchanged);
- negative spikes: that day's negative probability is ``--negative-share`` (volume unchanged).

The rule is ``patron.social.service.series_spikes`` (docs/social.md). A false alarm is an alarm of a kind on a
day without a spike of that kind (days 29–365 only: the first 28 are the first baseline); detection is the share
of spike days of a kind that the rule flags with that kind. Printed per weekday rate.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from patron.social.service import BASELINE_DAYS, Day, series_spikes  # noqa: E402

DAYS = 365
SPIKES = 10
START = date(2025, 1, 6)  # a Monday


def spike_days(rng: np.random.Generator) -> list[int]:
    while True:
        chosen = sorted(rng.choice(np.arange(BASELINE_DAYS, DAYS), size=SPIKES, replace=False).tolist())
        if all(b - a >= 14 for a, b in itertools.pairwise(chosen)):
            return chosen


def run(rate: float, args: argparse.Namespace) -> dict[str, float]:
    rng = np.random.default_rng(args.seed)
    days = [START + timedelta(days=n) for n in range(DAYS)]
    alarms = {"volume": 0, "negative_share": 0}
    quiet = {"volume": 0, "negative_share": 0}
    hits = {"volume": 0, "negative_share": 0}
    planted = {"volume": 0, "negative_share": 0}
    for _ in range(args.series):
        chosen = spike_days(rng)
        kinds = dict(zip(chosen, ["volume", "negative_share"] * (SPIKES // 2), strict=True))
        series = []
        for index, day in enumerate(days):
            expected = rate * (1.3 if day.weekday() >= 5 else 1.0)
            negative_p = 0.20
            if kinds.get(index) == "volume":
                expected *= args.volume_factor
            elif kinds.get(index) == "negative_share":
                negative_p = args.negative_share
            mentions = int(rng.poisson(expected))
            series.append(Day(mentions, mentions, int(rng.binomial(mentions, negative_p))))
        flagged = {(days.index(s.day), s.kind) for s in series_spikes(days, series)}
        for kind in alarms:
            for index in range(BASELINE_DAYS, DAYS):
                if kinds.get(index) == kind:
                    planted[kind] += 1
                    hits[kind] += (index, kind) in flagged
                else:
                    quiet[kind] += 1
                    alarms[kind] += (index, kind) in flagged
    return {
        "volume_false_alarm": alarms["volume"] / quiet["volume"],
        "volume_detection": hits["volume"] / planted["volume"],
        "negative_false_alarm": alarms["negative_share"] / quiet["negative_share"],
        "negative_detection": hits["negative_share"] / planted["negative_share"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--rates", default="3,10,30,100")
    parser.add_argument("--volume-factor", type=float, default=2.5)
    parser.add_argument("--negative-share", type=float, default=0.50)
    args = parser.parse_args()
    print(f"{args.series} series x {DAYS} days, seed {args.seed}, volume x{args.volume_factor}, "
          f"negative share 0.20 -> {args.negative_share}")  # fmt: skip
    print(
        "weekday rate | volume: false alarms per day, detection | negative share: false alarms per day, detection"
    )
    for rate in (float(r) for r in args.rates.split(",")):
        got = run(rate, args)
        print(f"{rate:>12g} | {got['volume_false_alarm']:.4%}  {got['volume_detection']:.1%} | "
              f"{got['negative_false_alarm']:.4%}  {got['negative_detection']:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
