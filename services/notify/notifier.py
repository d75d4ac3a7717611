"""The notify core the service wires to the bus: events in, notices queued, deliveries out.

`Notifier` keeps what notify must remember about each incident (title, grade, owner, since
when it is major, acknowledgement, escalation tiers sent) in its SQLite database beside the
outbox, so a restart resumes where it stopped. Every method takes `now`; none touches NATS.
The events it returns carry deterministic ids (`effect_id` of their cause), so publishing
them again after a crash is dropped by JetStream's duplicate window.

    notifier = await Notifier.open(cfg, data_dir, channels=Channels(cfg), profile=source.profile_name(),
                                   calendar=WorkCalendar(load_calendar(source)))
    handled = await notifier.handle(event, now)           # for each consumed event
    for ev in await notifier.escalate_due(now): publish(ev)   # on a timer
    for ev in await notifier.deliver_due(now): publish(ev)    # on a timer
    view = await notifier.notices_view(incident_id, now)      # → KV `<id>.notices`
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import aiosqlite

from watchboard.config import DEFAULT_PROFILE
from watchboard.domain.calendar import WorkCalendar
from watchboard.domain.events import (
    NO_INCIDENT,
    AnyEvent,
    ClockBreached,
    ClockWarning,
    Event,
    IncidentAcknowledged,
    IncidentAssigned,
    IncidentClosed,
    IncidentFlagged,
    IncidentGraded,
    IncidentReported,
    IncidentUnflagged,
    NoticeEscalated,
    NoticeFailed,
    NoticeSent,
    SweepMissed,
    UnitFlagged,
    UnitReminded,
    effect_id,
    event_type,
)
from watchboard.domain.views import NoticesView, NoticeView
from watchboard.services.notify import escalation, roster, routing
from watchboard.services.notify.acklink import NONCE_SCHEMA, AckSigner, NonceLedger, ack_url, load_secret
from watchboard.services.notify.channels import Channels
from watchboard.services.notify.outbox import SCHEMA as OUTBOX_SCHEMA
from watchboard.services.notify.outbox import Delivered, Outbox
from watchboard.services.notify.settings import NotifyConfig, Person, seconds
from watchboard.services.notify.templates import Outgoing, clean, render
from watchboard.store.sqlite import open_db

ACTOR = "notify"

INCIDENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    grade TEXT,
    owner TEXT,
    major_since REAL,                -- when it became a grade that escalates
    acked_by TEXT,
    acked_at REAL,
    closed INTEGER NOT NULL DEFAULT 0,
    tiers_done TEXT NOT NULL DEFAULT '[]',
    sentiment TEXT                   -- grading's, for routes that name sentiments
) WITHOUT ROWID;
"""
SCHEMA = OUTBOX_SCHEMA + NONCE_SCHEMA + INCIDENT_SCHEMA
# Columns added after a release: a database made before them gains them at open.
_ADDED_COLUMNS = {"sentiment": "TEXT"}

# What a flag means, in each language: the notice says what was flagged and why.
FLAG_KINDS = {
    "zh": {"rumour": "谣言", "illegal": "涉嫌违法违规信息"},
    "en": {"rumour": "a rumour", "illegal": "suspected illegal content"},
}
# A flag's reason is typed by a person; bounded like a title so a paste cannot flood a robot.
MAX_REASON_CHARS = 200


class IncidentMemo(NamedTuple):
    id: str
    title: str = ""
    grade: str | None = None
    owner: str | None = None
    major_since: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    closed: bool = False
    tiers_done: frozenset[int] = frozenset()
    sentiment: str | None = None


class Handled(NamedTuple):
    """What one event caused: notices newly queued, incidents whose KV view changed."""


    queued: list[Outgoing]
    incidents: list[str]
    missing: list[str]  # roles that reached nobody, in words (log them)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def notice_key(event_id: str, person_id: str, contact: str) -> str:
    """The deterministic idempotency key of one notice (event × recipient × channel)."""
    return effect_id(event_id, f"notice\x00{person_id}\x00{contact}")


