"""Channels: each has `async send(message, contact) -> SendResult` and `async close()`.

`Channels` picks the channel and the contact for an outgoing notice from the notice's
contact label; a contact that is no longer configured is a final failure naming it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Protocol

from watchboard.services.notify.channels.board import BoardChannel
from watchboard.services.notify.channels.email import EmailChannel
from watchboard.services.notify.channels.outcome import SENT, SendResult
from watchboard.services.notify.channels.webhook import WebhookChannel
from watchboard.services.notify.settings import Contact, NotifyConfig, seconds
from watchboard.services.notify.templates import Outgoing

__all__ = ["SENT", "Channel", "Channels", "SendResult"]


class Channel(Protocol):
    async def send(self, message: Outgoing, contact: Contact) -> SendResult: ...

    async def close(self) -> None: ...


class Channels:
    def __init__(self, cfg: NotifyConfig, *, overrides: dict[str, Channel] | None = None,
                 tls_context: ssl.SSLContext | None = None) -> None:
        timeout = seconds(cfg.delivery.timeout)
        self._cfg = cfg
        self._timeout = timeout
        self.by_name: dict[str, Channel] = {
            "webhook": WebhookChannel(timeout=timeout),
            "email": EmailChannel(cfg.smtp, timeout=timeout, tls_context=tls_context),
            "board": BoardChannel(),
            **(overrides or {}),
        }

    def contact_of(self, message: Outgoing) -> Contact | None:
        person = self._cfg.person(message.person_id)
        if person is None:
            return None
        return next((c for c in person.contacts if c.label == message.contact), None)

    async def send(self, message: Outgoing) -> SendResult:
        contact = self.contact_of(message)
        if contact is None:
            return SendResult(False, False, f"{message.contact} for {message.person_id}: "
                              "contact no longer configured in notify.toml")
        channel = self.by_name[contact.channel]
        try:
            # The channels bound their own I/O; this is the backstop for a hung server.
            return await asyncio.wait_for(channel.send(message, contact), self._timeout + 5)
        except TimeoutError:
            return SendResult(False, True, f"{message.contact} for {message.person_id}: timed out")

    async def close(self) -> None:
        for channel in self.by_name.values():
            await channel.close()
