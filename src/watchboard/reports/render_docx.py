"""The document as a Word file laid out after GB/T 9704-2012 (党政机关公文格式).

What the standard asks and how it is done here (docs/reports.md lists the same):

- A4 paper; 天头 (top margin) 37 mm, 订口 (left) 28 mm, text block 156 × 225 mm, so right 26 mm
  and bottom 35 mm (5.2);
- body in 3号仿宋 (16 pt), 22 lines a page (line pitch 28.95 pt: 225 mm / 22) (5.2.2, 7.1);
- title in 2号小标宋 (22 pt), centred, one blank line under it (7.3.1);
- 主送机关 under the title, flush left, with a full-width colon (7.3.2);
- headings numbered 一、 in 黑体 and （一） in 楷体, indented two characters like the text (7.3.3);
- tables with a header row that repeats on every page (the standard leaves table type sizes
  open: 仿宋 / 黑体 小四, 12 pt, so a table of many columns fits the 156 mm text width);
- 发文机关署名 and 成文日期 at the end, unsealed layout: the name one line under the text, two
  characters from the right; the date under it, its first character two characters right of
  the name's, or two characters from the right when it is the longer (7.3.5.2);
- page numbers in 4号半角宋体, "— 1 —", odd pages on the right and even pages on the left, one
  character in from the edge of the text block, 7 mm under it (7.5).

Chinese type faces are named on each run's East Asian font (`w:eastAsia` in `w:rFonts`): Word
uses that name for Chinese characters and ignores `w:ascii` for them, so without it Word shows
its default face. Latin letters and digits get Times New Roman.
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document as new_docx
from docx.enum.section import WD_SECTION_START
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from watchboard.reports.document import Chart, Document, Heading, Para, Table
from watchboard.reports.text import Lang

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
PAGE_FONT = "宋体"
LATIN_FONT = "Times New Roman"

BODY_PT = 16.0  # 3号
TITLE_PT = 22.0  # 2号
TABLE_PT = 12.0  # 小四
PAGE_PT = 14.0  # 4号
LINE_PT = 28.95  # 225 mm / 22 lines
TITLE_LINE_PT = 35.0
TEXT_WIDTH_MM = 156.0
PAGE = {"width": 210, "height": 297, "top": 37, "bottom": 35, "left": 28, "right": 26}
# The page number's top edge sits 7 mm under the text block; the footer distance is measured
# from the page's bottom edge to the number's baseline, about one 14 pt line lower.
FOOTER_MM = 35 - 7 - 5


def font(run: Run, east_asia: str, size: float, *, bold: bool = False, latin: str = LATIN_FONT) -> Run:
    """Size and faces of one run: the East Asian face by name (what Word shows for Chinese)."""
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = latin
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for key in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(key), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    return run


def _spacing(p: Paragraph, line: float | None = LINE_PT, *, indent_chars: float = 0, before: float = 0,
             after: float = 0, align: WD_ALIGN_PARAGRAPH | None = None) -> Paragraph:
    pf = p.paragraph_format
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(line)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    pf.first_line_indent = Pt(indent_chars * BODY_PT) if indent_chars else Pt(0)
    if align is not None:
        p.alignment = align
    return p


def _setup(docx: object, doc: Document) -> None:
    """Paper, margins, the 22-line grid, default faces and the language of the text."""
    section = docx.sections[0]  # type: ignore[attr-defined]
    section.start_type = WD_SECTION_START.NEW_PAGE
    section.page_width, section.page_height = Mm(PAGE["width"]), Mm(PAGE["height"])
    section.top_margin, section.bottom_margin = Mm(PAGE["top"]), Mm(PAGE["bottom"])
    section.left_margin, section.right_margin = Mm(PAGE["left"]), Mm(PAGE["right"])
    section.footer_distance, section.header_distance = Mm(FOOTER_MM), Mm(15)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(round(LINE_PT * 20)))  # twentieths of a point
    normal = docx.styles["Normal"]  # type: ignore[attr-defined]
    normal.font.size, normal.font.name = Pt(BODY_PT), LATIN_FONT
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), BODY_FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "zh-CN" if doc.lang == "zh" else "en-GB")
    lang.set(qn("w:eastAsia"), "zh-CN")
    rpr.append(lang)
    props = docx.core_properties  # type: ignore[attr-defined]
    props.title, props.author, props.language = doc.title, doc.issuer, "zh-CN" if doc.lang == "zh" else "en-GB"
    docx.settings.odd_and_even_pages_header_footer = True  # type: ignore[attr-defined]


def _page_number(p: Paragraph) -> None:
    """'— N —' with N a PAGE field, in 4号宋体."""
    font(p.add_run("— "), PAGE_FONT, PAGE_PT)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        run = font(p.add_run(), PAGE_FONT, PAGE_PT)
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._element.append(char)
        elif text == " PAGE ":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._element.append(instr)
        else:
            run.text = text or ""
    font(p.add_run(" —"), PAGE_FONT, PAGE_PT)


def _footers(docx: object) -> None:
    section = docx.sections[0]  # type: ignore[attr-defined]
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        p = footer.paragraphs[0] if footer.paragraphs else footer.add_paragraph()
        _spacing(p, None, align=align)
        # One character in from the text block's edge (单页码居右空一字, 双页码居左空一字).
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            p.paragraph_format.right_indent = Pt(PAGE_PT)
        else:
            p.paragraph_format.left_indent = Pt(PAGE_PT)
        _page_number(p)


def _text(docx: object, text: str, *, east_asia: str = BODY_FONT, size: float = BODY_PT, indent: float = 2,
          align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY, bold: bool = False, line: float = LINE_PT,
          keep: bool = False) -> Paragraph:
    p = _spacing(docx.add_paragraph(), line, indent_chars=indent, align=align)  # type: ignore[attr-defined]
    p.paragraph_format.keep_with_next = keep
    font(p.add_run(text), east_asia, size, bold=bold)
    return p


def _repeat_header(row: object) -> None:
    tr_pr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _no_split(row: object) -> None:
    tr_pr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    tr_pr.append(OxmlElement("w:cantSplit"))


def _cell_text(cell: object, text: str, *, header: bool, numeric: bool, bold: bool) -> None:
    p = cell.paragraphs[0]  # type: ignore[attr-defined]
    _spacing(p, None, align=WD_ALIGN_PARAGRAPH.CENTER if header else
             WD_ALIGN_PARAGRAPH.RIGHT if numeric else WD_ALIGN_PARAGRAPH.LEFT)
    font(p.add_run(text), H1_FONT if header else BODY_FONT, TABLE_PT, bold=bold and not header)


def _table(docx: object, t: Table) -> DocxTable:
    table = docx.add_table(rows=1 + len(t.rows), cols=len(t.columns))  # type: ignore[attr-defined]
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    weights = t.widths if t.widths and len(t.widths) == len(t.columns) else [1.0] * len(t.columns)
    widths = [Mm(TEXT_WIDTH_MM * w / sum(weights)) for w in weights]
    for i, name in enumerate(t.columns):
        _cell_text(table.rows[0].cells[i], name, header=True, numeric=False, bold=False)
    _repeat_header(table.rows[0])
    for n, values in enumerate(t.rows, 1):
        row = table.rows[n]
        _no_split(row)
        total = t.total_row and n == len(t.rows)
        for i, value in enumerate(values):
            _cell_text(row.cells[i], value, header=False, numeric=i in t.numeric, bold=total)
    for row in table.rows:
        for i, cell in enumerate(row.cells):
            cell.width = widths[i]
    # A blank line under the table, so the next heading does not touch it.
    _spacing(docx.add_paragraph(), LINE_PT / 2)  # type: ignore[attr-defined]
    return table


def _chart(docx: object, c: Chart) -> None:
    p = _spacing(docx.add_paragraph(), None, align=WD_ALIGN_PARAGRAPH.CENTER)  # type: ignore[attr-defined]
    p.paragraph_format.keep_with_next = True
    p.add_run().add_picture(io.BytesIO(c.png), width=Mm(TEXT_WIDTH_MM - 4))
    _text(docx, c.caption, size=TABLE_PT, indent=0, align=WD_ALIGN_PARAGRAPH.CENTER, line=LINE_PT)


def char_width(text: str) -> float:
    """Width in characters of the body face: half-width digits and letters count half."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def signature_indents(issuer: str, date_text: str) -> tuple[float, float]:
    """Right indents (in characters) of the issuing body and the date, unsealed layout: the
    name two characters from the right and the date's first character two to the right of the
    name's; a longer date is put two from the right and the name moved left to keep that."""
    name_w, date_w = char_width(issuer), char_width(date_text)
    name_right = 2.0
    date_right = name_right + name_w - 2.0 - date_w
    if date_right < 2.0:
        date_right = 2.0
        name_right = date_right + date_w + 2.0 - name_w
    return name_right, date_right


