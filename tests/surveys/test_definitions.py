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
        ({"kind": "csat"}, "(top)"),
        ({"touchpoint": "moon"}, "touchpoint"),
        ({"questions": []}, "questions"),
        (
            {
                "questions": [
                    {"key": "nps", "type": "nps", "label": "x"},
                    {"key": "nps", "type": "text", "label": "y"},
                ]
            },
            "(top)",
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
            "(top)",
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
            "questions.1.text.show_if",
        ),
        ({"questions": [{"key": "nps", "type": "nps", "label": {"fr": "x"}}]}, "questions.0.nps.label"),
        ({"questions": [{"key": "Bad Key", "type": "nps", "label": "x"}]}, "questions.0.nps.key"),
        (
            {"questions": [{"key": "nps", "type": "nps", "label": "x", "colour": "red"}]},
            "questions.0.nps.colour",
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
            "questions.1.single_choice.options",
        ),
    ],
)
def test_invalid_definitions_name_where_the_problem_is(change: dict[str, object], location: str) -> None:
    with pytest.raises(InvalidSurvey) as caught:
        parse_definition({**MINIMAL, **change})
    assert location in [d["location"] for d in caught.value.details()], caught.value.details()


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
