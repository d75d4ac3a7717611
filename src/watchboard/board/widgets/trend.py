"""The 24-hour trend: new incidents per hour by grade and clocks breached, as block sparklines."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from watchboard.board.format import DEFAULT_GRADE_LABELS, GradeLabels, fit
from watchboard.board.i18n import Lang, t
from watchboard.board.styles import DIM, Colours, colours_of

BLOCKS = " ▁▂▃▄▅▆▇█"


def spark(values: list[int], top: int | None = None) -> str:
    """One block character per value, scaled to `top` (the largest value by default); 0 is `·`."""
    top = max(values, default=0) if top is None else top
    if top <= 0:
        return "·" * len(values)
    out = []
    for v in values:
        if v <= 0:
            out.append("·")
        else:
            out.append(BLOCKS[max(1, min(8, round(v / top * 8)))])
    return "".join(out)


def trend_text(per_grade: dict[str, list[int]], breached: list[int], lang: Lang, *, colours: Colours,
               labels: GradeLabels = DEFAULT_GRADE_LABELS) -> Text:
    """One sparkline per grade of the profile (shared scale) plus breached clocks, with 24-hour totals."""
    top = max((max(v, default=0) for v in per_grade.values()), default=0)
    out = Text(t("trend.title", lang), style="bold")
    for grade in labels.shown({g: sum(v) for g, v in per_grade.items()}):
        values = per_grade.get(grade, [])
        out.append("\n")
        out.append(fit(grade, 4), style=colours.grade_text[grade])
        out.append(spark(values, top), style=colours.grade_text[grade])
        out.append(fit(str(sum(values)), 5, right=True))
    out.append("\n")
    out.append(fit("×", 4), style=colours.alarm_text)
    out.append(spark(breached), style=colours.alarm_soft)
    out.append(fit(str(sum(breached)), 5, right=True))
    out.append(f" {t('trend.breached', lang)}", style=DIM)
    return out


class TrendChart(Static):
    DEFAULT_CSS = """
    TrendChart { height: auto; padding: 0 1; }
    """

    def show(self, per_grade: dict[str, list[int]], breached: list[int], lang: Lang,
             labels: GradeLabels = DEFAULT_GRADE_LABELS) -> None:
        self.update(trend_text(per_grade, breached, lang, colours=colours_of(self), labels=labels))
