"""Domain errors: one small family whose codes are the reply codes of DESIGN.md §4.2.

    DomainError(code, field, message, zh=…)    code: invalid | not_found | conflict | forbidden | unavailable
     ├── Invalid        code "invalid"         bad input: names the field and says what would be valid
     │    └── InvalidReport  (also a ReportError)
     ├── NotFound       code "not_found"       the incident (or other thing) named does not exist
     │    └── ReportNotFound (also a ReportError)
     ├── Conflict       code "conflict"        valid input that the current state refuses (close twice…)
     ├── Forbidden      code "forbidden"       the actor may not do this
     ├── Unavailable    code "unavailable"     a dependency is down; the caller may retry
     └── ReportError    (code, field, message) what `parse_report` raises; constructing it picks
                                               InvalidReport or ReportNotFound from the code, so
                                               `except Invalid` and `except ReportError` both work

Every refusal is worded twice, by the code that raises it: `message` in English (what a
monitor's tool and the English interface read) and `zh`, its Chinese twin (what the Chinese
CLI and board show): `Conflict("kind", "the incident is already flagged rumour",
zh="该舆情已标记为谣言")`. A test walks every raise site and fails on one without `zh=`.

Every error turns into the wire form with `to_reply()`:
`{"ok": false, "error": {"code": …, "field": …, "message": …, "message_zh": …}}`;
`message_in(error, lang)` reads the right text back out of a reply.

`split_msgspec_error` is the one reader of msgspec's validation text ("Expected `int`, got
`str` - at `$.a.b[0]`"): `validate` turns it into an `Invalid` naming the field, and the
config loader into a `ConfigError` naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

CODES = ("invalid", "not_found", "conflict", "forbidden", "unavailable")


class DomainError(Exception):
    """A refusal the caller can act on: a reply code, the field at fault and a readable message
    in English (`message`) and Chinese (`message_zh`)."""

    code: str
    field: str | None
    message: str
    message_zh: str

    def __init__(self, code: str, field: str | None, message: str, zh: str | None = None) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}; one of {', '.join(CODES)}")
        super().__init__(code, field, message)
        self.code, self.field, self.message = code, field, message
        # Without a twin the English stands in (a test keeps every raise site worded twice).
        self.message_zh = zh or message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message, "message_zh": self.message_zh}

    def to_reply(self) -> dict[str, Any]:
        return {"ok": False, "error": self.to_dict()}


class _FixedCode(DomainError):
    """A subclass whose code is fixed: constructed with (field, message, zh=…) only."""

    CODE: ClassVar[str] = "invalid"

    def __init__(self, field: str | None, message: str, zh: str | None = None) -> None:
        super().__init__(self.CODE, field, message, zh)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.message, self.message_zh))


class Invalid(_FixedCode):
    CODE = "invalid"


class NotFound(_FixedCode):
    CODE = "not_found"


class Conflict(_FixedCode):
    CODE = "conflict"


class Forbidden(_FixedCode):
    CODE = "forbidden"


class Unavailable(_FixedCode):
    CODE = "unavailable"


class ReportError(DomainError):
    """A report refused by `parse_report`: code `invalid` or `not_found`, the dotted field path.

    `ReportError("invalid", "title", "…")` returns an `InvalidReport` (an `Invalid` too) and
    `ReportError("not_found", "incident_id", "…")` a `ReportNotFound` (a `NotFound` too).
    """

    def __new__(cls, code: str, field: str | None, message: str, zh: str | None = None) -> ReportError:
        if cls is ReportError:
            if code not in _REPORT_CLASSES:
                raise ValueError(f"a report error is 'invalid' or 'not_found', not {code!r}")
            cls = _REPORT_CLASSES[code]
        return super().__new__(cls)  # type: ignore[no-any-return]

    def __init__(self, code: str, field: str | None, message: str, zh: str | None = None) -> None:
        DomainError.__init__(self, code, field, message, zh)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReportError, (self.code, self.field, self.message, self.message_zh))


class InvalidReport(ReportError, Invalid):
    pass


class ReportNotFound(ReportError, NotFound):
    pass


_REPORT_CLASSES: dict[str, type[ReportError]] = {"invalid": InvalidReport, "not_found": ReportNotFound}


def message_in(error: Mapping[str, Any], lang: str) -> str:
    """The message of an error reply in `lang`: `message_zh` for Chinese when the reply has
    one (replies made before it existed, or by the CLI itself, may not), else `message`."""
    if lang == "zh" and error.get("message_zh"):
        return str(error["message_zh"])
    return str(error.get("message") or "")


# --- msgspec's validation text ------------------------------------------------------------

_AT = " - at `"
_PART = re.compile(r"(?:^|\.)([^.\[]+)|\[(\d+)\]")


def split_msgspec_error(exc: Exception) -> tuple[str, str]:
    """'Expected `int`, got `str` - at `$.a.b[0]`' → ('Expected `int`, got `str`', 'a.b[0]').

    The path is msgspec's, without `$.` (dict keys stay as msgspec writes them, `[...]`);
    '' when the error is about the whole document."""
    text = str(exc)
    problem, sep, where = text.rpartition(_AT)
    if not sep:
        return text, ""
    return problem, where.rstrip("`").removeprefix("$").lstrip(".")


def path_parts(path: str) -> list[str | int]:
    """'metrics.reposts' → ['metrics', 'reposts']; 'evidence[2]' → ['evidence', 2]."""
    return [name if name else int(index) for name, index in _PART.findall(path)]
