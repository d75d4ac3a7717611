"""The document as a Word file laid out after GB/T 9704-2012 (党政机关公文格式).

What the standard asks and how it is done here (docs/reports.md lists the same):

- A4 paper; 天头 (top margin) 37 mm, 订口 (left) 28 mm, text block 156 × 225 mm, so right 26 mm
  and bottom 35 mm (5.2);
- body in 3号仿宋 (16 pt), 22 lines a page: exact line spacing 28.95 pt (225 mm / 22) (5.2.2, 7.1);
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
import re
from pathlib import Path
from xml.sax.saxutils import escape

from docx import Document as new_docx
from docx.enum.section import WD_SECTION_START
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.oxml.text.parfmt import CT_PPr
from docx.shared import Mm, Pt
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


# The order of `w:pPr`'s children in the OOXML schema (ECMA-376 Part 1, 17.3.1.26).
PPR_ORDER = (
    "w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr", "w:widowControl", "w:numPr",
    "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
    "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
    "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
    "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr",
    "w:sectPr", "w:pPrChange",
)


def set_ppr(ppr: CT_PPr, tag: str, value: str) -> None:
    """Set a paragraph property python-docx has no setter for, in the schema's order (Word
    refuses a file whose `w:pPr` children are out of order)."""
    el = ppr.find(qn(tag))
    if el is None:
        el = OxmlElement(tag)
        ppr.insert_element_before(el, *PPR_ORDER[PPR_ORDER.index(tag) + 1:])
    el.set(qn("w:val"), value)


def _off_grid(p: Paragraph) -> None:
    """Leave the page's 22-line grid: table cells, pictures and captions would otherwise be
    stretched to a whole grid line each."""
    set_ppr(p._p.get_or_add_pPr(), "w:snapToGrid", "0")


def _spacing(p: Paragraph, line: float | None = LINE_PT, *, indent_chars: float = 0, before: float = 0,
             after: float = 0, align: WD_ALIGN_PARAGRAPH | None = None) -> Paragraph:
    pf = p.paragraph_format
    ppr = p._p.get_or_add_pPr()
    for key in ("w:autoSpaceDE", "w:autoSpaceDN"):  # also on each paragraph: LibreOffice reads it there
        set_ppr(ppr, key, "0")
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
        _off_grid(p)
    else:
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(line)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    pf.first_line_indent = Pt(indent_chars * BODY_PT) if indent_chars else Pt(0)
    if align is not None:
        p.alignment = align
    return p


def _setup(docx: object, doc: Document) -> None:
    """Paper, margins, the line pitch, default faces and the language of the text."""
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
    # The 22 lines come from the exact line spacing; the pitch is recorded for Word's page set-up,
    # but no snapping grid: it would stretch every table row and spacer to a whole 28.95 pt line.
    grid.attrib.pop(qn("w:type"), None)
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
    # No extra gap between Chinese and Latin letters or digits ("2026年11月27日", not
    # "2026 年 11 月"): official documents set them tight, and the signature's layout counts on it.
    ppr = normal.element.get_or_add_pPr()
    for key in ("w:autoSpaceDE", "w:autoSpaceDN"):
        set_ppr(ppr, key, "0")
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
    # A heading stays with what follows (LibreOffice honours keep-with-next only with keep-lines).
    p.paragraph_format.keep_with_next = keep
    p.paragraph_format.keep_together = keep or None
    font(p.add_run(clean(text)), east_asia, size, bold=bold)
    return p


# A moment as `Lang.time` writes it ("11月18日 09:30", "18 Nov 09:30"): in a narrow column it
# breaks into date and time at the space, never inside the figures.
_MOMENT = re.compile(r"^(\d{1,2}月\d{1,2}日|\d{1,2} [A-Z][a-z]{2}) (\d{2}:\d{2})$")
MOMENT_MIN_MM = 34.0  # "11月18日 09:30" in 12 pt, with the cell's margins


CELL_PAD_MM = 5.5  # a cell's left and right margins together, and a little slack
NEED_CAP_MM = 24.0  # longer texts wrap instead of taking more
KEEP_TOGETHER_ROWS = 8


def _text_mm(text: str) -> float:
    return char_width(text) * TABLE_PT * 25.4 / 72 + CELL_PAD_MM


TEXT_MIN_MM = 14.0  # any column: two characters of 小四 and the cell margins


def _fit(width: list[float], need: list[float]) -> list[float]:
    """Widen the columns below their need, taking from the columns above theirs in proportion
    to what they can spare (never below their own need)."""
    width = list(width)
    for _ in range(len(width)):  # a few passes settle it
        short = [i for i, (w, n) in enumerate(zip(width, need, strict=True)) if w < n - 0.01]
        spare = {i: w - n for i, (w, n) in enumerate(zip(width, need, strict=True)) if w > n}
        if not short or not spare:
            break
        deficit = sum(need[i] - width[i] for i in short)
        room = sum(spare.values())
        take = min(deficit, room)
        for i in short:
            width[i] += (need[i] - width[i]) * take / deficit
        for i, extra in spare.items():
            width[i] -= extra * take / room
    return width


def column_widths(t: Table, total: float = TEXT_WIDTH_MM) -> list[float]:
    """Column widths in mm: the table's relative widths, then two rounds of widening taken from
    columns with room to spare. First what must not break: a moment's date ("11月18日"), a
    figure, a header of one or two characters ("序号"), two characters for anything; then what
    reads better unbroken: a short text (up to NEED_CAP_MM)."""
    n = len(t.columns)
    weights = t.widths if t.widths and len(t.widths) == n else [1.0] * n
    width = [total * w / sum(weights) for w in weights]
    hard, soft = [], []
    for i in range(n):
        cells = [row[i] for row in t.rows if i < len(row)]
        moments = [m[1] for c in cells if (m := _MOMENT.match(c))]
        figures = [c for c in cells if i in t.numeric]
        header = [t.columns[i]] if char_width(t.columns[i]) <= 2 else []
        # A date gets 2.5 mm more: LibreOffice broke "11月27日" in a column cut to its width.
        firm = max([_text_mm(x) + 2.5 for x in moments] + [_text_mm(x) for x in [*figures, *header] if x],
                   default=0.0)
        hard.append(max(TEXT_MIN_MM, firm))
        texts = [c for c in cells if not _MOMENT.match(c)]
        soft.append(max(hard[i], min(NEED_CAP_MM, max((_text_mm(x) for x in texts if x), default=0.0))))
    return _fit(_fit(width, hard), soft)


_BAD_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    """Text XML can carry: control characters people paste in are dropped, never a crash."""
    return _BAD_XML.sub("", text)


def _twips(mm: float) -> int:
    return round(mm / 25.4 * 1440)


def _cell_xml(text: str, width: int, *, header: bool, align: str, bold: bool, keep: bool, narrow: bool) -> str:
    """One cell as WordprocessingML: the same properties `font` and `_spacing` give a paragraph,
    written directly — python-docx's object model costs ~1.5 ms a cell, too slow for the
    thousands of rows a large week's tables hold."""
    face = H1_FONT if header else BODY_FONT
    run_pr = (f'<w:rPr><w:rFonts w:ascii="{LATIN_FONT}" w:hAnsi="{LATIN_FONT}" w:cs="{LATIN_FONT}" '
              f'w:eastAsia="{face}"/>' + ("<w:b/>" if bold and not header else "") +
              f'<w:sz w:val="{round(TABLE_PT * 2)}"/></w:rPr>')
    moment = _MOMENT.match(text) if narrow else None
    if moment:  # date and time on two lines, never broken inside the figures
        body = (f'<w:t xml:space="preserve">{escape(moment[1])}</w:t><w:br/>'
                f'<w:t xml:space="preserve">{escape(moment[2])}</w:t>')
    else:
        body = f'<w:t xml:space="preserve">{escape(clean(text))}</w:t>'
    para_pr = (("<w:keepNext/>" if keep else "") + '<w:snapToGrid w:val="0"/>'
               '<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
               f'<w:ind w:firstLine="0"/><w:jc w:val="{align}"/>')
    return (f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr>'
            f"<w:p><w:pPr>{para_pr}</w:pPr><w:r>{run_pr}{body}</w:r></w:p></w:tc>")


