"""calendar.toml: every mistake named by file, key and problem; the shipped file, overrides, profiles."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.config.calendar import CalendarConfig, calendar_from_data, load_calendar
from watchboard.domain.calendar import WorkCalendar, covered_until

Z = ZoneInfo("Asia/Shanghai")


def t(text: str) -> datetime:
    """'2026-09-18 16:00' → aware datetime in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=Z)


def local(at: datetime) -> str:
    return at.astimezone(Z).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("data", "message"), [
    ({"work_hours": ["08:30-12:00", "11:00-17:30"]},
     "calendar.toml: key `work_hours`: work periods overlap: one ends at 12:00, the next starts at 11:00"),
    ({"work_hours": ["8:30-12:00"]},
     "calendar.toml: key `work_hours[0]`: '8:30-12:00' is not a period like '08:30-12:00' "
     "(HH:MM-HH:MM, 24-hour clock)"),
    ({"work_hours": ["08:30-12:00", "14:00-25:00"]},
     "calendar.toml: key `work_hours[1]`: '14:00-25:00' is not a period like '08:30-12:00' "
     "(HH:MM-HH:MM, 24-hour clock)"),
    ({"work_hours": ["12:00-08:30"]}, "calendar.toml: key `work_hours[0]`: '12:00-08:30' ends before it starts"),
    ({"work_hours": []}, "calendar.toml: key `work_hours`: no work periods; give at least one like '08:30-12:00'"),
    ({"timezone": "Mars/Base"},
     "calendar.toml: key `timezone`: unknown time zone 'Mars/Base'; use an IANA name such as 'Asia/Shanghai'"),
    ({"years": {"27": {}}}, "calendar.toml: key `years.27`: '27' is not a year like '2027'"),
    ({"years": {"2027": {"holidays": [date(2028, 1, 1)]}}},
     "calendar.toml: key `years.2027.holidays`: 2028-01-01 is not in 2027"),
    ({"years": {"2027": {"holidays": [date(2027, 2, 6)], "workdays": [date(2027, 2, 6)]}}},
     "calendar.toml: key `years.2027.holidays`: 2027-02-06 is also in years.2027.workdays"),
    ({"extra_holidays": [date(2026, 3, 9)], "extra_workdays": [date(2026, 3, 9)]},
     "calendar.toml: key `extra_holidays`: 2026-03-09 is also in extra_workdays"),
    ({"work_hour": []}, "calendar.toml: object contains unknown field `work_hour`"),
    ({"extra_holidays": ["2026-13-01"]}, "calendar.toml: key `extra_holidays[0]`: invalid RFC3339 encoded date"),
    ({"warn_days_before_end": -1}, "calendar.toml: key `warn_days_before_end`: -1 is negative"),
])
def test_calendar_config_errors(data: dict, message: str) -> None:
    """Each config mistake gives one line naming file, key and problem."""
    with pytest.raises(ConfigError) as info:
        calendar_from_data(data)
    assert str(info.value) == message


def test_default_calendar_toml_loads() -> None:
    """The shipped calendar.toml loads and equals the built-in defaults."""
    assert load_calendar(ConfigSource(profile="default")) == CalendarConfig()


def test_calendar_toml_override_and_profile(tmp_path: Path) -> None:
    """A --config folder's calendar.toml with [years.2027] and a profile's [calendar] both apply."""
    (tmp_path / "calendar.toml").write_text(
        '[years.2027]\nholidays = [2027-01-01]\nworkdays = []\n', encoding="utf-8")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "school.toml").write_text(
        '[calendar]\nwork_hours = ["08:00-12:00", "14:30-18:00"]\n', encoding="utf-8")
    cal = WorkCalendar(load_calendar(ConfigSource(config_dir=tmp_path, profile="school")))
    assert covered_until(cal) == date(2027, 12, 31)
    at, prov = cal.add_working_days(t("2026-12-28 10:00"), 5)
    assert (local(at), prov) == ("2027-01-05 18:00", False)
