"""``patron feedback …``: import comments, analyse them, and the themes with their figures or the taxonomy.
Registered on the main command by ``patron.cli``."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

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
    import_command,
)
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.safecells import SafeCsvWriter
from patron.feedback import retention as retention_service
from patron.feedback import service
from patron.feedback.models import Channel
from patron.feedback.schemas import DismissedTerms

feedback_app: typer.Typer = typer.Typer(
    help="Feedback from every channel: import, analysis, themes (docs/feedback.md).", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


@feedback_app.command("import")
def import_feedback(
    file: Annotated[Path, typer.Argument(help="CSV, Excel .xlsx or JSON Lines file")],
    workspace: WorkspaceOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx or jsonl [default: from extension]")
    ] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding [default: detected]")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows [default: next to FILE]")
    ] = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import comments (same validation, report and rejects file as `patron import`); they are analysed as they
    are stored, in the import's transaction."""
    import_command("feedback", file, workspace, fmt, encoding, rejects, lang, as_json)


@feedback_app.command("analyze")
def analyze(
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
    parquet: Annotated[
        Path | None,
        typer.Option(
            "--parquet", help="Score this Parquet file of comments (id, text) instead of the database"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --parquet: the Parquet file to write")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="With --parquet: local or spark")] = "local",
) -> None:
    """Bring the analysis up to date: survey comments not yet items become items (the backfill), new or changed
    items and items analysed with an older taxonomy get their sentiment and themes. Safe to run twice. With
    --parquet FILE --out FILE: score a Parquet file of comments with the workspace's taxonomy, in this process or
    as a Spark job (--engine spark)."""
    locale = _locale(lang)

    def action() -> None:
        if parquet is not None:
            from patron.feedback import bulk

            if out is None:
                raise PatronError("feedback.parquet_needs_out")
            with transaction() as session:
                ws = core_service.get_workspace(session, _workspace_slug(workspace))
                raw = service.taxonomy_source(session, ws.id)
            rows = bulk.analyse_parquet(parquet, out, engine=engine, taxonomy_yaml=raw)
            _say(_t("feedback.cli_scored", locale, count=rows, file=str(out), engine=engine))
            return
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = service.analyze(session, workspace_id=ws.id)
        if as_json:
            print(report.model_dump_json(indent=2))
            return
        _say(_t("feedback.cli_analyzed", locale, taxonomy=report.taxonomy, analysed=report.analysed,
                mentions=report.mentions, added=report.survey_comments_added))  # fmt: skip

    _run(action, locale)


@feedback_app.command("retention")
def retention(
    days: Annotated[
        int | None, typer.Option("--days", help="Keep originals this many days after they arrive")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep originals for good (the default)")] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """How long a feedback item's original text is kept before `patron feedback purge` replaces it by its
    masked copy; without --days or --keep, show the setting (docs/privacy.md)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if keep:
                retention_service.set_retention(session, workspace_id=ws.id, days=None)
            elif days is not None:
                retention_service.set_retention(session, workspace_id=ws.id, days=days)
            kept = ws.feedback_original_days
        if kept is None:
            _say(_t("feedback.retention_keep", locale))
        else:
            _say(_t("feedback.retention_days_set", locale, days=kept))

    _run(action, locale)


@feedback_app.command("purge")
def purge(workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False) -> None:
    """Replace the originals past the workspace's retention by their masked copies (items and survey comments).
    Safe to run twice, e.g. daily from a scheduler."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = retention_service.purge_originals(session, workspace_id=ws.id)
        if as_json:
            print(report.model_dump_json(indent=2))
        elif report.days is None:
            _say(_t("feedback.purge_nothing_kept", locale))
        else:
            _say(
                _t(
                    "feedback.purged",
                    locale,
                    items=report.items,
                    comments=report.survey_comments,
                    days=report.days,
                )
            )

    _run(action, locale)


@feedback_app.command("themes")
def themes(
    since: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD [default: 30 days before --until]")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD [default: yesterday]")] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only this channel")] = None,
    set_file: Annotated[
        Path | None,
        typer.Option("--set", help="Store this YAML file as the workspace's new taxonomy version"),
    ] = None,
    show: Annotated[bool, typer.Option("--show", help="Print the taxonomy in force as YAML")] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Themes with items, positive and negative shares for a period; or --set a new taxonomy, --show the one in
    force."""
    locale = _locale(lang)

    def day(value: str | None, name: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if set_file is not None:
                raw = service.read_taxonomy_file(set_file)
                saved = service.set_taxonomy(session, workspace_id=ws.id, raw=raw, source=set_file.name,
                                             actor=f"cli:{getpass.getuser()}")  # fmt: skip
                _say(
                    _t("feedback.cli_taxonomy_saved", locale, version=saved.version, themes=len(saved.themes))
                )
                return
            taxonomy = service.current_taxonomy(session, ws.id)
            if show:
                print(service.taxonomy_source(session, ws.id), end="")
                return
            start, end = service.day_bounds(ws.timezone, day(since, "since"), day(until, "until"))
            figures = service.theme_figures(session, workspace_id=ws.id, since=start, until=end, locale=locale,
                                            channel=channel.value if channel else None)  # fmt: skip
        if as_json:
            print(json.dumps([f.model_dump() for f in figures], ensure_ascii=False, indent=2))
            return
        _say(_t("feedback.cli_taxonomy_current", locale, tag=taxonomy.tag, themes=len(taxonomy.themes)))
        table = _table(locale, "fb.theme", "fb.group", "fb.items", "fb.positive_share", "fb.negative_share")
        for f in figures:
            _row(table, f.name, _t(f"fb.group.{f.group}", locale), f.items, _percent(f.positive_share),
                 _percent(f.negative_share))  # fmt: skip
        console.print(table)

    _run(action, locale)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


@feedback_app.command("drivers")
def drivers_command(
    outcome: Annotated[str, typer.Option(help="nps (0–10), csat or detractor (NPS 0–6, as 0/1)")] = "nps",
    survey: Annotated[
        str | None, typer.Option(help="Only this survey (its key); adds its rating items")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Only customers in this segment")] = None,
    since: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD [default: 30 days before --until]")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD [default: yesterday]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    bootstrap: Annotated[
        int, typer.Option(min=0, max=2000, help="Bootstrap replicates for the intervals")
    ] = 200,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Key drivers: which themes and rating items move the outcome (Shapley share of R² with a bootstrap
    interval, frequency, mean outcome with and without; docs/drivers.md)."""
    from patron.feedback import drivers as drivers_service

    locale = _locale(lang)

    def day(value: str | None, name: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise PatronError("dashboard.bad_date", field=name, value=value[:40]) from None

    def action() -> None:
        if fmt not in ("table", "csv", "json"):
            raise PatronError("feedback.drivers_bad_format", value=fmt[:20])
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            start, end = service.day_bounds(ws.timezone, day(since, "since"), day(until, "until"))
            report = drivers_service.key_drivers(session, workspace_id=ws.id, outcome=outcome, since=start,
                                                 until=end, locale=locale, survey=survey, segment=segment,
                                                 bootstrap=bootstrap)  # fmt: skip
        if fmt == "json":
            print(report.model_dump_json(indent=2))
            return
        if fmt == "csv":
            writer = SafeCsvWriter(sys.stdout, lineterminator="\n")
            writer.writerow(["driver", "kind", "importance", "low", "high", "share_of_r2", "johnson", "frequency",
                             "mean_with", "mean_without", "fix_first"])  # fmt: skip
            for d in report.drivers:
                cells = [d.name, d.kind, d.importance, d.importance_low, d.importance_high, d.share_of_r_squared,
                         d.johnson, d.frequency, d.mean_with, d.mean_without, int(d.fix_first)]  # fmt: skip
                writer.writerow([_csv_number(cell) for cell in cells])
            return
        _say(_t("feedback.cli_drivers", locale, outcome=_t(f"drv.outcome.{outcome}", locale), rows=report.rows,
                missing=report.missing, r2=f"{report.r_squared:.3f}"))  # fmt: skip
        if report.small_sample:
            _say(_t("drv.small_sample", locale, rows=report.rows, minimum=drivers_service.SMALL_SAMPLE))
        table = _table(locale, "drv.driver", "drv.kind", "drv.importance", "drv.interval", "drv.frequency",
                       "drv.mean_with", "drv.mean_without", "drv.fix_first")  # fmt: skip
        for d in report.drivers:
            interval = "" if d.importance_low is None else f"{d.importance_low:.3f}–{d.importance_high:.3f}"
            _row(table, d.name, _t(f"drv.kind.{d.kind}", locale), f"{d.importance:.3f}", interval,
                 _percent(d.frequency), _number(d.mean_with), _number(d.mean_without),
                 "✓" if d.fix_first else "")  # fmt: skip
        console.print(table)

    _run(action, locale)


@feedback_app.command("discover")
def discover_command(
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="How many complete days, ending yesterday")
    ] = 30,
    min_items: Annotated[int, typer.Option("--min-items", min=1, help="Items a topic needs")] = 3,
    accept: Annotated[
        int | None, typer.Option("--accept", min=1, help="Accept topic N (as listed) into the taxonomy")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="With --accept: the new theme's name")] = None,
    into: Annotated[
        str | None, typer.Option("--into", help="With --accept: add the keywords to this theme instead")
    ] = None,
    dismiss: Annotated[
        int | None,
        typer.Option(
            "--dismiss", min=1, help="Dismiss topic N (as listed): not a topic, never suggested again"
        ),
    ] = None,
    restore: Annotated[
        str | None,
        typer.Option(
            "--restore", help="Undo a dismissal: these keywords (comma-separated) may be suggested again"
        ),
    ] = None,
    dismissed: Annotated[bool, typer.Option("--dismissed", help="List the dismissed keywords")] = False,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Emerging topics in the comments no theme matches, with their items, share, the count in the days before
    and examples (masked); --accept N makes topic N a theme (or adds it to --into THEME) in one step; --dismiss N
    says topic N is no topic (a shop's name, noise), --restore KEYWORDS undoes it, --dismissed lists them."""
    from patron.feedback import discovery

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if restore is not None or dismissed:
                terms = (discovery.restore(session, workspace_id=ws.id, keywords=discovery.split_keywords(restore))
                         if restore is not None else discovery.dismissed_terms(session, workspace_id=ws.id))  # fmt: skip
                _say_dismissed(terms, locale, as_json)
                return
            start, end = service.day_bounds(ws.timezone, None, None, default_days=days)
            report = discovery.discover(
                session, workspace_id=ws.id, since=start, until=end, min_items=min_items
            )
            if accept is not None:
                if accept > len(report.topics):
                    raise PatronError("feedback.discovery_no_topic", number=accept, topics=len(report.topics))
                topic = report.topics[accept - 1]
                done = discovery.accept(session, workspace_id=ws.id, keywords=topic.keywords,
                                        name=name or discovery.in_script(topic.label, locale), theme=into,
                                        actor=f"cli:{getpass.getuser()}")  # fmt: skip
                _say(_t("feedback.cli_topic_accepted", locale, theme=done.theme, version=done.version,
                        analysed=done.analysed))  # fmt: skip
                return
            if dismiss is not None:
                if dismiss > len(report.topics):
                    raise PatronError(
                        "feedback.discovery_no_topic", number=dismiss, topics=len(report.topics)
                    )
                terms = discovery.dismiss(session, workspace_id=ws.id, keywords=report.topics[dismiss - 1].keywords,
                                          actor=f"cli:{getpass.getuser()}")  # fmt: skip
                _say_dismissed(terms, locale, as_json)
                return
        if as_json:
            print(report.model_dump_json(indent=2))
            return
        _say(_t("feedback.cli_discovered", locale, topics=len(report.topics), analysed=report.analysed,
                unmatched=report.with_unmatched, days=days))  # fmt: skip
        table = _table(locale, "fbdisc.number", "fbdisc.topic", "fbdisc.keywords", "fb.items", "fbdisc.share",
                       "fbdisc.previous", "fbdisc.example")  # fmt: skip
        for number, topic in enumerate(report.topics, start=1):
            example = topic.examples[0].text[:60] if topic.examples else ""
            _row(table, number, discovery.in_script(topic.label, locale),
                 "、".join(discovery.in_script(k, locale) for k in topic.keywords), topic.items,
                 _percent(topic.share), topic.previous, example)  # fmt: skip
        console.print(table)

    _run(action, locale)


@feedback_app.command("export")
def export_comments_command(
    file: Annotated[Path, typer.Argument(help="The Parquet file to write")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Write the workspace's comments (id, time, channel and the masked text) as Parquet, for
    `patron feedback analyze --parquet` on this machine or on Spark."""
    from patron.feedback import bulk

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            rows = bulk.export_comments(session, workspace_id=ws.id, path=file)
        _say(_t("cli.exported", locale, file=file, count=rows))

    _run(action, locale)


def _say_dismissed(terms: DismissedTerms, locale: str, as_json: bool) -> None:
    """The dismissed keywords, after a change or when asked."""
    if as_json:
        print(terms.model_dump_json(indent=2))
        return
    _say(_t("feedback.cli_dismissed", locale, count=len(terms.terms)))
    table = _table(locale, "fbdisc.keywords", "fbdisc.dismissed_by", "fbdisc.dismissed_at")
    for term in terms.terms:
        _row(table, term.keyword, term.dismissed_by, term.dismissed_at.isoformat(timespec="seconds"))
    console.print(table)


@feedback_app.command("testimonials")
def testimonials_command(
    status: Annotated[str | None, typer.Option(help="Only pending, approved or hidden")] = None,
    approve: Annotated[int | None, typer.Option("--approve", help="Approve this item id")] = None,
    hide: Annotated[int | None, typer.Option("--hide", help="Hide this item id")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Positive survey comments whose authors agreed to be quoted, with the name as they allowed; --approve ID
    puts one on the public page /t/WORKSPACE, --hide ID keeps it off (docs/feedback.md)."""
    from patron.feedback import testimonials

    locale = _locale(lang)

    def action() -> None:
        if status is not None and status not in testimonials.STATUSES:
            raise PatronError("feedback.testimonial_bad_status", value=status[:20],
                              choices=", ".join(testimonials.STATUSES))  # fmt: skip
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            for item_id, decision in ((approve, "approved"), (hide, "hidden")):
                if item_id is not None:
                    testimonials.decide(session, workspace_id=ws.id, item_id=item_id, status=decision,
                                        actor=f"cli:{getpass.getuser()}")  # fmt: skip
                    _say(_t(f"feedback.cli_testimonial_{decision}", locale, id=item_id))
            if approve is not None or hide is not None:
                return
            page = testimonials.list_testimonials(session, workspace_id=ws.id, status=status, limit=500)
            zone = ZoneInfo(ws.timezone)
        if as_json:
            print(page.model_dump_json(indent=2))
            return
        _say(_t("feedback.cli_testimonials", locale, total=page.total, approved=page.approved,
                pending=page.pending, hidden=page.hidden))  # fmt: skip
        table = _table(locale, "fbtm.id", "fbtm.date", "fbtm.name", "fbtm.status", "fbtm.text")
        for item in page.items:
            _row(table, item.item_id, item.occurred_at.astimezone(zone).date().isoformat(),
                 item.display_name or _t("fbtm.anonymous", locale), _t(f"fbtm.status.{item.status}", locale),
                 item.text[:80])  # fmt: skip
        console.print(table)

    _run(action, locale)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _csv_number(value: object) -> object:
    """A float to six significant digits (still a number: ``SafeCsvWriter`` leaves numbers alone); text and
    the rest as they are, for ``SafeCsvWriter`` to neutralise."""
    return float(f"{value:.6g}") if isinstance(value, float) else value


# ---------------------------------------------------------------------------------- the inbound webhook
inbound_app: typer.Typer = typer.Typer(
    help="Signed inbound webhook sources: tools that push posts and reviews without an API key "
    "(docs/feedback.md).",
    no_args_is_help=True,
)
feedback_app.add_typer(inbound_app, name="inbound")
PublicIdArgument = Annotated[str, typer.Argument(help="The source's public id (in_…), as `list` shows it")]


def _inbound_url(path: str) -> str:
    from patron.core.settings import get_settings

    return get_settings().base_url() + path


@inbound_app.command("add")
def inbound_add(
    name: Annotated[str, typer.Argument(help="What sends (a vendor, a review site); also the items' source")],
    channel: Annotated[Channel, typer.Option(help="Given to items that name no channel")] = Channel.SOCIAL,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a source: prints the URL the sender POSTs to and its secret (shown once)."""
    from patron.feedback import inbound

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            created = inbound.add_source(session, workspace_id=ws.id, name=name, channel=channel.value,
                                         actor=f"cli:{getpass.getuser()}")  # fmt: skip
        if as_json:
            print(created.model_dump_json(indent=2))
            return
        _say(_t("inbound.cli_added", locale, name=created.name, channel=created.channel,
                url=_inbound_url(created.path)))  # fmt: skip
        _say(_t("inbound.cli_secret", locale, secret=created.secret))

    _run(action, locale)


@inbound_app.command("list")
def inbound_list(
    workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """The workspace's sources (never their secrets)."""
    from patron.feedback import inbound

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            found = inbound.list_sources(session, workspace_id=ws.id)
        if as_json:
            _print_json(found)
            return
        table = _table(locale, "inbound.col.id", "inbound.col.name", "inbound.col.channel", "inbound.col.state",
                       "inbound.col.received")  # fmt: skip
        for s in found:
            state = _t("inbound.state.active" if s.active else "inbound.state.disabled", locale)
            received = s.received_at.isoformat(timespec="seconds") if s.received_at else ""
            _row(table, s.public_id, s.name, s.channel, state, received)
        console.print(table)

    _run(action, locale)


@inbound_app.command("rotate")
def inbound_rotate(
    public_id: PublicIdArgument,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """A new secret (shown once); deliveries signed with the old one are refused from now on."""
    from patron.feedback import inbound

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            rotated = inbound.rotate_source(session, workspace_id=ws.id, public_id=public_id)
        if as_json:
            print(rotated.model_dump_json(indent=2))
            return
        _say(_t("inbound.cli_rotated", locale, name=rotated.name))
        _say(_t("inbound.cli_secret", locale, secret=rotated.secret))

    _run(action, locale)


@inbound_app.command("disable")
def inbound_disable(
    public_id: PublicIdArgument, workspace: WorkspaceOption = None, lang: LocaleOption = None
) -> None:
    """Refuse the source's deliveries from now on."""
    from patron.feedback import inbound

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            disabled = inbound.disable_source(session, workspace_id=ws.id, public_id=public_id)
        _say(_t("inbound.cli_disabled", locale, name=disabled.name))

    _run(action, locale)
