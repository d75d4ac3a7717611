"""The grade × owner matrix: how many open incidents each unit holds, per grade."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from watchboard.board.format import GRADES, fit
from watchboard.board.i18n import Lang, t
from watchboard.board.styles import DIM, Colours, colours_of


def matrix_text(owners: list[str], cells: dict[tuple[str, str], int], lang: Lang, *, colours: Colours,
                grades: tuple[str, ...] = GRADES, name_width: int = 12, max_owners: int = 12) -> Text:
    """A text table (CJK-aligned by cell width): one row per owner, one column per grade shown."""
    out = Text()
    out.append(fit(t("col.owner", lang), name_width))
    for grade in grades:
        out.append(" ")
        out.append(fit(grade, 4, right=True), style=colours.grade[grade])
    out.append(" ")
    out.append(fit(t("total", lang), 5, right=True), style="bold")
    if not owners:
        out.append("\n")
        out.append(t("none_open", lang), style=DIM)
        return out
    shown, rest = owners[:max_owners], owners[max_owners:]
    for owner in shown:
        out.append("\n")
        out.append(fit(owner or t("unassigned", lang), name_width),
                   style=colours.unassigned if not owner else "")
        row_total = 0
        for grade in grades:
            n = cells.get((grade, owner), 0)
            row_total += n
            out.append(" ")
            out.append(fit(str(n) if n else "·", 4, right=True), style=colours.grade_text[grade] if n else DIM)
        out.append(" ")
        out.append(fit(str(row_total), 5, right=True), style="bold")
    if rest:
        n_rest = sum(n for (_, owner), n in cells.items() if owner in set(rest))
        out.append("\n")
        out.append(fit(f"+{len(rest)} …", name_width), style=DIM)
        out.append(" " * (5 * len(grades)))
        out.append(" ")
        out.append(fit(str(n_rest), 5, right=True), style=DIM)
    return out


class GradeMatrix(Static):
    """Grade × owner counts of open incidents."""

    DEFAULT_CSS = """
    GradeMatrix { height: auto; padding: 0 1; }
    """

    def show(self, owners: list[str], cells: dict[tuple[str, str], int], lang: Lang,
             max_owners: int = 12, grades: tuple[str, ...] = GRADES) -> None:
        self.update(matrix_text(owners, cells, lang, colours=colours_of(self), grades=grades, max_owners=max_owners))
