"""Warnings on accepted requests: unknown unit hints and regions, notes on closed incidents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watchboard.config.units import load_units
from watchboard.domain.hints import note_warnings, report_warnings
from watchboard.domain.report import Report
from watchboard.domain.views import CoreView

UNITS = load_units()
AT = datetime(2026, 11, 27, 8, 14, tzinfo=UTC)


@pytest.mark.parametrize(("unit_hint", "region", "expected"), [
    (None, None, []),
    ("education", "仲山镇", []),
    ("教育局", "仲山镇东村", []),  # a short name; a village inside a town's region
    ("education,health", None, []),
    ("edu", None, [("unit_hint", "unknown_unit", "edu")]),
    ("education、教委", None, [("unit_hint", "unknown_unit", "教委")]),
    (None, "临江镇", [("region", "unknown_region", "临江镇")]),
    ("nobody", "火星", [("unit_hint", "unknown_unit", "nobody"), ("region", "unknown_region", "火星")]),
])
def test_report_warnings(unit_hint: str | None, region: str | None, expected: list[tuple[str, str, str]]) -> None:
    """Each unit name the hint gives that units.toml does not know, and a region no unit governs."""
    report = Report(title="t", platform="weibo", unit_hint=unit_hint, region=region)
    found = report_warnings(report, UNITS)
    assert [(w["field"], w["code"], w["value"]) for w in found] == expected
    assert all(w["value"] in w["message"] for w in found)


@pytest.mark.parametrize(("stage", "warned"), [("handling", False), ("subsided", False), ("closed", True)])
def test_note_warnings(stage: str, warned: bool) -> None:
    """A note on a closed incident is kept, and the reply says the incident is closed."""
    core = CoreView(id="01J0000000000000000000000A", title="t", stage=stage, reported_at=AT,
                    closed_at=AT if stage == "closed" else None)
    found = note_warnings(core)
    assert bool(found) is warned
    if warned:
        assert found[0]["code"] == "closed" and found[0]["value"] == AT.isoformat()
    assert note_warnings(None) == []
