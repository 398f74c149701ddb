"""Assistant retrieval: questions per second and p95 latency at 1k and 10k entries, beside plain BM25.

    python bench/assistant.py [--sizes 1000,10000] [--data ../shared/datasets/esun_faq_zh_hant]

The knowledge base is the E.SUN FAQ (617 entries) repeated until it has the size asked for; each copy after the
first gets a variant tag in its title and answer (「方案 N」), so copies are distinct documents and the word
statistics grow with the size, as a larger real base's would. The questions are the 50 "faq" questions and our
36 paraphrases (tools/tune_assistant.py), asked one after another on one thread. "assistant" is
``retrieval.Index.search`` (four BM25 indexes over rjieba words, Han characters and bigrams, OpenCC, the learned
re-rank of the best 30 and its confidence); "plain
BM25" is one bm25s index over rjieba words of the whole entry, top 5 by ``get_scores`` — the baseline the
issue measured. P@1 is over the right entry (or any copy of it: copies answer the same).

``--semantic`` times the shipped retrieval with the e5 features (``--rerank src/patron/assistant/rerank_e5.json``:
that re-rank alone; docs/assistant.md, fourth round). Its features need a vector of every question and entry text, about 25 ms a question and 100–150 ms
an entry on one thread, once per text (kept in the process). So that 10,000 entries do not take half an hour to
build here, e5 reads the copies without their variant tag by default (``--tagged-vectors`` embeds them as they
are): the vectors are then the 617 originals', and a question's work is the same as with distinct vectors (one
question vector, a product with each candidate's vectors). The build time printed is then BM25's and 617 entries'
embedding; the first line prints the cold embedding time per entry.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
import numpy as np
import rjieba

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tools.tune_assistant import DEFAULT_DATA, esun_cases, own_cases  # noqa: E402

from patron.assistant.retrieval import Document, Index, load_reranker, normalise  # noqa: E402
from patron.assistant.service import esun_entries, percentile  # noqa: E402
from patron.text.encoder import Embedder  # noqa: E402

TAG = re.compile(r"（方案 \d+）")


class TagBlind(Embedder):
    """e5 vectors of the texts without the copies' variant tag (see the module's docstring)."""

    def texts(self, texts: list[str], query: bool) -> np.ndarray:
        return super().texts([TAG.sub("", t) for t in texts], query)


def knowledge_base(data: Path, size: int) -> list[Document]:
    entries = esun_entries(json.loads((data / "pid_map_content.json").read_text(encoding="utf-8")))
    documents = []
    for n in range(size):
        e = entries[n % len(entries)]
        copy = n // len(entries)
        tag = f"（方案 {copy}）" if copy else ""
        documents.append(Document(e.external_id, (e.title + tag, *e.phrasings), e.answer + tag))
    return documents


def plain_bm25(documents: list[Document]) -> Callable[[str], list[str]]:
    def words(text: str) -> list[str]:
        return [w for w in rjieba.cut(normalise(text)) if w.strip()]

    model = bm25s.BM25()
    model.index([words(" ".join((*d.questions, d.answer))) for d in documents], show_progress=False)
    keys = [d.key for d in documents]

    def search(question: str) -> list[str]:
        scores = model.get_scores(words(question))
        return [keys[i] for i in np.argsort(-scores)[:5]]

    return search


def run(name: str, search: Callable[[str], list[str]], cases: list[tuple[str, str]]) -> None:
    latencies, right = [], 0
    for question, key in cases:
        started = time.perf_counter()
        found = search(question)
        latencies.append((time.perf_counter() - started) * 1000)
        right += bool(found) and found[0] == key
    total = sum(latencies) / 1000
    print(f"  {name:<11} {len(cases) / total:8.1f} questions/s  p95 {percentile(latencies, 0.95):6.1f} ms  "
          f"median {statistics.median(latencies):6.1f} ms  P@1 {right / len(cases):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rerank", type=Path, help="a re-rank file instead of the shipped one")
    parser.add_argument(
        "--semantic", action="store_true", help="the e5 re-rank orders, the shipped one is sure"
    )
    parser.add_argument("--tagged-vectors", action="store_true", help="embed every copy as it is (slow)")
    args = parser.parse_args()
    cases = esun_cases(args.data) + own_cases()
    reranker = load_reranker(args.rerank) if args.rerank else True
    embedder: Embedder | None = None
    if args.semantic or (args.rerank and load_reranker(args.rerank).semantic):
        embedder = Embedder() if args.tagged_vectors else TagBlind()
        started = time.perf_counter()
        Index(knowledge_base(args.data, 617), reranker=reranker, semantic=embedder)
        cold = time.perf_counter() - started
        print(
            f"617 entries indexed cold in {cold:.1f} s ({cold / 617 * 1000:.0f} ms an entry with its e5 vectors)"
        )
    for size in (int(s) for s in args.sizes.split(",")):
        documents = knowledge_base(args.data, size)
        started = time.perf_counter()
        index = Index(documents, reranker=reranker, semantic=embedder)
        built = time.perf_counter() - started
        started = time.perf_counter()
        baseline = plain_bm25(documents)
        baseline_built = time.perf_counter() - started
        print(f"{size} entries (index built in {built:.1f} s; plain BM25 in {baseline_built:.1f} s), "
              f"{len(cases)} questions")  # fmt: skip
        rounds: list[tuple[str, Callable[[str], list[str]]]] = [
            ("assistant", lambda q, index=index: [h.key for h in index.search(q, limit=5)[0]]),
            ("plain BM25", baseline),
        ]
        for name, search in rounds:
            for question, _ in cases[:5]:  # warm-up, not counted
                search(question)
            run(name, search, cases)


if __name__ == "__main__":
    main()
