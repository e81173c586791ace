"""Authorization, checked in one place. Every route declares exactly one access rule:

- ``Public`` — anyone (sign-in, registration, health);
- ``Authenticated`` / ``AuthenticatedPendingPassword`` — any signed-in user;
- ``Annotated[Actor, require(Perm.x)]`` — staff holding the permission; a sensitive permission
  also needs 2FA verified within the step-up window (else 403 ``step_up_required``).

A test walks every route and fails when one declares none (deny by default).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor, RequestMeta, UserKind
from kameng_api.core.clock import clock
from kameng_api.core.context import request_id_var
from kameng_api.core.db import session_dep
from kameng_api.core.errors import Forbidden, Unauthenticated
from kameng_api.rbac.catalogue import PERMISSIONS, load_catalogue
from kameng_api.settings import get_settings

ACCESS_MARKER = "__kameng_access__"

DbSession = Annotated[AsyncSession, Depends(session_dep, scope="function")]


def request_meta(request: Request) -> RequestMeta:
    ip = request.client.host if request.client else None
    return RequestMeta(
        ip=ip, user_agent=request.headers.get("user-agent"), request_id=request_id_var.get()
    )


Meta = Annotated[RequestMeta, Depends(request_meta)]


async def _actor(request: Request, session: AsyncSession) -> Actor:
    from kameng_api.identity import service as identity  # local: identity imports rbac

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(
            "Sign in first.", code="unauthenticated", headers={"WWW-Authenticate": "Bearer"}
        )
    actor = await identity.resolve_access_token(session, token.strip(), request_meta(request))
    request.state.actor = actor  # for the operation-log entry of a write refused later on
    return actor


def _mark(fn: Any, rule: str) -> Any:
    setattr(fn, ACCESS_MARKER, rule)
    return fn


async def public() -> None:
    """Anyone may call this route."""


_mark(public, "public")


async def authenticated_pending_password(request: Request, session: DbSession) -> Actor:
    return await _actor(request, session)


_mark(authenticated_pending_password, "authenticated")


async def authenticated(request: Request, session: DbSession) -> Actor:
    actor = await _actor(request, session)
    if actor.must_change_password:
        raise Forbidden("Change your password first.", code="password_change_required")
    return actor


_mark(authenticated, "authenticated")


async def optional_actor(request: Request, session: DbSession) -> Actor | None:
    """Anyone; a signed-in caller is recognised (e.g. to show *their* price). A token that is
    sent but invalid is still refused, so the client refreshes it."""
    if not request.headers.get("authorization"):
        return None
    return await _actor(request, session)


_mark(optional_actor, "public")

Public = Annotated[None, Depends(public)]
MaybeSignedIn = Annotated[Actor | None, Depends(optional_actor)]
Authenticated = Annotated[Actor, Depends(authenticated)]
AuthenticatedPendingPassword = Annotated[Actor, Depends(authenticated_pending_password)]


async def check_permission(actor: Actor, permission: str) -> None:
    """Raise unless ``actor`` may use ``permission`` right now (used by require and services
    that decide on a permission inside one route)."""
    load_catalogue()
    info = PERMISSIONS[permission]
    if actor.kind != UserKind.staff or not actor.has(permission):
        await audit.record_attempt(
            "authz.denied", actor=actor, result="denied", detail=permission, risk="medium"
        )
        raise Forbidden(f"This needs the permission {permission}.", code="permission_denied")
    if info.sensitive:
        if not actor.mfa_enabled:
            await audit.record_attempt(
                "authz.step_up_missing", actor=actor, result="denied", detail=permission
            )
            raise Forbidden(
                "This action needs two-factor authentication: turn it on first.",
                code="mfa_enrollment_required",
            )
        window = timedelta(seconds=get_settings().step_up_window_s)
        if actor.mfa_verified_at is None or clock.now() - actor.mfa_verified_at > window:
            await audit.record_attempt(
                "authz.step_up_missing", actor=actor, result="denied", detail=permission
            )
            raise Forbidden(
                "Confirm with your 2FA code to continue (step-up).", code="step_up_required"
            )


def require(permission: StrEnum | str) -> DependsParam:
    """``actor: Annotated[Actor, require(OrdersPerm.refund)]``."""
    return require_any(permission)


def require_any(*permissions: StrEnum | str) -> DependsParam:
    """Any one of ``permissions`` lets the caller in; the service then scopes what they see
    (e.g. a key uploader without ``inventory:read`` sees only their own imports)."""
    codes = [str(p) for p in permissions]
    load_catalogue()
    for code in codes:
        if code not in PERMISSIONS:
            raise ValueError(f"unknown permission {code!r}")

    async def dependency(request: Request, session: DbSession) -> Actor:
        actor = await _actor(request, session)
        if actor.must_change_password:
            raise Forbidden("Change your password first.", code="password_change_required")
        held = [c for c in codes if actor.kind == UserKind.staff and actor.has(c)]
        await check_permission(actor, held[0] if held else codes[0])
        return actor

    _mark(dependency, "permission:" + "|".join(codes))
    dependency.__name__ = "require_" + "_or_".join(c.replace(":", "_") for c in codes)
    marker: DependsParam = Depends(dependency)
    return marker
