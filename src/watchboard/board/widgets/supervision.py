"""Daily supervision on the desk (督办, seed 001 每天…打电话进行督办): the open grade I/II
incidents the deadlines service lists in `sys.supervision` as not yet followed up today —
a panel beside the list, and a count in the counters line."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual.widgets import Static

from watchboard.board.i18n import Lang, t
from watchboard.board.model import Row
from watchboard.board.styles import DIM, Colours, colours_of
from watchboard.domain.views import SupervisionDayView

SHOWN = 6  # incidents listed; the count says how many more


def day_text(day: date, lang: Lang) -> str:
    return f"{day.month}月{day.day}日" if lang == "zh" else day.strftime("%d %b")


def supervision_text(day: SupervisionDayView | None, owed: list[Row], lang: Lang, colours: Colours) -> Text | None:
    """`今日督办 / 11月22日 尚未督办 2/3 起： / • II 标题…`; None while deadlines has said nothing."""
    if day is None:
        return None
    out = Text(t("supervision.title", lang), style="bold", no_wrap=True, overflow="ellipsis")
    when = day_text(day.day, lang)
    if not day.working_day:
        out.append(f"\n{t('supervision.rest', lang, day=when)}", style=DIM)
        return out
    if not day.unsupervised_count:
        out.append(f"\n{t('supervision.all', lang, day=when, n=day.due_count)}", style=colours.ok_soft)
        return out
    out.append(f"\n{t('supervision.owed', lang, day=when, k=day.unsupervised_count, n=day.due_count)}",
               style=colours.warn_text)
    for row in owed[:SHOWN]:
        out.append("\n• ")
        out.append(f"{row.grade or '?'} ", style=colours.grade_text.get(row.grade, ""))
        out.append(row.title)
    if day.unsupervised_count > SHOWN:
        out.append(f"\n  …(+{day.unsupervised_count - SHOWN})", style=DIM)
    return out


def owed_count(day: SupervisionDayView | None) -> int:
    """How many open I/II incidents still owe today's supervision (0 on a rest day or unknown)."""
    return day.unsupervised_count if day is not None and day.working_day else 0


class SupervisionPanel(Static):
    """Beside the desk's list (120 columns and wider): who is not yet supervised today."""

    DEFAULT_CSS = """
    SupervisionPanel { height: auto; padding: 0 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    SupervisionPanel.-shown { display: block; }
    """

    def show(self, day: SupervisionDayView | None, owed: list[Row], lang: Lang) -> None:
        text = supervision_text(day, owed, lang, colours_of(self))
        self.set_class(text is not None, "-shown")
        if text is not None:
            self.update(text)
