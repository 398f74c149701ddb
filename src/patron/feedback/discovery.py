"""Emerging topics: what customers talk about that no theme of the taxonomy covers yet (docs/feedback.md,
"Discovering emerging topics").

Discovery reads only the analysis copies (masked, width-folded, Simplified) of the items of a period, clause by
clause, with the taxonomy in force:

1. A clause no theme matches is *unmatched*; the others are the *background*.
2. Candidate terms come from each clause: Chinese words (rjieba) of two characters or more and pairs of adjacent
   words whose second has two characters or more (纸 + 吸管 → 纸吸管, not 奶茶 + 喝); English words of three letters or more (a plural folded onto its singular) and
   pairs of adjacent words. Stop words and generic praise or blame (很, 不错, great) are left out, and so is a
   masked placeholder ([EMAIL]). An item counts a term once.
3. A term's *lift* is its share of the items with an unmatched clause over its (smoothed) share of the items
   with a matched clause, counted in those clauses: (f / F) / ((b + ½) / (B + ½)). A candidate needs
   ``MIN_ITEMS`` items and a lift of ``MIN_LIFT``; its weight is items × ln(lift), frequent and distinctive first
   (the weighting of TF-IDF: frequency times the log of how particular the term is).
4. Candidates are grouped, rising first (items minus those of the period before), then by items × ln(lift): one
   joins the first topic whose first term has at least two thirds of its items (纸吸管 and 吸管; "foreign object"
   and "disgusting" in the same posts); a common word with many items elsewhere (奶茶 beside 异物) does not. A keyword another keyword of the
   topic contains is dropped (吸管 already matches 纸吸管).
5. A topic's figures count items with the taxonomy's own matching (Chinese as a substring of the Simplified
   clause, English whole words) in the unmatched clauses, so accepting the topic as a theme gives that theme
   exactly those items in that period.

Accepting a topic (``accept``) stores a new taxonomy version through ``editing.save`` — versioned and applied to
history like any edit — either as a new theme or as more keywords of an existing one. Dismissing one (``dismiss``)
stores its keywords as no topic for the workspace (a shop's name, noise): a term that holds a dismissed keyword,
or is part of one, is no longer a candidate, until ``restore`` undoes it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rjieba
import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.errors import PatronError
from patron.core.i18n import LOCALES
from patron.feedback import editing, service
from patron.feedback.models import FeedbackDismissedTerm, FeedbackItem
from patron.feedback.schemas import (
    DiscoveryExample,
    DiscoveryReport,
    DismissedTerm,
    DismissedTerms,
    EmergingTopic,
    TopicAccepted,
)
from patron.feedback.taxonomy import MAX_KEYWORD_LENGTH, Taxonomy, _english_pattern, _found
from patron.social import service as social_service
from patron.text.normalise import _converter, to_simplified
from patron.text.sentiment import split_clauses

#: A topic needs this many items (in the period, in clauses no theme matches).
MIN_ITEMS = 3
#: A candidate term must be at least this many times as frequent where no theme matches (``lift``).
MIN_LIFT = 2.0
#: Share of a candidate's items that must be among the items of a topic's first term for it to join.
OVERLAP = 2 / 3
MAX_TOPICS = 10
#: The most frequent terms counted again as the taxonomy matches them (bounded work on any period).
MAX_POOL = 400
MAX_KEYWORDS = 4
EXAMPLES = 3
#: The newest items of the period read (and as many of the period before): bounded memory on any history.
MAX_ITEMS = 20_000

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_HAN_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")
_PLACEHOLDER = re.compile(r"\[[a-z_]+\]")
_EN_SEGMENT = re.compile(r"[^a-z'\- ]+")
_EN_WORD = re.compile(r"^[a-z][a-z'\-]*[a-z]$")

# Simplified, as the analysis copy is. Function words, and praise or blame that says nothing about a topic.
_ZH_STOP = frozenset(
    """的 了 是 我 你 他 她 它 们 我们 你们 他们 这 那 这个 那个 这些 那些 一个 很 也 都 就 在 有 和 与 跟 及 不 没 没有
    太 还 又 再 吗 呢 吧 啊 呀 哦 喔 嗯 么 什么 怎么 为什么 因为 所以 但是 可是 而且 然后 如果 虽然 已经 非常 真的 真是
    觉得 感觉 一直 一下 一点 有点 这次 今天 昨天 每次 还是 或是 可以 可能 应该 需要 希望 谢谢 感谢 一样 比较 其实 还有
    自己 大家 时候 东西 下次 再来 会 能 要 想 去 来 到 说 看 让 把 被 给 对 从 向 等 个 些 点 次 后 前 里 上 下 中 好
    不错 很好 好吃 好喝 满意 推荐 喜欢 失望 很差 棒 赞 开心 讨厌 糟糕 方便 还行 一般 普通 超级 特别 完全 总是 到底 请问
    怎么办 为何 真的是 根本 实在 有人 店家 这家 那家 这里 那里 整体 整个 而已 只是 只有 就是 不是 没什么 非常好 超 好像
    还要 处理 不用 看到 一半 一杯 不能 不会 自己 之后 以后 以前 现在 出来 起来 知道 结果 马上 刚好 大概 左右 有没有 是不是
    怎样 那么 这么 多少 几个 一些 所有 全部 每个 其他 别的 有些 比如 例如 另外 然而 而是 或者 还有 不过 并且 于是""".split()  # noqa: SIM905
)
_EN_STOP = frozenset(
    """a an the and or but not no nor is are was were be been being am it its it's this that these those i me my mine
    we our ours you your yours he him his she her they them their what which who whom when where why how all any both
    each few more most other some such only own same so than too very just can could should would will shall may
    might must do does did done doing have has had having there here of to in on at for with from by as about into
    over after before again further then once up down out off above below under until while because if also even
    still yet really quite much many lot lots get got getting make made one two three ever never always sometimes
    good great nice bad terrible awful love loved like liked amazing excellent awesome okay ok fine poor worst best
    happy disappointed disappointing recommend recommended visit come came back thanks thank please time times
    day today yesterday place thing things everything nothing something someone everyone people way well bit
    went go goes going take took taken say said says see saw seen know knew want wanted need needed use used
    half minutes minute hour hours week weeks""".split()  # noqa: SIM905
)


#: Joins an item's clauses into one text to search: no keyword holds it, and it is no white space, so neither a
#: Chinese keyword nor an English phrase (words joined by white space) is found across two clauses.
_JOIN = "\x00"


@dataclass
class _Clauses:
    """One item's clauses, split into those no theme matches and the others (and each kind joined by ``_JOIN``,
    searched once per term)."""

    item_id: int
    unmatched: list[str]
    matched: list[str]
    unmatched_text: str = ""
    matched_text: str = ""

    def __post_init__(self) -> None:
        self.unmatched_text = _JOIN.join(self.unmatched)
        self.matched_text = _JOIN.join(self.matched)


@dataclass
class _Candidate:
    key: str
    surfaces: Counter[str]
    items: set[int]
    #: items × ln(lift): frequent and distinctive first (a keyness weight, like TF-IDF's tf × log idf).
    score: float
    lift: float
    script: str  # "zh" or "en"
    #: items − the items of the period before.
    rise: int = 0


@dataclass
class _Topic:
    keywords: list[_Candidate] = field(default_factory=list)
    items: set[int] = field(default_factory=set)


def _fold(word: str) -> str:
    """An English word's singular, for counting (straws → straw; glass and bus stay)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def clause_terms(clause: str) -> dict[str, tuple[str, str]]:
    """The candidate terms of one lower-cased Simplified clause: counting key → (keyword as it appears, script).
    Pairs are made only of words next to each other, so a pair is itself a phrase of the clause."""
    terms: dict[str, tuple[str, str]] = {}
    cleaned = _PLACEHOLDER.sub(" ", clause)
    position = 0
    for han in _HAN.finditer(cleaned):
        _latin_terms(cleaned[position : han.start()], terms)
        position = han.end()
        words = [word for word in rjieba.cut(han.group()) if word.strip()]
        for index, word in enumerate(words):
            usable = word not in _ZH_STOP and _HAN_ONLY.match(word) is not None
            if usable and len(word) >= 2:
                terms.setdefault(word, (word, "zh"))
            if index + 1 < len(words) and usable:
                after = words[index + 1]
                if (
                    after not in _ZH_STOP
                    and _HAN_ONLY.match(after)
                    and len(after) >= 2
                    and len(word + after) <= 8
                ):
                    terms.setdefault(word + after, (word + after, "zh"))
    _latin_terms(cleaned[position:], terms)
    return terms


