"""HTTP for identity: /auth (sign-in and tokens), /me (own account), /users (staff admin)."""

from __future__ import annotations

from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from kameng_api.audit import service as audit
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.bounds import Id, IsoDateTime
from kameng_api.core.errors import Conflict, NotFound, error_responses
from kameng_api.identity import service
from kameng_api.identity.models import LoginEvent, User
from kameng_api.identity.permissions import UsersPerm
from kameng_api.identity.schemas import (
    ChangePasswordIn,
    CodeIn,
    EmailIn,
    ForceLogoutOut,
    LoginEventOut,
    LoginEventPage,
    LoginIn,
    LoginSecondFactorIn,
    MeOut,
    MfaRequiredOut,
    NoticeOut,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    RegisterOut,
    ResetPasswordIn,
    RoleRef,
    SecondFactorIn,
    SessionOut,
    StaffCreatedOut,
    StaffCreateIn,
    StepUpOut,
    TokenOut,
    TotpSetupOut,
    UserOut,
    UserPage,
    UserRolesIn,
    UserUpdateIn,
    VerifyEmailIn,
)
from kameng_api.notifications import service as notifications
from kameng_api.rbac import service as rbac
from kameng_api.rbac.deps import (
    Authenticated,
    AuthenticatedPendingPassword,
    DbSession,
    Meta,
    Public,
    check_permission,
    require,
)
from kameng_api.rbac.permissions import RolesPerm
from kameng_api.settings import get_settings

auth_router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(prefix="/me", tags=["me"])
users_router = APIRouter(prefix="/users", tags=["users"])
login_log_router = APIRouter(prefix="/login-events", tags=["users"])

REFRESH_COOKIE = "kameng_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def _set_refresh_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=get_settings().refresh_token_ttl_s,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


def _token_out(
    request: Request, issued: service.IssuedTokens, transport: str, perms: frozenset[str]
) -> JSONResponse:
    body = TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token if transport == "body" else None,
        session_id=issued.session_id,
        must_change_password=issued.user.must_change_password,
        mfa_enrollment_required=service.requires_mfa_enrollment(issued.user, perms),
    )
    response = JSONResponse(body.model_dump(mode="json"), headers={"cache-control": "no-store"})
    if transport == "cookie":
        _set_refresh_cookie(request, response, issued.refresh_token)
    return response


# ---- /auth ------------------------------------------------------------------------------------


@auth_router.post(
    "/register",
    operation_id="auth:register",
    status_code=201,
    response_model=RegisterOut,
    responses=error_responses(409, 422, 429),
)
async def register(body: RegisterIn, session: DbSession, meta: Meta, _: Public) -> RegisterOut:
    """Customer sign-up with email + password; a verification code is mailed."""
    user = await service.register_customer(
        session,
        email=str(body.email),
        phone=body.phone,
        password=body.password,
        display_name=body.display_name,
        meta=meta,
    )
    return RegisterOut(user_id=user.id)


@auth_router.post(
    "/verify-email",
    operation_id="auth:verify_email",
    status_code=204,
    responses=error_responses(400, 422),
)
async def verify_email(body: VerifyEmailIn, session: DbSession, meta: Meta, _: Public) -> None:
    await service.verify_email(session, str(body.email), body.code, meta)


@auth_router.post(
    "/verify-email/resend",
    operation_id="auth:resend_verification",
    status_code=202,
    responses=error_responses(422, 429),
)
async def resend_verification(body: EmailIn, session: DbSession, meta: Meta, _: Public) -> None:
    await service.resend_verification(session, str(body.email), meta)


@auth_router.post(
    "/password-reset",
    operation_id="auth:request_password_reset",
    status_code=202,
    responses=error_responses(422, 429),
)
async def request_password_reset(body: EmailIn, session: DbSession, meta: Meta, _: Public) -> None:
    """Mails a reset code if the account exists; answers the same either way."""
    await service.request_password_reset(session, str(body.email), meta)


@auth_router.post(
    "/password-reset/confirm",
    operation_id="auth:reset_password",
    status_code=204,
    responses=error_responses(400, 422),
)
async def reset_password(body: ResetPasswordIn, session: DbSession, meta: Meta, _: Public) -> None:
    """Sets the new password and ends every session of the account."""
    await service.reset_password(session, str(body.email), body.code, body.new_password, meta)


