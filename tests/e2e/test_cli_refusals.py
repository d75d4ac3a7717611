"""Real refusals through the `watchboard` command, in each language: the Chinese CLI prints
`错误（冲突）[kind]：该舆情已标记为谣言` — the code in words, the service's Chinese twin — and no
English word; the English CLI prints `error (conflict) [kind]: …` and no Chinese. Ids, field
names, codes in brackets, commands and quoted or configured data (people's and units' names,
the incident's title) aside: tests/language.py. UTC times inside messages come out in Beijing
time, to the minute, in both.

One system (intake, grading, deadlines, notify on a real NATS server), one incident brought to a
state where each command below is refused; then each refusal is asked for in Chinese and in
English.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

from nats.aio.client import Client

from tests.e2e.test_cli import cli
from tests.language import CJK, stray_chinese, stray_english
from tests.support import eventually, kv_get, running
from watchboard.bus.server import NatsServer
from watchboard.config import ConfigSource
from watchboard.services.deadlines.service import build as build_deadlines
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify

ROOT = Path(__file__).resolve().parents[2]
TITLE = "县道公交停运 学生上学难"
# What people type and the refusals echo: actors, an id that names nothing.
TYPED = ["张三", "王值班", "李值班", "01NOSUCHINCIDENT"]
ISO_UTC = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")
EXAMPLE = re.compile(r"`[^`\n]*`")  # an example of what to type (`2026-11-22T08:30:00+08:00`) is not a moment
WORDS = {"zh": {"invalid": "无效", "not_found": "未找到", "conflict": "冲突", "forbidden": "无权"}}

# (what is refused, the command after `watchboard`, its reply code; None: the CLI refuses it
# before asking anyone, in its own words, or sums up a file). ID is the incident, BIG an over-size
# evidence file, JSONL a file of bad reports.
CASES: list[tuple[str, tuple[str, ...], str | None]] = [
    ("negative count", ("submit", "--title", "x", "--platform", "weibo", "--reposts", "-3"), "invalid"),
    ("javascript url", ("submit", "--title", "x", "--platform", "weibo", "--url", "javascript:alert(1)"), "invalid"),
    ("unknown incident id", ("submit", "--title", "x", "--platform", "weibo",
                             "--incident-id", "01JD3X7K2M9Q4R5S6T7V8W9XY0"), "not_found"),
    ("seen in the future", ("submit", "--title", "x", "--platform", "weibo",
                            "--observed-at", "2099-01-01T08:00:00+08:00"), "invalid"),
    ("unknown platform", ("submit", "--title", "x", "--platform", "myspace"), "invalid"),
    ("close no incident", ("close", "01NOSUCHINCIDENT", "--summary", "已处置"), "not_found"),
    ("flag twice", ("flag", "ID", "rumour", "--reason", "再次标记"), "conflict"),
    ("unflag not flagged", ("unflag", "ID", "illegal", "--reason", "误标"), "conflict"),
    ("same stage", ("stage", "ID", "handling"), "conflict"),
    ("same grade", ("regrade", "ID", "II", "--reason", "维持"), "conflict"),
    ("unknown unit", ("assign", "ID", "mars", "--reason", "转办"), "invalid"),
    ("extend past final", ("extend", "ID", "formal_reply", "2099-01-01 10:00", "--reason", "等待调查"), "invalid"),
    ("extend a fixed clock", ("extend", "ID", "first_response", "2099-01-01 10:00", "--reason", "等待调查"),
     "conflict"),
    ("extend final", ("extend", "ID", "final", "2099-01-01 10:00", "--reason", "等待调查"), "conflict"),
    ("done statement clock", ("done", "ID", "statement", "--note", "已发布"), "conflict"),
    ("done unknown clock", ("done", "ID", "nosuch", "--note", "x"), "invalid"),
    ("ack twice", ("ack", "ID", "--actor", "王值班"), "conflict"),
    ("publish unapproved", ("statement", "publish", "ID", "--url", "https://weibo.com/gov/1",
                            "--channel", "官方微博", "--actor", "李值班"), "forbidden"),
    ("approve without the role", ("statement", "approve", "ID", "--actor", "李值班"), "forbidden"),
    ("task unknown unit", ("task", "add", "ID", "--unit", "mars", "--text", "核实", "--due", "2wd"), "invalid"),
    ("task bad due", ("task", "add", "ID", "--unit", "health", "--text", "核实", "--due", "yesterday"), "invalid"),
    ("feedback unknown task", ("task", "feedback", "T0000000000000000", "--text", "已办"), "not_found"),
    ("meeting unknown incident", ("meeting", "add", "--kind", "会商", "--incidents", "01NOSUCHINCIDENT"),
     "not_found"),
    ("evidence too big", ("evidence", "add", "ID", "BIG"), "invalid"),
    ("show no incident", ("show", "01NOSUCHINCIDENT"), "not_found"),
    ("note too long", ("note", "ID", "长" * 3000), "invalid"),
    ("bad lines of a file", ("submit", "--file", "JSONL"), None),  # each line's refusal, by line number
    ("close without summary", ("close", "ID", "--summary", "  "), None),
    ("meet report_up without a note", ("done", "ID", "report_up"), None),
]


def config(tmp_path: Path) -> Path:
    """notify with the local-webhook example (its ack server on a free port), evidence files of
    at most 4 KiB."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "notify.toml").write_text(
        (ROOT / "examples" / "local-webhook" / "notify.toml").read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'), encoding="utf-8")
    (folder / "intake.toml").write_text("[evidence]\nmax_bytes = 4096\n", encoding="utf-8")
    return folder


