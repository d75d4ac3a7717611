"""One-line status widgets: the top bar, the connection banner and the service-health line."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from watchboard.board.format import local_time
from watchboard.board.i18n import Lang, named, t
from watchboard.board.model import Alert
from watchboard.board.styles import DIM, Colours, colours_of
from watchboard.bus.feed_types import Connection, ServiceHealth
from watchboard.domain.present import channel_label
from watchboard.domain.sanitize import clean_line
from watchboard.domain.views import CalendarView, SweepView


def conn_style(state: str, colours: Colours) -> Style | str:
    if state == "connected":
        return colours.ok
    if state in ("connecting", "reconnecting"):
        return colours.warn_text
    return colours.alarm if state in ("disconnected", "closed") else ""


def conn_text(conn: Connection | None, lang: Lang, colours: Colours) -> Text:
    state = conn.state if conn else "connecting"
    mark = "●" if state == "connected" else "○"
    return Text(f"{mark} {t('app.nats', lang)} {t(f'conn.{state}', lang)}", style=conn_style(state, colours))


def no_system_text(conn: Connection | None, health: ServiceHealth | None, loaded: bool,
                   lang: Lang) -> str | None:
    """What to say while nothing has loaded: no NATS at the URL, or NATS without our services.

    None once data has loaded, and while the first connection attempt is still under way.
    """
    if loaded or conn is None:
        return None
    if conn.state in ("reconnecting", "disconnected", "closed"):
        return t("nosystem", lang, url=clean_line(conn.url or "nats://127.0.0.1:4222", 120))
    if conn.state == "connected" and health is not None and not any(health.services.values()) \
            and not health.loading:
        return t("nosystem.services", lang)
    return None


class TopBar(Static):
    """Title, NATS state, the open count, the last sweep and the clock, on one line."""

    DEFAULT_CSS = """
    TopBar { height: 1; background: $primary; color: $text; text-style: bold; padding: 0 1; }
    """

    def show(self, *, title: str, conn: Connection | None, sweep: SweepView | None,
             now: datetime, zone: ZoneInfo, lang: Lang, extra: Text | None = None) -> None:
        width = self.size.width or 80
        left = Text(title, style="bold")
        left.append("  ")
        colours = colours_of(self)
        left.append_text(conn_text(conn, lang, colours))
        if extra is not None:
            left.append("  ")
            left.append_text(extra)
        right = Text()
        if width >= 70:
            right.append_text(sweep_text(sweep, zone, lang, colours))
            right.append("  ")
        right.append(now.astimezone(zone).strftime("%m-%d %H:%M:%S" if width >= 60 else "%H:%M:%S"),
                     style="bold")
        gap = max(1, width - 2 - left.cell_len - right.cell_len)
        if left.cell_len + right.cell_len + 1 > width - 2:
            left.truncate(max(0, width - 3 - right.cell_len), overflow="ellipsis")
            gap = 1
        self.update(Text.assemble(left, " " * gap, right))


def sweep_text(sweep: SweepView | None, zone: ZoneInfo, lang: Lang, colours: Colours) -> Text:
    out = Text(f"{t('sweep', lang)} ")
    if sweep is None or sweep.last_at is None:
        out.append(t("sweep.never", lang), style=colours.warn_text)
    else:
        out.append(local_time(sweep.last_at, zone))
    if sweep is not None and sweep.missed:
        out.append(f" {t('sweep.missed', lang)} ", style=colours.alarm)
        out.append(clean_line(", ".join(sweep.missed), 40), style=colours.alarm)
    return out


class ConnectionBanner(Static):
    """Shown while the bus is unreachable: what the board shows is as of the last data."""

    DEFAULT_CSS = """
    ConnectionBanner {
        height: auto; display: none; background: $error; color: $text; text-style: bold;
        padding: 0 1;
    }
    ConnectionBanner.-shown { display: block; }
    """

    def show(self, conn: Connection | None, last_data: datetime | None, zone: ZoneInfo,
             lang: Lang, *, health: ServiceHealth | None = None, loaded: bool = True) -> None:
        hint = no_system_text(conn, health, loaded, lang)
        if hint is not None:  # nothing shown yet: say why, and what to run
            self.set_class(True, "-shown")
            text = Text(hint)
            if conn is not None and conn.error:
                text.append(f"  ({clean_line(conn.error, 120)})", style="not bold")
            self.update(text)
            return
        lost = conn is not None and conn.state in ("disconnected", "reconnecting", "closed")
        self.set_class(lost, "-shown")
        if lost and conn is not None:
            at = local_time(last_data, zone) if last_data else "—"
            text = Text(t("banner.lost", lang, state=t(f"conn.{conn.state}", lang), at=at))
            if conn.error:
                text.append(f"  ({clean_line(conn.error, 120)})", style="not bold")
            self.update(text)


def health_text(health: ServiceHealth | None, lang: Lang, colours: Colours) -> Text:
    """`服务 ● intake ◐ grading 加载中 ✗ deadlines`: green ready, amber still loading (its state,
    or catching up on the stream: its commands are not answered yet), red not answering."""
    out = Text(f"{t('health.title', lang)} ")
    if health is None:
        out.append("—", style=DIM)
        return out
    for name, ok in sorted(health.services.items()):
        out.append(" ")
        label = named('service', clean_line(name, 24), lang)
        if not ok and name in health.loading:
            what = health.loading[name]
            words = t(f"health.loading.{what}", lang) if what in ("state", "catching up") else t("health.loading", lang)
            out.append(f"◐ {label} {words}", style=colours.warn_text)
            continue
        out.append(f"{'●' if ok else '✗'} {label}", style=colours.ok if ok else colours.alarm)
    return out


def alerts_text(alerts: list[Alert], zone: ZoneInfo, lang: Lang, colours: Colours) -> Text:
    """notify's board-channel notices and failed deliveries, one line each (all sanitized)."""
    out = Text(t("alerts.title", lang), style="bold", no_wrap=True, overflow="ellipsis")
    for a in alerts:  # one line each: the panel is narrow and a title may be long
        out.append(f"\n{local_time(a.at, zone)} ", style=DIM)
        if a.failed:
            out.append("✗ ", style=colours.alarm)
            out.append(f"{a.to} {channel_label(a.channel, lang)}: {a.reason or t('alerts.failed', lang)}",
                       style=colours.alarm)
        else:
            out.append("● ", style=colours.warn_text)
            out.append(f"{a.to} ← {a.title}")
    return out


