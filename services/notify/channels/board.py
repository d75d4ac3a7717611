"""Board channel: no network. The notice shows in the board's alert panel through the
incident's `<id>.notices` KV value, which the service writes from the outbox; sending is
recording, so it always succeeds."""

from __future__ import annotations

from watchboard.services.notify.channels.outcome import SENT, SendResult
from watchboard.services.notify.settings import Contact
from watchboard.services.notify.templates import Outgoing


class BoardChannel:
    async def send(self, message: Outgoing, contact: Contact) -> SendResult:
        return SENT

    async def close(self) -> None:
        return None
