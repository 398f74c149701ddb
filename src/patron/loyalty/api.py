"""REST: the loyalty program, earn-rule versions, members' balances and ledgers, redemptions, adjustments,
order points and refunds, and the consistency check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from patron.loyalty import orders, service
from patron.loyalty.schemas import (
    BalanceRead,
    CheckReport,
    EarnRuleRead,
    EntryPage,
    OperationRead,
    OrderPoints,
    PointsChange,
    ProgramRead,
    ProgramUpdate,
    RefundCreate,
)
from patron.web.deps import ApiWorkspaceDep, in_transaction
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
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
    response_model=BalanceRead,
    operation_id="loyalty-enrol",
    responses=errors(400, 401, 404, 409, 422),
)
async def enrol(workspace: ApiWorkspaceDep, customer_id: str) -> BalanceRead:
    return await in_transaction(service.enrol, workspace=workspace, customer_external_id=customer_id)


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
    return await in_transaction(service.redeem, workspace=workspace, customer_external_id=customer_id,
                                points=body.points, reason=body.reason, idempotency_key=body.idempotency_key)  # fmt: skip


@router.post(
    "/members/{customer_id}/adjust",
    response_model=OperationRead,
    operation_id="loyalty-adjust",
    responses=errors(400, 401, 404, 409, 422),
)
async def adjust(workspace: ApiWorkspaceDep, customer_id: str, body: PointsChange) -> OperationRead:
    return await in_transaction(service.adjust, workspace=workspace, customer_external_id=customer_id,
                                points=body.points, reason=body.reason, idempotency_key=body.idempotency_key,
                                actor="api")  # fmt: skip


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
