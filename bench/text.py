"""Texts per second and peak memory: Patron's sentiment alone, Patron's pipeline (language, analysis copy, PII
masking, sentiment), and snownlp's sentiment (the usual Python choice) on the same short Chinese reviews; and
Patron's sentiment on the 2,000 UCI English sentences with the second look on (``english``) and off
(``english-fast``). The "× snownlp" column compares with snownlp on the Chinese reviews.

    python bench/text.py PATH_TO_SHARED_DATASETS [--texts 20000] [--snownlp-texts 500]
    python bench/text.py PATH_TO_SHARED_DATASETS --reanalyse 1000000 [--backends sqlite,postgresql]

Texts: reviews of at most 60 characters from online_shopping_10_cats, every other one converted to Traditional
(Taiwan phrasing). Each contender runs in its own process so its peak resident memory (ru_maxrss) is its own;
loading is timed apart from scoring. snownlp is installed into the venv for this bench only (pip install
snownlp); it is no dependency of Patron.

``--reanalyse N``: N comments stored in a throwaway SQLite database (and a throwaway PostgreSQL cluster,
tests/pg.py), then all analysed again as after a taxonomy change (``feedback.service.analyze``, the path of
``patron feedback analyze`` and of a taxonomy edit): sentiment per item and per clause, themes, mentions written.
The comments are the shopping reviews (every other one in Traditional) and the UCI English sentences, repeated;
their analysis copies are computed once per distinct text. Storing and re-analysing each run in their own process,
so the peak RSS is the re-analysis's own; snownlp on a sample, extrapolated to N, is what a user would otherwise
run (sentiment only).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SHOPPING = "online_shopping_10_cats/online_shopping_10_cats.csv"
UCI = ("uci_sentiment_sentences/amazon_cells_labelled.txt", "uci_sentiment_sentences/yelp_labelled.txt")
SLUG = "bench-text"


def texts(datasets: Path, count: int) -> list[str]:
    import opencc

    with (datasets / SHOPPING).open(encoding="utf-8-sig", newline="") as file:
        reviews = [row["review"] for row in csv.DictReader(file) if 0 < len(row["review"]) <= 60]
    random.Random(20261202).shuffle(reviews)
    converter = opencc.OpenCC("s2twp")
    chosen = reviews[:count]
    return [converter.convert(text) if i % 2 else text for i, text in enumerate(chosen)]


def english_texts(datasets: Path) -> list[str]:
    """The 2,000 UCI English sentences (Amazon and Yelp), in file order."""
    sentences: list[str] = []
    for name in UCI:
        with (datasets / name).open(encoding="utf-8") as file:
            sentences += [line.rsplit("\t", 1)[0].strip() for line in file if line.strip()]
    return sentences


def worker(kind: str, datasets: Path, count: int) -> dict[str, float]:
    sample = english_texts(datasets) if kind.startswith("english") else texts(datasets, count)
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
        if kind != "pipeline":
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


def corpus(datasets: Path) -> list[str]:
    """Every shopping review (every other one in Traditional) and every UCI English sentence, shuffled."""
    import opencc

    converter = opencc.OpenCC("s2twp")
    with (datasets / SHOPPING).open(encoding="utf-8-sig", newline="") as file:
        chinese = [row["review"] for row in csv.DictReader(file) if row["review"].strip()]
    texts = [converter.convert(text) if i % 2 else text for i, text in enumerate(chinese)] + english_texts(
        datasets
    )
    random.Random(20261204).shuffle(texts)
    return texts


def store(url: str, datasets: Path, count: int) -> dict[str, float]:
    """A workspace with ``count`` stored, unanalysed comments (analysis copies made once per distinct text)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from patron.core import migrate
    from patron.core import service as core_service
    from patron.core.db import make_engine, transaction
    from patron.feedback.models import FeedbackItem
    from patron.feedback.service import copies

    engine = make_engine(url)
    migrate.upgrade(engine)
    texts = corpus(datasets)
    made = [copies(text) for text in texts]
    start = time.perf_counter()
    with transaction(engine) as session:
        workspace_id = core_service.create_workspace(session, slug=SLUG, name="bench").id
    begin = datetime(2025, 1, 1, tzinfo=UTC)
    for offset in range(0, count, 20_000):
        rows = []
        for i in range(offset, min(offset + 20_000, count)):
            text, copy = texts[i % len(texts)], made[i % len(texts)]
            rows.append({"workspace_id": workspace_id, "source_key": f"bench:{i}", "channel": "review",
                         "source": "bench", "source_id": str(i), "occurred_at": begin + timedelta(seconds=30 * i),
                         "text": text, "masked_text": copy.masked, "analysis_text": copy.analysis,
                         "language": copy.language, "created_at": begin, "updated_at": begin})  # fmt: skip
        with transaction(engine) as session:
            session.execute(insert(FeedbackItem), rows)
    engine.dispose()
    return {"seconds": time.perf_counter() - start, "distinct": len(texts)}


