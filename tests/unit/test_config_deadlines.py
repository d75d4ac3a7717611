"""deadlines.toml: the shipped file runs the built-in defaults; every mistake named by file, key
and problem, with the profile that brought it."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.config.deadlines import FROM_CHOICES, DeadlinesConfig, deadlines_from_data, load_deadlines
from watchboard.domain.clocks import FALLBACKS

CFG = DeadlinesConfig()


def test_every_from_has_its_fallbacks() -> None:
    """Each `from` a clock may name has the rules' fall-backs, and starts with itself."""
    assert set(FALLBACKS) == set(FROM_CHOICES)
    assert all(FALLBACKS[name][0] == name and FALLBACKS[name][-1] == "reported" for name in FROM_CHOICES)


def test_default_toml_matches_builtin_defaults() -> None:
    """The shipped deadlines.toml runs the built-in defaults (period, from, extendable per clock)."""
    shipped, builtin = load_deadlines(ConfigSource(profile="default")), DeadlinesConfig()

    def rules(cfg: DeadlinesConfig, grade: str) -> list[tuple[str, str, str, bool]]:
        return [(r.name, r.period, r.counted_from, r.extendable) for r in cfg.rules_for(grade)]

    for grade in ("I", "II", "III", "IV"):
        assert rules(shipped, grade) == rules(builtin, grade)
    assert (shipped.remind_every, shipped.reminders_before_flag) == (builtin.remind_every, builtin.reminders_before_flag)


def test_profile_error_names_the_profile_file(tmp_path: Path) -> None:
    """A bad clock in a profile's [deadlines] names deadlines.toml and the profile file."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bad.toml").write_text('[deadlines.grades.II]\nfirst_response = "3x"\n',
                                                    encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_deadlines(ConfigSource(config_dir=tmp_path, profile="bad"))
    assert str(info.value).startswith("deadlines.toml (with profiles/bad.toml): key "
                                      "`grades.II.first_response`: '3x' is not a duration")


@pytest.mark.parametrize(("data", "message"), [
    ({"grades": {"I": {"first_response": "3 hours"}}},
     "deadlines.toml: key `grades.I.first_response`: '3 hours' is not a duration: write a whole "
     "number and a unit, '45s', '30m', '2h', '1d' (calendar), '3wh' (working hours) or '5wd' "
     "(working days)"),
    ({"grades": {"I": {"first_reponse": "3wh"}}},
     "deadlines.toml: key `grades.I.first_reponse`: unknown clock name 'first_reponse'; known: "
     "report_up, first_response, statement, formal_reply, simple_answer, first_handling, final"),
    ({"grades": {"V": {}}},
     "deadlines.toml: key `grades.V`: unknown grade key 'V'; use one of I, II, III, IV"),
    ({"grades": {"I": {"final": 10}}},
     "deadlines.toml: key `grades.I.final`: expected a period like '5wd', 'off', or a table "
     "{ period = \"3h\", from = \"posted\" }, got 10"),
    ({"grades": {"I": {"final": {"period": "10wd", "from": "birth"}}}},
     "deadlines.toml: key `grades.I.final`: from = 'birth' is not one of posted, observed, reported, graded"),
    ({"grades": {"I": {"final": {"from": "posted"}}}},
     "deadlines.toml: key `grades.I.final`: a clock table needs `period`, e.g. { period = \"3h\", from = \"posted\" }"),
    ({"grades": {"I": {"final": {"period": "10wd", "extendible": True}}}},
     "deadlines.toml: key `grades.I.final`: unknown key 'extendible'; a clock table takes period, from, "
     "extendable, seed_ref, quote"),
    ({"remind_every": "2wd"},
     "deadlines.toml: key `remind_every`: '2wd' is more than '1wd'; reminders repeat at least every working day"),
    ({"remind_every": "10s"},
     "deadlines.toml: key `remind_every`: '10s' is less than '15s'"),
    ({"remind_every": "2d"},
     "deadlines.toml: key `remind_every`: '2d' is more than a day; use '1wd' or '24h' at most"),
    ({"sweep": {"windows": ["10:00", "6pm"]}},
     "deadlines.toml: key `sweep.windows[1]`: '6pm' is not a time like '10:00' (HH:MM, 24-hour clock)"),
    ({"sweep": {"windows": ["25:00"]}},
     "deadlines.toml: key `sweep.windows[0]`: '25:00' is not a time like '10:00' (HH:MM, 24-hour clock)"),
    ({"warnings": {"points": ["80%", "half"]}},
     "deadlines.toml: key `warnings.points[1]`: 'half' is not a warning point: write a share like "
     "'80%' or a time before the due time like '30m'"),
    ({"warnings": {"points": ["0%"]}},
     "deadlines.toml: key `warnings.points[0]`: '0%' must be between 1% and 99%"),
    ({"warnings": {"points": ["1wh"]}},
     "deadlines.toml: key `warnings.points[0]`: '1wh': a time before the due time must be "
     "calendar time ('30m', '1h'), not working time"),
    ({"reminders_before_flag": 0},
     "deadlines.toml: key `reminders_before_flag`: 0 must be 1 or more"),
    ({"reminder_before_flag": 3},
     "deadlines.toml: object contains unknown field `reminder_before_flag`"),
])
def test_deadlines_config_errors(data: dict, message: str) -> None:
    """Each config mistake gives one line naming file, key and problem."""
    with pytest.raises(ConfigError) as info:
        deadlines_from_data(data)
    assert str(info.value) == message


def test_config_defaults() -> None:
    """Defaults: warnings at 80 % and 30 min, flag after 3 reminders, sweeps by 10:00 and 18:00."""
    assert CFG.warnings.points == ["80%", "30m"]
    assert CFG.reminders_before_flag == 3
    assert (CFG.sweep.windows, CFG.sweep.include_holidays) == (["10:00", "18:00"], True)