def _latin_terms(text: str, terms: dict[str, tuple[str, str]]) -> None:
    for segment in _EN_SEGMENT.split(text):
        words = [word.strip("'-") for word in segment.split()]
        previous: str | None = None
        for word in words:
            if not _EN_WORD.match(word) or word in _EN_STOP or len(word) < 3:
                previous = None
                continue
            terms.setdefault(_fold(word), (word, "en"))
            if previous is not None:
                terms.setdefault(f"{_fold(previous)} {_fold(word)}", (f"{previous} {word}", "en"))
            previous = word


def lift(foreground: int, foreground_items: int, background: int, background_items: int) -> float:
    """How many times more often a term is in the items with a clause no theme matches than in the items with a
    clause a theme matches (its clauses there), item shares with half an item added to the background so a term
    never seen there has a finite lift: (f / F) / ((b + ½) / (B + ½))."""
    if not foreground_items:
        return 0.0
    return (foreground / foreground_items) / ((background + 0.5) / (background_items + 0.5))


@dataclass(frozen=True)
class _Matcher:
    zh: tuple[str, ...]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, keywords: Iterable[str]) -> _Matcher:
        """The taxonomy's matching for these keywords (as ``Theme.matches``)."""
        words = list(keywords)
        zh = tuple(to_simplified(word).lower() for word in words if not word.isascii())
        en = tuple(" ".join(word.lower().split()) for word in words if word.isascii())
        return cls(zh, _english_pattern(en))

    def found(self, text: str) -> bool:
        """Whether ``text`` (lower-cased Simplified clauses joined by ``_JOIN``) holds one of the keywords."""
        if len(self.zh) == 1 and self.zh[0] in text:  # one Chinese word: a plain substring test is fastest
            return True
        return _found(text, self.zh if len(self.zh) > 1 else (), self.pattern)


