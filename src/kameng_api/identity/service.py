"""Identity's front door: accounts, sign-in, tokens, 2FA, sessions, staff administration.
Business rules only: no FastAPI here.

Callers use ``from kameng_api.identity import service as identity`` and ``identity.X``; every
name below is defined in the module that does that job and only re-exported here:

- ``errors.py``    the errors sign-in and codes answer with (wrong credentials, locked, …)
- ``lookups.py``   finding users (by login, by id, many), their names, 2FA enrolment rule
- ``accounts.py``  creating users, registration, mailed codes (verify email, reset
                   password), password changes and the staff password history
- ``signin.py``    password then second factor, the login log, new-device notices
- ``sessions.py``  issuing and rotating tokens (refresh), listing and ending sessions
- ``tokens.py``    an access token → the ``Actor`` of a live session
- ``totp.py``      TOTP 2FA setup/enable/disable, recovery codes, step-up
- ``staff.py``     staff accounts, the user list and updates, forced logout, the login log

Constants (code lifetimes, recovery-code count, …) belong to the module that uses them; a
test that patches one patches it there, not here.
"""

from __future__ import annotations

from kameng_api.identity.accounts import (
    CODE_MAX_ATTEMPTS,
    CODE_TTL,
    PASSWORD_HISTORY_STAFF,
    change_password,
    create_user,
    register_customer,
    request_password_reset,
    resend_verification,
    reset_password,
    verify_email,
)
from kameng_api.identity.errors import InvalidCode, InvalidCredentials, LoginLocked, TokenRejected
from kameng_api.identity.lookups import (
    find_by_login,
    get_user,
    get_users,
    login_names,
    normalize_login,
    requires_mfa_enrollment,
)
from kameng_api.identity.sessions import (
    IssuedTokens,
    list_sessions,
    logout,
    refresh,
    revoke_all_sessions,
    revoke_own_session,
)
from kameng_api.identity.signin import (
    MFA_CHALLENGE_TTL,
    MfaChallenge,
    authenticate,
    authenticate_second_factor,
)
from kameng_api.identity.staff import (
    create_staff,
    force_logout,
    list_login_events,
    list_users,
    update_user,
    user_snapshot,
)
from kameng_api.identity.tokens import resolve_access_token
from kameng_api.identity.totp import (
    RECOVERY_CODES,
    TOTP_ISSUER,
    TotpSetup,
    disable_totp,
    enable_totp,
    regenerate_recovery_codes,
    start_totp,
    step_up,
    verify_totp,
)

__all__ = [
    "CODE_MAX_ATTEMPTS",
    "CODE_TTL",
    "MFA_CHALLENGE_TTL",
    "PASSWORD_HISTORY_STAFF",
    "RECOVERY_CODES",
    "TOTP_ISSUER",
    "InvalidCode",
    "InvalidCredentials",
    "IssuedTokens",
    "LoginLocked",
    "MfaChallenge",
    "TokenRejected",
    "TotpSetup",
    "authenticate",
    "authenticate_second_factor",
    "change_password",
    "create_staff",
    "create_user",
    "disable_totp",
    "enable_totp",
    "find_by_login",
    "force_logout",
    "get_user",
    "get_users",
    "list_login_events",
    "list_sessions",
    "list_users",
    "login_names",
    "logout",
    "normalize_login",
    "refresh",
    "regenerate_recovery_codes",
    "register_customer",
    "request_password_reset",
    "requires_mfa_enrollment",
    "resend_verification",
    "reset_password",
    "resolve_access_token",
    "revoke_all_sessions",
    "revoke_own_session",
    "start_totp",
    "step_up",
    "update_user",
    "user_snapshot",
    "verify_email",
    "verify_totp",
]
