"""notify.toml as structs, and `load_notify(source)` with the cross-field checks.

The structs forbid unknown fields (a typo fails at start). After decoding, every person id,
role, unit, event type, grade, duration and template placeholder is checked; a problem
raises `ConfigError(file, key, problem)` naming the key and quoting the value.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

import msgspec

from watchboard.config import (
    DEFAULT_PROFILE,
    ConfigError,
    ConfigSource,
    convert,
    deep_merge,
    list_profiles,
    parse_seconds,
)
from watchboard.domain.report import GRADES, SENTIMENTS
from watchboard.services.notify.templates import check_template

ChannelName = Literal["webhook", "email", "board"]
WebhookFormat = Literal["json", "wecom", "dingtalk", "feishu"]
Lang = Literal["zh", "en"]
PRIORITIES = ("normal", "low")

# Roles a route or an escalation tier may name (DOMAIN.md §6). `duty_officer` comes from the
# roster and `owner_liaison` from the owning unit; the others are people's `roles`.
# `propaganda` is the propaganda department's online desk (网宣) that seed 003 四(三) informs
# beside the police's (网警, `legal_referral`); `upper_level` is the next level up (上级部门).
ROLES = ("duty_officer", "owner_liaison", "office", "leader_group", "upper_level", "propaganda",
         "legal_referral")
# `approver` approves statements (intake: intake.toml `statements.approver_roles`); no notice
# is routed by it.
PERSON_ROLES = ("office", "leader_group", "upper_level", "propaganda", "legal_referral", "duty_officer",
                "liaison", "approver")

# The scheduled reports notify sends itself (`[reports]`, reporting.py): routed like events.
REPORT_EVENTS = ("report.daily", "report.weekly")
# Event types notify reacts to (the subjects the service consumes), and its own reports.
ROUTABLE_EVENTS = (
    "incident.graded", "incident.assigned", "incident.flagged", "incident.unflagged", "clock.warning",
    "clock.breached", "unit.reminded", "unit.flagged", "sweep.missed", "incident.closed", "notice.escalated",
    *REPORT_EVENTS,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A shift's `days` may also name the kind of day on the working calendar (calendar.toml and
# the official holiday notice): a make-up Saturday (调休) is a `workday`, a weekday public
# holiday a `restday` (issue 9 item 10).
DAY_KINDS = ("workday", "restday")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Contact(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One way to reach a person. `name` tells two contacts of one channel apart."""

    channel: ChannelName
    name: str = ""
    # webhook
    url: str = ""
    format: WebhookFormat = "json"
    markdown: bool = True  # wecom/dingtalk: markdown message; false → plain text
    secret: str = ""  # dingtalk/feishu signing secret …
    secret_env: str = ""  # … or the name of the environment variable holding it
    # email
    address: str = ""

    @property
    def label(self) -> str:
        """The channel token of the notice key and the `channel` field of notice events."""
        return f"{self.channel}:{self.name}" if self.name else self.channel

    def signing_secret(self) -> str:
        if self.secret_env:
            return os.environ.get(self.secret_env, "")
        return self.secret


