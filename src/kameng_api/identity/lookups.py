"""Finding users: by login (email or phone), by id, many at once, their names for display;
and whether a staff user must enrol in 2FA before going on."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core.actor import UserKind
from kameng_api.core.errors import NotFound
from kameng_api.identity.models import User
from kameng_api.rbac.catalogue import PERMISSIONS, load_catalogue


def normalize_login(login: str) -> str:
    return login.strip().lower()


async def find_by_login(session: AsyncSession, login: str) -> User | None:
    login = normalize_login(login)
    q = select(User).where(or_(func.lower(User.email) == login, User.phone == login))
    return (await session.execute(q)).scalar_one_or_none()


async def login_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """user id → email (or phone) for showing who did something."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.email, User.phone).where(User.id.in_(user_ids))
    )
    return {uid: email or phone or f"#{uid}" for uid, email, phone in rows}


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def get_users(session: AsyncSession, user_ids: list[int]) -> list[User]:
    """Many users in one query (loaded into the session: ``get_user`` then reads them)."""
    return list((await session.execute(select(User).where(User.id.in_(user_ids)))).scalars())


def requires_mfa_enrollment(user: User, permissions: frozenset[str]) -> bool:
    load_catalogue()
    return (
        user.kind == UserKind.staff
        and user.totp_enabled_at is None
        and any(PERMISSIONS[p].sensitive for p in permissions if p in PERMISSIONS)
    )
