"""The one sanitizer for untrusted text (titles, summaries, URLs, names from the internet)
before a widget or a terminal shows it (DESIGN.md §2).

`clean(text)` keeps line breaks and tabs; `clean_line(text)` makes one line (every run of
line breaks and tabs becomes one space, ends trimmed); `to_text(text)` returns a Rich `Text`
of the cleaned string. What they do, in order:

1. `\\r\\n`, `\\r`, NEL (U+0085), LINE/PARAGRAPH SEPARATOR (U+2028/9) become `\\n`.
2. Whole escape sequences are removed, not just their ESC, so no parameter text is left:
   CSI (`ESC [ … final`, and 8-bit `\\x9b …`), OSC (`ESC ] … BEL|ESC \\`, 8-bit `\\x9d`),
   DCS/SOS/PM/APC (`ESC P|X|^|_ … ESC \\`, 8-bit `\\x90 \\x98 \\x9e \\x9f`) and two-character
   ESC sequences (`ESC 7`, `ESC c`, `ESC ( B` …). A string sequence with no terminator runs
   to the end of the text, as a terminal would swallow it (an OSC 52 clipboard payload is
   never shown).
3. Characters that must not reach a terminal are shown as visible placeholders, so an
   operator sees that something odd was sent:
   - C0 controls (other than `\\n` and, in `clean`, `\\t`) and DEL → their Control Pictures
     (`␀` … `␟`, `␡`): one cell wide, like the character they stand for;
   - C1 controls U+0080–U+009F (no Control Pictures exist) and the bidirectional controls
     (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and deprecated format controls
     (U+206A–U+206F) → `<U+202E>`. A right-to-left override can make "gpj.exe" read as
     "exe.jpg"; the placeholder shows where it was and stops the reordering.
4. Invisible characters are removed: zero-width space, non-joiner and joiner (U+200B–D),
   word joiner and invisible operators (U+2060–U+2064), BOM (U+FEFF), Mongolian vowel
   separator (U+180E) and the tag characters (U+E0000–U+E007F, used to smuggle hidden
   ASCII). They carry no meaning for the duty room and are used to dodge keyword filters;
   dropping the joiner also splits emoji ZWJ sequences into their parts, which terminals
   draw with a width Rich can predict.
5. Lone surrogates (possible in a Python str, never encodable to a terminal) become U+FFFD.
6. Text longer than `max_len` characters (code points, after placeholders) is cut and ends
   with `…`; the cut never splits a placeholder, a base character from its combining marks,
   variation selectors or emoji skin-tone modifiers, or a flag's regional-indicator pair.
   `max_len` counts characters, not terminal cells (CJK characters are two cells wide):
   widgets still crop to their width.

Rich markup is NOT interpreted or escaped here: `[bold red]x[/]` comes out unchanged. A
widget must therefore never hand untrusted text to anything that parses markup: render it
as `rich.text.Text(str)` (what `to_text` returns), or with `markup=False`. In Textual, pass
a `Text` to `Static`, `Label` and `DataTable` cells — a plain `str` given to a `DataTable`
cell or to `Static` is parsed as markup — and never put untrusted text in f-string markup.
"""

from __future__ import annotations

import re
import unicodedata

from rich.text import Text

__all__ = ["ELLIPSIS", "clean", "clean_line", "strip_escapes", "to_text"]

ELLIPSIS = "…"

_NEWLINES = re.compile(r"\r\n?|[\x85\u2028\u2029]")

# Escape sequences (ECMA-48), 7-bit and 8-bit forms; string sequences run to a terminator.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*(?:[@-~]|\Z)"  # CSI: parameters, intermediates, final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)"  # OSC DCS SOS PM APC
    r"|\x1b[ -/]*[0-~]",  # two-character (and nF) escape sequences: ESC 7, ESC ( B …
    re.DOTALL,
)


def _placeholder(code: int) -> str:
    return f"<U+{code:04X}>"


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # Control Pictures: ␀ … ␟
    del table[0x0A]  # "\n" is kept by clean (clean_line turns it into a space first)
    del table[0x09]  # so is "\t"
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):
        table[code] = _placeholder(code)
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x2070)):
        table[code] = _placeholder(code)
    for code in (0x180E, 0x200B, 0x200C, 0x200D, *range(0x2060, 0x2065), 0xFEFF, *range(0xE0000, 0xE0080)):
        table[code] = None
    for code in range(0xD800, 0xE000):
        table[code] = "\ufffd"
    return table


_TABLE = _build_table()
# Anything the steps above would change: if none is present (and the text is short) the
# text is returned as is, which is the common case and costs one regex scan.
_SUSPECT = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029"
    r"\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)
_LINE_BREAKS = re.compile(r"[\n\t]+")


def _is_extender(ch: str) -> bool:
    """Characters that belong to the cluster before them: a cut must not separate them."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _truncate(text: str, max_len: int) -> str:
    """Cut `text` (not yet translated) so its translation plus … fits in `max_len`."""
    budget = max_len - len(ELLIPSIS)
    used = 0
    cut = 0
    for ch in text:
        piece = _TABLE.get(ord(ch), ch)
        size = 0 if piece is None else len(piece)
        if used + size > budget:
            break
        used += size
        cut += 1
    while 0 < cut < len(text) and _is_extender(text[cut]):
        cut -= 1  # the excluded mark belongs to text[cut - 1]: leave the whole cluster out
    if 0 < cut < len(text) and _is_regional(text[cut]) and _is_regional(text[cut - 1]):
        run = 0
        while run < cut and _is_regional(text[cut - 1 - run]):
            run += 1
        if run % 2:  # the last kept indicator is the first half of a flag
            cut -= 1
    return text[:cut].translate(_TABLE).rstrip() + ELLIPSIS


def _clean(text: str | None, max_len: int | None, line: bool) -> str:
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be 1 or more, got {max_len}")
    if text is None:  # an absent optional field shows as nothing
        return ""
    if not _SUSPECT.search(text) and not (line and ("\n" in text or "\t" in text)):
        if max_len is None or len(text) <= max_len:
            return text.strip() if line else text
    text = _NEWLINES.sub("\n", text)
    text = _ESCAPES.sub("", text)
    if line:
        text = _LINE_BREAKS.sub(" ", text).strip()
    out = text.translate(_TABLE)
    if max_len is None or len(out) <= max_len:
        return out
    return _truncate(text, max_len)


def strip_escapes(text: str) -> str:
    """`text` without its escape sequences, each removed whole (step 2 above), line breaks
    made `\\n`; nothing else changed. For text that leaves for another reader — a chat robot,
    an e-mail — whose own cleaning drops control characters one by one: dropping only the ESC
    of `\\x1b[31mRED\\x1b[0m` would leave `[31mRED[0m` printed in the message."""
    return _ESCAPES.sub("", _NEWLINES.sub("\n", text))


def clean(text: str | None, max_len: int | None = 500) -> str:
    """Untrusted text made safe to show; keeps `\\n` and `\\t` (see the module docstring)."""
    return _clean(text, max_len, line=False)


def clean_line(text: str | None, max_len: int | None = 500) -> str:
    """Untrusted text as one safe line: line breaks and tabs become single spaces."""
    return _clean(text, max_len, line=True)


def to_text(text: str | None, max_len: int | None = 500, *, line: bool = True, style: str = "") -> Text:
    """A Rich `Text` of the cleaned text: plain, no markup or emoji codes interpreted."""
    return Text(clean_line(text, max_len) if line else clean(text, max_len), style=style)
