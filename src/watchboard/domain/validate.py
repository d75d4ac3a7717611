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

from watchboard.board.i18n import named
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
_TIME_EXAMPLE = "`2026-11-22T08:30:00+08:00`"  # in backticks: an example, never rewritten to local time

# msgspec's wording for JSON types → words a monitor understands (and a Chinese reader).
_TYPE_WORDS = {
    "int": "a whole number", "float": "a number with a fraction", "str": "a string",
    "bool": "true or false", "null": "null", "array": "a list", "object": "an object",
}
_TYPE_WORDS_ZH = {
    "int": "整数", "float": "带小数的数", "str": "文本", "bool": "布尔值（`true` 或 `false`）",
    "null": "空值 `null`", "array": "列表", "object": "对象",
}
# How the Chinese refusals name a report's fields (the `field` of the reply stays the key).
_FIELD_ZH = {
    "title": "标题", "summary": "摘要", "url": "链接", "region": "地区", "reporter": "报送人",
    "unit_hint": "责任单位提示", "evidence": "证据", "metrics": "传播数据", "observed_at": "发现时间",
    "posted_at": "发布时间", "incident_id": "舆情编号", "platform": "平台", "topic": "领域",
    "media_level": "媒体级别", "sentiment": "倾向", "cross_region": "跨地区", "emergency": "突发事件",
    "stability_risk": "稳定风险", "body": "报送内容",
    "metrics.reposts": "转发数", "metrics.comments": "评论数", "metrics.likes": "点赞数", "metrics.views": "阅读数",
}
# The label kind (board/i18n.py) of each enumerated field's values.
_ENUM_LABELS = {"platform": "platform", "topic": "topic", "media_level": "media", "sentiment": "sentiment"}


def _fail(field: str, message: str, code: str = "invalid", *, zh: str) -> ReportError:
    return ReportError(code, field, message, zh=zh)


def _zh(field: str) -> str:
    """A field path as the Chinese refusal names it: `标题`, `第 3 条证据`, else the key itself."""
    if m := re.fullmatch(r"evidence\[(\d+)\]", field):
        return f"第 {int(m.group(1)) + 1} 条证据"
    return _FIELD_ZH.get(field, f"`{field}`")