def _signature(docx: object, doc: Document, lang: Lang) -> None:
    date_text = lang.date(doc.issued)
    name_right, date_right = signature_indents(doc.issuer, date_text)
    _spacing(docx.add_paragraph(), LINE_PT)  # type: ignore[attr-defined]  # 空一行
    for text, right in ((doc.issuer, name_right), (date_text, date_right)):
        p = _text(docx, text, indent=0, align=WD_ALIGN_PARAGRAPH.RIGHT)
        p.paragraph_format.right_indent = Pt(right * BODY_PT)


def render(doc: Document, lang: Lang) -> bytes:
    docx = new_docx()
    _setup(docx, doc)
    _footers(docx)
    title = _text(docx, doc.title, east_asia=TITLE_FONT, size=TITLE_PT, indent=0, align=WD_ALIGN_PARAGRAPH.CENTER,
                  line=TITLE_LINE_PT, bold=not lang.zh)
    title.paragraph_format.space_after = Pt(LINE_PT)  # 标题下空一行
    _text(docx, doc.addressee, indent=0, align=WD_ALIGN_PARAGRAPH.LEFT)
    for block in doc.blocks:
        match block:
            case Heading(level=1, text=text):
                _text(docx, text, east_asia=H1_FONT, keep=True, bold=not lang.zh)
            case Heading(text=text):
                _text(docx, text, east_asia=H2_FONT, keep=True, bold=not lang.zh)
            case Para(text=text):
                _text(docx, text)
            case Table():
                _table(docx, block)
            case Chart():
                _chart(docx, block)
    _signature(docx, doc, lang)
    out = io.BytesIO()
    docx.save(out)
    return out.getvalue()


def write(doc: Document, lang: Lang, path: Path) -> None:
    path.write_bytes(render(doc, lang))
