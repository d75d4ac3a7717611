"""The `watchboard` command: one console script, a sub-command per job (DESIGN.md §4.1).

The entry point only parses arguments and calls a factory or a client function; the
work lives in `launcher` (up), `bus.runtime` (serve), `client`/`cli_ops` (requests and
reads) and `board` (the dashboard).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from watchboard import __version__
from watchboard.bus.credentials import Credentials, CredentialsError, default_creds, resolve
from watchboard.config import ConfigError, ConfigSource, env_nats_url

SERVICE_NAMES = ("intake", "grading", "deadlines", "notify")


def default_data_dir() -> Path:
    """A per-user data folder: $WATCHBOARD_DATA, else $XDG_DATA_HOME/watchboard, else ~/.local/share."""
    if env := os.environ.get("WATCHBOARD_DATA"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "watchboard"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


def _common(p: argparse.ArgumentParser, *, config: bool = True) -> None:
    p.add_argument("--nats", default=None, help="NATS URL (default $WATCHBOARD_NATS or nats://127.0.0.1:4222)")
    p.add_argument("--creds", type=Path, default=None,
                   help="this identity's credentials file, an nkey seed (default $WATCHBOARD_CREDS; for "
                        "people's commands: <data>/auth/operator.nk of `watchboard up`)")
    p.add_argument("--tls-ca", type=Path, default=None,
                   help="the CA that signed the server's certificate (default $WATCHBOARD_TLS_CA, or ca.crt "
                        "beside the credentials)")
    if config:
        p.add_argument("--config", type=Path, default=None, help="config folder overriding the defaults file by file")
        p.add_argument("--profile", default=None, help="response-plan profile (see `watchboard profiles`)")


def _client(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """What every command that talks to a running system takes besides --nats."""
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the output (default: `language` in watchboard.toml)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="the service's reply as JSON, for machines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watchboard", description="Duty-room system for online public-opinion incidents.")
    parser.add_argument("--version", action="version", version=f"watchboard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("up", help="start an embedded NATS, the four services and the board")
    p.add_argument("--data", type=Path, default=None, help="data folder (default: per-user data folder)")
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--profile", default=None)
    p.add_argument("--port", type=int, default=4222, help="NATS client port on 127.0.0.1 (0 picks a free one)")
    p.add_argument("--no-board", action="store_true", help="run headless, printing a status line per service")
    p.add_argument("--demo", action="store_true",
                   help="feed the demo scenario once the services are up (once per data folder)")
    p.add_argument("--fresh", action="store_true",
                   help="start from an empty data folder: deletes its incidents, logs and state (asks first)")
    p.add_argument("--yes", action="store_true", help="with --fresh: do not ask")
    p.add_argument("--demo-speed", type=float, default=1.0, help="time factor of the demo (2 = twice as fast)")
    p.add_argument("--wall", action="store_true", help="show the board in wall mode")
    p.add_argument("--lang", choices=("zh", "en"), default=None)
    p.add_argument("--standby", action="store_true",
                   help="run two instances of each service, the second standing by to take over")
    p.add_argument("--cluster", type=int, default=None, metavar="N",
                   help="run N nats-server nodes (3 or 5) on loopback; the config must ask for that many "
                        "replicas (config/cluster/watchboard.toml does)")

    p = sub.add_parser("serve", help="run one service alone")
    p.add_argument("service", choices=SERVICE_NAMES)
    _common(p)
    p.add_argument("--data", type=Path, default=None, help="this service's data folder")
    p.add_argument("--rebuild", action="store_true",
                   help="move the service's store aside (kept beside it) and rebuild it from the stream before "
                        "serving; stop the running service first")
    p.add_argument("--standby", action="store_true",
                   help="run as one of several instances: active while it holds the service's lease, "
                        "else standing by with a copy of the active one's store (docs/deploy.md)")
    p.add_argument("--instance", default=None,
                   help="with --standby: this instance's name in the lease and the logs (default: host-pid)")
    p.add_argument("--metrics", default=None, metavar="HOST:PORT",
                   help="serve this instance's Prometheus metrics here (port 0: a free one); default: "
                        "watchboard.toml [metrics]")

    p = sub.add_parser("board", help="the live dashboard")
    _common(p)
    p.add_argument("--wall", action="store_true", help="read-only wall mode, large figures")
    p.add_argument("--lang", choices=("zh", "en"), default=None)
    p.add_argument("--web", metavar="[HOST:]PORT", default=None,
                   help="serve the board to a browser (127.0.0.1 unless HOST is given; read-only wall)")
    p.add_argument("--operator", action="store_true",
                   help="with --web: serve the desk with its actions to people who log in (operators, "
                        "approvers, leaders), instead of the read-only wall")
    p.add_argument("--https-cert", type=Path, default=None,
                   help="with --web: serve HTTPS with this certificate (web.crt of `auth init --tls`)")
    p.add_argument("--https-key", type=Path, default=None, help="with --web: the certificate's key")
    p.add_argument("--auth-dir", type=Path, default=None,
                   help="with --web: the auth folder of the people who log in (default: [web] auth_dir, "
                        "else <data>/auth)")
    p.add_argument("--insecure", action="store_true",
                   help="with --web: serve beyond loopback without HTTPS (passwords in clear)")

    p = sub.add_parser("submit", help="send reports to intake")
    _common(p)
    _client(p)
    p.add_argument("--file", default=None, help="a JSON file (one report), a JSONL file (one per line), or - for stdin")
    for name in ("title", "summary", "platform", "url", "region", "unit-hint", "topic", "observed-at", "posted-at",
                 "media-level", "sentiment", "reporter", "incident-id"):
        p.add_argument(f"--{name}", default=None)
    for name in ("reposts", "comments", "likes", "views"):
        p.add_argument(f"--{name}", type=int, default=None)
    for name in ("cross-region", "emergency", "stability-risk"):
        p.add_argument(f"--{name}", action="store_true", default=None)
    p.add_argument("--evidence", action="append", default=None,
                   help="evidence: a file (kept in the evidence bucket, with its SHA-256), a link or a text; repeatable")

    p = sub.add_parser("ls", help="current incidents")
    _common(p)
    _client(p)
    p.add_argument("--all", action="store_true", help="include closed incidents")

    p = sub.add_parser("show", help="one incident with its timeline")
    _common(p)
    _client(p)
    p.add_argument("id")

    actor = {"default": _user(), "help": "who does it (default: your login name)"}
    ops = {
        "ack": ("acknowledge an incident (stops escalation)", []),
        "assign": ("change the owning unit", [("owner", {}), ("--reason", {"required": True})]),
        "regrade": ("set the grade by judgement (sticks until released)",
                    [("grade", {"choices": ("I", "II", "III", "IV", "release")}), ("--reason", {"required": True})]),
        "flag": ("mark the incident a rumour or illegal content (referred to the police where the plan says)",
                 [("kind", {"choices": ("rumour", "illegal")}), ("--reason", {"required": True})]),
        "unflag": ("take a rumour/illegal flag off the incident",
                   [("kind", {"choices": ("rumour", "illegal")}), ("--reason", {"required": True})]),
        "stage": ("move the incident's stage",
                  [("stage", {"choices": ("reported", "assessing", "handling", "following", "subsided")}),
                   ("--note", {"default": ""})]),
        "done": ("meet a clock (report_up and formal_reply need --note)", [("clock", {}), ("--note", {"default": ""})]),
        "extend": ("move a clock's due time (never past `final`)",
                   [("clock", {}), ("due", {"help": "new due time: ISO 8601 or 'YYYY-MM-DD HH:MM'"}),
                    ("--reason", {"required": True})]),
        "note": ("add a note", [("text", {})]),
        "close": ("close the incident", [("--summary", {"required": True})]),
    }
    for verb, (text, args) in ops.items():
        p = sub.add_parser(verb, help=text)
        _common(p)
        _client(p)
        p.add_argument("id")
        for name, kw in args:
            p.add_argument(name, **kw)
        p.add_argument("--actor", **actor)

    p = sub.add_parser("demo", help="feed a realistic scenario into a running system (once)")
    _common(p)
    _client(p, json_flag=False)
    p.add_argument("--speed", type=float, default=1.0, help="time factor (2 = twice as fast)")
    p.add_argument("--again", action="store_true",
                   help="feed it even though this system already has it (the reports merge into its incidents)")

    from watchboard.auth.cli import add_parsers

    add_parsers(sub)
    p = sub.add_parser("setup", help="admin: make or update the stream and the bucket (roles on)")
    _common(p)
    p.add_argument("--lang", choices=("zh", "en"), default=None)

    p = sub.add_parser("status", help="each service's instances: which is active, which stands by, which do "
                                      "not answer")
    _common(p)
    _client(p)

    p = sub.add_parser("check", help="check the config; with --cluster a cluster's node configs, with --live "
                                     "the running streams' replicas")
    _common(p)
    p.add_argument("--cluster", type=Path, default=None, metavar="DIR",
                   help="a folder of nats-server configs (*.conf), one per node, checked as one cluster")
    p.add_argument("--live", action="store_true",
                   help="also read the running system's streams and buckets (the admin's credentials)")

    p = sub.add_parser("webhook-sink", help="a local webhook receiver that prints the notices it gets")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--fail-first", type=int, default=0, help="answer the first N requests with HTTP 500 (to see retries)")

    p = sub.add_parser("profiles", help="the response-plan profiles: what each runs, and from which plan")
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--lang", choices=("zh", "en"), default=None, help="default: `language` of watchboard.toml")

    p = sub.add_parser("due", help="when is each clock due for a report that arrives at TIME?")
    p.add_argument("--grade", required=True)
    p.add_argument("--at", default=None, help="when the report arrives: ISO 8601, or 'YYYY-MM-DD HH:MM' in the "
                   "configured zone (default now)")
    p.add_argument("--posted", default=None, help="when the item appeared online (clocks 'from posted')")
    p.add_argument("--observed", default=None, help="when the monitor saw it (clocks 'from observed')")
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--profile", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--lang", choices=("zh", "en"), default=None, help="default: `language` of watchboard.toml")

    p = sub.add_parser("sweep", help="record a monitoring sweep of mainstream media")
    _common(p)
    _client(p)
    p.add_argument("--note", default="")
    p.add_argument("--actor", **actor)

    # Follow-through (issue 14): statement, evidence, task, meeting, supervise.
    from watchboard.cli_follow import add_parsers

    add_parsers(sub, _common, _client, actor)

    from watchboard.reports.command import add_arguments as report_arguments

    p = sub.add_parser("report", help="the office's reports, rebuilt from the event stream")
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    p = kinds.add_parser("daily", help="每日舆情汇报: the day's incidents, open items, clocks, breaches, slips")
    _common(p)
    p.add_argument("--date", default=None, help="YYYY-MM-DD, today or yesterday (default today)")
    report_arguments(p)
    p = kinds.add_parser("weekly", help="督查通报: each unit's clocks, reminder slips, units named")
    _common(p)
    p.add_argument("--week", default=None, help="ISO week, e.g. 2026-W47 (default the last complete week)")
    report_arguments(p)
    p = sub.add_parser("review", help="总结评估: one incident's timeline, clocks, people, notices")
    _common(p)
    p.add_argument("id")
    report_arguments(p, review=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from watchboard.logtime import configured_zone, set_up

    # Log lines in the configured zone: people read them (up's terminal, the services' logs).
    set_up(logging.DEBUG if args.verbose else logging.INFO,
           configured_zone(getattr(args, "config", None), getattr(args, "profile", None)))
    logging.getLogger("nats").setLevel(logging.CRITICAL)  # we report connection state ourselves
    if getattr(args, "nats", "x") is None:
        args.nats = env_nats_url(None)
    try:
        if hasattr(args, "creds"):
            args.credentials = credentials_of(args)
    except CredentialsError as exc:
        print(f"watchboard: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"watchboard: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `watchboard ls | head`: the reader left; not an error
        sys.stderr.close()
        return 0


def credentials_of(args: argparse.Namespace) -> Credentials | None:
    """--creds, else $WATCHBOARD_CREDS; a person's command on this machine falls back to the
    operator's credentials of `watchboard up` (`setup` to its admin's, a wall board to its
    wall's). A service never falls back: without credentials it runs with roles off."""
    explicit = resolve(args.creds, args.tls_ca)
    if explicit is not None or args.command == "serve":
        return explicit
    identity = "admin" if args.command in ("setup", "check") else "operator"
    if args.command == "board" and (args.wall or (args.web and not args.operator)):
        identity = "wall"  # a wall, or a browser's read-only board, reads with the wall's rights only
    found = default_creds(default_data_dir(), identity)
    return resolve(found, args.tls_ca) if found is not None else None