def _read(
    session: Session, taxonomy: Taxonomy, workspace_id: int, since: datetime, until: datetime
) -> tuple[int, list[_Clauses], dict[int, tuple[datetime, str, str]]]:
    """The period's analysed items (newest ``MAX_ITEMS``): how many, their clauses sorted by the taxonomy, and
    each item's time, channel and masked text (for the examples)."""
    rows = session.execute(
        select(FeedbackItem.id, FeedbackItem.analysis_text, FeedbackItem.occurred_at, FeedbackItem.channel,
               FeedbackItem.masked_text)
        .where(FeedbackItem.workspace_id == workspace_id, FeedbackItem.occurred_at >= since,
               FeedbackItem.occurred_at < until, FeedbackItem.analyzed_with.is_not(None))
        .order_by(FeedbackItem.occurred_at.desc(), FeedbackItem.id.desc())
        .limit(MAX_ITEMS)
    ).all()  # fmt: skip
    sorted_items = []
    shown: dict[int, tuple[datetime, str, str]] = {}
    # Any theme at all: one search with every theme's keywords, the same answer as ``themes_of`` being non-empty.
    themed = _Matcher(tuple(word for theme in taxonomy.themes for word in theme.zh),
                      _english_pattern(tuple(word for theme in taxonomy.themes for word in theme.en)))  # fmt: skip
    for item_id, text, occurred_at, channel, masked in rows:
        unmatched: list[str] = []
        matched: list[str] = []
        for clause in split_clauses(text):
            lowered = clause.lower()
            (matched if themed.found(lowered) else unmatched).append(lowered)
        sorted_items.append(_Clauses(item_id, unmatched, matched))
        shown[item_id] = (occurred_at, channel, masked)
    return len(rows), sorted_items, shown


def _is_brand(key: str, script: str, brands: Sequence[str]) -> bool:
    """A brand's name (a tracked social term of kind brand) names no topic: 山岚 in every post about the shop."""
    for brand in brands:
        if script == "zh" and (key in brand or brand in key):
            return True
        if script == "en" and set(key.split()) & set(brand.split()):
            return True
    return False


def is_dismissed(key: str, script: str, dismissed: Sequence[str]) -> bool:
    """Whether a candidate term (its counting key) holds a dismissed keyword or is part of one: Chinese as
    substrings (吸管 dismissed: 纸吸管 and 吸管 are no topic), English as whole words, plurals folded (paper straws
    dismissed: paper, straw, paper straw and soggy paper straw are none; paper cup still is)."""
    words = set(key.split())
    for keyword in dismissed:
        if keyword.isascii() != (script == "en"):
            continue
        if script == "zh" and (keyword in key or key in keyword):
            return True
        if script == "en":
            folded = {_fold(word) for word in keyword.split()}
            if folded <= words or words <= folded:
                return True
    return False


