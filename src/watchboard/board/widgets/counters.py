"""Grade counters: a one-line bar for the desk, big figures for the wall."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Label, Static

from watchboard.board.format import DEFAULT_GRADE_LABELS, GRADES, GradeLabels, grade_label
from watchboard.board.i18n import Lang, t
from watchboard.board.styles import Colours, colours_of


def counters_text(counts: dict[str, int], total: int, lang: Lang, *, colours: Colours,
                  labels: GradeLabels = DEFAULT_GRADE_LABELS, wide: bool = True) -> Text:
    """` I 特别重大 3 │ II 重大 5 …` — the profile's grades; the numeral is always there, the
    profile's name for it when room allows."""
    out = Text()
    for grade in labels.shown(counts):
        label = f" {grade_label(grade, lang, labels)} " if wide else f" {grade} "
        out.append(label, style=colours.grade[grade])
        out.append(f" {counts.get(grade, 0)} ", style="bold")
        out.append(" ")
    out.append(f"{t('open', lang)} {total}", style="bold")
    return out


class CountersBar(Static):
    """The desk's grade counters, one line."""

    DEFAULT_CSS = """
    CountersBar { height: 1; padding: 0 1; }
    """

    def show(self, counts: dict[str, int], total: int, lang: Lang, extra: Text | None = None, *,
             labels: GradeLabels = DEFAULT_GRADE_LABELS) -> None:
        text = counters_text(counts, total, lang, colours=colours_of(self), labels=labels,
                             wide=(self.size.width or 80) >= 100)
        if extra is not None:
            text.append("  ")
            text.append_text(extra)
        self.update(text)


# A 3×5 pixel font for the wall's figures at any size; drawn with half blocks (a pixel is one
# column by half a row, near square in a terminal cell).
FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"), "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"), "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"), "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"), "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"), "9": ("###", "#.#", "###", "..#", "###"),
}
HALF = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def big_figure(number: str, scale: int) -> str:
    """`number` in the pixel font, each pixel `scale`×`scale`, as lines of half-block characters."""
    pixels: list[list[bool]] = []
    for row in range(5):
        line: list[bool] = []
        for i, ch in enumerate(number):
            glyph = FONT.get(ch, FONT["0"])[row]
            if i:
                line += [False] * scale  # the gap between figures
            for px in glyph:
                line += [px == "#"] * scale
        pixels += [line] * scale
    if len(pixels) % 2:
        pixels.append([False] * len(pixels[0]))
    return "\n".join("".join(HALF[(top, bottom)] for top, bottom in zip(pixels[i], pixels[i + 1], strict=True))
                     for i in range(0, len(pixels), 2))


def figure_scale(width: int, height: int) -> int:
    """How big the wall's figures can be on a `width`×`height` screen: 0 = the small Digits."""
    if height < 30:
        return 0
    by_height = (height - 14) // 3 * 2 // 5  # about a third of the screen, in pixel rows
    by_width = (width // 4 - 6) // 11  # three figures (3 px + 1 gap each) in a quarter
    return max(1, min(by_height, by_width, 6))


class BigFigure(Static):
    """A number drawn in the pixel font at a scale the wall picks from the screen size."""

    DEFAULT_CSS = """
    BigFigure { width: 100%; height: auto; text-align: center; }
    """

    def __init__(self) -> None:
        super().__init__("", id=None)
        self.value = "0"
        self.scale = 1

    def show(self, value: str, scale: int) -> None:
        self.value, self.scale = value, max(1, scale)
        self.update(Text(big_figure(value, self.scale)))


class GradeCounter(Vertical):
    """One grade on the wall: its name and a big figure, in the grade's colour."""

    DEFAULT_CSS = """
    GradeCounter {
        width: 1fr; height: auto; border: heavy $foreground 30%; padding: 0 1;
        align-horizontal: center;
        & > Label { width: 100%; text-align: center; text-style: bold; }
        & > Digits { width: 100%; text-align: center; text-style: bold; }
        &.grade-I { background: $grade-i 35%; border: heavy $grade-i; }
        &.grade-II { background: $grade-ii 35%; border: heavy $grade-ii; }
        &.grade-III { background: $grade-iii 30%; border: heavy $grade-iii; }
        &.grade-IV { background: $grade-iv 45%; border: heavy $grade-iv; }
        &.-zero { background: $surface; }
        & > BigFigure { display: none; }
        &.-big > BigFigure { display: block; }
        &.-big > Digits { display: none; }
    }
    /* 16 colours (the variables are then the terminal's own): a full fill, the numeral in ink */
    GradeCounter.-ansi16 {
        &.grade-I { background: $grade-i; color: $grade-i-ink; border: heavy $grade-i-ink; }
        &.grade-II { background: $grade-ii; color: $grade-ii-ink; border: heavy $grade-ii-ink; }
        &.grade-III { background: $grade-iii; color: $grade-iii-ink; border: heavy $grade-iii-ink; }
        &.grade-IV { background: $grade-iv; color: $grade-iv-ink; border: heavy $grade-iv-ink; }
        &.-zero { background: $counter-zero; color: $counter-zero-ink; border: heavy $counter-zero-ink; }
    }
    """

    def __init__(self, grade: str, lang: Lang) -> None:
        super().__init__(classes=f"grade-{grade}", id=f"count-{grade}")
        self.grade = grade
        self.lang = lang

    def on_mount(self) -> None:
        self.set_class(bool(getattr(self.app, "sixteen_colours", False)), "-ansi16")

    def compose(self) -> ComposeResult:
        yield Label(self.title(DEFAULT_GRADE_LABELS))
        yield Digits("0")
        yield BigFigure()

    def title(self, labels: GradeLabels) -> str:
        return f"{self.grade}  {labels.name(self.grade, self.lang)}"

    def set_label(self, labels: GradeLabels) -> None:
        """The profile's name for this grade."""
        self.query_one(Label).update(self.title(labels))

    def set_count(self, n: int, scale: int = 0) -> None:
        """The figure; `scale` ≥ 1 draws it in the big pixel font (a large wall screen)."""
        self.query_one(Digits).update(str(n))
        self.set_class(scale > 0, "-big")
        if scale > 0:
            self.query_one(BigFigure).show(str(n), scale)
        self.set_class(n == 0, "-zero")


class BigCounters(Horizontal):
    """A big counter per grade of the profile, worst first (a grade it collapses is hidden
    unless incidents graded before the profile changed still have it)."""

    DEFAULT_CSS = """
    BigCounters { height: auto; }
    """

    def __init__(self, lang: Lang, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lang = lang

    def compose(self) -> ComposeResult:
        for grade in GRADES:
            yield GradeCounter(grade, self.lang)

    def show(self, counts: dict[str, int], scale: int = 0, labels: GradeLabels = DEFAULT_GRADE_LABELS) -> None:
        shown = labels.shown(counts)
        for counter in self.query(GradeCounter):
            counter.display = counter.grade in shown
            counter.set_label(labels)
            counter.set_count(counts.get(counter.grade, 0), scale)
