"""Password policy: 8–128 characters, not among the most common passwords, not the login."""

from __future__ import annotations

from functools import lru_cache

from kameng_api.core.errors import AppError

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_TOP_N = 10_000


class WeakPassword(AppError):
    status = 422
    code = "weak_password"
    title = "Password too weak"


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"][:COMMON_TOP_N])


def check_password_policy(password: str, *, login: str | None = None) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common() or len(set(password)) < 3:
        raise WeakPassword("This password is among the most common ones; choose another.")
    if login:
        local = login.lower().split("@")[0]
        if lowered == login.lower() or (len(local) >= 4 and lowered == local):
            raise WeakPassword("The password must not be your login.")
