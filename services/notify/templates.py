"""Message templates: `{name}` placeholders filled with values that may be untrusted.

Titles and unit names come from the internet or from monitors, so every value is cleaned
(control and format characters removed, newlines folded, length bounded) and, where the
target is a chat robot's markdown, its markdown characters are swapped for their
full-width look-alikes. Robots differ in whether they honour backslash escapes (WeCom and
DingTalk render a subset of markdown and may show the backslash), while the full-width
forms read naturally in Chinese text and can never open a link, a heading or a `<font>` tag.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

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
    "=": "＝", "{": "｛", "}": "｝",
})


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
    for ch in text:
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


def fill(template: str, values: dict[str, str], *, markdown: bool = False) -> str:
    """Fill `{name}` placeholders; raises TemplateError for a name with no value."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TemplateError(f"template names {{{name}}}, which has no value here")
        value = clean(values[name])
        return escape_markdown(value) if markdown and name != "ack_url" else value
    return _PLACEHOLDER.sub(one, template)


def render(out: Outgoing, *, markdown: bool = False) -> tuple[str, str]:
    """(subject, body) of a notice; the body lists a digest's items and ends with the ack link."""
    values = dict(out.values, ack_url=out.ack_url, n=str(len(out.items)), items="")
    subject = fill(out.subject, values, markdown=markdown)
    body = fill(out.body, values, markdown=markdown)
    if out.items:
        lines = [escape_markdown(clean(i)) if markdown else clean(i) for i in out.items]
        body = body.rstrip() + "\n" + "\n".join(f"- {line}" for line in lines)
    if out.ack_url and "{ack_url}" not in out.body:
        label = "确认收到" if out.lang == "zh" else "Acknowledge"
        body = body.rstrip() + ("\n\n" + f"[{label}]({out.ack_url})" if markdown else f"\n\n{label}: {out.ack_url}")
    return subject, body


def bound_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes on a character boundary (robots count bytes)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: max(limit - 3, 0)].decode("utf-8", errors="ignore") + "…"
