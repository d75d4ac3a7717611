"""Pure formatting for the board: countdowns, ages, labels and cell-width truncation.

Every function here is pure (no clock reads, no I/O) so tables and screens stay thin and
the awkward cases (CJK double-width characters, overdue clocks) are tested directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.cells import cell_len, get_character_cell_size

from watchboard.board.i18n import Lang, t

ELLIPSIS = "…"
GRADE_ORDER: dict[str, int] = {"I": 0, "II": 1, "III": 2, "IV": 3}
GRADES: tuple[str, ...] = ("I", "II", "III", "IV")


def grade_rank(grade: str | None) -> int:
    """I → 0 … IV → 3; unknown or not yet graded sorts last."""
    return GRADE_ORDER.get(grade or "", 4)


def countdown(due_at: datetime, now: datetime, lang: Lang = "en") -> str:
    """`2h05m` (`2时05分`) until due, `-0h12m` overdue; days shown as `3d04h` (`3天04时`) past 48 hours."""
    seconds = int((due_at - now).total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return sign + t("countdown.days", lang, d=days, h=hours)
    return sign + t("countdown.hours", lang, h=hours, m=minutes)


def span(delta: timedelta, lang: Lang = "en") -> str:
    """A length of time people read in a sentence: `2h10m` / `2小时10分`, `45m` / `45分钟`, `3d4h`."""
    minutes = max(0, int(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return t("span.dh", lang, d=hours // 24, h=hours % 24)
    if hours:
        return t("span.hm", lang, h=hours, m=minutes)
    return t("span.m", lang, m=minutes)


PROVISIONAL_MARK = "~"  # ASCII on purpose: `≈` is ambiguous-width and doubles in CJK terminals


def clock_countdown(due_at: datetime, now: datetime, provisional: bool, lang: Lang = "en") -> str:
    """The countdown, marked `~` when the due time rests on a calendar not yet known."""
    return (PROVISIONAL_MARK if provisional else "") + countdown(due_at, now, lang)


def age(since: datetime, now: datetime, lang: Lang = "en") -> str:
    """Relative age, compact: `45s`, `12m`, `3h`, `2d` (`45秒`, `12分`, `3时`, `2天`)."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return t("age.s", lang, n=seconds)
    if seconds < 3600:
        return t("age.m", lang, n=seconds // 60)
    if seconds < 86400 * 2:
        return t("age.h", lang, n=seconds // 3600)
    return t("age.d", lang, n=seconds // 86400)


def grade_label(grade: str | None, lang: Lang) -> str:
    """The roman numeral always shows (16-colour terminals, colour-blind readers)."""
    if not grade:
        return t("ungraded", lang)
    name = t(f"grade.{grade}", lang)
    return f"{grade} {name}" if name != f"grade.{grade}" else grade


def stage_label(stage: str | None, lang: Lang) -> str:
    key = f"stage.{stage or 'reported'}"
    label = t(key, lang)
    return stage or "" if label == key else label


def clock_label(name: str, lang: Lang) -> str:
    key = f"clock.{name}"
    label = t(key, lang)
    return name if label == key else label


def local_time(at: datetime | None, zone: ZoneInfo, *, with_date: bool = True,
               year: bool = False) -> str:
    """`11-27 16:14` in the board's zone (`2026-11-27 16:14` with `year`; `16:14:05` without date)."""
    if at is None:
        return "—"
    local = at.astimezone(zone)
    if not with_date:
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


def truncate(text: str, width: int) -> str:
    """Cut `text` to at most `width` cells; a cut ends in `…` and never halves a wide character."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    out: list[str] = []
    used = 0
    limit = width - 1  # room for the ellipsis
    for ch in text:
        w = get_character_cell_size(ch)
        if used + w > limit:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def fit(text: str, width: int, *, right: bool = False) -> str:
    """Truncate then pad with spaces to exactly `width` cells (CJK-aware alignment)."""
    cut = truncate(text, width)
    pad = " " * (width - cell_len(cut))
    return pad + cut if right else cut + pad


def compact_number(n: int) -> str:
    """12345 → `12.3k`; keeps metric columns short."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"

