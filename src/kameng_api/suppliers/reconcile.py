"""Reconciliation (对账): for one supplier and a period, ask the supplier about each of our
upstream orders of the period and list where its answer and our record differ.

The report is worked through in pages by the job ``suppliers:reconcile``: each run locks the
report, takes the next upstream orders after its ``cursor`` (by id), asks the supplier about
them ``CONCURRENCY`` at a time through the adapter's ``query()`` (each call capped at
``CALL_CAP_S``), for at most ``BUDGET_S`` seconds, records the mismatches, advances the
cursor and — when more remain — enqueues the next page, all in the job's one transaction
with its done mark. A page delivered twice is done once; a worker killed mid-page rolls the
page back and the retry asks again. The console sees ``checked`` grow page by page.

Kinds (``MISMATCH_KINDS``):

- ``ours_success_theirs_failed`` — we delivered, the supplier says it failed (money at risk:
  the buyer may not have the goods);
- ``ours_success_theirs_missing`` — we delivered, the supplier never heard of the order;
- ``ours_failed_theirs_success`` — we failed (and refunded) it, the supplier delivered and
  charged us (goods delivered upstream that we did not pass on);
- ``state_differs`` — any other difference of state (e.g. ours still processing, theirs
  settled);
- ``cost_differs`` — both say success, the costs differ;
- ``unanswered`` — the supplier gave no usable answer for it (timeout, 5xx): not checked.

Orders the supplier knows and we do not can only be found by a protocol that lists orders;
none of ours does (``fulu``, ``kameng``, ``http_json`` answer per order only), so the report
says so (``theirs_listed`` false with a note) instead of pretending it looked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor
from kameng_api.core.clock import clock
from kameng_api.core.errors import AppError, NotFound
from kameng_api.core.spreadsheet import csv_bytes
from kameng_api.outbox import service as outbox
from kameng_api.outbox.models import OutboxMessage
from kameng_api.suppliers import service
from kameng_api.suppliers.adapter import RechargeResult, SupplierAdapter, SupplierUnavailable
from kameng_api.suppliers.models import Supplier, UpstreamOrder
from kameng_api.suppliers.sync_models import (
    MISMATCH_KINDS,
    SupplierReconMismatch,
    SupplierReconReport,
)

RECON_TASK = "suppliers:reconcile"
PAGE = 500  # upstream orders read per job run (at most)
CONCURRENCY = 16  # questions in flight at the supplier
CALL_CAP_S = 4.0  # one question's limit (under the supplier's own timeout)
BUDGET_S = 8.0  # a job run starts no new wave after this (job timeout 15 s)
MAX_PERIOD = timedelta(days=31)
EXPORT_MAX_ROWS = 100_000
NO_LISTING = (
    "该上游协议不能列出订单，无法发现只有上游有的订单 "
    "(the protocol cannot list orders: orders only the supplier knows were not looked for)"
)


class ReconRunning(AppError):
    status = 409
    code = "recon_running"
    title = "Reconciliation running"


class BadPeriod(AppError):
    status = 422
    code = "bad_period"
    title = "Bad period"


# ---- starting, reading -----------------------------------------------------------------------


async def settle_stale(session: AsyncSession, report: SupplierReconReport) -> SupplierReconReport:
    """A report whose page job gave up after every retry is failed with its last error."""
    if report.status != "running" or report.outbox_id is None:
        return report
    msg = await session.get(OutboxMessage, report.outbox_id)
    if msg is not None and msg.failed_at is not None:
        report.status = "failed"
        report.error = (msg.last_error or "the job stopped")[:500]
        report.finished_at = msg.failed_at
    return report


def _in_period(supplier_id: int, since: datetime, until: datetime) -> Any:
    return (
        (UpstreamOrder.supplier_id == supplier_id)
        & (UpstreamOrder.created_at >= since)
        & (UpstreamOrder.created_at < until)
    )


async def start(
    session: AsyncSession, actor: Actor, supplier: Supplier, since: datetime, until: datetime
) -> SupplierReconReport:
    if until <= since:
        raise BadPeriod("结束时间必须晚于开始时间 (until must be after since)")
    if until - since > MAX_PERIOD:
        raise BadPeriod("对账区间最长 31 天 (a period is at most 31 days)")
    running = (
        await session.execute(
            select(SupplierReconReport).where(
                SupplierReconReport.supplier_id == supplier.id,
                SupplierReconReport.status == "running",
            )
        )
    ).scalar_one_or_none()
    if running is not None:
        await settle_stale(session, running)
        await session.flush()
    total = (
        await session.execute(
            select(func.count())
            .select_from(UpstreamOrder)
            .where(_in_period(supplier.id, since, until))
        )
    ).scalar_one()
    report_id = (
        await session.execute(
            insert(SupplierReconReport)
            .values(
                supplier_id=supplier.id,
                period_start=since,
                period_end=until,
                total=total,
                theirs_listed=False,
                note=NO_LISTING,
                started_by=actor.user_id,
            )
            .on_conflict_do_nothing(
                index_elements=["supplier_id"], index_where=text("status = 'running'")
            )
            .returning(SupplierReconReport.id)
        )
    ).scalar_one_or_none()
    if report_id is None:
        raise ReconRunning("该上游正在对账 (a reconciliation of this supplier is running)")
    msg = await outbox.enqueue(session, RECON_TASK, {"report_id": report_id})
    report = await get_report(session, supplier.id, report_id)
    report.outbox_id = msg.id
    await audit.record(
        session,
        "suppliers.recon_start",
        actor=actor,
        target_type="supplier",
        target_id=supplier.id,
        after={
            "report_id": report_id,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "orders": total,
        },
    )
    await session.flush()
    return report


async def get_report(
    session: AsyncSession, supplier_id: int, report_id: int
) -> SupplierReconReport:
    report = await session.get(SupplierReconReport, report_id, populate_existing=True)
    if report is None or report.supplier_id != supplier_id:
        raise NotFound("No such reconciliation report.", code="unknown_recon_report")
    return await settle_stale(session, report)


async def list_reports(
    session: AsyncSession, supplier_id: int, *, before_id: int | None, limit: int
) -> list[SupplierReconReport]:
    q = select(SupplierReconReport).where(SupplierReconReport.supplier_id == supplier_id)
    if before_id is not None:
        q = q.where(SupplierReconReport.id < before_id)
    q = q.order_by(SupplierReconReport.id.desc()).limit(limit)
    return [await settle_stale(session, r) for r in (await session.execute(q)).scalars()]


async def list_mismatches(
    session: AsyncSession,
    report: SupplierReconReport,
    *,
    kind: str | None,
    before_id: int | None,
    limit: int,
) -> list[SupplierReconMismatch]:
    q = select(SupplierReconMismatch).where(SupplierReconMismatch.report_id == report.id)
    if kind is not None:
        q = q.where(SupplierReconMismatch.kind == kind)
    if before_id is not None:
        q = q.where(SupplierReconMismatch.id < before_id)
    q = q.order_by(SupplierReconMismatch.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


CSV_HEADER = [
    "订单号 order_no",
    "上游请求号 request_id",
    "类型 kind",
    "我方状态 our_state",
    "上游状态 their_state",
    "我方成本 our_cost",
    "上游成本 their_cost",
    "涉及金额 at_stake",
    "上游单号 supplier_ref",
    "说明 detail",
]


async def export_csv(session: AsyncSession, actor: Actor, report: SupplierReconReport) -> bytes:
    rows = (
        await session.execute(
            select(SupplierReconMismatch)
            .where(SupplierReconMismatch.report_id == report.id)
            .order_by(SupplierReconMismatch.id)
            .limit(EXPORT_MAX_ROWS)
        )
    ).scalars()
    body = csv_bytes(
        CSV_HEADER,
        (
            [
                m.order_no,
                m.request_id,
                m.kind,
                m.our_state,
                m.their_state,
                m.our_cost,
                m.their_cost,
                m.at_stake,
                m.supplier_ref,
                m.detail,
            ]
            for m in rows
        ),
    )
    await audit.record(
        session,
        "suppliers.recon_export",
        actor=actor,
        target_type="supplier",
        target_id=report.supplier_id,
        detail=f"report {report.id}",
        risk="medium",
    )
    return body


# ---- comparing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    kind: str | None  # None: they agree
    their_state: str
    their_cost: Decimal | None
    at_stake: Decimal
    ref: str
    detail: str


def judge(row: UpstreamOrder, answer: RechargeResult | str | None) -> Verdict:
    """Compare our row with the supplier's answer (None: it never heard of it; a string: it
    gave no usable answer)."""
    ours = row.state
    our_cost = row.cost
    if isinstance(answer, str):
        return Verdict("unanswered", "error", None, Decimal(0), "", answer[:255])
    if answer is None:
        theirs, their_cost, ref, msg = "missing", None, "", ""
    else:
        theirs, their_cost, ref, msg = answer.state, answer.cost, answer.ref, answer.message
    zero = Decimal(0)

    def v(kind: str | None, stake: Decimal | None, detail: str = "") -> Verdict:
        return Verdict(kind, theirs, their_cost, stake or zero, ref, (detail or msg)[:255])

    if ours == "success":
        if theirs == "success":
            if our_cost is not None and their_cost is not None and our_cost != their_cost:
                return v("cost_differs", abs(their_cost - our_cost))
            return v(None, None)
        if theirs == "failed":
            return v("ours_success_theirs_failed", our_cost)
        if theirs == "missing":
            return v("ours_success_theirs_missing", our_cost, "上游查无此单 (unknown upstream)")
        return v("state_differs", None)
    if ours == "failed":
        if theirs == "success":
            return v("ours_failed_theirs_success", their_cost or our_cost)
        if theirs in ("failed", "missing"):
            return v(None, None)
        return v("state_differs", None, "上游仍在处理 (still processing upstream)")
    # ours unsettled: submitted / processing / unknown
    if theirs == "processing":
        return v(None, None)
    return v("state_differs", their_cost if theirs == "success" else None)


async def _ask(
    adapter: SupplierAdapter, request_id: str, cap_s: float
) -> RechargeResult | str | None:
    try:
        return await asyncio.wait_for(adapter.query(request_id), cap_s)
    except TimeoutError:
        return f"查询超时 (no answer within {cap_s:g} s)"
    except SupplierUnavailable as exc:
        return f"查询失败 (no usable answer): {exc}"


def _order_no(request_id: str) -> str:
    parts = request_id.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else request_id


async def _waves(
    adapter: SupplierAdapter, rows: list[UpstreamOrder], cap_s: float
) -> AsyncIterator[list[tuple[UpstreamOrder, RechargeResult | str | None]]]:
    t0 = time.monotonic()
    for n in range(0, len(rows), CONCURRENCY):
        if n and time.monotonic() - t0 > BUDGET_S:
            return
        wave = rows[n : n + CONCURRENCY]
        answers = await asyncio.gather(*(_ask(adapter, r.request_id, cap_s) for r in wave))
        yield list(zip(wave, answers, strict=True))


async def run_page(session: AsyncSession, report_id: int) -> SupplierReconReport | None:
    """One page of a report (the job); enqueues the next page while orders remain."""
    report = (
        await session.execute(
            select(SupplierReconReport).where(SupplierReconReport.id == report_id).with_for_update()
        )
    ).scalar_one_or_none()
    if report is None or report.status != "running":
        return report
    sup = await session.get(Supplier, report.supplier_id)
    if sup is None:  # pragma: no cover - suppliers are never deleted
        return report
    rows = list(
        (
            await session.execute(
                select(UpstreamOrder)
                .where(
                    _in_period(sup.id, report.period_start, report.period_end),
                    UpstreamOrder.id > report.cursor,
                )
                .order_by(UpstreamOrder.id)
                .limit(PAGE)
            )
        ).scalars()
    )
    adapter = service.adapter_for(sup)
    cap = min(CALL_CAP_S, sup.timeout_s + 0.5)
    counts: dict[str, int] = dict(report.counts or {})
    amounts: dict[str, str] = dict(report.amounts or {})
    checked = matched = mismatched = 0
    stake_total = Decimal(0)
    async for wave in _waves(adapter, rows, cap):
        found: list[dict[str, Any]] = []
        for row, answer in wave:
            verdict = judge(row, answer)
            checked += 1
            report.cursor = row.id
            if verdict.kind is None:
                matched += 1
                continue
            found.append(
                {
                    "report_id": report.id,
                    "upstream_id": row.id,
                    "order_id": row.order_id,
                    "order_no": _order_no(row.request_id)[:64],
                    "request_id": row.request_id,
                    "kind": verdict.kind,
                    "our_state": row.state,
                    "their_state": verdict.their_state,
                    "our_cost": row.cost,
                    "their_cost": verdict.their_cost,
                    "at_stake": verdict.at_stake,
                    "supplier_ref": (verdict.ref or row.supplier_ref or None),
                    "detail": verdict.detail,
                }
            )
        if found:
            inserted = (
                await session.execute(
                    insert(SupplierReconMismatch)
                    .values(found)
                    .on_conflict_do_nothing(index_elements=["report_id", "upstream_id"])
                    .returning(SupplierReconMismatch.kind, SupplierReconMismatch.at_stake)
                )
            ).all()
            for kind, stake in inserted:
                mismatched += 1
                counts[kind] = counts.get(kind, 0) + 1
                amounts[kind] = str(Decimal(amounts.get(kind, "0")) + stake)
                stake_total += stake
    report.checked += checked
    report.matched += matched
    report.mismatched += mismatched
    report.counts = counts
    report.amounts = amounts
    report.cost_at_stake += stake_total
    if checked < len(rows) or len(rows) == PAGE:
        msg = await outbox.enqueue(session, RECON_TASK, {"report_id": report.id})
        report.outbox_id = msg.id
    else:
        report.status = "done"
        report.finished_at = clock.now()
    await session.flush()
    return report


def kinds() -> tuple[str, ...]:
    return MISMATCH_KINDS
