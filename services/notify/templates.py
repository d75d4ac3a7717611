"""Message templates: `{name}` placeholders filled with values that may be untrusted.

Titles and unit names come from the internet or from monitors, so every value is cleaned
(escape sequences removed whole, control and format characters removed, newlines folded,
length bounded) and escaped for the format it goes out in (`Style`):

- `markdown` (WeCom and DingTalk markdown): every markdown character is swapped for its
  full-width look-alike. Robots differ in whether they honour backslash escapes (WeCom and
  DingTalk render a subset of markdown and may show the backslash), while the full-width
  forms read naturally in Chinese text and can never open a link, a heading, a `<font>` tag
  or WeCom's `<@userid>` mention;
- `text` (any robot's plain text message): `<`, `>` and `&` are swapped the same way,
  because Feishu reads tags in a text message — a title `<at user_id="all">所有人</at>`
  would page the whole group as @所有人 — and may decode an entity into one;
- `plain` (e-mail, the generic JSON webhook): cleaned only; their readers show text as text.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

from watchboard.domain.sanitize import strip_escapes

PLACEHOLDERS = frozenset({
    "title", "grade", "owner", "unit", "clock", "due_at", "point", "count", "window", "tier",
    "incident_id", "person", "ack_url", "n", "items", "at", "late", "kind", "reason",
    "period", "summary", "link",  # the scheduled reports (reporting.py)
})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# Characters with a meaning in the markdown of WeCom, DingTalk and Feishu robots.
_MARKDOWN_SWAP = str.maketrans({
    "*": "＊", "_": "＿", "[": "［", "]": "］", "(": "（", ")": "）", "#": "＃", "<": "＜",
    ">": "＞", "`": "｀", "|": "｜", "~": "～", "!": "！", "\\": "＼", "+": "＋", "-": "－",
    "=": "＝", "{": "｛", "}": "｝", "&": "＆",  # an entity could be decoded into a tag
})


# Characters a robot's plain text message gives a meaning (Feishu's `<at user_id="all">`).
_TAG_SWAP = str.maketrans({"<": "＜", ">": "＞", "&": "＆"})

PLAIN, TEXT, MARKDOWN = "plain", "text", "markdown"


class TemplateError(ValueError):
    """A template names a placeholder that does not exist."""


class Outgoing(msgspec.Struct, kw_only=True):
    """One notice to one contact of one person, as stored in the outbox and given to a channel."""

    key: str  # deterministic from (event id, person, contact): the idempotency key
    incident_id: str
    event_id: str
    cause: str  # event type, or "digest"
    person_id: str
    person_name: str
    contact: str  # contact label, e.g. "webhook" or "email:work"
    lang: str = "zh"
    subject: str  # template
    body: str  # template
    values: dict[str, str] = msgspec.field(default_factory=dict)
    ack_url: str = ""
    items: list[str] = msgspec.field(default_factory=list)  # digest: one line per merged notice
    roles: list[str] = msgspec.field(default_factory=list)
    # "low": held into a per-recipient digest on pushing channels (outbox.py); never alone at once.
    priority: str = "normal"
    # Files the e-mail channel attaches (a scheduled report's Word file); read when sent.
    attachments: list[str] = msgspec.field(default_factory=list)


def check_template(text: str) -> str | None:
    """None if `text` is a usable template, else the problem in words."""
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}}; known: {', '.join(sorted(PLACEHOLDERS))}"
    return None


def clean(text: str, limit: int = 0) -> str:
    """One line of printable text, at most `limit` characters (0: no bound)."""
    out = []
    # Whole escape sequences first: dropping only their ESC below would leave `[31m` printed.
    for ch in strip_escapes(text):
        if ch in "\r\n\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue  # control, bidi overrides, zero-width and unassigned characters
        else:
            out.append(ch)
    line = re.sub(r" {2,}", " ", "".join(out)).strip()
    if limit and len(line) > limit:
        line = line[: max(limit - 1, 0)].rstrip() + "…"
    return line


def escape_markdown(text: str) -> str:
    return text.translate(_MARKDOWN_SWAP)


def escape_text(text: str) -> str:
    """For a robot's plain text message: no tag (Feishu's `<at>`) or entity can be formed."""
    return text.translate(_TAG_SWAP)


def escape(text: str, style: str) -> str:
    """`text` escaped for `style` (`plain`, `text` or `markdown`)."""
    if style == MARKDOWN:
        return escape_markdown(text)
    if style == TEXT:
        return escape_text(text)
    return text


def fill(template: str, values: dict[str, str], *, markdown: bool = False, style: str = PLAIN) -> str:
    """Fill `{name}` placeholders; raises TemplateError for a name with no value. Every value
    but the acknowledgement link (which we built) is cleaned and escaped for `style`."""
    style = MARKDOWN if markdown else style

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"template names {{{name}}}, which has no value here")
        value = clean(values[name])
        return value if name == "ack_url" else escape(value, style)
    return _PLACEHOLDER.sub(one, template)


def render(out: Outgoing, *, markdown: bool = False, style: str = PLAIN) -> tuple[str, str]:
    """(subject, body) of a notice; the body lists a digest's items and ends with the ack link.
    `style`: how the values are escaped (`markdown=True` is `style="markdown"`)."""
    style = MARKDOWN if markdown else style
    values = dict(out.values, ack_url=out.ack_url, n=str(len(out.items)), items="")
    subject = fill(out.subject, values, style=style)
    body = fill(out.body, values, style=style)
    if out.items:
        lines = [escape(clean(i), style) for i in out.items]
        body = body.rstrip() + "\n" + "\n".join(f"- {line}" for line in lines)
    if out.ack_url and "{ack_url}" not in out.body:
        label = "确认收到" if out.lang == "zh" else "Acknowledge"
        body = body.rstrip() + ("\n\n" + f"[{label}]({out.ack_url})" if style == MARKDOWN else f"\n\n{label}: {out.ack_url}")
    return subject, body


def bound_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes on a character boundary (robots count bytes)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: max(limit - 3, 0)].decode("utf-8", errors="ignore") + "…"
