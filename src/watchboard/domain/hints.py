"""Warnings for an accepted request (pure): what intake took but a person should know.

A report whose `unit_hint` names no unit, or whose `region` belongs to no unit, is still
accepted (the record must be faithful), but routing then falls back to the next step
(DOMAIN.md §3, `owners.route_owner`): the monitor is told so instead of finding out later.
A note on a closed incident is kept too (the review after closing writes them), and the
reply says the incident is closed, in case the id was a slip.

Each warning is `{"field", "code", "value", "message"}`: `message` is English for logs and
other clients; the CLI words it in its own language from `code` and `value`.
"""

from __future__ import annotations

import re
from typing import Any

from watchboard.config.units import UnitsConfig
from watchboard.domain.owners import resolve_unit
from watchboard.domain.report import Report
from watchboard.domain.views import CoreView

_HINT_SPLIT = re.compile(r"[,，、;；/]+")  # as owners.route_owner splits a hint


def warning(field: str, code: str, value: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "value": value, "message": message}


def report_warnings(report: Report, units: UnitsConfig) -> list[dict[str, Any]]:
    """Unknown unit names in `unit_hint`, and a `region` no unit governs."""
    out = []
    if report.unit_hint:
        for token in (t.strip() for t in _HINT_SPLIT.split(report.unit_hint)):
            if token and resolve_unit(token, units) is None:
                out.append(warning("unit_hint", "unknown_unit", token,
                                   f"unit_hint {token!r} names no unit of units.toml; the owner is "
                                   "found by region, topic or keywords"))
    if report.region and not any(u.region and u.region in report.region for u in units.units):
        out.append(warning("region", "unknown_region", report.region,
                           f"region {report.region!r} belongs to no unit of units.toml; the owner is "
                           "found by topic or keywords"))
    return out


def note_warnings(core: CoreView | None) -> list[dict[str, Any]]:
    """A note on a closed incident is kept for the review; say that it is closed."""
    if core is None or core.stage != "closed":
        return []
    closed = core.closed_at.isoformat() if core.closed_at else ""
    return [warning("incident_id", "closed", closed,
                    f"incident {core.id} was closed at {closed}: the note is kept as part of the "
                    "review after closing")]
