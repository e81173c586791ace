"""The outbox's guarantees, with real commits, a real Redis and real worker processes.

These tests use their own database (copied from the migrated template) and, where they stop
Redis, their own Redis server.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kameng_api.core import db
from kameng_api.core import redis as core_redis
from kameng_api.embedded import EmbeddedRedis
from kameng_api.outbox import service as outbox
from kameng_api.outbox.jobs import registry, run_outbox_job
from kameng_api.outbox.models import OutboxMessage
from kameng_api.settings import get_settings
from kameng_api.system import service as system
from kameng_api.system.models import WorkerProbe
from tests.support.procs import kameng_env, settings_env, start_worker, stop, wait_for

pytestmark = pytest.mark.slow


async def _probe(probe_id: int) -> WorkerProbe | None:
    async with db.unit_of_work() as s:
        return await system.get_probe(s, probe_id)


async def _outbox_row(outbox_id: int) -> OutboxMessage | None:
    async with db.unit_of_work() as s:
        return (
            await s.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id))
        ).scalar_one_or_none()


async def _create_probe(label: str, work_ms: int = 0) -> tuple[int, int]:
    async with db.unit_of_work() as s:
        probe = await system.create_probe(s, label, work_ms)
        msg = (
            await s.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
        ).scalar_one()
    return probe.id, msg.id


async def _completed(probe_id: int) -> WorkerProbe | None:
    p = await _probe(probe_id)
    return p if p is not None and p.completed_at is not None else None


async def test_rolled_back_job_never_runs(wired: dict[str, str], tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    seen: list[int] = []

    async def write_then_fail() -> None:
        async with db.unit_of_work() as s:
            await system.create_probe(s, "rolled-back")
            seen.extend((await s.execute(select(OutboxMessage.id))).scalars())
            raise Boom

    with pytest.raises(Boom):
        await write_then_fail()
    assert len(seen) == 1
    outbox_id = seen[0]
    # a committed probe afterwards proves the worker was running and reachable
    worker = start_worker(kameng_env(**wired), str(tmp_path / "worker.log"))
    try:
        ok_id, _ = await _create_probe("committed")
        await wait_for(lambda: _completed(ok_id), 30)
        await asyncio.sleep(2)  # several sweeper rounds
    finally:
        stop(worker)
    queue = core_redis.get_queue()
    assert not await queue.exists(f"arq:job:{outbox.job_id(outbox_id)}")
    assert not await queue.exists(f"arq:result:{outbox.job_id(outbox_id)}")
    assert await _outbox_row(outbox_id) is None
    async with db.unit_of_work() as s:
        labels = (await s.execute(select(WorkerProbe.label))).scalars().all()
    assert labels == ["committed"]


async def test_job_written_while_redis_is_down_runs_when_it_returns(
    wired: dict[str, str], own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    worker = start_worker(kameng_env(**wired), str(tmp_path / "worker.log"))
    try:
        own_redis.stop()
        await core_redis.close_queue()
        probe_id, outbox_id = await _create_probe("during-outage")  # commits; relay fails
        row = await _outbox_row(outbox_id)
        assert row is not None
        assert row.enqueued_at is None
        assert row.done_at is None
        await asyncio.sleep(2)
        assert (await _probe(probe_id)).completed_at is None  # type: ignore[union-attr]
        own_redis.start()
        done = await wait_for(lambda: _completed(probe_id), 40)
        assert done.runs == 1
    finally:
        stop(worker)
    row = await _outbox_row(outbox_id)
    assert row is not None
    assert row.done_at is not None


async def test_relaying_the_same_row_twice_applies_it_once(
    wired: dict[str, str], tmp_path: Path
) -> None:
    probe_id, outbox_id = await _create_probe("twice")
    row = (outbox_id, "system:probe", None)
    # push it again and again, then run the job body directly, concurrently, several times
    assert await outbox.relay([row], via="test") == 1
    assert await outbox.relay([row], via="test") == 1
    spec = registry["system:probe"]
    results = await asyncio.gather(*(run_outbox_job(spec, outbox_id) for _ in range(4)))
    assert results.count("done") == 1
    worker = start_worker(kameng_env(**wired), str(tmp_path / "worker.log"))
    try:
        await asyncio.sleep(3)  # the worker sees the queued duplicates too
    finally:
        stop(worker)
    probe = await _probe(probe_id)
    assert probe is not None
    assert probe.runs == 1


async def test_worker_killed_mid_job_is_rerun_within_40s(
    wired: dict[str, str], tmp_path: Path
) -> None:
    log = str(tmp_path / "worker.log")
    first = start_worker(kameng_env(**wired), log)
    second = None
    try:
        probe_id, outbox_id = await _create_probe("killed", work_ms=3000)

        async def started() -> OutboxMessage | None:
            r = await _outbox_row(outbox_id)
            return r if r is not None and r.attempts >= 1 else None

        await wait_for(started, 30, interval_s=0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        killed_at = time.monotonic()
        assert (await _probe(probe_id)).completed_at is None  # type: ignore[union-attr]
        second = start_worker(kameng_env(**wired), log)
        done = await wait_for(lambda: _completed(probe_id), 40)
        took = time.monotonic() - killed_at
    finally:
        stop(first)
        if second is not None:
            stop(second)
    assert took < 40, f"re-run took {took:.1f} s"
    assert done.runs == 1
    row = await _outbox_row(outbox_id)
    assert row is not None
    assert row.attempts == 2
    assert row.done_at is not None


async def test_failing_job_is_retried_then_marked_failed(wired: dict[str, str]) -> None:
    """A job whose handler keeps failing records its error and stops after max tries."""
    from kameng_api.outbox.jobs import JobSpec

    calls = 0

    async def flaky(session, payload, meta):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        raise ValueError("upstream said no")

    registry["test:flaky"] = JobSpec("test:flaky", flaky, 5, 2)
    try:
        async with db.unit_of_work() as s:
            msg = await outbox.enqueue(s, "test:flaky", {})
        from arq import Retry

        with pytest.raises(Retry):
            await run_outbox_job(registry["test:flaky"], msg.id)
        assert await run_outbox_job(registry["test:flaky"], msg.id) == "failed"
        assert (
            await run_outbox_job(registry["test:flaky"], msg.id)
            == "skipped: already done or failed"
        )
    finally:
        del registry["test:flaky"]
    row = await _outbox_row(msg.id)
    assert calls == 2
    assert row is not None
    assert row.failed_at is not None
    assert row.done_at is None
    assert row.last_error == "ValueError: upstream said no"


async def test_mails_wait_while_a_sale_is_hot_and_go_once_it_cools(wired: dict[str, str]) -> None:
    """Rows the after-commit relay left for the sweeper, as the lane leaves a hot sale's
    notices: while the hold is up the sweeper pushes all but the holdable ones (those at most
    ``notice_hold_max_s``), and once it lapses, those too."""
    from kameng_api import tasks
    from kameng_api.orders.service import NOTIFY_TASK

    tasks.load()
    assert registry[NOTIFY_TASK].holdable
    assert not registry["system:probe"].holdable
    ids: dict[str, int] = {}
    async with db.unit_of_work() as s:
        for name, task, age_s in (
            ("notice", NOTIFY_TASK, 10),
            ("probe", "system:probe", 10),
            ("notice held too long", NOTIFY_TASK, 120),  # notice_hold_max_s is 60
        ):
            msg = OutboxMessage(
                task=task,
                payload={"order_ids": []},
                created_at=func.now() - timedelta(seconds=age_s),
            )
            s.add(msg)
            await s.flush()
            ids[name] = msg.id
    queue = core_redis.get_queue()

    async def pushed() -> set[str]:
        return {n for n, i in ids.items() if await queue.exists(f"arq:job:{outbox.job_id(i)}")}

    await outbox.hold()
    assert await outbox.holding()
    await outbox.sweep()
    assert await pushed() == {"probe", "notice held too long"}
    row = await _outbox_row(ids["notice"])
    assert row is not None
    assert row.enqueued_at is None
    await asyncio.sleep(outbox.HOLD_TTL_S + 0.2)  # no hot moment since: the hold lapses
    assert not await outbox.holding()
    await outbox.sweep()
    assert await pushed() == set(ids)


async def test_notices_swept_together_go_as_one_job_of_at_most_100_orders(
    wired: dict[str, str],
) -> None:
    """Never-pushed notice rows of batches, swept together (as when a hot sale cools), become
    one job per 100 orders; the rows they replace are done (a job for one of them does
    nothing), and rows of another shape, a later time or already pushed go as they are."""
    from kameng_api import tasks
    from kameng_api.orders.service import NOTIFY_TASK

    tasks.load()
    assert registry[NOTIFY_TASK].merge == ("order_ids", 100)
    ids: dict[str, int] = {}
    async with db.unit_of_work() as s:
        for name, task, payload, extra in (
            ("60", NOTIFY_TASK, {"order_ids": list(range(1, 61))}, {}),
            ("one order", NOTIFY_TASK, {"order_id": 500}, {}),
            ("30", NOTIFY_TASK, {"order_ids": list(range(61, 91))}, {}),
            ("probe", "system:probe", {"order_ids": [1]}, {}),
            ("20", NOTIFY_TASK, {"order_ids": list(range(91, 111))}, {}),  # 110 > 100
            ("pushed long ago", NOTIFY_TASK, {"order_ids": [200]},
             {"enqueued_at": func.now() - timedelta(hours=1)}),
            ("later", NOTIFY_TASK, {"order_ids": [300]},
             {"available_at": func.now() + timedelta(hours=1)}),
        ):  # fmt: skip
            msg = OutboxMessage(
                task=task, payload=payload, created_at=func.now() - timedelta(seconds=30), **extra
            )
            s.add(msg)
            await s.flush()
            ids[name] = msg.id
    queue = core_redis.get_queue()
    # it took all seven rows, though it pushed six jobs: a full page is followed by another
    assert await outbox.sweep(limit=len(ids)) == len(ids)
    async with db.unit_of_work() as s:
        [merged] = (
            await s.execute(select(OutboxMessage).where(OutboxMessage.id > max(ids.values())))
        ).scalars()
    assert merged.task == NOTIFY_TASK
    assert merged.payload == {"order_ids": list(range(1, 91))}
    jobs = {n for n, i in ids.items() if await queue.exists(f"arq:job:{outbox.job_id(i)}")}
    assert jobs == {"one order", "probe", "20", "pushed long ago", "later"}
    assert await queue.exists(f"arq:job:{outbox.job_id(merged.id)}")
    for name in ("60", "30"):
        row = await _outbox_row(ids[name])
        assert row is not None
        assert row.done_at is not None
        assert await run_outbox_job(registry[NOTIFY_TASK], ids[name]) == (
            "skipped: already done or failed"
        )
    for name in ("20", "one order", "later"):
        row = await _outbox_row(ids[name])
        assert row is not None
        assert row.done_at is None


async def test_a_job_that_cannot_reach_the_database_is_retried_not_parked(
    wired: dict[str, str], tmp_path: Path
) -> None:
    """The database is away as a job starts: nothing can be recorded, so the run asks arq to
    try again (a plain failure would leave arq's failed result for an hour, and with it an id
    the sweeper cannot push)."""
    from arq import Retry

    probe_id, outbox_id = await _create_probe("db-away")
    away = f"postgresql+asyncpg://postgres@/nowhere?host={tmp_path / 'no-server'}"
    await db.dispose_engine()
    with settings_env(KAMENG_DATABASE_URL=away):
        db.init_engine(get_settings(), pool_size=1, max_overflow=0)
        try:
            with pytest.raises(Retry):
                await run_outbox_job(registry["system:probe"], outbox_id)
        finally:
            await db.dispose_engine()
    db.init_engine(get_settings(), pool_size=4, max_overflow=0)
    row = await _outbox_row(outbox_id)
    assert row is not None
    assert (row.attempts, row.done_at, row.failed_at) == (0, None, None)
    assert await run_outbox_job(registry["system:probe"], outbox_id) == "done"
    assert (await _probe(probe_id)).runs == 1  # type: ignore[union-attr]


async def test_an_open_row_behind_a_kept_arq_result_is_pushed_again_and_done(
    wired: dict[str, str], tmp_path: Path
) -> None:
    """arq keeps a finished run's result (an hour by default) and refuses a new job under its
    id meanwhile. A row still open behind such a result — its run failed before it could
    record anything — is pushed again under a fresh id by the sweeper, and done."""
    from arq.constants import default_queue_name, result_key_prefix
    from arq.jobs import serialize_result
    from sqlalchemy import update

    probe_id, outbox_id = await _create_probe("kept-result")
    queue = core_redis.get_queue()
    jid = outbox.job_id(outbox_id)
    await wait_for(lambda: queue.exists(f"arq:job:{jid}"), 10)
    # the first run failed the old way: arq recorded a failed result and kept it
    await queue.delete(f"arq:job:{jid}")
    await queue.zrem(get_settings().queue_name or default_queue_name, jid)
    kept = serialize_result(
        "system:probe",
        (outbox_id,),
        {},
        1,
        0,
        False,
        OSError("database away"),
        0,
        0,
        "kept",
        get_settings().queue_name,
        jid,
    )
    assert kept is not None
    await queue.set(f"{result_key_prefix}{jid}", kept, px=3_600_000)
    assert await queue.enqueue_job("system:probe", outbox_id, _job_id=jid) is None  # refused
    async with db.unit_of_work() as s:  # pushed long ago, never done
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(enqueued_at=func.now() - timedelta(hours=1))
        )
    assert await outbox.sweep() >= 1
    worker = start_worker(kameng_env(**wired), str(tmp_path / "worker.log"))
    try:
        done = await wait_for(lambda: _completed(probe_id), 30)
    finally:
        stop(worker)
    assert done.runs == 1
    row = await _outbox_row(outbox_id)
    assert row is not None
    assert row.done_at is not None
