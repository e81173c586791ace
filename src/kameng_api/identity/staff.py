"""Staff administration: creating staff accounts, listing and updating users, forcing a
user's sessions out, and the login log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.audit import service as audit
from kameng_api.core import security
from kameng_api.core.actor import Actor, UserKind
from kameng_api.core.errors import Conflict, Forbidden
from kameng_api.identity.accounts import create_user
from kameng_api.identity.lookups import get_user
from kameng_api.identity.models import LoginEvent, User
from kameng_api.identity.sessions import revoke_all_sessions
from kameng_api.rbac import service as rbac


def user_snapshot(user: User) -> dict[str, object]:
    return {
        "email": user.email,
        "phone": user.phone,
        "display_name": user.display_name,
        "status": user.status,
        "kind": user.kind,
    }


async def create_staff(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    display_name: str,
    password: str | None,
    role_ids: set[int],
) -> tuple[User, str | None]:
    temp = None
    if password is None:
        temp = security.new_opaque_token(12)
        password = temp
    user = await create_user(
        session,
        kind=UserKind.staff,
        email=email,
        phone=None,
        password=password,
        display_name=display_name,
        must_change_password=True,
        email_verified=True,
    )
    await audit.record(
        session,
        "users.create",
        actor=actor,
        target_type="user",
        target_id=user.id,
        after=user_snapshot(user),
        risk="medium",
    )
    if role_ids:
        await rbac.set_user_roles(session, actor, user.id, role_ids)
    return user, temp


async def list_users(
    session: AsyncSession,
    *,
    kind: str | None,
    q: str | None,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[User]:
    stmt = select(User)
    if kind:
        stmt = stmt.where(User.kind == kind)
    if status:
        stmt = stmt.where(User.status == status)
    if q:
        text = q.strip()  # % and _ are text here, not wildcards
        stmt = stmt.where(
            or_(
                User.email.icontains(text, autoescape=True),
                User.phone.contains(text, autoescape=True),
                User.display_name.icontains(text, autoescape=True),
            )
        )
    if before_id is not None:
        stmt = stmt.where(User.id < before_id)
    return (await session.execute(stmt.order_by(User.id.desc()).limit(limit))).scalars().all()


async def update_user(
    session: AsyncSession,
    actor: Actor,
    user_id: int,
    *,
    display_name: str | None,
    status: str | None,
) -> User:
    user = await get_user(session, user_id)
    await rbac.ensure_can_manage(session, actor, user.id)
    before = user_snapshot(user)
    if status is not None and status != user.status:
        if "users:disable" not in actor.permissions:
            raise Forbidden("Disabling users needs users:disable.", code="permission_denied")
        if status == "disabled":
            if user.id == actor.user_id:
                raise Conflict("You cannot disable yourself.", code="cannot_disable_self")
            await rbac.ensure_not_last_super_admin(session, user.id)
            await revoke_all_sessions(session, user.id, reason="disabled")
        user.status = status
    if display_name is not None:
        user.display_name = display_name
    await session.flush()
    await audit.record(
        session,
        "users.update",
        actor=actor,
        target_type="user",
        target_id=user.id,
        before=before,
        after=user_snapshot(user),
        risk="medium" if status else "low",
    )
    return user


async def force_logout(session: AsyncSession, actor: Actor, user_id: int) -> int:
    if user_id == actor.user_id:
        raise Conflict(
            "Sign your own sessions out from your sessions list instead.",
            code="cannot_manage_self",
        )
    user = await get_user(session, user_id)
    await rbac.ensure_can_manage(session, actor, user.id)
    n = await revoke_all_sessions(session, user.id, reason="forced_by_admin")
    await audit.record(
        session,
        "users.force_logout",
        actor=actor,
        target_type="user",
        target_id=user.id,
        after={"sessions_ended": n},
        risk="medium",
    )
    return n


async def list_login_events(
    session: AsyncSession,
    *,
    user_id: int | None,
    result: str | None,
    ip: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> Sequence[LoginEvent]:
    stmt = select(LoginEvent)
    if user_id is not None:
        stmt = stmt.where(LoginEvent.user_id == user_id)
    if result:
        stmt = stmt.where(LoginEvent.result == result)
    if ip:
        stmt = stmt.where(LoginEvent.ip == ip)
    if since:
        stmt = stmt.where(LoginEvent.at >= since)
    if until:
        stmt = stmt.where(LoginEvent.at < until)
    if before_id is not None:
        stmt = stmt.where(LoginEvent.id < before_id)
    return (await session.execute(stmt.order_by(LoginEvent.id.desc()).limit(limit))).scalars().all()
