"""The rewards catalog, redemption for single-use coupons, the point of sale's check / redeem, cancellation and
the catalog's audit trail, each figure hand-computed (the program of tests/loyalty/conftest.py; the suite's clock
at 2026-11-24T02:00Z, so points adjusted now expire 2027-11-24T02:00Z)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from patron.core import clock
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.loyalty import coupons, rewards, service
from patron.loyalty.schemas import RewardCreate, RewardUpdate
from tests.loyalty.conftest import Program, order, utc

CATALOG: list[dict[str, Any]] = [
    {"code": "V100", "kind": "voucher", "amount": "100", "points_cost": 100, "stock": 2, "per_member_limit": 1,
     "name_zh_hant": "百元折價券", "name_zh_hans": "百元代金券", "name_en": "NT$100 voucher"},
    {"code": "DISC", "kind": "discount", "percent": 10, "points_cost": 500,
     "name_zh_hant": "九折", "name_zh_hans": "九折", "name_en": "10% off"},
    {"code": "TEA", "kind": "free_product", "points_cost": 50, "valid_until": "2026-11-01T00:00:00+08:00",
     "name_zh_hant": "烏龍茶一包", "name_zh_hans": "乌龙茶一包", "name_en": "A pack of oolong"},
    {"code": "EVENT", "kind": "experience", "points_cost": 30, "valid_from": "2026-12-01T00:00:00+08:00",
     "name_zh_hant": "品茶會", "name_zh_hans": "品茶会", "name_en": "Tea tasting"},
]  # fmt: skip


def _adjust(fx: Program, customer: str, points: int, key: str | None = None) -> None:
    with transaction(fx.engine) as session:
        service.adjust(session, workspace=fx.workspace, customer_external_id=customer, points=points,
                       reason="start", idempotency_key=key or f"start-{customer}", actor="tests")  # fmt: skip


def _catalog(fx: Program, items: list[dict[str, Any]] = CATALOG) -> None:
    with transaction(fx.engine) as session:
        for item in items:
            rewards.create_reward(
                session, workspace=fx.workspace, data=RewardCreate.model_validate(item), actor="alice"
            )


def _redeem(fx: Program, code: str, customer: str, key: str) -> Any:
    with transaction(fx.engine) as session:
        return rewards.redeem_reward(session, workspace=fx.workspace, code=code, customer_external_id=customer,
                                     idempotency_key=key)  # fmt: skip


def _refused(fx: Program, call: Any, **kwargs: Any) -> str:
    with pytest.raises(PatronError) as caught, transaction(fx.engine) as session:
        call(session, workspace=fx.workspace, **kwargs)
    return f"{caught.value.status} {caught.value.code}"


def _points(fx: Program, customer: str) -> tuple[int, int]:
    with transaction(fx.engine) as session:
        read = service.balance(session, workspace_id=fx.workspace.id, customer_external_id=customer)
    return read.points, read.debt


def _entries(fx: Program, customer: str) -> list[tuple[str, int, int, str]]:
    with transaction(fx.engine) as session:
        page = service.entries(session, workspace_id=fx.workspace.id, customer_external_id=customer)
    return [(e.kind, e.points, e.debt_delta, e.reason) for e in reversed(page.items)]


def _check(fx: Program) -> None:
    with transaction(fx.engine) as session:
        assert service.check(session, workspace_id=fx.workspace.id).differences == []


def test_redeeming_rewards_for_coupons_and_every_refusal(program: Program) -> None:
    fx = program
    _catalog(fx)
    for customer, points in (("C001", 250), ("C002", 120), ("C003", 100)):
        _adjust(fx, customer, points)
    first = _redeem(fx, "V100", "C001", "k1")
    assert (first.status, first.usable, first.points, first.balance, first.amount, first.replayed) == (
        "issued", True, 100, 150, "100.00", False)  # fmt: skip
    assert first.expires_at - first.issued_at == timedelta(days=30)
    assert len(first.code) == 19 and coupons.normalise_code(first.code) == first.code.replace("-", "")
    again = _redeem(fx, "V100", "C001", "k1")  # a retry: the same coupon, nothing moved
    assert (again.code, again.replayed, again.balance) == (first.code, True, 150)
    redeem = rewards.redeem_reward
    assert (
        _refused(fx, redeem, code="V100", customer_external_id="C001", idempotency_key="k2")
        == "409 loyalty.reward_limit"
    )
    second = _redeem(fx, "V100", "C002", "k3")
    assert second.balance == 20  # 120 − 100
    # stock 2, both issued: C003 is refused and keeps its 100 points
    assert (
        _refused(fx, redeem, code="V100", customer_external_id="C003", idempotency_key="k4")
        == "409 loyalty.reward_out_of_stock"
    )
    assert (
        _refused(fx, redeem, code="DISC", customer_external_id="C001", idempotency_key="k5")
        == "409 loyalty.insufficient_points"
    )
    assert (
        _refused(fx, redeem, code="TEA", customer_external_id="C001", idempotency_key="k6")
        == "409 loyalty.reward_ended"
    )
    assert (
        _refused(fx, redeem, code="EVENT", customer_external_id="C001", idempotency_key="k7")
        == "409 loyalty.reward_not_yet"
    )
    assert (
        _refused(fx, redeem, code="NOPE", customer_external_id="C001", idempotency_key="k8")
        == "404 loyalty.reward_not_found"
    )
    assert (
        _refused(fx, redeem, code="V100", customer_external_id="C004", idempotency_key="k9")
        == "404 loyalty.member_not_found"
    )
    assert (
        _refused(fx, redeem, code="V100", customer_external_id="C002", idempotency_key="k1")
        == "409 loyalty.key_reused"
    )
    assert (_points(fx, "C001"), _points(fx, "C003")) == ((150, 0), (100, 0))  # nothing moved by a refusal
    assert [e[:2] for e in _entries(fx, "C003")] == [("adjust", 100)]
    with transaction(fx.engine) as session:
        rewards.update_reward(
            session, workspace=fx.workspace, code="DISC", data=RewardUpdate(active=False), actor="bob"
        )
    assert (
        _refused(fx, redeem, code="DISC", customer_external_id="C001", idempotency_key="k10")
        == "404 loyalty.reward_not_found"
    )

    # the point of sale: check, redeem once; a retry with its reference is answered again, any other use refused
    typed = first.code.lower().replace("-", " ")
    with transaction(fx.engine) as session:
        checked = coupons.check_coupon(session, workspace=fx.workspace, code=typed)
    assert (checked.reward, checked.customer_id, checked.usable, checked.name_en) == (
        "V100",
        "C001",
        True,
        "NT$100 voucher",
    )
    use = coupons.use_coupon
    mistyped = ("1" if first.code[0] != "1" else "2") + first.code[1:]
    assert _refused(fx, use, code=mistyped) == "400 loyalty.coupon_mistyped"
    assert (
        _refused(fx, use, code="0000-0000-0000-0000") == "404 loyalty.coupon_not_found"
    )  # checks, but unknown
    with transaction(fx.engine) as session:
        used = use(session, workspace=fx.workspace, code=first.code, reference="POS1-0001")
    assert (used.status, used.usable, used.used_reference, used.replayed) == (
        "used",
        False,
        "POS1-0001",
        False,
    )
    with transaction(fx.engine) as session:
        assert use(session, workspace=fx.workspace, code=first.code, reference="POS1-0001").replayed is True
    assert _refused(fx, use, code=first.code, reference="POS2-0001") == "409 loyalty.coupon_used"
    assert _refused(fx, use, code=first.code) == "409 loyalty.coupon_used"

    # cancelling C002's unused coupon gives its 100 points back and the stock its coupon
    with transaction(fx.engine) as session:
        cancelled = coupons.cancel_coupon(session, workspace=fx.workspace, code=second.code, actor="carol")
    assert (cancelled.status, cancelled.balance) == ("cancelled", 120)
    assert _entries(fx, "C002") == [("adjust", 120, 0, "start"), ("redeem", -100, 0, "reward"),
                                    ("reverse", 100, 0, "coupon_cancelled")]  # fmt: skip
    cancel = coupons.cancel_coupon
    assert _refused(fx, cancel, code=second.code, actor="x") == "409 loyalty.coupon_cancelled"
    assert _refused(fx, use, code=second.code) == "409 loyalty.coupon_cancelled"
    assert _refused(fx, cancel, code=first.code, actor="x") == "409 loyalty.coupon_used"
    third = _redeem(fx, "V100", "C003", "k11")
    assert third.balance == 0
    with transaction(fx.engine) as session:
        assert rewards.get_reward(session, workspace=fx.workspace, code="V100").left == 0
    # 30 days after it was issued (on 24 November) the coupon is past its expiry
    with clock.frozen(datetime(2026, 12, 25, 2, 0, tzinfo=UTC)):
        assert _refused(fx, use, code=third.code) == "409 loyalty.coupon_expired"
        with transaction(fx.engine) as session:
            assert coupons.check_coupon(session, workspace=fx.workspace, code=third.code).usable is False
    _check(fx)


def test_a_cancelled_coupon_gives_points_back_with_their_expiry_and_repays_debt_first(
    program: Program,
) -> None:
    fx = program
    _catalog(fx, [{"code": "R120", "kind": "experience", "points_cost": 120, "name_zh_hant": "甲",
                   "name_zh_hans": "甲", "name_en": "A"},
                  {"code": "R27", "kind": "experience", "points_cost": 27, "name_zh_hant": "乙",
                   "name_zh_hans": "乙", "name_en": "B"}])  # fmt: skip
    # C004: 40 points earned 2025-12-10 (expire 2026-12-10 04:00Z) and 100 now (expire 2027-11-24 02:00Z)
    with clock.frozen(utc("2025-12-10T04:00:00+00:00")):
        _adjust(fx, "C004", 40, "old")
    _adjust(fx, "C004", 100, "new")
    coupon = _redeem(fx, "R120", "C004", "c4")  # 40 from the older lot, 80 from the newer
    assert coupon.balance == 20
    with transaction(fx.engine) as session:
        coupons.cancel_coupon(session, workspace=fx.workspace, code=coupon.code, actor="tests")
        read = service.balance(session, workspace_id=fx.workspace.id, customer_external_id="C004")
    assert (read.points, read.debt) == (140, 0)
    assert [(s.points, s.expires_at) for s in read.expiring_soon] == [(40, utc("2026-12-10T04:00:00+00:00"))]

    # C003: an order earns 27 (v2: 2 × NT$680 × 2 / NT$100 = 27.2), all spent on R27, then the order is cancelled:
    # debt 27. Cancelling the coupon gives 27 back, which repays the debt: balance 0, debt 0, no new lot.
    fx.import_orders([order("O1", 1, "C003", "2026-09-10T10:00:00+08:00", "paid", "P1", 2, "680")], "o1.csv")
    spent = _redeem(fx, "R27", "C003", "c3")
    assert spent.balance == 0
    fx.import_orders(
        [order("O1", 1, "C003", "2026-09-10T10:00:00+08:00", "cancelled", "P1", 2, "680")], "o1b.csv"
    )
    assert _points(fx, "C003") == (0, 27)
    with transaction(fx.engine) as session:
        coupons.cancel_coupon(session, workspace=fx.workspace, code=spent.code, actor="tests")
    assert _points(fx, "C003") == (0, 0)
    assert _entries(fx, "C003")[-1] == ("reverse", 27, -27, "coupon_cancelled")
    _check(fx)


def test_catalog_changes_are_recorded_with_who_and_what(program: Program) -> None:
    fx = program
    _catalog(fx, CATALOG[:1])
    with transaction(fx.engine) as session:
        rewards.update_reward(session, workspace=fx.workspace, code="V100",
                              data=RewardUpdate(points_cost=120, stock=5, name_en="NT$100 voucher"), actor="bob")  # fmt: skip
        rewards.update_reward(session, workspace=fx.workspace, code="V100", data=RewardUpdate(per_member_limit=None),
                              actor="carol")  # fmt: skip
        changes = rewards.catalog_changes(session, workspace_id=fx.workspace.id, code="V100")
        read = rewards.get_reward(session, workspace=fx.workspace, code="V100")
    assert [(c.action, c.actor) for c in changes] == [
        ("update", "carol"),
        ("update", "bob"),
        ("create", "alice"),
    ]
    assert changes[0].changes == {"per_member_limit": [1, None]}
    assert changes[1].changes == {
        "points_cost": [100, 120],
        "stock": [2, 5],
    }  # the unchanged name is not listed
    assert (changes[2].changes["points_cost"], changes[2].changes["stock"]) == ([None, 100], [None, 2])
    assert (read.points_cost, read.stock, read.left, read.per_member_limit) == (120, 5, 5, None)
    _adjust(fx, "C001", 300)
    _redeem(fx, "V100", "C001", "a")
    _redeem(fx, "V100", "C001", "b")
    update, create = rewards.update_reward, rewards.create_reward
    assert (
        _refused(fx, update, code="V100", data=RewardUpdate(stock=1), actor="x")
        == "409 loyalty.stock_below_issued"
    )
    assert _refused(fx, update, code="V100", data=RewardUpdate(valid_from=utc("2027-01-01T00:00:00+00:00"),
                    valid_until=utc("2026-12-01T00:00:00+00:00")), actor="x") == "400 loyalty.bad_period"  # fmt: skip
    assert (
        _refused(fx, update, code="V100", data=RewardUpdate(percent=5), actor="x")
        == "400 loyalty.reward_value"
    )
    assert (
        _refused(fx, update, code="V100", data=RewardUpdate(name_en=None), actor="x")
        == "400 loyalty.reward_field_required"
    )
    assert (
        _refused(fx, update, code="NOPE", data=RewardUpdate(stock=1), actor="x")
        == "404 loyalty.reward_not_found"
    )
    assert (
        _refused(fx, create, data=RewardCreate.model_validate(CATALOG[0]), actor="x")
        == "409 loyalty.reward_exists"
    )
    no_amount = {**CATALOG[0], "code": "V2", "amount": None}
    assert (
        _refused(fx, create, data=RewardCreate.model_validate(no_amount), actor="x")
        == "400 loyalty.reward_value"
    )
    with transaction(fx.engine) as session:
        assert (
            len(rewards.catalog_changes(session, workspace_id=fx.workspace.id)) == 3
        )  # refusals record nothing
    assert _points(fx, "C001") == (60, 0)  # two coupons at the raised cost: 300 − 2 × 120


def test_coupon_codes_carry_a_check_symbol() -> None:
    made = {coupons.new_code() for _ in range(200)}
    assert len(made) == 200 and all(len(c) == 16 and coupons.normalise_code(c) == c for c in made)
    code = "7KQ3M9XD2HTW8RP"
    full = code + coupons.check_symbol(code)
    assert coupons.normalise_code(coupons.shown(full).lower()) == full
    assert coupons.normalise_code(full.replace("0", "O").replace("1", "I")) == full
    for i in range(16):  # every single mistyped symbol is caught
        for other in coupons.ALPHABET:
            if other != full[i]:
                with pytest.raises(PatronError):
                    coupons.normalise_code(full[:i] + other + full[i + 1 :])