@auth_router.post(
    "/login",
    operation_id="auth:login",
    response_model=TokenOut | MfaRequiredOut,
    responses=error_responses(401, 403, 422, 429),
)
async def login(
    body: LoginIn, request: Request, session: DbSession, meta: Meta, _: Public
) -> Response:
    """Password sign-in. With 2FA on, answers ``mfa_required`` and a short-lived token for
    ``/auth/login/2fa``. Wrong login and wrong password give the same error."""
    result = await service.authenticate(
        session, body.login, body.password, meta, body.refresh_transport
    )
    if isinstance(result, service.MfaChallenge):
        return JSONResponse(MfaRequiredOut(mfa_token=result.mfa_token).model_dump())
    perms = await rbac.permissions_for_user(session, result.user.id)
    return _token_out(request, result, body.refresh_transport, perms)


@auth_router.post(
    "/login/2fa",
    operation_id="auth:login_2fa",
    response_model=TokenOut,
    responses=error_responses(400, 401, 422, 429),
)
async def login_second_factor(
    body: LoginSecondFactorIn, request: Request, session: DbSession, meta: Meta, _: Public
) -> Response:
    issued = await service.authenticate_second_factor(
        session, body.mfa_token, body.code, body.recovery_code, meta, body.refresh_transport
    )
    perms = await rbac.permissions_for_user(session, issued.user.id)
    return _token_out(request, issued, body.refresh_transport, perms)


@auth_router.post(
    "/refresh",
    operation_id="auth:refresh",
    response_model=TokenOut,
    responses=error_responses(401, 422),
)
async def refresh(
    request: Request, session: DbSession, meta: Meta, _: Public, body: RefreshIn | None = None
) -> Response:
    """Rotate the refresh token (cookie, or ``refresh_token`` in the body for mobile apps).
    A refresh token works once; presenting it again ends the whole session."""
    from_body = body is not None and body.refresh_token is not None
    token = (
        body.refresh_token if body and body.refresh_token else request.cookies.get(REFRESH_COOKIE)
    )
    if not token:
        raise service.TokenRejected("Sign in again.", code="invalid_refresh_token")
    issued = await service.refresh(session, token, meta)
    perms = await rbac.permissions_for_user(session, issued.user.id)
    return _token_out(request, issued, "body" if from_body else "cookie", perms)


@auth_router.post(
    "/logout", operation_id="auth:logout", status_code=204, responses=error_responses(401)
)
async def logout(session: DbSession, actor: AuthenticatedPendingPassword) -> Response:
    """End this session now (its access and refresh tokens stop working)."""
    await service.logout(session, actor)
    response = Response(status_code=204)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    return response


@auth_router.post(
    "/step-up",
    operation_id="auth:step_up",
    response_model=StepUpOut,
    responses=error_responses(400, 401, 403, 422),
)
async def step_up(body: SecondFactorIn, session: DbSession, actor: Authenticated) -> StepUpOut:
    """Confirm a 2FA code to unlock sensitive actions for a few minutes."""
    at = await service.step_up(session, actor, body.code, body.recovery_code)
    return StepUpOut(valid_until=at + timedelta(seconds=get_settings().step_up_window_s))


# ---- /me --------------------------------------------------------------------------------------


def _step_up_until(actor: Actor) -> datetime | None:
    if actor.mfa_verified_at is None:
        return None
    return actor.mfa_verified_at + timedelta(seconds=get_settings().step_up_window_s)


@me_router.get("", operation_id="me:get", response_model=MeOut, responses=error_responses(401))
async def me(session: DbSession, actor: AuthenticatedPendingPassword) -> MeOut:
    user = await service.get_user(session, actor.user_id)
    roles = await rbac.roles_of_user(session, user.id) if user.kind == UserKind.staff else []
    return MeOut(
        id=user.id,
        kind=user.kind,
        email=user.email,
        phone=user.phone,
        display_name=user.display_name,
        email_verified=user.email_verified_at is not None,
        mfa_enabled=user.totp_enabled_at is not None,
        mfa_enrollment_required=service.requires_mfa_enrollment(user, actor.permissions),
        must_change_password=user.must_change_password,
        permissions=sorted(actor.permissions),
        roles=[r.key for r in roles],
        role_names=[r.name for r in roles],
        step_up_valid_until=_step_up_until(actor),
    )


@me_router.post(
    "/password",
    operation_id="me:change_password",
    status_code=204,
    responses=error_responses(400, 401, 422),
)
async def change_password(
    body: ChangePasswordIn, session: DbSession, actor: AuthenticatedPendingPassword
) -> None:
    """Change your password; your other sessions are signed out."""
    await service.change_password(session, actor, body.current_password, body.new_password)


