"""The document as one self-contained HTML page: styles inline, charts as base64 PNG, fonts
named from the reader's machine only — no outside font, script, style sheet or image, so the
page opens on an office PC without network and leaks nothing when opened.

The page follows the Word layout where a browser can: A4 print margins (GB/T 9704-2012),
仿宋 body, 小标宋 title, 黑体 / 楷体 headings. Every text is escaped; links in the data (mention
URLs) are printed as text, never as links.
"""

from __future__ import annotations

import base64
from html import escape

from watchboard.reports.document import Chart, Document, Heading, Para, Table
from watchboard.reports.text import Lang

_CSS = """
@page { size: A4; margin: 37mm 26mm 35mm 28mm; }
body { margin: 0; background: #f2f2f2; color: #000; }
main { box-sizing: border-box; width: 210mm; min-height: 297mm; margin: 12px auto; padding: 37mm 26mm 35mm 28mm;
       background: #fff; font-family: "仿宋_GB2312", "FangSong_GB2312", "FangSong", "STFangsong", "仿宋", serif;
       font-size: 16pt; line-height: 28.95pt; }
h1 { font-family: "方正小标宋简体", "FZXiaoBiaoSong-B05S", "STZhongsong", "SimSun", serif; font-size: 22pt;
     font-weight: normal; text-align: center; line-height: 35pt; margin: 0 0 28.95pt; }
h2 { font-family: "黑体", "SimHei", "Heiti SC", sans-serif; font-size: 16pt; font-weight: normal;
     margin: 0; text-indent: 2em; }
h3 { font-family: "楷体_GB2312", "KaiTi_GB2312", "KaiTi", "STKaiti", serif; font-size: 16pt; font-weight: normal;
     margin: 0; text-indent: 2em; }
p { margin: 0; text-indent: 2em; text-align: justify; }
p.to { text-indent: 0; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 12pt; font-size: 12pt; line-height: 1.4; }
th, td { border: 0.5pt solid #000; padding: 2pt 4pt; vertical-align: top; }
th { font-family: "黑体", "SimHei", sans-serif; font-weight: normal; text-align: center; }
td.n { text-align: right; }
tr.total td { font-weight: bold; }
figure { margin: 6pt 0 12pt; text-align: center; }
figure img { max-width: 100%; }
figcaption { font-size: 12pt; }
.sign { text-align: right; margin-top: 28.95pt; padding-right: 4em; }
.sign p { text-indent: 0; text-align: right; }
.foot { font-size: 10pt; color: #555; text-indent: 0; margin-top: 24pt; line-height: 1.4; }
@media print { body { background: none; } main { width: auto; min-height: 0; margin: 0; padding: 0; } }
"""


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    rows = []
    for n, row in enumerate(t.rows):
        cells = "".join(f'<td class="n">{escape(c)}</td>' if i in t.numeric else f"<td>{escape(c)}</td>"
                        for i, c in enumerate(row))
        total = ' class="total"' if t.total_row and n == len(t.rows) - 1 else ""
        rows.append(f"<tr{total}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _chart(c: Chart) -> str:
    data = base64.b64encode(c.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(c.alt)}">'
            f"<figcaption>{escape(c.caption)}</figcaption></figure>")


def render(doc: Document, lang: Lang) -> str:
    parts = [f"<h1>{escape(doc.title)}</h1>", f'<p class="to">{escape(doc.addressee)}</p>']
    for block in doc.blocks:
        match block:
            case Heading(level=1, text=text):
                parts.append(f"<h2>{escape(text)}</h2>")
            case Heading(text=text):
                parts.append(f"<h3>{escape(text)}</h3>")
            case Para(text=text):
                parts.append(f"<p>{escape(text)}</p>")
            case Table():
                parts.append(_table(block))
            case Chart():
                parts.append(_chart(block))
    parts.append(f'<div class="sign"><p>{escape(doc.issuer)}</p><p>{escape(lang.date(doc.issued))}</p></div>')
    if doc.footnote:
        parts.append(f'<p class="foot">{escape(doc.footnote)}</p>')
    html_lang = "zh-CN" if doc.lang == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(doc.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(parts) + "\n</main>\n</body>\n</html>\n")
