"""Client-side reads and requests used by the CLI: the KV snapshot, one incident's history,
reports and operator commands. Thin: presentation is in `watchboard.domain.present`.

Reads go through `watchboard.bus.reader` (direct gets): they work from a person's account,
which has no JetStream API, as well as from the services' account with roles off.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client

from watchboard.bus.errors import BusError, NoResponders, NotPermitted, map_nats_error, unless_refused
from watchboard.bus.reader import board_exists, kv_get, kv_snapshot, scan
from watchboard.bus.subjects import STREAM, Subjects
from watchboard.domain.events import Event, decode_event
from watchboard.domain.views import IncidentView, decode_view, split_key


async def load_views(nc: Client, timeout: float = 10.0) -> dict[str, IncidentView]:
    """Every incident in the bucket, folded from its parts (one pass over the snapshot)."""
    views: dict[str, IncidentView] = {}
    if not await board_exists(nc):
        return views
    for key, value in (await kv_snapshot(nc, timeout=timeout)).items():
        parsed = split_key(key)
        if parsed is None or not value:
            continue
        incident, part = parsed
        view = views.get(incident) or IncidentView(id=incident)
        views[incident] = view.with_part(part, decode_view(part, value))
    return views


async def load_view(nc: Client, incident_id: str) -> IncidentView | None:
    view = IncidentView(id=incident_id)
    found = False
    for part in ("core", "grade", "clocks", "notices"):
        value = await kv_get(nc, f"{incident_id}.{part}")
        if value:
            found = True
            view = view.with_part(part, decode_view(part, value))
    return view if found else None


async def load_history(nc: Client, subjects: Subjects, incident_id: str, timeout: float = 10.0) -> list[Event]:
    """Every event of one incident, from the stream (the record), in stream order."""
    out: list[Event] = []
    for stored in await scan(nc, STREAM, subjects.of_incident(incident_id), batch=500, timeout=timeout):
        event = decode_event(stored.data)
        if event is not None:
            out.append(event)
    return out


async def load_archived(nc: Client, subjects: Subjects, known: set[str], timeout: float = 120.0,
                        ) -> dict[str, IncidentView]:
    """Closed incidents that have left the board (not in `known`), from the stream: their
    reports, closes, grades and owners (`reports.archive.SUMMARY_TYPES`), what `ls --all` lists."""
    from watchboard.reports.archive import SUMMARY_TYPES, views_of

    events: list[tuple[int, Event]] = []
    for kind in SUMMARY_TYPES:
        owner = "grading" if kind in ("incident.graded", "incident.assigned") else "intake"
        subject = f"{subjects.prefix}.ev.{owner}.*.{kind}"
        for stored in await scan(nc, STREAM, subject, batch=1000, timeout=timeout):
            event = decode_event(stored.data)
            if event is not None and event.incident_id not in known:
                events.append((stored.seq, event))
    events.sort(key=lambda pair: pair[0])  # stream order across the subjects
    views = views_of(e for _, e in events)
    return {i: v for i, v in views.items() if v.core is not None and v.core.stage == "closed"}


async def request_retrying(nc: Client, subject: str, body: bytes, timeout: float, *, attempts: int = 4,
                           headers: dict[str, str] | None = None):
    """nc.request, asked again on "no responders" for about a second: a service restarting
    (or, seen on nats-server 2.15, a client that connected a moment before the responder
    subscribed) answers a retry a few milliseconds later."""
    import nats.errors

    for attempt in range(attempts):
        try:
            return await nc.request(subject, body, timeout=timeout, headers=headers)
        except nats.errors.NoRespondersError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.05 * 4 ** attempt)
    raise AssertionError("unreachable")


async def request(nc: Client, subject: str, body: bytes, timeout: float = 10.0,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A request to a service; bus failures become an `unavailable` error reply (with `reason`
    `no_responders` when nothing listens, so a caller can say what to start)."""
    limit = getattr(nc, "max_payload", 0) or 0
    if limit and len(body) > limit:  # nats-py would raise MaxPayloadError: name the limit instead
        return {"ok": False, "error": {"code": "invalid", "field": "body", "size": len(body), "limit": limit,
                                       "message": f"the request is {len(body):,} bytes; the bus takes at "
                                                  f"most {limit:,} per message",
                                       "message_zh": f"请求共 {len(body):,} 字节，总线每条消息最多 {limit:,} 字节"}}
    try:
        msg = await unless_refused(nc, subject, request_retrying(nc, subject, body, timeout, headers=headers))
    except NotPermitted as exc:
        return {"ok": False, "error": {"code": "forbidden", "reason": "not_permitted", "subject": subject,
                                       "message": str(exc)}}
    except Exception as exc:
        try:
            err: BusError = map_nats_error(exc)
        except TypeError:
            raise exc from None
        if isinstance(err, NoResponders):
            service = "intake" if subject.endswith("submit") else "the service"
            message = f"no service answers on {subject}: is {service} running?"
            service_zh = "`intake` 服务" if subject.endswith("submit") else "相关服务"
            return {"ok": False, "error": {"code": "unavailable", "message": message,
                                           "message_zh": f"`{subject}` 没有服务应答：请确认{service_zh}正在运行",
                                           "reason": "no_responders", "subject": subject}}
        message = f"no reply on {subject} within {timeout:.0f}s ({err})"
        return {"ok": False, "error": {"code": "unavailable", "message": message,
                                       "message_zh": f"`{subject}` 在 {timeout:.0f} 秒内没有答复，请稍后重试"}}
    try:
        reply: dict[str, Any] = json.loads(msg.data)
        return reply
    except ValueError:
        return {"ok": False, "error": {"code": "unavailable", "message": f"unreadable reply on {subject}",
                                       "message_zh": f"`{subject}` 的答复无法解读"}}
