"""The CLI's jobs: run a service, open the board, send reports and commands, print incidents."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import signal
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from watchboard.bus.connection import connect
from watchboard.bus.runtime import ServiceContext, install_signal_handlers, run_service
from watchboard.bus.subjects import COMMAND_OWNER, Subjects
from watchboard.client import load_history, load_view, load_views, request
from watchboard.config import ConfigError, ConfigSource, load_watchboard
from watchboard.domain.present import show_json, summary_json
from watchboard.domain.sanitize import clean_line


def build_service(name: str, source: ConfigSource) -> Any:
    """The service object of `name`, its config loaded (a bad config raises ConfigError here)."""
    module = importlib.import_module(f"watchboard.services.{name}.service")
    return module.build(source)


def serve(name: str, nats_url: str, source: ConfigSource, data_dir: Path) -> int:
    service = build_service(name, source)

    async def main() -> None:
        stop = asyncio.Event()
        extra = {}
        if hasattr(service, "reload"):
            extra[signal.SIGHUP] = lambda: asyncio.ensure_future(service.reload())
        install_signal_handlers(stop, extra)
        await run_service(service, ServiceContext(nats_url=nats_url, data_dir=data_dir, source=source), stop)

    asyncio.run(main())
    return 0


def board(args: argparse.Namespace, source: ConfigSource) -> int:
    from watchboard.board.launch import run_board_cli

    return run_board_cli(args, source)


def profiles(source: ConfigSource, as_json: bool = False) -> int:
    from watchboard import profiles as plans

    found = plans.all_profiles(source)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        print(plans.text(found), end="")
    return 0


def due(args: argparse.Namespace, source: ConfigSource) -> int:
    """`watchboard due`: when each clock of a grade falls due under a profile, from when the item
    was posted, observed and reported — what the running system would compute."""
    from watchboard.config.deadlines import plan_set_clocks
    from watchboard.config.grading import load_grading
    from watchboard.domain import clocks
    from watchboard.domain.errors import Invalid
    from watchboard.profiles import due_source, load_for_due

    try:
        src = due_source(args.profile, source)
        cfg, cal = load_for_due(args.profile, source)
        grading = load_grading(src)
        at = args.at or datetime.now(cal.zone).isoformat()
        rows = clocks.due_table(args.grade, at, cfg, cal, profile=src.profile_name(), posted=args.posted,
                                observed=args.observed, collapse=grading.collapse,
                                plan_set=plan_set_clocks(src))
    except Invalid as exc:
        print(f"watchboard due: error [{exc.field}]: {exc.message}", file=sys.stderr)
        return 2
    for row in rows:  # `provisional` only where it is true, as in `show --json`
        if not row.get("provisional"):
            row.pop("provisional", None)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    run_as = rows[0]["grade"] if rows else grading.collapse.get(args.grade, args.grade)
    if run_as != args.grade:
        print(f"profile {src.profile_name()}: grade {args.grade} is run as {run_as}")
    if not rows:
        print(f"grade {run_as} has no clocks in profile {src.profile_name()}")

    def short(iso: object) -> str:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M") if iso else "-"

    print(f"{'clock':16} {'due':17} {'period':7} {'from':9} {'start':17} {'source':8} extendable")
    for row in rows:
        flag = "  (provisional: calendar not published yet)" if row.get("provisional") else ""
        flag += "  (late on arrival: already past due when the report arrives)" if row.get("on_arrival") else ""
        print(f"{row['name']:16} {short(row['due_at']):17} {row['period']!s:7} {row['from']!s:9} "
              f"{short(row['start']):17} {row['source']!s:8} {'yes' if row['extendable'] else 'no'}{flag}")
    return 0


# --- client commands (need a running system) ------------------------------------------


def _print_reply(reply: dict[str, Any]) -> int:
    if reply.get("ok"):
        print(json.dumps(reply, ensure_ascii=False))
        return 0
    err = reply.get("error", {})
    field = f" [{err['field']}]" if err.get("field") else ""
    print(f"error ({err.get('code', '?')}){field}: {err.get('message', '')}", file=sys.stderr)
    return 1


async def run_client_command(args: argparse.Namespace, source: ConfigSource) -> int:
    wb = load_watchboard(source)
    subjects = Subjects(wb.subject_prefix)
    try:
        nc = await connect(args.nats, f"watchboard-cli-{args.command}", retry_for=5)
    except ConnectionError as exc:
        print(f"watchboard: {exc}. Is the system running (`watchboard up`)? Use --nats or WATCHBOARD_NATS.",
              file=sys.stderr)
        return 3
    try:
        if args.command == "submit":
            return await submit(nc, subjects, args)
        if args.command == "ls":
            return await ls(nc, args, wb.zone())
        if args.command == "show":
            return await show(nc, subjects, args, wb.zone())
        if args.command == "demo":
            from watchboard.demo import run_demo

            return await run_demo(nc, subjects, speed=args.speed)
        if args.command == "sweep":
            payload = {"note": args.note, "actor": args.actor}
            return _print_reply(await request(nc, subjects.command("sweep"), json.dumps(payload).encode()))
        return await operator_command(nc, subjects, args, wb.zone())
    finally:
        await nc.close()


def _command_payload(args: argparse.Namespace, zone: Any) -> tuple[str, dict[str, Any]]:
    verb = args.command
    payload: dict[str, Any] = {"incident_id": args.id, "actor": args.actor}
    if verb == "assign":
        payload |= {"owner": args.owner, "reason": args.reason}
    elif verb == "regrade":
        payload |= {"grade": args.grade, "reason": args.reason}
        if args.grade == "release":
            verb, payload = "release", {"incident_id": args.id, "actor": args.actor, "reason": args.reason}
    elif verb in ("flag", "unflag"):
        payload |= {"kind": args.kind, "reason": args.reason}
    elif verb == "stage":
        payload |= {"stage": args.stage, "note": args.note}
    elif verb == "done":
        payload |= {"clock": args.clock, "note": args.note}
    elif verb == "extend":
        payload |= {"clock": args.clock, "due_at": _parse_when(args.due, zone), "reason": args.reason}
    elif verb == "note":
        payload |= {"text": args.text}
    elif verb == "close":
        payload |= {"summary": args.summary}
    return verb, payload


def _parse_when(text: str, zone: Any) -> str:
    """ISO 8601 with offset, or 'YYYY-MM-DD HH:MM' read in the configured zone."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text  # the service names the field and the problem
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.isoformat()


