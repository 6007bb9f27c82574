"""Sending one plain-text e-mail through the configured SMTP server (stdlib smtplib)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gongyu.ground.settings import Settings

TIMEOUT_SECONDS = 10.0


class Mailer:
    """An SMTP server to send notices through; `send` raises on any failure."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        sender: str = "gongyu@localhost",
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout

    def __repr__(self) -> str:
        # Never the password: mailers end up in logs and tracebacks.
        return f"Mailer({self.host}:{self.port}, from {self.sender})"

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        """The mailer the settings describe, or None when no SMTP host is set."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
        )

    def message(self, to: str, subject: str, body: str) -> EmailMessage:
        """The text/plain UTF-8 message `send` would send."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        # base64, not 8bit: Korean text must pass relays that do not announce 8BITMIME.
        message.set_content(body, charset="utf-8", cte="base64")
        return message

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one message to one address; raises (OSError, smtplib.SMTPException) on failure."""
        message = self.message(to, subject, body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message, from_addr=self.sender, to_addrs=[to])
