"""``patron loyalty …``: the program, earn rules, balances and ledgers, redemption, adjustment, refunds, the
order sync, the expiry job and the consistency check. Registered on the main command by ``patron.cli``."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
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
)
from patron.core import service as core_service
from patron.core.clock import as_utc, utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.loyalty import coupons, orders, referrals, rewards, service
from patron.loyalty.models import Enrolment, ExpiryPolicy, ReferralStatus, RewardKind
from patron.loyalty.rewards import reward_name
from patron.loyalty.schemas import (
    CouponRead,
    MembershipRead,
    ProgramUpdate,
    ReferralCreate,
    ReferralSettingsUpdate,
    RefundCreate,
    RefundLine,
    RewardCreate,
    RewardRead,
    RewardUpdate,
)

loyalty_app: typer.Typer = typer.Typer(
    help="Loyalty program: points ledger and earn rules (docs/loyalty.md).", no_args_is_help=True
)
rules_app = typer.Typer(help="Earn-rule versions.", no_args_is_help=True)
loyalty_app.add_typer(rules_app, name="rules")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
KeyOption = Annotated[str, typer.Option("--key", help="Idempotency key: a retry with it moves nothing")]


@loyalty_app.command("program")
def program(
    name: Annotated[str, typer.Option(help="The program's name")] = "Loyalty",
    expiry: Annotated[ExpiryPolicy, typer.Option(help="When points expire")] = ExpiryPolicy.MONTHS,
    months: Annotated[int, typer.Option(help="Months until points expire (--expiry months)")] = 12,
    point_value: Annotated[
        str | None,
        typer.Option("--point-value", help="What one point is worth in the workspace's currency, e.g. 0.1"),
    ] = None,
    enrolment: Annotated[
        Enrolment | None,
        typer.Option(help="How customers join: auto (on their first order) or consent (only when enrolled)"),
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Create or change the workspace's loyalty program."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            data = ProgramUpdate(
                name=name,
                expiry_policy=expiry,
                expiry_months=months,
                point_value=point_value,
                enrolment=enrolment,
            )
            saved = service.set_program(session, workspace=ws, data=data)
            currency = ws.currency
        _say(_t("loyalty.cli_program", locale, name=saved.name, policy=saved.expiry_policy.value,
                months=saved.expiry_months))  # fmt: skip
        if saved.point_value is not None:
            _say(_t("loyalty.cli_point_value", locale, value=saved.point_value, currency=currency))
        if saved.enrolment is not None:
            _say(_t(f"loyalty.cli_enrolment_{saved.enrolment.value}", locale))

    _run(action, locale)


@rules_app.command("add")
def rules_add(
    file: Annotated[Path, typer.Argument(help="YAML or JSON earn-rule file (docs/loyalty.md)")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Add an earn-rule version from a file; orders earn by the version in force when they were placed."""
    locale = _locale(lang)

    def action() -> None:
        data = service.load_rule_file(file)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            rule = service.add_rule(session, workspace=ws, data=data, actor=f"cli:{getpass.getuser()}")
        _say(
            _t("loyalty.cli_rule_added", locale, version=rule.version, start=rule.effective_from.isoformat())
        )

    _run(action, locale)


