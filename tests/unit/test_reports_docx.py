"""The Word file read back with python-docx: GB/T 9704-2012 page, type faces named on East
Asian text, numbered sections, tables with repeating header rows, page numbers, issuer and date."""

from __future__ import annotations

import io
import re

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from tests.reports_week import IDS, ZONE, t, week
from watchboard.config import ConfigSource
from watchboard.reports import period as periods
from watchboard.reports.build import build, load_setting
from watchboard.reports.document import Table
from watchboard.reports.render_docx import column_widths, signature_indents

NOW = t(27, "11:00")


def render(kind: str, lang: str = "zh") -> DocxDocument:
    setting = load_setting(ConfigSource())
    period = {"weekly": lambda: periods.weekly(2026, 47, NOW, ZONE),
              "daily": lambda: periods.daily(t(18, "00:00").date(), NOW, ZONE),
              "review": lambda: periods.review(IDS["A"], t(16, "09:00"), NOW)}[kind]()
    data = build(kind, week(), period, setting, lang, now=NOW).render("docx")
    return docx.Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def weekly() -> DocxDocument:
    return render("weekly")


def east_asia(run) -> str | None:  # type: ignore[no-untyped-def]
    fonts = run._element.rPr.rFonts if run._element.rPr is not None else None
    return None if fonts is None else fonts.get(qn("w:eastAsia"))


def test_a4_and_the_standard_margins(weekly: DocxDocument) -> None:
    s = weekly.sections[0]
    # Word keeps twentieths of a point: equal to 0.05 mm.
    got = (s.page_width, s.page_height, s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)
    want = (Mm(210), Mm(297), Mm(37), Mm(35), Mm(28), Mm(26))
    assert all(abs(g - w) < Mm(0.05) for g, w in zip(got, want, strict=True)), got
    # The text block is 156 × 225 mm.
    assert abs((s.page_width - s.left_margin - s.right_margin) - Mm(156)) < Mm(0.1)
    assert abs((s.page_height - s.top_margin - s.bottom_margin) - Mm(225)) < Mm(0.1)


def test_title_addressee_and_body_faces(weekly: DocxDocument) -> None:
    paras = [p for p in weekly.paragraphs if p.text.strip()]
    title = paras[0]
    assert title.text == "关于2026年第47周网络舆情处置时限落实情况的督查通报"
    assert title.alignment == docx.enum.text.WD_ALIGN_PARAGRAPH.CENTER
    assert {east_asia(r) for r in title.runs} == {"方正小标宋简体"} and {r.font.size for r in title.runs} == {Pt(22)}
    assert paras[1].text == "各有关单位：" and paras[1].paragraph_format.first_line_indent in (None, 0)
    body = paras[2]
    assert body.text.startswith("根据网络舆情提醒单制度")
    assert {east_asia(r) for r in body.runs} == {"仿宋_GB2312"} and {r.font.size for r in body.runs} == {Pt(16)}
    assert body.paragraph_format.first_line_indent == Pt(32)  # two characters
    assert body.paragraph_format.line_spacing == Pt(28.95)  # 22 lines on 225 mm
    every_run = [r for p in weekly.paragraphs for r in p.runs if r.text.strip()]
    assert all(east_asia(r) for r in every_run), "every run names its East Asian face"


def test_numbered_sections_in_heiti(weekly: DocxDocument) -> None:
    headings = [p for p in weekly.paragraphs if re.match(r"^[一二三四五六七八九十]+、", p.text)]
    assert [p.text for p in headings] == ["一、总体情况", "二、各单位时限落实情况", "三、各类时限落实情况",
                                          "四、提醒单下发情况", "五、经三次提醒仍未落实整改的单位", "六、交办任务落实情况",
                                          "七、通稿审核发布情况"]
    assert all({east_asia(r) for r in p.runs} == {"黑体"} for p in headings)
    assert all(p.paragraph_format.keep_with_next for p in headings)


def test_review_sections() -> None:
    review = render("review")
    # A kept one grade and one owner: no level-2 tables of changes.
    assert [p.text for p in review.paragraphs if re.match(r"^（[一二三四五六七八九十]+）", p.text)] == []
    heads = [p.text for p in review.paragraphs if re.match(r"^[一二三四五六七八九十]+、", p.text)]
    assert heads == ["一、基本情况", "二、时限落实情况", "三、通稿审核与发布", "四、交办任务", "五、督办情况", "六、会商与联席会议",
                     "七、固定证据", "八、处置经过", "九、人员处置情况", "十、通知与签收", "十一、提醒与通报"]


