"""Texts per second and peak memory: Patron's sentiment alone, Patron's pipeline (language, analysis copy, PII
masking, sentiment), and snownlp's sentiment (the usual Python choice) on the same short Chinese reviews.

    python bench/text.py PATH_TO_SHARED_DATASETS [--texts 20000] [--snownlp-texts 500]

Texts: reviews of at most 60 characters from online_shopping_10_cats, every other one converted to Traditional
(Taiwan phrasing). Each contender runs in its own process so its peak resident memory (ru_maxrss) is its own;
loading is timed apart from scoring. snownlp is installed into the venv for this bench only (pip install
snownlp); it is no dependency of Patron.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SHOPPING = "online_shopping_10_cats/online_shopping_10_cats.csv"


def texts(datasets: Path, count: int) -> list[str]:
    import opencc

    with (datasets / SHOPPING).open(encoding="utf-8-sig", newline="") as file:
        reviews = [row["review"] for row in csv.DictReader(file) if 0 < len(row["review"]) <= 60]
    random.Random(20261202).shuffle(reviews)
    converter = opencc.OpenCC("s2twp")
    chosen = reviews[:count]
    return [converter.convert(text) if i % 2 else text for i, text in enumerate(chosen)]


def worker(kind: str, datasets: Path, count: int) -> dict[str, float]:
    sample = texts(datasets, count)
    start = time.perf_counter()
    if kind == "snownlp":
        from snownlp import SnowNLP

        SnowNLP("好").sentiments  # noqa: B018 (loads its model)
        loaded = time.perf_counter()
        for text in sample:
            SnowNLP(text).sentiments  # noqa: B018
    else:
        from patron.text.normalise import detect_language, normalise
        from patron.text.pii import mask
        from patron.text.sentiment import shipped_model

        model = shipped_model()
        loaded = time.perf_counter()
        if kind == "sentiment":
            for offset in range(0, len(sample), 10_000):
                model.probabilities(sample[offset : offset + 10_000])
        else:
            for offset in range(0, len(sample), 10_000):
                batch = sample[offset : offset + 10_000]
                [detect_language(text) for text in batch]
                masked = [mask(text) for text in batch]
                [normalise(text) for text in masked]
                model.probabilities(masked)
    done = time.perf_counter()
    return {
        "texts": len(sample),
        "load_seconds": loaded - start,
        "texts_per_second": len(sample) / (done - loaded),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--snownlp-texts", type=int, default=500)
    parser.add_argument("--worker", choices=["sentiment", "pipeline", "snownlp"])
    args = parser.parse_args()
    if args.worker:
        count = args.snownlp_texts if args.worker == "snownlp" else args.texts
        print(json.dumps(worker(args.worker, args.datasets, count)))
        return 0
    results = {}
    for kind in ("sentiment", "pipeline", "snownlp"):
        out = subprocess.run(
            [sys.executable, __file__, str(args.datasets), "--worker", kind, "--texts", str(args.texts),
             "--snownlp-texts", str(args.snownlp_texts)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    snow = results["snownlp"]["texts_per_second"]
    print(f"{'':12} {'texts':>7} {'load s':>7} {'texts/s':>10} {'× snownlp':>10} {'peak MB':>8}")
    for kind, result in results.items():
        print(
            f"{kind:12} {result['texts']:>7} {result['load_seconds']:>7.3f} {result['texts_per_second']:>10,.0f} "
            f"{result['texts_per_second'] / snow:>10.1f} {result['peak_rss_mb']:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
