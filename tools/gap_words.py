"""List the "gap words": the words shared by the questions the assistant did not answer (or that customers rated
not helpful), not yet covered by an admin — what the knowledge base is missing, by topic (docs/assistant.md).

Words are the assistant's own tokens (jieba words of two characters or more, in Simplified Chinese for Chinese
text, words of asking such as 怎么 / how left out); each question counts a word once.

    PYTHONPATH=src python tools/gap_words.py [-w SLUG] [--since 2026-11-01] [--until 2026-12-01] [--min 2] [--json]
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.settings import get_settings
from patron.dashboard.assistant import gap_words, unanswered_texts
from patron.surveys.texts import to_traditional


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-w", "--workspace", default=None, help="workspace slug [default: the configured one]"
    )
    parser.add_argument("--since", type=date.fromisoformat, help="first day (the workspace's calendar)")
    parser.add_argument("--until", type=date.fromisoformat, help="last day, included")
    parser.add_argument("--min", type=int, default=2, help="questions a word must appear in [2]")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--traditional", action="store_true", help="show Chinese words in Traditional")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with transaction() as session:
        workspace = core_service.get_workspace(session, args.workspace or get_settings().default_workspace)
        zone = ZoneInfo(workspace.timezone)
        since = datetime.combine(args.since, time(), zone) if args.since else None
        until = datetime.combine(args.until + timedelta(days=1), time(), zone) if args.until else None
        texts = unanswered_texts(session, workspace.id, since, until)
    words = gap_words(texts, minimum=max(1, args.min), limit=max(1, args.limit))
    if args.traditional:
        for word in words:
            word.word = to_traditional(word.word)
    if args.json:
        print(json.dumps({"questions": len(texts), "words": [w.__dict__ for w in words]}, ensure_ascii=False))
        return 0
    print(f"{len(texts)} unanswered questions; words shared by at least {args.min}:")
    for word in words:
        print(f"{word.questions:>5}  {word.word}  — " + " / ".join(word.examples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
