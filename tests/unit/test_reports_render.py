"""Markdown, HTML and JSON of the same report; each wholly in its language; charts with a CJK
font that pip brought, so no chart shows boxes."""

from __future__ import annotations

import json
import re
import warnings

import msgspec
import pytest

from tests.reports_week import DIGESTS, IDS, TASKS, ZONE, Script, t, week
from watchboard.config import ConfigSource
from watchboard.reports import charts, render_docx
from watchboard.reports import period as periods
from watchboard.reports.build import Report, Setting, build, load_setting
from watchboard.reports.text import LABELS, same_keys

NOW = t(27, "11:00")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.fixture(scope="module")
def setting() -> Setting:
    return load_setting(ConfigSource())


def make(setting: Setting, kind: str, lang: str = "zh", events: list | None = None) -> Report:
    period = {"weekly": lambda: periods.weekly(2026, 47, NOW, ZONE),
              "daily": lambda: periods.daily(t(18, "00:00").date(), NOW, ZONE),
              "review": lambda: periods.review(IDS["A"], t(16, "09:00"), NOW)}[kind]()
    return build(kind, week() if events is None else events, period, setting, lang, now=NOW)


@pytest.mark.parametrize("kind", ["daily", "weekly", "review"])
def test_html_is_self_contained(setting: Setting, kind: str) -> None:
    html = make(setting, kind).render("html").decode()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in html
    # No outside font, script, style sheet or image: nothing loads from anywhere. (The week's
    # mentions carry https links; the reports print none of them.)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<script" not in html.lower() and "@import" not in html and "@font-face" not in html
    assert not re.search(r"url\(", html)
    assert "<link" not in html.lower()
    if kind == "weekly":
        assert html.count('src="data:image/png;base64,') == 2  # both charts, inline


def test_html_escapes_what_people_typed(setting: Setting) -> None:
    s = Script()
    s.report("A", t(16, "09:00"), '<script>alert("x")</script>', "weibo")
    s.grade("A", t(16, "09:00"), "IV")
    html = make(setting, "review", events=s.events).render("html").decode()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_markdown_has_the_sections_and_tables(setting: Setting) -> None:
    md = make(setting, "daily").render("md").decode()
    heads = re.findall(r"^## (.+)$", md, re.M)
    assert heads == ["一、新增舆情", "二、在办舆情", "三、今明两日到期时限", "四、超时情况", "五、提醒单", "六、通报与标记",
                     "七、交办任务", "八、通稿审核与发布", "九、督办情况", "十、重点信息", "十一、固定证据"]
    assert md.startswith("# 关于2026年11月18日网络舆情情况的汇报\n")
    assert "| 1 | 城关镇某餐馆食品变质 | III 较大 | 县市场监督管理局 | 11月18日 09:30 |" in md
    assert "data:image" not in md  # charts are in the HTML and Word files only


def test_json_has_every_figure_and_the_names(setting: Setting) -> None:
    data = json.loads(make(setting, "weekly").render("json"))
    assert data["report"] == "weekly" and data["period"]["label"] == "2026-W47"
    assert data["period"]["start"] == "2026-11-16T00:00:00+08:00"
    assert set(data["figures"]) == {"trend", "supervision", "tasks", "statements"}
    assert data["names"]["units"]["transport"] == "县交通运输局" and data["names"]["grades"]["II"] == "重大"
    assert data["profile"] == "default" and data["lang"] == "zh"


def test_labels_in_both_languages() -> None:
    assert same_keys()
    assert all(v.strip() for table in LABELS.values() for v in table.values())


def _ascii(value: object) -> object:
    """Data typed by people, in ASCII: what Chinese is left in a report can only be a label."""
    if isinstance(value, str) and CJK.search(value):
        return "typed text"
    if isinstance(value, list):
        return [_ascii(v) for v in value]
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value, **{f: _ascii(getattr(value, f)) for f in value.__struct_fields__
                                                 if f != "type"})
    return value