def _quote(value: object, limit: int = 60) -> str:
    """A short, escaped echo of a value sent to us (repr escapes control and bidi characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_of(values: tuple[str, ...]) -> str:
    return "one of: " + ", ".join(values)


def _one_of_zh(leaf: str) -> str:
    kind = _ENUM_LABELS.get(leaf, leaf)
    return "可选：" + "、".join(f"`{v}`（{named(kind, v, 'zh')}）" for v in _ENUMS.get(leaf, ()))


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


def _type_message(field: str, leaf: str, expected: str, got: str, raw: object) -> tuple[str, str]:
    """(English, Chinese) of a value of the wrong JSON type."""
    got_words, got_zh = _TYPE_WORDS.get(got, got), _TYPE_WORDS_ZH.get(got, got)
    name = _zh(field)
    if leaf in _ENUMS:
        return (f"{field} must be a string, {_one_of(_ENUMS[leaf])}; got {got_words}",
                f"{name}须为文本，{_one_of_zh(leaf)}；收到的是{got_zh}")
    if field.startswith("metrics.") or expected == "int":
        hint, hint_zh = (" (write 3, not 3.0)", "（应写 3，不写 3.0）") if got == "float" else ("", "")
        return (f"{field} must be a whole number of 0 or more, got {got_words}{hint}",
                f"{name}须为不小于 0 的整数，收到的是{got_zh}{hint_zh}")
    if leaf in _BOOLS:
        hint, hint_zh = ((" (write true or false without quotes)", "（`true`、`false` 不加引号）")
                         if raw in ("true", "false") else ("", ""))
        return (f"{field} must be true or false, got {got_words}{hint}",
                f"{name}须为 `true` 或 `false`，收到的是{got_zh}{hint_zh}")
    if leaf in ("observed_at", "posted_at"):
        return (f"{leaf} must be an ISO 8601 time with an offset, like {_TIME_EXAMPLE}; got {got_words}",
                f"{_zh(leaf)}须为带时区的 ISO 8601 时间，如 {_TIME_EXAMPLE}；收到的是{got_zh}")
    if leaf == "evidence":
        return (f"evidence must be a list of strings, got {got_words}",
                f"证据须为文本列表，收到的是{got_zh}")
    if field.startswith("evidence["):
        return (f"each evidence item must be a string; {field} is {got_words}",
                f"每条证据须为文本；{name}是{got_zh}")
    if field == "metrics":
        return (f"metrics must be an object like {{\"reposts\": 150}}, got {got_words}",
                f"传播数据须为对象，如 {{\"reposts\": 150}}；收到的是{got_zh}")
    if expected.startswith("str"):
        return f"{field} must be a string, got {got_words}", f"{name}须为文本，收到的是{got_zh}"
    return (f"{field} must be {_TYPE_WORDS.get(expected, expected)}, got {got_words}",
            f"{name}须为{_TYPE_WORDS_ZH.get(expected, expected)}，收到的是{got_zh}")


def _translate(exc: msgspec.ValidationError, text: str) -> ReportError:
    """msgspec's validation error → our field path and a readable message."""
    problem, path = split_msgspec_error(exc)
    parts = path_parts(path)
    prefix = _dotted(parts)

    if m := re.fullmatch(r"Object missing required field `(.+)`", problem):
        name = m.group(1)
        field = f"{prefix}.{name}" if prefix else name
        extra = f"; {_one_of(PLATFORMS)}" if name == "platform" else ""
        extra_zh = f"；{_one_of_zh('platform')}" if name == "platform" else ""
        return _fail(field, f"{field} is required{extra}", zh=f"缺少{_zh(field)}{extra_zh}")

    if m := re.fullmatch(r"Object contains unknown field `(.+)`", problem):
        name = m.group(1)
        field = f"{prefix}.{name}" if prefix else name
        known = _METRIC_FIELDS if prefix == "metrics" else _REPORT_FIELDS
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else f"; known fields: {', '.join(known)}"
        hint_zh = (f"；是否应为 `{close[0]}`？" if close
                   else f"；可用字段：{'、'.join(f'`{k}`' for k in known)}")
        return _fail(field, f"unknown field `{_quote(name, 40)[1:-1]}`{hint}",
                     zh=f"无法识别的字段 `{_quote(name, 40)[1:-1]}`{hint_zh}")

    field = prefix or "body"
    leaf = parts[-1] if parts and isinstance(parts[-1], str) else ""

    if m := re.fullmatch(r"Expected `(.+)`, got `(.+)`", problem):
        expected, got = m.group(1), m.group(2)
        if not parts:
            return _fail("body", f"the body must be a JSON object ({{\"title\": …}}), got {_TYPE_WORDS.get(got, got)}",
                         zh=f"报送内容须为一个 JSON 对象（{{\"title\": …}}），收到的是{_TYPE_WORDS_ZH.get(got, got)}")
        en, zh = _type_message(field, leaf, expected, got, _lookup(text, parts))
        return _fail(field, en, zh=zh)

    if problem.startswith("Invalid enum value") and leaf in _ENUMS:
        value = _lookup(text, parts)
        return _fail(field, f"unknown {leaf} {_quote(value)}; {_one_of(_ENUMS[leaf])}",
                     zh=f"无法识别的{_zh(leaf)} {_quote(value)}；{_one_of_zh(leaf)}")

    if problem.startswith("Invalid RFC3339"):
        value = _lookup(text, parts)
        hint = hint_zh = ""
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            hint = " (a date alone is not enough: add the time and offset)"
            hint_zh = "（只有日期不够，请补上时刻和时区）"
        return _fail(field, f"{field} {_quote(value)} is not an ISO 8601 time; write it like "
                     f"{_TIME_EXAMPLE} or `2026-11-22T00:30:00Z`{hint}",
                     zh=f"{_zh(field)} {_quote(value)} 不是 ISO 8601 时间，请写成 {_TIME_EXAMPLE} 或 "
                        f"`2026-11-22T00:30:00Z` 的形式{hint_zh}")

    # Anything else msgspec says has no Chinese wording of its own: the Chinese names the
    # field; the English keeps msgspec's detail for the monitor's tool.
    return _fail(field, problem[:1].lower() + problem[1:], zh=f"{_zh(field)}的值不符合报送格式")