class AlertsPanel(Static):
    """The `board` channel of notify: notices for people watching the board, and failures."""

    DEFAULT_CSS = """
    AlertsPanel { height: auto; padding: 0 1; margin-top: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    AlertsPanel.-shown { display: block; }
    """

    def show(self, alerts: list[Alert], zone: ZoneInfo, lang: Lang) -> None:
        self.set_class(bool(alerts), "-shown")
        if alerts:
            self.update(alerts_text(alerts, zone, lang, colours_of(self)))


class HealthLine(Static):
    """Which services answered the last ping."""

    DEFAULT_CSS = """
    HealthLine { height: auto; padding: 0 1; }
    """

    def show(self, health: ServiceHealth | None, lang: Lang) -> None:
        self.update(health_text(health, lang, colours_of(self)))


def calendar_notice(calendar: CalendarView | None, lang: Lang) -> Text | None:
    """The deadlines service's coverage warning in `lang` (else the other language); None if none."""
    if calendar is None:
        return None
    first, second = ("warning_zh", "warning_en") if lang == "zh" else ("warning_en", "warning_zh")
    warning = clean_line(getattr(calendar, first) or getattr(calendar, second) or "", 300)
    if not warning:
        return None
    # Wrapped, never cut: the end of the sentence says what to do.
    return Text(t("calendar.notice", lang, warning=warning))


class CalendarNotice(Static):
    """A yellow line while the working calendar runs out: clocks past its end are provisional."""

    DEFAULT_CSS = """
    CalendarNotice {
        height: auto; display: none; background: $warning-muted; color: $text-warning; text-style: bold;
        padding: 0 1;
    }
    CalendarNotice.-shown { display: block; }
    """

    def show(self, calendar: CalendarView | None, lang: Lang) -> None:
        text = calendar_notice(calendar, lang)
        self.set_class(text is not None, "-shown")
        if text is not None:
            self.update(text)
