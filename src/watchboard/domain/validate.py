"""Checking a monitor's report (DESIGN.md §4.3) and saying exactly what is wrong with it.

`parse_report(body, now=…)` turns the raw bytes of a `wb.intake.submit` request (or of one
JSONL line) into a `Report`, or raises `ReportError(code, field, message)`: `code` is
`invalid` (or `not_found` for an `incident_id` that names no incident), `field` is the dotted
path of the value at fault (`metrics.reposts`, `evidence[2]`, `body` for the whole) and the
message is one lowercase line that says what would be valid.

Limits (the `[limits]` table of `intake.toml`, defaults in `watchboard.config.intake.Limits`):

    body             at most 262,144 bytes of UTF-8 JSON, one object
    title            required, not blank, at most 500 characters
    summary          at most 5,000 characters
    url              http(s) with a host, no spaces or control characters, no user:password@,
                     at most 2,000 characters
    region, reporter, unit_hint
                     at most 100 characters each
    evidence         a list of at most 20 non-blank strings, each at most 2,000 characters
    metrics.*        whole numbers (not true/false, not 1.0), 0 … 10^12
    observed_at      when the monitor saw the item; RFC 3339 / ISO 8601 with a UTC offset
                     (+08:00 or Z), not more than `future_skew` (5 minutes) after `now`, not
                     before 2000-01-01
    posted_at        when the item appeared online (the plans count some clocks from the post,
                     DOMAIN.md §4): the same form and bounds, and not after observed_at
    incident_id      a 26-character ULID (case-insensitive), and known to intake

Normalisation of an accepted report: text fields lose surrounding whitespace; an optional
text field that is empty becomes null (tools often send "" for "absent"); `observed_at` and
`posted_at` are converted to UTC; `incident_id` is upper-cased. Text is otherwise kept as sent — control
characters included — because the record must be faithful; it is made safe where it is
shown (`watchboard.domain.sanitize`).

JSONL import: `split_jsonl` cuts a file into (line number, bytes) pairs and `parse_jsonl`
runs `parse_report` on each line, so one bad line names its line and loses nothing else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec

from watchboard.config.intake import Limits
from watchboard.domain.errors import ReportError, path_parts, split_msgspec_error
from watchboard.domain.report import (
    MEDIA_LEVELS,
    PLATFORMS,
    SENTIMENTS,
    TOPICS,
    Report,
    ReportMetrics,
)

__all__ = [
    "EARLIEST_OBSERVED",
    "ULID_RE",
    "ReportError",
    "parse_jsonl",
    "parse_report",
    "split_jsonl",
]


DEFAULT_LIMITS = Limits()

# Older than this is a placeholder (0001-01-01, 1970-01-01), not a sighting.
EARLIEST_OBSERVED = datetime(2000, 1, 1, tzinfo=UTC)
ULID_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")

_decoder = msgspec.json.Decoder(Report)
_any_decoder = msgspec.json.Decoder()

_ENUMS: dict[str, tuple[str, ...]] = {
    "platform": PLATFORMS, "topic": TOPICS, "media_level": MEDIA_LEVELS, "sentiment": SENTIMENTS,
}
_BOOLS = frozenset({"cross_region", "emergency", "stability_risk"})
_REPORT_FIELDS: tuple[str, ...] = Report.__struct_fields__
_METRIC_FIELDS: tuple[str, ...] = ReportMetrics.__struct_fields__
_TIME_EXAMPLE = "2026-11-22T08:30:00+08:00"

# msgspec's wording for JSON types → words a monitor understands.
_TYPE_WORDS = {
    "int": "a whole number", "float": "a number with a fraction", "str": "a string",
    "bool": "true or false", "null": "null", "array": "a list", "object": "an object",
}


def _fail(field: str, message: str, code: str = "invalid") -> ReportError:
    return ReportError(code, field, message)


def _quote(value: object, limit: int = 60) -> str:
    """A short, escaped echo of a value sent to us (repr escapes control and bidi characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_of(values: tuple[str, ...]) -> str:
    return "one of: " + ", ".join(values)


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _lookup(text: str, parts: list[str | int]) -> object:
    """The raw value at `parts` in the JSON text (only on the error path: decodes again)."""
    try:
        value: Any = _any_decoder.decode(text)
        for part in parts:
            value = value[part]
    except (msgspec.DecodeError, KeyError, IndexError, TypeError):
        return None
    return value


def _type_message(field: str, leaf: str, expected: str, got: str, raw: object) -> str:
    got_words = _TYPE_WORDS.get(got, got)
    if leaf in _ENUMS:
        return f"{field} must be a string, {_one_of(_ENUMS[leaf])}; got {got_words}"
    if field.startswith("metrics.") or expected == "int":
        hint = " (write 3, not 3.0)" if got == "float" else ""
        return f"{field} must be a whole number of 0 or more, got {got_words}{hint}"
    if leaf in _BOOLS:
        hint = " (write true or false without quotes)" if raw in ("true", "false") else ""
        return f"{field} must be true or false, got {got_words}{hint}"
    if leaf in ("observed_at", "posted_at"):
        return f"{leaf} must be an ISO 8601 time with an offset, like {_TIME_EXAMPLE}; got {got_words}"
    if leaf == "evidence":
        return f"evidence must be a list of strings, got {got_words}"
    if field.startswith("evidence["):
        return f"each evidence item must be a string; {field} is {got_words}"
    if field == "metrics":
        return f"metrics must be an object like {{\"reposts\": 150}}, got {got_words}"
    if expected.startswith("str"):
        return f"{field} must be a string, got {got_words}"
    return f"{field} must be {_TYPE_WORDS.get(expected, expected)}, got {got_words}"


def _translate(exc: msgspec.ValidationError, text: str) -> ReportError:
    """msgspec's validation error → our field path and a readable message."""
    problem, path = split_msgspec_error(exc)
    parts = path_parts(path)
    prefix = _dotted(parts)

    if m := re.fullmatch(r"Object missing required field `(.+)`", problem):
        name = m.group(1)
        field = f"{prefix}.{name}" if prefix else name
        extra = f"; {_one_of(PLATFORMS)}" if name == "platform" else ""
        return _fail(field, f"{field} is required{extra}")

    if m := re.fullmatch(r"Object contains unknown field `(.+)`", problem):
        name = m.group(1)
        field = f"{prefix}.{name}" if prefix else name
        known = _METRIC_FIELDS if prefix == "metrics" else _REPORT_FIELDS
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else f"; known fields: {', '.join(known)}"
        return _fail(field, f"unknown field `{_quote(name, 40)[1:-1]}`{hint}")

    field = prefix or "body"
    leaf = parts[-1] if parts and isinstance(parts[-1], str) else ""

    if m := re.fullmatch(r"Expected `(.+)`, got `(.+)`", problem):
        expected, got = m.group(1), m.group(2)
        if not parts:
            return _fail("body", f"the body must be a JSON object ({{\"title\": …}}), got {_TYPE_WORDS.get(got, got)}")
        return _fail(field, _type_message(field, leaf, expected, got, _lookup(text, parts)))

    if problem.startswith("Invalid enum value") and leaf in _ENUMS:
        value = _lookup(text, parts)
        return _fail(field, f"unknown {leaf} {_quote(value)}; {_one_of(_ENUMS[leaf])}")

    if problem.startswith("Invalid RFC3339"):
        value = _lookup(text, parts)
        hint = ""
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            hint = " (a date alone is not enough: add the time and offset)"
        return _fail(field, f"{field} {_quote(value)} is not an ISO 8601 time; write it like "
                     f"{_TIME_EXAMPLE} or 2026-11-22T00:30:00Z{hint}")

    return _fail(field, problem[:1].lower() + problem[1:])


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    """Strip a text field; blank optional text becomes None; enforce the length limit."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        if required:
            raise _fail(field, f"{field} is empty")
        return None
    if len(value) > limit:
        raise _fail(field, f"{field} is {len(value):,} characters; at most {limit:,}")
    return value


def _check_url(url: str, limit: int) -> str:
    if len(url) > limit:
        raise _fail("url", f"url is {len(url):,} characters; at most {limit:,}")
    for pos, ch in enumerate(url):
        if ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            raise _fail("url", f"url contains a space or control character ({_quote(ch)}) at "
                        f"position {pos}; percent-encode it (a space is %20)")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise _fail("url", f"url {_quote(url)} is not a valid address") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise _fail("url", f"url {_quote(url)} is relative; give the full address starting "
                    "with https:// or http://")
    if scheme not in ("http", "https"):
        raise _fail("url", f"url must start with http:// or https://, not {scheme}:")
    if not parts.hostname:
        raise _fail("url", f"url {_quote(url)} has no host; give the full address like "
                    "https://weibo.com/…")
    if parts.username is not None or parts.password is not None:
        raise _fail("url", "url must not contain a user name or password (user@host): it "
                    "disguises where the link goes")
    return url


def _check_evidence(items: list[str], limits: Limits) -> list[str]:
    if len(items) > limits.evidence_max_items:
        raise _fail("evidence", f"evidence has {len(items)} items; at most {limits.evidence_max_items} "
                    "(put the rest in the summary or one archive link)")
    out = []
    for i, item in enumerate(items):
        field = f"evidence[{i}]"
        item = item.strip()
        if not item:
            raise _fail(field, f"{field} is empty")
        if len(item) > limits.evidence_item_max:
            raise _fail(field, f"{field} is {len(item):,} characters; at most {limits.evidence_item_max:,}")
        out.append(item)
    return out


def _check_metrics(metrics: ReportMetrics, limits: Limits) -> None:
    for name in _METRIC_FIELDS:
        value = getattr(metrics, name)
        field = f"metrics.{name}"
        if value < 0:
            raise _fail(field, f"{field} must be 0 or more, got {value}")
        if value > limits.metric_max:
            raise _fail(field, f"{field} is {value}; at most {limits.metric_max:,} (a typo?)")


def _check_time(field: str, at: datetime, now: datetime, limits: Limits) -> datetime:
    """A time a report carries: with an offset, not in the future beyond the skew, not a placeholder."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise _fail(field, f"{field} {at.isoformat()!r} has no UTC offset: add "
                    f"+08:00 (Beijing time) or Z (UTC), like {_TIME_EXAMPLE}")
    at = at.astimezone(UTC)
    skew = limits.future_skew_delta()
    if at > now + skew:
        ahead = at - now
        raise _fail(field, f"{field} {at.isoformat()} is {_span(ahead)} after now "
                    f"({now.astimezone(UTC).isoformat()}); at most {limits.future_skew} ahead is "
                    "accepted: check the clock and the offset (+08:00 or Z)")
    if at < EARLIEST_OBSERVED:
        raise _fail(field, f"{field} {at.isoformat()} is before 2000-01-01: "
                    "a placeholder, not a real time")
    return at