class Notifier:
    def __init__(self, cfg: NotifyConfig, db: aiosqlite.Connection, *, signer: AckSigner,
                 channels: Channels | None = None, rng: random.Random | None = None,
                 profile: str = DEFAULT_PROFILE, calendar: WorkCalendar | None = None) -> None:
        self.cfg = cfg
        self.profile = profile  # the active profile: routes name the profiles they apply in
        # The working calendar decides "workday" / "restday" shifts; the default one knows
        # the official holidays of the years the chinesecalendar package covers.
        self.calendar = calendar or WorkCalendar()
        self.db = db
        self.signer = signer
        self.channels = channels
        self.ledger = NonceLedger(db)
        self.outbox = Outbox(db, cfg.delivery, rng=rng, digest=self._digest)
        self.zone = ZoneInfo(cfg.roster.timezone)
        self.unit_names: dict[str, dict[str, str]] = {}  # unit id → {"zh": name, "en": name}

    @classmethod
    async def open(cls, cfg: NotifyConfig, data_dir: Path, *, channels: Channels | None = None,
                   db_name: str = "notify.sqlite", rng: random.Random | None = None,
                   profile: str = DEFAULT_PROFILE, calendar: WorkCalendar | None = None) -> Notifier:
        """Open `<data_dir>/notify.sqlite` (creating it), load or make the ack secret,
        and put notices interrupted mid-send back in the queue."""
        db = await open_db(data_dir / db_name, SCHEMA)
        async with db.execute("PRAGMA table_info(incidents)") as cur:
            have = {row[1] async for row in cur}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in have:
                await db.execute(f"ALTER TABLE incidents ADD COLUMN {column} {kind}")
        await db.commit()
        signer = AckSigner(load_secret(cfg.ack, data_dir), seconds(cfg.ack.ttl))
        notifier = cls(cfg, db, signer=signer, channels=channels, rng=rng, profile=profile, calendar=calendar)
        await notifier.outbox.recover()
        return notifier

    def unit_label(self, unit_id: str | None, lang: str) -> str:
        """A unit as people name it (units.toml, given by the service), else its id."""
        if not unit_id:
            return "-"
        names = self.unit_names.get(unit_id)
        return (names.get(lang) or names.get("zh") or unit_id) if names else unit_id

    async def commit(self) -> None:
        await self.db.commit()

    async def close(self) -> None:
        if self.channels is not None:
            await self.channels.close()
        await self.db.close()

    # --- incident memory ----------------------------------------------------------------

    async def memo(self, incident_id: str) -> IncidentMemo:
        async with self.db.execute("SELECT id, title, grade, owner, major_since, acked_by, acked_at, closed, "
                                   "tiers_done, sentiment FROM incidents WHERE id = ?", (incident_id,)) as cur:
            r = await cur.fetchone()
        if r is None:
            return IncidentMemo(incident_id)
        return IncidentMemo(r[0], r[1], r[2], r[3], _dt(r[4]), r[5], _dt(r[6]), bool(r[7]),
                            frozenset(json.loads(r[8])), r[9])

    async def _save(self, m: IncidentMemo) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO incidents(id, title, grade, owner, major_since, acked_by, acked_at, closed, "
            "tiers_done, sentiment) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (m.id, m.title, m.grade, m.owner, m.major_since.timestamp() if m.major_since else None,
             m.acked_by, m.acked_at.timestamp() if m.acked_at else None, int(m.closed),
             json.dumps(sorted(m.tiers_done)), m.sentiment))

    async def major_open(self) -> bool:
        """Whether an incident of a 24-hour-duty grade is open (the roster's major mode)."""
        grades = self.cfg.roster.major.grades
        if not grades:
            return False
        marks = ",".join("?" * len(grades))
        async with self.db.execute(f"SELECT 1 FROM incidents WHERE closed = 0 AND grade IN ({marks}) LIMIT 1",
                                   grades) as cur:
            return await cur.fetchone() is not None

    async def on_duty(self, now: datetime) -> list[str]:
        return roster.on_duty(self.cfg.roster, now, major_open=await self.major_open(),
                              is_working_day=self.calendar.is_working_day)

    # --- events in ----------------------------------------------------------------------

    async def handle(self, event: AnyEvent, now: datetime, *, commit: bool = True) -> Handled:
        """Remember what the event says and queue the notices its routes ask for. Idempotent.

        With `commit=False` the caller commits (`await notifier.commit()`), e.g. once per
        consumer batch together with its processed-events table, as the other services do."""
        kind = event_type(event)
        memo = await self.memo(event.incident_id)
        unit = memo.owner
        values: dict[str, str] = {}
        match event:
            case IncidentReported():
                memo = memo._replace(title=event.title)
            case IncidentGraded():
                major = escalation.escalates(self.cfg.escalation, event.grade)
                since = (memo.major_since or event.at) if major else None
                memo = memo._replace(grade=event.grade, major_since=since, sentiment=event.sentiment,
                                     tiers_done=memo.tiers_done if major else frozenset())
            case IncidentAssigned():
                memo = memo._replace(owner=event.owner)
                unit = event.owner
            case IncidentFlagged() | IncidentUnflagged():
                # `kind` is put in words per recipient's language in _outgoing.
                values = {"kind": event.kind, "reason": clean(event.reason, MAX_REASON_CHARS) or "-"}
            case ClockWarning():
                values = {"clock": event.clock, "due_at": self._local(event.due_at), "point": event.point}
            case ClockBreached():
                values = {"clock": event.clock, "due_at": self._local(event.due_at),
                          "late": "yes" if event.late else ""}
            case UnitReminded():
                unit = event.unit
                values = {"unit": event.unit, "clock": event.clock, "count": str(event.count)}
            case UnitFlagged():
                unit = event.unit
                values = {"unit": event.unit, "count": str(event.count)}
            case SweepMissed():
                values = {"window": event.window}
            case IncidentClosed():
                memo = memo._replace(closed=True)
            case _:
                return Handled([], [], [])
        if event.incident_id != NO_INCIDENT:
            await self._save(memo)
        resolution = routing.route(self.cfg, kind, memo.grade, unit=unit, on_duty=await self.on_duty(now),
                                   profile=self.profile, sentiment=memo.sentiment)
        messages = self._messages(event.id, kind, memo, resolution.recipients, values, now)
        new = set(await self.outbox.enqueue(messages, now, commit=False))
        if commit:
            await self.db.commit()
        messages = [m for m in messages if m.key in new]  # a redelivered event queues nothing
        touched = [event.incident_id] if event.incident_id != NO_INCIDENT else []
        return Handled(messages, touched, resolution.missing)

    def _local(self, dt: datetime) -> str:
        return dt.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def _messages(self, event_id: str, cause: str, memo: IncidentMemo, recipients: Iterable[routing.Recipient],
                  extra: dict[str, str], now: datetime) -> list[Outgoing]:
        out: list[Outgoing] = []
        for r in recipients:
            person = self.cfg.person(r.person_id)
            if person is None:
                continue
            for contact in person.contacts:
                out.append(self._outgoing(event_id, cause, memo, person, contact.label, r.roles, extra, now,
                                          priority=r.priority))
        return out

    def _outgoing(self, event_id: str, cause: str, memo: IncidentMemo, person: Person, contact: str,
                  roles: tuple[str, ...], extra: dict[str, str], now: datetime, *,
                  priority: str = "normal") -> Outgoing:
        pair = self.cfg.templates[person.lang][cause]
        owner = self.unit_label(memo.owner, person.lang)
        values = {
            "title": clean(memo.title or memo.id, self.cfg.delivery.max_title_chars),
            "grade": memo.grade or "-", "owner": owner, "unit": owner,
            "incident_id": memo.id, "person": person.name, "at": self._local(now),
            "clock": "", "due_at": "", "point": "", "count": "", "window": "", "tier": "", "late": "",
            "kind": "", "reason": "",
            **extra,
        }
        if values["kind"]:
            values["kind"] = FLAG_KINDS[person.lang].get(values["kind"], values["kind"])
        link = ""
        if memo.id != NO_INCIDENT:
            link = ack_url(self.cfg.ack, self.signer.issue(memo.id, person.id, now))
        return Outgoing(
            key=notice_key(event_id, person.id, contact), incident_id=memo.id, event_id=event_id,
            cause=cause, person_id=person.id, person_name=person.name, contact=contact, lang=person.lang,
            subject=pair.subject, body=pair.body, values=values, ack_url=link, roles=list(roles),
            priority=priority,
        )

    def _digest(self, members: list[Outgoing]) -> Outgoing:
        first = members[0]
        person = self.cfg.person(first.person_id)
        lang = person.lang if person else first.lang
        pair = self.cfg.templates[lang]["digest"]
        items = [render(m)[0] for m in members]
        key = effect_id("digest", "\x00".join(sorted(m.key for m in members)))
        return Outgoing(
            key=key, incident_id=NO_INCIDENT, event_id=key, cause="digest", person_id=first.person_id,
            person_name=first.person_name, contact=first.contact, lang=lang, subject=pair.subject,
            body=pair.body, values={"person": first.person_name, "count": str(len(members))}, items=items,
        )

    # --- escalation ---------------------------------------------------------------------

    async def escalate_due(self, now: datetime) -> list[NoticeEscalated]:
        """Send the escalation tiers due at `now`; one `notice.escalated` event per tier sent."""
        policy = self.cfg.escalation
        if not policy.tiers:
            return []
        async with self.db.execute("SELECT id FROM incidents WHERE closed = 0 AND acked_by IS NULL "
                                   "AND major_since IS NOT NULL") as cur:
            ids = [r[0] async for r in cur]
        events: list[NoticeEscalated] = []
        duty = await self.on_duty(now)
        for incident_id in ids:
            memo = await self.memo(incident_id)
            if not escalation.escalates(policy, memo.grade):
                continue
            tiers = escalation.due_tiers(policy, since=memo.major_since, now=now,
                                         acknowledged=memo.acked_by is not None, done=memo.tiers_done)
            for n in tiers:
                since = memo.major_since.timestamp() if memo.major_since else 0
                eid = effect_id(f"{incident_id}\x00escalate\x00{since}", f"tier{n}")
                resolution = routing.resolve(self.cfg, policy.tiers[n - 1].roles, unit=memo.owner, on_duty=duty)
                messages = self._messages(eid, "notice.escalated", memo, resolution.recipients,
                                          {"tier": str(n)}, now)
                await self.outbox.enqueue(messages, now, commit=False)
                memo = memo._replace(tiers_done=memo.tiers_done | {n})
                events.append(NoticeEscalated(id=eid, incident_id=incident_id, at=now, actor=ACTOR,
                                              causation_id=None, tier=n,
                                              to=[r.person_id for r in resolution.recipients]))
            if tiers:
                await self._save(memo)
        await self.db.commit()
        return events

    async def next_escalation_at(self) -> datetime | None:
        found: list[datetime] = []
        async with self.db.execute("SELECT id FROM incidents WHERE closed = 0 AND acked_by IS NULL "
                                   "AND major_since IS NOT NULL") as cur:
            ids = [r[0] async for r in cur]
        for incident_id in ids:
            memo = await self.memo(incident_id)
            at = escalation.next_due_at(self.cfg.escalation, since=memo.major_since,
                                        acknowledged=False, done=memo.tiers_done)
            if at is not None:
                found.append(at)
        return min(found) if found else None

    async def next_due(self) -> datetime | None:
        """When `escalate_due` or `deliver_due` next has work (for the service's timer)."""
        times = [t for t in (await self.outbox.next_due(), await self.next_escalation_at()) if t]
        return min(times) if times else None

    # --- acknowledgement ----------------------------------------------------------------

    async def acknowledge(self, incident_id: str, person_id: str, now: datetime, *,
                          via: str = "cli", cause: str | None = None) -> IncidentAcknowledged | None:
        """Record the first acknowledgement (it stops escalation); None if already acknowledged."""
        memo = await self.memo(incident_id)
        if memo.acked_by is not None:
            return None
        await self._save(memo._replace(acked_by=person_id, acked_at=now))
        await self.db.commit()
        return IncidentAcknowledged(id=effect_id(f"{incident_id}\x00ack", person_id), incident_id=incident_id,
                                    at=now, actor=person_id, causation_id=cause, by=person_id, via=via)

    # --- delivery -----------------------------------------------------------------------

    async def deliver_due(self, now: datetime) -> list[Delivered]:
        """Send what is due through the channels; publish `delivery_events(...)` of the result."""
        if self.channels is None:
            raise RuntimeError("Notifier was opened without channels")
        return await self.outbox.deliver_due(now, self.channels.send)

    # --- views --------------------------------------------------------------------------

    async def notices_view(self, incident_id: str, now: datetime) -> NoticesView:
        """The KV value `<incident_id>.notices`."""
        memo = await self.memo(incident_id)
        rows = await self.outbox.rows(incident_id)
        status_of = {"sent": "sent", "failed": "failed"}
        notices = [NoticeView(to=r.person_id, channel=r.contact, status=status_of.get(r.status, "pending"),
                              cause=r.cause, reason=r.last_error, at=r.sent_at or r.created_at) for r in rows]
        return NoticesView(notices=notices, acknowledged_by=memo.acked_by, acknowledged_at=memo.acked_at,
                           escalation_tier=max(memo.tiers_done, default=0), updated_at=now)


def delivery_events(delivered: Iterable[Delivered], now: datetime) -> list[Event]:
    """`notice.sent` / `notice.failed` events for deliveries (one per incident notice a digest
    carried). A retryable failure gives `final=False`; ids are deterministic per attempt."""
    events: list[Event] = []
    for d in delivered:
        for m in d.notices:
            if d.status == "sent":
                events.append(NoticeSent(id=effect_id(m.key, "sent"), incident_id=m.incident_id, at=now,
                                         actor=ACTOR, causation_id=m.event_id, to=m.person_id,
                                         channel=m.contact, cause=m.cause, key=m.key))
            else:
                events.append(NoticeFailed(id=effect_id(m.key, f"failed{d.attempts}"), incident_id=m.incident_id,
                                           at=now, actor=ACTOR, causation_id=m.event_id, to=m.person_id,
                                           channel=m.contact, cause=m.cause, reason=d.result.reason,
                                           final=d.final, key=m.key))
    return events
