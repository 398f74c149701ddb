"""The dashboard's Assistant tab: how the FAQ assistant serves customers, and what its knowledge base is missing.

All figures count the questions recorded in the page's window, by the workspace's calendar days:

- **questions per day**: questions asked, answered (confidence at or above the threshold), handed over (a
  conversation follows the question), rated helpful and not helpful;
- **self-service rate** = questions answered *and* not handed over ÷ questions asked;
- **helpfulness** = questions rated helpful ÷ questions rated;
- **hand-overs waiting**: every conversation still open (whatever its age), oldest first;
- **knowledge gaps**: questions not answered or rated not helpful (and not covered since by an admin), grouped by topic — by their top entry (the
  closest entry when the assistant was not sure, if its confidence reached half the threshold), else by the word they share most (the word that the most of
  those questions contain), else "no topic" — with counts and the newest distinct examples, each with how
  often it was asked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.assistant.models import Conversation, ConversationStatus, KnowledgeEntry, Question, Rating
from patron.assistant.retrieval import tokens
from patron.assistant.service import THRESHOLD
from patron.core.models import Workspace
from patron.dashboard.filters import Filters
from patron.dashboard.rollup import local_days
from patron.dashboard.service import labels
from patron.dashboard.tables import Column, DataTable
from patron.surveys.texts import to_traditional

#: Examples shown per knowledge gap, and gaps listed.
EXAMPLES = 3
GAPS = 20
#: Below this confidence the closest entry says little about the topic (half the answering threshold): such a
#: question is grouped by the words it shares instead ("可以寄到國外嗎" is not about convenience-store pickup).
TOPIC_CONFIDENCE = THRESHOLD / 2


@dataclass(frozen=True)
class Waiting:
    id: int
    created_at: datetime
    contact: str
    question: str
    channel: str


@dataclass
class Gap:
    #: "entry" (grouped by top entry), "word" (by a shared word) or "none".
    kind: str
    key: str
    title: str
    count: int
    not_answered: int
    unhelpful: int
    #: (newest question id, masked text, times asked) per distinct text, newest first.
    examples: list[tuple[int, str, int]] = field(default_factory=list)


@dataclass
class AssistantView:
    questions: int
    answered: int
    handed_over: int
    self_served: int
    rated: int
    helpful: int
    per_day: DataTable
    waiting: list[Waiting]
    gaps: list[Gap]
    entries: list[tuple[str, str]]

    @property
    def self_service_rate(self) -> float | None:
        return 100 * self.self_served / self.questions if self.questions else None

    @property
    def helpfulness(self) -> float | None:
        return 100 * self.helpful / self.rated if self.rated else None


#: Words of asking, not of a topic (Simplified: retrieval's one script), never used to name a group.
GENERIC = frozenset({"可以", "怎么", "怎样", "什么", "如何", "多少", "多久", "能否", "是否", "请问", "有没有",
                     "没有", "为什么", "哪里", "the", "how", "what", "can", "you", "do", "does", "is", "my"})  # fmt: skip


def _word_of(text: str) -> list[str]:
    """The words of a question that can name a topic: jieba words of two characters or more, once each."""
    seen: list[str] = []
    for token in tokens(text):
        if len(token) >= 2 and token not in seen and not token.isdigit() and token not in GENERIC:
            seen.append(token)
    return seen


def gaps(
    rows: list[tuple[int, datetime, str, str | None, bool, str | None]], titles: dict[str, str]
) -> list[Gap]:
    """Group (id, asked_at, text, entry, answered, rating) rows of questions not answered or rated not helpful."""
    found: dict[tuple[str, str], Gap] = {}
    loose = [r for r in rows if r[3] is None]
    counts = Counter(word for r in loose for word in _word_of(r[2]))
    for row in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True):
        question_id, _, text, entry, answered, rating = row
        if entry is not None:
            key = ("entry", entry)
        else:
            words = _word_of(text)
            shared = [w for w in words if counts[w] >= 2]
            key = (
                ("word", max(shared, key=lambda w: (counts[w], -words.index(w)))) if shared else ("none", "")
            )
        gap = found.get(key)
        if gap is None:
            title = titles.get(key[1], key[1]) if key[0] == "entry" else key[1]
            gap = found[key] = Gap(key[0], key[1], title, 0, 0, 0)
        gap.count += 1
        gap.not_answered += not answered
        gap.unhelpful += rating == Rating.UNHELPFUL.value
        same = next((i for i, example in enumerate(gap.examples) if example[1] == text), None)
        if same is not None:
            first_id, _, times = gap.examples[same]
            gap.examples[same] = (first_id, text, times + 1)
        else:
            gap.examples.append((question_id, text, 1))
    order = {"entry": 0, "word": 1, "none": 2}
    for gap in found.values():
        gap.examples = gap.examples[:EXAMPLES]
    return sorted(found.values(), key=lambda g: (-g.count, order[g.kind], g.key))[:GAPS]


def _in_script(found: list[Gap], locale: str) -> list[Gap]:
    """Shared words are found in Simplified (retrieval's one script); a zh-Hant page shows them in Traditional."""
    if locale == "zh-Hant":
        for gap in found:
            if gap.kind == "word":
                gap.title = to_traditional(gap.key)
    return found


def assistant(session: Session, workspace: Workspace, filters: Filters, locale: str) -> AssistantView:
    t = labels(locale)
    window = filters.window
    start, end = local_days(window.since, window.until, workspace.timezone)
    zone = ZoneInfo(workspace.timezone)
    handed = select(Conversation.question_id).where(
        Conversation.workspace_id == workspace.id, Conversation.question_id.is_not(None)
    )
    rows = session.execute(
        select(Question.id, Question.asked_at, Question.text, Question.entry_id, Question.answered, Question.rating,
               Question.id.in_(handed), Question.confidence, Question.covered_by)
        .where(Question.workspace_id == workspace.id, Question.asked_at >= start, Question.asked_at < end)
    ).all()  # fmt: skip
    days: dict[date, list[int]] = {}
    day = window.since
    while day <= window.until:
        days[day] = [0, 0, 0, 0, 0]
        day += timedelta(days=1)
    answered = handed_over = self_served = rated = helpful = 0
    for _, asked_at, _, _, was_answered, rating, was_handed, _, _ in rows:
        counts = days.setdefault(asked_at.astimezone(zone).date(), [0, 0, 0, 0, 0])
        counts[0] += 1
        counts[1] += was_answered
        counts[2] += bool(was_handed)
        counts[3] += rating == Rating.HELPFUL.value
        counts[4] += rating == Rating.UNHELPFUL.value
        answered += was_answered
        handed_over += bool(was_handed)
        self_served += was_answered and not was_handed
        rated += rating is not None
        helpful += rating == Rating.HELPFUL.value
    per_day = DataTable(
        "questions", t("assistant.dash_per_day"),
        [Column(t("assistant.dash_day"), "date"), Column(t("assistant.dash_questions"), "int"),
         Column(t("assistant.dash_answered"), "int"), Column(t("assistant.dash_handed_over"), "int"),
         Column(t("assistant.helpful"), "int"), Column(t("assistant.unhelpful"), "int")],
        [[d, *c] for d, c in sorted(days.items())],
    )  # fmt: skip
    open_rows = session.execute(
        select(Conversation.id, Conversation.created_at, Conversation.contact_name, Conversation.contact_email,
               Conversation.channel)
        .where(Conversation.workspace_id == workspace.id, Conversation.status == ConversationStatus.OPEN.value)
        .order_by(Conversation.created_at, Conversation.id)
    ).all()  # fmt: skip
    from patron.assistant.models import Author, Message

    firsts = dict(
        session.execute(
            select(Message.conversation_id, Message.body)
            .where(Message.workspace_id == workspace.id, Message.author == Author.CUSTOMER.value,
                   Message.conversation_id.in_([r[0] for r in open_rows]))
            .order_by(Message.id.desc())
        ).all()
    ) if open_rows else {}  # fmt: skip
    waiting = [Waiting(r[0], r[1], r[2] or r[3], firsts.get(r[0], ""), r[4]) for r in open_rows]
    entries = [(e, title) for e, title in session.execute(
        select(KnowledgeEntry.external_id, KnowledgeEntry.title)
        .where(KnowledgeEntry.workspace_id == workspace.id).order_by(KnowledgeEntry.external_id)
    ).all()]  # fmt: skip
    titles = dict(entries)
    missing = [
        (r[0], r[1], r[2], r[3] if r[4] or r[7] >= TOPIC_CONFIDENCE else None, bool(r[4]), r[5])
        for r in rows
        if (not r[4] or r[5] == Rating.UNHELPFUL.value) and r[8] is None  # covered by an admin: no gap
    ]
    return AssistantView(
        questions=len(rows), answered=answered, handed_over=handed_over, self_served=self_served, rated=rated,
        helpful=helpful, per_day=per_day, waiting=waiting, gaps=_in_script(gaps(missing, titles), locale), entries=entries,
    )  # fmt: skip


@dataclass
class GapWord:
    """A word shared by unanswered questions: how many questions contain it, and up to three distinct examples."""

    word: str
    questions: int
    examples: list[str] = field(default_factory=list)


def gap_words(texts: list[str], minimum: int = 2, limit: int = 50) -> list[GapWord]:
    """The words (``_word_of``: jieba words of two characters or more, not a word of asking) that at least
    ``minimum`` of the questions contain, most questions first (then the word); each question counts a word once."""
    found: dict[str, GapWord] = {}
    for text in texts:
        for word in _word_of(text):
            gap = found.setdefault(word, GapWord(word, 0))
            gap.questions += 1
            if text not in gap.examples and len(gap.examples) < EXAMPLES:
                gap.examples.append(text)
    shared = [g for g in found.values() if g.questions >= minimum]
    return sorted(shared, key=lambda g: (-g.questions, g.word))[:limit]


def unanswered_texts(
    session: Session, workspace_id: int, since: datetime | None = None, until: datetime | None = None
) -> list[str]:
    """The (masked) texts of the questions that are knowledge gaps: not answered or rated not helpful, and not
    covered by an admin since; asked in [since, until) when given."""
    query = select(Question.text).where(
        Question.workspace_id == workspace_id,
        Question.covered_by.is_(None),
        (Question.answered.is_(False)) | (Question.rating == Rating.UNHELPFUL.value),
    )
    if since is not None:
        query = query.where(Question.asked_at >= since)
    if until is not None:
        query = query.where(Question.asked_at < until)
    return list(session.scalars(query.order_by(Question.asked_at.desc(), Question.id.desc())))
