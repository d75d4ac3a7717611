"""The incident list: a Line API widget that draws only the visible rows.

Textual's DataTable builds every row up front (~2.4 s for 10,000); this table keeps a
reference to the model's sorted `Row` list and renders `render_line(y)` on demand, so a
snapshot of any size is on screen as soon as it is sorted. Columns have fixed widths
chosen from the widget's width and language: narrow terminals drop mentions, age, the
statement mark and the task counts, never grade, countdown, acknowledged, title, owner and
stage (from 60 columns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from watchboard.board.format import age, clock_countdown, clock_state, compact_number, fit, stage_label
from watchboard.board.i18n import Lang, t
from watchboard.board.model import Row
from watchboard.board.styles import colours_of


@dataclass(frozen=True)
class Column:
    key: str
    width: int  # 0 = shares what is left (title and owner)
    min_total: int  # shown only when the widget is at least this wide
    right: bool = False


# Widths hold the widest value in each language: `~-12时05分` is 10 cells, `~-12h05m` 8;
# `研判中` 6, `assessing` 9. Grade, countdown, acknowledged, title, owner and stage are there
# from 80 columns up (the duty officer must see what nobody has acknowledged).
# The statement mark (`待审`, `published`) and the task counts (`2/1`: awaiting feedback,
# overdue) come next, from 92 columns: at 80 the six above leave no room (the detail has them).
WIDTHS: dict[str, dict[str, int]] = {
    "zh": {"grade": 4, "due": 10, "ack": 2, "stage": 6, "statement": 4, "tasks": 5, "mentions": 5, "age": 4},
    "en": {"grade": 5, "due": 8, "ack": 3, "stage": 9, "statement": 9, "tasks": 5, "mentions": 5, "age": 4},
}
FOLLOW_MIN = 92
COLUMNS: tuple[Column, ...] = (
    Column("grade", -1, 0),
    Column("due", -1, 0, right=True),
    Column("ack", -1, 0),
    Column("title", 0, 0),
    Column("owner", 0, 0),
    Column("stage", -1, 60),
    Column("statement", -1, FOLLOW_MIN),
    Column("tasks", -1, FOLLOW_MIN, right=True),
    Column("mentions", -1, 110, right=True),
    Column("age", -1, 100, right=True),
)
MIN_TITLE = 16
MIN_OWNER = 8
OWNER_SHARE = 0.25  # of the width left after the fixed columns, until every owner's full name fits


def layout(width: int, lang: Lang = "en", owner_need: int = 0) -> list[tuple[Column, int]]:
    """The columns that fit `width` cells and their widths (one space after each column).

    Title and owner share what the fixed columns leave, owner a quarter of it (at least
    MIN_OWNER) but never more than its longest full name needs; the title takes the rest.
    """
    widths = WIDTHS.get(lang, WIDTHS["en"])
    cols = [c for c in COLUMNS if width >= c.min_total]
    fixed = sum(widths[c.key] for c in cols if c.width) + len(cols)
    rest = max(0, width - fixed)
    owner = max(MIN_OWNER, round(rest * OWNER_SHARE))
    if owner_need:
        owner = min(owner, max(MIN_OWNER, owner_need))
    owner = max(4, min(owner, rest - MIN_TITLE))
    title = max(MIN_TITLE, rest - owner)
    return [(c, widths[c.key] if c.width else (title if c.key == "title" else owner)) for c in cols]


def cell_text(col: str, row: Row, now: datetime, lang: Lang, width: int = 0) -> str:
    """The text of one cell (already sanitized in the model)."""
    if col == "grade":
        return f" {row.grade or '?'}"
    if col == "due":
        return clock_countdown(row.due.due_at, now, row.due.provisional, lang) if row.due else "—"
    if col == "ack":
        return "✓" if row.acked else "!"
    if col == "title":
        return ("⚑ " if row.flagged else "") + row.title
    if col == "owner":
        if not row.owner:
            return t("unassigned", lang)
        # the full name where it fits, else the short one (units.toml `short`)
        if width and cell_len(row.owner) > width and row.owner_short:
            return row.owner_short
        return row.owner
    if col == "stage":
        return stage_label(row.stage, lang)
    if col == "statement":
        return t(f"mark.{row.statement}", lang) if row.statement else ""
    if col == "tasks":
        if not row.tasks_open:
            return ""
        return f"{row.tasks_open}/{row.tasks_overdue}" if row.tasks_overdue else str(row.tasks_open)
    if col == "mentions":
        return compact_number(row.mentions)
    if col == "age":
        return age(row.reported_at, now, lang) if row.reported_at else ""
    return ""


class IncidentTable(ScrollView, can_focus=True):
    """Open incidents, one per line, from a list the model keeps sorted."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "incident-table--header", "incident-table--cursor", "incident-table--row",
        "incident-table--unassigned", "incident-table--empty",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.pagedown"),
        Binding("home", "jump(0)", "Top", show=False, id="table.home"),
        Binding("end", "jump(-1)", "Bottom", show=False, id="table.end"),
        Binding("enter", "select", "Detail", show=False, id="table.select"),
    ]
    DEFAULT_CSS = """
    IncidentTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        & > .incident-table--header { background: $panel; color: $text; text-style: bold; }
        & > .incident-table--cursor { background: $accent 50%; text-style: bold; }
        &:focus > .incident-table--cursor { background: $accent; color: $text; }
        & > .incident-table--row { }
        & > .incident-table--unassigned { color: $warning; text-style: italic; }
        & > .incident-table--empty { color: $text-muted; text-style: italic; }
    }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        """The cursor moved to an incident."""

        def __init__(self, incident_id: str | None) -> None:
            self.incident_id = incident_id
            super().__init__()

    class Selected(Message):
        """Enter (or a click on the highlighted row) asked for an incident's detail."""

        def __init__(self, incident_id: str) -> None:
            self.incident_id = incident_id
            super().__init__()

    def __init__(self, *, lang: Lang, now: Callable[[], datetime], show_cursor: bool = True,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.lang = lang
        self.now = now
        self.show_cursor = show_cursor
        self.rows: list[Row] = []
        self.loaded = False  # False until the first snapshot: say "loading", not "nothing open"
        self.selected_id: str | None = None
        self._layout_width = -1
        self._layout: list[tuple[Column, int]] = []
        self._owner_need = 0

    # --- data -----------------------------------------------------------------------

    def set_rows(self, rows: list[Row], *, loaded: bool = True) -> None:
        """Take a new sorted list; the cursor stays on the same incident if it is still there."""
        self.rows = rows
        self.loaded = loaded
        need = max((cell_len(o) for o in {r.owner for r in rows}), default=0)
        if need != self._owner_need:
            self._owner_need = need
            self._layout_width = -1
        index = 0
        if self.selected_id is not None:
            for i, row in enumerate(rows):
                if row.id == self.selected_id:
                    index = i
                    break
            else:
                index = min(self.cursor, max(0, len(rows) - 1))
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self._set_cursor(index, announce=False)
        self.refresh()

    @property
    def highlighted(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def visible_rows(self) -> list[Row]:
        top = round(self.scroll_offset.y)
        return self.rows[top: top + max(0, self.size.height - 1)]

    # --- cursor -----------------------------------------------------------------------

    def _set_cursor(self, index: int, *, announce: bool = True) -> None:
        index = max(0, min(index, len(self.rows) - 1)) if self.rows else 0
        old_id = self.selected_id
        self.cursor = index
        row = self.highlighted
        self.selected_id = row.id if row else None
        body = max(1, self.size.height - 1)
        top = round(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + body:
            self.scroll_to(y=index - body + 1, animate=False)
        if announce or old_id != self.selected_id:
            self.post_message(self.Highlighted(self.selected_id))
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self._set_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._set_cursor(len(self.rows) - 1 if where < 0 else 0)

    def action_select(self) -> None:
        if self.highlighted is not None:
            self.post_message(self.Selected(self.highlighted.id))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        index = round(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self.rows):
            if index == self.cursor and event.chain >= 2:
                self.action_select()
            self._set_cursor(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows) + 1)
        self._layout_width = -1

    # --- drawing ----------------------------------------------------------------------

    def _columns(self, width: int) -> list[tuple[Column, int]]:
        if width != self._layout_width:
            self._layout = layout(width, self.lang, self._owner_need)
            self._layout_width = width
        return self._layout

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        cols = self._columns(width)
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("incident-table--header")
            text = " ".join(fit(t(f"col.{c.key}", self.lang), w, right=c.right) for c, w in cols)
            return Strip([Segment(fit(text, width), base + header)], width)
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            if not self.rows and y == 1:
                empty = self.get_component_rich_style("incident-table--empty")
                label = t("none_open" if self.loaded else "banner.waiting", self.lang)
                return Strip([Segment(fit(" " + label, width), base + empty)], width)
            return Strip.blank(width, base)
        row = self.rows[index]
        is_cursor = self.show_cursor and index == self.cursor
        row_style = base + (self.get_component_rich_style("incident-table--cursor") if is_cursor
                            else Style())
        now = self.now()
        colours = colours_of(self)
        segments: list[Segment] = []
        used = 0
        for col, w in cols:
            text = fit(cell_text(col.key, row, now, self.lang, w), w, right=col.right)
            style = row_style
            if col.key == "grade":
                style = row_style + colours.grade.get(row.grade, colours.grade[""])
            elif col.key == "due" and row.due is not None:
                state = clock_state(row.due, now)
                if state in ("breached", "warning"):
                    style = row_style + colours.clock[state]
            elif col.key == "owner" and not row.owner:
                style = row_style + self.get_component_rich_style("incident-table--unassigned")
            elif col.key == "ack":
                style = row_style + (colours.ok_soft if row.acked else colours.warn)  # nobody acknowledged: stands out
            elif col.key == "statement" and row.statement in ("drafted", "rejected"):
                # waiting for a leader, or sent back: someone has to act (badges, like the due
                # column's, so they read on the cursor's row too)
                style = row_style + (colours.warn if row.statement == "drafted" else colours.alarm)
            elif col.key == "tasks" and row.tasks_overdue:
                style = row_style + colours.alarm
            segments.append(Segment(text, style))
            segments.append(Segment(" ", row_style))
            used += w + 1
        if used < width:
            segments.append(Segment(" " * (width - used), row_style))
        return Strip(segments).crop(0, width)
