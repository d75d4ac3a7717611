"""Templates and robot formats: untrusted titles are cleaned, bounded and escaped; signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from tests.board.test_app import HOSTILE as BOARD_APP_HOSTILE
from tests.e2e.test_board_live import HOSTILE as BOARD_LIVE_HOSTILE
from watchboard.board.sample import HOSTILE_TITLE
from watchboard.services.notify.channels.webhook import build_request, dingtalk_sign, feishu_sign
from watchboard.services.notify.settings import Contact
from watchboard.services.notify.templates import (
    Outgoing,
    TemplateError,
    bound_bytes,
    check_template,
    clean,
    escape,
    escape_markdown,
    fill,
    render,
)

EVIL = "网传[点我](http://evil.example)**加粗**<font color=\"red\">x</font>\n# 标题\u202e\x07"


def message(**kw: object) -> Outgoing:
    base: dict[str, object] = dict(
        key="EKEY", incident_id="01INC", event_id="01EV", cause="incident.graded", person_id="p-li",
        person_name="李值班", contact="webhook", subject="【{grade}级】{title}", body="{person}：{title}",
        values={"title": clean(EVIL, 80), "grade": "I", "person": "李值班"},
        ack_url="http://127.0.0.1:8765/ack/TOKEN_a-b")
    base.update(kw)
    return Outgoing(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("a\nb\r\nc\td", 0, "a b c d"),
    ("x\u202ey\u200bz\x07", 0, "xyz"),  # bidi override, zero-width, bell removed
    ("  spaced   out  ", 0, "spaced out"),
    ("一二三四五六", 4, "一二三…"),
    ("short", 10, "short"),
])
def test_clean(text: str, limit: int, expected: str) -> None:
    """Untrusted text becomes one printable, bounded line."""
    assert clean(text, limit) == expected


def test_markdown_escape_neutralises_links_and_tags() -> None:
    """No markdown link, emphasis, heading or HTML tag survives escaping."""
    out = escape_markdown(clean(EVIL))
    for bad in ("[", "](", "**", "<font", "# "):
        assert bad not in out
    assert "网传" in out


@pytest.mark.parametrize(("template", "problem"), [
    ("{title} {grade}", None),
    ("{title} {titel}", "unknown placeholder {titel}"),
    ("no placeholders", None),
])
def test_check_template(template: str, problem: str | None) -> None:
    """Only known placeholders are accepted."""
    result = check_template(template)
    assert (result is None) if problem is None else (problem in (result or ""))


def test_fill_without_value_raises() -> None:
    """A placeholder with no value is a TemplateError, not a silent blank."""
    with pytest.raises(TemplateError, match="clock"):
        fill("{clock}", {})


def test_render_markdown_keeps_ack_link_usable() -> None:
    """The ack URL is not escaped (we built it); the title is."""
    subject, body = render(message(), markdown=True)
    assert "[确认收到](http://127.0.0.1:8765/ack/TOKEN_a-b)" in body
    assert "](http://evil" not in subject + body


def test_bound_bytes_cuts_on_character_boundary() -> None:
    """A byte bound never splits a UTF-8 character."""
    out = bound_bytes("中" * 100, 50)
    assert len(out.encode()) <= 50 and out.endswith("…")
    out.encode("utf-8")


def test_wecom_markdown_and_text() -> None:
    """WeCom bodies follow the robot's msgtype shapes and stay within its byte limits."""
    m = message(values={"title": "t" * 5000, "grade": "I", "person": "p"})
    _, md = build_request(m, Contact(channel="webhook", url="https://q/x", format="wecom"))
    assert md["msgtype"] == "markdown" and len(md["markdown"]["content"].encode()) <= 4096
    _, txt = build_request(m, Contact(channel="webhook", url="https://q/x", format="wecom", markdown=False))
    assert txt["msgtype"] == "text" and len(txt["text"]["content"].encode()) <= 2048


def test_dingtalk_signature_vector() -> None:
    """DingTalk sign = urlencode(base64(HMAC-SHA256(secret, f"{ts}\\n{secret}"))), in the query."""
    secret, ts = "SEC0123456789abcdef", 1700000000000
    expected = quote_plus(base64.b64encode(
        hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode())
    assert dingtalk_sign(secret, ts) == expected
    url, body = build_request(message(), Contact(channel="webhook", url="https://oapi.dingtalk.com/robot/send?access_token=AT",
                                                 format="dingtalk", secret=secret), now_ms=ts)
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["AT"] and query["timestamp"] == [str(ts)]
    # parse_qs decodes once: the decoded value is the plain base64 signature
    assert query["sign"] == [base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                                       hashlib.sha256).digest()).decode()]
    assert body["msgtype"] == "markdown" and "title" in body["markdown"]


def test_feishu_signature_vector() -> None:
    """Feishu sign = base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b"")), in the body."""
    secret, ts = "feishu-secret", 1700000000
    expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
    assert feishu_sign(secret, ts) == expected
    _, body = build_request(message(), Contact(channel="webhook", url="https://open.feishu.cn/hook/x",
                                               format="feishu", secret=secret), now_ms=ts * 1000)
    assert body["timestamp"] == str(ts) and body["sign"] == expected
    assert body["msg_type"] == "text" and "李值班" in body["content"]["text"]


