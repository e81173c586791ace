"""Deliver mail over SMTP (aiosmtplib: async, TLS certificates verified).

TLS is `KAMENG_SMTP_TLS`: ``implicit`` (port 465), ``starttls`` (the upgrade is required: a
server that does not offer it is refused rather than spoken to in clear) or ``none``. The
server's certificate is checked against the system CA store, or only against
`KAMENG_SMTP_CA_FILE` when that is set, and its name against `KAMENG_SMTP_HOST`; a server that
fails either never sees the login.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.notifications.service import SEND_EMAIL
from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.mail")

Mail = tuple[str, str, str, str]  # to, subject, body, message id


async def send_mail(
    to: str, subject: str, body: str, message_id: str, *, log_body: bool = False
) -> None:
    """Send one mail; raises when it was not accepted. Without SMTP configured, log it — with
    its body only when ``log_body`` (account codes in the demo; never delivered goods)."""
    s = get_settings()
    if not s.smtp_host:
        extra = {"to": to, "subject": subject} | ({"body": body} if log_body else {})
        log.info("mail (no SMTP configured)", extra=extra)
        return
    smtp = await _connect()
    try:
        await smtp.send_message(_message(to, subject, body, message_id))
    finally:
        await _goodbye(smtp)


async def send_mails_async(mails: list[Mail]) -> tuple[int, Exception | None]:
    """Send (to, subject, body, message id) in order over one connection. Returns how many
    were sent and, when one failed, why (the rest are not tried)."""
    s = get_settings()
    if not s.smtp_host:
        for to, subject, body, message_id in mails:
            await send_mail(to, subject, body, message_id)
        return len(mails), None
    if not mails:
        return 0, None
    sent = 0
    try:
        smtp = await _connect()
        try:
            for to, subject, body, message_id in mails:
                await smtp.send_message(_message(to, subject, body, message_id))
                sent += 1
        finally:
            await _goodbye(smtp)
    except Exception as exc:
        log.warning("mail to %s not sent: %s", mails[sent][0], exc)
        return sent, exc
    return sent, None


def send_mails(mails: list[Mail]) -> tuple[int, Exception | None]:
    """`send_mails_async` for a caller in a thread without an event loop
    (``asyncio.to_thread(send_mails, …)``, as the delivery notices do)."""
    return asyncio.run(send_mails_async(mails))


def tls_context() -> ssl.SSLContext:
    """Certificates verified and host names checked; the configured CA file only, when set."""
    s = get_settings()
    ca = str(s.smtp_ca_file) if s.smtp_ca_file else None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def _connect() -> aiosmtplib.SMTP:
    s = get_settings()
    assert s.smtp_host
    mode = s.smtp_tls_mode
    smtp = aiosmtplib.SMTP(
        hostname=s.smtp_host,
        port=s.smtp_port,
        timeout=10,
        use_tls=mode == "implicit",
        start_tls=mode == "starttls",  # False: never upgrade on its own (aiosmtplib's None)
        validate_certs=True,
        tls_context=None if mode == "none" else tls_context(),
    )
    await smtp.connect()
    try:
        if s.smtp_username and s.smtp_password:
            await smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


async def _goodbye(smtp: aiosmtplib.SMTP) -> None:
    """QUIT; a failure here changes nothing about the mails already accepted."""
    try:
        await smtp.quit()
    except Exception:
        smtp.close()


def _message(to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    s = get_settings()
    msg = EmailMessage()
    msg["From"] = s.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}@kameng>"
    msg.set_content(body)
    return msg


@outbox_job(SEND_EMAIL, timeout_s=15, max_tries=6)
async def send_email_job(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    # Message-ID from the outbox id: a re-run after a crash is recognisable as the same mail.
    await send_mail(
        payload["to"],
        payload["subject"],
        payload["body"],
        f"outbox-{meta.outbox_id}",
        log_body=True,
    )