def _candidates(
    items: Sequence[_Clauses],
    min_items: int,
    brands: Sequence[str] = (),
    before: Sequence[_Clauses] = (),
    dismissed: Sequence[str] = (),
) -> list[_Candidate]:
    """Terms found in at least ``min_items`` items' unmatched clauses (by the words rjieba and the English
    tokenizer cut), then counted again as the taxonomy would match them — a Chinese term as a substring (奶茶 is
    also in 珍珠奶茶), an English one as whole words — in the unmatched clauses and in the matched ones, so the lift,
    the grouping and the topic's items all mean what an accepted theme would find."""
    found_in: dict[str, set[int]] = defaultdict(set)
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    scripts: dict[str, str] = {}
    for item in items:
        for clause in item.unmatched:
            for key, (surface, script) in clause_terms(clause).items():
                if item.item_id not in found_in[key]:
                    surfaces[key][surface] += 1
                found_in[key].add(item.item_id)
                scripts[key] = script
    pool = sorted((key for key, ids in found_in.items()
                   if len(ids) >= min_items and not _is_brand(key, scripts[key], brands)
                   and not is_dismissed(key, scripts[key], dismissed)),
                  key=lambda key: (-len(found_in[key]), key))[:MAX_POOL]  # fmt: skip
    foreground_items = sum(1 for item in items if item.unmatched)
    background_items = sum(1 for item in items if item.matched)
    found = []
    for key in pool:
        candidate = _Candidate(key, surfaces[key], set(), 0.0, 0.0, scripts[key])
        matcher = _Matcher.of(_keywords(candidate))
        candidate.items = {
            item.item_id for item in items if item.unmatched and matcher.found(item.unmatched_text)
        }
        background = sum(1 for item in items if item.matched and matcher.found(item.matched_text))
        candidate.lift = lift(len(candidate.items), foreground_items, background, background_items)
        if candidate.lift >= MIN_LIFT:
            candidate.score = len(candidate.items) * math.log(candidate.lift)
            candidate.rise = len(candidate.items) - sum(
                1 for item in before if matcher.found(item.unmatched_text)
            )
            found.append(candidate)
    # Rising terms first (they seed the topics: 异物 before 奶茶, which is as frequent but was there before).
    found.sort(key=lambda c: (-c.rise, -c.score, c.key))
    return found


def _contains(longer: _Candidate, shorter: _Candidate) -> bool:
    """Whether every clause ``longer`` matches is matched by ``shorter`` too (a substring, or whole words)."""
    if longer is shorter or longer.script != shorter.script:
        return False
    if longer.script == "zh":
        return shorter.key in longer.key
    return f" {shorter.key} " in f" {longer.key} "


def _group(candidates: Sequence[_Candidate]) -> list[_Topic]:
    topics: list[_Topic] = []
    for candidate in candidates:
        home = next(
            (
                topic
                for topic in topics
                if len(candidate.items & topic.keywords[0].items) >= OVERLAP * len(candidate.items)
            ),
            None,
        )
        if home is None:
            if len(topics) < MAX_TOPICS * 3:
                topics.append(_Topic([candidate], set(candidate.items)))
            continue
        if len(home.keywords) < MAX_KEYWORDS * 2:
            home.keywords.append(candidate)
            home.items |= candidate.items
    for topic in topics:
        # A word inside a phrase of the same items gives way to the phrase (paper → paper straw); then a phrase
        # that a kept word already matches gives way to the word (纸吸管 → 吸管, which also has 吸管是纸做的).
        kept = [
            k
            for k in topic.keywords
            if not any(_contains(other, k) and other.items == k.items for other in topic.keywords)
        ]
        kept = [k for k in kept if not any(_contains(k, other) for other in kept)]
        topic.keywords = kept[:MAX_KEYWORDS]  # fmt: skip
    return topics


def _keywords(candidate: _Candidate) -> list[str]:
    """The keyword(s) to write in the taxonomy: the forms seen (an English plural and singular both)."""
    if candidate.script == "zh":
        return [candidate.key]
    return sorted(candidate.surfaces, key=lambda s: (-candidate.surfaces[s], s))[:2]


