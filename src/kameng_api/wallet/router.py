"""HTTP for the wallet: the signed-in user's balance and statement, and for finance staff the
accounts, statements, adjustments (step-up), the ledger and the trial balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from kameng_api.core.actor import Actor
from kameng_api.core.bounds import BIGINT_MAX, Id
from kameng_api.core.clock import clock
from kameng_api.core.errors import NotFound, error_responses
from kameng_api.core.spreadsheet import csv_bytes, xlsx_bytes
from kameng_api.identity.models import User
from kameng_api.payments import service as payments
from kameng_api.rbac.deps import Authenticated, DbSession, Meta, require
from kameng_api.wallet import service
from kameng_api.wallet.permissions import WalletPerm
from kameng_api.wallet.schemas import (
    AccountOut,
    AccountPage,
    AdjustIn,
    AdjustOut,
    EntryKind,
    ExportFormat,
    LedgerEntryOut,
    LedgerLineOut,
    LedgerPage,
    RechargeIn,
    RechargeOut,
    StatementLineOut,
    StatementPage,
    TrialBalanceOut,
    WalletOut,
)

router = APIRouter(prefix="/wallet", tags=["wallet"])

Reader = Annotated[Actor, require(WalletPerm.read)]
Adjuster = Annotated[Actor, require(WalletPerm.adjust)]
Exporter = Annotated[Actor, require(WalletPerm.export)]
Reconciler = Annotated[Actor, require(WalletPerm.reconcile)]

EXPORT_MAX_ROWS = 100_000
EXPORT_HEADER = ["时间 (UTC)", "类型", "金额", "余额", "说明", "关联", "凭证号"]
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
        "description": "the statement as CSV (UTF-8 with BOM) or XLSX",
    }
}


def _page(lines: list[service.StatementLine], limit: int) -> StatementPage:
    items = [
        StatementLineOut(
            id=s.line.id,
            entry_id=s.entry.id,
            kind=s.entry.kind,
            memo=s.entry.memo,
            amount=s.line.amount,
            balance_after=s.line.balance_after,
            ref_type=s.entry.ref_type,
            ref_id=s.entry.ref_id,
            created_at=s.line.created_at,
        )
        for s in lines
    ]
    return StatementPage(items=items, next_before=items[-1].id if len(items) == limit else None)


async def _export(session: DbSession, user_id: Id, fmt: ExportFormat) -> Response:
    lines = await service.statement(session, user_id, limit=EXPORT_MAX_ROWS)
    rows: list[list[object]] = [
        [
            s.line.created_at,
            s.entry.kind,
            s.line.amount,
            s.line.balance_after,
            s.entry.memo,
            f"{s.entry.ref_type}:{s.entry.ref_id}" if s.entry.ref_type else "",
            s.entry.id,
        ]
        for s in lines
    ]
    name = f"statement-{user_id}-{clock.now():%Y%m%d-%H%M%S}.{fmt}"
    if fmt == "xlsx":
        return Response(
            xlsx_bytes("余额明细", EXPORT_HEADER, rows),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(
        csv_bytes(EXPORT_HEADER, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ---- the signed-in user ---------------------------------------------------------------------


@router.get(
    "/me",
    operation_id="wallet:my_wallet",
    response_model=WalletOut,
    responses=error_responses(401),
)
async def my_wallet(session: DbSession, actor: Authenticated) -> WalletOut:
    """The signed-in user's balance (余额)."""
    return WalletOut(balance=await service.balance(session, actor.user_id))


