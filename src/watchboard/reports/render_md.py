"""The document as Markdown (the default of `watchboard report`, printed to stdout).

Charts are left out — a terminal cannot show them and base64 in a pipe helps nobody; their
figures are in the tables beside them (and the HTML and Word files carry the pictures).
"""

from __future__ import annotations

from watchboard.reports.document import Chart, Document, Heading, Para, Table
from watchboard.reports.text import Lang


def _cell(text: str) -> str:
    """One table cell on one line: pipes escaped, line breaks as spaces."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|") or " "


def _table(t: Table) -> list[str]:
    align = ["---:" if i in t.numeric else "---" for i in range(len(t.columns))]
    lines = ["| " + " | ".join(_cell(c) for c in t.columns) + " |", "| " + " | ".join(align) + " |"]
    for n, row in enumerate(t.rows):
        cells = [_cell(c) for c in row]
        if t.total_row and n == len(t.rows) - 1:
            cells = [f"**{c}**" if c.strip() else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(doc: Document, lang: Lang) -> str:
    out = [f"# {doc.title}", "", doc.addressee, ""]
    for block in doc.blocks:
        match block:
            case Heading(level=level, text=text):
                out += ["#" * (level + 1) + " " + text, ""]
            case Para(text=text):
                out += [text, ""]
            case Table():
                out += [*_table(block), ""]
            case Chart():
                continue
    out += ["", f"{doc.issuer}  ", lang.date(doc.issued), ""]
    if doc.footnote:
        out += ["---", "", f"*{doc.footnote}*", ""]
    return "\n".join(out)
