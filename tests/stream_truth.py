"""What the stream says, and what the board shows, as comparable facts per KV key.

Independent of the services' code: a small fold of the events a person would check by hand
(stage, mentions, grade, pin, owner, flags, each clock's status, the notices sent, the
acknowledgement), and the same facts read from the KV values.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from nats.js import api

from watchboard.bus.subjects import STREAM
from watchboard.domain import events as ev

Facts = dict[str, Any]


async def read_stream(nc: Client, subject: str = "wb.ev.>") -> list[ev.Event]:
    """Every event on `subject`, in stream order (bounded waits)."""
    sub = await nc.jetstream(timeout=5).pull_subscribe(
        subject, stream=STREAM, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, inactive_threshold=30))
    out: list[ev.Event] = []
    try:
        for _ in range(10_000):
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except Exception:  # nothing more within the wait
                break
            out += [e for m in msgs if (e := ev.decode_event(m.data)) is not None]
            if msgs and msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return out


async def stored_ids(nc: Client) -> list[str]:
    """The Nats-Msg-Id of every message in the stream, repeats included."""
    sub = await nc.jetstream(timeout=5).pull_subscribe(
        "wb.ev.>", stream=STREAM, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, headers_only=True,
                                                            inactive_threshold=30))
    out: list[str] = []
    try:
        for _ in range(10_000):
            try:
                msgs = await sub.fetch(500, timeout=0.5)
            except Exception:
                break
            out += [(m.headers or {}).get("Nats-Msg-Id", "") for m in msgs]
            if msgs and msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return out


async def board(nc: Client, part: str) -> dict[str, dict[str, Any]]:
    """Every `<id>.<part>` value in the bucket, as JSON."""
    import json

    from nats.js.kv import KV_DEL, KV_PURGE

    kv = await nc.jetstream(timeout=5).key_value("wb-board")
    watcher = await kv.watch(f"*.{part}")
    out: dict[str, dict[str, Any]] = {}
    try:
        while (entry := await watcher.updates(timeout=5)) is not None:
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                out.pop(entry.key, None)
            else:
                out[entry.key] = json.loads(entry.value)
    finally:
        await watcher.stop()
    return out


async def differences(nc: Client, parts: tuple[str, ...]) -> dict[str, tuple[Facts, Facts]]:
    """Keys whose board facts differ from the stream's: key → (stream, board)."""
    said = truth(await read_stream(nc), parts)
    seen: dict[str, Facts] = {}
    for part in parts:
        seen.update({k: shown(k, v) for k, v in (await board(nc, part)).items()})
    return {k: (said.get(k, {}), seen.get(k, {})) for k in set(said) | set(seen)
            if said.get(k, {}) != seen.get(k, {})}


def truth(events: list[ev.Event], parts: tuple[str, ...]) -> dict[str, Facts]:
    """`<id>.<part>` → the facts the stream gives, for the parts asked."""
    out: dict[str, Facts] = {}

    def facts(incident: str, part: str) -> Facts:
        # Notices of no incident (scheduled reports, missed sweeps) are shown under `sys.notices`.
        key = "sys.notices" if incident == ev.NO_INCIDENT and part == "notices" else f"{incident}.{part}"
        return out.setdefault(key, {})

    for e in events:
        i = e.incident_id
        match e:
            case ev.IncidentReported() if "core" in parts:
                facts(i, "core").update(stage="reported", mentions=1)
            case ev.MentionAdded() if "core" in parts:
                f = facts(i, "core")
                f["mentions"] = f.get("mentions", 0) + 1
            case ev.StageChanged() if "core" in parts:
                facts(i, "core")["stage"] = e.stage
            case ev.IncidentClosed() if "core" in parts:
                facts(i, "core")["stage"] = "closed"
            case ev.IncidentGraded() if "grade" in parts:
                facts(i, "grade").update(grade=e.grade, pinned=e.pinned)
            case ev.IncidentAssigned() if "grade" in parts:
                facts(i, "grade")["owner"] = e.owner
            case ev.IncidentFlagged() if "grade" in parts:
                facts(i, "grade").setdefault("flags", []).append(e.kind)
            case ev.IncidentUnflagged() if "grade" in parts:
                flags = facts(i, "grade").setdefault("flags", [])
                if e.kind in flags:
                    flags.remove(e.kind)
            case ev.ClockStarted() if "clocks" in parts:
                facts(i, "clocks")[e.clock] = "running"
            case ev.ClockBreached() if "clocks" in parts:
                facts(i, "clocks")[e.clock] = "breached"
            case ev.ClockMet() if "clocks" in parts:
                facts(i, "clocks")[e.clock] = "breached" if e.late else "met"
            case ev.ClockExtended() if "clocks" in parts:
                facts(i, "clocks")[e.clock] = "extended"
            case ev.ClockCancelled() if "clocks" in parts:
                facts(i, "clocks")[e.clock] = "cancelled"
            case ev.NoticeSent() if "notices" in parts:
                facts(i, "notices").setdefault("sent", set()).add((e.to, e.channel, e.cause))
            case ev.IncidentAcknowledged() if "notices" in parts:
                facts(i, "notices")["acknowledged_by"] = e.by
    return out


def shown(key: str, value: dict[str, Any]) -> Facts:
    """The same facts, read from one KV value."""
    part = key.rpartition(".")[2]
    if part == "core":
        return {"stage": value["stage"], "mentions": value["mention_count"]}
    if part == "grade":
        f: Facts = {"grade": value["grade"], "pinned": value["pinned"]}
        if value.get("owner"):
            f["owner"] = value["owner"]
        if value.get("flags"):
            f["flags"] = list(value["flags"])
        return f
    if part == "clocks":
        return {c["name"]: c["status"] for c in value["clocks"] + value.get("tasks", [])}
    if part == "notices":
        f = {}
        sent = {(n["to"], n["channel"], n["cause"]) for n in value["notices"] if n["status"] == "sent"}
        if sent:
            f["sent"] = sent
        if value.get("acknowledged_by"):
            f["acknowledged_by"] = value["acknowledged_by"]
        return f
    raise ValueError(key)