@me_router.post(
    "/2fa/setup",
    operation_id="me:start_2fa",
    response_model=TotpSetupOut,
    responses=error_responses(401, 409),
)
async def start_2fa(session: DbSession, actor: AuthenticatedPendingPassword) -> TotpSetupOut:
    """Start 2FA enrollment: a new secret and its otpauth URI (show it as a QR code)."""
    setup = await service.start_totp(session, actor)
    return TotpSetupOut(secret=setup.secret, otpauth_uri=setup.otpauth_uri)


@me_router.post(
    "/2fa/enable",
    operation_id="me:enable_2fa",
    response_model=RecoveryCodesOut,
    responses=error_responses(400, 401, 409, 422),
)
async def enable_2fa(
    body: CodeIn, session: DbSession, actor: AuthenticatedPendingPassword
) -> RecoveryCodesOut:
    """Confirm enrollment with a code from the app; returns one-time recovery codes (shown once)."""
    return RecoveryCodesOut(recovery_codes=await service.enable_totp(session, actor, body.code))


@me_router.post(
    "/2fa/disable",
    operation_id="me:disable_2fa",
    status_code=204,
    responses=error_responses(400, 401, 403, 409, 422),
)
async def disable_2fa(body: CodeIn, session: DbSession, actor: Authenticated) -> None:
    await service.disable_totp(session, actor, body.code)


@me_router.post(
    "/2fa/recovery-codes",
    operation_id="me:regenerate_recovery_codes",
    response_model=RecoveryCodesOut,
    responses=error_responses(401, 403, 409),
)
async def regenerate_recovery_codes(session: DbSession, actor: Authenticated) -> RecoveryCodesOut:
    """New recovery codes (the old ones stop working). Needs a fresh 2FA (step-up)."""
    return RecoveryCodesOut(recovery_codes=await service.regenerate_recovery_codes(session, actor))


@me_router.get(
    "/sessions",
    operation_id="me:list_sessions",
    response_model=list[SessionOut],
    responses=error_responses(401),
)
async def list_sessions(
    session: DbSession, actor: AuthenticatedPendingPassword
) -> list[SessionOut]:
    rows = await service.list_sessions(session, actor.user_id)
    return [
        SessionOut(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            ip=str(s.ip) if s.ip else None,
            user_agent=s.user_agent,
            current=s.id == actor.session_id,
        )
        for s in rows
    ]


@me_router.delete(
    "/sessions/{session_id}",
    operation_id="me:revoke_session",
    status_code=204,
    responses=error_responses(401, 404),
)
async def revoke_session(
    session_id: Annotated[str, Path(max_length=64)],
    session: DbSession,
    actor: AuthenticatedPendingPassword,
) -> None:
    await service.revoke_own_session(session, actor, session_id)


@me_router.get(
    "/notices",
    operation_id="me:list_notices",
    response_model=list[NoticeOut],
    responses=error_responses(401),
)
async def list_notices(session: DbSession, actor: AuthenticatedPendingPassword) -> list[NoticeOut]:
    rows = await notifications.list_notices(session, actor.user_id)
    return [NoticeOut.model_validate(n, from_attributes=True) for n in rows]


@me_router.post(
    "/notices/{notice_id}/read",
    operation_id="me:read_notice",
    status_code=204,
    responses=error_responses(401, 404),
)
async def read_notice(
    notice_id: Id, session: DbSession, actor: AuthenticatedPendingPassword
) -> None:
    if not await notifications.mark_read(session, actor.user_id, notice_id):
        raise NotFound("No such notice.")
    await audit.record(
        session, "me.read_notice", actor=actor, target_type="notice", target_id=notice_id
    )


def _login_event_out(e: LoginEvent) -> LoginEventOut:
    return LoginEventOut(
        id=e.id,
        at=e.at,
        user_id=e.user_id,
        login=e.login,
        ip=str(e.ip) if e.ip else None,
        user_agent=e.user_agent,
        result=e.result,
        new_device=e.new_device,
    )


