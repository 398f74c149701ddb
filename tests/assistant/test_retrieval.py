"""Retrieval without a database: normalising, tokens, ranking, confidence and the evaluation numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.assistant.retrieval import (
    FEATURES,
    LEXICAL,
    Document,
    Index,
    Reranker,
    confidence,
    content_tokens,
    normalise,
    rank_of,
    ranking_scores,
    rerank_confidence,
    shipped_reranker,
    tokens,
)
from patron.assistant.service import THRESHOLD, EntryData, esun_entries, evaluate, percentile

ESUN = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "esun_faq_zh_hant"
if not ESUN.exists():
    ESUN = Path("/work/shared/datasets/esun_faq_zh_hant")

DOCS = [
    Document("ship", ("運費怎麼計算？", "寄送要多少錢"), "單筆訂單滿 1,000 元免運費，未滿收 80 元。"),
    Document("return", ("如何申請退貨？",), "收到商品七天內可在「我的訂單」申請退貨。"),
    Document("points", ("會員點數可以折抵嗎？",), "每 100 點可折抵 1 元。"),
    Document(
        "en-return", ("How do I return an item?",), "Open My orders within seven days and choose Return."
    ),
]


INDEX = Index(DOCS)


@pytest.fixture
def index() -> Index:
    return INDEX


def test_normalise_gives_one_script_and_drops_markup() -> None:
    assert normalise("臺灣<script>alert(1)</script>會員") == "台湾 alert(1) 会员"
    assert normalise("ＡＢＣ") == "abc"


def test_tokens_are_words_and_han_bigrams_without_stop_words() -> None:
    # jieba: 请问 (a stop word, dropped) 退货; characters 请 问 退 货; bigrams: 请问 问退 退货.
    assert tokens("請問退貨") == ["退货", "请", "问", "退", "货", "请问", "问退", "退货"]


def test_a_simplified_question_finds_the_traditional_entry(index: Index) -> None:
    hits, _ = index.search("如何申请退货")
    assert hits[0].key == "return"
    hits, _ = index.search("会员点数能折抵吗")
    assert hits[0].key == "points"


def test_an_english_question_finds_the_english_entry(index: Index) -> None:
    hits, sure = index.search("how can I return my item")
    assert hits[0].key == "en-return" and sure > 0


@pytest.mark.parametrize("question", ["", "😀😀🙏", "!!!???", "환불은 어떻게 하나요"])
def test_questions_without_known_words_find_nothing(index: Index, question: str) -> None:
    assert index.search(question) == ([], 0.0)


def test_an_empty_index_finds_nothing() -> None:
    assert Index([]).search("退貨") == ([], 0.0)


def test_content_tokens_leave_out_the_words_of_asking() -> None:
    # jieba: 如果 (asking) 退货 要 (stop) 怎么办 (asking): only 退货 and its characters and pair are left.
    assert content_tokens("如果退貨要怎麼辦") == ["退货", "退", "货", "退货"]
    assert content_tokens("😀") == []


def test_the_shipped_rerank_matches_the_features() -> None:
    model = shipped_reranker()
    assert model is not None and len(model.weights) == len(LEXICAL) and not model.semantic
    # A candidate that is first and matches every way is more likely right than one that matches nothing.
    strong, weak = model.probability(np.array([[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0.0]]))
    assert 0.0 < weak < strong < 1.0


def test_rerank_probability_and_confidence_by_hand() -> None:
    model = Reranker(weights=(1.0,) + (0.0,) * 7, intercept=-1.0)  # the lexical eight only
    # z = 1 × 1 - 1 = 0 → 0.5; z = 1 × 3 - 1 = 2 → 1 / (1 + e^-2) = 0.880797.
    rows = np.array([[1.0] + [9.0] * 7, [3.0] + [0.0] * 7])
    assert model.probability(rows) == pytest.approx([0.5, 0.880797], abs=1e-6)
    assert rerank_confidence(0.880797) == 0.8808


def test_the_semantic_feature_changes_a_ranking() -> None:
    """「錢包被偷了，卡片怎麼辦」 shares 卡片 and 怎麼 with the annual-fee entry and only 卡 with the stolen-card
    one, so BM25 puts the fee first; e5 finds the stolen card closer (its cosine the larger, so its "below the
    best" feature is 0 and the fee's negative), and a re-rank that reads that feature puts it first."""
    docs = [
        Document("fee", ("卡片年費怎麼算？",), "年費每年收取一次。"),
        Document("stolen", ("信用卡遭竊如何掛失？",), "請立即撥打客服專線停卡。"),
    ]
    question = "錢包被偷了，卡片怎麼辦"
    lexical = Index(docs, reranker=Reranker(weights=(1.0,) + (0.0,) * (len(LEXICAL) - 1), intercept=0.0))
    assert [h.key for h in lexical.search(question)[0]] == ["fee", "stolen"]
    below_best = FEATURES.index("e5_question_below_best")
    weights = tuple(1.0 if i == below_best else 0.0 for i in range(len(FEATURES)))
    semantic = Index(docs, reranker=Reranker(weights=weights, intercept=0.0))
    candidates, rows, _, _ = semantic.features(question)
    assert [docs[i].key for i in candidates] == ["fee", "stolen"]  # BM25's order
    assert rows[0, below_best] < 0 and rows[1, below_best] == 0.0
    assert rows[1, FEATURES.index("e5_question")] > rows[0, FEATURES.index("e5_question")]
    hits, _ = semantic.search(question)
    assert [h.key for h in hits] == ["stolen", "fee"]
    # Probability 1 / (1 + e^0) = 0.5 for the best, below for the other.
    assert hits[0].score == pytest.approx(0.5) and hits[1].score < 0.5


def test_the_e5_rerank_orders_and_the_lexical_one_is_sure() -> None:
    """With both re-ranks, the e5 one orders (the stolen card first, as above) and the confidence is the lexical
    re-rank's probability of that entry: with weight 1 on the best question's BM25 score and intercept 0,
    1 / (1 + e^-s) where s is the stolen card's normalised score (below 1: the fee's question is the best)."""
    docs = [
        Document("fee", ("卡片年費怎麼算？",), "年費每年收取一次。"),
        Document("stolen", ("信用卡遭竊如何掛失？",), "請立即撥打客服專線停卡。"),
    ]
    question = "錢包被偷了，卡片怎麼辦"
    below_best = FEATURES.index("e5_question_below_best")
    ranker = Reranker(
        weights=tuple(1.0 if i == below_best else 0.0 for i in range(len(FEATURES))), intercept=0.0
    )
    lexical = Reranker(weights=(1.0,) + (0.0,) * (len(LEXICAL) - 1), intercept=0.0)
    index = Index(docs, reranker=lexical, semantic=True, ranker=ranker)
    assert index.ranker is ranker
    candidates, rows, _, _ = index.features(question)
    stolen_score = rows[[docs[i].key for i in candidates].index("stolen"), 0]
    assert 0.0 < stolen_score < 1.0
    hits, sure = index.search(question)
    assert [h.key for h in hits] == ["stolen", "fee"]
    assert sure == round(1.0 / (1.0 + np.exp(-stolen_score)), 4)
    assert hits[0].score == pytest.approx(0.5)  # the ranker's probability is the hit's score
    assert Index(docs, reranker=lexical).ranker is None  # no e5 features, no e5 ordering


def test_without_the_rerank_the_bm25_scores_rank() -> None:
    plain = Index(DOCS, reranker=False)
    hits, sure = plain.search("如何申請退貨")
    assert hits[0].key == "return" and hits[0].score > 1.0 and 0 < sure <= 1


def test_confidence_is_coverage_times_lead() -> None:
    # 2 of 4 distinct tokens in the entry; lead (2 - 1) / 2: 0.5 × 0.5.
    assert confidence(["a", "b", "c", "d", "a"], frozenset({"a", "b", "x"}), 2.0, 1.0) == 0.25
    assert confidence([], frozenset({"a"}), 2.0, 1.0) == 0.0
    assert confidence(["a"], frozenset({"a"}), 1.5, 0.0) == 1.0


def test_ranking_scores_by_hand() -> None:
    scores = ranking_scores([1, 2, None, 5, 6])
    # P@1 1/5; MRR (1 + 1/2 + 0 + 1/5 + 1/6) / 5 = 0.37333; recall@5 3/5.
    assert (scores.questions, scores.p_at_1, scores.mrr, scores.recall_at_5) == (5, 0.2, 0.3733, 0.6)
    assert ranking_scores([]).p_at_1 == 0.0


def test_nearest_rank_percentile() -> None:
    assert percentile([40.0, 10.0, 30.0, 20.0], 0.95) == 40.0
    assert percentile([float(v) for v in range(1, 21)], 0.95) == 19.0
    assert percentile([], 0.95) == 0.0


def test_rank_of_and_evaluate(index: Index) -> None:
    assert rank_of(index, "如何申請退貨", "return") == 1
    assert rank_of(index, "如何申請退貨", "nope") is None
    assert rank_of(index, "😀", "return") is None
    report = evaluate(index, [("如何申請退貨", "return"), ("點數折抵", "points")], threshold=0.0)
    assert (report.questions, report.p_at_1, report.mrr, report.answered_share, report.answered_right) == (
        2, 1.0, 1.0, 1.0, 1.0,
    )  # fmt: skip


def test_the_esun_shape_makes_one_entry_per_id() -> None:
    entries = esun_entries(
        {
            "7": [{"question": "什麼是A?", "answers": ["甲"]}],
            "8": [{"question": "Q1?", "answers": ["a1"]}, {"question": "Q2?", "answers": ["a2", "b2"]}],
        }
    )
    assert entries[0] == EntryData("7", "什麼是A?", (), "甲", category="faq")
    assert (entries[1].title, entries[1].phrasings, entries[1].answer) == (
        "Q1?",
        ("Q2?",),
        "Q1?\na1\n\nQ2?\na2\nb2",
    )


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_hits_or_nothing_never_an_error(question: str) -> None:
    hits, sure = INDEX.search(question)
    assert 0.0 <= sure <= 1.0 and len(hits) <= 5
    assert all(hit.score > 0 for hit in hits) and (sure == 0.0 or hits)


@pytest.mark.skipif(not ESUN.exists(), reason="the shared E.SUN data set is not here")
def test_the_esun_figures_measured_in_docs() -> None:
    """The numbers docs/assistant.md reports for the 50 E.SUN "faq" questions among all 617 entries (tools/
    tune_assistant.py), and the share answered at the threshold with 95 % of those right."""
    data = json.loads((ESUN / "pid_map_content.json").read_text(encoding="utf-8"))
    index = Index([Document(e.external_id, (e.title, *e.phrasings), e.answer) for e in esun_entries(data)])
    questions = json.loads((ESUN / "questions_example.json").read_text(encoding="utf-8"))["questions"]
    truths = json.loads((ESUN / "ground_truths_example.json").read_text(encoding="utf-8"))["ground_truths"]
    right = {t["qid"]: str(t["retrieve"]) for t in truths}
    cases = [(q["query"], right[q["qid"]]) for q in questions if q["category"] == "faq"]
    report = evaluate(index, cases)
    assert (report.questions, report.p_at_1, report.mrr, report.recall_at_5) == (50, 0.86, 0.9063, 0.96)
    assert (report.answered_share, report.answered_right) == (0.68, 0.9706)
    assert THRESHOLD == 0.7
