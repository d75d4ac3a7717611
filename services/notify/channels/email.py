"""E-mail channel: SMTP with STARTTLS or implicit TLS and login, via aiosmtplib.

The Message-ID is derived from the notice key, so a resend after a crash or a retry carries
the same Message-ID and a mail client (or a server that deduplicates) shows it once. A notice
with `attachments` (a scheduled report) carries those files.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

import aiosmtplib

from watchboard.services.notify.channels.outcome import SENT, SendResult, exception_outcome
from watchboard.services.notify.settings import Contact, Smtp
from watchboard.services.notify.templates import Outgoing, TemplateError, clean, render


def message_id(key: str, domain: str) -> str:
    return f"<{key}@{domain}>"


def build_email(message: Outgoing, contact: Contact, smtp: Smtp) -> EmailMessage:
    subject, body = render(message, markdown=False)
    mail = EmailMessage()
    mail["Message-ID"] = message_id(message.key, smtp.message_id_domain)
    mail["From"] = smtp.sender
    mail["To"] = formataddr((clean(message.person_name, 60), contact.address))
    mail["Subject"] = clean(subject, 200)  # clean() folds newlines: no header injection
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["X-Watchboard-Key"] = message.key
    mail["X-Watchboard-Incident"] = clean(message.incident_id, 64)
    mail.set_content(body)
    for path in message.attachments:  # a scheduled report's Word file, read now (kept on disk)
        attach(mail, Path(path))
    return mail


DOCX = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def attach(mail: EmailMessage, path: Path) -> None:
    """Attach one file; a file that is gone is a message that cannot be built (a final failure
    naming the file, not a mail sent without it)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"attachment {path} cannot be read ({exc.strerror or exc})") from exc
    maintype, subtype = DOCX if path.suffix == ".docx" else ("application", "octet-stream")
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)


class EmailChannel:
    def __init__(self, smtp: Smtp, *, timeout: float = 10.0, tls_context: ssl.SSLContext | None = None) -> None:
        self._smtp = smtp
        self._timeout = timeout
        self._tls = tls_context

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing, contact: Contact) -> SendResult:
        smtp = self._smtp
        target = f"email {contact.address} via {smtp.host}:{smtp.port} for {message.person_id}"
        try:
            mail = build_email(message, contact, smtp)
        except (TemplateError, ValueError) as exc:
            return SendResult(False, False, f"{target}: cannot build the message: {exc}")
        password = smtp.login_password()
        try:
            await aiosmtplib.send(
                mail, hostname=smtp.host, port=smtp.port,
                username=smtp.username or None, password=password if smtp.username else None,
                use_tls=smtp.security == "tls", start_tls=True if smtp.security == "starttls" else False,
                timeout=self._timeout, tls_context=self._tls,
            )
        except Exception as exc:  # classified in one place
            return exception_outcome(exc, target=target)
        return SENT
