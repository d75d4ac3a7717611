"""`watchboard ls` and `watchboard show` as people read them (or `--json` for machines).

Times in the configured zone to the minute (the year where it is not this year's), words in
the reader's language; due times are never cut. Untrusted text (titles, notes, URLs) is
cleaned before it reaches the terminal.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watchboard.board.i18n import Lang, named, t
from watchboard.domain.events import Event
from watchboard.domain.present import channel_label, local, show_json, summary_json
from watchboard.domain.sanitize import clean_line
from watchboard.domain.views import IncidentView

GRADE_ORDER = {"I": 0, "II": 1, "III": 2, "IV": 3, None: 4}
COLOURS = {"I": "red", "II": "dark_orange", "III": "yellow", "IV": "blue"}


def _at(text: str | None, zone: ZoneInfo, now: datetime) -> str:
    return local(datetime.fromisoformat(text), zone, now) if text else "-"


def print_ls(views: dict[str, IncidentView], *, all_: bool, as_json: bool, lang: Lang, zone: ZoneInfo,
             units: dict[str, str]) -> int:
    rows = [summary_json(v, zone) for v in views.values()
            if v.core is not None and (all_ or v.core.stage != "closed")]
    rows.sort(key=lambda r: (GRADE_ORDER.get(r["grade"], 4), r["reported_at"] or ""))
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(t("cli.no_open", lang))
        return 0
    now = datetime.now(zone)
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(t("cli.col.grade", lang), no_wrap=True, min_width=5)
    table.add_column(t("cli.col.id", lang), no_wrap=True, min_width=26)
    table.add_column(t("cli.col.stage", lang), no_wrap=True)
    table.add_column(t("cli.col.owner", lang), no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column(t("cli.col.due", lang), no_wrap=True)  # never cut: the point of the list
    table.add_column(t("cli.col.reported", lang), no_wrap=True)
    table.add_column(t("cli.col.title", lang), no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    for r in rows:
        running = [c for c in r["clocks"] if c["status"] in ("running", "extended")]
        nxt = min(running, key=lambda c: c["due_at"]) if running else None
        due = f"{named('clock', nxt['name'], lang)} {_at(nxt['due_at'], zone, now)}" if nxt else ""
        owner = units.get(r["owner"] or "", r["owner_name"] or r["owner"] or "-")
        table.add_row(Text(r["grade"] or "-", style=f"bold {COLOURS.get(r['grade'], '')}"),
                      Text(r["id"]), Text(named("stage", r["stage"], lang)), Text(clean_line(owner, 40)),
                      Text(due), Text(_at(r["reported_at"], zone, now)), Text(clean_line(r["title"], 120)))
    Console(width=max(Console().width, 120)).print(table)
    return 0


def print_show(view: IncidentView, history: list[Event], *, as_json: bool, lang: Lang, zone: ZoneInfo,
               units: dict[str, str]) -> int:
    data = show_json(view, history, zone, lang, units)
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    now = datetime.now(zone)
    zh = lang == "zh"
    colon = "：" if zh else ": "
    out = Console(highlight=False)
    title = Text(f"{data['grade'] or '-'}  ", style=f"bold {COLOURS.get(data['grade'] or '', '')}")
    for flag in data["flags"]:
        title.append(f"[{named('flag', flag, lang)}] ", style="bold red")
    title.append(clean_line(data["title"], 300), style="bold")
    out.print(title)
    owner = units.get(data["owner"] or "", data["owner_name"] or data["owner"] or "-")
    facts = [(t("detail.id", lang), data["id"]), (t("cli.show.owner", lang), owner),
             (t("cli.show.stage", lang), named("stage", data["stage"], lang)),
             (t("cli.show.sentiment", lang), named("sentiment", data["sentiment"] or "", lang) or "-"),
             (t("cli.show.acked", lang), (f"{data['acknowledged_by']} {_at(data['acknowledged_at'], zone, now)}"
                                         if data["acknowledged_by"] else t("detail.not_acked", lang)))]
    out.print(Text("  ".join(f"{k}{colon}{clean_line(str(v), 80)}" for k, v in facts)))
    seen = [(t("cli.show.reported", lang), data["reported_at"]), (t("detail.posted", lang), data["posted_at"]),
            (t("detail.observed", lang), data["observed_at"])]
    out.print(Text(" · ".join(f"{k} {_at(v, zone, now)}" for k, v in seen if v)))
    reasons = data["grade_reasons_en"] if lang == "en" and data["grade_reasons_en"] else data["grade_reasons"]
    for reason in reasons:
        out.print(Text(f"  · {clean_line(reason, 200)}"))
    if data["clocks"]:
        out.print(Text(t("cli.show.clocks", lang), style="bold"))
        for c in data["clocks"]:
            out.print(Text("  " + clock_line(c, lang, zone, now)))
    if data["slips"]:
        out.print(Text(t("cli.show.slips", lang), style="bold"))
        for s in data["slips"]:
            flag = f"  ⚑ {t('detail.slip_flagged', lang)}" if s["flagged"] else ""
            out.print(Text(f"  {units.get(s['unit'], s['unit'])} {named('clock', s['clock'], lang)} ×{s['count']}"
                           f"  {_at(s['last_at'], zone, now)}{flag}"))
    if data["mentions"]:
        out.print(Text(t("cli.show.mentions", lang), style="bold"))
        for m in data["mentions"]:
            mt = m["metrics"]
            when = _at(m["posted_at"] or m["observed_at"], zone, now)
            out.print(Text(f"  {named('platform', m['platform'], lang):9} {when}  "
                           f"{t('metric.reposts', lang)} {mt['reposts']:>6} {t('metric.comments', lang)} "
                           f"{mt['comments']:>6}  {clean_line(m['url'] or '', 100)}"))
    if data["notices"]:
        out.print(Text(t("cli.show.notices", lang), style="bold"))
        for n in data["notices"]:
            reason = f"  {clean_line(n['reason'], 120)}" if n.get("reason") else ""
            out.print(Text(f"  {_at(n['at'], zone, now)}  {clean_line(n['to'], 40):20} "
                           f"{channel_label(clean_line(n['channel'], 40), lang):8} "
                           f"{named('notice', n['status'], lang)}{reason}"))
    from watchboard.cli_follow import show_lines

    for line, heading in show_lines(data, lang, zone, units):
        out.print(Text(line, style="bold" if heading else ""))
    out.print(Text(t("cli.show.timeline", lang), style="bold"))
    for e in data["timeline"]:
        out.print(Text(f"  {_at(e['at'], zone, now)}  {clean_line(e['actor'], 20):10} {clean_line(e['text'], 200)}"))
    return 0


def clock_line(c: dict[str, Any], lang: Lang, zone: ZoneInfo, now: datetime) -> str:
    """`首次回应  11-30 10:05  工作时间  计时中  自接报起算` — and met late / late on arrival."""
    parts = [f"{named('clock', c['name'], lang):8}", _at(c["due_at"], zone, now),
             named("basis", c["basis"], lang), named("clock.status", c["status"], lang)]
    if c.get("counted_from"):
        parts.append(named("from", c["counted_from"], lang))
    if c.get("met_at"):
        met = datetime.fromisoformat(c["met_at"])
        due = datetime.fromisoformat(c["due_at"])
        who = t("clock.by", lang, who=c.get("met_by") or "") if c.get("met_by") else ""
        if met > due:
            from watchboard.board.format import span
            parts.append(t("clock.met_late", lang, span=span(met - due, lang)) + who)
        else:
            parts.append(t("clock.met_at", lang, at=local(met, zone, now)) + who)
    elif c.get("on_arrival") and c["status"] == "breached":
        parts.append(t("clock.on_arrival", lang))
    if c.get("provisional"):
        parts.append("~ " + t("clock.provisional", lang))
    return "  ".join(parts)
