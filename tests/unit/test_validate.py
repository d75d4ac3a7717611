"""Report validation: every refusal names its code, its field and says what would be valid."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from tests.language import CJK, stray_chinese, stray_english
from watchboard.config.intake import Limits
from watchboard.domain.errors import Invalid, NotFound, ReportError
from watchboard.domain.report import Report
from watchboard.domain.validate import parse_jsonl, parse_report, split_jsonl

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
KNOWN = "01JD3X7K2M9Q4R5S6T7V8W9XYZ"


def body(**fields: Any) -> bytes:
    """A minimal valid report with `fields` merged in (a value of ... removes the field)."""
    data: dict[str, Any] = {"title": "网传某镇中学食堂使用过期食材", "platform": "weibo"}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...}, ensure_ascii=False).encode()


def parse(raw: bytes, **kw: Any) -> Report:
    return parse_report(raw, now=NOW, known_incident=lambda i: i == KNOWN, **kw)


BAD: list[tuple[str, bytes, str, str, str]] = [
    # (case, body, code, field, message fragment)
    ("not utf-8", b'{"title": "\xff\xfe", "platform": "weibo"}', "invalid", "body", "not UTF-8"),
    ("not json", b'{"title": "x", platform: weibo}', "invalid", "body", "not valid JSON"),
    ("truncated json", b'{"title": "x"', "invalid", "body", "not valid JSON"),
    ("trailing data", body() + b" x", "invalid", "body", "trailing characters"),
    ("empty body", b"   \n", "invalid", "body", "the body is empty"),
    ("array body", b'[{"title": "x"}]', "invalid", "body", "must be a JSON object"),
    ("string body", b'"a report"', "invalid", "body", "got a string"),
    ("null body", b"null", "invalid", "body", "got null"),
    ("too big", body(summary="x" * 300_000), "invalid", "body", "at most 262,144"),
    ("missing title", body(title=...), "invalid", "title", "title is required"),
    ("missing platform", body(platform=...), "invalid", "platform", "one of: weibo, wechat"),
    ("title null", body(title=None), "invalid", "title", "must be a string, got null"),
    ("title number", body(title=42), "invalid", "title", "got a whole number"),
    ("title empty", body(title=""), "invalid", "title", "title is empty"),
    ("title whitespace", body(title=" \t\u3000 "), "invalid", "title", "title is empty"),
    ("title too long", body(title="舆" * 501), "invalid", "title", "501 characters; at most 500"),
    ("summary too long", body(summary="x" * 5001), "invalid", "summary", "at most 5,000"),
    ("bool as string", body(emergency="true"), "invalid", "emergency", "without quotes"),
    ("bool as number", body(cross_region=1), "invalid", "cross_region", "must be true or false"),
    ("count as string", body(metrics={"reposts": "150"}), "invalid", "metrics.reposts",
     "whole number of 0 or more, got a string"),
    ("count as float", body(metrics={"views": 1.0}), "invalid", "metrics.views", "write 3, not 3.0"),
    ("count as bool", body(metrics={"likes": True}), "invalid", "metrics.likes", "got true or false"),
    ("negative count", body(metrics={"comments": -3}), "invalid", "metrics.comments",
     "must be 0 or more, got -3"),
    ("absurd count", body(metrics={"views": 10**15}), "invalid", "metrics.views", "a typo?"),
    ("metrics not object", body(metrics=[150]), "invalid", "metrics", "must be an object"),
    ("unknown metric", body(metrics={"repost": 1}), "invalid", "metrics.repost",
     "did you mean `reposts`?"),
    ("unknown field typo", body(titel="x"), "invalid", "titel", "did you mean `title`?"),
    ("unknown field far", body(colour="red"), "invalid", "colour", "known fields: title"),
    ("unknown platform", body(platform="twitter"), "invalid", "platform",
     "unknown platform 'twitter'; one of: weibo"),
    ("platform wrong case", body(platform="Weibo"), "invalid", "platform", "unknown platform 'Weibo'"),
    ("unknown topic", body(topic="food"), "invalid", "topic", "one of: food_drug, production_safety"),
    ("topic number", body(topic=3), "invalid", "topic", "one of: food_drug"),
    ("unknown media level", body(media_level="county"), "invalid", "media_level",
     "one of: none, local, city, provincial, national"),
    ("unknown sentiment", body(sentiment="angry"), "invalid", "sentiment",
     "one of: negative, neutral, positive"),
    ("time not iso", body(observed_at="yesterday 8am"), "invalid", "observed_at",
     "'yesterday 8am' is not an ISO 8601 time"),
    ("time date only", body(observed_at="2026-11-22"), "invalid", "observed_at", "a date alone"),
    ("time as number", body(observed_at=1763771400), "invalid", "observed_at",
     "ISO 8601 time with an offset"),
    ("time naive", body(observed_at="2026-11-22T08:30:00"), "invalid", "observed_at",
     "add +08:00 (Beijing time) or Z"),
    ("time in future", body(observed_at="2026-11-22T18:30:00+08:00"), "invalid", "observed_at",
     "8h30m after now"),
    ("time wrong offset", body(observed_at="2026-11-22T10:30:00Z"), "invalid", "observed_at",
     "check the clock and the offset"),
    ("time placeholder", body(observed_at="1970-01-01T00:00:00Z"), "invalid", "observed_at",
     "before 2000-01-01"),
    ("time 6 min ahead", body(observed_at="2026-11-22T02:06:00Z"), "invalid", "observed_at",
     "at most 5m ahead"),
    ("posted naive", body(posted_at="2026-11-22T08:30:00"), "invalid", "posted_at",
     "posted_at '2026-11-22T08:30:00' has no UTC offset"),
    ("posted not iso", body(posted_at="今天早上"), "invalid", "posted_at", "is not an ISO 8601 time"),
    ("posted as number", body(posted_at=1763771400), "invalid", "posted_at", "ISO 8601 time with an offset"),
    ("posted in future", body(posted_at="2026-11-22T10:10:00+08:00"), "invalid", "posted_at",
     "at most 5m ahead"),
    ("posted after observed", body(posted_at="2026-11-22T09:00:00+08:00", observed_at="2026-11-22T08:30:00+08:00"),
     "invalid", "posted_at", "is after observed_at"),
    ("posted placeholder", body(posted_at="1970-01-01T00:00:00Z"), "invalid", "posted_at", "before 2000-01-01"),
    ("url javascript", body(url="javascript:alert(1)"), "invalid", "url", "not javascript:"),
    ("url ftp", body(url="ftp://example.com/a"), "invalid", "url", "not ftp:"),
    ("url relative", body(url="/p/123"), "invalid", "url", "is relative"),
    ("url no host", body(url="https:///p/123"), "invalid", "url", "has no host"),
    ("url with space", body(url="https://weibo.com/a b"), "invalid", "url", "percent-encode"),
    ("url with control", body(url="https://weibo.com/\x1b[31m"), "invalid", "url", "control character"),
    ("url too long", body(url="https://weibo.com/" + "a" * 2000), "invalid", "url", "at most 2,000"),
    ("url bad port", body(url="https://weibo.com:99999/"), "invalid", "url", "not a valid address"),
    ("url userinfo", body(url="https://weibo.com@evil.example/"), "invalid", "url", "user name or password"),
    ("url not string", body(url=["https://a"]), "invalid", "url", "must be a string, got a list"),
    ("evidence not list", body(evidence="https://a"), "invalid", "evidence",
     "must be a list of strings, got a string"),
    ("evidence item number", body(evidence=["ok", 7]), "invalid", "evidence[1]", "must be a string"),
    ("evidence too many", body(evidence=["x"] * 21), "invalid", "evidence", "21 items; at most 20"),
    ("evidence item too long", body(evidence=["x" * 2001]), "invalid", "evidence[0]", "at most 2,000"),
    ("evidence item blank", body(evidence=["a", "  "]), "invalid", "evidence[1]", "is empty"),
    ("reporter too long", body(reporter="m" * 101), "invalid", "reporter", "at most 100"),
    ("region too long", body(region="镇" * 101), "invalid", "region", "at most 100"),
    ("unit hint too long", body(unit_hint="u" * 101), "invalid", "unit_hint", "at most 100"),
    ("incident id malformed", body(incident_id="inc-42"), "invalid", "incident_id",
     "malformed incident_id 'inc-42'"),
    ("incident id with I", body(incident_id="01JD3X7K2M9Q4R5S6T7V8W9XYI"), "invalid", "incident_id",
     "26-character"),
    ("incident id unknown", body(incident_id="01JD3X7K2M9Q4R5S6T7V8W9XY0"), "not_found", "incident_id",
     "no incident 01JD3X7K2M9Q4R5S6T7V8W9XY0"),
]


@pytest.mark.parametrize(("body_", "code", "field", "fragment"),
                         [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_report_is_refused_with_code_field_and_message(
        body_: bytes, code: str, field: str, fragment: str) -> None:
    """Each kind of bad report raises ReportError with the right code, field and wording."""
    with pytest.raises(ReportError) as info:
        parse(body_)
    err = info.value
    assert (err.code, err.field) == (code, field), err.message
    assert fragment in err.message
    assert "\n" not in err.message


@pytest.mark.parametrize("body_", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_report_is_refused_in_chinese_too(body_: bytes) -> None:
    """Each refusal has its Chinese twin: Chinese, with no English word left in it (field
    keys, quoted values and examples aside), and an English message with no Chinese."""
    with pytest.raises(ReportError) as info:
        parse(body_)
    err = info.value
    assert err.message_zh != err.message and CJK.search(err.message_zh), err.message_zh
    assert stray_english(err.message_zh) == [], err.message_zh
    assert stray_chinese(err.message) == [], err.message
    assert "\n" not in err.message_zh


def test_error_kinds_cover_at_least_25_distinct_fields_and_messages() -> None:
    """The table above exercises many distinct refusals, not one refusal many times."""
    assert len({(c[3], c[4]) for c in BAD}) >= 25


def test_report_errors_belong_to_the_domain_family() -> None:
    """An invalid report is an Invalid, an unknown incident a NotFound, both ReportErrors."""
    with pytest.raises(Invalid):
        parse(body(title=""))
    with pytest.raises(NotFound):
        parse(body(incident_id="01JD3X7K2M9Q4R5S6T7V8W9XY0"))
    reply = ReportError("invalid", "title", "title is empty", zh="标题不能为空").to_reply()
    assert reply == {"ok": False, "error": {"code": "invalid", "field": "title", "message": "title is empty",
                                            "message_zh": "标题不能为空"}}


def test_minimal_report_gets_defaults() -> None:
    """Only title and platform are required; everything else takes its default."""
    report = parse(body())
    assert report.title == "网传某镇中学食堂使用过期食材"
    assert report.platform == "weibo"
    assert (report.url, report.observed_at, report.incident_id) == (None, None, None)
    assert report.metrics.reposts == 0 and report.evidence == []


def test_full_report_from_design_is_accepted_and_normalised() -> None:
    """The DESIGN.md §4.3 example passes; times become UTC, the id upper-case, text stripped."""
    report = parse(body(
        title="  网传某镇中学食堂使用过期食材 ", summary="…", url=" https://weibo.com/123/abc ",
        region="仲山镇", unit_hint="education", topic="food_drug",
        observed_at="2026-11-22T08:30:00+08:00",
        metrics={"reposts": 150, "comments": 40, "likes": 10, "views": 20000},
        media_level="none", sentiment="negative", cross_region=False, emergency=False,
        stability_risk=False, reporter="monitor-01", evidence=[" https://archive/1 "],
        incident_id=KNOWN.lower(),
    ))
    assert report.title == "网传某镇中学食堂使用过期食材"
    assert report.url == "https://weibo.com/123/abc"
    assert report.observed_at == datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
    assert report.observed_at.utcoffset() == timedelta(0)
    assert report.incident_id == KNOWN
    assert report.evidence == ["https://archive/1"]
    assert report.metrics.views == 20000


@pytest.mark.parametrize("field", ["url", "region", "reporter", "unit_hint", "incident_id"])
def test_blank_optional_text_becomes_null(field: str) -> None:
    """Tools send "" for absent: an empty optional text field is treated as missing."""
    assert getattr(parse(body(**{field: "  "})), field) is None


@pytest.mark.parametrize("stamp", ["2026-11-22T10:05:00+08:00", "2026-11-22T02:04:59Z",
                                   "2026-11-22 08:00:00+08:00", "2025-01-01T00:00:00Z"])
def test_times_with_offset_within_skew_are_accepted(stamp: str) -> None:
    """Past times and times up to the skew ahead of now are accepted."""
    assert parse(body(observed_at=stamp)).observed_at is not None


def test_posted_at_before_observed_at_is_kept_in_utc() -> None:
    """posted_at (when the item appeared) is accepted before observed_at and stored in UTC."""
    report = parse(body(posted_at="2026-11-22T07:50:00+08:00", observed_at="2026-11-22T08:30:00+08:00"))
    assert report.posted_at == datetime(2026, 11, 21, 23, 50, tzinfo=UTC)
    assert parse(body(posted_at="2026-11-22T07:50:00+08:00")).posted_at is not None  # without observed_at


def test_future_skew_is_configurable() -> None:
    """A larger future_skew accepts a time the default refuses."""
    late = body(observed_at="2026-11-22T11:00:00+08:00")
    with pytest.raises(ReportError):
        parse(late)
    assert parse(late, limits=Limits(future_skew="2h")).observed_at is not None


def test_now_in_another_zone_compares_as_an_instant() -> None:
    """`now` given in +08:00 is the same instant as in UTC."""
    report = parse_report(body(observed_at="2026-11-22T10:05:00+08:00"),
                          now=NOW.astimezone(timezone(timedelta(hours=8))))
    assert report.observed_at == datetime(2026, 11, 22, 2, 5, tzinfo=UTC)


@pytest.mark.parametrize("url", ["http://example.com", "https://WEIBO.com/1?a=b#c",
                                 "https://news.example.cn/新闻/1.html", "https://[::1]:8443/x"])
def test_http_urls_are_accepted(url: str) -> None:
    """http(s) URLs with a host are accepted, IRIs with Chinese paths included."""
    assert parse(body(url=url)).url == url


def test_known_incident_not_checked_when_no_lookup_given() -> None:
    """Without a lookup, a well-formed incident id is accepted (only its form is checked)."""
    report = parse_report(body(incident_id="01JD3X7K2M9Q4R5S6T7V8W9XY0"), now=NOW)
    assert report.incident_id == "01JD3X7K2M9Q4R5S6T7V8W9XY0"


def test_utf8_bom_is_tolerated() -> None:
    """A UTF-8 byte-order mark from a Windows editor is not an error."""
    assert parse(b"\xef\xbb\xbf" + body()).platform == "weibo"


def test_control_characters_in_title_are_kept_for_the_record() -> None:
    """Validation keeps text faithful; the sanitizer makes it safe where it is shown."""
    assert parse(body(title="a\x1b]52;c;ZXZpbA==\x07b")).title == "a\x1b]52;c;ZXZpbA==\x07b"


def test_echoed_values_are_escaped_and_bounded() -> None:
    """A hostile enum value is echoed escaped (no raw ESC) and cut short."""
    with pytest.raises(ReportError) as info:
        parse(body(platform="\x1b[2J" + "x" * 500))
    assert "\x1b" not in info.value.message and len(info.value.message) < 400


def test_jsonl_lines_are_parsed_one_by_one() -> None:
    """A JSONL file: blank lines skipped, each bad line reported with its number."""
    data = body() + b"\n\n" + body(platform="myspace") + b"\r\n" + body(title="第二条") + b"\n"
    assert [n for n, _ in split_jsonl(data)] == [1, 3, 4]
    results = parse_jsonl(data, now=NOW)
    assert [n for n, _ in results] == [1, 3, 4]
    assert isinstance(results[0][1], Report)
    assert isinstance(results[1][1], ReportError) and results[1][1].field == "platform"
    assert isinstance(results[2][1], Report) and results[2][1].title == "第二条"


def test_parsed_report_round_trips_through_msgspec() -> None:
    """An accepted report encodes and decodes back to an equal Report."""
    report = parse(body(observed_at="2026-11-22T08:30:00+08:00", url="https://a.example/x"))
    assert msgspec.json.decode(msgspec.json.encode(report), type=Report) == report