def test_signing_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """secret_env reads the robot secret from the environment."""
    monkeypatch.setenv("WB_TEST_FEISHU", "from-env")
    _, body = build_request(message(), Contact(channel="webhook", url="https://h/x", format="feishu",
                                               secret_env="WB_TEST_FEISHU"), now_ms=1_000_000)
    assert body["sign"] == feishu_sign("from-env", 1000)


def test_generic_json_body() -> None:
    """The generic JSON body carries the key, incident, recipient and rendered text."""
    _, body = build_request(message(), Contact(channel="webhook", url="https://h/x"))
    assert body["key"] == "EKEY" and body["to"] == "p-li" and body["subject"].startswith("【I级】")
    json.dumps(body)


# --- hostile titles, in every format a notice goes out in -----------------------------------

FEISHU_AT_ALL = '<at user_id="all">所有人</at> 紧急'
HOSTILE_TITLES = [
    pytest.param(FEISHU_AT_ALL, id="feishu-at-all"),
    pytest.param(BOARD_APP_HOSTILE, id="board-app"),
    pytest.param(BOARD_LIVE_HOSTILE, id="board-live"),
    pytest.param(HOSTILE_TITLE, id="board-sample"),
    pytest.param("<@all> &lt;at user_id=&quot;all&quot;&gt;所有人&lt;/at&gt;", id="wecom-mention-and-entities"),
]
# (format, markdown, how the values are escaped)
FORMATS = [
    pytest.param("wecom", True, "markdown", id="wecom-markdown"),
    pytest.param("wecom", False, "text", id="wecom-text"),
    pytest.param("dingtalk", True, "markdown", id="dingtalk-markdown"),
    pytest.param("dingtalk", False, "text", id="dingtalk-text"),
    pytest.param("feishu", False, "text", id="feishu-text"),
    pytest.param("feishu", True, "text", id="feishu-markdown-flag-ignored"),
    pytest.param("json", False, "plain", id="json"),
]
# What no message may carry: an escape sequence or its printable remainder, a bidi control.
LEFTOVERS = ("\x1b", "[31m", "[0m", "]52;", "]0;", "\u202e", "\u202c", "\x07")


def _texts(fmt: str, body: dict) -> list[str]:
    if fmt == "json":
        return [body["subject"], body["body"]]
    if fmt == "feishu":
        return [body["content"]["text"]]
    kind = body["msgtype"]
    return [v for v in body[kind].values() if isinstance(v, str)]


@pytest.mark.parametrize(("fmt", "markdown", "style"), FORMATS)
@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_cannot_speak_for_the_duty_room(fmt: str, markdown: bool, style: str, title: str) -> None:
    """A hostile title (and a digest line of it) goes out as text in every robot format: no
    tag a robot reads (Feishu's `<at user_id="all">` would page @所有人), no markdown link or
    mention, no escape sequence or its printable remainder; the ack link stays usable."""
    # Bounded as render.py bounds a title (delivery.max_title_chars), so the ack link fits.
    m = message(values={"title": clean(title, 200), "grade": "I", "person": "李值班"},
                items=[f"【I级】{clean(title, 200)}"])
    _, body = build_request(m, Contact(channel="webhook", url="https://robot.example/hook/x", format=fmt,
                                       markdown=markdown))
    texts = _texts(fmt, body)
    joined = "\n".join(texts)
    for leftover in LEFTOVERS:
        assert leftover not in joined, (leftover, joined[:300])
    assert "http://127.0.0.1:8765/ack/TOKEN_a-b" in joined  # ours, not escaped
    without_link = joined.replace("[确认收到](http://127.0.0.1:8765/ack/TOKEN_a-b)", "")
    if style in ("text", "markdown"):
        assert "<" not in without_link and ">" not in without_link and "&" not in without_link
    if style == "markdown":
        values_only = without_link.replace("### ", "")  # our heading; the values have none
        for bad in ("[", "](", "**", "#"):
            assert bad not in values_only, bad
    assert escape(clean(title, 200), style) in joined  # the whole title is there, as text
    if style == "plain" and "<at" in title:
        assert '<at user_id="all">' in joined  # JSON and e-mail readers show text as text


@pytest.mark.parametrize(("style", "expected"), [
    ("plain", '<at user_id="all">所有人</at> & x_y'),
    ("text", '＜at user_id="all"＞所有人＜/at＞ ＆ x_y'),
    ("markdown", '＜at user＿id＝"all"＞所有人＜/at＞ ＆ x＿y'),
])
def test_escape_styles(style: str, expected: str) -> None:
    """Each style swaps exactly the characters its reader gives a meaning."""
    assert escape('<at user_id="all">所有人</at> & x_y', style) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("a\x1b[31mRED\x1b[0m b", "aRED b"),
    ("x\x1b]52;c;aGVsbG8=\x07y", "xy"),
    ("\x9b31mC1\x9b0m", "C1"),
    ("t\x1b]0;pwned", "t"),  # an unterminated OSC swallows the rest, as a terminal would
])
def test_clean_removes_whole_escape_sequences(raw: str, expected: str) -> None:
    """The printable remainder of an escape sequence goes with its ESC."""
    assert clean(raw) == expected
