"""Grading rules (DOMAIN.md §2): grade I–IV, the reasons that cite rule and numbers, alarm or not.

Pure: no I/O, no clock. The grading service folds each mention into `Features`, calls
`evaluate` for the rules' `Assessment`, then `decide` turns it into a `Decision` (the body of
an `incident.graded` event) or None when nothing changes. `regrade` and `release` serve
`wb.cmd.regrade` and `wb.cmd.release`.

    features.py   Features, fold_features, totals, engagement, growth_per_hour
    rules.py      evaluate → Assessment (which rules fired, the grade, the reasons in zh and en)
    decide.py     CurrentGrade, Decision, decide, regrade, release, apply_grade
    grades.py     severity, collapse, grade_label, describe_grades, GRADE_COLOURS
    text.py       the words of reasons, in Chinese and in English

The rules' settings are `watchboard.config.grading.GradingConfig` (grading.toml); each module
says why its rules read as they do.
"""

from __future__ import annotations

from watchboard.config.grading import used_grades
from watchboard.domain.grading.decide import (
    CurrentGrade,
    Decision,
    apply_grade,
    current_from_event,
    decide,
    regrade,
    release,
)
from watchboard.domain.grading.features import (
    Features,
    SourceStats,
    engagement,
    fold_features,
    growth_per_hour,
    totals,
)
from watchboard.domain.grading.grades import (
    GRADE_COLOURS,
    collapse,
    describe_grades,
    grade_label,
    severity,
)
from watchboard.domain.grading.rules import Assessment, Finding, evaluate

__all__ = [
    "GRADE_COLOURS",
    "Assessment",
    "CurrentGrade",
    "Decision",
    "Features",
    "Finding",
    "SourceStats",
    "apply_grade",
    "collapse",
    "current_from_event",
    "decide",
    "describe_grades",
    "engagement",
    "evaluate",
    "fold_features",
    "grade_label",
    "growth_per_hour",
    "regrade",
    "release",
    "severity",
    "totals",
    "used_grades",
]
