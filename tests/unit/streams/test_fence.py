"""The rebalance fence (streams/fence.py): a revocation waits for the batch committing, and
keeps the next one out until the new assignment is taken."""

from __future__ import annotations

import asyncio

from streams.fence import RebalanceFence


async def test_a_revocation_waits_for_the_batch_inside_to_commit() -> None:
    fence = RebalanceFence()
    steps: list[str] = []
    committing = asyncio.Event()

    async def batch() -> None:
        async with fence.sending():
            committing.set()
            await asyncio.sleep(0.05)
            steps.append("committed")

    task = asyncio.create_task(batch())
    await committing.wait()
    assert await fence.close(within=5)
    steps.append("revoked")
    await task
    assert steps == ["committed", "revoked"]


async def test_a_batch_arriving_during_a_rebalance_waits_for_the_new_assignment() -> None:
    fence = RebalanceFence()
    assert await fence.close(within=1)
    let_in: list[int] = []

    async def batch() -> None:
        async with fence.sending() as generation:
            let_in.append(generation)

    task = asyncio.create_task(batch())
    await asyncio.sleep(0.05)
    assert let_in == []
    assert not fence.is_open
    fence.reopen()
    await asyncio.wait_for(task, 5)
    assert let_in == [1]


async def test_a_batch_that_never_commits_lets_the_rebalance_go_on_after_the_timeout() -> None:
    fence = RebalanceFence()
    stuck = asyncio.Event()

    async def batch() -> None:
        async with fence.sending():
            stuck.set()
            await asyncio.Event().wait()  # Kafka unreachable

    task = asyncio.create_task(batch())
    await stuck.wait()
    assert await fence.close(within=0.05) is False
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await fence.close(within=0.05)  # the cancelled batch left the fence
