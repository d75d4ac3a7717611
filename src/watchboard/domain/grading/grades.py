"""A grade as a profile shows it: how serious, what it collapses into, its label and colour.

The contract keeps I–IV on the wire; a profile may collapse grades (`collapse = {III = "IV"}`)
and relabel them (`[labels]`), so every grade a person reads goes through here.
"""

from __future__ import annotations

from typing import Any

from watchboard.config.grading import DEFAULT_LABELS_EN, DEFAULT_LABELS_ZH, GradingConfig, used_grades
from watchboard.domain.grading import text
from watchboard.domain.report import GRADES

GRADE_COLOURS: dict[str, str] = {"I": "red", "II": "orange", "III": "yellow", "IV": "blue"}


def severity(grade: str) -> int:
    """0 for IV … 3 for I: larger is more serious (Level I is the worst)."""
    return len(GRADES) - 1 - GRADES.index(grade)


def collapse(grade: str, cfg: GradingConfig) -> str:
    """The grade a profile shows and puts on the wire for `grade` (itself unless collapsed)."""
    return cfg.collapse.get(grade, grade)


def grade_label(grade: str, cfg: GradingConfig, lang: str = "zh") -> str:
    """The profile's name for `grade` (after collapse), in "zh" or "en"."""
    grade = collapse(grade, cfg)
    labels: dict[str, str] = cfg.labels.en if lang == "en" else cfg.labels.zh
    defaults = DEFAULT_LABELS_EN if lang == "en" else DEFAULT_LABELS_ZH
    return labels.get(grade) or defaults[grade]


def arrow(rule_grade: str, cfg: GradingConfig, lang: str) -> str:
    """'→ II 重大', or for a collapsed grade what it counts as: '→ III,按 IV 一般计'."""
    final = collapse(rule_grade, cfg)
    return text.arrow(rule_grade, final, grade_label(final, cfg, lang), lang)


def describe_grades(cfg: GradingConfig) -> dict[str, Any]:
    """The active grades with labels and colours, for `watchboard profiles` and the board legend."""
    return {g: {"zh": grade_label(g, cfg, "zh"), "en": grade_label(g, cfg, "en"),
                "colour": GRADE_COLOURS[g]} for g in used_grades(cfg)}


def grade_labels(cfg: GradingConfig) -> dict[str, dict[str, str]]:
    """The grades the profile uses, worst first, with their names: `GradeView.grade_labels`."""
    return {g: {"zh": grade_label(g, cfg, "zh"), "en": grade_label(g, cfg, "en")} for g in used_grades(cfg)}
