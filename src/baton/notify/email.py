"""Email through SMTP (`BATON_SMTP_*`): plain text with an HTML alternative."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from baton.settings import Settings


def send(
    settings: Settings,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str,
    *,
    timeout: float,
) -> None:
    """Send one message to `to`.

    Raises:
        OSError, smtplib.SMTPException: the server could not be reached or refused it.
    """
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(msg)
