"""The board application: consumes the feed in a worker, keeps the model, maps modes to screens.

Data flow: `consume_feed` (an exclusive worker) hands each feed item to `Ingest` (ingest.py),
which gathers the `KVChange`s the feed has ready, folds them into the `BoardModel` in one call
and notes what changed; a 150 ms timer drains that into one `version` bump, which screens
watch and redraw from. So 200 changes a second cost ~7 redraws, not 200, and a 40,000-key
snapshot is one redraw. Connection and health items are posted as messages. Operator
commands go out through `send` (None = read-only wall) in their own worker group.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import time
from collections.abc import Callable, Iterable, Mapping
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

from watchboard.board.format import GradeLabels, Units, error_text, grade_label
from watchboard.board.i18n import Lang, t
from watchboard.board.ingest import Ingest
from watchboard.board.model import BoardModel, Filter, Trend
from watchboard.board.screens.common import LocalPalette, localize_bindings
from watchboard.board.screens.help import HelpScreen
from watchboard.board.screens.operator import OperatorScreen
from watchboard.board.screens.wall import WallScreen
from watchboard.board.styles import TRUE_COLOUR, Colours, theme_variables
from watchboard.bus.feed_types import (
    CommandSender,
    Connection,
    Feed,
    FeedItem,
    KVBatch,
    KVChange,
    ServiceHealth,
    SnapshotDone,
)
from watchboard.domain.sanitize import clean_line

FeedFactory = Callable[[], Feed]
SHANGHAI = ZoneInfo("Asia/Shanghai")
TREND_EVERY_S = 5.0


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

    # One screen per mode, each in its own module; `--wall` picks the first one shown.
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "operator": OperatorScreen,
        "wall": WallScreen,
    }

    version: reactive[int] = reactive(0, init=False)
    tick: reactive[int] = reactive(0, init=False)
    connection: reactive[Connection | None] = reactive(None, init=False)
    health: reactive[ServiceHealth | None] = reactive(None, init=False)
    trend: reactive[Trend | None] = reactive(None, init=False)  # one for every screen; see _refresh_trend
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
                 grade_clocks: dict[str, list[str]] | None = None,
                 grade_labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
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
        # grade_labels: the profile's grades and names from this board's config, until grading sends its own
        self.model = BoardModel(lang=lang, units=dict(units or {}), labels=GradeLabels.of(grade_labels))
        self.ingest = Ingest(self.model, lambda: self.now())  # `now` may be replaced (tests move the clock)
        self.grade_clocks = grade_clocks  # grade → its clock names (deadlines.toml), for regrade's warning
        self._settle_scheduled = False
        self.colours: Colours = TRUE_COLOUR  # from the theme variables, once mounted
        self._trend_at = -1e9  # monotonic time of the last trend computed
        self._trend_stale = True  # data changed (or the hour moved) since then
        self._trend_loaded = False  # the trend computed includes the first snapshot
        self.title = t("app.wall_title" if wall else "app.title", lang)

    @property
    def read_only(self) -> bool:
        return self.send is None

    # --- modes ----------------------------------------------------------------------

    def on_mount(self) -> None:
        localize_bindings(self, self.lang)
        self.sixteen_colours = self._sixteen_colours()
        self.colours = Colours.from_variables(self.theme_variables)
        if self.sixteen_colours:
            # let named colours reach the terminal's own palette instead of being turned into
            # RGB and squeezed back to the nearest of 16 (which made grade I magenta)
            self.ansi_color = True
            self.add_class("-ansi16")
        self._refresh_trend()  # the screens draw an empty trend until the snapshot is in
        self.switch_mode("wall" if self.wall else "operator")
        self.set_interval(self.flush_interval, self._flush, name="flush")
        self.set_interval(1.0, self._tick, name="tick")
        self.consume_feed()

    def _sixteen_colours(self) -> bool:
        return self.console.color_system in ("standard", "windows")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The board's colours ($grade-i, $status-alarm, …; styles.py), for the terminal's colours.

        Called from `App.__init__` (the console is made by then, this class's fields are not)."""
        return theme_variables(self._sixteen_colours())

    def action_toggle_wall(self) -> None:
        self.switch_mode("operator" if self.current_mode == "wall" else "wall")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # --- the feed -------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def consume_feed(self) -> None:
        """Follow the feed for ever: a feed that ends or fails is started again after a pause."""
        ingest = self.ingest
        while True:
            feed: Feed | None = None
            try:
                feed = self.feed_factory()
                ingest.feed_started()
                async for item in feed:
                    if type(item) is not KVChange:
                        ingest.settle()
                        self._take(item)
                        if isinstance(item, KVBatch):
                            await asyncio.sleep(0)
                    elif ingest.gather(item):  # the budget: fold now and let the screen and keys breathe
                        ingest.settle()
                        await asyncio.sleep(0)
                    elif not self._settle_scheduled:
                        # fold what the feed has ready in one call, when the worker next waits for it
                        self._settle_scheduled = True
                        asyncio.get_running_loop().call_soon(self._settle)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed's own failure is shown, never fatal
                self.post_message(self.ConnectionChanged(Connection(
                    state="reconnecting", at=self.now(), error=f"{type(exc).__name__}: {exc}")))
            finally:
                ingest.feed_ended()
                aclose = getattr(feed, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
            await asyncio.sleep(self.retry_delay)

    def _settle(self) -> None:
        self._settle_scheduled = False
        self.ingest.settle()

    def _take(self, item: FeedItem) -> None:
        """An item other than a single change: fold a batch, or post what the screens react to."""
        if isinstance(item, KVChange | KVBatch):
            self.ingest.gather_all(item.changes if isinstance(item, KVBatch) else [item])
            self.ingest.settle()
        elif isinstance(item, SnapshotDone):
            self.ingest.snapshot_done()
            # draw now rather than after the message queue and the next flush (~100-250 ms)
            self.snapshot_loaded = True
            self._flush()
            self.post_message(self.SnapshotLoaded(item.count))
        elif isinstance(item, Connection):
            self.post_message(self.ConnectionChanged(item))
        elif isinstance(item, ServiceHealth):
            self.post_message(self.HealthReported(item))

    def _flush(self) -> None:
        """Coalesce: everything that changed since the last flush becomes one redraw."""
        redraw, urgent = self.ingest.drain()
        if redraw:
            self.version += 1
            self._trend_stale = True
            self._refresh_trend()
        if urgent:
            self.post_message(self.UrgentArrived(urgent))

    def _tick(self) -> None:
        self.tick += 1
        if self.tick % 60 == 0:  # the hours move on even when nothing changes
            self._trend_stale = True
            self.ingest.evict()  # and incidents closed over a day ago leave the board
        self._refresh_trend()

    def _refresh_trend(self) -> None:
        """The trend (counts kept per hour by the model, so a few microseconds): at most every
        few seconds (it moves by the hour, and each new value redraws the sparklines), but never
        left stale: a change inside the pause is counted by the next tick after it, and the first
        picture with the snapshot in is computed at once."""
        first = self.snapshot_loaded and not self._trend_loaded
        if self._trend_stale and (first or time.monotonic() - self._trend_at >= TREND_EVERY_S):
            self._trend_loaded = self.snapshot_loaded
            self._trend_stale = False
            self._trend_at = time.monotonic()
            self.trend = self.model.trend(self.now())

    @property
    def last_data_at(self) -> datetime | None:
        """When data last came (the banner of a lost connection says the board is as of then)."""
        return self.ingest.last_data_at

    def on_board_app_connection_changed(self, message: ConnectionChanged) -> None:
        self.connection = message.connection
        if message.connection.state == "connected" and self.ingest.last_data_at is None:
            self.ingest.last_data_at = message.connection.at

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
        labels = self.model.grade_labels()
        for grade in labels.grades:
            yield SystemCommand(f"{t('filter', lang)}: {grade_label(grade, lang, labels)}",
                                t("palette.filter", lang), lambda g=grade: self._filter_grade(g))
        yield SystemCommand(t("action.clear_filter", lang), t("palette.clear", lang), self._clear_filter)
        actions = getattr(screen, "palette_actions", None)
        if actions is not None:
            yield from actions()

    def _set_sort(self, kind: str) -> None:
        self.model.set_sort(kind)
        self.version += 1

    def _filter_grade(self, grade: str) -> None:
        self.model.set_filter(Filter(grades=frozenset({grade})))
        self.version += 1

    def _clear_filter(self) -> None:
        self.model.set_filter(Filter())
        self.version += 1


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container): say so rather than guess
        return "unknown"
