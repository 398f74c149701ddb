"""Pydantic validation errors as catalog messages that name the field path, in the reader's language.

Pydantic's own texts are English and its locations are tuples such as ``('questions', 2, 'csat', 'scale')``; a
manager who wrote the YAML needs ``questions[2].scale: must be 5 or 10`` in their language. Each error type maps to
a ``validation.*`` code; an error raised as ``PydanticCustomError(code, …)`` with a catalog code keeps its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from patron.core.i18n import FALLBACK_LOCALE, catalog, join_statements, normalize_locale, translate

#: Pydantic error types -> catalog codes; the parameters come from the error's context (``_params``).
_CODES = {
    "missing": "validation.missing",
    "union_tag_not_found": "validation.missing",
    "extra_forbidden": "validation.unknown_field",
    "literal_error": "validation.one_of",
    "enum": "validation.one_of",
    "union_tag_invalid": "validation.one_of",
    "greater_than_equal": "validation.at_least",
    "greater_than": "validation.more_than",
    "less_than_equal": "validation.at_most",
    "less_than": "validation.less_than",
    "too_short": "validation.too_few",
    "too_long": "validation.too_many",
    "string_too_short": "validation.text_too_short",
    "string_too_long": "validation.text_too_long",
    "string_pattern_mismatch": "validation.pattern",
    "int_type": "validation.integer",
    "int_parsing": "validation.integer",
    "int_from_float": "validation.integer",
    "float_type": "validation.number",
    "float_parsing": "validation.number",
    "bool_type": "validation.boolean",
    "bool_parsing": "validation.boolean",
    "string_type": "validation.text",
    "list_type": "validation.list",
    "tuple_type": "validation.list",
    "set_type": "validation.list",
    "dict_type": "validation.mapping",
    "model_type": "validation.mapping",
    "model_attributes_type": "validation.mapping",
}
#: The pattern of keys (``^[a-z][a-z0-9_]{0,63}$``), said in words rather than as a regular expression.
_IDENTIFIER = re.compile(r"\^\[a-z\]\[a-z0-9_\]\{0,(\d+)\}\$")
SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (``path``, empty for the document as a whole) and a catalog code.
    ``choices`` are alternatives, written the way the language says "a, b or c"."""

    path: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()

    def message(self, locale: str | None = None) -> str:
        chosen = normalize_locale(locale) or FALLBACK_LOCALE
        extra = {"choices": alternatives(self.choices, chosen)} if self.choices else {}
        text = translate(self.code, chosen, **self.params, **extra)
        return translate("message.at", chosen, place=self.path, message=text) if self.path else text


def alternatives(choices: tuple[str, ...] | list[str], locale: str) -> str:
    """``a, b or c`` / ``a、b 或 c``."""
    if len(choices) < 2:
        return "".join(choices)
    return translate("validation.or", locale, rest=list(choices[:-1]), last=choices[-1])


def summary(problems: list[Problem], locale: str | None = None) -> str:
    """The first few problems on one line, and how many more there are."""
    chosen = normalize_locale(locale) or FALLBACK_LOCALE
    shown = [problem.message(chosen) for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        shown.append(translate("validation.more", chosen, count=len(problems) - SHOWN_PROBLEMS))
    return join_statements(shown, chosen)


def problems(error: ValidationError, document: Any) -> list[Problem]:
    """Each error of ``error`` (raised validating ``document``) as a Problem."""
    found = []
    for item in error.errors():
        kind, context = item["type"], item.get("ctx") or {}
        path = field_path(item["loc"], document)
        if kind in ("union_tag_invalid", "union_tag_not_found"):  # about the question, found by its type
            path = f"{path}.{str(context.get('discriminator', 'type')).strip(chr(39))}"
        if kind in catalog(FALLBACK_LOCALE):  # raised as PydanticCustomError(code, …)
            found.append(Problem(path, kind, dict(context)))
            continue
        code = _CODES.get(kind)
        if code is None:
            found.append(Problem(path, "validation.invalid", {"reason": item["msg"]}))
            continue
        params, choices = _params(kind, context)
        if code == "validation.pattern" and (identifier := _IDENTIFIER.fullmatch(str(context["pattern"]))):
            code, params = "validation.identifier", {"length": int(identifier.group(1)) + 1}
        found.append(Problem(path, code, params, choices))
    return found


def _params(kind: str, context: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    if kind in ("literal_error", "enum", "union_tag_invalid"):
        expected = str(context.get("expected_tags" if kind == "union_tag_invalid" else "expected", ""))
        return {}, tuple(part.strip("'") for part in re.split(r", | or ", expected) if part)
    limits = {"ge": "limit", "gt": "limit", "le": "limit", "lt": "limit", "min_length": "count",
              "max_length": "count", "pattern": "pattern"}  # fmt: skip
    return {limits[name]: _number(value) for name, value in context.items() if name in limits}, ()


def _number(value: Any) -> Any:
    """0.0 as 0: Pydantic gives a float field's limits as floats."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def field_path(location: tuple[int | str, ...], document: Any) -> str:
    """``('questions', 2, 'csat', 'scale')`` -> ``questions[2].scale``. The document is walked beside the location
    to tell a field from what Pydantic adds to it: the tag of a discriminated union (``'csat'``, the question's
    own ``type``) and the member of a plain union (``'int'``), neither of which the writer typed."""
    path = ""
    current: Any = document
    for part in location:
        if isinstance(part, int) and isinstance(current, (list, tuple)):
            path += f"[{part}]"
            current = current[part] if 0 <= part < len(current) else None
        elif isinstance(current, dict) and part in current:
            path += f".{part}" if path else str(part)
            current = current[part]
        elif isinstance(current, dict) and current.get("type") == part:
            continue  # the union's tag
        elif isinstance(current, dict) or current is None:
            path += f".{part}" if path else str(part)  # a field that is missing or not allowed
            current = None
        # else: a member of a plain union, named by Pydantic over a value that is not a mapping
    return path
