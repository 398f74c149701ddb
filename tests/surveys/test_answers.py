"""Answer checking: scales, choices, follow-ups, SERVQUAL pairs, and a fuzz of bad values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.surveys.answers import check_answers
from patron.surveys.service import templates

NPS = templates()["relationship_nps"]
SERVQUAL = templates()["servqual"]


def codes(answers: dict[str, Any], definition: Any = NPS) -> list[tuple[str, str]]:
    return [(p.question, p.code) for p in check_answers(definition, answers)[1]]


def test_a_detractor_gets_what_went_wrong_and_a_promoter_the_testimonial() -> None:
    rows, problems = check_answers(NPS, {"nps": 3, "went_wrong": " 送貨太慢 ", "value_most": "price_value"})
    assert problems == []
    assert [(r.question_key, r.score, r.text, r.choices) for r in rows] == [
        ("nps", 3, None, None), ("went_wrong", None, "送貨太慢", None), ("value_most", None, None, ["price_value"]),
    ]  # fmt: skip
    assert codes({"nps": 3, "testimonial": "great"}) == [("testimonial", "survey.answer_not_shown")]
    assert codes({"nps": 9, "went_wrong": "x"}) == [("went_wrong", "survey.answer_not_shown")]
    assert codes({"nps": 10, "testimonial": "好喝！"}) == []


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, [("nps", "survey.answer_required")]),
        ({"nps": 11}, [("nps", "survey.answer_out_of_range")]),
        ({"nps": -1}, [("nps", "survey.answer_out_of_range")]),
        ({"nps": "9"}, [("nps", "survey.answer_not_integer")]),
        ({"nps": True}, [("nps", "survey.answer_not_integer")]),
        ({"nps": 7.5}, [("nps", "survey.answer_not_integer")]),
        ({"nps": 8, "value_most": "cheapness"}, [("value_most", "survey.answer_unknown_option")]),
        ({"nps": 8, "value_most": ["brand", "convenience"]}, [("value_most", "survey.answer_one_choice")]),
        ({"nps": 8, "reason": "x" * 2001}, [("reason", "survey.answer_too_long")]),
        ({"nps": 8, "reason": 42}, [("reason", "survey.answer_not_text")]),
        ({"nps": 8, "favourite_colour": "red"}, [("favourite_colour", "survey.answer_unknown_question")]),
    ],
)
def test_bad_answers_are_named(answers: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert codes(answers) == expected


def test_servqual_pairs() -> None:
    full = {item.key: {"expectation": 6, "perception": 5} for item in SERVQUAL.questions[0].items}  # type: ignore[union-attr]
    rows, problems = check_answers(SERVQUAL, {"quality": full})
    assert problems == [] and len(rows) == 5 and all((r.expected_score, r.score) == (6, 5) for r in rows)
    missing_one = dict(list(full.items())[:4])
    assert codes({"quality": missing_one}, SERVQUAL) == [("quality", "survey.answer_required")]
    assert codes({"quality": {**full, "pleasant_store": {"expectation": 8, "perception": 1}}}, SERVQUAL) == [
        ("quality", "survey.answer_out_of_range")
    ]
    assert codes({"quality": {**full, "pleasant_store": 5}}, SERVQUAL) == [
        ("quality", "survey.answer_servqual_shape")
    ]


def test_partial_saves_accept_missing_required_answers() -> None:
    assert check_answers(NPS, {}, complete=False)[1] == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["nps", "reason", "went_wrong", "testimonial", "value_most", "improve", "x"]),
        json_values,
        max_size=7,
    )
)
def test_fuzzed_answers_never_crash_and_accepted_ones_are_valid(answers: dict[str, Any]) -> None:
    rows, problems = check_answers(NPS, answers)
    if not problems:
        scores = [r.score for r in rows if r.question_key == "nps"]
        assert len(scores) == 1 and isinstance(scores[0], int) and 0 <= scores[0] <= 10
