"""grading.toml: the shipped file says what the Structs say; every mistake named by file, key
and problem, with the profile that brought it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.config.grading import GradingConfig, load_grading, used_grades

CFG = GradingConfig()


def test_default_file_equals_struct_defaults() -> None:
    """grading.toml as shipped says exactly what the struct defaults say."""
    assert load_grading(ConfigSource(profile="default")) == CFG
    assert used_grades(CFG) == ("I", "II", "III", "IV")


ERROR_CASES = [
    ("bad rule grade", '[rules.reposts]\ngrade = "V"\n', "rules.reposts.grade",
     "'V' is not a grade; one of I, II, III, IV"),
    ("typo in a rule", "[rules.repost]\nmin_reposts = 10\n", "rules", "object contains unknown field `repost`"),
    ("wrong type", '[rules.reposts]\nmin_reposts = "100"\n', "rules.reposts.min_reposts",
     "expected `int`, got `str`"),
    ("zero reposts", "[rules.reposts]\nmin_reposts = 0\n", "rules.reposts.min_reposts", "0 must be 1 or more"),
    ("one region", "[rules.cross_region]\nmin_regions = 1\n", "rules.cross_region.min_regions",
     "1 must be 2 or more"),
    ("zero growth", "[rules.rising]\nmin_growth_per_hour = 0\n", "rules.rising.min_growth_per_hour",
     "0.0 must be more than 0"),
    ("media level", '[rules.mainstream_media]\nmin_level = "county"\n', "rules.mainstream_media.min_level",
     "'county' is not a media level; one of none, local, city, provincial, national"),
    ("platform", '[rules.mainstream_media]\nplatforms = ["tv", "cctv"]\n',
     "rules.mainstream_media.platforms[1]", "'cctv' is not a platform; one of weibo"),
    ("topic", '[rules.key_area]\ntopics = ["food"]\n', "rules.key_area.topics[0]",
     "'food' is not a topic; one of food_drug"),
    ("sentiment", '[alarm]\nquiet_sentiments = ["happy"]\n', "alarm.quiet_sentiments[0]",
     "'happy' is not a sentiment; one of negative, neutral, positive"),
    ("min_span", '[engagement]\nmin_span = "soon"\n', "engagement.min_span",
     "'soon' is not a duration like '15m' or '1h'"),
    ("negative weight", "[engagement]\nlikes = -1\n", "engagement.likes", "weight -1.0 must be 0 or more"),
    ("collapse to self", '[collapse]\nIII = "III"\n', "collapse.III", "'III' collapses into itself"),
    ("collapse unknown", '[collapse]\nV = "IV"\n', "collapse.V", "'V' is not a grade"),
    ("collapse target", '[collapse]\nIII = "V"\n', "collapse.III", "'V' is not a grade"),
    ("collapse chain", '[collapse]\nIII = "IV"\nIV = "II"\n', "collapse.III",
     "target 'IV' is itself collapsed into 'II'; collapse 'III' straight into the final grade"),
    ("empty label", '[labels.zh]\nII = " "\n', "labels.zh.II", "grade 'II' is in use and its label is empty"),
    ("label of no grade", '[labels.en]\nV = "Five"\n', "labels.en.V", "'V' is not a grade"),
    ("repost count", '[rules.reposts]\ncount = "each"\n', "rules.reposts.count",
     "'each' is not a way to count reposts; one of sum, per_source"),
    ("multi_platform growth", "[rules.multi_platform]\nmin_growth_per_hour = -5\n",
     "rules.multi_platform.min_growth_per_hour", "-5.0 must be more than 0"),
    ("require_rising type", '[rules.multi_platform]\nrequire_rising = "yes"\n', "rules.multi_platform.require_rising",
     "expected `bool`, got `str`"),
    ("quote without quote_en", '[rules.reposts]\nquote = "「微博转发达100条以上」"\nquote_en = ""\n',
     "rules.reposts.quote_en", "is empty but `quote` is set: give the plan's words in both languages, or neither"),
    ("quote_en without quote", '[rules.rising]\nquote = ""\n', "rules.rising.quote",
     "is empty but `quote_en` is set: give the plan's words in both languages, or neither"),
    ("quote too long", '[rules.rising]\nquote = "' + "长" * 161 + '"\n', "rules.rising.quote",
     "161 characters; at most 160 (a reason is one short line)"),
    ("quote on two lines", '[rules.emergency]\nquote_en = "one\\ntwo"\n', "rules.emergency.quote_en",
     "must be one line of printable text (no line breaks or control characters)"),
]


@pytest.mark.parametrize(("text", "key", "problem"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_config_errors(tmp_path: Path, text: str, key: str, problem: str) -> None:
    """A bad grading.toml fails at load with file, key and problem."""
    (tmp_path / "grading.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'grading.toml'}: key `{key}`: {problem}")):
        load_grading(ConfigSource(config_dir=tmp_path, profile="default"))


def test_config_error_names_the_profile(tmp_path: Path) -> None:
    """An error brought in by a profile names the profile file too."""
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "plan-x.toml"
    profile.write_text('[grading.collapse]\nII = "II"\n', encoding="utf-8")
    expected = "grading.toml (with profiles/plan-x.toml): key `collapse.II`: 'II' collapses into itself"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_grading(ConfigSource(config_dir=tmp_path, profile="plan-x"))
