"""Pure formatting for the board: countdowns, ages, labels and cell-width truncation.

Every function here is pure (no clock reads, no I/O) so tables and screens stay thin and
the awkward cases (CJK double-width characters, overdue clocks) are tested directly.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.cells import cell_len, get_character_cell_size

from watchboard.board.i18n import Lang, t

ELLIPSIS = "…"
GRADE_ORDER: dict[str, int] = {"I": 0, "II": 1, "III": 2, "IV": 3}
GRADES: tuple[str, ...] = ("I", "II", "III", "IV")


def grade_rank(grade: str | None) -> int:
    """I → 0 … IV → 3; unknown or not yet graded sorts last."""
    return GRADE_ORDER.get(grade or "", 4)


def countdown(due_at: datetime, now: datetime) -> str:
    """`2h05m` until due, `-0h12m` overdue; days shown as `3d04h` past 48 hours."""
    seconds = int((due_at - now).total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return f"{sign}{days}d{hours:02d}h"
    return f"{sign}{hours}h{minutes:02d}m"


PROVISIONAL_MARK = "~"  # ASCII on purpose: `≈` is ambiguous-width and doubles in CJK terminals


def clock_countdown(due_at: datetime, now: datetime, provisional: bool) -> str:
    """The countdown, marked `~` when the due time rests on a calendar not yet known."""
    return (PROVISIONAL_MARK if provisional else "") + countdown(due_at, now)


def age(since: datetime, now: datetime) -> str:
    """Relative age, compact and language-neutral: `45s`, `12m`, `3h`, `2d`."""
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


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


def local_time(at: datetime | None, zone: ZoneInfo, *, with_date: bool = True) -> str:
    if at is None:
        return "—"
    local = at.astimezone(zone)
    return local.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S")


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

