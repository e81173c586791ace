"""The gateway's side of payments: EPay's asynchronous notice (public, signature-checked)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from kameng_api.core.errors import error_responses
from kameng_api.payments import service
from kameng_api.rbac.deps import DbSession, Public

router = APIRouter(prefix="/payments", tags=["payments"])

NOTICE_RESPONSES = {
    200: {"content": {"text/plain": {}}, "description": "`success`: applied (or applied before)"},
    **error_responses(400, 422),
}


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params.items())
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


@router.get(
    "/epay/notify",
    operation_id="payments:epay_notify_get",
    response_class=PlainTextResponse,
    responses=NOTICE_RESPONSES,
)
async def epay_notify_get(request: Request, session: DbSession, _: Public) -> Response:
    """EPay's asynchronous notice (GET, as most EPay gateways send it). Answers ``success``
    once the payment is applied — every later copy too, changing nothing."""
    await service.apply_notice(session, await _params(request))
    return PlainTextResponse("success")


@router.post(
    "/epay/notify",
    operation_id="payments:epay_notify",
    response_class=PlainTextResponse,
    responses=NOTICE_RESPONSES,
)
async def epay_notify(request: Request, session: DbSession, _: Public) -> Response:
    """The same notice sent as a form POST."""
    await service.apply_notice(session, await _params(request))
    return PlainTextResponse("success")
