"""The reports' charts: new incidents by day and grade in the national warning colours, and
on-time rates by unit. Each figure is drawn on its own Agg canvas (matplotlib's raster backend,
no display needed) without pyplot, so nothing global changes for the rest of the process.

Chinese labels need a CJK font on every machine, including a duty room's PC with no fonts
installed: the `mplfonts` package (a dependency) ships Noto Sans CJK SC, and we register that
file with matplotlib's font manager directly — never relying on `mplfonts init` having been run
or on system fonts — so no chart shows boxes.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# National warning colours (DOMAIN.md §2): I red, II orange, III yellow, IV blue.
GRADE_COLOURS = {"I": "#e60012", "II": "#f39800", "III": "#f5c800", "IV": "#0068b7"}
OTHER_COLOUR = "#9e9e9e"
FONT_FILE = "NotoSansCJKsc-Regular.otf"
WIDTH_IN = 6.1  # 155 mm: the text width of an A4 page after GB/T 9704 (156 mm)
DPI = 200


class ChartFontError(RuntimeError):
    pass


def font_path() -> Path:
    """The Noto Sans CJK file inside the installed `mplfonts` package (found without importing
    it: its import runs matplotlib set-up of its own)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise ChartFontError("the mplfonts package is missing: reinstall watchboard (`pip install .`)")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_FILE
    if not path.is_file():
        raise ChartFontError(f"{path} is missing: reinstall mplfonts")
    return path


@cache
def font_name() -> str:
    """Register the CJK font with matplotlib (once) and return its family name."""
    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def _figure(height_in: float) -> tuple[Figure, dict[str, object]]:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    rc = {"font.family": [font_name()], "axes.unicode_minus": False, "font.size": 9}
    return fig, rc


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def by_day_and_grade(days: Sequence[str], grades: Sequence[str], labels: Sequence[str],
                     counts: Sequence[Sequence[int]], title: str, ylabel: str) -> bytes:
    """Stacked bars: one bar per day, one colour per grade (worst at the bottom).

    `counts[i][j]` is the count of grade `grades[j]` on day `days[i]`; `labels[j]` its name."""
    fig, rc = _figure(2.8)
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        bottoms = [0] * len(days)
        for j, grade in enumerate(grades):
            heights = [row[j] for row in counts]
            if not any(heights):
                continue
            ax.bar(days, heights, bottom=bottoms, label=labels[j], color=GRADE_COLOURS.get(grade, OTHER_COLOUR),
                   edgecolor="white", linewidth=0.5, width=0.6)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        top = max(bottoms, default=0)
        ax.set_ylim(0, max(top + 1, 4))
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
        if top:
            ax.legend(frameon=False, ncols=min(len(grades), 5), loc="upper left", fontsize=8)
        return _png(fig)


def on_time_by_unit(units: Sequence[str], rates: Sequence[float], title: str, xlabel: str) -> bytes:
    """Horizontal bars of each unit's on-time rate (0–100 %), in the order given, the figure at each bar."""
    fig, rc = _figure(max(1.6, 0.6 + 0.32 * len(units)))
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        colours = ["#2e7d32" if r >= 90 else "#f39800" if r >= 60 else "#e60012" for r in rates]
        ypos = list(range(len(units)))[::-1]
        ax.barh(ypos, rates, color=colours, height=0.6)
        for y, rate in zip(ypos, rates, strict=True):
            ax.text(min(rate + 1.5, 101), y, f"{rate:.1f}%", va="center", fontsize=8)
        ax.set_yticks(ypos, list(units))
        ax.set_xlim(0, 112)
        ax.set_xticks([0, 20, 40, 60, 80, 100])
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.spines[["top", "right"]].set_visible(False)
        return _png(fig)
