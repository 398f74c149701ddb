"""The theme taxonomy: themes defined by keywords in three languages, read from YAML, matched clause by clause.

The shipped taxonomy is ``data/taxonomy.yaml``; a workspace may store its own versions (``FeedbackTaxonomy``).
Chinese keywords are converted to Simplified when the taxonomy is read and matched on the Simplified analysis
copy, so a comment written in either script matches a keyword written in either. English keywords match whole
words, case-insensitively; a trailing ``*`` matches any ending. A bad file is refused with a named error that
gives the line (docs/feedback.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from patron.core.errors import PatronError
from patron.core.i18n import LOCALES
from patron.text.normalise import normalise

GROUPS = ("servqual", "cx")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
MAX_KEYWORDS = 500
MAX_KEYWORD_LENGTH = 64
MAX_THEMES = 200
#: The longest taxonomy document the API and the dashboard editor accept, in characters.
MAX_TAXONOMY_CHARS = 1_000_000
SHIPPED_ORIGIN = "shipped"


@dataclass(frozen=True)
class Theme:
    key: str
    group: str
    names: dict[str, str]
    zh: tuple[str, ...]  # Simplified, lower-cased
    en: tuple[str, ...]
    pattern: re.Pattern[str] | None  # English keywords, whole words
    #: Opinion words that decide this theme's sentiment in a clause that mentions it ("cold" is bad for soup):
    #: (Simplified zh, English pattern) for negative, then for positive.
    negative: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)
    positive: tuple[tuple[str, ...], re.Pattern[str] | None] = ((), None)

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names["en"]

    def matches(self, clause: str) -> bool:
        """``clause`` is a lower-cased Simplified analysis copy."""
        return _found(clause, self.zh, self.pattern)

    def cue(self, clause: str) -> str | None:
        """ "negative" or "positive" when the clause holds one of the theme's opinion words (negative first)."""
        if _found(clause, *self.negative):
            return "negative"
        if _found(clause, *self.positive):
            return "positive"
        return None


def _found(clause: str, zh: tuple[str, ...], pattern: re.Pattern[str] | None) -> bool:
    """Whether ``clause`` contains one of the Chinese words (as a substring) or matches the English pattern."""
    chinese = _any_of(zh)
    if chinese is not None and chinese.search(clause) is not None:
        return True
    return pattern is not None and pattern.search(clause) is not None


@lru_cache(maxsize=8192)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for "contains any of ``words``": the same answer as ``any(w in clause for w in words)``, in one
    search in C rather than a Python loop over the words (theme matching was most of an item's analysis)."""
    if not words:
        return None
    return re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)))


@dataclass(frozen=True)
class Taxonomy:
    version: int
    origin: str  # "shipped" or "workspace"
    themes: tuple[Theme, ...]
    document: dict[str, Any]

    @property
    def tag(self) -> str:
        """What an analysed item records: re-analysis happens when the workspace's tag changes."""
        return f"{self.origin}:{self.version}"

    def by_key(self) -> dict[str, Theme]:
        return {theme.key: theme for theme in self.themes}

    def themes_of(self, clause: str) -> list[str]:
        lowered = clause.lower()
        return [theme.key for theme in self.themes if theme.matches(lowered)]


def _english_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    parts = []
    for keyword in keywords:
        stem = keyword.rstrip("*")
        body = r"\s+".join(re.escape(word) for word in stem.split())
        parts.append(body + (r"[a-z'\-]*" if keyword.endswith("*") else ""))
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])")


