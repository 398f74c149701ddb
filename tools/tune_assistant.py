"""Tune the assistant's retrieval weight and confidence threshold on the E.SUN FAQ (docs/assistant.md).

Two question sets, each retrieved among ALL 617 entries of ../shared/datasets/esun_faq_zh_hant/pid_map_content.json:
the 50 "faq" questions of questions_example.json (right entries in ground_truths_example.json) and our own
paraphrases in tools/data/assistant_paraphrases.jsonl (written by hand from entry titles, zh-Hant and zh-Hans).
For each weight of the whole-entry index (which picks the candidates the learned re-rank orders) it prints P@1,
MRR and recall@5 on both sets, BM25 alone beside the re-ranked; then for the chosen weight the lowest threshold
from which on (it and every higher one, in steps of 0.02) at least 95 % of the answered questions are right on
BOTH sets, and the share each set hands over at it. The re-rank's own weights are fitted without these questions
(tools/train_assistant_rerank.py).

    PYTHONPATH=src python tools/tune_assistant.py [--data ../shared/datasets/esun_faq_zh_hant]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from patron.assistant.retrieval import Document, Index, rank_of, ranking_scores
from patron.assistant.service import esun_entries, evaluate

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "datasets" / "esun_faq_zh_hant"
if not DEFAULT_DATA.exists():
    DEFAULT_DATA = Path("/work/shared/datasets/esun_faq_zh_hant")


def esun_cases(data: Path) -> list[tuple[str, str]]:
    questions = json.loads((data / "questions_example.json").read_text(encoding="utf-8"))["questions"]
    truths = json.loads((data / "ground_truths_example.json").read_text(encoding="utf-8"))["ground_truths"]
    right = {t["qid"]: str(t["retrieve"]) for t in truths}
    return [(q["query"], right[q["qid"]]) for q in questions if q["category"] == "faq"]


def own_cases() -> list[tuple[str, str]]:
    lines = (HERE / "data" / "assistant_paraphrases.jsonl").read_text(encoding="utf-8").splitlines()
    return [(r["question"], str(r["entry"])) for r in map(json.loads, filter(str.strip, lines))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    entries = esun_entries(json.loads((args.data / "pid_map_content.json").read_text(encoding="utf-8")))
    documents = [Document(e.external_id, (e.title, *e.phrasings), e.answer) for e in entries]
    sets = {"esun-faq": esun_cases(args.data), "own": own_cases()}
    print(f"{len(documents)} entries; " + ", ".join(f"{k}: {len(v)} questions" for k, v in sets.items()))
    best_weight, best_mrr = 0.0, -1.0
    for weight in (0.0, 0.5, 1.0, 1.5, 2.0):
        for reranked in (False, True):
            index = Index(documents, entry_weight=weight, reranker=reranked)
            line = [f"weight {weight:.1f} {'re-ranked ' if reranked else 'BM25 alone'}"]
            total = 0.0
            for name, cases in sets.items():
                s = ranking_scores([rank_of(index, q, key) for q, key in cases])
                total += s.mrr
                line.append(f"{name}: P@1 {s.p_at_1:.3f} MRR {s.mrr:.3f} R@5 {s.recall_at_5:.3f}")
            print("  ".join(line))
            if reranked and total > best_mrr:
                best_weight, best_mrr = weight, total
    index = Index(documents, entry_weight=best_weight)
    print(f"chosen weight {best_weight:.1f} (best mean MRR over both sets)")
    chosen = None
    for step in range(0, 101, 2):
        threshold = step / 100
        reports = {name: evaluate(index, cases, threshold) for name, cases in sets.items()}
        line = "  ".join(
            f"{n}: answered {r.answered_share:.2f} right {r.answered_right:.2f}" for n, r in reports.items()
        )
        print(f"threshold {threshold:.2f}  {line}")
        holds = all(r.answered_right >= 0.95 or r.answered_share == 0 for r in reports.values())
        if not holds:
            chosen = None
        elif chosen is None:
            chosen = threshold
    print(f"lowest threshold from which on >= 95 % of the answered are right on both sets: {chosen}")
    if chosen is not None:
        for name, cases in sets.items():
            r = evaluate(index, cases, chosen)
            print(f"{name}: P@1 {r.p_at_1:.3f} MRR {r.mrr:.3f} R@5 {r.recall_at_5:.3f} p95 {r.p95_ms:.1f} ms "
                  f"answered {r.answered_share:.3f} (right {r.answered_right:.3f}) handed over "
                  f"{1 - r.answered_share:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