@me_router.get(
    "/login-events",
    operation_id="me:list_login_events",
    response_model=LoginEventPage,
    responses=error_responses(401),
)
async def my_login_events(
    session: DbSession,
    actor: AuthenticatedPendingPassword,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LoginEventPage:
    rows = await service.list_login_events(
        session,
        user_id=actor.user_id,
        result=None,
        ip=None,
        since=None,
        until=None,
        before_id=before_id,
        limit=limit,
    )
    return LoginEventPage(
        items=[_login_event_out(e) for e in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


# ---- /users (staff administration) ------------------------------------------------------------


async def _user_out(session: DbSession, user: User) -> UserOut:
    roles = await rbac.roles_of_user(session, user.id)
    return UserOut(
        id=user.id,
        kind=user.kind,
        email=user.email,
        phone=user.phone,
        display_name=user.display_name,
        status=user.status,
        mfa_enabled=user.totp_enabled_at is not None,
        must_change_password=user.must_change_password,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        roles=[RoleRef(id=r.id, key=r.key, name=r.name) for r in roles],
    )


@users_router.get(
    "", operation_id="users:list", response_model=UserPage, responses=error_responses(401, 403)
)
async def list_users(
    session: DbSession,
    actor: Annotated[Actor, require(UsersPerm.read)],
    kind: UserKind | None = None,
    status: Annotated[str | None, Query(pattern="^(active|disabled)$")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    rows = await service.list_users(
        session, kind=kind, q=q, status=status, before_id=before_id, limit=limit
    )
    return UserPage(
        items=[await _user_out(session, u) for u in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@users_router.post(
    "",
    operation_id="users:create_staff",
    status_code=201,
    response_model=StaffCreatedOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_staff(
    body: StaffCreateIn, session: DbSession, actor: Annotated[Actor, require(UsersPerm.write)]
) -> StaffCreatedOut:
    """Create a staff account; it must change its password at first sign-in. Assigning roles
    here also needs ``roles:assign`` (with step-up)."""
    if body.role_ids:
        await check_permission(actor, RolesPerm.assign)
    user, temp = await service.create_staff(
        session,
        actor,
        email=str(body.email),
        display_name=body.display_name,
        password=body.password,
        role_ids=set(body.role_ids),
    )
    return StaffCreatedOut(user=await _user_out(session, user), temporary_password=temp)


@users_router.get(
    "/{user_id}",
    operation_id="users:get",
    response_model=UserOut,
    responses=error_responses(401, 403, 404),
)
async def get_user(
    user_id: Id, session: DbSession, actor: Annotated[Actor, require(UsersPerm.read)]
) -> UserOut:
    return await _user_out(session, await service.get_user(session, user_id))


@users_router.patch(
    "/{user_id}",
    operation_id="users:update",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def update_user(
    user_id: Id,
    body: UserUpdateIn,
    session: DbSession,
    actor: Annotated[Actor, require(UsersPerm.write)],
) -> UserOut:
    """Rename, or disable/enable (disabling needs ``users:disable`` and ends their sessions)."""
    if body.status is not None:
        await check_permission(actor, UsersPerm.disable)
    user = await service.update_user(
        session, actor, user_id, display_name=body.display_name, status=body.status
    )
    return await _user_out(session, user)


@users_router.put(
    "/{user_id}/roles",
    operation_id="users:set_roles",
    response_model=UserOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def set_roles(
    user_id: Id,
    body: UserRolesIn,
    session: DbSession,
    actor: Annotated[Actor, require(RolesPerm.assign)],
) -> UserOut:
    user = await service.get_user(session, user_id)
    if user.kind != UserKind.staff:
        raise Conflict("Only staff accounts hold roles.", code="not_staff")
    await rbac.set_user_roles(session, actor, user_id, set(body.role_ids))
    return await _user_out(session, user)


@users_router.post(
    "/{user_id}/force-logout",
    operation_id="users:force_logout",
    response_model=ForceLogoutOut,
    responses=error_responses(401, 403, 404, 409),
)
async def force_logout(
    user_id: Id,
    session: DbSession,
    actor: Annotated[Actor, require(UsersPerm.force_logout)],
) -> ForceLogoutOut:
    """End every session of the user at once (not your own: 409 ``cannot_manage_self``)."""
    return ForceLogoutOut(sessions_ended=await service.force_logout(session, actor, user_id))


@login_log_router.get(
    "",
    operation_id="users:login_events",
    response_model=LoginEventPage,
    responses=error_responses(401, 403),
)
async def login_events(
    session: DbSession,
    actor: Annotated[Actor, require(UsersPerm.login_log)],
    user_id: Id | None = None,
    result: Annotated[str | None, Query(max_length=32)] = None,
    ip: IPv4Address | IPv6Address | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> LoginEventPage:
    """The login log: every sign-in attempt with IP, device and result."""
    rows = await service.list_login_events(
        session,
        user_id=user_id,
        result=result,
        ip=str(ip) if ip else None,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    return LoginEventPage(
        items=[_login_event_out(e) for e in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )
