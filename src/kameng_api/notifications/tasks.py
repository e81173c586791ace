"""Deliver mail over SMTP (stdlib smtplib in a thread)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kameng_api.notifications.service import SEND_EMAIL
from kameng_api.outbox.jobs import JobMeta, outbox_job
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.mail")


def send_mail(to: str, subject: str, body: str, message_id: str, *, log_body: bool = False) -> None:
    """Send one mail (blocking: call it in a thread). Without SMTP configured, log it — with
    its body only when ``log_body`` (account codes in the demo; never delivered goods)."""
    s = get_settings()
    if not s.smtp_host:
        extra = {"to": to, "subject": subject} | ({"body": body} if log_body else {})
        log.info("mail (no SMTP configured)", extra=extra)
        return
    with _smtp() as smtp:
        smtp.send_message(_message(to, subject, body, message_id))


def send_mails(mails: list[tuple[str, str, str, str]]) -> tuple[int, Exception | None]:
    """Send (to, subject, body, message id) in order over one connection (blocking: call it
    in a thread). Returns how many were sent and, when one failed, why (the rest are not
    tried)."""
    s = get_settings()
    if not s.smtp_host:
        for to, subject, body, message_id in mails:
            send_mail(to, subject, body, message_id)
        return len(mails), None
    sent = 0
    try:
        with _smtp() as smtp:
            for to, subject, body, message_id in mails:
                smtp.send_message(_message(to, subject, body, message_id))
                sent += 1
    except Exception as exc:
        if sent == len(mails):  # all were accepted; only the goodbye failed
            return sent, None
        log.warning("mail to %s not sent: %s", mails[sent][0], exc)
        return sent, exc
    return sent, None


def _message(to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    s = get_settings()
    msg = EmailMessage()
    msg["From"] = s.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}@kameng>"
    msg.set_content(body)
    return msg


def _smtp() -> smtplib.SMTP:
    s = get_settings()
    assert s.smtp_host
    smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10)
    try:
        if s.smtp_starttls:
            smtp.starttls()
        if s.smtp_username and s.smtp_password:
            smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


@outbox_job(SEND_EMAIL, timeout_s=15, max_tries=6)
async def send_email_job(session: AsyncSession, payload: dict[str, Any], meta: JobMeta) -> None:
    # Message-ID from the outbox id: a re-run after a crash is recognisable as the same mail.
    await asyncio.to_thread(
        send_mail,
        payload["to"],
        payload["subject"],
        payload["body"],
        f"outbox-{meta.outbox_id}",
        log_body=True,
    )