@rules_app.command("list")
def rules_list(
    workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """Every earn-rule version, oldest first."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            rules = service.list_rules(session, workspace_id=ws.id)
        if as_json:
            _print_json(rules)
            return
        table = _table(locale, "loyalty.col_version", "loyalty.col_from", "loyalty.col_rate", "loyalty.col_bonus",
                       "loyalty.col_min_spend")  # fmt: skip
        for r in rules:
            _row(table, r.version, r.effective_from.isoformat(), f"{r.points_per_unit} / {r.per_amount} {r.currency}",
                 r.first_purchase_bonus, r.min_spend)  # fmt: skip
        console.print(table)

    _run(action, locale)


@loyalty_app.command("balance")
def balance(
    customer: str, workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """A member's live points, debt, points expiring soon and latest entries."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = service.balance(session, workspace_id=ws.id, customer_external_id=customer)
            page = service.entries(session, workspace_id=ws.id, customer_external_id=customer, limit=20)
        if as_json:
            print(json.dumps({"balance": read.model_dump(mode="json"), "entries": page.model_dump(mode="json")},
                             ensure_ascii=False, indent=2))  # fmt: skip
            return
        _say(_t("loyalty.cli_balance", locale, customer=customer, points=read.points, debt=read.debt))
        for soon in read.expiring_soon:
            _say(_t("loyalty.cli_expiring", locale, points=soon.points, at=soon.expires_at.isoformat()))
        table = _table(locale, "loyalty.col_time", "loyalty.col_kind", "loyalty.col_points", "loyalty.col_reason",
                       "loyalty.col_source")  # fmt: skip
        for e in page.items:
            where = e.order_external_id or e.source_ref or ""
            _row(
                table,
                e.created_at.isoformat(timespec="seconds"),
                e.kind,
                e.points,
                e.reason,
                f"{e.source} {where}",
            )
        console.print(table)

    _run(action, locale)


def _consent_time(value: str | None, zone: str) -> datetime:
    """``--at``: ISO 8601, in the workspace's zone when it has no offset; now when not given."""
    if value is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PatronError("loyalty.bad_consent_time", value=value) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return as_utc(moment)


def _say_membership(read: MembershipRead, locale: str) -> None:
    if read.member:
        _say(_t("loyalty.cli_member", locale, customer=read.customer_id, at=read.enrolled_at.isoformat(timespec="seconds"),
                source=read.consent_source or "", consent=read.consent_at.isoformat(timespec="seconds")
                if read.consent_at else "—", by=read.consent_by or "—"))  # fmt: skip
    else:
        left = read.left_at.isoformat(timespec="seconds") if read.left_at else ""
        _say(_t("loyalty.cli_left", locale, customer=read.customer_id, at=left, forfeited=read.forfeited,
                written_off=read.written_off))  # fmt: skip


@loyalty_app.command("enrol")
def enrol(
    customer: str,
    at: Annotated[
        str | None, typer.Option("--at", help="When the customer consented (ISO 8601) [default: now]")
    ] = None,
    source: Annotated[
        str, typer.Option(help="Where the consent was collected (pos, paper, web_form…)")
    ] = "cli",
    by: Annotated[str | None, typer.Option(help="Who recorded it [default: the system user]")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrol a customer with their recorded consent (many at once: patron import loyalty_members FILE)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            consent = service.Consent(at=_consent_time(at, ws.timezone), source=source[:32],
                                      by=by or f"cli:{getpass.getuser()}")  # fmt: skip
            read = service.enrol(session, workspace=ws, customer_external_id=customer, consent=consent)
        if as_json:
            print(read.model_dump_json(indent=2))
            return
        _say_membership(read, locale)

    _run(action, locale)


@loyalty_app.command("unenrol")
def unenrol(
    customer: str,
    reason: Annotated[str, typer.Option(help="Why the member leaves (kept with the entries)")] = "left",
    by: Annotated[
        str | None, typer.Option(help="Who takes the member out [default: the system user]")
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take a member out of the program: live points are forfeited, debt written off (docs/loyalty.md)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = service.unenrol(session, workspace=ws, customer_external_id=customer,
                                   actor=by or f"cli:{getpass.getuser()}", reason=reason[:300])  # fmt: skip
        if as_json:
            print(read.model_dump_json(indent=2))
            return
        _say_membership(read, locale)

    _run(action, locale)


@loyalty_app.command("history")
def history(
    customer: str,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Entries to show")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Entries to skip (newest first)")] = 0,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """A member's ledger, newest first, page by page: every entry with its reason, source, rule version and who."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            page = service.entries(session, workspace_id=ws.id, customer_external_id=customer, limit=limit,
                                   offset=offset)  # fmt: skip
        if as_json:
            print(page.model_dump_json(indent=2))
            return
        table = _table(locale, "loyalty.col_time", "loyalty.col_kind", "loyalty.col_points", "loyalty.col_reason",
                       "loyalty.col_source", "loyalty.col_version", "loyalty.col_by")  # fmt: skip
        for e in page.items:
            where = e.order_external_id or ""
            if e.line_no is not None:
                where += f" #{e.line_no}"
            _row(table, e.created_at.isoformat(timespec="seconds"), e.kind, e.points, e.reason,
                 f"{e.source} {where}".strip(), e.rule_version or "", e.source_ref or "")  # fmt: skip
        console.print(table)
        _say(_t("loyalty.cli_history_page", locale, first=min(offset + 1, page.total),
                last=offset + len(page.items), total=page.total))  # fmt: skip

    _run(action, locale)


@loyalty_app.command("overview")
def overview(
    until: Annotated[
        str | None, typer.Option(help="The trend window's last day, YYYY-MM-DD [default: yesterday]")
    ] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only members whose customer is in this segment")
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """The program's figures: members by tier, liability, debt, expiring points, movements per month, rates."""
    from patron.core.clock import today_in
    from patron.dashboard import loyalty as loyalty_view
    from patron.dashboard.filters import parse_filters

    locale = _locale(lang)

    def action() -> None:
        params = {"segment": segment or ""} | ({"since": until, "until": until} if until else {})
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = loyalty_view.overview(session, ws, parse_filters(params, today=today_in(ws.timezone)))
        if as_json:
            print(read.model_dump_json(indent=2))
            return
        money = f" ({read.outstanding_money} {read.currency})" if read.outstanding_money is not None else ""
        _say(_t("loyalty.cli_overview", locale, program=read.program, members=read.members,
                outstanding=read.outstanding, money=money, debt=read.debt, since=read.since.isoformat(),
                until=read.until.isoformat()))  # fmt: skip
        if read.by_tier:
            _say(" · ".join(f"{t.tier} {t.members}" for t in read.by_tier))
        rates = [f"{r:.1f} %" if r is not None else "–" for r in (read.redemption_rate, read.breakage_rate)]
        _say(
            _t(
                "loyalty.cli_overview_rates",
                locale,
                issued=read.issued,
                redemption=rates[0],
                breakage=rates[1],
            )
        )
        table = _table(locale, "loyalty.col_month", "loyalty.col_earned", "loyalty.col_redeemed",
                       "loyalty.col_expired", "loyalty.col_reversed", "loyalty.col_adjusted")  # fmt: skip
        for m in read.months:
            _row(
                table,
                m.month + (" *" if m.partial else ""),
                m.earned,
                m.redeemed,
                m.expired,
                m.reversed,
                m.adjusted,
            )
        console.print(table)

    _run(action, locale)


def _operation(kind: str, customer: str, points: int, reason: str, key: str, workspace: str | None,
               lang: str | None, by: str | None = None) -> None:  # fmt: skip
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if kind == "redeem":
                result = service.redeem(session, workspace=ws, customer_external_id=customer, points=points,
                                        reason=reason, idempotency_key=key)  # fmt: skip
            else:
                result = service.adjust(session, workspace=ws, customer_external_id=customer, points=points,
                                        reason=reason, idempotency_key=key, actor=by or f"cli:{getpass.getuser()}")  # fmt: skip
        code = "loyalty.cli_replayed" if result.replayed else "loyalty.cli_done"
        _say(_t(code, locale, points=result.entry.points, balance=result.balance.points, key=key))

    _run(action, locale)


@loyalty_app.command("redeem")
def redeem(
    customer: str,
    points: int,
    key: KeyOption,
    reason: Annotated[str, typer.Option(help="Why (shown in the member's history)")] = "redeem",
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Spend a member's points (those expiring first); refused when the balance is short."""
    _operation("redeem", customer, points, reason, key, workspace, lang)


@loyalty_app.command("adjust")
def adjust(
    customer: str,
    points: Annotated[int, typer.Argument(help="Points to add (or, negative, to take)")],
    key: KeyOption,
    reason: Annotated[str, typer.Option(help="Why (required by finance)")],
    by: Annotated[
        str | None, typer.Option(help="Who makes the adjustment [default: the system user]")
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """A manual correction, recorded with who made it and why."""
    _operation("adjust", customer, points, reason, key, workspace, lang, by)


@loyalty_app.command("refund")
def refund(
    order: str,
    key: KeyOption,
    line: Annotated[
        list[str] | None, typer.Option(help="LINE_NO:QUANTITY given back (repeat); none: all")
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Units of an order given back: their share of the order's points is taken back."""
    locale = _locale(lang)

    def action() -> None:
        lines = []
        for item in line or []:
            number, _, quantity = item.partition(":")
            if not (number.isdigit() and quantity.isdigit()):
                raise PatronError("loyalty.bad_refund_line", value=item)
            lines.append(RefundLine(line_no=int(number), quantity=int(quantity)))
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            result = orders.refund_order(session, workspace=ws, order_external_id=order,
                                          data=RefundCreate(idempotency_key=key, lines=lines))  # fmt: skip
        _say(_t("loyalty.cli_order_points", locale, order=order, points=result.points, status=result.status))

    _run(action, locale)


@loyalty_app.command("sync")
def sync(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Earn and give back the points of every order as it is now (imports do this for the orders they bring;
    safe to run again: what was earned is never earned twice)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = orders.sync_orders(session, workspace=ws)
        _say(_t("loyalty.cli_synced", locale, orders=report.orders, earned=report.earned, reversed=report.reversed,
                entries=report.entries))  # fmt: skip

    _run(action, locale)


@loyalty_app.command("expire")
def expire(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Expire the points that are due (run it daily; safe to run twice or at once)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = service.expire_due(session, workspace_id=ws.id)
        _say(_t("loyalty.cli_expired", locale, lots=report.lots, points=report.points))

    _run(action, locale)


@loyalty_app.command("check")
def check(workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False) -> None:
    """Recompute every balance from the entries and lots; exit 1 if anything differs."""
    locale = _locale(lang)

    def action() -> int:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = service.check(session, workspace_id=ws.id)
        if as_json:
            print(report.model_dump_json(indent=2))
        else:
            _say(_t("loyalty.cli_checked", locale, members=report.members, entries=report.entries, lots=report.lots,
                    differences=len(report.differences)))  # fmt: skip
            for d in report.differences[:50]:
                _say(
                    _t(
                        "loyalty.cli_difference",
                        locale,
                        what=d.what,
                        id=d.id,
                        expected=d.expected,
                        found=d.found,
                    )
                )
        return len(report.differences)

    if _run(action, locale):
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------------- tiers, birthday
tiers_app = typer.Typer(help="Tiers: versions, a member's tier, the yearly review.", no_args_is_help=True)
loyalty_app.add_typer(tiers_app, name="tiers")


@tiers_app.command("add")
def tiers_add(
    file: Annotated[Path, typer.Argument(help="YAML or JSON tier file (docs/loyalty.md)")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Add a tier-set version from a file: thresholds of qualifying spend, names and benefits."""
    from patron.loyalty import tiers

    locale = _locale(lang)

    def action() -> None:
        data = tiers.load_tier_file(file)
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved = tiers.add_tier_set(session, workspace=ws, data=data, actor=f"cli:{getpass.getuser()}")
        _say(
            _t(
                "loyalty.cli_tiers_added",
                locale,
                version=saved.version,
                start=saved.effective_from.isoformat(),
            )
        )

    _run(action, locale)


@tiers_app.command("list")
def tiers_list(
    workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """The tiers of the version in force (every version with --json)."""
    from patron.loyalty import tiers

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            versions = tiers.list_tier_sets(session, workspace_id=ws.id, locale=locale)
            counts = {t["code"]: n for t, n in tiers.members_by_tier(session, ws.id)}
            current = tiers.current_set(session, ws.id)
        if as_json:
            _print_json(versions)
            return
        if current is None:
            raise PatronError("loyalty.no_tiers")
        shown = next(v for v in versions if v.version == current.version)
        table = _table(locale, "loyalty.col_tier", "loyalty.col_threshold", "loyalty.col_discount",
                       "loyalty.col_multiplier", "loyalty.col_birthday", "loyalty.col_members",
                       title=f"v{shown.version} ({shown.currency})")  # fmt: skip
        for tier in shown.tiers:
            _row(table, f"{tier.name} ({tier.code})", tier.threshold, f"{tier.discount_percent}%",
                 f"{tier.points_percent}%", tier.birthday_points, counts.get(tier.code, 0))  # fmt: skip
        console.print(table)

    _run(action, locale)


@tiers_app.command("show")
def tiers_show(
    customer: str, workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """A member's tier, qualifying spend in the rolling window, the next tier and the tier history."""
    from patron.loyalty import tiers

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = tiers.member_tier(session, workspace=ws, customer_external_id=customer, locale=locale)
        if as_json:
            print(read.model_dump_json(indent=2))
            return
        _say(_t("loyalty.cli_tier", locale, customer=customer, tier=read.tier.name, spend=read.qualifying,
                currency=read.currency, start=read.window_start.isoformat(timespec="minutes")))  # fmt: skip
        if read.next_tier is not None:
            _say(_t("loyalty.cli_tier_next", locale, tier=read.next_tier.name, amount=read.to_next,
                    currency=read.currency))  # fmt: skip
        for move in read.history:
            _say(_t("loyalty.cli_tier_move", locale, at=move.created_at.isoformat(timespec="minutes"),
                    reason=_t(f"loy.tier_reason.{move.reason}", locale), before=move.from_tier, after=move.to_tier,
                    spend=move.qualifying))  # fmt: skip

    _run(action, locale)


@tiers_app.command("review")
def tiers_review(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """The yearly tier review (run it daily from a scheduler: it acts once a year, on or after the review day)."""
    from patron.loyalty import tiers

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = tiers.review(session, workspace=ws)
        code = "loyalty.cli_review" if report.due else "loyalty.cli_review_not_due"
        _say(_t(code, locale, year=report.year, members=report.members, kept=report.kept, grace=report.grace,
                downgraded=report.downgraded, upgraded=report.upgraded))  # fmt: skip

    _run(action, locale)


@loyalty_app.command("birthday")
def birthday(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Give this month's birthday rewards by tier (run it daily from a scheduler; safe to run again)."""
    from patron.loyalty.birthday import give_birthday_rewards

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = give_birthday_rewards(session, workspace=ws)
        _say(_t("loyalty.cli_birthday", locale, year=report.year, month=report.month, rewarded=report.rewarded,
                points=report.points, waiting=report.waiting))  # fmt: skip

    _run(action, locale)


@loyalty_app.command("link")
def member_link(
    customer: str, workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """The member's own page (balance, tier, history) as a signed link to hand over."""
    from patron.loyalty.member_page import mint_link

    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            link = mint_link(session, workspace=ws, customer_external_id=customer)
        if as_json:
            print(link.model_dump_json(indent=2))
            return
        _say(_t("loyalty.cli_member_link", locale, customer=customer, url=link.url))

    _run(action, locale)


# --------------------------------------------------------------------------------------------- rewards, coupons
rewards_app = typer.Typer(help="The rewards catalog and redeeming rewards for coupons.", no_args_is_help=True)
coupon_app = typer.Typer(
    help="Single-use coupons: check, redeem at a point of sale, cancel.", no_args_is_help=True
)
referrals_app = typer.Typer(
    help="Double-sided referrals: codes, recording, settlement.", no_args_is_help=True
)
loyalty_app.add_typer(rewards_app, name="rewards")
loyalty_app.add_typer(coupon_app, name="coupon")
loyalty_app.add_typer(referrals_app, name="referrals")
ByOption = Annotated[str | None, typer.Option("--by", help="Who makes the change [default: the system user]")]


def _reward_line(locale: str, r: RewardRead) -> str:
    left = _t("loyalty.unlimited", locale) if r.left is None else r.left
    return _t("loyalty.cli_reward_saved", locale, reward=r.code, name=reward_name(r, locale), cost=r.points_cost,
              left=left)  # fmt: skip


@rewards_app.command("list")
def rewards_list(
    workspace: WorkspaceOption = None, lang: LocaleOption = None, as_json: JsonOption = False
) -> None:
    """The catalog, cheapest first, with what is left of each reward's stock."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            found = rewards.list_rewards(session, workspace=ws)
        if as_json:
            _print_json(found)
            return
        table = _table(locale, "loyalty.col_reward", "loyalty.col_name", "loyalty.col_kind", "loyalty.col_cost",
                       "loyalty.col_issued", "loyalty.col_left", "loyalty.col_until", "loyalty.col_active")  # fmt: skip
        for r in found:
            _row(table, r.code, reward_name(r, locale), _t(f"loy.kind.{r.kind.value}", locale), r.points_cost, r.issued,
                 _t("loyalty.unlimited", locale) if r.left is None else r.left,
                 r.valid_until.isoformat() if r.valid_until else "", "✓" if r.active else "✗")  # fmt: skip
        console.print(table)

    _run(action, locale)


@rewards_app.command("add")
def rewards_add(
    code: Annotated[str, typer.Argument(help="The reward's code (letters, digits, . _ -)")],
    kind: Annotated[RewardKind, typer.Option(help="What the coupon gives")],
    cost: Annotated[int, typer.Option(help="Points it costs")],
    name_zh_hant: Annotated[str, typer.Option("--name-zh-hant", help="Name in Traditional Chinese")],
    name_zh_hans: Annotated[str, typer.Option("--name-zh-hans", help="Name in Simplified Chinese")],
    name_en: Annotated[str, typer.Option("--name-en", help="Name in English")],
    amount: Annotated[str | None, typer.Option(help="A voucher's value in the workspace currency")] = None,
    percent: Annotated[int | None, typer.Option(help="A discount's percent")] = None,
    stock: Annotated[int | None, typer.Option(help="How many may be issued [default: unlimited]")] = None,
    valid_from: Annotated[str | None, typer.Option("--from", help="ISO time it can be redeemed from")] = None,
    valid_until: Annotated[
        str | None, typer.Option("--until", help="ISO time it can be redeemed until")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Coupons one member may hold [default: no limit]")] = None,
    days: Annotated[int, typer.Option(help="Days a coupon is valid after it is issued")] = 30,
    by: ByOption = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Add a reward to the catalog (recorded in the audit trail with who added it)."""
    locale = _locale(lang)

    def action() -> None:
        data = rewards.parse(RewardCreate, {"code": code, "kind": kind.value, "points_cost": cost,
            "name_zh_hant": name_zh_hant, "name_zh_hans": name_zh_hans, "name_en": name_en, "amount": amount,
            "percent": percent, "stock": stock, "valid_from": valid_from, "valid_until": valid_until,
            "per_member_limit": limit, "coupon_days": days})  # fmt: skip
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved = rewards.create_reward(
                session, workspace=ws, data=data, actor=by or f"cli:{getpass.getuser()}"
            )
        _say(_reward_line(locale, saved))

    _run(action, locale)


@rewards_app.command("set")
def rewards_set(
    code: str,
    cost: Annotated[int | None, typer.Option(help="Points it costs")] = None,
    stock: Annotated[int | None, typer.Option(help="How many may be issued in all")] = None,
    valid_until: Annotated[
        str | None, typer.Option("--until", help="ISO time it can be redeemed until")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Coupons one member may hold")] = None,
    name_zh_hant: Annotated[str | None, typer.Option("--name-zh-hant")] = None,
    name_zh_hans: Annotated[str | None, typer.Option("--name-zh-hans")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--withdrawn", help="Offer it or withdraw it")
    ] = None,
    by: ByOption = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Change a reward; each change (old and new value) is recorded with who made it."""
    locale = _locale(lang)

    def action() -> None:
        data = rewards.parse(RewardUpdate, {"points_cost": cost, "stock": stock, "valid_until": valid_until,
            "per_member_limit": limit, "name_zh_hant": name_zh_hant, "name_zh_hans": name_zh_hans,
            "name_en": name_en, "active": active})  # fmt: skip
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved = rewards.update_reward(session, workspace=ws, code=code, data=data,
                                          actor=by or f"cli:{getpass.getuser()}")  # fmt: skip
        _say(_reward_line(locale, saved))

    _run(action, locale)


@rewards_app.command("changes")
def rewards_changes(
    code: Annotated[str | None, typer.Argument(help="Only this reward's changes")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """The catalog's audit trail: who created or changed which reward, and what, newest first."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            found = rewards.catalog_changes(session, workspace_id=ws.id, code=code)
        if as_json:
            _print_json(found)
            return
        table = _table(
            locale, "loyalty.col_time", "loyalty.col_reward", "loyalty.col_by", "loyalty.col_changes"
        )
        for c in found:
            what = "; ".join(f"{field}: {old} → {new}" for field, (old, new) in c.changes.items())
            _row(table, c.created_at.isoformat(timespec="seconds"), c.reward, c.actor, what)
        console.print(table)

    _run(action, locale)


def _coupon_line(locale: str, c: CouponRead) -> str:
    return _t("loyalty.cli_coupon", locale, coupon=c.code, reward=reward_name(c, locale), customer=c.customer_id,
              status=_t(f"loy.coupon.{c.status}", locale), expires=c.expires_at.isoformat(timespec="minutes"))  # fmt: skip


@rewards_app.command("redeem")
def rewards_redeem(
    code: Annotated[str, typer.Argument(help="The reward's code")],
    customer: Annotated[str, typer.Argument(help="The member's customer id")],
    key: KeyOption,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Spend a member's points on a reward and print the coupon issued."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            coupon = rewards.redeem_reward(session, workspace=ws, code=code, customer_external_id=customer,
                                           idempotency_key=key)  # fmt: skip
        _say(_t("loyalty.cli_coupon_issued", locale, coupon=coupon.code, reward=reward_name(coupon, locale),
                points=coupon.points, balance=coupon.balance, expires=coupon.expires_at.isoformat(timespec="minutes")))  # fmt: skip

    _run(action, locale)


def _coupon_command(kind: str, code: str, workspace: str | None, lang: str | None, reference: str | None = None,
                    by: str | None = None) -> None:  # fmt: skip
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            if kind == "check":
                coupon = coupons.check_coupon(session, workspace=ws, code=code)
            elif kind == "redeem":
                coupon = coupons.use_coupon(session, workspace=ws, code=code, reference=reference)
            else:
                coupon = coupons.cancel_coupon(
                    session, workspace=ws, code=code, actor=by or f"cli:{getpass.getuser()}"
                )
        _say(_coupon_line(locale, coupon))
        if kind == "cancel":
            _say(_t("loyalty.cli_coupon_refunded", locale, points=coupon.points, balance=coupon.balance))

    _run(action, locale)


@coupon_app.command("check")
def coupon_check(code: str, workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """What a coupon gives and whether it can be used now."""
    _coupon_command("check", code, workspace, lang)


@coupon_app.command("redeem")
def coupon_redeem(
    code: str,
    reference: Annotated[
        str | None, typer.Option(help="The sale's reference (a retry with it is answered again)")
    ] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Use a coupon, exactly once."""
    _coupon_command("redeem", code, workspace, lang, reference=reference)


@coupon_app.command("cancel")
def coupon_cancel(
    code: str, by: ByOption = None, workspace: WorkspaceOption = None, lang: LocaleOption = None
) -> None:
    """Cancel a coupon not used yet: its points go back to the member."""
    _coupon_command("cancel", code, workspace, lang, by=by)


# --------------------------------------------------------------------------------------------- referrals
@referrals_app.command("settings")
def referrals_settings(
    referrer: Annotated[int, typer.Option(help="Points for the member who referred")],
    referee: Annotated[int, typer.Option(help="Points for the new customer")],
    return_days: Annotated[int, typer.Option(help="Days a qualifying purchase must outlive")] = 30,
    cap: Annotated[int | None, typer.Option(help="Referrals per referrer [default: no cap]")] = None,
    min_spend: Annotated[str, typer.Option(help="Minimum order total, workspace currency")] = "0",
    share_url: Annotated[str | None, typer.Option(help="Page share links open (?ref=CODE is added)")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Set the referral terms."""
    locale = _locale(lang)

    def action() -> None:
        data = rewards.parse(ReferralSettingsUpdate, {"referrer_points": referrer, "referee_points": referee,
            "return_days": return_days, "cap": cap, "min_spend": min_spend, "share_url": share_url})  # fmt: skip
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            saved = referrals.set_settings(session, workspace=ws, data=data)
        _say(_t("loyalty.cli_referral_settings", locale, referrer=saved.referrer_points, referee=saved.referee_points,
                days=saved.return_days, cap=_t("loyalty.unlimited", locale) if saved.cap is None else saved.cap))  # fmt: skip

    _run(action, locale)


@referrals_app.command("code")
def referrals_code(customer: str, workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """A member's referral code and share link."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = referrals.member_code(session, workspace=ws, customer_external_id=customer)
        _say(_t("loyalty.cli_referral_code", locale, customer=customer, referral_code=read.code, link=read.link,
                pending=read.pending, rewarded=read.rewarded, refused=read.refused))  # fmt: skip

    _run(action, locale)


@referrals_app.command("add")
def referrals_add(
    code: Annotated[str, typer.Argument(help="The referral code the new customer brought")],
    customer: Annotated[str, typer.Argument(help="The new customer's id")],
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
) -> None:
    """Record a new customer who came with a code (a refused one is recorded with its reason, exit 2)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            read = referrals.record(
                session, workspace=ws, data=ReferralCreate(code=code, customer_id=customer)
            )
        refused = referrals.refusal(read)
        if refused is not None:
            raise refused
        _say(_t("loyalty.cli_referral_recorded", locale, customer=read.referee, referrer=read.referrer))

    _run(action, locale)


@referrals_app.command("list")
def referrals_list(
    status: Annotated[ReferralStatus | None, typer.Option(help="Only referrals in this status")] = None,
    workspace: WorkspaceOption = None,
    lang: LocaleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Referrals, newest first, with why refused ones were refused."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            page = referrals.list_referrals(session, workspace_id=ws.id, status=status, limit=500)
        if as_json:
            print(page.model_dump_json(indent=2))
            return
        table = _table(locale, "loyalty.col_time", "loyalty.col_referrer", "loyalty.col_referee",
                       "loyalty.col_status", "loyalty.col_reason", "loyalty.col_points")  # fmt: skip
        for r in page.items:
            _row(table, r.created_at.isoformat(timespec="seconds"), r.referrer, r.referee,
                 _t(f"loy.referral.{r.status}", locale), _t(f"loy.refused.{r.reason}", locale) if r.reason else "",
                 f"{r.referrer_points} + {r.referee_points}")  # fmt: skip
        console.print(table)

    _run(action, locale)


@referrals_app.command("settle")
def referrals_settle(workspace: WorkspaceOption = None, lang: LocaleOption = None) -> None:
    """Reward both sides of the referrals whose qualifying purchase outlived the return window (run it daily;
    safe to run twice or at once)."""
    locale = _locale(lang)

    def action() -> None:
        with transaction() as session:
            ws = core_service.get_workspace(session, _workspace_slug(workspace))
            report = referrals.settle(session, workspace=ws)
        _say(_t("loyalty.cli_referrals_settled", locale, rewarded=report.rewarded, waiting=report.waiting,
                points=report.points))  # fmt: skip

    _run(action, locale)