def _text(field: str, value: str | None, limit: int, *, required: bool = False) -> str | None:
    """Strip a text field; blank optional text becomes None; enforce the length limit."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        if required:
            raise _fail(field, f"{field} is empty", zh=f"{_zh(field)}不能为空")
        return None
    if len(value) > limit:
        raise _fail(field, f"{field} is {len(value):,} characters; at most {limit:,}",
                    zh=f"{_zh(field)}共 {len(value):,} 个字符，超过上限 {limit:,} 个字符")
    return value


def _check_url(url: str, limit: int) -> str:
    if len(url) > limit:
        raise _fail("url", f"url is {len(url):,} characters; at most {limit:,}",
                    zh=f"链接共 {len(url):,} 个字符，超过上限 {limit:,} 个字符")
    for pos, ch in enumerate(url):
        if ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            raise _fail("url", f"url contains a space or control character ({_quote(ch)}) at "
                        f"position {pos}; percent-encode it (a space is %20)",
                        zh=f"链接第 {pos} 位含空格或控制字符（{_quote(ch)}），请改用百分号编码（空格写作 %20）")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise _fail("url", f"url {_quote(url)} is not a valid address",
                    zh=f"链接 {_quote(url)} 不是有效网址") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise _fail("url", f"url {_quote(url)} is relative; give the full address starting "
                    "with https:// or http://",
                    zh=f"链接 {_quote(url)} 不完整，请给出以 https:// 或 http:// 开头的完整网址")
    if scheme not in ("http", "https"):
        raise _fail("url", f"url must start with http:// or https://, not {scheme}:",
                    zh=f"链接须以 http:// 或 https:// 开头，不能是 {_quote(scheme + ':')}")
    if not parts.hostname:
        raise _fail("url", f"url {_quote(url)} has no host; give the full address like "
                    "https://weibo.com/…",
                    zh=f"链接 {_quote(url)} 缺少域名，请给出完整网址，如 https://weibo.com/…")
    if parts.username is not None or parts.password is not None:
        raise _fail("url", "url must not contain a user name or password (user@host): it "
                    "disguises where the link goes",
                    zh="链接不得含用户名或密码（`user@host` 形式），这会掩盖链接的真实去向")
    return url


def _check_evidence(items: list[str], limits: Limits) -> list[str]:
    if len(items) > limits.evidence_max_items:
        raise _fail("evidence", f"evidence has {len(items)} items; at most {limits.evidence_max_items} "
                    "(put the rest in the summary or one archive link)",
                    zh=f"证据共 {len(items)} 条，超过上限 {limits.evidence_max_items} 条（其余请写入摘要，或合并为一个存档链接）")
    out = []
    for i, item in enumerate(items):
        field = f"evidence[{i}]"
        item = item.strip()
        if not item:
            raise _fail(field, f"{field} is empty", zh=f"{_zh(field)}为空")
        if len(item) > limits.evidence_item_max:
            raise _fail(field, f"{field} is {len(item):,} characters; at most {limits.evidence_item_max:,}",
                        zh=f"{_zh(field)}共 {len(item):,} 个字符，超过上限 {limits.evidence_item_max:,} 个字符")
        out.append(item)
    return out


def _check_metrics(metrics: ReportMetrics, limits: Limits) -> None:
    for name in _METRIC_FIELDS:
        value = getattr(metrics, name)
        field = f"metrics.{name}"
        if value < 0:
            raise _fail(field, f"{field} must be 0 or more, got {value}", zh=f"{_zh(field)}不能小于 0，收到的是 {value}")
        if value > limits.metric_max:
            raise _fail(field, f"{field} is {value}; at most {limits.metric_max:,} (a typo?)",
                        zh=f"{_zh(field)}为 {value}，超过上限 {limits.metric_max:,}（是否录入有误？）")


def _check_time(field: str, at: datetime, now: datetime, limits: Limits) -> datetime:
    """A time a report carries: with an offset, not in the future beyond the skew, not a placeholder."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise _fail(field, f"{field} {at.isoformat()!r} has no UTC offset: add "
                    f"+08:00 (Beijing time) or Z (UTC), like {_TIME_EXAMPLE}",
                    zh=f"{_zh(field)} {at.isoformat()!r} 未注明时区：请加上 +08:00（北京时间）或 Z（世界协调时），"
                       f"如 {_TIME_EXAMPLE}")
    at = at.astimezone(UTC)
    skew = limits.future_skew_delta()
    if at > now + skew:
        ahead = at - now
        raise _fail(field, f"{field} {at.isoformat()} is {_span(ahead)} after now "
                    f"({now.astimezone(UTC).isoformat()}); at most {limits.future_skew} ahead is "
                    "accepted: check the clock and the offset (+08:00 or Z)",
                    zh=f"{_zh(field)} {at.isoformat()} 比当前时间（{now.astimezone(UTC).isoformat()}）晚 "
                       f"{_span_zh(ahead)}，最多只能提前 {_span_zh(skew)}：请核对时钟和时区（+08:00 或 Z）")
    if at < EARLIEST_OBSERVED:
        raise _fail(field, f"{field} {at.isoformat()} is before 2000-01-01: "
                    "a placeholder, not a real time",
                    zh=f"{_zh(field)} {at.isoformat()} 早于 2000-01-01，是占位值而非真实时间")
    return at


