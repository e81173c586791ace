"""The arq worker: runs each capability's jobs (``tasks.py`` gathers them), runs the outbox
sweeper beside them, and survives Redis outages (it waits and reconnects instead of dying).

Run with ``kameng worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from arq.worker import Worker

from kameng_api import tasks
from kameng_api.core import db, memory, periodic, procmetrics
from kameng_api.core.redis import close_queue, redis_settings
from kameng_api.inventory import service as inventory
from kameng_api.outbox import service as outbox
from kameng_api.outbox.jobs import MAX_TIMEOUT_S, arq_functions
from kameng_api.settings import Settings, get_settings

log = logging.getLogger("kameng.worker")


async def sweeper_loop(settings: Settings, stop: asyncio.Event) -> None:
    """Push outbox rows the after-commit relay missed; refresh the outbox and stock gauges;
    run the periodic tasks that are due (core/periodic.py)."""
    last_run: dict[str, float] = {}
    while not stop.is_set():
        try:
            for _ in range(20):  # a full page is followed by the next: a hot sale's notices
                if await outbox.sweep() < outbox.SWEEP_PAGE:
                    break
            async with db.unit_of_work() as session:
                await outbox.stats(session)
                await inventory.stock_figures(session)
        except Exception as exc:
            log.warning("outbox sweep failed", extra={"error": repr(exc)})
        await periodic.run_due(last_run)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.outbox_sweep_interval_s)


def build_worker(settings: Settings) -> Worker:
    return Worker(
        functions=arq_functions(),
        queue_name=settings.queue_name,
        redis_settings=redis_settings(settings),
        max_jobs=settings.worker_max_jobs,
        job_timeout=MAX_TIMEOUT_S,
        keep_result=3600,
        health_check_interval=settings.worker_health_interval_s,
        handle_signals=False,
        poll_delay=0.2,
    )


def yield_cores(settings: Settings) -> None:
    """Background work yields the cores to the API's answers: nice, and on Linux the idle
    scheduling class (the worker runs only when no other task of its group wants a core,
    and never preempts one). Threads started later (the executor's) inherit both."""
    if settings.worker_nice:
        os.nice(settings.worker_nice)
    if settings.worker_idle_class and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:  # not allowed here (a container's seccomp): nice alone
            log.info("worker: the idle scheduling class is not available here")


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    yield_cores(settings)
    tasks.load()
    memory.settle_gc()
    # every job holds a connection (its outbox row's unit of work) and the delivery job takes
    # a second, short one (it commits its upstream row before calling a supplier): with no
    # more connections than jobs, all could wait for a second one at once. Room for that,
    # the periodic tasks and the sweeper:
    overflow = max(settings.db_max_overflow, settings.worker_max_jobs + 5 - settings.db_pool_size)
    db.init_engine(settings, role="kameng-worker", max_overflow=overflow)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sweeper = asyncio.create_task(sweeper_loop(settings, stop))
    log.info("worker started", extra={"queue": settings.queue_name})
    try:
        while not stop.is_set():
            worker = build_worker(settings)
            main = asyncio.create_task(worker.async_run())
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if main in done:
                exc = main.exception()
                log.warning("worker loop ended; restarting in 1 s", extra={"error": repr(exc)})
                stopper.cancel()
                await _close_worker(worker)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            else:
                # graceful: let running jobs finish (arq waits for them in close())
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await main
                await _close_worker(worker)
    finally:
        stop.set()
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await close_queue()
        await db.dispose_engine()
        procmetrics.process_exit()
        log.info("worker stopped")


async def _close_worker(worker: Worker) -> None:
    with contextlib.suppress(Exception):
        await worker.close()