def configured_data(folder: Path) -> list[str]:
    """Names people configured (notify.toml's people, units.toml's units) and typed (the
    title): data, shown as it is in either language. Longest first, so a name inside another goes last."""
    people = tomllib.loads((folder / "notify.toml").read_text(encoding="utf-8"))["people"]
    units = tomllib.loads((ROOT / "config" / "units.toml").read_text(encoding="utf-8"))["units"]
    names = [p["name"] for p in people] + [u["name"] for u in units] + [TITLE, *TYPED]
    return sorted(set(names), key=len, reverse=True)


def without(text: str, data: list[str]) -> str:
    for value in data:
        text = text.replace(value, " ")
    return text


async def test_refusals_in_each_language(nats_server: NatsServer, nc: Client, tmp_path: Path) -> None:
    url = nats_server.url
    folder = config(tmp_path)
    source = ConfigSource(folder)
    base = ("--nats", url, "--config", str(folder))
    big = tmp_path / "clip.mp4"
    big.write_bytes(bytes(5000))
    jsonl = tmp_path / "reports.jsonl"
    jsonl.write_text('{"title": "", "platform": "weibo"}\nnot json\n{"title": "x", "platform": "weibo", '
                     '"observed_at": "2026-11-22T08:30:00"}\n', encoding="utf-8")
    files = {"ID": "", "BIG": str(big), "JSONL": str(jsonl)}
    data = configured_data(folder)
    async with running(build_intake(source), url, tmp_path / "intake", source=source), \
            running(build_grading(source), url, tmp_path / "grading", source=source), \
            running(build_deadlines(source), url, tmp_path / "deadlines", source=source), \
            running(build_notify(source), url, tmp_path / "notify", source=source):
        code, out, err = await cli("submit", *base, "--title", TITLE, "--platform", "kuaishou", "--region", "石桥乡",
                                   "--topic", "transport", "--reposts", "20")
        assert code == 0, err
        incident = out.strip()
        # The state each refusal meets: flagged a rumour, handling, grade II set by a person
        # (so its clocks, `final` among them, run), acknowledged, a statement drafted.
        for step in (("flag", incident, "rumour", "--reason", "经核实为谣言", "--actor", "王值班"),
                     ("stage", incident, "handling", "--actor", "王值班")):
            code, _, err = await cli(*step, *base)
            assert code == 0, err

        async def graded() -> dict | None:
            value = await kv_get(nc, f"{incident}.grade")
            return value if value else None

        await eventually(graded, timeout=20, what="graded")
        code, _, err = await cli("regrade", incident, "II", "--reason", "转发上升", "--actor", "王值班", *base)
        assert code == 0, err

        async def grade_two_clocks() -> dict | None:
            value = await kv_get(nc, f"{incident}.clocks")
            names = {c["name"] for c in value["clocks"] if c["status"] == "running"} if value else set()
            return value if {"report_up", "final"} <= names else None

        async def notified() -> dict | None:
            return await kv_get(nc, f"{incident}.notices") or None

        await eventually(grade_two_clocks, timeout=20, what="grade II clocks")
        await eventually(notified, timeout=20, what="notify knows the incident")
        draft = tmp_path / "statement.txt"
        draft.write_text("关于县道公交停运的情况说明", encoding="utf-8")
        for step in (("ack", incident, "--actor", "张三"),
                     ("statement", "draft", incident, "--file", str(draft), "--actor", "李值班")):
            code, _, err = await cli(*step, *base)
            assert code == 0, err

        slots = asyncio.Semaphore(4)

        async def ask(args: tuple[str, ...], lang: str) -> tuple[int, str]:
            real = tuple((files[a] or incident) if a in files else a for a in args)
            async with slots:
                code, out, err = await cli(*real, *base, "--lang", lang)
            return code, err + out

        langs = ("zh", "en")
        answers = await asyncio.gather(*(ask(args, lang) for _, args, _ in CASES for lang in langs))
    problems: list[str] = []
    for n, (name, _args, reply_code) in enumerate(CASES):
        for k, lang in enumerate(langs):
            code, text = answers[2 * n + k]
            said = f"{name} ({lang}): {text.strip()!r}"
            if code == 0:
                problems.append(f"{said}: accepted")
                continue
            if reply_code is not None:
                head = f"错误（{WORDS['zh'][reply_code]}）" if lang == "zh" else f"error ({reply_code})"
                if not text.startswith(head):
                    problems.append(f"{said}: does not start with {head}")
            words = without(text, data)
            if lang == "zh" and (stray := stray_english(words)):
                problems.append(f"{said}: English words {stray}")
            if lang == "zh" and len(CJK.findall(text)) < 2:
                problems.append(f"{said}: hardly any Chinese")
            if lang == "en" and (stray := stray_chinese(words)):
                problems.append(f"{said}: Chinese {stray}")
            if ISO_UTC.search(EXAMPLE.sub(" ", text)):
                problems.append(f"{said}: a time as ISO 8601, not in Beijing time")
    assert problems == [], "\n".join(problems)


def test_the_language_check_is_not_blind() -> None:
    """What the table above relies on: a Chinese line with an English message fails, an
    English line with a Chinese message fails, the right ones pass."""
    assert stray_english("错误（冲突）[kind]：the incident is already flagged rumour")
    assert stray_chinese("error (conflict) [kind]: 该舆情已标记为谣言")
    assert stray_english("错误（冲突）[kind]：该舆情已标记为谣言") == []
    assert stray_chinese("error (conflict) [kind]: the incident is already flagged rumour") == []
    assert ISO_UTC.search("晚于最终时限 2026-12-11T09:30:00+00:00")
    assert not ISO_UTC.search("晚于最终时限 2026-12-11 17:30")
    assert not ISO_UTC.search(EXAMPLE.sub(" ", "如 `2026-11-22T08:30:00+08:00`"))
