"""Grade counters: a one-line bar for the desk, big figures for the wall."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Label, Static

from watchboard.board.format import GRADES
from watchboard.board.i18n import Lang, t
from watchboard.board.styles import GRADE_STYLE


def counters_text(counts: dict[str, int], total: int, lang: Lang, *, wide: bool = True) -> Text:
    """` I 特别重大 3 │ II 重大 5 …` — the numeral is always there, the name when room allows."""
    out = Text()
    for grade in GRADES:
        label = f" {grade} {t(f'grade.{grade}', lang)} " if wide else f" {grade} "
        out.append(label, style=GRADE_STYLE[grade])
        out.append(f" {counts.get(grade, 0)} ", style="bold")
        out.append(" ")
    out.append(f"{t('open', lang)} {total}", style="bold")
    return out


class CountersBar(Static):
    """The desk's grade counters, one line."""

    DEFAULT_CSS = """
    CountersBar { height: 1; padding: 0 1; }
    """

    def show(self, counts: dict[str, int], total: int, lang: Lang, extra: Text | None = None) -> None:
        text = counters_text(counts, total, lang, wide=(self.size.width or 80) >= 100)
        if extra is not None:
            text.append("  ")
            text.append_text(extra)
        self.update(text)


class GradeCounter(Vertical):
    """One grade on the wall: its name and a big figure, in the grade's colour."""

    DEFAULT_CSS = """
    GradeCounter {
        width: 1fr; height: auto; border: heavy $foreground 30%; padding: 0 1;
        align-horizontal: center;
        & > Label { width: 100%; text-align: center; text-style: bold; }
        & > Digits { width: 100%; text-align: center; text-style: bold; }
        &.grade-I { background: red 35%; border: heavy red; }
        &.grade-II { background: darkorange 35%; border: heavy darkorange; }
        &.grade-III { background: yellow 30%; border: heavy yellow; }
        &.grade-IV { background: blue 35%; border: heavy blue; }
        &.-zero { background: $surface; }
    }
    """

    def __init__(self, grade: str, lang: Lang) -> None:
        super().__init__(classes=f"grade-{grade}", id=f"count-{grade}")
        self.grade = grade
        self.lang = lang

    def compose(self) -> ComposeResult:
        yield Label(f"{self.grade}  {t(f'grade.{self.grade}', self.lang)}")
        yield Digits("0")

    def set_count(self, n: int) -> None:
        self.query_one(Digits).update(str(n))
        self.set_class(n == 0, "-zero")


class BigCounters(Horizontal):
    """Four big counters, I to IV."""

    DEFAULT_CSS = """
    BigCounters { height: auto; }
    """

    def __init__(self, lang: Lang, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lang = lang

    def compose(self) -> ComposeResult:
        for grade in GRADES:
            yield GradeCounter(grade, self.lang)

    def show(self, counts: dict[str, int]) -> None:
        for counter in self.query(GradeCounter):
            counter.set_count(counts.get(counter.grade, 0))