def discover(
    session: Session,
    *,
    workspace_id: int,
    since: datetime,
    until: datetime,
    min_items: int = MIN_ITEMS,
) -> DiscoveryReport:
    """Emerging topics in the items from ``since`` to ``until`` (exclusive), with the period of the same length
    before for their trend. Most items first."""
    taxonomy = service.current_taxonomy(session, workspace_id)
    analysed, items, shown = _read(session, taxonomy, workspace_id, since, until)
    previous_items = _read(session, taxonomy, workspace_id, since - (until - since), since)[1]
    unmatched = [item for item in items if item.unmatched]
    topics: list[EmergingTopic] = []
    brands = [to_simplified(term.normalised).lower() for term in social_service.list_terms(session, workspace_id=workspace_id)
              if term.kind == "brand"]  # fmt: skip
    no_topic = [term.keyword for term in dismissed_terms(session, workspace_id=workspace_id).terms]
    for topic in _group(_candidates(items, min_items, brands, previous_items, no_topic)):
        keywords = list(dict.fromkeys(word for c in topic.keywords for word in _keywords(c)))
        matcher = _Matcher.of(keywords)
        members = [item.item_id for item in unmatched if matcher.found(item.unmatched_text)]
        if len(members) < min_items:
            continue
        before = sum(1 for item in previous_items if matcher.found(item.unmatched_text))
        newest = sorted(members, key=lambda i: (shown[i][0], i), reverse=True)[:EXAMPLES]
        topics.append(EmergingTopic(
            label=keywords[0], keywords=keywords,
            script=topic.keywords[0].script, items=len(members), share=len(members) / analysed,
            previous=before, change=len(members) - before, lift=round(topic.keywords[0].lift, 3),
            examples=[DiscoveryExample(id=i, occurred_at=shown[i][0], channel=shown[i][1], text=shown[i][2])
                      for i in newest],
        ))  # fmt: skip
    # Rising topics first (the most added since the period before), then the others by their items.
    topics.sort(key=lambda t: (t.change <= 0, -t.change if t.change > 0 else -t.items, -t.items, t.label))
    return DiscoveryReport(
        since=since, until=until, analysed=analysed, with_unmatched=len(unmatched), topics=topics[:MAX_TOPICS]
    )


# ----------------------------------------------------------------------------------------------- accepting
def in_script(word: str, locale: str) -> str:
    """A Simplified Chinese keyword or name as the page's language writes it (Traditional for zh-Hant, when the
    round trip gives the same Simplified text back, so it still matches what it was found in)."""
    if locale != "zh-Hant" or word.isascii():
        return word
    traditional = str(_converter("s2twp").convert(word))
    return traditional if to_simplified(traditional) == word else word


def _names(name: str) -> dict[str, str]:
    """The theme's name in each language from the one typed: Chinese in each script, else as typed."""
    if name.isascii():
        return dict.fromkeys(LOCALES, name)
    simplified = to_simplified(name)
    return {"zh-Hant": str(_converter("s2twp").convert(simplified)), "zh-Hans": simplified, "en": name}


def _new_key(name: str, keywords: Sequence[str], taken: set[str]) -> str:
    base = ""
    for text in (name, *keywords):
        slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
        if slug and slug[0].isalpha():
            base = slug[:40]
            break
    base = base or "topic"
    key, number = base, 2
    while key in taken:
        key, number = f"{base}_{number}", number + 1
    return key


def check_keywords(keywords: Sequence[str]) -> list[str]:
    """Keywords as typed (comma- or 、-separated in a form), trimmed, without repeats; none is a named error."""
    cleaned = list(dict.fromkeys(" ".join(word.split()) for word in keywords if word.strip()))
    if not cleaned:
        raise PatronError("feedback.discovery_no_keywords", status=422)
    for word in cleaned:
        if (
            len(word) > MAX_KEYWORD_LENGTH
            or (word.isascii() and not re.fullmatch(r"[A-Za-z0-9'\- ]+", word))
            or any(unicodedata.category(ch).startswith("C") for ch in word)  # NUL, controls: no keyword
        ):
            raise PatronError("feedback.discovery_bad_keyword", status=422, keyword=word[:MAX_KEYWORD_LENGTH])
    return cleaned


