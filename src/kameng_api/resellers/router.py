"""HTTP for resellers: the signed open API ``/open/v1`` (tag ``open``), the reseller's own
keys and callback settings (``/api/v1/account/reseller``), and the console's read-only view
of a reseller's keys with revoke (``/api/v1/admin/...``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from kameng_api.audit import service as audit
from kameng_api.catalog import pricing
from kameng_api.catalog import service as catalog
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.bounds import Id
from kameng_api.core.clock import clock
from kameng_api.core.errors import Forbidden, error_responses
from kameng_api.inventory import service as inventory
from kameng_api.rbac.deps import ACCESS_MARKER, DbSession, authenticated, require
from kameng_api.resellers import accounts, keys, open_orders
from kameng_api.resellers.auth import Signed
from kameng_api.resellers.models import ResellerKey
from kameng_api.resellers.permissions import ResellersPerm
from kameng_api.resellers.schemas import (
    BalanceOut,
    CallbackSettingsIn,
    CallbackSettingsOut,
    OpenCategories,
    OpenCategory,
    OpenOrderIn,
    OpenOrderOut,
    OpenOrders,
    OpenProduct,
    OpenProducts,
    OpenSku,
    OpenStatus,
    PingOut,
    ResellerKeyCreated,
    ResellerKeyIn,
    ResellerKeyOut,
    ResellerKeyUpdate,
    WebhookSecretOut,
)
from kameng_api.wallet import service as wallet

open_router = APIRouter(prefix="/open/v1", tags=["open"])
account_router = APIRouter(prefix="/account/reseller", tags=["resellers"])
admin_router = APIRouter(prefix="/admin", tags=["resellers"])

# every open route: the signature checks (401), the key's allowlist (403), its rate (429)
_SIGNED = (401, 403, 429)
TradeNo = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", max_length=64)]


async def reseller_only(request: Request, session: DbSession) -> Actor:
    """A signed-in user of kind reseller; anyone else is refused 403 ``permission_denied``."""
    actor = await authenticated(request, session)
    if actor.kind != UserKind.reseller:
        await audit.record_attempt(
            "authz.denied", actor=actor, result="denied", detail="reseller", risk="medium"
        )
        raise Forbidden("Only resellers have open-API keys.", code="permission_denied")
    return actor


setattr(reseller_only, ACCESS_MARKER, "reseller")
Reseller = Annotated[Actor, Depends(reseller_only)]
KeyReader = Annotated[Actor, require(ResellersPerm.read)]
KeyRevoker = Annotated[Actor, require(ResellersPerm.manage_keys)]


def _key_out(key: ResellerKey) -> ResellerKeyOut:
    return ResellerKeyOut(
        id=key.id,
        name=key.name,
        app_id=key.app_id,
        secret_hint=key.secret_hint,
        ip_allowlist=list(key.ip_allowlist),
        rate_limit_per_min=key.rate_limit_per_min,
        status=keys.status_of(key, clock.now()),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
        rotated_to_id=key.rotated_to_id,
    )


def _created(key: ResellerKey, secret: str) -> ResellerKeyCreated:
    return ResellerKeyCreated(**_key_out(key).model_dump(), secret=secret)


# ---- the reseller's keys ----------------------------------------------------------------


@account_router.get(
    "/keys",
    operation_id="resellers:list_my_keys",
    response_model=list[ResellerKeyOut],
    responses=error_responses(401, 403),
)
async def list_my_keys(session: DbSession, actor: Reseller) -> list[ResellerKeyOut]:
    """My open-API keys, newest first (never the secret: its last 4 characters)."""
    return [_key_out(k) for k in await keys.list_keys(session, actor.user_id)]


@account_router.post(
    "/keys",
    operation_id="resellers:create_key",
    response_model=ResellerKeyCreated,
    status_code=201,
    responses=error_responses(401, 403, 409),
)
async def create_key(
    body: ResellerKeyIn, session: DbSession, actor: Reseller
) -> ResellerKeyCreated:
    """A new key: the answer shows its ``app_id`` and ``secret`` — the secret only this once.
    409 ``too_many_keys`` beyond ``KAMENG_RESELLER_MAX_KEYS`` live keys."""
    key, secret = await keys.create_key(
        session,
        actor,
        name=body.name,
        ip_allowlist=body.ip_allowlist,
        rate_limit_per_min=body.rate_limit_per_min,
    )
    return _created(key, secret)


@account_router.patch(
    "/keys/{key_id}",
    operation_id="resellers:update_key",
    response_model=ResellerKeyOut,
    responses=error_responses(401, 403, 404),
)
async def update_key(
    key_id: Id, body: ResellerKeyUpdate, session: DbSession, actor: Reseller
) -> ResellerKeyOut:
    """Change a key's name, IP allowlist or rate limit (fields left out stay)."""
    key = await keys.update_key(
        session,
        actor,
        key_id,
        name=body.name,
        ip_allowlist=body.ip_allowlist,
        rate_limit_per_min=body.rate_limit_per_min,
    )
    return _key_out(key)


