"""HTTP for the callback log: a reseller's own (list, detail with attempts, resend, a test
ping) and the console's view of every reseller's (``resellers:callbacks``; resending needs
``resellers:callbacks_resend``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.bounds import Id
from kameng_api.core.errors import Forbidden, error_responses
from kameng_api.rbac.deps import Authenticated, DbSession, require
from kameng_api.resellers import callbacks
from kameng_api.resellers.callbacks_permissions import CallbacksPerm
from kameng_api.resellers.callbacks_schemas import (
    AdminCallbackDetailOut,
    AdminCallbackOut,
    AdminCallbackPage,
    CallbackDetailOut,
    CallbackEvent,
    CallbackOut,
    CallbackPage,
    CallbackStatus,
)

router = APIRouter(prefix="/account/reseller/callbacks", tags=["resellers"])
admin_router = APIRouter(prefix="/admin/resellers/callbacks", tags=["resellers"])


async def _reseller(actor: Authenticated) -> Actor:
    """Signed in as a reseller (代理); anyone else is refused."""
    if actor.kind != UserKind.reseller:
        await audit.record_attempt(
            "authz.denied", actor=actor, result="denied", detail="reseller only", risk="medium"
        )
        raise Forbidden("Only reseller accounts have a callback log.", code="permission_denied")
    return actor


Reseller = Annotated[Actor, Depends(_reseller)]
Reader = Annotated[Actor, require(CallbacksPerm.read)]
Resender = Annotated[Actor, require(CallbacksPerm.resend)]
OrderNo = Annotated[str | None, Query(max_length=32)]
OutTradeNo = Annotated[str | None, Query(max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get(
    "",
    operation_id="resellers:callbacks_list_mine",
    response_model=CallbackPage,
    responses=error_responses(401, 403),
)
async def my_callbacks(
    session: DbSession,
    actor: Reseller,
    status: CallbackStatus | None = None,
    event: CallbackEvent | None = None,
    order_no: OrderNo = None,
    out_trade_no: OutTradeNo = None,
    before: Id | None = None,
    limit: Limit = 20,
) -> CallbackPage:
    """The reseller's callbacks, newest first."""
    rows = await callbacks.list_callbacks(
        session,
        callbacks.CallbackFilter(actor.user_id, status, event, order_no, out_trade_no),
        before=before,
        limit=limit,
    )
    return CallbackPage(
        items=[CallbackOut.model_validate(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@router.post(
    "/ping",
    operation_id="resellers:callbacks_ping",
    response_model=CallbackOut,
    status_code=202,
    responses=error_responses(401, 403, 409),
)
async def ping(session: DbSession, actor: Reseller) -> CallbackOut:
    """Send a test callback (event ``ping``) to the account's callback URL now: one attempt,
    shown in the log like any other (409 ``callback_url_missing`` without a URL)."""
    return CallbackOut.model_validate(await callbacks.ping(session, actor))


@router.get(
    "/{callback_id}",
    operation_id="resellers:callbacks_get_mine",
    response_model=CallbackDetailOut,
    responses=error_responses(401, 403, 404),
)
async def my_callback(callback_id: Id, session: DbSession, actor: Reseller) -> CallbackDetailOut:
    """One of the reseller's callbacks: the body as sent and every attempt."""
    cb = await callbacks.get_callback(session, callback_id, owner_id=actor.user_id)
    attempts = await callbacks.attempts_of(session, cb.id)
    return CallbackDetailOut.model_validate(
        {
            **CallbackOut.model_validate(cb).model_dump(),
            "payload": cb.payload,
            "attempt_log": attempts,
        }
    )


@router.post(
    "/{callback_id}/resend",
    operation_id="resellers:callbacks_resend_mine",
    response_model=CallbackOut,
    status_code=202,
    responses=error_responses(401, 403, 404, 409),
)
async def resend_mine(callback_id: Id, session: DbSession, actor: Reseller) -> CallbackOut:
    """Send one of the reseller's callbacks again now (same webhook id and body, to the URL
    that applies now); a failed one is re-opened with a new round of retries."""
    cb = await callbacks.resend(session, actor, callback_id, owner_id=actor.user_id)
    return CallbackOut.model_validate(cb)


@admin_router.get(
    "",
    operation_id="resellers:callbacks_list",
    response_model=AdminCallbackPage,
    responses=error_responses(401, 403),
)
async def list_callbacks(
    session: DbSession,
    actor: Reader,
    user_id: Id | None = None,
    status: CallbackStatus | None = None,
    event: CallbackEvent | None = None,
    order_no: OrderNo = None,
    out_trade_no: OutTradeNo = None,
    before: Id | None = None,
    limit: Limit = 20,
) -> AdminCallbackPage:
    """Every reseller's callbacks (or one reseller's: ``user_id``), newest first."""
    rows = await callbacks.list_callbacks(
        session,
        callbacks.CallbackFilter(user_id, status, event, order_no, out_trade_no),
        before=before,
        limit=limit,
    )
    return AdminCallbackPage(
        items=[AdminCallbackOut.model_validate(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@admin_router.get(
    "/{callback_id}",
    operation_id="resellers:callbacks_get",
    response_model=AdminCallbackDetailOut,
    responses=error_responses(401, 403, 404),
)
async def get_callback(
    callback_id: Id, session: DbSession, actor: Reader
) -> AdminCallbackDetailOut:
    """One callback with its body and every attempt."""
    cb = await callbacks.get_callback(session, callback_id, owner_id=None)
    attempts = await callbacks.attempts_of(session, cb.id)
    return AdminCallbackDetailOut.model_validate(
        {
            **AdminCallbackOut.model_validate(cb).model_dump(),
            "payload": cb.payload,
            "attempt_log": attempts,
        }
    )


@admin_router.post(
    "/{callback_id}/resend",
    operation_id="resellers:callbacks_resend",
    response_model=AdminCallbackOut,
    status_code=202,
    responses=error_responses(401, 403, 404, 409),
)
async def resend(callback_id: Id, session: DbSession, actor: Resender) -> AdminCallbackOut:
    """Send a reseller's callback again now (in the operation log)."""
    cb = await callbacks.resend(session, actor, callback_id, owner_id=None)
    return AdminCallbackOut.model_validate(cb)