class _Reader:
    """Walks the composed YAML nodes, so every problem names its line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, code: str, node: yaml.Node | None, **params: Any) -> PatronError:
        line = node.start_mark.line + 1 if node is not None else 1
        return PatronError(code, source=self.source, line=line, **params)

    def mapping(
        self, node: yaml.Node, field: str, allowed: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("feedback.taxonomy_bad_value", node, field=field)
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key not in allowed:
                raise self.fail(
                    "feedback.taxonomy_unknown_field", key_node, field=str(key), choices=", ".join(allowed)
                )
            found[str(key)] = (key_node, value_node)
        return found

    def text(self, node: yaml.Node, field: str, max_length: int = 200) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:str",
            "tag:yaml.org,2002:int",
        ):
            raise self.fail("feedback.taxonomy_bad_value", node, field=field)
        value = str(node.value).strip()
        if not value or len(value) > max_length:
            raise self.fail("feedback.taxonomy_bad_value", node, field=field)
        return value

    def strings(self, node: yaml.Node, field: str) -> list[str]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) > MAX_KEYWORDS:
            raise self.fail("feedback.taxonomy_bad_value", node, field=field)
        return [self.text(item, field, MAX_KEYWORD_LENGTH) for item in node.value]


def parse_taxonomy(raw: str, *, source: str = "taxonomy", origin: str = "workspace") -> Taxonomy:
    """Read a taxonomy document; any problem is a ``feedback.taxonomy_*`` error naming the line."""
    reader = _Reader(source)
    try:
        root = yaml.compose(raw, Loader=yaml.SafeLoader)
        document = yaml.safe_load(raw)
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        raise PatronError(
            "feedback.taxonomy_syntax", source=source, line=(mark.line + 1) if mark else 1
        ) from None
    except yaml.YAMLError:
        raise PatronError("feedback.taxonomy_syntax", source=source, line=1) from None
    if root is None:
        raise reader.fail("feedback.taxonomy_missing", None, field="themes")
    top = reader.mapping(root, "taxonomy", ("version", "themes"))
    for required in ("version", "themes"):
        if required not in top:
            raise reader.fail("feedback.taxonomy_missing", root, field=required)
    version_node = top["version"][1]
    if not (isinstance(version_node, yaml.ScalarNode) and version_node.tag == "tag:yaml.org,2002:int"
            and 1 <= int(version_node.value) < 1_000_000):  # fmt: skip
        raise reader.fail("feedback.taxonomy_bad_value", version_node, field="version")
    themes_node = top["themes"][1]
    if (
        not isinstance(themes_node, yaml.SequenceNode)
        or not themes_node.value
        or len(themes_node.value) > MAX_THEMES
    ):
        raise reader.fail("feedback.taxonomy_bad_value", themes_node, field="themes")
    themes: list[Theme] = []
    seen: set[str] = set()
    for theme_node in themes_node.value:
        fields = reader.mapping(
            theme_node, "themes", ("key", "group", "names", "keywords", "negative", "positive")
        )

        def need(
            name: str, fields: dict[str, tuple[yaml.Node, yaml.Node]] = fields, node: yaml.Node = theme_node
        ) -> yaml.Node:
            if name not in fields:
                raise reader.fail("feedback.taxonomy_missing", node, field=name)
            return fields[name][1]

        key_node = need("key")
        key = reader.text(key_node, "key", 48)
        if not _KEY.match(key):
            raise reader.fail("feedback.taxonomy_bad_value", key_node, field="key")
        if key in seen:
            raise reader.fail("feedback.taxonomy_duplicate", key_node, key=key)
        seen.add(key)
        group_node = need("group")
        group = reader.text(group_node, "group", 16)
        if group not in GROUPS:
            raise reader.fail("feedback.taxonomy_bad_value", group_node, field="group")
        names_node = need("names")
        names_fields = reader.mapping(names_node, "names", LOCALES)
        for locale in LOCALES:
            if locale not in names_fields:
                raise reader.fail("feedback.taxonomy_missing", names_node, field=f"names.{locale}")
        names = {locale: reader.text(names_fields[locale][1], f"names.{locale}", 100) for locale in LOCALES}
        zh, en, pattern = _words(reader, need("keywords"), "keywords")
        if not zh and not en:
            raise reader.fail("feedback.taxonomy_no_keywords", theme_node, key=key)
        cues = {}
        for polarity in ("negative", "positive"):
            if polarity in fields:
                cue_zh, _, cue_pattern = _words(reader, fields[polarity][1], polarity)
                cues[polarity] = (cue_zh, cue_pattern)
        themes.append(Theme(key, group, names, zh, en, pattern, **cues))
    return Taxonomy(int(version_node.value), origin, tuple(themes), document)


def _words(
    reader: _Reader, node: yaml.Node, field: str
) -> tuple[tuple[str, ...], tuple[str, ...], re.Pattern[str] | None]:
    """A ``{zh: [...], en: [...]}`` word list: Chinese in Simplified, English lower-cased, and its pattern."""
    lists = reader.mapping(node, field, ("zh", "en"))
    zh_words = reader.strings(lists["zh"][1], f"{field}.zh") if "zh" in lists else []
    en_words = reader.strings(lists["en"][1], f"{field}.en") if "en" in lists else []
    # A "Chinese" keyword written only in Latin letters (APP) is matched as an English word.
    latin = [word for word in zh_words if word.isascii()]
    zh = tuple(dict.fromkeys(normalise(word).lower() for word in zh_words if not word.isascii()))
    en = tuple(dict.fromkeys(" ".join(word.lower().split()) for word in [*en_words, *latin]))
    for word in en:
        if not re.fullmatch(r"[a-z0-9'\- ]+\*?", word):
            raise reader.fail("feedback.taxonomy_bad_value", lists["en"][1], field=f"{field}.en")
    return zh, en, _english_pattern(en)


@cache
def shipped_taxonomy() -> Taxonomy:
    raw = (resources.files("patron.feedback") / "data" / "taxonomy.yaml").read_text(encoding="utf-8")
    return parse_taxonomy(raw, source="taxonomy.yaml", origin=SHIPPED_ORIGIN)


def shipped_yaml() -> str:
    return (resources.files("patron.feedback") / "data" / "taxonomy.yaml").read_text(encoding="utf-8")
