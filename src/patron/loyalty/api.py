"""REST: the loyalty program, earn-rule versions, members' balances and ledgers, redemptions, adjustments,
order points and refunds, and the consistency check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from patron.core.clock import today_in, utcnow
from patron.dashboard import loyalty as loyalty_view
from patron.dashboard.filters import parse_filters
from patron.loyalty import coupons, grouped, orders, referrals, rewards, service
from patron.loyalty.models import ReferralStatus
from patron.loyalty.schemas import (
    BalanceRead,
    CatalogChangeRead,
    CheckReport,
    CouponRead,
    CouponUse,
    EarnRuleRead,
    EnrolmentCreate,
    EntryPage,
    MembershipRead,
    OperationRead,
    OrderPoints,
    OverviewRead,
    PointsChange,
    ProgramRead,
    ProgramUpdate,
    ReferralCodeRead,
    ReferralCreate,
    ReferralPage,
    ReferralRead,
    ReferralSettingsRead,
    ReferralSettingsUpdate,
    RefundCreate,
    RewardCreate,
    RewardRead,
    RewardRedeem,
    RewardUpdate,
    SettleReport,
    UnenrolCreate,
)
from patron.web.deps import ApiWorkspaceDep, group_commit, in_group_commit, in_transaction
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
#: Redemptions and adjustments arriving together share a transaction, written set-wise (``loyalty.grouped``),
#: as is one arriving alone: the set-wise form is the cheaper one even then.
group_commit.together(grouped.operation, grouped.operations, savepoint=False, single=True)
CustomerId = Annotated[str, Query(min_length=1, max_length=128)]


@router.get(
    "/program", response_model=ProgramRead, operation_id="loyalty-program", responses=errors(401, 404)
)
async def read_program(workspace: ApiWorkspaceDep) -> ProgramRead:
    def work(session: Any) -> ProgramRead:
        return service.program_read(service.require_program(session, workspace.id))

    return await in_transaction(work)


@router.put(
    "/program",
    response_model=ProgramRead,
    operation_id="loyalty-set_program",
    responses=errors(400, 401, 409, 422),
)
async def set_program(workspace: ApiWorkspaceDep, body: ProgramUpdate) -> ProgramRead:
    return await in_transaction(service.set_program, workspace=workspace, data=body)


@router.get(
    "/overview",
    response_model=OverviewRead,
    operation_id="loyalty-overview",
    responses=errors(400, 401, 404, 422),
)
async def overview(
    workspace: ApiWorkspaceDep,
    until: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="The trend window's last day, YYYY-MM-DD (default: yesterday)",
        ),
    ] = None,
    segment: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    partial: Annotated[bool, Query(description="Include the month under way")] = False,
) -> OverviewRead:
    """Members by tier, the liability in points and money, debt, points expiring, the movements per month of the
    12-month trend window and the redemption and breakage rates (the dashboard's Loyalty tab as data)."""
    params = {"segment": segment or "", "partial": "1" if partial else ""}
    if until is not None:
        params |= {"since": until, "until": until}

    def work(session: Any) -> OverviewRead:
        filters = parse_filters(params, today=today_in(workspace.timezone))
        return loyalty_view.overview(session, workspace, filters)

    return await in_transaction(work)


@router.get(
    "/rules", response_model=list[EarnRuleRead], operation_id="loyalty-rules", responses=errors(401, 404)
)
async def list_rules(workspace: ApiWorkspaceDep) -> list[EarnRuleRead]:
    return await in_transaction(service.list_rules, workspace_id=workspace.id)


@router.post(
    "/rules",
    response_model=EarnRuleRead,
    status_code=201,
    operation_id="loyalty-add_rule",
    responses=errors(400, 401, 404, 409, 422),
)
async def add_rule(workspace: ApiWorkspaceDep, body: Annotated[dict[str, Any], Body()]) -> EarnRuleRead:
    """A new earn-rule version (the same document as a rule file); it never changes what was already earned."""
    data = service.parse_rules(body, "body")
    return await in_transaction(service.add_rule, workspace=workspace, data=data, actor="api")


@router.post(
    "/members/{customer_id}",
    response_model=MembershipRead,
    operation_id="loyalty-enrol",
    responses=errors(400, 401, 404, 409, 422),
)
async def enrol(
    workspace: ApiWorkspaceDep, customer_id: str, body: Annotated[EnrolmentCreate | None, Body()] = None
) -> MembershipRead:
    """Enrol a customer with the consent they gave (when, where it was collected, who recorded it; an empty
    body: given now, through the API). A member keeps their record; one who left comes back from zero."""
    data = body or EnrolmentCreate()
    consent = service.Consent(
        at=data.consented_at or utcnow(), source=data.source, by=data.recorded_by or "api"
    )
    return await in_transaction(service.enrol, workspace=workspace, customer_external_id=customer_id,
                                consent=consent)  # fmt: skip


@router.post(
    "/members/{customer_id}/leave",
    response_model=MembershipRead,
    operation_id="loyalty-unenrol",
    responses=errors(400, 401, 404, 422),
)
async def unenrol(
    workspace: ApiWorkspaceDep, customer_id: str, body: Annotated[UnenrolCreate | None, Body()] = None
) -> MembershipRead:
    """Take a member out of the program: live points are forfeited and debt written off, both as entries; the
    history stays. Leaving twice moves nothing."""
    reason = (body or UnenrolCreate()).reason
    return await in_transaction(service.unenrol, workspace=workspace, customer_external_id=customer_id,
                                actor="api", reason=reason)  # fmt: skip


@router.get(
    "/members/{customer_id}/membership",
    response_model=MembershipRead,
    operation_id="loyalty-membership",
    responses=errors(401, 404, 422),
)
async def membership(workspace: ApiWorkspaceDep, customer_id: str) -> MembershipRead:
    """Whether the customer is a member, with the recorded consent (and when they left)."""
    return await in_transaction(
        service.membership, workspace_id=workspace.id, customer_external_id=customer_id
    )


@router.get(
    "/members/{customer_id}",
    response_model=BalanceRead,
    operation_id="loyalty-balance",
    responses=errors(401, 404, 422),
)
async def balance(workspace: ApiWorkspaceDep, customer_id: str) -> BalanceRead:
    return await in_transaction(service.balance, workspace_id=workspace.id, customer_external_id=customer_id)


@router.get(
    "/members/{customer_id}/entries",
    response_model=EntryPage,
    operation_id="loyalty-entries",
    responses=errors(401, 404, 422),
)
async def entries(
    workspace: ApiWorkspaceDep,
    customer_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EntryPage:
    return await in_transaction(service.entries, workspace_id=workspace.id, customer_external_id=customer_id,
                                limit=limit, offset=offset)  # fmt: skip


@router.post(
    "/members/{customer_id}/redeem",
    response_model=OperationRead,
    operation_id="loyalty-redeem",
    responses=errors(400, 401, 404, 409, 422),
)
async def redeem(workspace: ApiWorkspaceDep, customer_id: str, body: PointsChange) -> OperationRead:
    """Spend points; 409 ``loyalty.insufficient_points`` when the balance is short (nothing moves). A retry with
    the same ``idempotency_key`` answers the first result with ``replayed: true``."""
    return await in_group_commit(grouped.operation, workspace=workspace, kind=grouped.REDEEM,
                                 customer_external_id=customer_id, points=body.points, reason=body.reason,
                                 idempotency_key=body.idempotency_key)  # fmt: skip


@router.post(
    "/members/{customer_id}/adjust",
    response_model=OperationRead,
    operation_id="loyalty-adjust",
    responses=errors(400, 401, 404, 409, 422),
)
async def adjust(workspace: ApiWorkspaceDep, customer_id: str, body: PointsChange) -> OperationRead:
    return await in_group_commit(grouped.operation, workspace=workspace, kind=grouped.ADJUST,
                                 customer_external_id=customer_id, points=body.points, reason=body.reason,
                                 idempotency_key=body.idempotency_key, actor="api")  # fmt: skip


@router.get(
    "/orders/{order_id}",
    response_model=OrderPoints,
    operation_id="loyalty-order_points",
    responses=errors(401, 404, 422),
)
async def order_points(workspace: ApiWorkspaceDep, order_id: str) -> OrderPoints:
    return await in_transaction(orders.order_points, workspace_id=workspace.id, order_external_id=order_id)


@router.post(
    "/orders/{order_id}/sync",
    response_model=OrderPoints,
    operation_id="loyalty-sync_order",
    responses=errors(400, 401, 404, 409, 422),
)
async def sync_order(workspace: ApiWorkspaceDep, order_id: str) -> OrderPoints:
    """Earn or give back points after the order changed (a new status, lines added or removed)."""
    return await in_transaction(orders.sync_order, workspace=workspace, order_external_id=order_id)


@router.post(
    "/orders/{order_id}/refunds",
    response_model=OrderPoints,
    operation_id="loyalty-refund",
    responses=errors(400, 401, 404, 409, 422),
)
async def refund(workspace: ApiWorkspaceDep, order_id: str, body: RefundCreate) -> OrderPoints:
    """Units given back (no lines: the whole order); their share of the points is taken back."""
    return await in_transaction(
        orders.refund_order, workspace=workspace, order_external_id=order_id, data=body
    )


@router.get("/check", response_model=CheckReport, operation_id="loyalty-check", responses=errors(401, 404))
async def check(workspace: ApiWorkspaceDep) -> CheckReport:
    return await in_transaction(service.check, workspace_id=workspace.id)


# --------------------------------------------------------------------------------------------- tiers
from patron.loyalty import tiers as tiers_service  # noqa: E402  (appended section, kept apart for merges)
from patron.loyalty.birthday import give_birthday_rewards  # noqa: E402
from patron.loyalty.member_page import mint_link as mint_member_link  # noqa: E402
from patron.loyalty.schemas import (  # noqa: E402
    BirthdayReport,
    MemberLinkRead,
    MemberTierRead,
    ReviewReport,
    TierSetRead,
)
from patron.web.deps import LocaleDep  # noqa: E402


@router.get("/tiers", response_model=list[TierSetRead], operation_id="loyalty-tiers", responses=errors(401))
async def list_tiers(workspace: ApiWorkspaceDep, locale: LocaleDep) -> list[TierSetRead]:
    """Every tier-set version, oldest first (``name`` in the request's language)."""
    return await in_transaction(tiers_service.list_tier_sets, workspace_id=workspace.id, locale=locale)


@router.post(
    "/tiers",
    response_model=TierSetRead,
    status_code=201,
    operation_id="loyalty-add_tiers",
    responses=errors(400, 401, 404, 409, 422),
)
async def add_tiers(
    workspace: ApiWorkspaceDep, locale: LocaleDep, body: Annotated[dict[str, Any], Body()]
) -> TierSetRead:
    """A new tier-set version (the same document as a tier file); members keep their tiers."""
    data = tiers_service.parse_tiers(body, "body")
    return await in_transaction(
        tiers_service.add_tier_set, workspace=workspace, data=data, actor="api", locale=locale
    )


@router.get(
    "/members/{customer_id}/tier",
    response_model=MemberTierRead,
    operation_id="loyalty-member_tier",
    responses=errors(401, 404, 422),
)
async def member_tier(workspace: ApiWorkspaceDep, customer_id: str, locale: LocaleDep) -> MemberTierRead:
    """The member's tier, qualifying spend in the rolling window, progress to the next tier and tier history."""
    return await in_transaction(tiers_service.member_tier, workspace=workspace, customer_external_id=customer_id,
                                locale=locale)  # fmt: skip


@router.post(
    "/tiers/review", response_model=ReviewReport, operation_id="loyalty-review", responses=errors(401)
)
async def review(workspace: ApiWorkspaceDep) -> ReviewReport:
    """The yearly review (acts once a year, on or after the review day; ``due: false`` before it)."""
    return await in_transaction(tiers_service.review, workspace=workspace)


@router.post(
    "/birthday/run", response_model=BirthdayReport, operation_id="loyalty-birthday", responses=errors(401)
)
async def birthday_run(workspace: ApiWorkspaceDep) -> BirthdayReport:
    """Give this month's birthday rewards by tier (idempotent: once per member and year)."""
    return await in_transaction(give_birthday_rewards, workspace=workspace)


@router.post(
    "/members/{customer_id}/link",
    response_model=MemberLinkRead,
    operation_id="loyalty-member_link",
    responses=errors(401, 404, 422),
)
async def member_link(workspace: ApiWorkspaceDep, customer_id: str) -> MemberLinkRead:
    """The member's own page as a signed link (the same link each time) to send or print as a QR code."""
    return await in_transaction(mint_member_link, workspace=workspace, customer_external_id=customer_id)


# --------------------------------------------------------------------------------------------- rewards and coupons
RewardPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
CouponPath = Annotated[str, Path(min_length=1, max_length=40)]


@router.get(
    "/rewards", response_model=list[RewardRead], operation_id="loyalty-rewards", responses=errors(401)
)
async def list_rewards(workspace: ApiWorkspaceDep) -> list[RewardRead]:
    return await in_transaction(rewards.list_rewards, workspace=workspace)


@router.post(
    "/rewards",
    response_model=RewardRead,
    status_code=201,
    operation_id="loyalty-create_reward",
    responses=errors(400, 401, 404, 409, 422),
)
async def create_reward(workspace: ApiWorkspaceDep, body: RewardCreate) -> RewardRead:
    """A new reward of the catalog (recorded in the catalog's audit trail as made by ``api``)."""
    return await in_transaction(rewards.create_reward, workspace=workspace, data=body, actor="api")


@router.get(
    "/rewards/{code}",
    response_model=RewardRead,
    operation_id="loyalty-reward",
    responses=errors(401, 404, 422),
)
async def read_reward(workspace: ApiWorkspaceDep, code: RewardPath) -> RewardRead:
    return await in_transaction(rewards.get_reward, workspace=workspace, code=code)


@router.patch(
    "/rewards/{code}",
    response_model=RewardRead,
    operation_id="loyalty-update_reward",
    responses=errors(400, 401, 404, 409, 422),
)
async def update_reward(workspace: ApiWorkspaceDep, code: RewardPath, body: RewardUpdate) -> RewardRead:
    """Change the fields given; each change (old and new value) goes to the catalog's audit trail."""
    return await in_transaction(rewards.update_reward, workspace=workspace, code=code, data=body, actor="api")


@router.get(
    "/catalog-changes",
    response_model=list[CatalogChangeRead],
    operation_id="loyalty-catalog_changes",
    responses=errors(401, 422),
)
async def catalog_changes(
    workspace: ApiWorkspaceDep,
    reward: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CatalogChangeRead]:
    return await in_transaction(rewards.catalog_changes, workspace_id=workspace.id, code=reward, limit=limit)


@router.post(
    "/rewards/{code}/redeem",
    response_model=CouponRead,
    status_code=201,
    operation_id="loyalty-redeem_reward",
    responses=errors(400, 401, 404, 409, 422),
)
async def redeem_reward(workspace: ApiWorkspaceDep, code: RewardPath, body: RewardRedeem) -> CouponRead:
    """Spend the reward's points and issue a single-use coupon. Refused, moving nothing: 404
    ``loyalty.reward_not_found``; 409 ``loyalty.reward_not_yet``, ``reward_ended``, ``reward_out_of_stock``,
    ``reward_limit``, ``insufficient_points``. A retry with the same key answers the first coupon."""
    return await in_transaction(rewards.redeem_reward, workspace=workspace, code=code,
                                customer_external_id=body.customer_id, idempotency_key=body.idempotency_key)  # fmt: skip


@router.get(
    "/coupons/{code}",
    response_model=CouponRead,
    operation_id="loyalty-check_coupon",
    responses=errors(400, 401, 404, 422),
)
async def check_coupon(workspace: ApiWorkspaceDep, code: CouponPath) -> CouponRead:
    """What a point of sale sees before redeeming: the reward, its value, and ``usable``."""
    return await in_transaction(coupons.check_coupon, workspace=workspace, code=code)


@router.post(
    "/coupons/{code}/redeem",
    response_model=CouponRead,
    operation_id="loyalty-use_coupon",
    responses=errors(400, 401, 404, 409, 422),
)
async def use_coupon(workspace: ApiWorkspaceDep, code: CouponPath, body: CouponUse) -> CouponRead:
    """Redeem a coupon at a point of sale, exactly once; 409 ``loyalty.coupon_used``, ``coupon_cancelled``,
    ``coupon_expired``. The same ``reference`` again answers the first redemption with ``replayed: true``."""
    return await in_transaction(coupons.use_coupon, workspace=workspace, code=code, reference=body.reference)


@router.post(
    "/coupons/{code}/cancel",
    response_model=CouponRead,
    operation_id="loyalty-cancel_coupon",
    responses=errors(400, 401, 404, 409, 422),
)
async def cancel_coupon(workspace: ApiWorkspaceDep, code: CouponPath) -> CouponRead:
    """Cancel a coupon not used yet: its points come back (a ``reverse`` entry) and the stock gets it back."""
    return await in_transaction(coupons.cancel_coupon, workspace=workspace, code=code, actor="api")


# --------------------------------------------------------------------------------------------- referrals
@router.get(
    "/referrals/settings",
    response_model=ReferralSettingsRead,
    operation_id="loyalty-referral_settings",
    responses=errors(401),
)
async def read_referral_settings(workspace: ApiWorkspaceDep) -> ReferralSettingsRead:
    return await in_transaction(referrals.read_settings, workspace=workspace)


@router.put(
    "/referrals/settings",
    response_model=ReferralSettingsRead,
    operation_id="loyalty-set_referral_settings",
    responses=errors(400, 401, 404, 422),
)
async def set_referral_settings(
    workspace: ApiWorkspaceDep, body: ReferralSettingsUpdate
) -> ReferralSettingsRead:
    return await in_transaction(referrals.set_settings, workspace=workspace, data=body)


@router.get(
    "/members/{customer_id}/referral",
    response_model=ReferralCodeRead,
    operation_id="loyalty-referral_code",
    responses=errors(401, 404, 422),
)
async def referral_code(workspace: ApiWorkspaceDep, customer_id: str) -> ReferralCodeRead:
    """The member's referral code and share link (made on first use), with how its referrals stand."""
    return await in_transaction(referrals.member_code, workspace=workspace, customer_external_id=customer_id)


@router.post(
    "/referrals",
    response_model=ReferralRead,
    status_code=201,
    operation_id="loyalty-record_referral",
    responses=errors(400, 401, 404, 409, 422),
)
async def record_referral(workspace: ApiWorkspaceDep, body: ReferralCreate) -> ReferralRead:
    """A new customer came with a member's code. A refused referral is recorded with its reason and answered 409
    ``loyalty.referral_self_customer``, ``_self_email``, ``_self_phone``, ``_already_referred``, ``_not_new`` or
    ``_cap``."""
    read = await in_transaction(referrals.record, workspace=workspace, data=body)
    refused = referrals.refusal(read)
    if refused is not None:
        raise refused
    return read


@router.get(
    "/referrals", response_model=ReferralPage, operation_id="loyalty-referrals", responses=errors(401, 422)
)
async def list_referrals(
    workspace: ApiWorkspaceDep,
    status: ReferralStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> ReferralPage:
    return await in_transaction(referrals.list_referrals, workspace_id=workspace.id, status=status, limit=limit,
                                offset=offset)  # fmt: skip


@router.post(
    "/referrals/settle",
    response_model=SettleReport,
    operation_id="loyalty-settle_referrals",
    responses=errors(401, 404),
)
async def settle_referrals(workspace: ApiWorkspaceDep) -> SettleReport:
    """Reward both sides of the referrals whose qualifying purchase outlived the return window (safe to repeat)."""
    return await in_transaction(referrals.settle, workspace=workspace)
