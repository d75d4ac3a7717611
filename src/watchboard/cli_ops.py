"""The CLI's jobs: run a service, open the board, send reports and commands, print incidents."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from watchboard.board.format import fit
from watchboard.board.i18n import Lang, code_word, named, t
from watchboard.bus.connection import Refused, _redact, connect
from watchboard.bus.credentials import Credentials
from watchboard.bus.errors import BusError, NotPermitted
from watchboard.bus.lease import StandbyOptions
from watchboard.bus.runtime import ServiceContext, install_signal_handlers, run_service
from watchboard.bus.subjects import COMMAND_OWNER, Subjects
from watchboard.client import load_archived, load_history, load_view, load_views, request
from watchboard.config import ConfigError, ConfigSource, load_watchboard
from watchboard.domain.errors import message_in
from watchboard.domain.incident import CLOSE_SUMMARY_MAX, NOTE_MAX
from watchboard.domain.present import NOTE_REQUIRED, local, localize_times
from watchboard.domain.views import IncidentView
from watchboard.store.sqlite import StoreError

FOLLOW_THROUGH = ("statement", "evidence", "task", "meeting", "supervise")  # cli_follow.py


def build_service(name: str, source: ConfigSource) -> Any:
    """The service object of `name`, its config loaded (a bad config raises ConfigError here)."""
    module = importlib.import_module(f"watchboard.services.{name}.service")
    return module.build(source)


LEASE_LOST_EXIT = 3  # `serve --standby`: this instance may no longer act; systemd or `up` start it again


def lease_lost_exit(name: str) -> Callable[[str], None]:
    """`serve --standby`: an instance that lost its lease ends at once — no half-done work
    continues beside the new active instance — and comes back as a standby."""

    def lost(why: str) -> None:
        print(f"watchboard serve {name}: no longer the active instance ({why}); exiting", file=sys.stderr,
              flush=True)
        os._exit(LEASE_LOST_EXIT)

    return lost


def serve(name: str, nats_url: str, source: ConfigSource, data_dir: Path, creds: Credentials | None = None,
          *, rebuild: bool = False, standby: bool = False, instance: str | None = None,
          metrics: str | None = None) -> int:
    if rebuild and standby:
        # A standby's store is a copy of the active's; one rebuilt from the stream would not be.
        print(f"watchboard serve {name}: --rebuild and --standby do not go together: stop every instance, "
              "rebuild one without --standby, then start the others as standbys (they copy its store)",
              file=sys.stderr)
        return 2
    service = build_service(name, source)
    if metrics:
        from watchboard.config.watchboard import parse_listen

        try:
            parse_listen(metrics, "--metrics")
        except ValueError as exc:
            print(f"watchboard serve {name}: {exc}", file=sys.stderr)
            return 2
    options = StandbyOptions(instance=instance or "", on_lost=lease_lost_exit(name)) if standby else None
    if rebuild:
        # A store that is not there is rebuilt from the stream before the service serves.
        from watchboard.recovery.rebuild import move_aside

        store = data_dir / f"{name}.sqlite"
        moved = move_aside(store)
        print(f"watchboard serve {name}: " + (f"store moved aside to {moved[0]}; " if moved else
                                            f"no store at {store}; ") + "rebuilding it from the stream",
              file=sys.stderr)

    async def main() -> None:
        stop = asyncio.Event()
        extra = {}
        if hasattr(service, "reload"):
            extra[signal.SIGHUP] = lambda: asyncio.ensure_future(service.reload())
        install_signal_handlers(stop, extra)
        await run_service(service, ServiceContext(nats_url=nats_url, data_dir=data_dir, source=source, creds=creds,
                                                  standby=options, metrics=metrics, settle_gc=True), stop)

    from watchboard.auth.registry import RegistryError
    from watchboard.recovery.rebuild import RebuildError

    try:
        asyncio.run(main())
    except StoreError as exc:
        # One line a person can act on, and an exit code systemd (or `up`) acts on.
        print(f"watchboard serve {name}: store {exc.path}: {exc.problem}", file=sys.stderr)
        return 1
    except RegistryError as exc:  # roles on, but the service cannot name people
        print(f"watchboard serve {name}: {exc}", file=sys.stderr)
        return 2
    except RebuildError as exc:
        print(f"watchboard serve {name}: {exc}", file=sys.stderr)
        return 1
    return 0


def check(args: argparse.Namespace, source: ConfigSource) -> int:
    """`watchboard check`: every config file loads; with --cluster DIR the nodes' configs and the
    replicas make a cluster that keeps its writes; with --live the running streams agree."""
    from watchboard.bus.cluster import check_cluster, check_live
    from watchboard.launcher import SERVICES, watchboard_toml

    try:
        wb = load_watchboard(source)
        for name in SERVICES:
            build_service(name, source)
    except ConfigError as exc:
        print(f"watchboard check: {exc}", file=sys.stderr)
        return 1
    problems: list[Any] = []
    if args.cluster is not None:
        nodes = sorted(args.cluster.glob("*.conf"))
        problems += check_cluster(nodes, wb, watchboard_toml(source))
        print(f"cluster: {len(nodes)} node config(s) in {args.cluster}")
    if args.live:
        async def live() -> list[Any]:
            nc = await connect(args.nats, "watchboard-check", retry_for=CONNECT_WITHIN, creds=args.credentials)
            try:
                return await check_live(nc.jetstream(timeout=5), wb, watchboard_toml(source))
            finally:
                await nc.close()

        try:
            problems += asyncio.run(live())
        except (ConnectionError, Refused) as exc:
            print(f"watchboard check --live: {exc}", file=sys.stderr)
            return 1
    for problem in problems:
        print(f"watchboard check: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"ok: config{', cluster' if args.cluster else ''}{', running streams' if args.live else ''} "
          f"(stream.replicas {wb.stream.replicas}, sync_interval {wb.stream.sync_interval})")
    return 0


def board(args: argparse.Namespace, source: ConfigSource) -> int:
    from watchboard.board.launch import run_board_cli

    return run_board_cli(args, source)


def profiles(source: ConfigSource, as_json: bool = False, lang: str | None = None) -> int:
    from watchboard import profiles as plans

    found = plans.all_profiles(source)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        print(plans.text(found, lang or load_watchboard(source).language), end="")
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
        zh_err = (args.lang or load_watchboard(source).language) == "zh" and getattr(exc, "message_zh", "")
        print(f"watchboard due: 错误 [{exc.field}]：{exc.message_zh}" if zh_err
              else f"watchboard due: error [{exc.field}]: {exc.message}", file=sys.stderr)
        return 2
    for row in rows:  # `provisional` only where it is true, as in `show --json`
        if not row.get("provisional"):
            row.pop("provisional", None)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    lang = args.lang or load_watchboard(source).language
    zh = lang == "zh"
    run_as = rows[0]["grade"] if rows else grading.collapse.get(args.grade, args.grade)
    profile = src.profile_name()
    if run_as != args.grade:
        print(f"预案 {profile}：{args.grade} 级按 {run_as} 级运行" if zh
              else f"profile {profile}: grade {args.grade} is run as {run_as}")
    if not rows:
        print(f"预案 {profile} 中 {run_as} 级没有时限" if zh else f"grade {run_as} has no clocks in profile {profile}")
        return 0

    def short(iso: object) -> str:
        return datetime.fromisoformat(str(iso)).strftime("%Y-%m-%d %H:%M") if iso else "-"

    heads = (("时限", "到期", "时长", "起算", "起算时刻", "来源", "可延期") if zh
             else ("clock", "due", "period", "from", "start", "source", "ext."))
    table = Table(box=None, pad_edge=False, show_edge=False)
    for head in heads:
        table.add_column(head, no_wrap=True, overflow="fold")
    notes: list[str] = []
    source_word = {"plan": "本预案", "default": "默认"} if zh else {"plan": "plan", "default": "default"}
    yes_no = ("是", "否") if zh else ("yes", "no")
    for row in rows:
        mark = ""
        name = named("clock", str(row["name"]), lang)
        if row.get("on_arrival"):
            mark += "*"
            notes.append(f"* {name}：到达时已超时（接报时已过到期时间）" if zh
                         else f"* {name}: late on arrival (already past due when the report arrives)")
        if row.get("provisional"):
            mark += "~"
            notes.append(f"~ {name}：暂为估算，日历尚未发布" if zh
                         else f"~ {name}: provisional, the calendar is not published yet")
        counted = named("from", str(row["from"]), lang) if zh else str(row["from"])
        table.add_row(name + mark, short(row["due_at"]), str(row["period"]), counted,
                      short(row["start"])[5:], source_word[str(row["source"])],
                      yes_no[0] if row["extendable"] else yes_no[1])
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    for note in notes:
        console.print(note)
    return 0


# --- client commands (need a running system) ------------------------------------------

CONNECT_WITHIN = 1.9  # seconds: without a system, say so at once (a refused port fails in ms)


class Out:
    """What the client commands share: the language, the zone and how to print a reply."""

    def __init__(self, lang: Lang, zone: ZoneInfo, url: str, source: ConfigSource) -> None:
        self.lang, self.zone, self.url, self.source = lang, zone, url, source

    def t(self, key: str, **fields: Any) -> str:
        return t(key, self.lang, **fields)

    def when(self, at: datetime | None = None) -> str:
        return local(at or datetime.now(self.zone), self.zone, datetime.now(self.zone))

    def error(self, reply: dict[str, Any]) -> int:
        """An error reply on stderr, in the reader's language: the service's Chinese twin
        (`message_zh`) for the Chinese CLI, its English for the English one."""
        err = reply.get("error") or {}
        if err.get("reason") == "no_responders":
            print(self.t("cli.no_responders", url=_redact(self.url), subject=err.get("subject", "")),
                  file=sys.stderr)
            return 3
        if err.get("reason") == "not_permitted":
            from watchboard.auth.cli import words

            print(words("not_permitted", self.lang, subject=err.get("subject", "")), file=sys.stderr)
            return 1
        self.refuse(err.get("code") or "?", err.get("field"), message_in(err, self.lang))
        return 1

    def refusal(self, code: str, field: str | None, message: str) -> str:
        """`错误（冲突）[kind]：…` / `error (conflict) [kind]: …`, UTC times in the configured zone."""
        where = self.t("cli.error.field", field=field) if field else ""
        return self.t("cli.error", code=code_word(code, self.lang), field=where,
                      message=localize_times(message, self.zone))

    def refuse(self, code: str, field: str | None, message: str) -> None:
        print(self.refusal(code, field, message), file=sys.stderr)

    def warnings(self, reply: dict[str, Any], prefix: str = "") -> list[str]:
        """The reply's warnings in the reader's language (the service's English if unknown)."""
        out = []
        for w in reply.get("warnings") or []:
            code, value = w.get("code"), str(w.get("value", ""))
            if code == "unknown_unit":
                text = self.t("cli.warn.unit_hint", value=value)
            elif code == "unknown_region":
                text = self.t("cli.warn.region", value=value)
            elif code == "closed":
                at = datetime.fromisoformat(value) if value else None
                text = self.t("cli.warn.closed", id=reply.get("incident_id", ""), at=self.when(at))
            else:
                text = localize_times(str(w.get("message", "")), self.zone)
            out.append(prefix + text)
        return out


def client_lang(args: argparse.Namespace, wb: Any) -> Lang:
    lang = getattr(args, "lang", None) or wb.language
    return "en" if lang == "en" else "zh"


async def run_client_command(args: argparse.Namespace, source: ConfigSource) -> int:
    wb = load_watchboard(source)
    subjects = Subjects(wb.subject_prefix)
    out = Out(client_lang(args, wb), wb.zone(), args.nats, source)
    early = _refuse_early(args, out)  # what the CLI can refuse without asking anyone
    if early is not None:
        return early
    try:
        if not await reachable(args.nats, CONNECT_WITHIN / 2):
            raise ConnectionError("no server listens there")
        nc = await asyncio.wait_for(connect(args.nats, f"watchboard-cli-{args.command}", retry_for=0.5,
                                            creds=args.credentials), CONNECT_WITHIN)
    except Refused as exc:
        from watchboard.auth.cli import words

        detail = f" ({exc.detail})" if args.verbose else ""
        print(words(f"refused.{exc.kind}", out.lang, url=exc.url) + detail, file=sys.stderr)
        return 3
    except (ConnectionError, TimeoutError) as exc:
        cause = f" ({exc})" if isinstance(exc, ConnectionError) and args.verbose else ""
        print(out.t("cli.nosystem", url=_redact(args.nats)) + cause, file=sys.stderr)
        return 3
    try:
        return await _client_command(nc, subjects, args, out)
    except BusError as exc:  # a read the server refused or that timed out: said, not a traceback
        reason = {"reason": "not_permitted", "subject": exc.subject} if isinstance(exc, NotPermitted) else {}
        return out.error({"ok": False, "error": {"code": exc.code, "message": str(exc), **reason}})
    finally:
        await nc.close()


async def _client_command(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Out) -> int:
    if args.command == "submit":
        return await submit(nc, subjects, args, out)
    if args.command == "ls":
        return await ls(nc, subjects, args, out)
    if args.command == "status":
        return await status(nc, args, out)
    if args.command == "show":
        return await show(nc, subjects, args, out)
    if args.command == "demo":
        from watchboard.demo import run_demo

        return await run_demo(nc, subjects, speed=args.speed, lang=out.lang, zone=out.zone,
                              again=args.again)
    if args.command == "sweep":
        payload = {"note": args.note, "actor": args.actor}
        reply = await request(nc, subjects.command("sweep"), json.dumps(payload, ensure_ascii=False).encode())
        return _print_ok(reply, args, out, out.t("cli.sweep"))
    if args.command in FOLLOW_THROUGH:
        from watchboard.cli_follow import run as run_follow_through

        return await run_follow_through(nc, subjects, args, out)
    return await operator_command(nc, subjects, args, out)


STATUS_WORDS = {
    "en": {"service": "service", "instance": "instance", "role": "role", "version": "version",
           "active": "active", "standby": "standby", "": "only instance", "none": "NOT answering",
           "no_active": "no active instance", "lag": "behind", "health": "health", "ok": "ok",
           "unknown": "?", "metrics": "metrics",
           "no_lag": "(events behind: only with the admin's credentials, --creds admin.nk)",
           "no_health": "(health: this identity may not ask the instances ($SRV.STATS))"},
    "zh": {"service": "服务", "instance": "实例", "role": "角色", "version": "版本",
           "active": "在岗", "standby": "备用", "": "单实例", "none": "无应答", "no_active": "无在岗实例",
           "lag": "待处理", "health": "状况", "ok": "正常", "unknown": "？", "metrics": "指标",
           "no_lag": "（待处理事件数须用管理员凭据查看：`--creds admin.nk`）",
           "no_health": "（状况：当前身份无权查询各实例（$SRV.STATS））"},
}


async def status(nc: Any, args: argparse.Namespace, out: Out) -> int:
    """`watchboard status`: every instance that answers the service API, with its role, its
    health and the events it has still to handle (its own `$SRV.STATS` figures; the durable
    consumers' where the instance does not say); exit 1 when a service has no instance that
    acts (none answers, or only standbys), or an acting one reports a problem."""
    from watchboard.bus.health import describe, instance_health
    from watchboard.bus.standby import service_instances
    from watchboard.bus.subjects import SERVICES

    found, healths = await asyncio.gather(service_instances(nc), instance_health(nc))
    lag = await consumer_lag(nc)
    words = STATUS_WORDS["zh" if out.lang == "zh" else "en"]
    acting = {i.service for i in found if i.role in ("active", "")}
    sick = {i.service for i in found if i.role in ("active", "")
            and healths.get(i.id) and healths[i.id].data.get("health", "ok") != "ok"}

    def behind(i: Any) -> str:
        data = healths[i.id].data if i.id in healths else {}
        if "lag" in data:
            return str(data["lag"])
        return str(lag[i.service]) if i.service in lag else "-"

    if getattr(args, "json", False):
        rows = [{**vars(i), "health": healths[i.id].data if i.id in healths else None} for i in found]
        print(json.dumps({"instances": rows, "services": {s: s in acting for s in SERVICES}, "lag": lag},
                         ensure_ascii=False, indent=2))
    else:
        # Padded by display cells, not characters: 服务 is two characters but four columns.
        print(f"{fit(words['service'], 10)} {fit(words['instance'], 24)} {fit(words['role'], 14)} "
              f"{fit(words['version'], 9)} {fit(words['lag'], 8)} {words['health']}")
        for service in SERVICES:
            name = fit(named("service", service, out.lang), 10)
            mine = [i for i in found if i.service == service]
            for i in mine:
                acts = i.role in ("active", "")
                data = healths[i.id].data if i.id in healths else None
                health = (words["unknown"] if data is None else
                          describe(data.get("problems") or [], out.lang) or words["ok"])
                where = f"  {words['metrics']} {i.metrics}" if i.metrics else ""
                print(f"{name} {fit(i.instance or i.id[:12], 24)} {fit(words.get(i.role, i.role), 14)} "
                      f"{fit(i.version, 9)} {fit(str(behind(i)) if acts else '', 8)} {health}{where}")
            if not mine:
                print(f"{name} {fit('-', 24)} {words['none']}")
            elif service not in acting:
                print(f"{name} {fit('-', 24)} {words['no_active']}")
        if found and not healths:
            print(words["no_health"])
        elif not lag and not healths:
            print(words["no_lag"])
    return 0 if acting >= set(SERVICES) and not sick else 1


async def consumer_lag(nc: Any) -> dict[str, int]:
    """Events each service has still to handle (its durables' pending and unacked), where this
    identity may read consumers (the admin's credentials, or roles off); {} elsewhere."""
    from nats.js.errors import NotFoundError

    from watchboard.auth.roles import DURABLES
    from watchboard.bus.subjects import STREAM

    js = nc.jetstream(timeout=2)
    out: dict[str, int] = {}
    for service, durables in DURABLES.items():
        total = 0
        try:
            for durable in durables:
                info = await asyncio.wait_for(js.consumer_info(STREAM, durable), 3)
                total += (info.num_pending or 0) + (info.num_ack_pending or 0)
        except NotFoundError:  # the service has not started yet
            continue
        except Exception:  # no JetStream for this identity: nobody's lag
            return {}
        out[service] = total
    return out


async def reachable(url: str, timeout: float) -> bool:
    """Does any server of `url` accept a TCP connection? (nats-py's connect retries a refused
    port for seconds; a plain socket knows in milliseconds that nothing listens.)"""
    async def one(server: str) -> bool:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "127.0.0.1",
                                                                       parts.port or 4222), timeout)
        except (OSError, TimeoutError, ValueError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    servers = [u.strip() for u in url.split(",") if u.strip()]
    return any(await asyncio.gather(*(one(s) for s in servers)))


def _refuse_early(args: argparse.Namespace, out: Out) -> int | None:
    """Refusals that need no system: said at once, in the reader's words, exit 2."""
    if args.command == "close" and not args.summary.strip():
        print(out.t("cli.need_summary"), file=sys.stderr)
        return 2
    if args.command == "done" and args.clock in NOTE_REQUIRED and not args.note.strip():
        print(out.t("cli.need_note", clock=named("clock", args.clock, out.lang)), file=sys.stderr)
        return 2
    limits = {"note": NOTE_MAX, "text": NOTE_MAX, "summary": CLOSE_SUMMARY_MAX}
    for name, limit in limits.items():
        value = getattr(args, name, None)
        if args.command in ("note", "stage", "close") and isinstance(value, str) \
                and len(value) > limit:
            out.refuse("invalid", name, out.t("cli.too_big", field=name, size=len(value), limit=limit))
            return 2
    return None


def _print_ok(reply: dict[str, Any], args: argparse.Namespace, out: Out, text: str) -> int:
    """`--json`: the reply as it came; else one line in people's words, then any warnings."""
    if not reply.get("ok"):
        return out.error(reply)
    if getattr(args, "json", False):
        print(json.dumps(reply, ensure_ascii=False))
        return 0
    at = datetime.fromisoformat(reply["at"]) if reply.get("at") else None
    # Roles on, the service names the person the server authenticated, whatever --actor said.
    actor = reply.get("actor") or getattr(args, "actor", "")
    print(text + out.t("cli.when", actor=actor, at=out.when(at)))
    for line in out.warnings(reply):
        print(out.t("cli.warning", field="", message=line), file=sys.stderr)
    return 0


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


async def operator_command(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Out) -> int:
    verb, payload = _command_payload(args, out.zone)
    assert verb in COMMAND_OWNER
    before = await load_view(nc, args.id) if verb in ("regrade", "release") else None
    reply = await request(nc, subjects.command(verb), json.dumps(payload, ensure_ascii=False).encode())
    if not reply.get("ok"):
        return out.error(reply)
    units = _unit_names(out)
    incident = args.id
    texts = {
        "ack": lambda: out.t("cli.ack", id=incident),
        "assign": lambda: out.t("cli.assign", id=incident, owner=units.get(reply.get("owner", args.owner),
                                                                          reply.get("owner", args.owner))),
        "regrade": lambda: out.t("cli.regrade", id=incident, grade=reply.get("grade", args.grade)),
        "release": lambda: out.t("cli.release", id=incident, grade=reply.get("grade", "?")),
        "stage": lambda: out.t("cli.stage", id=incident, stage=named("stage", args.stage, out.lang)),
        "done": lambda: out.t("cli.done", id=incident, clock=named("clock", args.clock, out.lang)),
        "extend": lambda: out.t("cli.extend", id=incident, clock=named("clock", args.clock, out.lang),
                                due=local(datetime.fromisoformat(payload["due_at"]), out.zone, year=True)
                                if _is_time(payload["due_at"]) else args.due),
        "note": lambda: out.t("cli.note", id=incident),
        "close": lambda: out.t("cli.close", id=incident),
        "flag": lambda: out.t("cli.flag", id=incident, kind=named("flag", args.kind, out.lang),
                              flags=_flags(reply, out.lang)),
        "unflag": lambda: out.t("cli.unflag", id=incident, kind=named("flag", args.kind, out.lang),
                                flags=_flags(reply, out.lang)),
    }
    code = _print_ok(reply, args, out, texts[verb]())
    if verb in ("regrade", "release") and not args.json and before is not None and reply.get("grade"):
        for line in clock_consequences(before, reply["grade"], _grade_clocks(out.source), out.lang):
            print(f"  {line}")
    return code


def _flags(reply: dict[str, Any], lang: str) -> str:
    flags = [named("flag", f, lang) for f in reply.get("flags", [])]  # type: ignore[arg-type]
    return ("、" if lang == "zh" else ", ").join(flags) or ("无" if lang == "zh" else "none")


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def clock_consequences(view: IncidentView, grade: str, grade_clocks: dict[str, list[str]],
                       lang: Lang) -> list[str]:
    """What a new grade does to the incident's clocks (the deadlines service's rule): running
    clocks the grade does not have are cancelled with the reason; clocks it shares keep their
    due time (never loosened); breached clocks stay breached. Empty when nothing changes."""
    if view.clocks is None or grade not in grade_clocks:
        return []
    keep = set(grade_clocks[grade])
    running = [c.name for c in view.clocks.clocks if c.status in ("running", "extended")]
    cancel = [n for n in running if n not in keep]
    if not cancel:
        return []
    breached = [c.name for c in view.clocks.clocks if c.status == "breached"]
    sep = "、" if lang == "zh" else ", "
    names = lambda items: sep.join(named("clock", n, lang) for n in items)  # noqa: E731
    lines = [t("cli.clocks.cancel", lang, grade=grade, names=names(cancel))]
    shared = [n for n in running if n in keep]
    if shared:
        lines.append(t("cli.clocks.keep", lang, names=names(shared)))
    if breached:
        lines.append(t("cli.clocks.breached", lang, names=names(breached)))
    return lines


def _grade_clocks(source: ConfigSource) -> dict[str, list[str]]:
    from watchboard.config.deadlines import load_deadlines

    cfg = load_deadlines(source)
    return {g: [name for name, _ in cfg.clocks_for(g)] for g in ("I", "II", "III", "IV")}


def _unit_names(out: Out) -> dict[str, str]:
    """Unit id → name in the reader's language (units.toml); {} if it cannot be read."""
    from watchboard.config.units import load_units

    try:
        return {u.id: (u.name_en or u.name) if out.lang == "en" else u.name for u in load_units(out.source).units}
    except ConfigError:
        return {}


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


TEXT_LIMITS = ("title", "summary", "url", "region", "reporter", "unit_hint")


def oversize(body: bytes, limits: Any, bus_limit: int) -> dict[str, Any] | None:
    """An error reply naming the field when a report is over intake's size limits or the bus's.

    Intake checks sizes too, but a body over the bus's limit never reaches it (nats-py raises
    MaxPayloadError), and over intake's body limit it could only say "body".
    """
    limit = min(limits.max_body_bytes, bus_limit) if bus_limit else limits.max_body_bytes
    if len(body) <= limit:
        return None
    try:
        report = json.loads(body)
    except ValueError:
        report = None
    if isinstance(report, dict):
        for name in TEXT_LIMITS:
            value = report.get(name)
            field_max = getattr(limits, f"{name}_max", None)
            if isinstance(value, str) and field_max is not None and len(value) > field_max:
                return {"ok": False, "error": {"code": "invalid", "field": name, "size": len(value),
                                               "limit": field_max,
                                               "message": f"{name} is {len(value):,} characters; at most {field_max:,}"}}
    return {"ok": False, "error": {"code": "invalid", "field": "body", "size": len(body), "limit": limit,
                                   "message": f"the report is {len(body):,} bytes; at most {limit:,}"}}


def _size_message(reply: dict[str, Any], out: Out) -> dict[str, Any]:
    """An over-size error worded in the reader's language (the field and the limit)."""
    err = reply.get("error") or {}
    if "size" in err and "limit" in err:
        field = err.get("field", "body")
        worded = out.t("cli.too_big", field=field, size=err["size"], limit=err["limit"])
        err = {**err, "message": worded, "message_zh": worded}
        return {**reply, "error": err}
    return reply


async def submit(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Out) -> int:
    from watchboard.cli_follow import add_files, check_files, split_evidence
    from watchboard.config.intake import load_intake

    intake_cfg = load_intake(out.source)
    limits = intake_cfg.limits
    bus_limit = getattr(nc, "max_payload", 0) or 0
    if not args.file:
        # `--evidence` naming an existing file keeps the file (the evidence bucket, with its
        # digest) once the report is in; any other value is a text or link, as before.
        args.evidence, files = split_evidence(args.evidence)
        args.evidence = args.evidence or None
        refused = check_files(files, intake_cfg.evidence.max_bytes, out)
        if refused is not None:
            return refused
        body = json.dumps(_report_from_flags(args), ensure_ascii=False).encode()
        reply = oversize(body, limits, bus_limit) or await request(nc, subjects.submit, body)
        if not reply.get("ok"):
            return out.error(_size_message(reply, out))
        if args.json:
            print(json.dumps(reply, ensure_ascii=False))
        else:
            by = named("merged", reply.get("merged_by", ""), out.lang)
            print(out.t("cli.merged", id=reply["incident_id"], by=by) if reply.get("merged")
                  else out.t("cli.submitted", id=reply["incident_id"]))
            for line in out.warnings(reply):
                print(out.t("cli.warning", field="", message=line), file=sys.stderr)
        if files:
            from watchboard.cli import _user

            return await add_files(nc, subjects, reply["incident_id"], files, args.reporter or _user(), out,
                                   as_json=args.json, to_stderr=True)
        return 0
    try:
        items = list(_lines_of(args.file))
    except OSError as exc:
        print(out.t("cli.cannot_read", path=args.file, why=exc.strerror), file=sys.stderr)
        return 2
    return await submit_many(nc, subjects, items, out, limits=limits, as_json=args.json)


async def submit_many(nc: Any, subjects: Subjects, items: list[tuple[int, bytes]], out: Out, *,
                      limits: Any = None, as_json: bool = False, window: int = 32) -> int:
    """Send reports in order with a bounded window in flight; progress on stderr; then each
    line's outcome (accepted ids, merges, rejections, warnings) by line number."""
    from watchboard.domain.validate import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    bus_limit = getattr(nc, "max_payload", 0) or 0
    total = len(items)
    replies: dict[int, dict[str, Any]] = {}
    slots = asyncio.Semaphore(window)
    started = last_progress = time.monotonic()
    show_progress = total >= 50 and sys.stderr.isatty()

    async def one(line_no: int, body: bytes) -> None:
        nonlocal last_progress
        try:
            reply = oversize(body, limits, bus_limit) or await request(nc, subjects.submit, body)
        finally:
            slots.release()
        replies[line_no] = _size_message(reply, out)
        now = time.monotonic()
        if show_progress and now - last_progress > 0.25:
            last_progress = now
            rate = len(replies) / max(now - started, 1e-6)
            print("\r" + out.t("cli.progress", done=len(replies), total=total, rate=rate),
                  end="", file=sys.stderr, flush=True)

    tasks = []
    for line_no, body in items:
        await slots.acquire()
        tasks.append(asyncio.create_task(one(line_no, body)))
    await asyncio.gather(*tasks)
    if show_progress:
        print("", file=sys.stderr)
    if as_json:
        for line_no in sorted(replies):
            print(json.dumps({"line": line_no, **replies[line_no]}, ensure_ascii=False))
        return 0 if all(r.get("ok") for r in replies.values()) else 1
    counts = {"accepted": 0, "merged": 0, "rejected": 0}
    lines: list[str] = []
    for line_no in sorted(replies):
        reply = replies[line_no]
        if reply.get("ok"):
            merged = bool(reply.get("merged"))
            counts["merged" if merged else "accepted"] += 1
            by = named("merged", reply.get("merged_by", ""), out.lang)
            lines.append(out.t("cli.line_merged", line=line_no, id=reply["incident_id"], by=by) if merged
                         else out.t("cli.line_new", line=line_no, id=reply["incident_id"]))
            lines += [out.t("cli.line_warning", line=line_no, reason=w) for w in out.warnings(reply)]
        else:
            counts["rejected"] += 1
            err = reply.get("error", {})
            message = message_in(err, out.lang)
            reason = localize_times(out.t("cli.reject_reason", field=err["field"], message=message)
                                    if err.get("field") else message, out.zone)
            lines.append(out.t("cli.line_rejected", line=line_no, reason=reason))
    print(out.t("cli.submit_summary", total=total, secs=time.monotonic() - started, **counts))
    for line in lines:
        print(line)
    return 0 if counts["rejected"] == 0 else 1


# --- ls / show --------------------------------------------------------------------------


async def ls(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Out) -> int:
    from watchboard.cli_show import print_ls

    views = await load_views(nc)
    if args.all:  # closed incidents that have left the board come from the stream
        views |= await load_archived(nc, subjects, set(views))
    return print_ls(views, all_=args.all, as_json=args.json, lang=out.lang, zone=out.zone,
                    units=_unit_names(out))


async def show(nc: Any, subjects: Subjects, args: argparse.Namespace, out: Out) -> int:
    from watchboard.cli_show import print_show

    view = await load_view(nc, args.id)
    history = await load_history(nc, subjects, args.id)
    if view is None:  # off the board (closed long ago): the view the stream gives
        from watchboard.reports.archive import view_of

        view = view_of(history)
    if view is None:
        out.refuse("not_found", "id", out.t("cli.not_found", id=args.id))
        return 1
    return print_show(view, history, as_json=args.json, lang=out.lang, zone=out.zone, units=_unit_names(out))


__all__ = ["ConfigError", "board", "due", "profiles", "run_client_command", "serve"]
