"""What notify's pure core works on: the memo it keeps per incident and the context it decides in.

`IncidentMemo` is what notify remembers of an incident from other services' events (title,
grade, owner, sentiment), plus its own facts (since when the incident is of an escalating
grade, the acknowledgement, the escalation tiers sent). It lives in a `StateTable`
(store/states.py): in memory while running, one JSON row per incident in notify.sqlite.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from watchboard.config import DEFAULT_PROFILE
from watchboard.domain.calendar import WorkCalendar
from watchboard.services.notify import escalation
from watchboard.services.notify.acktoken import AckSigner
from watchboard.services.notify.settings import NotifyConfig, Person


class IncidentMemo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str = ""
    grade: str | None = None
    owner: str | None = None
    sentiment: str | None = None  # grading's, for routes that name sentiments
    major_since: datetime | None = None  # when it became a grade that escalates
    acked_by: str | None = None
    acked_at: datetime | None = None
    closed: bool = False
    tiers_done: frozenset[int] = frozenset()

    @property
    def known(self) -> bool:
        """Whether intake or grading has said anything of it (acknowledging needs that)."""
        return bool(self.title) or self.grade is not None


class NoticeRow(NamedTuple):
    """A notice as the delivery queue holds it (a merged one shows its digest's outcome)."""

    key: str
    incident_id: str
    person_id: str
    contact: str
    cause: str
    status: str  # pending | sending | sent | failed | held | merged
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    digest_key: str | None


class Context:
    """What notify's decisions read besides the incident: the config and the fixed surroundings
    (active profile, ack-link signer, unit names, working calendar). Built once at start."""

    def __init__(self, cfg: NotifyConfig, *, profile: str = DEFAULT_PROFILE, signer: AckSigner | None = None,
                 unit_names: Mapping[str, Mapping[str, str]] | None = None,
                 calendar: WorkCalendar | None = None) -> None:
        self.cfg = cfg
        self.profile = profile  # routes name the profiles they apply in
        self.signer = signer  # None: notices carry no acknowledgement link
        self.unit_names = unit_names or {}  # unit id → {"zh": name, "en": name} (units.toml)
        # The working calendar decides "workday" / "restday" shifts; the default one knows
        # the official holidays of the years the chinesecalendar package covers.
        self.calendar = calendar or WorkCalendar()
        self.zone = ZoneInfo(cfg.roster.timezone)
        self.people: dict[str, Person] = {p.id: p for p in cfg.people}  # looked up per notice

    def unit_label(self, unit_id: str | None, lang: str) -> str:
        """A unit as people name it, else its id."""
        if not unit_id:
            return "-"
        names = self.unit_names.get(unit_id)
        return (names.get(lang) or names.get("zh") or unit_id) if names else unit_id

    def local(self, dt: datetime) -> str:
        """An instant as people read it: the roster's zone, to the minute."""
        return dt.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


def major_open(memo: IncidentMemo, cfg: NotifyConfig) -> bool:
    """Whether this incident, open and of a 24-hour-duty grade, switches the roster to major."""
    return not memo.closed and memo.grade is not None and memo.grade in cfg.roster.major.grades


def may_escalate(memo: IncidentMemo, cfg: NotifyConfig) -> bool:
    """Whether a tier of this incident may still fall due (the escalation timer watches it)."""
    policy = cfg.escalation
    return (not memo.closed and escalation.escalates(policy, memo.grade)
            and escalation.next_due_at(policy, since=memo.major_since, acknowledged=memo.acked_by is not None,
                                       done=memo.tiers_done) is not None)


def _at(ts: Any) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(float(ts), UTC)


def memo_from_legacy(row: Mapping[str, Any]) -> IncidentMemo:
    """A row of the `incidents` table of notify before the state table (columns title, grade,
    owner, major_since and acked_at as epoch seconds, closed 0/1, tiers_done a JSON list,
    sentiment only from the release that added it)."""
    return IncidentMemo(
        id=row["id"], title=row.get("title") or "", grade=row.get("grade"), owner=row.get("owner"),
        sentiment=row.get("sentiment"), major_since=_at(row.get("major_since")), acked_by=row.get("acked_by"),
        acked_at=_at(row.get("acked_at")), closed=bool(row.get("closed")),
        tiers_done=frozenset(msgspec.json.decode(row.get("tiers_done") or "[]", type=list[int])))