def _check_observed(observed: datetime, now: datetime, limits: Limits) -> datetime:
    return _check_time("observed_at", observed, now, limits)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _span_zh(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} 小时 {minutes % 60:02d} 分" if minutes >= 60 else f"{minutes} 分钟"


def _check_incident_id(value: str, known_incident: Callable[[str], bool] | None) -> str:
    canonical = value.upper()
    if not ULID_RE.fullmatch(canonical):
        raise _fail("incident_id", f"malformed incident_id {_quote(value)}: expected the 26-character "
                    "id printed by `watchboard ls`, like 01JD3X7K2M9Q4R5S6T7V8W9XYZ",
                    zh=f"舆情编号 {_quote(value)} 格式不对：应为 `watchboard ls` 列出的 26 位编号，"
                       "如 01JD3X7K2M9Q4R5S6T7V8W9XYZ")
    if known_incident is not None and not known_incident(canonical):
        raise _fail("incident_id", f"no incident {canonical}; check the id (`watchboard ls`) or "
                    "leave incident_id out to open a new incident", code="not_found",
                    zh=f"未找到舆情 {canonical}：请核对编号（可用 `watchboard ls` 查看），或不填 `incident_id` 以新建舆情")
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
        raise _fail("body", f"the body is {len(body):,} bytes; at most {limits.max_body_bytes:,}",
                    zh=f"报送内容共 {len(body):,} 字节，超过上限 {limits.max_body_bytes:,} 字节")
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail("body", f"the body is not UTF-8 text (bad byte at offset {exc.start}); "
                    "save the file as UTF-8",
                    zh=f"报送内容不是 UTF-8 文本（第 {exc.start} 字节有误），请将文件另存为 UTF-8 编码") from None
    text = text.removeprefix("\ufeff")  # a BOM from Windows editors is not an error
    if not text.strip():
        raise _fail("body", "the body is empty; send one JSON object like "
                    '{"title": "…", "platform": "weibo"}',
                    zh='报送内容为空，请发送一个 JSON 对象，如 {"title": "…", "platform": "weibo"}')
    try:
        report = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise _translate(exc, text) from None
    except msgspec.DecodeError as exc:
        detail = str(exc).removeprefix("JSON is malformed: ")
        where = re.search(r"\(byte (\d+)\)", detail)
        raise _fail("body", f"the body is not valid JSON: {detail[:1].lower() + detail[1:]}",
                    zh="报送内容不是合法的 JSON" + (f"（第 {where.group(1)} 字节处有误）" if where else "")) from None

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
                        "(check both times and their offsets)",
                        zh=f"发布时间 {posted.isoformat()} 晚于发现时间 {observed.isoformat()}：信息须先发布才能被发现"
                           "（请核对两个时间及其时区）")
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