def reanalyse(url: str) -> dict[str, float]:
    """Every stored comment analysed again (``feedback.service.analyze``, in batches), timed, with peak RSS."""
    from patron.core import service as core_service
    from patron.core.db import make_engine, transaction
    from patron.feedback import service
    from patron.text.sentiment import shipped_model

    engine = make_engine(url)
    shipped_model()  # loaded before the clock starts
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with transaction(engine) as session:
        workspace_id = core_service.get_workspace(session, SLUG).id
        report = service.analyze(session, workspace_id=workspace_id, survey_comments=False)
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"items": report.analysed, "mentions": report.mentions, "seconds": seconds,
            "items_per_second": report.analysed / seconds, "loaded_rss_mb": before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def _child(*arguments: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *arguments], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def reanalysis_bench(args: argparse.Namespace) -> int:
    import os
    import tempfile

    sys.path.insert(0, str(ROOT))
    from tests.pg import throwaway_cluster

    count = args.reanalyse
    snow = _child(str(args.datasets), "--worker", "snownlp", "--snownlp-texts", str(args.snownlp_texts))
    print(f"snownlp: {snow['texts_per_second']:,.0f} texts/s on {snow['texts']:.0f} texts, peak "
          f"{snow['peak_rss_mb']:.0f} MB: {count:,} would take {count / snow['texts_per_second']:,.0f} s "
          f"(sentiment only; load average {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                _reanalysis_on("sqlite", f"sqlite:///{folder}/bench.db", args, count, snow)
                continue
            with throwaway_cluster() as url:
                if url is None:
                    print("postgresql: no server binaries; skipped")
                    continue
                _reanalysis_on("postgresql", url, args, count, snow)
    return 0


def _reanalysis_on(
    backend: str, url: str, args: argparse.Namespace, count: int, snow: dict[str, float]
) -> None:
    import os

    stored = _child(str(args.datasets), "--worker", "store", "--url", url, "--reanalyse", str(count))
    print(f"{backend}: {count:,} comments (from {stored['distinct']:,.0f} texts) stored in "
          f"{stored['seconds']:.0f} s (load average {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
    done = _child(str(args.datasets), "--worker", "reanalyse", "--url", url)
    print(f"{backend}: re-analysed {done['items']:,.0f} comments ({done['mentions']:,.0f} theme mentions) in "
          f"{done['seconds']:.1f} s = {done['items_per_second']:,.0f} comments/s, "
          f"{done['items_per_second'] / snow['texts_per_second']:.1f} × snownlp's sentiment alone; peak RSS "
          f"{done['peak_rss_mb']:.0f} MB ({done['loaded_rss_mb']:.0f} MB with the model loaded; "
          f"load average {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--snownlp-texts", type=int, default=500)
    parser.add_argument("--reanalyse", type=int, default=0, help="Comments to store and analyse again")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--url", help="(worker) the database")
    parser.add_argument(
        "--worker",
        choices=["sentiment", "pipeline", "snownlp", "english", "english-fast", "store", "reanalyse"],
    )
    args = parser.parse_args()
    if args.worker == "store":
        print(json.dumps(store(args.url, args.datasets, args.reanalyse)))
        return 0
    if args.worker == "reanalyse":
        print(json.dumps(reanalyse(args.url)))
        return 0
    if args.reanalyse and not args.worker:
        return reanalysis_bench(args)
    if args.worker:
        count = args.snownlp_texts if args.worker == "snownlp" else args.texts
        print(json.dumps(worker(args.worker, args.datasets, count)))
        return 0
    results = {}
    for kind in ("sentiment", "pipeline", "snownlp", "english", "english-fast"):
        # english: the UCI sentences with the second look on (the default); english-fast: with it off
        second_look = {"PATRON_SENTIMENT_SECOND_LOOK": "0" if kind == "english-fast" else "1"}
        out = subprocess.run(
            [sys.executable, __file__, str(args.datasets), "--worker", kind, "--texts", str(args.texts),
             "--snownlp-texts", str(args.snownlp_texts)],
            check=True, capture_output=True, text=True, env={**os.environ, **second_look},
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
