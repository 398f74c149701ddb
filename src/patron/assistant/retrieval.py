"""Offline retrieval over a knowledge base: BM25 (bm25s) over jieba words (rjieba) and character bigrams.

Texts are normalised to one script first (NFKC, lower case, OpenCC Traditional → Simplified), so a zh-Hans
question finds a zh-Hant entry and the other way round. Two indexes are scored and combined, each divided by its
best score for the question: one over every question of an entry (its title and each phrasing, the best of them
counts for the entry) and one over the whole entry (questions and answer). No semantic model: none ships in a
package without a model-hub download (docs/assistant.md). Nothing here touches the database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
import opencc
import rjieba

#: Everyday words customers use for the words FAQs are written in (Simplified, after normalising). Each key found
#: in a text also adds its value, so both spellings meet. General customer-service vocabulary, see
#: docs/assistant.md for how it was chosen.
SYNONYMS: dict[str, str] = {
    "捡到": "拾获",
    "不见": "遗失",
    "丢失": "遗失",
    "弄丢": "遗失",
    "丢了": "遗失",
    "掉了": "遗失",
    "变更": "更新",
    "修改": "更新",
    "更改": "更新",
    "什么意思": "什么是",
    "是什么": "什么是",
    "启用": "开通",
    "重新发卡": "补换发",
    "补发": "补换发",
    "薪资": "薪水",
    "工资": "薪水",
    "手续费": "费用",
    "退钱": "退款",
    "取消订单": "取消交易",
    "运费": "配送费用",
    "送货": "配送",
    "多久": "多少时间",
}
#: Words that carry no topic (after normalising); dropped from word tokens, not from bigrams.
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 请问 请 我 你 您 要 想 可以 如何 怎么 怎样 该 应该 是否 是 有 在 和 与 及 或 都 会 能 "  # noqa: SIM905
    "办 做 the a an to of and or is are do does can i my me you your how what".split()
)
_WORD = re.compile(r"\w+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_TAG = re.compile(r"<[^>]{0,200}>")


@lru_cache(maxsize=1)
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """NFKC, lower case, one script (Simplified), markup tags removed, synonyms added beside their word."""
    text = _TAG.sub(" ", unicodedata.normalize("NFKC", text).lower())
    text = _to_simplified().convert(text)
    for word, canonical in SYNONYMS.items():
        if word in text:
            text = text.replace(word, f"{word} {canonical} ")
    return text


def tokens(text: str) -> list[str]:
    """jieba words (search mode) without stop words, then every Han character and every pair of adjacent ones."""
    out: list[str] = []
    for run in _WORD.findall(normalise(text)):
        out.extend(w for w in rjieba.cut_for_search(run) if w.strip() and w not in STOPWORDS)
        for han in _HAN.findall(run):
            out.extend(han)
            out.extend(han[i : i + 2] for i in range(len(han) - 1))
    return out


@dataclass(frozen=True)
class Document:
    """What retrieval needs of an entry: its key, its questions (title first) and its answer."""

    key: str
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Hit:
    index: int
    key: str
    score: float


#: Weight of the whole-entry index beside the best question's (tools/tune_assistant.py).
ENTRY_WEIGHT = 1.0
#: BM25 term saturation and length normalisation (docs/assistant.md: a grid over both question sets).
K1 = 1.5
B = 0.9


def _bm25(corpus: list[list[str]]) -> bm25s.BM25 | None:
    if not any(corpus):
        return None
    model = bm25s.BM25(k1=K1, b=B)
    # bm25s refuses an empty document; a placeholder token no question can contain keeps positions aligned.
    model.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    return model


class Index:
    """BM25 indexes over a fixed list of documents; ``search`` returns them best first with their score."""

    def __init__(self, documents: Sequence[Document], entry_weight: float = ENTRY_WEIGHT) -> None:
        self.documents = list(documents)
        self.entry_weight = entry_weight
        owners: list[int] = []
        questions: list[list[str]] = []
        whole: list[list[str]] = []
        self.vocabulary: list[frozenset[str]] = []
        for position, document in enumerate(self.documents):
            entry_tokens: list[str] = []
            for question in document.questions:
                words = tokens(question)
                questions.append(words)
                owners.append(position)
                entry_tokens.extend(words)
            entry_tokens.extend(tokens(document.answer))
            whole.append(entry_tokens)
            self.vocabulary.append(frozenset(entry_tokens))
        self._owners = np.asarray(owners, dtype=np.int64)
        self._questions = _bm25(questions)
        self._whole = _bm25(whole)

    def __len__(self) -> int:
        return len(self.documents)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """One combined score per document, in [0, 1 + entry_weight]; all zero when nothing matches."""
        combined = np.zeros(len(self.documents))
        if not query_tokens or self._questions is None or self._whole is None:
            return combined
        per_question = np.asarray(self._questions.get_scores(query_tokens), dtype=float)
        best = np.zeros(len(self.documents))
        np.maximum.at(best, self._owners, per_question)
        whole = np.asarray(self._whole.get_scores(query_tokens), dtype=float)
        if best.max() > 0:
            combined += best / best.max()
        if whole.max() > 0:
            combined += self.entry_weight * whole / whole.max()
        return combined

    def search(
        self, query: str, limit: int = 5, allowed: np.ndarray | None = None
    ) -> tuple[list[Hit], float]:
        """The best ``limit`` documents (score > 0) and the confidence of the first (0 when none)."""
        query_tokens = tokens(query)
        scores = self.scores(query_tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        order = np.argsort(-scores, kind="stable")[:limit]
        hits = [Hit(int(i), self.documents[int(i)].key, float(scores[i])) for i in order if scores[i] > 0]
        if not hits:
            return [], 0.0
        second = hits[1].score if len(hits) > 1 else 0.0
        return hits, confidence(query_tokens, self.vocabulary[hits[0].index], hits[0].score, second)


def confidence(query_tokens: list[str], vocabulary: frozenset[str], first: float, second: float) -> float:
    """How sure the first answer is, in [0, 1]: the share of the question's distinct tokens the entry contains
    times the first score's lead over the second, ``(first - second) / first``. Of the signals tried (lead,
    coverage, top score, their products and means) this product kept the most questions above a threshold with
    95 % of them right (tools/tune_assistant.py, docs/assistant.md). Single Han characters help ranking but are
    left out here: two questions sharing only 「怎」「麼」 are not alike."""
    distinct = {t for t in query_tokens if not (len(t) == 1 and _HAN.match(t))}
    if not distinct or first <= 0:
        return 0.0
    coverage = len(distinct & vocabulary) / len(distinct)
    margin = (first - second) / first
    return round(coverage * margin, 4)


@dataclass(frozen=True)
class Scores:
    """Ranking quality over questions whose right entry is known."""

    questions: int
    p_at_1: float
    mrr: float
    recall_at_5: float


def ranking_scores(ranks: Sequence[int | None]) -> Scores:
    """P@1, MRR and recall@5 from the 1-based rank of each right entry (None: not found at all)."""
    n = len(ranks)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    p1 = sum(1 for r in ranks if r == 1) / n
    mrr = sum(1 / r for r in ranks if r) / n
    r5 = sum(1 for r in ranks if r and r <= 5) / n
    return Scores(n, round(p1, 4), round(mrr, 4), round(r5, 4))


def rank_of(index: Index, query: str, key: str) -> int | None:
    """1-based rank of the document ``key`` for ``query`` among all documents with a score (None: no score)."""
    scores = index.scores(tokens(query))
    keys = [d.key for d in index.documents]
    if key not in keys:
        return None
    position = keys.index(key)
    target = scores[position]
    if target <= 0:
        return None
    # Ties rank as ``search`` orders them: the earlier document first.
    return int((scores > target).sum() + (scores[:position] == target).sum()) + 1
