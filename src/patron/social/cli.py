"""``patron social …``: tracked terms, mentions per day and spikes (docs/social.md). Registered on the main
command by ``patron.cli``."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from patron.cli import (
    LocaleOption,
    WorkspaceOption,
    _locale,
    _print_json,
    _row,
    _run,
    _say,
    _t,
    _table,
    _workspace_slug,
    console,
)
from patron.core import service as core_service
from patron.core.db import transaction
from patron.feedback.models import Channel
from patron.social import service

social_app: typer.Typer = typer.Typer(
    help="Social listening: tracked terms, mentions, spikes (docs/social.md).", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
SinceOption = Annotated[
    str | None, typer.Option(help="First day, YYYY-MM-DD [default: 29 days before --until]")
]
UntilOption = Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD [default: yesterday]")]
TermOption = Annotated[str | None, typer.Option("--term", help="Only this tracked term (its text or id)")]


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def _asked(session: Session, workspace: str | None, since: str | None, until: str | None,
           term: str | None) -> dict[str, Any]:  # fmt: skip
    """The workspace, days and term a ``mentions`` or ``spikes`` command asks for, as the service's arguments."""
    ws = core_service.get_workspace(session, _workspace_slug(workspace))
    first, last = service.period(ws.timezone, since, until)
    term_id = None if term is None else service.find_term(session, workspace_id=ws.id, term=term)
    return {"workspace_id": ws.id, "timezone": ws.timezone, "since": first, "until": last, "term_id": term_id}


@social_app.command("terms")
def terms(
    add: Annotated[str | None, typer.Option("--add", help="Track this brand name or keyword")] = None,
    remove: Annotated[
        str | None, typer.Option("--remove", help="Stop tracking this term (its text or id)")
    ] = None,
    kind: Annotated[str, typer.Option(help="brand or keyword (with --add)")] = "keyword",
    channel: Annotated[
        list[Channel] | None,
        typer.Option("--channel", help="Look in this channel (repeat; default social, review)"),
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """The tracked terms with their mentions; --add or --remove one (mentions are matched again at once)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if add is not None:
                channels = [c.value for c in channel] if channel else None
                added = service.add_term(session, workspace_id=ws.id, term=add, kind=kind, channels=channels,
                                         actor=f"cli:{getpass.getuser()}")  # fmt: skip
                _say(_t("social.cli_term_added", locale, term=added.term, mentions=added.mentions))
                return
            if remove is not None:
                term_id = service.find_term(session, workspace_id=ws.id, term=remove)
                service.remove_term(session, workspace_id=ws.id, term_id=term_id)
                _say(_t("social.cli_term_removed", locale, term=remove))
                return
            found = service.list_terms(session, workspace_id=ws.id)
        if as_json:
            _print_json(found)
            return
        table = _table(locale, "social.col.id", "social.col.term", "social.col.kind", "social.col.channels",
                       "social.col.mentions")  # fmt: skip
        for t in found:
            _row(table, t.id, t.term, _t(f"social.kind.{t.kind}", locale), ", ".join(t.channels), t.mentions)
        console.print(table)

    _run(action, locale)


@social_app.command("mentions")
def mentions(
    since: SinceOption = None,
    until: UntilOption = None,
    term: TermOption = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per day: items mentioning a tracked term, and the positive and negative shares of those analysed."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            asked = _asked(session, workspace, since, until, term)
            days = service.daily(session, **asked)
        if as_json:
            _print_json(days)
            return
        table = _table(locale, "social.col.day", "social.col.mentions", "social.col.analysed",
                       "fb.positive_share", "fb.negative_share")  # fmt: skip
        for d in days:
            _row(table, d.day.isoformat(), d.mentions, d.analysed, _percent(d.positive_share),
                 _percent(d.negative_share))  # fmt: skip
        console.print(table)

    _run(action, locale)


@social_app.command("spikes")
def spikes(
    since: SinceOption = None,
    until: UntilOption = None,
    term: TermOption = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Days whose mentions, or whose negative share, spiked against the 28 days before (docs/social.md)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            asked = _asked(session, workspace, since, until, term)
            found = service.spikes(session, **asked)
        if as_json:
            _print_json(found)
            return
        if not found:
            _say(
                _t(
                    "social.cli_no_spikes",
                    locale,
                    since=asked["since"].isoformat(),
                    until=asked["until"].isoformat(),
                )
            )
            return
        table = _table(locale, "social.col.day", "social.col.spike", "social.col.value", "social.col.baseline",
                       "social.col.p_value")  # fmt: skip
        for s in found:
            share = s.kind == "negative_share"
            _row(table, s.day.isoformat(), _t(f"social.spike.{s.kind}", locale),
                 _percent(s.value) if share else f"{s.value:g}",
                 _percent(s.baseline) if share else f"{s.baseline:.2f}", f"{s.p_value:.2g}")  # fmt: skip
        console.print(table)

    _run(action, locale)


@social_app.command("queue")
def queue(
    state: Annotated[str, typer.Option(help="open, handled or all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mentions and reviews that need a reply (negative, or a question), newest first."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            page = service.queue(session, workspace_id=ws.id, state=state, limit=limit)
        if as_json:
            print(page.model_dump_json(indent=2))
            return
        table = _table(locale, "social.col.item", "social.col.channel", "social.col.day", "social.col.why",
                       "social.col.text", "social.col.reply_to", "social.col.handled_by")  # fmt: skip
        for q in page.items:
            why = ", ".join(_t(f"social.why.{w}", locale) for w, on in
                            (("negative", q.sentiment == "negative"), ("question", q.question)) if on)  # fmt: skip
            handled = f"{q.handled_by} {q.handled_at:%Y-%m-%d %H:%M}" if q.handled and q.handled_at else ""
            _row(table, q.item_id, q.channel, q.occurred_at.date().isoformat(), why, q.text[:80], q.reply_to or "",
                 handled)  # fmt: skip
        console.print(table)

    _run(action, locale)


@social_app.command("handle")
def handle(
    item: Annotated[
        int, typer.Argument(help="The item's id (from `patron social queue`)", min=1, max=2**63 - 1)
    ],
    note: Annotated[str, typer.Option(help="What was done")] = "",
    reopen: Annotated[
        bool, typer.Option("--reopen", help="Put a handled item back in the open queue")
    ] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Mark a queued item handled (who: you, when: now, a note), or --reopen it."""
    locale = _locale(lang)

    def action() -> None:
        actor = f"cli:{getpass.getuser()}"
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if reopen:
                service.reopen(session, workspace_id=ws.id, item_id=item, actor=actor)
            else:
                service.handle(session, workspace_id=ws.id, item_id=item, actor=actor, note=note)
        _say(_t("social.cli_reopened" if reopen else "social.cli_handled", locale, item=item))

    _run(action, locale)
