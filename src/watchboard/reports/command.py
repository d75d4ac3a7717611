"""`watchboard report daily|weekly` and `watchboard review ID`: replay, build, write.

Errors say which option is wrong and why (exit 2), or what the stream lacks (exit 1); the
replay's progress goes to stderr on a terminal, the report to stdout or `-o FILE`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from watchboard.config import ConfigSource, load_watchboard
from watchboard.reports import FORMATS
from watchboard.reports import period as periods

LOOKBACK_DAYS = 60  # incidents still open are found this far back (the last clocks are 10 working days)
LIMITS = {"--lookback": (1, 366), "--timeout": (1, 3600)}
TEXT_MAX = {"--issuer": 100, "--to": 200, "id": 100}


_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class UsageError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def add_arguments(p: argparse.ArgumentParser, *, review: bool = False) -> None:
    """The options `report daily`, `report weekly` and `review` share."""
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default, to stdout), html, docx (needs -o), json")
    p.add_argument("-o", "--output", type=Path, default=None, help="write to FILE instead of stdout")
    p.add_argument("--lang", choices=("zh", "en"), default=None, help="language (default: watchboard.toml `language`)")
    p.add_argument("--issuer", default=None, help="the issuing body at the end (default: the office unit of units.toml)")
    p.add_argument("--to", default=None, help="the addressee line (主送机关)")
    if not review:
        p.add_argument("--lookback", type=int, default=LOOKBACK_DAYS,
                       help=f"days before the period to look for incidents still open (default {LOOKBACK_DAYS})")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds the replay may take (default 300)")


def check(args: argparse.Namespace) -> None:
    """Every option bounded; refused naming the option."""
    if args.format == "docx" and args.output is None:
        raise UsageError("--format", "docx writes a Word file: give -o FILE (e.g. -o report.docx)")
    for name, (low, high) in LIMITS.items():
        value = getattr(args, name.lstrip("-"), None)
        if value is not None and not low <= value <= high:
            raise UsageError(name, f"{value} is out of range; {low} to {high}")
    for name, limit in TEXT_MAX.items():
        value = getattr(args, name.lstrip("-"), None)
        if isinstance(value, str) and (len(value) > limit or not value.strip()):
            raise UsageError(name, f"must be 1 to {limit} characters" + (f", got {len(value)}" if value else ""))
    incident = getattr(args, "id", None)
    if isinstance(incident, str) and not _ID.match(incident):
        # The id goes into a subject filter (wb.ev.*.<id>.>): dots, wildcards or spaces would widen it.
        raise UsageError("id", f"{incident[:40]!r} is not an incident id (letters, digits, - and _ only)")
    if args.output is not None and args.output.is_dir():
        raise UsageError("-o", f"{args.output} is a folder; give a file name")
    if args.output is not None and not args.output.parent.exists():
        raise UsageError("-o", f"folder {args.output.parent} does not exist")


class _Progress:
    """'replaying events: 12,000 of ~100,000' on one stderr line, on a terminal, for long replays."""

    def __init__(self) -> None:
        self.shown = False
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def __call__(self, read: int, expected: int) -> None:
        if not self.tty or (time.monotonic() - self.started < 1.0 and not self.shown):
            return
        self.shown = True
        total = f" of ~{expected:,}" if expected else ""
        print(f"\rreplaying events: {read:,}{total}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.shown:
            print("", file=sys.stderr)


async def run(args: argparse.Namespace, source: ConfigSource) -> int:
    # Imported here: matplotlib and python-docx load only when a report is made.
    from watchboard.bus.connection import connect
    from watchboard.bus.subjects import Subjects
    from watchboard.reports.build import build, load_setting
    from watchboard.reports.replay import ReplayError, replay_incident, replay_window

    prog = "watchboard review" if args.command == "review" else f"watchboard report {args.kind}"
    try:
        check(args)
        wb = load_watchboard(source)
        zone = wb.zone()
        now = datetime.now(zone)
        kind = "review" if args.command == "review" else args.kind
        if kind == "daily":
            period = periods.daily(periods.parse_date(args.date, now, zone), now, zone)
        elif kind == "weekly":
            period = periods.weekly(*periods.parse_week(args.week, now, zone), now, zone)
        setting = load_setting(source)
    except (UsageError, periods.PeriodError) as exc:
        print(f"{prog}: error [{exc.field}]: {exc}", file=sys.stderr)
        return 2
    subjects = Subjects(wb.subject_prefix)
    try:
        nc = await connect(args.nats, f"watchboard-cli-{kind}", retry_for=5)
    except ConnectionError as exc:
        print(f"{prog}: {exc}. Is NATS running? Use --nats or WATCHBOARD_NATS.", file=sys.stderr)
        return 3
    progress = _Progress()
    try:
        if kind == "review":
            replayed = await replay_incident(nc, subjects, args.id, timeout=args.timeout, progress=progress)
            if not replayed.events:
                print(f"{prog}: error (not_found) [id]: no event of incident {args.id!r} in the stream", file=sys.stderr)
                return 1
            period = periods.review(args.id, min(e.at for e in replayed.events), now)
        else:
            since = period.start - timedelta(days=args.lookback)
            replayed = await replay_window(nc, subjects, since, period.as_of, timeout=args.timeout, progress=progress)
    except ReplayError as exc:
        progress.done()
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    finally:
        await nc.close()
    progress.done()
    replay = {"events": len(replayed.events), "window": replayed.window, "earlier": replayed.earlier,
              "completed_incidents": replayed.completed, "incomplete_incidents": replayed.incomplete,
              "unknown": replayed.unknown, "broken": replayed.broken, "start_seq": replayed.start_seq,
              "last_seq": replayed.last_seq, "seconds": round(replayed.seconds, 3)}
    report = build(kind, replayed.events, period, setting, args.lang or wb.language, now=now, replay=replay,
                   issuer=args.issuer, addressee=args.to)
    data = report.render(args.format)
    if args.output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.output.write_bytes(data)
        print(f"{args.output}: {kind} report ({args.format}, {len(data):,} bytes)", file=sys.stderr)
    return 0