@account_router.post(
    "/keys/{key_id}/rotate",
    operation_id="resellers:rotate_key",
    response_model=ResellerKeyCreated,
    status_code=201,
    responses=error_responses(401, 403, 404, 409),
)
async def rotate_key(key_id: Id, session: DbSession, actor: Reseller) -> ResellerKeyCreated:
    """A new key (new app id and secret, shown once) replacing this one; the old key keeps
    working for ``KAMENG_RESELLER_KEY_GRACE_S`` (default 24 h), then it is refused."""
    key, secret = await keys.rotate_key(session, actor, key_id)
    return _created(key, secret)


@account_router.post(
    "/keys/{key_id}/revoke",
    operation_id="resellers:revoke_key",
    response_model=ResellerKeyOut,
    responses=error_responses(401, 403, 404),
)
async def revoke_key(key_id: Id, session: DbSession, actor: Reseller) -> ResellerKeyOut:
    """Refuse this key from the next request on."""
    return _key_out(await keys.revoke_key(session, actor, key_id))


async def _callback_out(session: DbSession, user_id: int) -> CallbackSettingsOut:
    account = await accounts.ensure_account(session, user_id)
    return CallbackSettingsOut(
        callback_url=account.callback_url, has_webhook_secret=bool(account.webhook_secret_enc)
    )


@account_router.get(
    "/callback",
    operation_id="resellers:get_callback",
    response_model=CallbackSettingsOut,
    responses=error_responses(401, 403),
)
async def get_callback(session: DbSession, actor: Reseller) -> CallbackSettingsOut:
    """Where my order callbacks go, and whether a signing secret exists."""
    return await _callback_out(session, actor.user_id)


@account_router.put(
    "/callback",
    operation_id="resellers:set_callback",
    response_model=CallbackSettingsOut,
    responses=error_responses(401, 403, 422),
)
async def set_callback(
    body: CallbackSettingsIn, session: DbSession, actor: Reseller
) -> CallbackSettingsOut:
    """Set (or clear, with null) my callback URL; a URL we may not call (private, loopback,
    metadata …) is 422 ``url_not_allowed``."""
    before = (await accounts.ensure_account(session, actor.user_id)).callback_url
    account = await accounts.set_callback_url(session, actor.user_id, body.callback_url)
    await audit.record(
        session,
        "resellers.callback_set",
        actor=actor,
        target_type="reseller_account",
        target_id=actor.user_id,
        before={"callback_url": before},
        after={"callback_url": account.callback_url},
    )
    return await _callback_out(session, actor.user_id)


