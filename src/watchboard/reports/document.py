"""A report as a neutral document: title, addressee, numbered headings, paragraphs, tables and
charts, then the issuing body and the date. Markdown, HTML and Word lay out the same blocks, so
the three formats say the same thing in the same order.

Headings are numbered here, in the document's language, as official documents number them
(GB/T 9704-2012 7.3.3): level 1 "一、", level 2 "（一）"; in English "1." and "1.1".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from watchboard.reports.text import Lang

ZH_NUMERALS = "零一二三四五六七八九十"


def zh_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 21 → 二十一 (up to 99: a report has fewer sections)."""
    if n <= 10:
        return ZH_NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (ZH_NUMERALS[tens] if tens > 1 else "") + "十" + (ZH_NUMERALS[ones] if ones else "")


@dataclass
class Heading:
    level: int  # 1 or 2
    text: str  # with its number


@dataclass
class Para:
    text: str


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()  # columns aligned right (figures)
    widths: list[float] | None = None  # relative column widths (Word), None: even
    total_row: bool = False  # the last row is a total (bold)


@dataclass
class Chart:
    png: bytes
    caption: str
    alt: str  # what the chart shows, for readers without images


Block = Heading | Para | Table | Chart


@dataclass
class Document:
    kind: str  # daily | weekly | review
    lang: str
    title: str
    addressee: str  # 主送机关, with its colon
    issuer: str  # 发文机关署名
    issued: datetime  # 成文日期
    blocks: list[Block] = field(default_factory=list)
    footnote: str = ""  # how it was made (replay figures): md/html only, not the official layout


class Builder:
    """Collects blocks and numbers headings as it goes."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.blocks: list[Block] = []
        self.h1 = 0
        self.h2 = 0

    def heading(self, text: str) -> None:
        self.h1, self.h2 = self.h1 + 1, 0
        number = f"{zh_number(self.h1)}、" if self.lang.zh else f"{self.h1}. "
        self.blocks.append(Heading(1, number + text))

    def subheading(self, text: str) -> None:
        self.h2 += 1
        number = f"（{zh_number(self.h2)}）" if self.lang.zh else f"{self.h1}.{self.h2} "
        self.blocks.append(Heading(2, number + text))

    def para(self, text: str) -> None:
        if text:
            self.blocks.append(Para(text))

    def table(self, columns: list[str], rows: list[list[str]], *, numeric: set[int] | frozenset[int] = frozenset(),
              widths: list[float] | None = None, total_row: bool = False) -> None:
        if rows:
            self.blocks.append(Table(columns, rows, frozenset(numeric), widths, total_row))

    def chart(self, chart: Chart | None) -> None:
        if chart is not None:
            self.blocks.append(chart)
