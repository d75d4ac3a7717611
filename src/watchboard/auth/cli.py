"""`watchboard auth init|add-person|revoke|list` and `watchboard setup`, as people type them.

Words in the reader's language (`--lang`, else watchboard.toml's); paths and keys as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from watchboard.auth.folder import AuthError, AuthFolder
from watchboard.auth.registry import RegistryError
from watchboard.auth.roles import PERSON_ROLES

WORDS: dict[str, dict[str, str]] = {
    "init": {
        "zh": "已写入认证目录 {dir}：服务 4 个、admin、人员 {people}（{tls}）。\n"
              "nats-server 配置中加入：include \"{rel}\"（相对该配置文件所在目录），然后重载服务器。\n"
              "每个服务带上自己的凭据：watchboard serve intake --creds {dir}/intake.nk（identities.json 放在凭据旁）。",
        "en": "wrote the auth folder {dir}: 4 services, admin, people {people} ({tls}).\n"
              "Add to nats-server.conf: include \"{rel}\" (relative to that file's folder), then reload the server.\n"
              "Each service runs with its own credentials: watchboard serve intake --creds {dir}/intake.nk "
              "(with identities.json beside them).",
    },
    "tls.on": {"zh": "含 TLS：ca.crt、server.crt 及每个身份的证书", "en": "with TLS: ca.crt, server.crt and a certificate per identity"},
    "tls.off": {"zh": "未启用 TLS：仅限本机回环", "en": "without TLS: for loopback only"},
    "added": {"zh": "已添加 {name}（{role}）：凭据 {creds}，公钥 {nkey}", "en": "added {name} ({role}): credentials {creds}, key {nkey}"},
    "revoked": {"zh": "已吊销 {name}（{role}）的凭据；记录中仍以此名显示其既往操作",
                "en": "revoked {name}'s credentials ({role}); the record keeps naming them for what they did"},
    "reloaded": {"zh": "运行中的 nats-server（pid {pid}）已重载配置，立即生效", "en": "the running nats-server (pid {pid}) reloaded its config: in force now"},
    "reload_yourself": {"zh": "请让 nats-server 重载配置后生效：systemctl reload nats-server，或 nats-server --signal reload",
                        "en": "takes effect once nats-server reloads: systemctl reload nats-server, or nats-server --signal reload"},
    "password_set": {"zh": "已设置 {name} 的网页看板登录密码（argon2id 哈希存于 {file}）",
                     "en": "set {name}'s web board password (an argon2id hash in {file})"},
    "password_prompt": {"zh": "{name} 的新密码：", "en": "new password for {name}: "},
    "password_again": {"zh": "再输入一次：", "en": "again: "},
    "password_differ": {"zh": "两次输入的密码不同，未做更改", "en": "the two passwords differ; nothing changed"},
    "copy": {"zh": "把 {registry} 复制到各服务主机（凭据旁），服务即可认出此人。",
             "en": "copy {registry} to each service's host (beside its credentials) so the services know this person."},
    "refused.credentials": {"zh": "{url} 的 NATS 服务器拒绝了凭据（未提供、未知或已吊销的密钥）：用 --creds 文件或 $WATCHBOARD_CREDS 给出本人的凭据",
                            "en": "NATS at {url} refused the credentials (none, or an unknown or revoked key): give "
                                  "your credentials with --creds FILE or $WATCHBOARD_CREDS"},
    "refused.tls": {"zh": "{url} 的 NATS 服务器要求 TLS 及本站 CA 签发的证书：把 ca.crt 和本身份的 .crt/.key 放在凭据旁，或用 --tls-ca 指定",
                    "en": "NATS at {url} needs TLS with certificates of the site's CA: put ca.crt and this "
                          "identity's .crt/.key beside the credentials, or give --tls-ca"},
    "refused.reset": {"zh": "{url} 的 NATS 服务器在登录时断开了连接：凭据（--creds）或证书（--tls-ca、凭据旁的 .crt）被拒绝",
                      "en": "NATS at {url} closed the connection as we logged in: it refused the credentials "
                            "(--creds) or the certificate (--tls-ca, the .crt beside the credentials)"},
    "not_permitted": {"zh": "错误（forbidden）：NATS 服务器拒绝为此身份发送 {subject}：其角色无此权限",
                      "en": "error (forbidden): the NATS server refused to carry {subject} for this identity: "
                            "its role may not send it"},
    "setup": {"zh": "流 WATCHBOARD、存储桶 wb-board 与证据库 wb-evidence 已就绪（{url}）",
              "en": "stream WATCHBOARD, bucket wb-board and evidence bucket wb-evidence are ready ({url})"},
}


def words(key: str, lang: str, **fields: object) -> str:
    return WORDS[key]["en" if lang == "en" else "zh"].format(**fields)


def default_dir() -> Path:
    from watchboard.cli import default_data_dir

    return default_data_dir() / "auth"


def _lang(args: argparse.Namespace) -> str:
    if getattr(args, "lang", None):
        return str(args.lang)
    try:
        from watchboard.config import ConfigSource, load_watchboard

        return load_watchboard(ConfigSource(getattr(args, "config", None), None)).language
    except Exception:  # the auth commands work without a readable config
        return "zh"


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("auth", help="identities and roles: the NATS server's accounts, nkeys and TLS")
    auth = p.add_subparsers(dest="auth_command", metavar="ACTION")
    auth.required = True

    q = auth.add_parser("init", help="make every identity, the server's include file and (with --tls) certificates")
    q.add_argument("--out", type=Path, required=True, help="the auth folder to write (must not hold one)")
    q.add_argument("--operator", default=None, help="the name the built-in operator is recorded under "
                   "(default: your login name)")
    q.add_argument("--tls", action="store_true", help="also make a CA, the server's and every client's certificate")
    q.add_argument("--host", action="append", default=None,
                   help="with --tls: a name or address the server is reached by (repeatable; default 127.0.0.1, localhost)")
    q.add_argument("--tls-dir", default=None, help="with --tls: where the server's host keeps server.crt, "
                   "server.key and ca.crt (default: --out)")
    q.add_argument("--web-host", action="append", default=None,
                   help="with --tls: a name or address the web board and notify's acknowledgement link are "
                        "reached by, for web.crt (repeatable; default: the --host values)")
    q.add_argument("--config", type=Path, default=None, help="config folder (for the subject prefix)")
    q.add_argument("--lang", choices=("zh", "en"), default=None)

    for verb, text in (("add-person", "issue a person's credentials"), ("revoke", "revoke a person's credentials")):
        q = auth.add_parser(verb, help=text)
        q.add_argument("name")
        if verb == "add-person":
            q.add_argument("--role", required=True, choices=PERSON_ROLES)
        q.add_argument("--dir", type=Path, default=None, help="the auth folder (default: <data>/auth of `watchboard up`)")
        q.add_argument("--pid-file", type=Path, default=None,
                       help="the running nats-server's pid file, to reload it (default: the one of `watchboard up`)")
        q.add_argument("--lang", choices=("zh", "en"), default=None)

    q = auth.add_parser("set-password", help="set a person's password for the web board's login")
    q.add_argument("name")
    q.add_argument("--dir", type=Path, default=None, help="the auth folder (default: <data>/auth of `watchboard up`)")
    q.add_argument("--lang", choices=("zh", "en"), default=None)

    q = auth.add_parser("list", help="the people of an auth folder")
    q.add_argument("--dir", type=Path, default=None)
    q.add_argument("--lang", choices=("zh", "en"), default=None)


def run(args: argparse.Namespace) -> int:
    lang = _lang(args)
    try:
        if args.auth_command == "init":
            return _init(args, lang)
        folder = AuthFolder((args.dir or default_dir()).resolve())
        if args.auth_command == "set-password":
            password = _read_password(args.name, lang)
            if password is None:
                print(words("password_differ", lang), file=sys.stderr)
                return 2
            folder.set_password(args.name, password)
            print(words("password_set", lang, name=args.name, file=folder.passwords_path))
            return 0
        if args.auth_command == "list":
            for p in folder.registry().people:
                state = f"  revoked {p.revoked_at}" if p.revoked_at else ""
                print(f"{p.name}\t{p.role}\t{p.nkey}\t{p.creds}{state}")
            return 0
        if args.auth_command == "add-person":
            person = folder.add_person(args.name, args.role)
            print(words("added", lang, name=person.name, role=person.role, creds=folder.path / person.creds,
                        nkey=person.nkey))
        else:
            person = folder.revoke(args.name)
            print(words("revoked", lang, name=person.name, role=person.role))
        print(reload_server(args.pid_file or folder.path.parent / "nats" / "nats-server.pid", lang,
                            explicit=args.pid_file is not None))
        print(words("copy", lang, registry=folder.registry_path))
        return 0
    except (AuthError, RegistryError) as exc:
        print(f"watchboard auth: {exc}", file=sys.stderr)
        return 2


def _init(args: argparse.Namespace, lang: str) -> int:
    from watchboard.config import ConfigSource, load_watchboard

    prefix = load_watchboard(ConfigSource(args.config, None)).subject_prefix
    folder = AuthFolder(args.out.resolve())
    registry = folder.init(prefix=prefix, operator=args.operator, tls=args.tls, hosts=args.host,
                           tls_dir=args.tls_dir, web_hosts=args.web_host)
    print(words("init", lang, dir=folder.path, people=", ".join(p.name for p in registry.people),
                tls=words("tls.on" if args.tls else "tls.off", lang), rel=folder.conf.name))
    return 0


def _read_password(name: str, lang: str) -> str | None:
    """Asked twice on a terminal (not echoed); one line of stdin otherwise (scripts, tests).
    None when the two differ."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(words("password_prompt", lang, name=name))
    return first if getpass.getpass(words("password_again", lang)) == first else None