@account_router.post(
    "/callback/rotate-secret",
    operation_id="resellers:rotate_webhook_secret",
    response_model=WebhookSecretOut,
    responses=error_responses(401, 403),
)
async def rotate_webhook_secret(session: DbSession, actor: Reseller) -> WebhookSecretOut:
    """A new callback signing secret (``whsec_…``), shown this once; the old one stops."""
    secret = await accounts.rotate_webhook_secret(session, actor.user_id)
    await audit.record(
        session,
        "resellers.webhook_secret_rotate",
        actor=actor,
        target_type="reseller_account",
        target_id=actor.user_id,
        risk="medium",
    )
    return WebhookSecretOut(webhook_secret=secret)


# ---- staff ------------------------------------------------------------------------------


@admin_router.get(
    "/resellers/{user_id}/keys",
    operation_id="resellers:list_keys",
    response_model=list[ResellerKeyOut],
    responses=error_responses(401, 403),
)
async def list_keys(user_id: Id, session: DbSession, _: KeyReader) -> list[ResellerKeyOut]:
    """A reseller's keys (read-only; never a secret)."""
    return [_key_out(k) for k in await keys.list_keys(session, user_id)]


@admin_router.post(
    "/reseller-keys/{key_id}/revoke",
    operation_id="resellers:admin_revoke_key",
    response_model=ResellerKeyOut,
    responses=error_responses(401, 403, 404),
)
async def admin_revoke_key(key_id: Id, session: DbSession, actor: KeyRevoker) -> ResellerKeyOut:
    """Revoke a reseller's key (e.g. leaked); in the operation log."""
    return _key_out(await keys.revoke_key(session, actor, key_id, owner_only=False))


# ---- the open API -----------------------------------------------------------------------


@open_router.get(
    "/ping",
    operation_id="open:ping",
    response_model=PingOut,
    responses=error_responses(*_SIGNED),
)
async def ping(caller: Signed) -> PingOut:
    """Check your signing: who you are and our clock."""
    return PingOut(app_id=caller.key.app_id, reseller_id=caller.user_id, server_time=clock.now())


@open_router.get(
    "/balance",
    operation_id="open:balance",
    response_model=BalanceOut,
    responses=error_responses(*_SIGNED),
)
async def balance(session: DbSession, caller: Signed) -> BalanceOut:
    """Your wallet balance (orders are paid from it)."""
    return BalanceOut(balance=await wallet.balance(session, caller.user_id))


@open_router.get(
    "/categories",
    operation_id="open:categories",
    response_model=OpenCategories,
    responses=error_responses(*_SIGNED),
)
async def categories(session: DbSession, caller: Signed) -> OpenCategories:
    """The shop's visible categories that have products on sale (two levels, flattened)."""
    items: list[OpenCategory] = []
    for root in await catalog.category_tree(session, shop=True):
        items.append(OpenCategory(id=root["id"], name=root["name"], parent_id=None))
        items += [
            OpenCategory(id=c["id"], name=c["name"], parent_id=root["id"]) for c in root["children"]
        ]
    return OpenCategories(items=items)


@open_router.get(
    "/products",
    operation_id="open:products",
    response_model=OpenProducts,
    responses=error_responses(*_SIGNED),
)
async def products(
    session: DbSession,
    caller: Signed,
    category_id: Id | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]{1,19}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> OpenProducts:
    """Products on sale with your price per SKU; page with ``next_cursor``."""
    after = int(cursor) if cursor else 0
    rows = sorted(
        (
            p
            for p in await catalog.shop_products(session, category_id=category_id, q=None, tag=None)
            if p.id > after
        ),
        key=lambda p: p.id,
    )
    buyer = await catalog.buyer(session, caller.user_id)
    items: list[OpenProduct] = []
    for p in rows:
        skus = [s for s in await catalog.skus_of(session, p.id) if s.active]
        if not skus:
            continue
        prices = await catalog.load_prices(session, [s.id for s in skus])
        stock = await inventory.stock_for_skus(session, [s.id for s in skus])
        items.append(
            OpenProduct(
                id=p.id,
                name=p.name,
                category_id=p.category_id,
                delivery_type=p.delivery_type,
                buyer_fields=list(p.buyer_fields),
                skus=[
                    OpenSku(
                        id=s.id,
                        name=s.name,
                        price=pricing.quote(prices[s.id], buyer, p.min_qty).unit_price,
                        stock=(
                            (stock[s.id].available if s.id in stock else 0)
                            if p.delivery_type == "card_key" and not p.looping_keys
                            else None
                        ),
                        min_qty=p.min_qty,
                        max_qty=p.max_qty,
                    )
                    for s in skus
                ],
            )
        )
        if len(items) == limit:
            break
    more = bool(items) and len(items) == limit and rows[-1].id != items[-1].id
    return OpenProducts(items=items, next_cursor=str(items[-1].id) if more else None)


