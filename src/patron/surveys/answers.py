"""Checking answers against a survey definition. Pure functions: the API, the answer page and batch ingest
share them, and every problem names the question and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patron.surveys.schemas import (
    ChoiceQuestion,
    Question,
    ScaleQuestion,
    ServqualQuestion,
    ShowIf,
    SurveyDefinition,
    TextQuestion,
)


@dataclass(frozen=True)
class AnswerProblem:
    question: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerRow:
    """One row of ``survey_answers`` to write."""

    question_key: str
    question_type: str
    item_key: str = ""
    score: int | None = None
    expected_score: int | None = None
    choices: list[str] | None = None
    text: str | None = None
    #: the ends of the question's scale, for scored answers
    scale_min: int | None = None
    scale_max: int | None = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_shown(rule: ShowIf | None, answers: dict[str, Any]) -> bool:
    """Whether a question with this ``show_if`` is asked, given the answers so far."""
    if rule is None:
        return True
    given = answers.get(rule.question)
    if given is None:
        return False
    if rule.between is not None:
        return _is_int(given) and rule.between[0] <= given <= rule.between[1]
    chosen = given if isinstance(given, list) else [given]
    return any(option in chosen for option in rule.any_of or [])


def _scale(question: ScaleQuestion, value: Any) -> tuple[list[AnswerRow], AnswerProblem | None]:
    low, high = question.bounds()
    if not _is_int(value):
        return [], AnswerProblem(question.key, "survey.answer_not_integer", {"low": low, "high": high})
    if not low <= value <= high:
        return [], AnswerProblem(
            question.key, "survey.answer_out_of_range", {"value": value, "low": low, "high": high}
        )
    return [AnswerRow(question.key, question.type, score=value, scale_min=low, scale_max=high)], None


def _choice(question: ChoiceQuestion, value: Any) -> tuple[list[AnswerRow], AnswerProblem | None]:
    allowed = [o.key for o in question.options]
    chosen = value if isinstance(value, list) else [value]
    if question.type == "single_choice" and isinstance(value, list):
        return [], AnswerProblem(question.key, "survey.answer_one_choice")
    if not chosen or not all(isinstance(c, str) for c in chosen):
        return [], AnswerProblem(question.key, "survey.answer_not_choice", {"choices": list(allowed)})
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        return [], AnswerProblem(
            question.key, "survey.answer_unknown_option", {"value": unknown[0], "choices": list(allowed)}
        )
    if len(set(chosen)) != len(chosen):
        return [], AnswerProblem(question.key, "survey.answer_repeated_option")
    if question.max_selected is not None and len(chosen) > question.max_selected:
        return [], AnswerProblem(question.key, "survey.answer_too_many", {"maximum": question.max_selected})
    return [AnswerRow(question.key, question.type, choices=list(chosen))], None


def _text(question: TextQuestion, value: Any) -> tuple[list[AnswerRow], AnswerProblem | None]:
    if not isinstance(value, str):
        return [], AnswerProblem(question.key, "survey.answer_not_text")
    kept = value.strip()
    if len(kept) > question.max_length:
        return [], AnswerProblem(
            question.key, "survey.answer_too_long", {"length": len(kept), "maximum": question.max_length}
        )
    if "\x00" in kept:
        return [], AnswerProblem(question.key, "survey.answer_not_text")
    return ([AnswerRow(question.key, question.type, text=kept)] if kept else []), None


def _servqual(question: ServqualQuestion, value: Any) -> tuple[list[AnswerRow], AnswerProblem | None]:
    low, high = question.bounds()
    if not isinstance(value, dict):
        return [], AnswerProblem(question.key, "survey.answer_servqual_shape")
    rows: list[AnswerRow] = []
    known = {item.key for item in question.items}
    for item_key, pair in value.items():
        if item_key not in known:
            return [], AnswerProblem(
                question.key,
                "survey.answer_unknown_option",
                {"value": item_key, "choices": sorted(known)},
            )
        if not isinstance(pair, dict) or set(pair) != {"expectation", "perception"}:
            return [], AnswerProblem(question.key, "survey.answer_servqual_shape")
        for part in ("expectation", "perception"):
            score = pair[part]
            if not _is_int(score) or not low <= score <= high:
                return [], AnswerProblem(
                    question.key, "survey.answer_out_of_range", {"value": score, "low": low, "high": high}
                )
        rows.append(
            AnswerRow(
                question.key,
                "servqual",
                item_key=item_key,
                score=pair["perception"],
                expected_score=pair["expectation"],
                scale_min=low,
                scale_max=high,
            )
        )
    if question.required and len(rows) < len(known):
        return [], AnswerProblem(question.key, "survey.answer_required")
    return rows, None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def check_answers(
    definition: SurveyDefinition, answers: dict[str, Any], *, complete: bool = True
) -> tuple[list[AnswerRow], list[AnswerProblem]]:
    """Rows to store and problems found. ``complete=False`` checks a partial save: missing answers are fine."""
    problems: list[AnswerProblem] = []
    rows: list[AnswerRow] = []
    by_key: dict[str, Question] = {q.key: q for q in definition.questions}
    for key in answers:
        if key not in by_key:
            problems.append(AnswerProblem(key, "survey.answer_unknown_question"))
    accepted: dict[str, Any] = {}
    for question in definition.questions:
        value = answers.get(question.key)
        shown = is_shown(question.show_if, accepted)
        if _blank(value):
            if shown and question.required and complete:
                problems.append(AnswerProblem(question.key, "survey.answer_required"))
            continue
        if not shown:
            problems.append(
                AnswerProblem(
                    question.key,
                    "survey.answer_not_shown",
                    {"condition": question.show_if.question if question.show_if else ""},
                )
            )
            continue
        if isinstance(question, ScaleQuestion):
            found, problem = _scale(question, value)
        elif isinstance(question, ChoiceQuestion):
            found, problem = _choice(question, value)
        elif isinstance(question, TextQuestion):
            found, problem = _text(question, value)
        else:
            found, problem = _servqual(question, value)
        if problem is not None:
            problems.append(problem)
            continue
        accepted[question.key] = value
        rows.extend(found)
    return rows, problems
