"""The untrusted-text sanitizer: no escape sequence, control or markup survives to a terminal."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from rich.console import Console
from rich.text import Text

from watchboard.domain.sanitize import ELLIPSIS, clean, clean_line, strip_escapes, to_text

# Nothing a terminal would act on: C0 except \n \t, DEL, C1, and the bidi controls.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(("raw", "expected"), [
    # escape sequences are removed whole
    ("a\x1b[31mred\x1b[0m b", "ared b"),  # CSI colour
    ("a\x1b[38;2;255;0;0mx", "ax"),  # CSI truecolour
    ("a\x1b[2J\x1b[Hb", "ab"),  # clear screen, cursor home
    ("a\x9b31mb", "ab"),  # 8-bit C1 CSI
    ("a\x1b]52;c;ZXZpbCBjb21tYW5k\x07b", "ab"),  # OSC 52 clipboard, BEL-terminated
    ("a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"),  # OSC 52, ST-terminated
    ("a\x1b]0;pwned title\x07b", "ab"),  # OSC 0 window title
    ("a\x9d0;title\x9cb", "ab"),  # 8-bit OSC with 8-bit ST
    ("a\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # OSC 8 hyperlink
    ("a\x1bP+q544e\x1b\\b", "ab"),  # DCS (XTGETTCAP)
    ("a\x1b_payload\x1b\\b", "ab"),  # APC
    ("a\x1b^pm\x1b\\b", "ab"),  # PM
    ("a\x1bXsos\x1b\\b", "ab"),  # SOS
    ("a\x90dcs\x9cb", "ab"),  # 8-bit DCS
    ("a\x1b7b\x1b8c", "abc"),  # save/restore cursor
    ("a\x1bcb", "ab"),  # full reset
    ("a\x1b(Bb", "ab"),  # designate charset (nF)
    ("title\x1b]52;c;" + "A" * 5000, "title"),  # unterminated OSC swallows the rest
    ("a\x1b[31", "a"),  # unterminated CSI
    # controls become visible placeholders
    ("a\x00b", "a␀b"),
    ("a\x07b", "a␇b"),
    ("a\x08\x08b", "a␈␈b"),
    ("a\x7fb", "a␡b"),
    ("trailing\x1b", "trailing␛"),
    ("a\x84b", "a<U+0084>b"),
    ("a\x9cb", "a<U+009C>b"),  # a lone ST
    ("invoice\u202egpj.exe", "invoice<U+202E>gpj.exe"),  # RLO override
    ("a\u2066b\u2069c\u200fd\u061ce", "a<U+2066>b<U+2069>c<U+200F>d<U+061C>e"),
    # invisible characters are dropped
    ("敏\u200b感\u200c词\u2060x\ufeffy", "敏感词xy"),
    ("hidden\U000e0041\U000e0042", "hidden"),  # tag characters (ASCII smuggling)
    ("👨\u200d👩\u200d👧", "👨👩👧"),
    # line breaks are kept by clean, normalised
    ("a\r\nb\rc\x85d\u2028e", "a\nb\nc\nd\ne"),
    ("col1\tcol2", "col1\tcol2"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    # ordinary text passes unchanged
    ("网传某镇中学食堂使用过期食材", "网传某镇中学食堂使用过期食材"),
    ("[bold red]x[/]", "[bold red]x[/]"),
    ("café 🇨🇳 👍🏽", "café 🇨🇳 👍🏽"),
    ("", ""),
])
def test_clean(raw: str, expected: str) -> None:
    """Escape sequences vanish whole, controls show as placeholders, text stays."""
    out = clean(raw)
    assert out == expected
    assert not FORBIDDEN.search(out)


@pytest.mark.parametrize(("raw", "expected"), [
    ("line one\nline two", "line one line two"),
    ("a\r\n\r\n\tb", "a b"),
    ("  padded \n", "padded"),
    ("a\u2029b", "a b"),
    ("x\x1b[1m\ny", "x y"),
    ("plain", "plain"),
    (None, ""),
])
def test_clean_line(raw: str | None, expected: str) -> None:
    """One line: every run of line breaks and tabs is one space, ends trimmed."""
    assert clean_line(raw) == expected


def test_ten_thousand_character_title_is_bounded() -> None:
    """A 10,000-character title comes out at max_len characters ending in an ellipsis."""
    out = clean_line("标" * 10_000, 500)
    assert len(out) == 500 and out.endswith(ELLIPSIS) and out[:-1] == "标" * 499


def test_hostile_long_text_is_bounded() -> None:
    """A long text of escape sequences and controls is still bounded and clean."""
    raw = ("\x1b[31m" + "\x00" + "\u202e" + "x") * 5000
    out = clean(raw, 300)
    assert len(out) <= 300 and out.endswith(ELLIPSIS) and not FORBIDDEN.search(out)


@pytest.mark.parametrize("max_len", range(1, 30))
def test_cut_never_splits_a_placeholder(max_len: int) -> None:
    """Truncation keeps placeholders whole: no '<U+20' stubs."""
    out = clean("ab\u202ecd\u202eef\x85gh\u202e", max_len)
    assert len(out) <= max_len
    assert re.fullmatch(r"(?:[a-h\n]|<U\+[0-9A-F]{4}>)*…?", out), out


@pytest.mark.parametrize("max_len", range(1, 20))
def test_cut_never_splits_a_cluster(max_len: int) -> None:
    """Combining marks, skin tones, variation selectors and flag pairs stay with their base."""
    raw = "e\u0301\u0302x👍🏽y❤\ufe0fz🇨🇳🇯🇵w" * 2
    out = clean(raw, max_len)
    assert len(out) <= max_len
    body = out.removesuffix(ELLIPSIS)
    assert raw.startswith(body)
    if len(body) < len(raw):
        nxt = raw[len(body)]
        assert unicodedata.category(nxt) not in ("Mn", "Mc", "Me")
        assert nxt not in ("\U0001f3fd", "\ufe0f")
        flags = len(re.findall("[\U0001f1e6-\U0001f1ff]", body))
        assert flags % 2 == 0


def test_cjk_and_emoji_not_cut_mid_character() -> None:
    """Cutting CJK or astral emoji yields whole code points that encode to UTF-8."""
    for raw in ("中文标题" * 200, "😀" * 1000, "舆情😡" * 300):
        out = clean(raw, 101)
        out.encode("utf-8")  # a split surrogate would raise here
        assert len(out) == 101 and raw.startswith(out[:-1])


def test_short_text_under_limit_is_returned_unchanged() -> None:
    """Clean text within the limit is returned as is (the fast path)."""
    text = "某镇中学食堂 https://weibo.com/1"
    assert clean(text) is text


def test_unbounded_when_max_len_is_none() -> None:
    """max_len=None keeps the whole text."""
    assert clean("x" * 20_000, None) == "x" * 20_000


def test_max_len_must_be_positive() -> None:
    """A zero limit is a programming error."""
    with pytest.raises(ValueError, match="max_len"):
        clean("x", 0)


def test_to_text_keeps_markup_literal() -> None:
    """`[bold red]x[/]` through to_text is plain text with no styles, printed literally."""
    text = to_text("[bold red]x[/] :smile: [link=https://evil]y[/link]")
    assert isinstance(text, Text)
    assert text.plain == "[bold red]x[/] :smile: [link=https://evil]y[/link]"
    assert text.spans == []
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="truecolor", width=200).print(text)
    assert "[bold red]x[/]" in buf.getvalue() and ":smile:" in buf.getvalue()


def test_to_text_strips_escapes_before_rendering() -> None:
    """A rendered Text contains none of the attacker's escape sequences."""
    buf = io.StringIO()
    Console(file=buf, force_terminal=False, width=200).print(
        to_text("ok\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202edone"))
    assert buf.getvalue() == "ok<U+202E>done\n"


def test_to_text_multiline_and_style() -> None:
    """line=False keeps line breaks; the style applies to the whole text."""
    text = to_text("a\nb", line=False, style="bold")
    assert text.plain == "a\nb" and str(text.style) == "bold"
    assert to_text("a\nb").plain == "a b"


@pytest.mark.parametrize(("raw", "expected"), [
    ("a\x1b[31mRED\x1b[0m b", "aRED b"),  # the printable remainder goes with the ESC
    ("x\x1b]52;c;aGVsbG8=\x07y", "xy"),
    ("\x9b1m8-bit\x9b0m", "8-bit"),
    ("line\r\nbreak\u2028kept", "line\nbreak\nkept"),
    ("\u202eevil\x00 [bold]x[/]", "\u202eevil\x00 [bold]x[/]"),  # nothing else is touched
    ("t\x1b]0;unterminated", "t"),
])
def test_strip_escapes(raw: str, expected: str) -> None:
    """Only whole escape sequences go (for text that leaves for another reader's cleaning)."""
    assert strip_escapes(raw) == expected
