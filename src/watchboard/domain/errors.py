"""Domain errors: one small family whose codes are the reply codes of DESIGN.md §4.2.

    DomainError(code, field, message)          code: invalid | not_found | conflict | forbidden | unavailable
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

Every error turns into the wire form with `to_reply()`:
`{"ok": false, "error": {"code": …, "field": …, "message": …}}`.

`split_msgspec_error` is the one reader of msgspec's validation text ("Expected `int`, got
`str` - at `$.a.b[0]`"): `validate` turns it into an `Invalid` naming the field, and the
config loader into a `ConfigError` naming the key.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

CODES = ("invalid", "not_found", "conflict", "forbidden", "unavailable")


class DomainError(Exception):
    """A refusal the caller can act on: a reply code, the field at fault and a readable message."""

    code: str
    field: str | None
    message: str

    def __init__(self, code: str, field: str | None, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}; one of {', '.join(CODES)}")
        super().__init__(code, field, message)
        self.code, self.field, self.message = code, field, message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}

    def to_reply(self) -> dict[str, Any]:
        return {"ok": False, "error": self.to_dict()}


class _FixedCode(DomainError):
    """A subclass whose code is fixed: constructed with (field, message) only."""

    CODE: ClassVar[str] = "invalid"

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(self.CODE, field, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.message))


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

    def __new__(cls, code: str, field: str | None, message: str) -> ReportError:
        if cls is ReportError:
            if code not in _REPORT_CLASSES:
                raise ValueError(f"a report error is 'invalid' or 'not_found', not {code!r}")
            cls = _REPORT_CLASSES[code]
        return super().__new__(cls)  # type: ignore[no-any-return]

    def __init__(self, code: str, field: str | None, message: str) -> None:
        DomainError.__init__(self, code, field, message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReportError, (self.code, self.field, self.message))


class InvalidReport(ReportError, Invalid):
    pass


class ReportNotFound(ReportError, NotFound):
    pass


_REPORT_CLASSES: dict[str, type[ReportError]] = {"invalid": InvalidReport, "not_found": ReportNotFound}


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
