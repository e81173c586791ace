"""Identity's errors: wrong credentials, a locked sign-in, a wrong code, a rejected token."""

from __future__ import annotations

from kameng_api.core.errors import AppError, ErrorCode


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"
    title = "Wrong login or password"


class LoginLocked(AppError):
    status = 429
    code = "login_locked"
    title = "Too many failed sign-ins"


class MailRateLimited(AppError):
    status = 429
    code = ErrorCode.rate_limited
    title = "Too many requests"


class InvalidCode(AppError):
    status = 400
    code = "invalid_code"
    title = "Wrong or expired code"


class TokenRejected(AppError):
    status = 401
    code = "invalid_token"
    title = "Invalid token"