class Person(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    roles: list[str] = msgspec.field(default_factory=list)
    contacts: list[Contact] = msgspec.field(default_factory=list)
    lang: Lang = "zh"


class Shift(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """[start, end) in local time; end <= start means the shift crosses midnight."""

    person: str
    start: str
    end: str
    name: str = ""
    # The day the shift starts on: weekday names and/or "workday" / "restday"; [] = every day.
    days: list[str] = msgspec.field(default_factory=list)


class MajorDuty(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """24-hour duty while an incident of these grades is open (seed 003: 24小时网上舆情值班)."""

    grades: list[str] = msgspec.field(default_factory=lambda: ["I", "II"])
    shifts: list[Shift] = msgspec.field(default_factory=list)


class Roster(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    timezone: str = "Asia/Shanghai"
    fallback: list[str] = msgspec.field(default_factory=list)  # on duty when no shift covers now
    shifts: list[Shift] = msgspec.field(default_factory=list)
    major: MajorDuty = msgspec.field(default_factory=MajorDuty)


class Route(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who hears of an event. Every list left empty matches anything; a route applies only
    where everything it names matches (routing.py)."""

    event: str
    roles: list[str]
    grades: list[str] = msgspec.field(default_factory=list)  # [] = any grade (or none known)
    # The incident's sentiment (grading's, the most negative seen); [] = any, or none known.
    sentiments: list[str] = msgspec.field(default_factory=list)
    # The profiles (response plans) whose plan asks for this route; [] = every profile.
    profiles: list[str] = msgspec.field(default_factory=list)
    # "low": held into a per-recipient digest on pushing channels, never sent on its own at
    # once, never escalated (plans 000/001/004: every item before the leadership group).
    priority: str = "normal"  # one of PRIORITIES; checked at load to name the choices


class Tier(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    after: str  # time since the incident became grade I/II, e.g. "15m"
    roles: list[str]


class Escalation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grades: list[str] = msgspec.field(default_factory=lambda: ["I", "II"])
    tiers: list[Tier] = msgspec.field(default_factory=list)


class Delivery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    max_attempts: int = 6
    backoff_initial: str = "10s"
    backoff_max: str = "10m"
    backoff_factor: float = 2.0
    jitter: float = 0.2  # ± fraction of each backoff
    timeout: str = "10s"  # per send
    batch: int = 200  # rows per deliver_due call
    # Rate limit per recipient: more than `rate_limit` notices within `rate_window` → the rest
    # are merged into one digest sent when the window ends. 0 turns it off.
    rate_limit: int = 5
    rate_window: str = "5m"
    # Low-priority notices to one recipient are gathered for this long, then sent as one
    # digest (or as themselves when alone). "0s" sends them at the next delivery round.
    low_priority_window: str = "5m"
    max_title_chars: int = 80


class Smtp(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: str = ""
    password_env: str = "WATCHBOARD_SMTP_PASSWORD"
    sender: str = "watchboard@localhost"
    message_id_domain: str = "watchboard.notify"

    def login_password(self) -> str:
        return os.environ.get(self.password_env, "") if self.password_env and not self.password \
            else self.password


class AckLink(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    listen: str = "127.0.0.1:8765"
    base_url: str = ""  # what people's links point at; "" → http(s)://<listen>
    secret: str = ""
    secret_env: str = "WATCHBOARD_ACK_SECRET"  # else generated into the data dir
    ttl: str = "24h"
    # HTTPS when both are set (absolute paths; e.g. web.crt/web.key of `auth init --tls`).
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def https(self) -> bool:
        return bool(self.tls_cert)

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host, int(port)

    def public_base(self) -> str:
        return (self.base_url or f"{'https' if self.https else 'http'}://{self.listen}").rstrip("/")


class Reports(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The reports notify sends on schedule (issue 14: every evening the day's report, every
    Monday the supervision circular), to whom `[[routes]]` with `event = "report.daily"` /
    `"report.weekly"` name. Times are local (watchboard.toml's zone)."""

    daily: str = "17:00"  # each day at HH:MM; "" = not sent
    weekly: str = "mon 09:00"  # weekday and HH:MM; it covers the last complete ISO week; "" = not sent
    # A report whose moment passed while no notify ran is still sent this long after it (once);
    # later it is left (`watchboard report` makes it by hand).
    catch_up: str = "6h"
    folder: str = "reports"  # where the Word files are kept: under the data folder, or absolute
    base_url: str = ""  # where `folder` is served, for the robots' link; "" = the file's path
    lookback_days: int = 60  # as `watchboard report --lookback`
    timeout: str = "300s"  # the replay's limit
    check_every: str = "30s"  # how often notify looks whether a report is due


class TemplatePair(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject: str
    body: str


class NotifyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    people: list[Person]
    liaisons: dict[str, str] = msgspec.field(default_factory=dict)
    roster: Roster = msgspec.field(default_factory=Roster)
    routes: list[Route] = msgspec.field(default_factory=list)
    escalation: Escalation = msgspec.field(default_factory=Escalation)
    delivery: Delivery = msgspec.field(default_factory=Delivery)
    smtp: Smtp = msgspec.field(default_factory=Smtp)
    ack: AckLink = msgspec.field(default_factory=AckLink)
    reports: Reports = msgspec.field(default_factory=Reports)
    # templates[lang][event type] = {subject, body}
    templates: dict[str, dict[str, TemplatePair]] = msgspec.field(default_factory=dict)

    def person(self, person_id: str) -> Person | None:
        return self._people_index().get(person_id)

    def _people_index(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}


_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)$")


def check_reports(r: Reports, fail: Any) -> None:
    """`[reports]`: the times, durations and bounds, each refused naming its key."""
    if r.daily and not _HHMM.match(r.daily):
        raise fail("reports.daily", f"{r.daily!r} is not a time like '17:00' (or \"\" to send none)")
    if r.weekly and not _WEEKLY.match(r.weekly):
        raise fail("reports.weekly", f"{r.weekly!r} is not a weekday and time like 'mon 09:00' (or \"\" to send none)")
    for field in ("catch_up", "timeout", "check_every"):
        value = parse_seconds(getattr(r, field))
        if value is None or value <= 0:
            raise fail(f"reports.{field}", f"{getattr(r, field)!r} is not a duration like '30s', '6h'")
    if not 1 <= r.lookback_days <= 366:
        raise fail("reports.lookback_days", f"{r.lookback_days} is out of range; 1 to 366")
    if not r.folder.strip():
        raise fail("reports.folder", "give a folder for the Word files (relative to the data folder, or absolute)")
    if r.base_url and not r.base_url.startswith(("http://", "https://")):
        raise fail("reports.base_url", f"{r.base_url!r} is not an http:// or https:// url (or \"\" for the path)")


def seconds(text: str) -> float:
    """A checked duration ('15m' → 900.0); load_notify has already refused malformed ones."""
    value = parse_seconds(text)
    if value is None:
        raise ValueError(f"{text!r} is not a duration")
    return value


def _units_from(source: ConfigSource) -> tuple[set[str] | None, dict[str, str]]:
    """Unit ids and liaisons from units.toml; (None, {}) while that file does not exist."""
    try:
        data, _ = source.read("units.toml")
    except ConfigError:
        return None, {}
    raw: Any = data.get("units", [])
    ids: set[str] = set()
    liaisons: dict[str, str] = {}
    items = raw if isinstance(raw, list) else [dict(v, id=k) for k, v in raw.items() if isinstance(v, dict)] \
        if isinstance(raw, dict) else []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            ids.add(item["id"])
            if isinstance(item.get("liaison"), str):
                liaisons[item["id"]] = item["liaison"]
    return ids, liaisons


def known_profiles(source: ConfigSource) -> list[str]:
    """The profile names a route may name: "default" and every profiles/*.toml."""
    return [DEFAULT_PROFILE, *(p.stem for p in list_profiles(source))]


def load_notify(source: ConfigSource | None = None, *, file: str = "notify.toml") -> NotifyConfig:
    """Load notify.toml (with the active profile's `[notify]` table) and check it whole."""
    source = source or ConfigSource()
    data, shown = source.read(file)
    profile, profile_file = source.profile_data()
    section = profile.get("notify")
    if isinstance(section, dict):
        data = deep_merge(data, section)
        shown = f"{shown} (with {profile_file})"
    cfg = convert(data, NotifyConfig, shown)

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(shown, key, problem)

    people: dict[str, Person] = {}
    for i, p in enumerate(cfg.people):
        if p.id in people:
            raise fail(f"people[{i}].id", f"person {p.id!r} is defined twice")
        people[p.id] = p
        for role in p.roles:
            if role not in PERSON_ROLES:
                raise fail(f"people[{i}].roles", f"unknown role {role!r}; known: {', '.join(PERSON_ROLES)}")
        labels: set[str] = set()
        for j, c in enumerate(p.contacts):
            key = f"people[{i}].contacts[{j}]"
            if c.label in labels:
                raise fail(key, f"person {p.id!r} has two {c.channel!r} contacts named {c.name!r}; "
                           "give each a distinct `name`")
            labels.add(c.label)
            if c.channel == "webhook" and not c.url.startswith(("http://", "https://")):
                raise fail(f"{key}.url", f"{c.url!r} is not an http:// or https:// url")
            if c.channel == "email" and "@" not in c.address:
                raise fail(f"{key}.address", f"{c.address!r} is not an e-mail address")

    def check_person(key: str, pid: str) -> None:
        if pid not in people:
            raise fail(key, f"unknown person {pid!r}; known: {', '.join(sorted(people))}")

    unit_ids, unit_liaisons = _units_from(source)
    for unit, pid in unit_liaisons.items():
        if pid in people:  # units.toml may name liaisons notify does not know; notify.toml wins
            cfg.liaisons.setdefault(unit, pid)
    for unit, pid in cfg.liaisons.items():
        check_person(f"liaisons.{unit}", pid)
        if unit_ids is not None and unit not in unit_ids:
            raise fail(f"liaisons.{unit}", f"unknown unit {unit!r}; units.toml defines: "
                       f"{', '.join(sorted(unit_ids))}")

    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(cfg.roster.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail("roster.timezone", f"unknown time zone {cfg.roster.timezone!r}") from exc
    for i, pid in enumerate(cfg.roster.fallback):
        check_person(f"roster.fallback[{i}]", pid)
    for prefix, shifts in (("roster.shifts", cfg.roster.shifts), ("roster.major.shifts", cfg.roster.major.shifts)):
        for i, s in enumerate(shifts):
            check_person(f"{prefix}[{i}].person", s.person)
            for field in ("start", "end"):
                if not _HHMM.match(getattr(s, field)):
                    raise fail(f"{prefix}[{i}].{field}", f"{getattr(s, field)!r} is not a time like '08:30'")
            for d in s.days:
                if d not in (*WEEKDAYS, *DAY_KINDS):
                    raise fail(f"{prefix}[{i}].days", f"{d!r} is not one of {', '.join((*WEEKDAYS, *DAY_KINDS))}")

    def check_grades(key: str, grades: list[str]) -> None:
        for g in grades:
            if g not in GRADES:
                raise fail(key, f"unknown grade {g!r}; known: {', '.join(GRADES)}")

    def check_roles(key: str, roles: list[str]) -> None:
        if not roles:
            raise fail(key, "no roles given")
        for r in roles:
            if r not in ROLES:
                raise fail(key, f"unknown role {r!r}; known: {', '.join(ROLES)}")

    check_grades("roster.major.grades", cfg.roster.major.grades)
    profiles = known_profiles(source)
    for i, r in enumerate(cfg.routes):
        if r.event not in ROUTABLE_EVENTS:
            raise fail(f"routes[{i}].event", f"unknown event type {r.event!r}; known: {', '.join(ROUTABLE_EVENTS)}")
        check_grades(f"routes[{i}].grades", r.grades)
        check_roles(f"routes[{i}].roles", r.roles)
        for sentiment in r.sentiments:
            if sentiment not in SENTIMENTS:
                raise fail(f"routes[{i}].sentiments",
                           f"unknown sentiment {sentiment!r}; known: {', '.join(SENTIMENTS)}")
        if r.priority not in PRIORITIES:
            raise fail(f"routes[{i}].priority", f"{r.priority!r} is not one of {', '.join(PRIORITIES)}")
        for name in r.profiles:
            if name not in profiles:
                raise fail(f"routes[{i}].profiles", f"unknown profile {name!r}; known: {', '.join(profiles)}")
    check_grades("escalation.grades", cfg.escalation.grades)
    last = -1.0
    for i, t in enumerate(cfg.escalation.tiers):
        after = parse_seconds(t.after)
        if after is None:
            raise fail(f"escalation.tiers[{i}].after", f"{t.after!r} is not a duration like '15m'")
        if after <= last:
            raise fail(f"escalation.tiers[{i}].after", f"{t.after!r} is not later than the tier before")
        last = after
        check_roles(f"escalation.tiers[{i}].roles", t.roles)

    d = cfg.delivery
    for field in ("backoff_initial", "backoff_max", "timeout", "rate_window", "low_priority_window"):
        if parse_seconds(getattr(d, field)) is None:
            raise fail(f"delivery.{field}", f"{getattr(d, field)!r} is not a duration like '10s'")
    if d.max_attempts < 1:
        raise fail("delivery.max_attempts", f"{d.max_attempts} must be at least 1")
    if not 0 <= d.jitter < 1:
        raise fail("delivery.jitter", f"{d.jitter} must be in [0, 1)")
    if d.rate_limit < 0:
        raise fail("delivery.rate_limit", f"{d.rate_limit} must be 0 (off) or more")
    if parse_seconds(cfg.ack.ttl) is None:
        raise fail("ack.ttl", f"{cfg.ack.ttl!r} is not a duration like '24h'")
    check_reports(cfg.reports, fail)
    try:
        host, port = cfg.ack.host_port()
        if not host or not 0 <= port < 65536:
            raise ValueError
    except ValueError as exc:
        raise fail("ack.listen", f"{cfg.ack.listen!r} is not host:port like '127.0.0.1:8765'") from exc
    if bool(cfg.ack.tls_cert) != bool(cfg.ack.tls_key):
        raise fail("ack.tls_key" if cfg.ack.tls_cert else "ack.tls_cert",
                   "HTTPS needs both ack.tls_cert and ack.tls_key (or neither)")
    for key in ("tls_cert", "tls_key"):
        value = getattr(cfg.ack, key)
        if value and not value.startswith("/"):
            raise fail(f"ack.{key}", f"{value!r} must be an absolute path (the service may run from any folder)")

    for lang, table in cfg.templates.items():
        if lang not in ("zh", "en"):
            raise fail(f"templates.{lang}", f"{lang!r} is not one of 'zh', 'en'")
        for event, pair in table.items():
            if event not in (*ROUTABLE_EVENTS, "digest"):
                raise fail(f"templates.{lang}.{event}", f"unknown event type {event!r}")
            for field in ("subject", "body"):
                problem = check_template(getattr(pair, field))
                if problem:
                    raise fail(f"templates.{lang}.{event}.{field}", problem)
    routed = {r.event for r in cfg.routes} | ({"notice.escalated"} if cfg.escalation.tiers else set())
    for lang in ("zh", "en"):
        for event in sorted(routed | {"digest"}):
            if event not in cfg.templates.get(lang, {}):
                raise fail(f"templates.{lang}", f"no template for {event!r}, which a route sends")
    return cfg
