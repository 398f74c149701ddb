"""Survey definitions: templates, validation with named problems, three languages, OpenCC derivation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patron.core.errors import PatronError
from patron.surveys import texts
from patron.surveys.service import InvalidSurvey, load_definition_file, parse_definition, templates
from tests.core.test_i18n_security import half_width_punctuation

MINIMAL = {
    "key": "quick_nps",
    "kind": "nps",
    "touchpoint": "relationship",
    "name": "快速調查",
    "questions": [
        {
            "key": "nps",
            "type": "nps",
            "label": {"zh-Hant": "您會推薦我們嗎？", "en": "Would you recommend us?"},
        }
    ],
}


def test_built_in_templates_cover_the_usual_surveys_in_three_languages() -> None:
    found = templates()
    assert set(found) == {
        "relationship_nps",
        "post_purchase_csat",
        "support_ces",
        "most_least_liked",
        "servqual",
    }
    for definition in found.values():
        assert definition.missing_languages() == []
    nps = found["relationship_nps"]
    keys = [q.key for q in nps.questions]
    assert keys == ["nps", "reason", "went_wrong", "testimonial", "value_most", "improve"]
    value_most = nps.questions[4]
    assert [o.key for o in value_most.options] == [
        "product_quality",
        "price_value",
        "loyalty_rewards",
        "convenience",
        "brand",
    ]  # type: ignore[union-attr]
    servqual = found["servqual"].questions[0]
    assert {i.dimension.value for i in servqual.items} == {
        "reliability",
        "responsiveness",
        "assurance",
        "empathy",
        "tangibles",
    }  # type: ignore[union-attr]


def _chinese_texts(value: object) -> list[str]:
    """Every zh-Hant and zh-Hans text in a dumped definition."""
    if isinstance(value, dict):
        return [
            text
            for key, item in value.items()
            for text in (
                [item] if key in ("zh-Hant", "zh-Hans") and isinstance(item, str) else _chinese_texts(item)
            )
        ]
    if isinstance(value, list):
        return [text for item in value for text in _chinese_texts(item)]
    return []


def test_template_chinese_uses_full_width_punctuation() -> None:
    for definition in templates().values():
        texts = _chinese_texts(definition.model_dump(mode="json"))
        assert len(texts) > 4, definition.key
        wrong = [text for text in texts if half_width_punctuation(text)]
        assert not wrong, (definition.key, wrong)


def test_one_chinese_script_is_derived_from_the_other() -> None:
    definition = parse_definition(MINIMAL)
    assert definition.name == {"zh-Hant": "快速調查", "zh-Hans": "快速调查"}
    assert definition.questions[0].label["zh-Hans"] == "您会推荐我们吗？"
    assert texts.complete({"zh_CN": "软件质量"})["zh-Hant"] == "軟體質量", "Taiwan vocabulary (s2twp)"
    assert definition.missing_languages() == ["name: en"]


def test_fallback_order() -> None:
    labels = {"zh-Hant": "繁", "en": "en"}
    assert (
        texts.pick(labels, "zh-Hans") == "繁"
        and texts.pick(labels, "en-US") == "en"
        and texts.pick(labels, "fr") == "繁"
    )


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"kind": "csat"}, ""),
        ({"touchpoint": "moon"}, "touchpoint"),
        ({"questions": []}, "questions"),
        (
            {
                "questions": [
                    {"key": "nps", "type": "nps", "label": "x"},
                    {"key": "nps", "type": "text", "label": "y"},
                ]
            },
            "",
        ),
        (
            {
                "questions": [
                    {"key": "nps", "type": "nps", "label": "x"},
                    {
                        "key": "t",
                        "type": "text",
                        "label": "y",
                        "show_if": {"question": "later", "between": [0, 6]},
                    },
                ]
            },
            "",
        ),
        (
            {
                "questions": [
                    {"key": "nps", "type": "nps", "label": "x"},
                    {
                        "key": "t",
                        "type": "text",
                        "label": "y",
                        "show_if": {"question": "nps", "between": [6, 0]},
                    },
                ]
            },
            "questions[1].show_if",
        ),
        ({"questions": [{"key": "nps", "type": "nps", "label": {"fr": "x"}}]}, "questions[0].label"),
        ({"questions": [{"key": "Bad Key", "type": "nps", "label": "x"}]}, "questions[0].key"),
        (
            {"questions": [{"key": "nps", "type": "nps", "label": "x", "colour": "red"}]},
            "questions[0].colour",
        ),
        (
            {
                "questions": [
                    {"key": "nps", "type": "nps", "label": "x"},
                    {
                        "key": "c",
                        "type": "single_choice",
                        "label": "y",
                        "options": [{"key": "a", "label": "A"}],
                    },
                ]
            },
            "questions[1].options",
        ),
    ],
)
def test_invalid_definitions_name_where_the_problem_is(change: dict[str, object], location: str) -> None:
    with pytest.raises(InvalidSurvey) as caught:
        parse_definition({**MINIMAL, **change})
    assert location in [d["location"] for d in caught.value.details()], caught.value.details()


@pytest.mark.parametrize(
    ("change", "messages"),
    [
        (
            {"questions": [{"key": "nps", "type": "nps", "label": "x"}, {"key": "c", "type": "csat", "label": "y", "scale": 7}]},
            ("questions[1].scale: must be 5 or 10", "questions[1].scale：必須是 5 或 10", "questions[1].scale：必须是 5 或 10"),
        ),
        (
            {"questions": [{"key": "nps", "type": "nps", "label": "x"}, {"key": "c", "type": "moon", "label": "y"}]},
            ("questions[1].type: must be nps, csat, ces, rating, single_choice, multiple_choice, text or servqual",
             "questions[1].type：必須是 nps、csat、ces、rating、single_choice、multiple_choice、text 或 servqual",
             "questions[1].type：必须是 nps、csat、ces、rating、single_choice、multiple_choice、text 或 servqual"),
        ),
        (
            {"questions": [{"key": "nps", "type": "nps", "label": "x", "show_if": {"question": "a", "between": [1]}}]},
            ("questions[0].show_if.between[1]: is required", "questions[0].show_if.between[1]：為必填",
             "questions[0].show_if.between[1]：为必填"),
        ),
        (
            {"settings": {"sampling_rate": 0}},
            ("settings.sampling_rate: must be more than 0", "settings.sampling_rate：必須大於 0",
             "settings.sampling_rate：必须大于 0"),
        ),
        (
            {"questions": [{"key": "nps", "type": "nps", "label": {"fr": "x"}}]},
            ("questions[0].label: 'fr' is not a language here; use zh-Hant, zh-Hans or en",
             "questions[0].label：「fr」不是可用的語言；請用 zh-Hant、zh-Hans 或 en",
             "questions[0].label：“fr”不是可用的语言；请用 zh-Hant、zh-Hans 或 en"),
        ),
        (
            {"kind": "csat"},
            ("a csat survey needs a question of type csat", "csat 問卷需要一題 csat 類型的題目",
             "csat 问卷需要一道 csat 类型的题目"),
        ),
    ],
)  # fmt: skip
def test_invalid_definitions_are_explained_in_each_language_with_the_field_path(
    change: dict[str, object], messages: tuple[str, str, str]
) -> None:
    """No Pydantic English ("Input should be…") and no union tags ("questions.1.csat.scale") reach the writer."""
    with pytest.raises(InvalidSurvey) as caught:
        parse_definition({**MINIMAL, **change}, "s.yaml")
    for locale, expected in zip(("en", "zh-Hant", "zh-Hans"), messages, strict=True):
        assert [d["message"] for d in caught.value.details(locale)] == [expected]
    assert caught.value.message("en") == f"The survey in s.yaml is not valid: {messages[0]}."
    assert caught.value.message("zh-Hant") == f"s.yaml 中的問卷定義無效：{messages[1]}。"


def test_many_problems_are_summed_up_after_the_first_five() -> None:
    questions = [
        {"key": "nps", "type": "nps", "label": "x"},
        *({"key": f"q{i}", "type": "nps"} for i in range(7)),
    ]
    with pytest.raises(InvalidSurvey) as caught:
        parse_definition({**MINIMAL, "questions": questions}, "s.yaml")
    assert len(caught.value.details()) == 7
    assert caught.value.message("en").endswith("questions[5].label: is required; and 2 more.")
    assert caught.value.message("zh-Hans").endswith("questions[5].label：为必填；另有 2 项。")


def test_definition_files(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(MINIMAL, ensure_ascii=False), encoding="utf-8-sig")
    assert load_definition_file(tmp_path / "s.json").key == "quick_nps"
    (tmp_path / "bad.yaml").write_text("key: [unclosed", encoding="utf-8")
    (tmp_path / "big5.yaml").write_bytes("name: 問卷\n".encode("big5"))
    for name, code in (
        ("bad.yaml", "survey.unreadable"),
        ("big5.yaml", "survey.not_utf8"),
        ("none.yaml", "import.file_not_found"),
    ):
        with pytest.raises(PatronError) as caught:
            load_definition_file(tmp_path / name)
        assert caught.value.code == code
