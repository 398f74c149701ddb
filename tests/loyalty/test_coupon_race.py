"""One coupon redeemed at once from several processes (each its own engine, against the real database): exactly
one point of sale succeeds. And the last units of a reward's stock redeemed at once: never more than the stock."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from patron.core import service as core_service
from patron.core.db import make_engine, transaction
from patron.core.errors import PatronError
from patron.loyalty import coupons, rewards, service
from patron.loyalty.schemas import RewardCreate
from tests.loyalty.conftest import Program

PROCESSES = 4
pytestmark = pytest.mark.slow  # each process starts Python and imports Patron


def _worker(url: str, slug: str, worker: int, code: str, barrier: Any, results: Any) -> None:
    """A point of sale trying the coupon three times with its own receipt numbers; then, all at once again,
    customer C00{worker + 1} redeeming the scarce reward."""
    engine = make_engine(url)
    done: list[str] = []
    barrier.wait()
    for attempt in range(3):
        try:
            with transaction(engine) as session:
                ws = core_service.get_workspace(session, slug)
                coupons.use_coupon(session, workspace=ws, code=code, reference=f"POS{worker}-{attempt}")
            done.append("ok")
        except PatronError as error:
            done.append(error.code)
    barrier.wait()
    try:
        with transaction(engine) as session:
            ws = core_service.get_workspace(session, slug)
            rewards.redeem_reward(session, workspace=ws, code="LAST", customer_external_id=f"C00{worker + 1}",
                                  idempotency_key=f"race-{worker}")  # fmt: skip
        done.append("stock:ok")
    except PatronError as error:
        done.append(f"stock:{error.code}")
    engine.dispose()
    results.put(done)


def _race(target: Any, args: Any) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=target, args=(*args(i), barrier, results)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    outcomes = [item for _ in workers for item in results.get(timeout=300)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def _setup(program: Program, stock: int) -> None:
    with transaction(program.engine) as session:
        rewards.create_reward(session, workspace=program.workspace, actor="tests", data=RewardCreate(
            code="LAST", kind="experience", points_cost=10, stock=stock, name_zh_hant="甲", name_zh_hans="甲",
            name_en="A"))  # fmt: skip
        for i in range(1, 5):
            service.adjust(session, workspace=program.workspace, customer_external_id=f"C00{i}", points=25,
                           reason="start", idempotency_key=f"start-{i}", actor="tests")  # fmt: skip


def test_one_coupon_used_at_once_from_several_processes_succeeds_once_and_stock_is_never_exceeded(
    program: Program,
) -> None:
    # C001 holds the coupon (10 of its 25 points); the reward has 3 left (stock 4, one issued)
    _setup(program, stock=4)
    with transaction(program.engine) as session:
        code = rewards.redeem_reward(session, workspace=program.workspace, code="LAST", customer_external_id="C001",
                                     idempotency_key="the-coupon").code  # fmt: skip
    url = program.engine.url.render_as_string(hide_password=False)
    outcomes = _race(_worker, lambda i: (url, program.workspace.slug, i, code))
    uses = sorted(o for o in outcomes if not o.startswith("stock:"))
    # 4 points of sale × 3 tries: one redemption, eleven refusals naming the coupon as used
    assert uses == ["loyalty.coupon_used"] * 11 + ["ok"]
    # 4 members at once for the 3 left: three coupons, one refusal
    assert (
        sorted(o for o in outcomes if o.startswith("stock:"))
        == ["stock:loyalty.reward_out_of_stock"] + ["stock:ok"] * 3
    )
    with transaction(program.engine) as session:
        read = coupons.check_coupon(session, workspace=program.workspace, code=code)
        assert (
            read.status == "used"
            and read.used_reference is not None
            and read.used_reference.startswith("POS")
        )
        reward = rewards.get_reward(session, workspace=program.workspace, code="LAST")
        assert (reward.issued, reward.left) == (4, 0)
        assert service.check(session, workspace_id=program.workspace.id).differences == []
