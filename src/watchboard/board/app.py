"""The board application: consumes the feed in a worker, keeps the model, maps modes to screens.

Data flow: `consume_feed` (an exclusive worker) gathers the `KVChange`s the feed has ready and
folds them into the `BoardModel` in one call (`ingest_all`), then marks what changed; a 150 ms timer turns that into one `version` bump, which screens
watch and redraw from. So 200 changes a second cost ~7 redraws, not 200, and a 40,000-key
snapshot is one redraw. Connection and health items are posted as messages. Operator
commands go out through `send` (None = read-only wall) in their own worker group.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import getpass
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from watchboard.board.i18n import Lang, t
from watchboard.board.model import BoardModel, Units, newly_urgent
from watchboard.board.styles import use_palette
from watchboard.bus.feed_types import (
    CommandSender,
    Connection,
    Feed,
    KVBatch,
    KVChange,
    ServiceHealth,
    SnapshotDone,
)
from watchboard.domain.sanitize import clean_line
from watchboard.domain.views import GradeView, split_key

FeedFactory = Callable[[], Feed]
SHANGHAI = ZoneInfo("Asia/Shanghai")
_gc_frozen = False  # see BoardApp._resume_gc
FOLD_BUDGET = 2048  # changes folded at once before the worker yields to the screen (~10 ms)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BoardApp(App[None]):
    """watchboard's terminal board: `operator` (the desk) and `wall` (read-only) modes."""

    CSS_PATH = Path(__file__).with_name("board.tcss")
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Leave the board"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="Every key on one page"),
        Binding("w", "toggle_wall", "Wall", id="app.wall",
                tooltip="Switch between the desk and the wall layout"),
        # Our own palette binding, so its footer label is localized like the others (Textual
        # adds an English "palette" one only when none is bound).
        Binding("ctrl+p", "command_palette", "Commands", id="app.palette", show=False, priority=True),
    ]

    version: reactive[int] = reactive(0, init=False)
    tick: reactive[int] = reactive(0, init=False)
    connection: reactive[Connection | None] = reactive(None, init=False)
    health: reactive[ServiceHealth | None] = reactive(None, init=False)
    snapshot_loaded: reactive[bool] = reactive(False, init=False)

    class ConnectionChanged(Message):
        """The feed reported a new NATS connection state."""

        def __init__(self, connection: Connection) -> None:
            self.connection = connection
            super().__init__()

    class HealthReported(Message):
        """A round of service pings came back."""

        def __init__(self, health: ServiceHealth) -> None:
            self.health = health
            super().__init__()

    class SnapshotLoaded(Message):
        """Every key that existed when watching began has been folded in."""

        def __init__(self, count: int) -> None:
            self.count = count
            super().__init__()

    class UrgentArrived(Message):
        """An incident became grade I or II after the snapshot: flash and ring."""

        def __init__(self, incident_ids: list[str]) -> None:
            self.incident_ids = incident_ids
            super().__init__()

    def __init__(self, feed_factory: FeedFactory, send: CommandSender | None = None, *,
                 lang: Lang = "zh", wall: bool = False, zone: ZoneInfo = SHANGHAI,
                 now: Callable[[], datetime] = _utcnow, actor: str | None = None,
                 flush_interval: float = 0.15, retry_delay: float = 1.0,
                 page_seconds: float = 10.0, units: Units | None = None,
                 grade_clocks: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.feed_factory = feed_factory
        self.send = send
        self.lang: Lang = lang
        self.wall = wall
        self.zone = zone
        self.now = now
        self.actor = actor or _login()
        self.flush_interval = flush_interval
        self.retry_delay = retry_delay
        self.page_seconds = page_seconds
        self.model = BoardModel(lang=lang, units=dict(units or {}))
        self.grade_clocks = grade_clocks  # grade → its clock names (deadlines.toml), for regrade's warning
        self.last_data_at: datetime | None = None
        self.feed_starts = 0
        self._dirty: set[str] = set()
        self._dirty_any = False
        self._urgent: list[str] = []
        self._pending: list[KVChange] = []  # changes read from the feed, not yet folded in
        self._fold_scheduled = False
        self._gc_paused = False  # see _pause_gc
        self._first_snapshot = False  # no redraws while the first snapshot pours in
        self.title = t("app.wall_title" if wall else "app.title", lang)

    @property
    def read_only(self) -> bool:
        return self.send is None

    # --- modes ----------------------------------------------------------------------

    def _operator(self) -> Screen[None]:
        from watchboard.board.screens.operator import OperatorScreen
        return OperatorScreen()

    def _wall(self) -> Screen[None]:
        from watchboard.board.screens.wall import WallScreen
        return WallScreen()

    def on_mount(self) -> None:
        from watchboard.board.screens.common import localize_bindings
        localize_bindings(self, self.lang)
        self.sixteen_colours = self.console.color_system in ("standard", "windows")
        use_palette(self.sixteen_colours)
        if self.sixteen_colours:
            # let named colours reach the terminal's own palette instead of being turned into
            # RGB and squeezed back to the nearest of 16 (which made grade I magenta)
            self.ansi_color = True
            self.add_class("-ansi16")
        self.add_mode("operator", self._operator)
        self.add_mode("wall", self._wall)
        self.switch_mode("wall" if self.wall else "operator")
        self.set_interval(self.flush_interval, self._flush, name="flush")
        self.set_interval(1.0, self._tick, name="tick")
        self.consume_feed()

    def action_toggle_wall(self) -> None:
        self.switch_mode("operator" if self.current_mode == "wall" else "wall")

    def action_help(self) -> None:
        from watchboard.board.screens.help import HelpScreen
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # --- the feed -------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def consume_feed(self) -> None:
        """Follow the feed for ever: a feed that ends or fails is started again after a pause."""
        while True:
            feed: Feed | None = None
            try:
                feed = self.feed_factory()
                if self.feed_starts:
                    self.model.begin_resync()
                self.feed_starts += 1
                loop = asyncio.get_running_loop()
                async for item in feed:
                    if type(item) is KVChange:
                        if not self._first_snapshot and not self._gc_paused and gc.isenabled():
                            self._pause_gc()
                        # Gather what the feed has ready; it is folded in one call when the
                        # worker next waits for the feed (call_soon), or at the budget.
                        self._pending.append(item)
                        if len(self._pending) >= FOLD_BUDGET:
                            self._fold()
                            await asyncio.sleep(0)  # let the screen and the keys breathe
                        elif not self._fold_scheduled:
                            self._fold_scheduled = True
                            loop.call_soon(self._fold)
                    else:
                        self._fold()
                        self._take(item)
                        if isinstance(item, KVBatch):
                            await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed's own failure is shown, never fatal
                self.post_message(self.ConnectionChanged(Connection(
                    state="reconnecting", at=self.now(), error=f"{type(exc).__name__}: {exc}")))
            finally:
                self._fold()  # what arrived before the feed ended is still true
                self._resume_gc(freeze=False)
                aclose = getattr(feed, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
            await asyncio.sleep(self.retry_delay)

    def _fold(self) -> None:
        """Fold the gathered changes into the model in one call (a whole snapshot in ~20 calls)."""
        self._fold_scheduled = False
        if not self._pending:
            return
        changes, self._pending = self._pending, []
        model = self.model
        # after the first snapshot, a grade that becomes I or II flashes: note the grades before
        before: dict[str, GradeView | None] = {}
        if self.snapshot_loaded:
            for change in changes:
                parts = split_key(change.key)
                if parts is not None and parts[1] == "grade" and parts[0] not in before:
                    current = model.get(parts[0])
                    before[parts[0]] = current.grade if current else None
        enabled = gc.isenabled() and len(changes) >= 256
        if enabled:  # a large batch makes objects that all live on: scanning them is waste
            gc.disable()
        try:
            changed = model.ingest_all(changes)
        finally:
            if enabled:
                gc.enable()
        self._dirty |= changed
        self._dirty_any = True
        self.last_data_at = self.now()
        for incident_id, grade in before.items():
            after = model.get(incident_id)
            if after is not None and newly_urgent(grade, after.grade):
                self._urgent.append(incident_id)

    def _pause_gc(self) -> None:
        """No cycle collection while the first snapshot loads.

        A snapshot of 10,000 incidents leaves ~180,000 container objects that all live on;
        the collector would scan the growing heap several times over (0.2-0.4 s, more than
        the folding itself) and find nothing. `_resume_gc` turns it back on.
        """
        gc.disable()
        self._gc_paused = True

    def _resume_gc(self, *, freeze: bool) -> None:
        global _gc_frozen
        if not self._gc_paused:
            return
        self._gc_paused = False
        if freeze and not _gc_frozen:
            # What is alive now (the app and the snapshot) stays alive: keep it out of every
            # later full collection, else one ~0.2 s pause comes soon after and again every
            # few minutes while changes stream in. Once a process (a process runs one board).
            _gc_frozen = True
            gc.freeze()
        gc.enable()

    def _take(self, item: object) -> None:
        if isinstance(item, KVChange):
            self._pending.append(item)
            self._fold()
        elif isinstance(item, KVBatch):
            self._pending.extend(item.changes)
            self._fold()
        elif isinstance(item, SnapshotDone):
            self._first_snapshot = True
            self._resume_gc(freeze=True)
            gone = self.model.end_resync()
            self._dirty |= gone
            self._dirty_any = True
            self.last_data_at = self.now()
            # draw now rather than after the message queue and the next tick (~100-250 ms)
            self.snapshot_loaded = True
            self._flush()
            self.post_message(self.SnapshotLoaded(item.count))
        elif isinstance(item, Connection):
            self.post_message(self.ConnectionChanged(item))
        elif isinstance(item, ServiceHealth):
            self.post_message(self.HealthReported(item))

    def _flush(self) -> None:
        """Coalesce: everything that changed since the last tick becomes one redraw."""
        if self._dirty_any and self._first_snapshot:
            self._dirty.clear()
            self._dirty_any = False
            self.version += 1
        if self._urgent:
            ids, self._urgent = self._urgent, []
            self.post_message(self.UrgentArrived(ids))

    def _tick(self) -> None:
        self.tick += 1

    def on_board_app_connection_changed(self, message: ConnectionChanged) -> None:
        self.connection = message.connection
        if message.connection.state == "connected" and self.last_data_at is None:
            self.last_data_at = message.connection.at

    def on_board_app_health_reported(self, message: HealthReported) -> None:
        self.health = message.health

    def on_board_app_snapshot_loaded(self, message: SnapshotLoaded) -> None:
        self.snapshot_loaded = True
        self._flush()

    def on_board_app_urgent_arrived(self, message: UrgentArrived) -> None:
        rows = [self.model.rows.get(i) for i in message.incident_ids]
        rows = [r for r in rows if r is not None]
        if not rows:
            return
        self.bell()
        for row in rows[:3]:
            self.notify(t("flash.new", self.lang, grade=row.grade, title=row.title[:60]),
                        severity="error", timeout=10, markup=False)
        screen = self.screen
        screen.add_class("-flash")
        self.set_timer(3.0, lambda: screen.remove_class("-flash"))

    # --- commands -------------------------------------------------------------------

    @work(group="commands", exit_on_error=False)
    async def send_command(self, verb: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send one operator command and say how it went; the bus reply is never trusted as markup."""
        if self.send is None:
            self.notify(t("sent.readonly", self.lang), severity="warning")
            return None
        body = {**payload, "actor": self.actor}
        try:
            reply = await self.send(verb, body)
        except Exception as exc:
            self.notify(t("sent.unavailable", self.lang, error=clean_line(str(exc), 200)),
                        severity="error", markup=False, timeout=10)
            return None
        if reply.get("ok"):
            self.notify(t("sent.ok", self.lang, verb=t(f"action.{verb}", self.lang)), markup=False)
        else:
            self.notify(error_text(reply, self.lang, self.zone), severity="error", markup=False, timeout=15)
        return reply

    # --- command palette ------------------------------------------------------------

    def action_command_palette(self) -> None:
        """Textual's palette with its prompt and "no matches" in the board's language."""
        from watchboard.board.screens.common import LocalPalette
        if self.use_command_palette and not LocalPalette.is_open(self):
            self.push_screen(LocalPalette(self.lang))

    def action_help_quit(self) -> None:
        """Ctrl+C does not quit a Textual app: say how to, in the board's language."""
        self.notify(t("quit.hint", self.lang, quit_key="q"), title=t("quit.title", self.lang), markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's own commands (Theme, Keys, Maximize, Screenshot) speak English and are no
        # use on a duty board: the palette holds only the board's commands, in its language.
        lang = self.lang
        yield SystemCommand(t("action.quit", lang), t("palette.quit", lang), self.action_quit)
        yield SystemCommand(t("action.help", lang), t("palette.help", lang), self.action_help)
        yield SystemCommand(f"{t('action.wall', lang)} / {t('action.operator', lang)}",
                            t("palette.wall", lang), self.action_toggle_wall)
        for kind in ("grade", "due", "age", "owner"):
            yield SystemCommand(f"{t('sort', lang)}: {t(f'sort.{kind}', lang)}", t("palette.sort", lang),
                                lambda k=kind: self._set_sort(k))
        for grade in ("I", "II", "III", "IV"):
            yield SystemCommand(f"{t('filter', lang)}: {grade} {t(f'grade.{grade}', lang)}",
                                t("palette.filter", lang), lambda g=grade: self._filter_grade(g))
        yield SystemCommand(t("action.clear_filter", lang), t("palette.clear", lang), self._clear_filter)
        actions = getattr(screen, "palette_actions", None)
        if actions is not None:
            yield from actions()

    def _set_sort(self, kind: str) -> None:
        self.model.set_sort(kind)
        self.version += 1

    def _filter_grade(self, grade: str) -> None:
        from watchboard.board.model import Filter
        self.model.set_filter(Filter(grades=frozenset({grade})))
        self.version += 1

    def _clear_filter(self) -> None:
        from watchboard.board.model import Filter
        self.model.set_filter(Filter())
        self.version += 1


def error_text(reply: dict[str, Any], lang: Lang, zone: ZoneInfo = SHANGHAI) -> str:
    """The service's `{"ok": false, "error": {code, field, message}}` as one plain line; the
    UTC times services write in messages are shown in the board's zone, to the minute."""
    from watchboard.domain.present import localize_times

    err = reply.get("error") or {}
    if not isinstance(err, dict):
        err = {"message": str(err)}
    field = clean_line(str(err.get("field") or ""), 60)
    return t("sent.error", lang, code=clean_line(str(err.get("code") or "error"), 30),
             field=f", {field}" if field else "",
             message=clean_line(localize_times(str(err.get("message") or ""), zone), 300))


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container): say so rather than guess
        return "unknown"


def run_board(feed_factory: FeedFactory, send: CommandSender | None, *, lang: Lang = "zh",
              wall: bool = False, zone: ZoneInfo = SHANGHAI, units: Units | None = None) -> None:
    """Run the board in this terminal until the operator quits."""
    BoardApp(feed_factory, send, lang=lang, wall=wall, zone=zone, units=units).run()
