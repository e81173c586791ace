"""A reseller's account for docking: where callbacks go and the secret that signs them.

The row is made on first use (``ensure_account``) with a fresh Standard Webhooks secret
(``whsec_…``), stored encrypted and bound to the reseller's id. The callback URL is checked
by the SSRF guard when it is saved (and again on every call, by ``core.outbound.request``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.core import outbound
from kameng_api.core.clock import clock
from kameng_api.core.security import decrypt_field, encrypt_field
from kameng_api.resellers.models import ResellerAccount
from kameng_api.resellers.signing import new_webhook_secret


def _aad(user_id: int) -> str:
    return f"reseller_accounts.webhook_secret:{user_id}"


async def ensure_account(session: AsyncSession, user_id: int) -> ResellerAccount:
    """The reseller's account row, made (with a new webhook secret) if missing; concurrent
    first calls make one row."""
    await session.execute(
        insert(ResellerAccount)
        .values(
            user_id=user_id,
            webhook_secret_enc=encrypt_field(new_webhook_secret(), aad=_aad(user_id)),
        )
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    account = (
        await session.execute(
            select(ResellerAccount)
            .where(ResellerAccount.user_id == user_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return account


def webhook_secret(account: ResellerAccount) -> str:
    """The plaintext ``whsec_…`` secret (to sign a callback, or to show its owner)."""
    return decrypt_field(account.webhook_secret_enc, aad=_aad(account.user_id))


async def set_callback_url(session: AsyncSession, user_id: int, url: str | None) -> ResellerAccount:
    """Save (or clear, with None) where callbacks go; a URL the SSRF guard refuses is a 422
    ``url_not_allowed`` and saves nothing."""
    if url:
        await outbound.check_url(url)
    account = await ensure_account(session, user_id)
    account.callback_url = url or None
    account.updated_at = clock.now()
    return account


async def rotate_webhook_secret(session: AsyncSession, user_id: int) -> str:
    """A new callback signing secret (returned once, in plaintext); the old one stops at once."""
    account = await ensure_account(session, user_id)
    secret = new_webhook_secret()
    account.webhook_secret_enc = encrypt_field(secret, aad=_aad(user_id))
    account.updated_at = clock.now()
    return secret