def split_keywords(text: str) -> list[str]:
    """A form's keywords: separated by commas (either width), 、, semicolons or lines."""
    return re.split(r"[,，、;；\n]", text)


def keywords_text(topic: EmergingTopic, locale: str) -> str:
    """A topic's keywords as a form shows them, in the page's script, as ``split_keywords`` reads them back."""
    return ("、" if topic.script == "zh" else ", ").join(in_script(word, locale) for word in topic.keywords)


def _flow(words: Sequence[str]) -> str:
    return "[" + ", ".join(yaml.safe_dump(word, allow_unicode=True).strip().removesuffix("...").strip()
                           for word in words) + "]"  # fmt: skip


def _theme_block(key: str, names: dict[str, str], zh: Sequence[str], en: Sequence[str], indent: int) -> str:
    pad = " " * indent
    names_text = ", ".join(f"{locale}: {_flow([names[locale]])[1:-1]}" for locale in LOCALES)
    lines = [
        f"{pad}- key: {key}",
        f"{pad}  group: cx",
        f"{pad}  names: {{{names_text}}}",
        f"{pad}  keywords:",
    ]
    if zh:
        lines.append(f"{pad}    zh: {_flow(zh)}")
    if en:
        lines.append(f"{pad}    en: {_flow(en)}")
    return "\n".join(lines) + "\n"


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)


def _checked(candidate: str, expected: dict[str, Any]) -> str:
    """The text edited in place when it reads back as the expected document, else the document written out."""
    try:
        if yaml.safe_load(candidate) == expected:
            return candidate
    except yaml.YAMLError:
        pass
    return _dump(expected)