def ascii_week() -> list:
    return [_ascii(e) for e in week()]


@pytest.mark.parametrize("kind", ["daily", "weekly", "review"])
def test_english_is_wholly_english(setting: Setting, kind: str) -> None:
    """With ASCII data, the English report holds no Chinese character: every label, unit name,
    grade label, time and the issuing body are English."""
    report = make(setting, kind, "en", events=ascii_week())
    for fmt in ("md", "html"):
        text = report.render(fmt).decode()
        found = CJK.findall(re.sub(r'<style>.*?</style>|"data:image[^"]*"', "", text, flags=re.S))
        assert not found, (fmt, "".join(found)[:80])


@pytest.mark.parametrize("kind", ["daily", "weekly", "review"])
def test_chinese_is_wholly_chinese(setting: Setting, kind: str) -> None:
    """In the Chinese report, Latin letters come only from data (incident ids, person ids that
    notify.toml does not name, clock notes) — never from a label."""
    md = make(setting, kind, "zh").render("md").decode()
    typed = [*DIGESTS, *(d[:12] for d in DIGESTS.values())]  # file names and their digests
    for data in [*IDS.values(), *TASKS.values(), *typed, "monitor-01", "monitor-02"]:
        md = md.replace(data, "")
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_-]*", md)) - {"I", "II", "III", "IV"}  # grades are numerals
    assert not words, words


def test_charts_use_the_bundled_cjk_font_without_missing_glyphs() -> None:
    path = charts.font_path()
    assert path.name == "NotoSansCJKsc-Regular.otf" and "mplfonts" in str(path)
    from matplotlib import font_manager

    assert font_manager.findfont(font_manager.FontProperties(family=charts.font_name())) == str(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = charts.by_day_and_grade(["11月16日", "11月17日"], ["I", "II", "III", "IV"], ["特别重大", "重大", "较大", "一般"],
                                      [[1, 0, 2, 0], [0, 1, 0, 3]], "本周每日新增舆情（按级别）", "起数")
        png2 = charts.on_time_by_unit(["县市场监督管理局", "仲山镇人民政府"], [50.0, 100.0], "各单位按时率", "按时率（%）")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert missing == []
    assert png.startswith(b"\x89PNG") and png2.startswith(b"\x89PNG")


def test_chart_colours_are_the_warning_colours() -> None:
    assert charts.GRADE_COLOURS == {"I": "#e60012", "II": "#f39800", "III": "#f5c800", "IV": "#0068b7"}


def test_docx_carries_both_charts(setting: Setting) -> None:
    import io

    import docx

    report = make(setting, "weekly")
    doc = docx.Document(io.BytesIO(render_docx.render(report.document, report.lang)))
    assert len(doc.inline_shapes) == 2
    captions = [p.text for p in doc.paragraphs if p.text.startswith("图")]
    assert captions == ["图1  本周每日新增舆情（按级别）", "图2  各单位时限按时率"]


def test_grade_labels_come_from_the_active_profile() -> None:
    """plan-001 runs three response levels on I, III and IV: the circular counts and names them so."""
    s = Script()
    s.report("A", t(16, "09:00"), "甲", "weibo")
    s.grade("A", t(16, "09:00"), "I")
    s.report("B", t(17, "09:00"), "乙", "weibo")
    s.grade("B", t(17, "09:00"), "IV")
    plan = load_setting(ConfigSource(profile="plan-001"))
    report = build("weekly", s.events, periods.weekly(2026, 47, NOW, ZONE), plan, "zh", now=NOW)
    assert report.figures["trend"].by_grade == {"I": 1, "III": 0, "IV": 1, "ungraded": 0}
    md = report.render("md").decode()
    assert "| 日期 | I 一级 (重大) | III 二级 (较大) | IV 三级 (一般) | 合计 |" in md
    assert "其中一级 (重大)1起、三级 (一般)1起" in md