async def operator_command(nc: Any, subjects: Subjects, args: argparse.Namespace, zone: Any) -> int:
    verb, payload = _command_payload(args, zone)
    assert verb in COMMAND_OWNER
    return _print_reply(await request(nc, subjects.command(verb), json.dumps(payload, ensure_ascii=False).encode()))


# --- submit -----------------------------------------------------------------------------


def _report_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for key in ("title", "summary", "platform", "url", "region", "unit_hint", "topic", "observed_at", "posted_at",
                "media_level", "sentiment", "reporter", "incident_id", "evidence"):
        value = getattr(args, key)
        if value is not None:
            report[key] = value
    metrics = {k: getattr(args, k) for k in ("reposts", "comments", "likes", "views") if getattr(args, k) is not None}
    if metrics:
        report["metrics"] = metrics
    for key in ("cross_region", "emergency", "stability_risk"):
        if getattr(args, key):
            report[key] = True
    return report


def _lines_of(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw bytes) of a JSON or JSONL file; a JSON array file gives its items."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    stripped = data.lstrip()
    if stripped.startswith(b"[") or (stripped.startswith(b"{") and path.endswith(".json")):
        try:
            value = json.loads(data)
        except ValueError:
            value = None
        if isinstance(value, list):
            for n, item in enumerate(value, 1):
                yield n, json.dumps(item, ensure_ascii=False).encode()
            return
        if isinstance(value, dict):
            yield 1, data
            return
    for n, line in enumerate(data.splitlines(), 1):
        if line.strip():
            yield n, line