def _themes_node(raw: str) -> yaml.SequenceNode | None:
    root = yaml.compose(raw, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key_node, value in root.value:
            if key_node.value == "themes" and isinstance(value, yaml.SequenceNode) and value.value:
                return value
    return None


def with_theme(raw: str, document: dict[str, Any], entry: dict[str, Any]) -> str:
    """``raw`` with a theme appended to its ``themes`` list, comments and layout kept; written out again from the
    document when the text cannot be edited in place (a flow-style list), checked either way."""
    expected = {**document, "themes": [*document["themes"], entry]}
    node = _themes_node(raw)
    if node is not None and not node.flow_style:
        last = node.value[-1]
        line_end = raw.find("\n", last.end_mark.index - 1)
        cut = len(raw) if line_end < 0 else line_end + 1
        head = raw[:cut] if raw[:cut].endswith("\n") else raw[:cut] + "\n"
        block = _theme_block(entry["key"], entry["names"], entry["keywords"].get("zh", []),
                             entry["keywords"].get("en", []), max(last.start_mark.column - 2, 0))  # fmt: skip
        return _checked(head + block + raw[cut:], expected)
    return _dump(expected)


def with_keywords(raw: str, document: dict[str, Any], key: str, zh: Sequence[str], en: Sequence[str]) -> str:
    """``raw`` with more keywords for the theme ``key``, added to its flow lists in place when it has them
    (comments kept), else written out again from the document; checked either way."""
    themes = [dict(entry) for entry in document["themes"]]
    index = next(i for i, entry in enumerate(themes) if entry.get("key") == key)
    keywords = {script: list(words) for script, words in (themes[index].get("keywords") or {}).items()}
    added = {"zh": list(zh), "en": list(en)}
    for script, words in added.items():
        if words:
            keywords[script] = [*keywords.get(script, []), *words]
    themes[index] = {**themes[index], "keywords": keywords}
    expected = {**document, "themes": themes}
    node = _themes_node(raw)
    candidate = raw
    if node is not None and index < len(node.value) and isinstance(node.value[index], yaml.MappingNode):
        edits: list[tuple[int, str]] = []
        for field_key, field_value in node.value[index].value:
            if field_key.value != "keywords" or not isinstance(field_value, yaml.MappingNode):
                continue
            for script_key, words_node in field_value.value:
                words = added.get(str(script_key.value), [])
                if words and isinstance(words_node, yaml.SequenceNode) and words_node.flow_style:
                    close = words_node.end_mark.index - 1  # the "]"
                    separator = ", " if words_node.value else ""
                    edits.append((close, separator + _flow(words)[1:-1]))
        for position, text in sorted(edits, reverse=True):
            candidate = candidate[:position] + text + candidate[position:]
    return _checked(candidate, expected)


def accept(
    session: Session,
    *,
    workspace_id: int,
    keywords: Sequence[str],
    name: str | None = None,
    theme: str | None = None,
    actor: str,
    source: str = "discovery",
) -> TopicAccepted:
    """One step: the topic's keywords become a new theme (named ``name``, in group cx) or join the theme
    ``theme``; a new taxonomy version is stored and every item analysed again with it (``editing.save``)."""
    words = check_keywords(keywords)
    current = editing.in_force(session, workspace_id)
    document = current.taxonomy.document
    known = {normalised for t in current.taxonomy.themes for normalised in (*t.zh, *t.en)}
    zh = [w for w in words if not w.isascii() and to_simplified(w).lower() not in known]
    en = [w.lower() for w in words if w.isascii() and w.lower() not in known]
    if not zh and not en:
        raise PatronError("feedback.discovery_known_keywords", status=422)
    if theme:
        if theme not in current.taxonomy.by_key():
            raise PatronError("feedback.unknown_theme", value=theme[:48])
        raw = with_keywords(current.yaml, document, theme, zh, en)
        key, created = theme, False
    else:
        label = " ".join((name or "").split())
        if not label:
            raise PatronError("feedback.discovery_no_name", status=422)
        if len(label) > 100:
            raise PatronError("feedback.discovery_bad_name", status=422)
        key = _new_key(label, words, set(current.taxonomy.by_key()))
        entry: dict[str, Any] = {"key": key, "group": "cx", "names": _names(label), "keywords": {}}
        if zh:
            entry["keywords"]["zh"] = zh
        if en:
            entry["keywords"]["en"] = en
        raw = with_theme(current.yaml, document, entry)
        created = True
    saved = editing.save(session, workspace_id=workspace_id, raw=raw, source=source, actor=actor)
    return TopicAccepted(theme=key, created=created, version=saved.version, themes=saved.themes,
                         analysed=saved.analysed)  # fmt: skip


# ----------------------------------------------------------------------------------------------- dismissing
def dismissed_key(word: str) -> str:
    """A keyword as dismissals store and compare it: as analysed (Simplified, lower case, single spaces)."""
    return to_simplified(" ".join(word.split())).lower()


def dismissed_terms(session: Session, *, workspace_id: int) -> DismissedTerms:
    """The workspace's keywords that are no topic, in order."""
    rows = session.scalars(
        select(FeedbackDismissedTerm)
        .where(FeedbackDismissedTerm.workspace_id == workspace_id)
        .order_by(FeedbackDismissedTerm.keyword)
    ).all()
    return DismissedTerms(terms=[DismissedTerm(keyword=row.keyword, dismissed_by=row.dismissed_by,
                                               dismissed_at=row.dismissed_at) for row in rows])  # fmt: skip


def dismiss(session: Session, *, workspace_id: int, keywords: Sequence[str], actor: str) -> DismissedTerms:
    """A topic's keywords (or any typed) become no topic: discovery stops suggesting any term that holds one or is
    part of one. Dismissing a keyword twice changes nothing; the taxonomy is not touched."""
    words = list(dict.fromkeys(dismissed_key(word) for word in check_keywords(keywords)))
    known = set(session.scalars(select(FeedbackDismissedTerm.keyword).where(
        FeedbackDismissedTerm.workspace_id == workspace_id, FeedbackDismissedTerm.keyword.in_(words))))  # fmt: skip
    now = utcnow()
    for word in words:
        if word not in known:
            session.add(FeedbackDismissedTerm(workspace_id=workspace_id, keyword=word, dismissed_by=actor[:320],
                                              dismissed_at=now))  # fmt: skip
    session.flush()
    return dismissed_terms(session, workspace_id=workspace_id)


def restore(session: Session, *, workspace_id: int, keywords: Sequence[str]) -> DismissedTerms:
    """Undo a dismissal: the keywords may be suggested again. None of them dismissed is a named 404."""
    words = list(dict.fromkeys(dismissed_key(word) for word in check_keywords(keywords)))
    removed = session.execute(
        delete(FeedbackDismissedTerm).where(
            FeedbackDismissedTerm.workspace_id == workspace_id, FeedbackDismissedTerm.keyword.in_(words)
        )
    )
    if not getattr(removed, "rowcount", 0):
        raise PatronError("feedback.discovery_not_dismissed", status=404, keyword=words[0])
    return dismissed_terms(session, workspace_id=workspace_id)