def _table(docx: object, t: Table) -> None:
    """A table of the text block's width: header row repeated on every page (`w:tblHeader`),
    rows never split (`w:cantSplit`), a short table kept on one page, fixed column widths (Word
    reads the cells', LibreOffice the grid's: both are set)."""
    widths = [_twips(x) for x in column_widths(t)]
    together = len(t.rows) <= KEEP_TOGETHER_ROWS
    rows = ['<w:tr><w:trPr><w:cantSplit/><w:tblHeader w:val="true"/></w:trPr>' +
            "".join(_cell_xml(c, widths[i], header=True, align="center", bold=False, keep=together, narrow=False)
                    for i, c in enumerate(t.columns)) + "</w:tr>"]
    narrow = [w < _twips(MOMENT_MIN_MM) for w in widths]
    for n, values in enumerate(t.rows, 1):
        total, keep = t.total_row and n == len(t.rows), together and n < len(t.rows)
        cells = "".join(_cell_xml(v, widths[i], header=False, bold=total, keep=keep, narrow=narrow[i],
                                  align="right" if i in t.numeric else "left") for i, v in enumerate(values))
        rows.append(f"<w:tr><w:trPr><w:cantSplit/></w:trPr>{cells}</w:tr>")
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    xml = (f"<w:tbl {nsdecls('w')}><w:tblPr><w:tblStyle w:val=\"TableGrid\"/>"
           f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:jc w:val="center"/><w:tblLayout w:type="fixed"/>'
           f'<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" '
           f'w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>{"".join(rows)}</w:tbl>')
    docx.element.body._insert_tbl(parse_xml(xml))  # type: ignore[attr-defined]
    # A blank half line under the table, so the next heading does not touch it.
    _spacing(docx.add_paragraph(), LINE_PT / 2)  # type: ignore[attr-defined]


def _chart(docx: object, c: Chart) -> None:
    p = _spacing(docx.add_paragraph(), None, align=WD_ALIGN_PARAGRAPH.CENTER)  # type: ignore[attr-defined]
    p.paragraph_format.keep_with_next = True
    p.add_run().add_picture(io.BytesIO(c.png), width=Mm(TEXT_WIDTH_MM - 4))
    caption = _text(docx, c.caption, size=TABLE_PT, indent=0, align=WD_ALIGN_PARAGRAPH.CENTER, line=LINE_PT)
    caption.paragraph_format.space_after = Pt(LINE_PT / 2)


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
