"""The render stage (pure): recipients of an event → one `Outgoing` per person × contact.

Each notice is keyed by `notice_key(event, person, contact)`, the outbox key the dedup stage
relies on: the same event can never queue a second copy of a notice, and the key travels as
the Idempotency-Key / Message-ID of every attempt. Values are filled in at send time by
templates.py, which cleans untrusted text; here they are gathered, with times in the roster's
zone to the minute and the unit named as people name it in each recipient's language. The
acknowledgement link's nonce is the notice's key, so rendering the same event again gives the
same link (a link still acknowledges once: the nonce is recorded when used).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from watchboard.domain.events import NO_INCIDENT, effect_id
from watchboard.services.notify.acktoken import ack_url
from watchboard.services.notify.model import Context, IncidentMemo
from watchboard.services.notify.routing import Recipient
from watchboard.services.notify.settings import Person
from watchboard.services.notify.templates import Outgoing, clean, render

# What a flag means, in each language: the notice says what was flagged and why.
FLAG_KINDS = {
    "zh": {"rumour": "谣言", "illegal": "涉嫌违法违规信息"},
    "en": {"rumour": "a rumour", "illegal": "suspected illegal content"},
}
# A flag's reason is typed by a person; bounded like a title so a paste cannot flood a robot.
MAX_REASON_CHARS = 200

# Every placeholder a template may name has a value, empty where the event has none.
_BLANK = dict.fromkeys(("clock", "due_at", "point", "count", "window", "tier", "late", "kind", "reason"), "")


def notice_key(event_id: str, person_id: str, contact: str) -> str:
    """The deterministic idempotency key of one notice (event × recipient × channel)."""
    return effect_id(event_id, f"notice\x00{person_id}\x00{contact}")


def notices(ctx: Context, event_id: str, cause: str, memo: IncidentMemo, recipients: Iterable[Recipient],
            extra: dict[str, str], now: datetime) -> list[Outgoing]:
    """One notice per contact of each recipient, in recipient then contact order."""
    out: list[Outgoing] = []
    for r in recipients:
        person = ctx.people.get(r.person_id)
        if person is None:
            continue
        for contact in person.contacts:
            out.append(_outgoing(ctx, event_id, cause, memo, person, contact.label, r, extra, now))
    return out


def _outgoing(ctx: Context, event_id: str, cause: str, memo: IncidentMemo, person: Person, contact: str,
              r: Recipient, extra: dict[str, str], now: datetime) -> Outgoing:
    pair = ctx.cfg.templates[person.lang][cause]
    owner = ctx.unit_label(memo.owner, person.lang)
    values = {
        "title": clean(memo.title or memo.id, ctx.cfg.delivery.max_title_chars),
        "grade": memo.grade or "-", "owner": owner, "unit": owner,
        "incident_id": memo.id, "person": person.name, "at": ctx.local(now),
        **_BLANK, **extra,
    }
    if values["kind"]:
        values["kind"] = FLAG_KINDS[person.lang].get(values["kind"], values["kind"])
    key = notice_key(event_id, person.id, contact)
    link = ""
    if memo.id != NO_INCIDENT and ctx.signer is not None:
        link = ack_url(ctx.cfg.ack, ctx.signer.issue(memo.id, person.id, now, nonce=key))
    return Outgoing(
        key=key, incident_id=memo.id, event_id=event_id, cause=cause, person_id=person.id,
        person_name=person.name, contact=contact, lang=person.lang, subject=pair.subject, body=pair.body,
        values=values, ack_url=link, roles=list(r.roles), priority=r.priority,
    )


def digest(ctx: Context, members: list[Outgoing]) -> Outgoing:
    """One notice carrying several to the same person × contact (rate limit, low priority);
    its key is made of its members' keys, so the same members always make the same digest."""
    first = members[0]
    person = ctx.people.get(first.person_id)
    lang = person.lang if person else first.lang
    pair = ctx.cfg.templates[lang]["digest"]
    items = [render(m)[0] for m in members]
    key = effect_id("digest", "\x00".join(sorted(m.key for m in members)))
    return Outgoing(
        key=key, incident_id=NO_INCIDENT, event_id=key, cause="digest", person_id=first.person_id,
        person_name=first.person_name, contact=first.contact, lang=lang, subject=pair.subject,
        body=pair.body, values={"person": first.person_name, "count": str(len(members))}, items=items,
    )