def _check_observed(observed: datetime, now: datetime, limits: Limits) -> datetime:
    return _check_time("observed_at", observed, now, limits)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _check_incident_id(value: str, known_incident: Callable[[str], bool] | None) -> str:
    canonical = value.upper()
    if not ULID_RE.fullmatch(canonical):
        raise _fail("incident_id", f"malformed incident_id {_quote(value)}: expected the 26-character "
                    "id printed by `watchboard ls`, like 01JD3X7K2M9Q4R5S6T7V8W9XYZ")
    if known_incident is not None and not known_incident(canonical):
        raise _fail("incident_id", f"no incident {canonical}; check the id (`watchboard ls`) or "
                    "leave incident_id out to open a new incident", code="not_found")
    return canonical


def parse_report(
    body: bytes,
    *,
    now: datetime,
    known_incident: Callable[[str], bool] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Decode and check one report; raise `ReportError` naming the first field at fault.

    `now` (aware) is the intake time; `known_incident(id)` says whether an incident exists
    (None: do not check existence, only the id's form).
    """
    if len(body) > limits.max_body_bytes:
        raise _fail("body", f"the body is {len(body):,} bytes; at most {limits.max_body_bytes:,}")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail("body", f"the body is not UTF-8 text (bad byte at offset {exc.start}); "
                    "save the file as UTF-8") from None
    text = text.removeprefix("\ufeff")  # a BOM from Windows editors is not an error
    if not text.strip():
        raise _fail("body", "the body is empty; send one JSON object like "
                    '{"title": "…", "platform": "weibo"}')
    try:
        report = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise _translate(exc, text) from None
    except msgspec.DecodeError as exc:
        detail = str(exc).removeprefix("JSON is malformed: ")
        raise _fail("body", f"the body is not valid JSON: {detail[:1].lower() + detail[1:]}") from None

    title = _text("title", report.title, limits.title_max, required=True)
    summary = _text("summary", report.summary, limits.summary_max) or ""
    url = _text("url", report.url, limits.url_max)
    if url is not None:
        url = _check_url(url, limits.url_max)
    region = _text("region", report.region, limits.region_max)
    unit_hint = _text("unit_hint", report.unit_hint, limits.unit_hint_max)
    observed = report.observed_at
    if observed is not None:
        observed = _check_time("observed_at", observed, now, limits)
    posted = report.posted_at
    if posted is not None:
        posted = _check_time("posted_at", posted, now, limits)
        if observed is not None and posted > observed:
            raise _fail("posted_at", f"posted_at {posted.isoformat()} is after observed_at "
                        f"{observed.isoformat()}: an item is seen only after it is posted "
                        "(check both times and their offsets)")
    _check_metrics(report.metrics, limits)
    reporter = _text("reporter", report.reporter, limits.reporter_max)
    evidence = _check_evidence(report.evidence, limits)
    incident_id = _text("incident_id", report.incident_id, 100)
    if incident_id is not None:
        incident_id = _check_incident_id(incident_id, known_incident)

    return msgspec.structs.replace(
        report, title=title, summary=summary, url=url, region=region, unit_hint=unit_hint,
        observed_at=observed, reporter=reporter, evidence=evidence, incident_id=incident_id,
        posted_at=posted,
    )


def split_jsonl(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line bytes) for each non-blank line of a JSONL file."""
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            yield number, line.rstrip(b"\r")


def parse_jsonl(
    data: bytes,
    *,
    now: datetime,
    known_incident: Callable[[str], bool] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[tuple[int, Report | ReportError]]:
    """Each non-blank line parsed on its own: a bad line is reported with its number, not fatal."""
    out: list[tuple[int, Report | ReportError]] = []
    for number, line in split_jsonl(data):
        try:
            out.append((number, parse_report(line, now=now, known_incident=known_incident, limits=limits)))
        except ReportError as exc:
            out.append((number, exc))
    return out
