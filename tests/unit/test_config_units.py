"""units.toml: every mistake named by file, key and problem, with the profile that brought it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.config.units import load_units

OFFICE = '[[units]]\nid = "office"\nname = "办公室"\n'


ERROR_CASES = [
    ("duplicate id", OFFICE + OFFICE, "units[1].id", "duplicate unit id 'office' (first at units[0])"),
    ("unknown parent", OFFICE + '[[units]]\nid = "a"\nname = "A"\nparent = "county"\n', "units[1].parent",
     "unknown unit 'county'; known: office, a"),
    ("office not defined", 'office = "duty"\n' + OFFICE, "office", "unit 'duty' is not defined in [[units]]"),
    ("no units", "", "office", "unit 'office' is not defined in [[units]]"),
    ("parent loop", OFFICE + '[[units]]\nid = "a"\nname = "A"\nparent = "b"\n'
     '[[units]]\nid = "b"\nname = "B"\nparent = "a"\n', "units[1].parent", "parent chain of 'a' loops: a → b → a"),
    ("own parent", '[[units]]\nid = "office"\nname = "O"\nparent = "office"\n', "units[0].parent",
     "parent chain of 'office' loops: office → office"),
    ("id with comma", OFFICE + '[[units]]\nid = "a,b"\nname = "A"\n', "units[1].id",
     "'a,b' must be one token, without spaces or commas"),
    ("empty name", OFFICE + '[[units]]\nid = "a"\nname = " "\n', "units[1].name", "unit 'a' needs a name"),
    ("bad topic", OFFICE + '[[units]]\nid = "a"\nname = "A"\ntopics = ["food"]\n', "units[1].topics[0]",
     "'food' is not a topic; one of food_drug"),
    ("empty keyword", OFFICE + '[[units]]\nid = "a"\nname = "A"\nkeywords = ["x", ""]\n', "units[1].keywords[1]",
     "empty keyword"),
    ("duplicate region", OFFICE + '[[units]]\nid = "a"\nname = "A"\nregion = "甲镇"\n'
     '[[units]]\nid = "b"\nname = "B"\nregion = "甲镇"\n', "units[2].region",
     "region '甲镇' already belongs to unit 'a'"),
    ("bad step", 'order = ["unit_hint", "mood"]\n' + OFFICE, "order[1]",
     "'mood' is not a routing step; one of unit_hint, cross_region, region, topic, keywords"),
    ("step twice", 'order = ["region", "region"]\n' + OFFICE, "order[1]", "step 'region' is listed twice"),
    ("unknown key", OFFICE + 'liason = "x"\n', "units[0]", "object contains unknown field `liason`"),
]


@pytest.mark.parametrize(("text", "key", "problem"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_config_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    """A bad units.toml fails at load with file, key and problem."""
    (tmp_path / "units.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'units.toml'}: key `{key}`: {problem}")):
        load_units(ConfigSource(config_dir=tmp_path, profile="default"))


def test_config_error_names_the_profile(tmp_path: Path) -> None:
    """An error brought in by a profile's [units] names the profile file too."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "plan-x.toml").write_text('[units]\noffice = "ghost"\n', encoding="utf-8")
    expected = "units.toml (with profiles/plan-x.toml): key `office`: unit 'ghost' is not defined in [[units]]"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_units(ConfigSource(config_dir=tmp_path, profile="plan-x"))
