"""When the scheduled reports are due (services/notify/schedule.py), their keys, the notices that
carry them, `[reports]` refused by key, and the e-mail that carries the Word file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.services.notify.channels.email import build_email
from watchboard.services.notify.model import Context
from watchboard.services.notify.routing import Recipient
from watchboard.services.notify.schedule import Made, due_jobs, link_of, report_notices
from watchboard.services.notify.settings import Contact, Reports, Smtp, load_notify

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hhmm: str, month: int = 11) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2026, month, day, int(h), int(m), tzinfo=SH)


@pytest.mark.parametrize(("now", "expected"), [
    (at(18, "16:59"), []),  # Wednesday before 17:00: yesterday's was 24 h ago, past catch_up
    (at(18, "17:00"), [("report:daily:2026-11-18", at(18, "17:00"))]),
    (at(18, "22:59"), [("report:daily:2026-11-18", at(18, "17:00"))]),  # late, within 6 h
    (at(18, "23:00"), []),  # 6 h after: left to `watchboard report`
    (at(19, "08:00"), []),
    (at(23, "09:00"), [("report:weekly:2026-W47", at(23, "09:00"))]),  # Monday: last week's circular
    (at(23, "14:59"), [("report:weekly:2026-W47", at(23, "09:00"))]),
    (at(23, "17:30"), [("report:daily:2026-11-23", at(23, "17:00"))]),
])
def test_due_jobs(now: datetime, expected: list[tuple[str, datetime]]) -> None:
    got = [(j.key, j.scheduled_at) for j in due_jobs(now, Reports(), SH)]
    assert got == expected


def test_new_year_monday_covers_the_last_iso_week_of_the_old_year() -> None:
    """Monday 4 January 2027, 09:00: the circular covers 2026-W53 (28 Dec – 3 Jan)."""
    [job] = due_jobs(datetime(2027, 1, 4, 9, 5, tzinfo=SH), Reports(), SH)
    assert job.key == "report:weekly:2026-W53" and job.week() == (2026, 53)


@pytest.mark.parametrize(("cfg", "now", "keys"), [
    (Reports(daily="", weekly=""), at(18, "17:00"), []),  # both off
    (Reports(daily="08:30", weekly=""), at(18, "08:31"), ["report:daily:2026-11-18"]),
    (Reports(daily="", weekly="fri 17:30"), at(20, "17:31"), ["report:weekly:2026-W46"]),
    (Reports(daily="17:00", catch_up="30m"), at(18, "17:31"), []),
])
def test_due_jobs_follow_the_config(cfg: Reports, now: datetime, keys: list[str]) -> None:
    assert [j.key for j in due_jobs(now, cfg, SH)] == keys


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("daily", '"5pm"', "is not a time like '17:00'"),
    ("weekly", '"monday 9:00"', "is not a weekday and time like 'mon 09:00'"),
    ("catch_up", '"soon"', "is not a duration"),
    ("lookback_days", "0", "out of range; 1 to 366"),
    ("base_url", '"ftp://x"', "is not an http:// or https:// url"),
])
def test_reports_config_is_refused_by_key(tmp_path: Path, key: str, value: str, problem: str) -> None:
    from watchboard.config import defaults_dir

    text = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith(f"{key} = ") and "[reports]" in text.split(x)[0][-800:])
    (tmp_path / "notify.toml").write_text(text.replace(line, f"{key} = {value}"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_notify(ConfigSource(tmp_path))
    assert f"reports.{key}" in str(caught.value) and problem in str(caught.value)


def test_notices_carry_the_file_to_email_and_the_link_elsewhere(tmp_path: Path) -> None:
    """One notice per contact, keyed by the report's key (a second run queues nothing new), in
    the person's language; e-mail attaches the file, a robot and the board get summary and link."""
    from watchboard.services.notify.schedule import Job

    cfg = load_notify()
    person = next(p for p in cfg.people if p.id == "g-leaders")
    person.contacts.append(Contact(channel="email", address="leaders@example.gov.cn"))
    ctx = Context(cfg)
    job = Job("daily", "2026-11-18", at(18, "17:00"))
    path = tmp_path / "每日舆情汇报-2026-11-18.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    made = {"zh": Made("zh", "关于2026年11月18日网络舆情情况的汇报", "2026年11月18日", "现将…汇报如下：新增网络舆情2起。", path)}
    notices = report_notices(ctx, job, [Recipient("g-leaders", ("leader_group",))], made, at(18, "17:00"))
    assert [(n.contact, n.attachments) for n in notices] == [("board", []), ("email", [str(path)])]
    assert {n.key for n in notices} == {n.key for n in report_notices(ctx, job, [Recipient("g-leaders", ())], made,
                                                                       at(18, "17:05"))}
    board, mail = notices
    assert board.cause == "report.daily" and board.incident_id == "_"
    assert board.values["link"] == str(path) and board.values["period"] == "2026年11月18日"
    built = build_email(mail, Contact(channel="email", address="leaders@example.gov.cn"), Smtp())
    assert built["Subject"] == "【每日舆情汇报】2026年11月18日"
    [attached] = list(built.iter_attachments())
    assert attached.get_filename() == path.name and attached.get_content() == path.read_bytes()
    assert "新增网络舆情2起" in built.get_body(("plain",)).get_content()


def test_a_missing_file_is_a_message_that_cannot_be_built(tmp_path: Path) -> None:
    from watchboard.services.notify.templates import Outgoing

    message = Outgoing(key="K", incident_id="_", event_id="report:daily:x", cause="report.daily", person_id="p",
                       person_name="P", contact="email", subject="s", body="b",
                       attachments=[str(tmp_path / "gone.docx")])
    with pytest.raises(ValueError, match=r"gone\.docx cannot be read"):
        build_email(message, Contact(channel="email", address="p@example.org"), Smtp())


def test_link_is_the_served_url_or_the_path() -> None:
    path = Path("/var/lib/watchboard/notify/reports/督查通报-2026-W47.docx")
    assert link_of(path, "") == str(path)
    assert link_of(path, "https://duty.example.gov.cn/reports/") == \
        "https://duty.example.gov.cn/reports/%E7%9D%A3%E6%9F%A5%E9%80%9A%E6%8A%A5-2026-W47.docx"


@pytest.mark.parametrize(("service", "subject", "may"), [
    ("notify", "wb.ev.notify._.report.dispatched", True),  # the claim
    ("notify", "$JS.API.DIRECT.GET.WATCHBOARD", True),  # the replay and the claims read back
    ("notify", "$KV.wb-board.sys.notices", True),  # the board's line
    ("deadlines", "$KV.wb-board.sys.notices", False),
    ("notify", "$JS.API.CONSUMER.CREATE.WATCHBOARD", False),  # no consumer needed for a report
])
def test_roles_on_notify_may_do_what_the_scheduled_reports_need(service: str, subject: str, may: bool) -> None:
    from tests.unit.test_auth_roles import S, allowed
    from watchboard.auth import roles

    assert allowed(subject, roles.service_permissions(service, S)["publish"]["allow"]) is may
