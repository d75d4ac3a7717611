"""One round of the NATS service API: ask every instance at once, keep what answers in time.

`$SRV.PING` and `$SRV.STATS` are answered by every instance of every service; the caller cannot
know how many will answer, so a round is a bounded wait on one inbox, not a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from nats.aio.client import Client


async def survey(nc: Client, subject: str, wait: float) -> list[dict[str, Any]]:
    """The JSON objects that answer one publish on `subject` within `wait` seconds (others dropped)."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    out: list[dict[str, Any]] = []
    try:
        await nc.publish(subject, b"", reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                msg = await sub.next_msg(timeout=left)
            except Exception:  # nothing more within the wait (or the connection went)
                break
            with contextlib.suppress(ValueError):
                body = json.loads(msg.data)
                if isinstance(body, dict):
                    out.append(body)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return out