def test_kaiti_for_level_two() -> None:
    """A regraded incident's review has a level-2 heading (（一）级别变化) in 楷体."""
    from tests.reports_week import Script

    s = Script()
    s.report("A", t(16, "09:00"), "测试", "weibo")
    s.grade("A", t(16, "09:00"), "IV")
    s.grade("A", t(16, "10:00"), "II", previous="IV")
    setting = load_setting(ConfigSource())
    data = build("review", s.events, periods.review(IDS["A"], t(16, "09:00"), NOW), setting, "zh",
                 now=NOW).render("docx")
    doc = docx.Document(io.BytesIO(data))
    sub = next(p for p in doc.paragraphs if p.text.startswith("（一）"))
    assert sub.text == "（一）级别变化" and {east_asia(r) for r in sub.runs} == {"楷体_GB2312"}


def test_tables_have_header_rows_that_repeat(weekly: DocxDocument) -> None:
    # trend, units, clocks, slips per task, named; tasks per unit and each task; statements per
    # unit and those published
    assert len(weekly.tables) == 9
    units = weekly.tables[1]
    assert [c.text for c in units.rows[0].cells][:3] == ["单位", "新增舆情", "应办时限"]
    tasks = weekly.tables[5]
    assert [c.text for c in tasks.rows[0].cells] == ["单位", "交办", "反馈", "按时", "逾期", "未反馈", "其中超期", "结案撤销"]
    assert [c.text for c in tasks.rows[-1].cells] == ["合计", "5", "2", "1", "1", "2", "1", "1"]
    for table in weekly.tables:
        header = table.rows[0]._tr
        assert header.trPr is not None and header.trPr.find(qn("w:tblHeader")) is not None
        assert {east_asia(r) for c in table.rows[0].cells for p in c.paragraphs for r in p.runs} == {"黑体"}
        body_faces = {east_asia(r) for row in table.rows[1:] for c in row.cells for p in c.paragraphs for r in p.runs}
        assert body_faces <= {"仿宋_GB2312"}
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in units.rows[1:]}
    assert rows["县交通运输局"][1:5] == ["1", "1", "0", "0.0%"]
    assert rows["合计"][2:5] == ["9", "5", "55.6%"]


def test_page_numbers_odd_right_even_left(weekly: DocxDocument) -> None:
    s = weekly.sections[0]
    assert weekly.settings.odd_and_even_pages_header_footer
    for footer, align in ((s.footer, "right"), (s.even_page_footer, "left")):
        p = footer.paragraphs[0]
        xml = p._p.xml
        assert "PAGE" in xml and p.text.startswith("— ") and p.text.endswith(" —")
        assert p.alignment == getattr(docx.enum.text.WD_ALIGN_PARAGRAPH, align.upper())
        assert {east_asia(r) for r in p.runs} == {"宋体"} and {r.font.size for r in p.runs} == {Pt(14)}


def test_issuer_and_date_close_the_document(weekly: DocxDocument) -> None:
    paras = [p for p in weekly.paragraphs if p.text.strip()]
    issuer, issued = paras[-2], paras[-1]
    assert (issuer.text, issued.text) == ("县政府办公室", "2026年11月27日")
    right = docx.enum.text.WD_ALIGN_PARAGRAPH.RIGHT
    assert issuer.alignment == right and issued.alignment == right
    # The date's first character two characters right of the issuer's (unsealed layout).
    name_right, date_right = signature_indents("县政府办公室", "2026年11月27日")
    assert issuer.paragraph_format.right_indent == Pt(name_right * 16)
    assert issued.paragraph_format.right_indent == Pt(date_right * 16)


@pytest.mark.parametrize(("issuer", "date", "expected"), [
    ("县政府办公室", "2026年11月27日", (5.0, 2.0)),  # date (7) longer than name (6): date 2 from the right
    # A long name (20) and a short date (6): the name 2 from the right, the date starting 2
    # characters right of it: 2 + 20 - 2 - 6 = 14 from the right.
    ("青溪县人民政府办公室网络舆情处置领导小组", "2026年1月1日", (2.0, 14.0)),
])
def test_signature_indents(issuer: str, date: str, expected: tuple[float, float]) -> None:
    name_right, date_right = signature_indents(issuer, date)
    assert (name_right, date_right) == expected
    assert min(name_right, date_right) == 2.0
    from watchboard.reports.render_docx import char_width

    assert (name_right + char_width(issuer)) - (date_right + char_width(date)) == 2.0


def test_column_widths_fill_the_text_block_and_fit_moments() -> None:
    table = Table(["序号", "标题", "到期时间"], [["1", "很长的标题" * 6, "11月18日 09:30"]], widths=[0.2, 6.0, 0.5])
    widths = column_widths(table)
    assert abs(sum(widths) - 156.0) < 0.01
    assert widths[0] >= 13.9  # "序号" on one line
    assert widths[2] >= 24.9  # "11月18日" unbroken, with room
    assert widths[1] > widths[2]


def test_english_docx_has_english_headings() -> None:
    doc = render("weekly", "en")
    heads = [p.text for p in doc.paragraphs if re.match(r"^\d\. ", p.text)]
    assert heads[:2] == ["1. Overview", "2. Clocks by unit"]
    assert doc.paragraphs[-1].text == "27 November 2026"