def _source(args: argparse.Namespace) -> ConfigSource:
    return ConfigSource(getattr(args, "config", None), getattr(args, "profile", None))


def _dispatch(args: argparse.Namespace) -> int:
    from watchboard import cli_ops

    command = args.command
    if command == "up":
        from watchboard.launcher import up

        return up(args)
    if command == "serve":
        return cli_ops.serve(args.service, args.nats, _source(args), args.data or default_data_dir() / args.service,
                             args.credentials, rebuild=args.rebuild, standby=args.standby,
                             instance=args.instance, metrics=args.metrics)
    if command == "auth":
        from watchboard.auth.cli import run

        return run(args)
    if command == "setup":
        from watchboard.auth.cli import setup

        return setup(args)
    if command == "board":
        return cli_ops.board(args, _source(args))
    if command == "check":
        return cli_ops.check(args, _source(args))
    if command == "webhook-sink":
        from watchboard.sink import run_sink

        return run_sink(args.host, args.port, args.fail_first)
    if command == "profiles":
        return cli_ops.profiles(_source(args), args.json, args.lang)
    if command == "due":
        return cli_ops.due(args, _source(args))
    if command in ("report", "review"):
        from watchboard.reports.command import run as run_report

        return asyncio.run(run_report(args, _source(args)))
    return asyncio.run(cli_ops.run_client_command(args, _source(args)))


if __name__ == "__main__":
    sys.exit(main())