@router.get(
    "/me/statement",
    operation_id="wallet:my_statement",
    response_model=StatementPage,
    responses=error_responses(401),
)
async def my_statement(
    session: DbSession,
    actor: Authenticated,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StatementPage:
    """The signed-in user's wallet movements (余额明细), newest first."""
    lines = await service.statement(session, actor.user_id, before=before, limit=limit)
    return _page(lines, limit)


@router.get(
    "/me/statement/export",
    operation_id="wallet:export_my_statement",
    responses={**EXPORT_RESPONSES, **error_responses(401)},
    response_class=Response,
)
async def export_my_statement(
    session: DbSession, actor: Authenticated, format: ExportFormat = "csv"
) -> Response:
    """The signed-in user's statement as a file (at most 100,000 lines, newest first)."""
    return await _export(session, actor.user_id, format)


@router.post(
    "/me/recharges",
    operation_id="wallet:recharge",
    response_model=RechargeOut,
    status_code=201,
    responses=error_responses(401, 422),
)
async def recharge(body: RechargeIn, session: DbSession, actor: Authenticated) -> RechargeOut:
    """Top up the wallet through EPay: pay at ``pay_url``; the balance grows when the
    gateway's notice arrives (once, however often it is sent)."""
    started = await payments.start_recharge(session, actor, body.amount)
    return RechargeOut(
        out_trade_no=started.payment.out_trade_no,
        amount=started.payment.amount,
        pay_url=started.pay_url,
    )


# ---- finance --------------------------------------------------------------------------------


@router.get(
    "/accounts",
    operation_id="wallet:list_accounts",
    response_model=AccountPage,
    responses=error_responses(401, 403),
)
async def list_accounts(
    session: DbSession,
    _: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccountPage:
    """User wallets, largest balance first; ``q`` matches email or phone."""
    rows, total = await service.list_accounts(session, q=q, offset=offset, limit=limit)
    return AccountPage(
        items=[
            AccountOut(
                user_id=r.account.user_id or 0,
                user_kind=r.user.kind if r.user else "",
                email=r.user.email if r.user else None,
                phone=r.user.phone if r.user else None,
                display_name=r.user.display_name if r.user else "",
                balance=r.account.balance,
                updated_at=r.account.updated_at,
            )
            for r in rows
        ],
        total=total,
    )


async def _user(session: DbSession, user_id: Id) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", code="unknown_user")
    return user


@router.get(
    "/accounts/{user_id}/statement",
    operation_id="wallet:account_statement",
    response_model=StatementPage,
    responses=error_responses(401, 403, 404),
)
async def account_statement(
    user_id: Id,
    session: DbSession,
    _: Reader,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> StatementPage:
    """One user's wallet movements, newest first."""
    await _user(session, user_id)
    return _page(await service.statement(session, user_id, before=before, limit=limit), limit)


@router.get(
    "/accounts/{user_id}/statement/export",
    operation_id="wallet:export_statement",
    responses={**EXPORT_RESPONSES, **error_responses(401, 403, 404)},
    response_class=Response,
)
async def export_statement(
    user_id: Id, session: DbSession, _: Exporter, format: ExportFormat = "csv"
) -> Response:
    """One user's statement as CSV or XLSX (``wallet:export``)."""
    await _user(session, user_id)
    return await _export(session, user_id, format)


@router.post(
    "/adjustments",
    operation_id="wallet:adjust",
    response_model=AdjustOut,
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def adjust(body: AdjustIn, session: DbSession, actor: Adjuster, meta: Meta) -> AdjustOut:
    """Credit (positive) or debit (negative) a wallet with a reason (调账). Needs
    ``wallet:adjust`` with a fresh 2FA; written to the operation log. A debit below zero is
    refused with ``insufficient_balance``."""
    posted = await service.adjust(session, actor, body.user_id, body.amount, body.reason, meta)
    return AdjustOut(entry_id=posted.entry.id, balance=await service.balance(session, body.user_id))


@router.get(
    "/ledger",
    operation_id="wallet:ledger",
    response_model=LedgerPage,
    responses=error_responses(401, 403),
)
async def ledger(
    session: DbSession,
    _: Reader,
    kind: EntryKind | None = None,
    user_id: Id | None = None,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LedgerPage:
    """Journal entries (记账凭证) with their lines, newest first."""
    entries = await service.ledger(session, kind=kind, user_id=user_id, before=before, limit=limit)
    items = [
        LedgerEntryOut(
            id=e.entry.id,
            kind=e.entry.kind,
            memo=e.entry.memo,
            ref_type=e.entry.ref_type,
            ref_id=e.entry.ref_id,
            actor_id=e.entry.actor_id,
            created_at=e.entry.created_at,
            lines=[
                LedgerLineOut(
                    account_id=a.id,
                    account_kind=a.kind,
                    user_id=a.user_id,
                    amount=line.amount,
                    balance_after=line.balance_after,
                )
                for line, a in e.lines
            ],
        )
        for e in entries
    ]
    return LedgerPage(items=items, next_before=items[-1].id if len(items) == limit else None)


@router.get(
    "/trial-balance",
    operation_id="wallet:trial_balance",
    response_model=TrialBalanceOut,
    responses=error_responses(401, 403),
)
async def trial_balance(session: DbSession, _: Reconciler) -> TrialBalanceOut:
    """Reconciliation (对账): the ledger sums to zero and every balance equals its lines."""
    tb = await service.trial_balance(session)
    return TrialBalanceOut(
        balanced=tb.total == 0
        and tb.lines_total == 0
        and not tb.mismatched_accounts
        and not tb.unbalanced_entries,
        by_kind=tb.by_kind,
        total=tb.total,
        lines_total=tb.lines_total,
        mismatched_accounts=tb.mismatched_accounts,
        unbalanced_entries=tb.unbalanced_entries,
    )