def reload_server(pid_file: Path, lang: str, *, explicit: bool = False) -> str:
    """SIGHUP to the server of `pid_file` (nats-server reads its config again); else what to do."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        if explicit:
            return f"{pid_file}: {exc}; " + words("reload_yourself", lang)
        return words("reload_yourself", lang)
    return words("reloaded", lang, pid=pid)


def setup(args: argparse.Namespace) -> int:
    """`watchboard setup`: the admin makes (or brings in line) the stream and the bucket."""
    from watchboard.bus.connection import connect
    from watchboard.bus.jetstream import PUBLISH_TIMEOUT
    from watchboard.bus.jetstream import setup as make
    from watchboard.config import ConfigSource, load_watchboard

    wb = load_watchboard(ConfigSource(args.config, getattr(args, "profile", None)))

    async def main() -> None:
        nc = await connect(args.nats, "watchboard-setup", retry_for=10, creds=args.credentials)
        try:
            await make(nc.jetstream(timeout=PUBLISH_TIMEOUT), wb)
        finally:
            await nc.close()

    from watchboard.bus.errors import BusError

    try:
        asyncio.run(main())
    except (ConnectionError, BusError) as exc:
        print(f"watchboard setup: {exc}", file=sys.stderr)
        return 3
    print(words("setup", _lang(args), url=args.nats))
    return 0
