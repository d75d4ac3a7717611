"""Pure formatting: countdowns, ages, labels, CJK-aware truncation, sparklines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.cells import cell_len

from tests.board.support import NOW
from watchboard.board.format import (
    age,
    compact_number,
    countdown,
    error_text,
    fit,
    grade_label,
    stage_label,
    truncate,
)
from watchboard.board.i18n import LABELS
from watchboard.board.widgets.trend import spark


@pytest.mark.parametrize(("delta", "expected"), [
    (timedelta(hours=2, minutes=5), "2h05m"),
    (timedelta(minutes=59, seconds=59), "0h59m"),
    (timedelta(0), "0h00m"),
    (-timedelta(minutes=12), "-0h12m"),
    (-timedelta(hours=3, minutes=1), "-3h01m"),
    (timedelta(days=3, hours=4), "3d04h"),
    (-timedelta(days=2, hours=1), "-2d01h"),
])
def test_countdown(delta: timedelta, expected: str) -> None:
    """Countdowns are h/m, negative when overdue, days past 48 h."""
    assert countdown(NOW + delta, NOW) == expected


@pytest.mark.parametrize(("delta", "expected"), [
    (timedelta(seconds=45), "45s"), (timedelta(minutes=12), "12m"), (timedelta(hours=3), "3h"),
    (timedelta(hours=47), "47h"), (timedelta(days=5), "5d"), (-timedelta(minutes=5), "0s"),
])
def test_age(delta: timedelta, expected: str) -> None:
    """Ages are compact; a future timestamp (clock skew) reads 0s."""
    assert age(NOW - delta, NOW) == expected


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("hello", 10, "hello"),
    ("hello world", 6, "hello…"),
    ("舆情值班看板", 12, "舆情值班看板"),
    ("舆情值班看板", 11, "舆情值班看…"),
    ("舆情值班看板", 10, "舆情值班…"),  # 4 wide chars (8) + … ; a 5th would need 10+1
    ("a舆情", 3, "a…"),
    ("舆情", 1, "…"),
    ("x", 0, ""),
])
def test_truncate_never_halves_a_wide_character(text: str, width: int, expected: str) -> None:
    """Truncation counts cells, ends in …, never cuts a CJK character."""
    out = truncate(text, width)
    assert out == expected
    assert cell_len(out) <= width


@pytest.mark.parametrize("text", ["舆情", "ab", "网传仲山镇中学食堂", "mixed 中文 text", ""])
@pytest.mark.parametrize("width", [1, 5, 8, 13])
def test_fit_is_exactly_the_width(text: str, width: int) -> None:
    """fit() pads or cuts to exactly `width` cells, left or right aligned."""
    assert cell_len(fit(text, width)) == width
    assert cell_len(fit(text, width, right=True)) == width


@pytest.mark.parametrize(("grade", "lang", "expected"), [
    ("I", "zh", "I 特别重大"), ("II", "en", "II Major"), ("IV", "zh", "IV 一般"), (None, "en", "ungraded"),
])
def test_grade_label_always_shows_the_numeral(grade: str | None, lang: str, expected: str) -> None:
    """The numeral is in every grade label (colour is never the only signal)."""
    assert grade_label(grade, lang) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("stage", "lang", "expected"), [
    ("handling", "zh", "处置中"), ("closed", "en", "closed"), ("weird", "en", "weird"),
])
def test_stage_label(stage: str, lang: str, expected: str) -> None:
    """Stage labels translate; an unknown stage shows as itself."""
    assert stage_label(stage, lang) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "expected"), [(0, "0"), (999, "999"), (12345, "12.3k"), (2_500_000, "2.5M")])
def test_compact_number(n: int, expected: str) -> None:
    """Large counts are shortened."""
    assert compact_number(n) == expected


def test_spark_scales_and_marks_zero() -> None:
    """Sparklines: zero is a dot, the maximum a full block."""
    assert spark([0, 1, 2, 4]) == "·▂▄█"
    assert spark([0, 0]) == "··"


def test_both_languages_define_the_same_labels() -> None:
    """zh and en have exactly the same keys."""
    assert set(LABELS["zh"]) == set(LABELS["en"])


@pytest.mark.parametrize(("reply", "lang", "expected"), [
    ({"ok": False, "error": {"code": "conflict", "field": "due_at",
                             "message": "past the final cap 2026-12-11T09:30:00+00:00"}},
     "en", "Refused (conflict, due_at): past the final cap 2026-12-11 17:30"),
    ({"ok": False, "error": {"code": "invalid", "message": "[b]x[/b] \x1b[31m"}}, "zh", "错误（无效）：[b]x[/b]"),
    ({"ok": False, "error": "boom"}, "zh", "错误（未知）：boom"),
    ({"ok": False}, "en", "Refused (error): "),
    # The Chinese board shows the Chinese twin, the code in words, the field in brackets.
    ({"ok": False, "error": {"code": "conflict", "field": "kind", "message": "the incident is already flagged rumour",
                             "message_zh": "该舆情已标记为谣言"}},
     "zh", "错误（冲突）[kind]：该舆情已标记为谣言"),
    ({"ok": False, "error": {"code": "conflict", "field": "kind", "message": "the incident is already flagged rumour",
                             "message_zh": "该舆情已标记为谣言"}},
     "en", "Refused (conflict, kind): the incident is already flagged rumour"),
    ({"ok": False, "error": {"code": "invalid", "field": "due_at", "message": "past 2026-12-11T09:30:00+00:00",
                             "message_zh": "晚于最终时限 2026-12-11T09:30:00+00:00"}},
     "zh", "错误（无效）[due_at]：晚于最终时限 2026-12-11 17:30"),
    ({"ok": False, "error": {"code": "forbidden", "message": "no"}}, "zh", "错误（无权）：no"),  # no twin: English
    ({"ok": False, "error": {"code": "not_found", "message": "x", "message_zh": "没有"}}, "zh", "错误（未找到）：没有"),
    ({"ok": False, "error": {"code": "unavailable", "message": "x", "message_zh": "稍后"}}, "zh", "错误（暂不可用）：稍后"),
])
def test_error_text(reply: dict[str, object], lang: str, expected: str) -> None:
    """A refusal as one plain line in the board's language: code (in words in Chinese), field,
    message (the Chinese twin on the Chinese board) with its UTC times in Beijing time."""
    from zoneinfo import ZoneInfo

    assert error_text(reply, lang, ZoneInfo("Asia/Shanghai")) == expected  # type: ignore[arg-type]
