"""What a reader of the board's data receives: the contract between the bus and the board.

`watchboard.bus.feed.watch_board()` turns the KV bucket `wb-board`, the NATS connection
state and the service API pings into one async stream of these items. The board never
talks to NATS itself; it consumes this stream in a worker and posts messages to widgets.
Tests of the board feed these items directly; the feed itself is tested on a real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import msgspec


class KVChange(msgspec.Struct, frozen=True):
    """One key of `wb-board` changed: value None means deleted or purged."""

    key: str
    value: bytes | None


class KVBatch(msgspec.Struct, frozen=True):
    """Several `KVChange`s that were ready at once (in order); a reader folds them in one go."""

    changes: list[KVChange]


class SnapshotDone(msgspec.Struct, frozen=True):
    """Every key that existed when watching began has now been delivered."""

    count: int


class Connection(msgspec.Struct, frozen=True):
    state: Literal["connecting", "connected", "disconnected", "reconnecting", "closed"]
    at: datetime
    url: str = ""
    error: str = ""


class ServiceHealth(msgspec.Struct, frozen=True):
    """One round of `$SRV.PING`: each known service, whether it answered, and when."""

    services: dict[str, bool]  # True: answered ready
    at: datetime
    detail: dict[str, str] = msgspec.field(default_factory=dict)
    # Services that answered but are still loading (not ready): name → what ("state",
    # "catching up"); they are False in `services`.
    loading: dict[str, str] = msgspec.field(default_factory=dict)


FeedItem = KVChange | KVBatch | SnapshotDone | Connection | ServiceHealth
Feed = AsyncIterator[FeedItem]

# An operator command: `await send("ack", {"incident_id": …, "actor": …})` → the reply dict
# `{"ok": true, …}` or `{"ok": false, "error": {"code", "field", "message"}}`. The verb is the
# last token of `wb.cmd.<verb>`.
CommandSender = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