_ORDER_ERRORS = (*_SIGNED, 404, 409, 422)


@open_router.post(
    "/orders",
    operation_id="open:create_order",
    response_model=OpenOrderOut,
    status_code=201,
    responses={
        200: {"model": OpenOrderOut, "description": "a replay: this out_trade_no's order"},
        **error_responses(*_ORDER_ERRORS),
    },
)
async def create_order(body: OpenOrderIn, session: DbSession, caller: Signed) -> Response:
    """Buy, paid from your balance. Idempotent by ``out_trade_no``: the same request again
    answers the same order (200, ``Idempotent-Replayed: true``); the number with another body
    is 409 ``out_trade_no_reused``. Refusals: ``sold_out``, ``insufficient_balance``,
    ``quantity_out_of_range``, ``bad_buyer_input``, ``per_user_limit``,
    ``product_not_found``, ``price_changed`` (above ``max_unit_price``), ``url_not_allowed``
    (callback_url). A refused order is not kept: its number can be used again."""
    order, link, created = await open_orders.place(session, caller, body)
    out = await open_orders.order_out(session, order, link, with_keys=True)
    return JSONResponse(
        jsonable_encoder(out),
        status_code=201 if created else 200,
        headers={} if created else {"Idempotent-Replayed": "true"},
    )


@open_router.get(
    "/orders",
    operation_id="open:list_orders",
    response_model=OpenOrders,
    responses=error_responses(*_SIGNED),
)
async def list_orders(
    session: DbSession,
    caller: Signed,
    status: OpenStatus | None = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]{1,19}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> OpenOrders:
    """Your open-API orders, newest first, without keys (open one order for them)."""
    rows = await open_orders.page(
        session, caller, status=status, before=int(cursor) if cursor else None, limit=limit
    )
    items = [await open_orders.order_out(session, o, link, with_keys=False) for o, link in rows]
    more = len(rows) == limit
    return OpenOrders(items=items, next_cursor=str(rows[-1][0].id) if more else None)


@open_router.get(
    "/orders/{out_trade_no}",
    operation_id="open:get_order",
    response_model=OpenOrderOut,
    responses=error_responses(*_SIGNED, 404),
)
async def get_order(out_trade_no: TradeNo, session: DbSession, caller: Signed) -> OpenOrderOut:
    """One of your orders by your number, with its keys once delivered; 404
    ``order_not_found`` for a number you never used."""
    order, link = await open_orders.get(session, caller, out_trade_no)
    return await open_orders.order_out(session, order, link, with_keys=True)


@open_router.post(
    "/orders/{out_trade_no}/cancel",
    operation_id="open:cancel_order",
    response_model=OpenOrderOut,
    responses=error_responses(*_SIGNED, 404, 409),
)
async def cancel_order(out_trade_no: TradeNo, session: DbSession, caller: Signed) -> OpenOrderOut:
    """Cancel before processing (waiting for stock, or a direct recharge not yet sent
    upstream): the money goes back to your balance; else 409 ``not_cancellable``."""
    order, link = await open_orders.cancel(session, caller, out_trade_no)
    return await open_orders.order_out(session, order, link, with_keys=False)
