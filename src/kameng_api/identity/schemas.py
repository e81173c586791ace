from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from kameng_api.core.bounds import Id

Password = Field(min_length=1, max_length=128)

# What the address checker (email-validator) surely accepts, for clients and the fuzzer: the
# checker itself decides (it also refuses reserved domains such as .test and .localhost).
EMAIL_SHAPE = (
    r"^(?=[^@]{1,64}@)[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.)+"
    r"(?!(arpa|invalid|local|localhost|onion|test)$)[a-z]{2,12}$"
)


class RegisterIn(BaseModel):
    email: EmailStr = Field(max_length=254, json_schema_extra={"pattern": EMAIL_SHAPE})
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{6,20}$")
    password: str = Field(min_length=8, max_length=128)
    display_name: str = Field(default="", max_length=64)


class RegisterOut(BaseModel):
    user_id: int
    email_verification_sent: bool = True


class VerifyEmailIn(BaseModel):
    email: EmailStr = Field(max_length=254, json_schema_extra={"pattern": EMAIL_SHAPE})
    code: str = Field(min_length=4, max_length=16)


class EmailIn(BaseModel):
    email: EmailStr = Field(max_length=254, json_schema_extra={"pattern": EMAIL_SHAPE})


class ResetPasswordIn(BaseModel):
    email: EmailStr = Field(max_length=254, json_schema_extra={"pattern": EMAIL_SHAPE})
    code: str = Field(min_length=4, max_length=16)
    new_password: str = Field(min_length=8, max_length=128)


RefreshTransport = Literal["cookie", "body"]


class LoginIn(BaseModel):
    login: str = Field(min_length=1, max_length=254, description="Email or phone number.")
    password: str = Field(min_length=1, max_length=128)
    refresh_transport: RefreshTransport = Field(
        default="cookie",
        description="cookie: browsers (httpOnly cookie); body: mobile apps keep it themselves.",
    )


class SecondFactorIn(BaseModel):
    # the schema says what the validator below checks: a code or a recovery code
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["code"], "properties": {"code": {"type": "string", "minLength": 1}}},
                {
                    "required": ["recovery_code"],
                    "properties": {"recovery_code": {"type": "string", "minLength": 1}},
                },
            ]
        }
    )

    code: str | None = Field(default=None, max_length=10, description="6-digit TOTP code.")
    recovery_code: str | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _one(self) -> SecondFactorIn:
        if not self.code and not self.recovery_code:
            raise ValueError("give code or recovery_code")
        return self


class LoginSecondFactorIn(SecondFactorIn):
    mfa_token: str = Field(min_length=10, max_length=2000)
    refresh_transport: RefreshTransport = "cookie"


class RefreshIn(BaseModel):
    refresh_token: str | None = Field(
        default=None, max_length=200, description="Mobile apps; browsers send the cookie."
    )


class MeOut(BaseModel):
    id: int
    kind: str
    email: str | None
    phone: str | None
    display_name: str
    email_verified: bool
    mfa_enabled: bool
    mfa_enrollment_required: bool = Field(
        description="Staff holding sensitive permissions must turn on 2FA."
    )
    must_change_password: bool
    permissions: list[str]
    roles: list[str]
    role_names: list[str] = Field(default_factory=list, description="Display names of roles.")
    step_up_valid_until: datetime | None


class TokenOut(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: Literal["ok"] = "ok"
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 — OAuth token type, not a secret
    expires_in: int
    refresh_token: str | None = Field(
        default=None, description="Only when refresh_transport is body."
    )
    session_id: str
    must_change_password: bool
    mfa_enrollment_required: bool


class MfaRequiredOut(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: Literal["mfa_required"] = "mfa_required"
    mfa_token: str = Field(description="Send it with the 2FA code to /auth/login/2fa.")


class ChangePasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=8, max_length=128)


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str


class CodeIn(BaseModel):
    code: str = Field(min_length=6, max_length=10)


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class StepUpOut(BaseModel):
    valid_until: datetime


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class NoticeOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class LoginEventOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    login: str
    ip: str | None
    user_agent: str | None
    result: str
    new_device: bool


class LoginEventPage(BaseModel):
    items: list[LoginEventOut]
    next_before_id: int | None


class RoleRef(BaseModel):
    id: int
    key: str
    name: str


class UserOut(BaseModel):
    id: int
    kind: str
    email: str | None
    phone: str | None
    display_name: str
    status: str
    mfa_enabled: bool
    must_change_password: bool
    created_at: datetime
    last_login_at: datetime | None
    roles: list[RoleRef]


class UserPage(BaseModel):
    items: list[UserOut]
    next_before_id: int | None


class StaffCreateIn(BaseModel):
    email: EmailStr = Field(max_length=254, json_schema_extra={"pattern": EMAIL_SHAPE})
    display_name: str = Field(default="", max_length=64)
    password: str | None = Field(
        default=None,
        min_length=8,
        max_length=128,
        description="Empty: a temporary password is generated.",
    )
    role_ids: list[Id] = Field(default_factory=list, max_length=50)


class StaffCreatedOut(BaseModel):
    user: UserOut
    temporary_password: str | None = Field(
        default=None, description="Shown once; the user must change it at first sign-in."
    )


class UserUpdateIn(BaseModel):
    display_name: str | None = Field(default=None, max_length=64)
    status: Literal["active", "disabled"] | None = None


class UserRolesIn(BaseModel):
    role_ids: list[Id] = Field(max_length=50)


class ForceLogoutOut(BaseModel):
    sessions_ended: int