async def submit(nc: Any, subjects: Subjects, args: argparse.Namespace) -> int:
    if not args.file:
        report = _report_from_flags(args)
        reply = await request(nc, subjects.submit, json.dumps(report, ensure_ascii=False).encode())
        if reply.get("ok"):
            merged = " (merged into an existing incident)" if reply.get("merged") else ""
            print(f"{reply['incident_id']}{merged}")
            return 0
        return _print_reply(reply)
    try:
        items = list(_lines_of(args.file))
    except OSError as exc:
        print(f"watchboard submit: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    return await submit_many(nc, subjects, items)


async def submit_many(nc: Any, subjects: Subjects, items: list[tuple[int, bytes]], window: int = 32) -> int:
    """Send reports in order with a bounded window in flight; progress on stderr; summary at the end."""
    total = len(items)
    counts = {"accepted": 0, "merged": 0, "rejected": 0}
    rejects: list[tuple[int, str]] = []
    slots = asyncio.Semaphore(window)
    started = last_progress = time.monotonic()
    show_progress = total >= 50 and sys.stderr.isatty()
    done = 0

    async def one(line_no: int, body: bytes) -> None:
        nonlocal done, last_progress
        try:
            reply = await request(nc, subjects.submit, body)
        finally:
            slots.release()
        done += 1
        if reply.get("ok"):
            counts["merged" if reply.get("merged") else "accepted"] += 1
        else:
            counts["rejected"] += 1
            err = reply.get("error", {})
            field = f"{err['field']}: " if err.get("field") else ""
            rejects.append((line_no, f"{field}{err.get('message', '')}"))
        now = time.monotonic()
        if show_progress and now - last_progress > 0.25:
            last_progress = now
            rate = done / max(now - started, 1e-6)
            print(f"\r{done}/{total} sent, {rate:.0f}/s", end="", file=sys.stderr, flush=True)

    tasks = []
    for line_no, body in items:
        await slots.acquire()
        tasks.append(asyncio.create_task(one(line_no, body)))
    await asyncio.gather(*tasks)
    if show_progress:
        print("", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"{total} reports in {elapsed:.1f}s: {counts['accepted']} accepted, {counts['merged']} merged, "
          f"{counts['rejected']} rejected")
    for line_no, reason in sorted(rejects):
        print(f"  line {line_no}: {reason}")
    return 0 if counts["rejected"] == 0 else 1


# --- ls / show --------------------------------------------------------------------------

GRADE_ORDER = {"I": 0, "II": 1, "III": 2, "IV": 3, None: 4}


def _local(dt: datetime | None, zone: Any) -> str:
    return "" if dt is None else dt.astimezone(zone).strftime("%m-%d %H:%M")


async def ls(nc: Any, args: argparse.Namespace, zone: Any) -> int:
    views = await load_views(nc)
    rows = [summary_json(v) for v in views.values()
            if v.core is not None and (args.all or v.core.stage != "closed")]
    rows.sort(key=lambda r: (GRADE_ORDER.get(r["grade"], 4), r["reported_at"] or ""))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no open incidents")
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("grade", no_wrap=True, min_width=5)
    table.add_column("id", no_wrap=True, min_width=26)
    table.add_column("stage", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("owner", no_wrap=True, overflow="ellipsis", max_width=12)
    table.add_column("next due", no_wrap=True, overflow="ellipsis", max_width=26)
    table.add_column("reported", no_wrap=True, min_width=11)
    table.add_column("title", no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    colours = {"I": "red", "II": "dark_orange", "III": "yellow", "IV": "blue"}
    for r in rows:
        running = [c for c in r["clocks"] if c["status"] in ("running", "extended")]
        nxt = min(running, key=lambda c: c["due_at"]) if running else None
        due_text = f"{nxt['name']} {_local(datetime.fromisoformat(nxt['due_at']), zone)}" if nxt else ""
        table.add_row(Text(r["grade"] or "-", style=f"bold {colours.get(r['grade'], '')}"),
                      Text(r["id"]), Text(r["stage"]), Text(clean_line(r["owner"] or "-", 40)), Text(due_text),
                      Text(_local(datetime.fromisoformat(r["reported_at"]), zone)), Text(clean_line(r["title"], 120)))
    Console(width=max(Console().width, 120)).print(table)
    return 0


async def show(nc: Any, subjects: Subjects, args: argparse.Namespace, zone: Any) -> int:
    view = await load_view(nc, args.id)
    if view is None:
        print(f"error (not_found) [id]: no incident {args.id!r}", file=sys.stderr)
        return 1
    data = show_json(view, await load_history(nc, subjects, args.id))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    from rich.console import Console
    from rich.text import Text

    out = Console(highlight=False)
    title = Text(f"{data['grade'] or '-'}  ", style="bold")
    title.append(clean_line(data["title"], 300))
    out.print(title)
    out.print(Text(f"id {data['id']}  owner {data['owner'] or '-'}  stage {data['stage']}  "
                   f"sentiment {data['sentiment'] or '-'}  acknowledged by {data['acknowledged_by'] or '-'}"))
    for reason in data["grade_reasons"]:
        out.print(Text(f"  · {clean_line(reason, 200)}"))
    if data["clocks"]:
        out.print(Text("clocks:", style="bold"))
        for c in data["clocks"]:
            out.print(Text(f"  {c['name']:16} {_local(datetime.fromisoformat(c['due_at']), zone)}  {c['basis']:8} {c['status']}"))
    if data["mentions"]:
        out.print(Text("mentions:", style="bold"))
        for m in data["mentions"]:
            mt = m["metrics"]
            out.print(Text(f"  {m['platform']:9} reposts {mt['reposts']:>6} comments {mt['comments']:>6}  "
                           f"{clean_line(m['url'] or '', 100)}"))
    if data["notices"]:
        out.print(Text("notices:", style="bold"))
        for n in data["notices"]:
            out.print(Text(f"  {clean_line(n['to'], 40):20} {n['channel']:8} {n['status']}"))
    out.print(Text("timeline:", style="bold"))
    for t in data["timeline"]:
        out.print(Text(f"  {_local(datetime.fromisoformat(t['at']), zone)}  {t['actor']:10} {clean_line(t['text'], 200)}"))
    return 0


__all__ = ["ConfigError", "board", "due", "profiles", "run_client_command", "serve"]
