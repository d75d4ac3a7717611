"""A scripted week of events (2026-W47, Mon 16 – Sun 22 November 2026, Asia/Shanghai) whose
report figures are worked out by hand in the tests. Times are written in local time.

Incidents (units of the shipped units.toml):

  A  仲山镇中学食堂使用过期食材  Mon 09:00  II   zhongshan  report_up met on time, first_response
     breached 12:00 (slip 1) and met late 14:30, statement met on time; a city newspaper's
     mention Wed 10:00; notices, acknowledged by p-li 09:20; closed Sun 18:00.
  B  县道公交停运               Tue 10:00  IV   transport  first_response breached Tue 15:00;
     slips 1 Tue 15:00, 2 Wed 15:00, 3 Thu 15:00 (+ unit.flagged); met late Fri 10:00.
  C  城关镇某餐馆食品变质         Wed 09:30  III  market     first_response late on arrival Wed
     09:30, met late 11:00; flagged as a rumour Wed 14:00; closed Thu 16:00.
  D  河西镇学校补课收费           Wed 16:00  IV   education  first_response due Thu 10:00, met Thu 09:00.
  E  石桥乡河道污染               Sat 11:00  II   environment  report_up met on time Sat 14:00;
     statement breached Sun 11:00 (slip 1).
  F  县城某小学校服价格过高       Thu 12 Nov (before the week)  III  education  first_response met
     12 Nov; formal_reply due Wed 17:30 breached, slips Wed, Thu, Fri 17:30 (+ unit.flagged Fri).
  G  河西镇道路积水               Mon 2 Nov (before the look-back of 7 days)  IV  hexi
     formal_reply extended Tue 17 to Thu 19 17:30, met Thu 16:00; stage following Tue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watchboard.domain import events as ev
from watchboard.domain.report import Metrics

ZONE = ZoneInfo("Asia/Shanghai")
IDS = {k: f"01KTESTINCIDENT{k}0000000000"[:26] for k in "ABCDEFG"}


def t(day: int, hhmm: str, month: int = 11) -> datetime:
    h, m = hhmm.split(":")
    return datetime(2026, month, day, int(h), int(m), tzinfo=ZONE)


class Script:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.n = 0

    def _id(self) -> str:
        self.n += 1
        return f"TEV{self.n:05d}"

    def add(self, cls: type[ev.Event], key: str, at: datetime, actor: str, **fields: object) -> None:
        self.events.append(cls(id=self._id(), incident_id=IDS[key], at=at, actor=actor, **fields))  # type: ignore[arg-type]

    def report(self, key: str, at: datetime, title: str, platform: str, reposts: int = 0, *, actor: str = "monitor-01",
               media_level: str = "none", region: str | None = None) -> None:
        m = ev.Mention(platform=platform, title=title, metrics=Metrics(reposts=reposts, comments=reposts // 2),
                       media_level=media_level, region=region, url=f"https://example.org/{key}/{self.n}")
        self.add(ev.IncidentReported, key, at, actor, title=title, mention=m)

    def mention(self, key: str, at: datetime, title: str, platform: str, reposts: int, media_level: str) -> None:
        m = ev.Mention(platform=platform, title=title, metrics=Metrics(reposts=reposts, comments=3),
                       media_level=media_level, url=f"https://news.example.org/{key}")
        self.add(ev.MentionAdded, key, at, "monitor-02", mention=m)

    def grade(self, key: str, at: datetime, grade: str, previous: str | None = None) -> None:
        self.add(ev.IncidentGraded, key, at, "grading", grade=grade, previous=previous, reasons=[f"规则判定为{grade}"],
                 source="rules", reasons_en=[f"rules gave {grade}"])

    def assign(self, key: str, at: datetime, owner: str) -> None:
        self.add(ev.IncidentAssigned, key, at, "grading", owner=owner, previous=None, reason="rules", source="rules")

    def start(self, key: str, at: datetime, clock: str, due: datetime) -> None:
        self.add(ev.ClockStarted, key, at, "deadlines", clock=clock, due_at=due, basis="calendar", start_at=at,
                 counted_from="reported")

    def breach(self, key: str, at: datetime, clock: str, due: datetime, on_arrival: bool = False) -> None:
        self.add(ev.ClockBreached, key, at, "deadlines", clock=clock, due_at=due, on_arrival=on_arrival)

    def met(self, key: str, at: datetime, clock: str, due: datetime, actor: str, late: bool = False) -> None:
        self.add(ev.ClockMet, key, at, actor, clock=clock, note="已办", due_at=due, late=late)

    def slip(self, key: str, at: datetime, unit: str, clock: str, count: int) -> None:
        self.add(ev.UnitReminded, key, at, "deadlines", unit=unit, clock=clock, count=count)

    def named(self, key: str, at: datetime, unit: str, clock: str, count: int) -> None:
        self.add(ev.UnitFlagged, key, at, "deadlines", unit=unit, clock=clock, count=count)


def week() -> list[ev.Event]:
    """The events in stream order (by time)."""
    s = Script()
    # G — old (2 Nov): only its report, grade, owner and clocks are before the window.
    s.report("G", t(2, "10:00"), "河西镇道路积水", "forum", 5, region="河西镇")
    s.grade("G", t(2, "10:00"), "IV")
    s.assign("G", t(2, "10:00"), "hexi")
    s.start("G", t(2, "10:00"), "first_response", t(2, "15:00"))
    s.start("G", t(2, "10:00"), "formal_reply", t(9, "17:30"))
    s.met("G", t(2, "14:00"), "first_response", t(2, "15:00"), "p-wang")
    s.add(ev.ClockExtended, "G", t(6, "10:00"), "p-wang", clock="formal_reply", due_at=t(17, "17:30"),
          previous_due_at=t(9, "17:30"), reason="需协调多部门")
    # F — 12 Nov, before the week.
    s.report("F", t(12, "10:00"), "县城某小学校服价格过高", "wechat", 20)
    s.grade("F", t(12, "10:00"), "III")
    s.assign("F", t(12, "10:00"), "education")
    s.start("F", t(12, "10:00"), "first_response", t(12, "15:00"))
    s.start("F", t(12, "10:00"), "formal_reply", t(18, "17:30"))
    s.met("F", t(12, "11:00"), "first_response", t(12, "15:00"), "p-zhang")
    s.add(ev.StageChanged, "F", t(13, "09:00"), "p-zhang", stage="handling", previous="reported")
    # Monday 16: A.
    s.report("A", t(16, "09:00"), "仲山镇中学食堂使用过期食材", "weibo", 150, region="仲山镇")
    s.grade("A", t(16, "09:00"), "II")
    s.assign("A", t(16, "09:00"), "zhongshan")
    s.start("A", t(16, "09:00"), "report_up", t(16, "13:00"))
    s.start("A", t(16, "09:00"), "first_response", t(16, "12:00"))
    s.start("A", t(16, "09:00"), "statement", t(17, "09:00"))
    s.start("A", t(16, "09:00"), "formal_reply", t(23, "17:30"))
    s.start("A", t(16, "09:00"), "final", t(30, "17:30"))
    s.add(ev.NoticeSent, "A", t(16, "09:01"), "notify", to="g-leaders", channel="board", cause="incident.graded")
    s.add(ev.NoticeSent, "A", t(16, "09:01"), "notify", to="p-li", channel="board", cause="incident.graded")
    s.add(ev.IncidentAcknowledged, "A", t(16, "09:20"), "p-li", by="p-li", via="board")
    s.add(ev.StageChanged, "A", t(16, "10:00"), "p-wang", stage="handling", previous="reported", note="已联系学校")
    s.met("A", t(16, "10:30"), "report_up", t(16, "13:00"), "p-li")
    s.breach("A", t(16, "12:00"), "first_response", t(16, "12:00"))
    s.slip("A", t(16, "12:00"), "zhongshan", "first_response", 1)
    s.met("A", t(16, "14:30"), "first_response", t(16, "12:00"), "p-wang", late=True)
    s.met("A", t(16, "20:00"), "statement", t(17, "09:00"), "p-wang")
    # Tuesday 17: B; G moves.
    s.report("B", t(17, "10:00"), "县道公交停运", "kuaishou", 30)
    s.grade("B", t(17, "10:00"), "IV")
    s.assign("B", t(17, "10:00"), "transport")
    s.start("B", t(17, "10:00"), "first_response", t(17, "15:00"))
    s.start("B", t(17, "10:00"), "formal_reply", t(24, "17:30"))
    s.add(ev.StageChanged, "B", t(17, "11:00"), "p-wang", stage="assessing", previous="reported")
    s.add(ev.StageChanged, "G", t(17, "11:30"), "p-wang", stage="following", previous="reported")
    s.add(ev.ClockExtended, "G", t(17, "14:00"), "p-wang", clock="formal_reply", due_at=t(19, "17:30"),
          previous_due_at=t(17, "17:30"), reason="需协调多部门")
    s.breach("B", t(17, "15:00"), "first_response", t(17, "15:00"))
    s.slip("B", t(17, "15:00"), "transport", "first_response", 1)
    # Wednesday 18: C, D; A's newspaper mention; slips.
    s.report("C", t(18, "09:30"), "城关镇某餐馆食品变质", "weibo", 30, region="城关镇")
    s.grade("C", t(18, "09:30"), "III")
    s.assign("C", t(18, "09:30"), "market")
    s.start("C", t(18, "09:30"), "first_response", t(18, "08:00"))
    s.breach("C", t(18, "09:30"), "first_response", t(18, "08:00"), on_arrival=True)
    s.start("C", t(18, "09:30"), "formal_reply", t(25, "17:30"))
    s.mention("A", t(18, "10:00"), "市报：仲山镇中学食堂问题调查", "newspaper", 12, "city")
    s.met("C", t(18, "11:00"), "first_response", t(18, "08:00"), "p-zhao", late=True)
    s.add(ev.IncidentFlagged, "C", t(18, "14:00"), "p-li", kind="rumour", reason="经核实为谣言")
    s.slip("B", t(18, "15:00"), "transport", "first_response", 2)
    s.report("D", t(18, "16:00"), "河西镇学校补课收费", "douyin", 5, actor="monitor-02", region="河西镇")
    s.grade("D", t(18, "16:00"), "IV")
    s.assign("D", t(18, "16:00"), "education")
    s.start("D", t(18, "16:00"), "first_response", t(19, "10:00"))
    s.breach("F", t(18, "17:30"), "formal_reply", t(18, "17:30"))
    s.slip("F", t(18, "17:30"), "education", "formal_reply", 1)
    # Thursday 19.
    s.met("D", t(19, "09:00"), "first_response", t(19, "10:00"), "p-zhang")
    s.slip("B", t(19, "15:00"), "transport", "first_response", 3)
    s.named("B", t(19, "15:00"), "transport", "first_response", 3)
    s.add(ev.IncidentClosed, "C", t(19, "16:00"), "p-wang", summary="已澄清")
    s.add(ev.ClockCancelled, "C", t(19, "16:00"), "deadlines", clock="formal_reply", reason="incident closed")
    s.met("G", t(19, "16:00"), "formal_reply", t(19, "17:30"), "p-wang")
    s.slip("F", t(19, "17:30"), "education", "formal_reply", 2)
    # Friday 20.
    s.met("B", t(20, "10:00"), "first_response", t(17, "15:00"), "p-wang", late=True)
    s.slip("F", t(20, "17:30"), "education", "formal_reply", 3)
    s.named("F", t(20, "17:30"), "education", "formal_reply", 3)
    # Saturday 21: E.
    s.report("E", t(21, "11:00"), "石桥乡河道污染", "tv", 0, media_level="provincial", region="石桥乡")
    s.grade("E", t(21, "11:00"), "II")
    s.assign("E", t(21, "11:00"), "environment")
    s.start("E", t(21, "11:00"), "report_up", t(21, "15:00"))
    s.start("E", t(21, "11:00"), "statement", t(22, "11:00"))
    s.met("E", t(21, "14:00"), "report_up", t(21, "15:00"), "p-li")
    # Sunday 22.
    s.breach("E", t(22, "11:00"), "statement", t(22, "11:00"))
    s.slip("E", t(22, "11:00"), "environment", "statement", 1)
    s.add(ev.IncidentClosed, "A", t(22, "18:00"), "p-wang", summary="已妥善处置")
    s.add(ev.ClockCancelled, "A", t(22, "18:00"), "deadlines", clock="formal_reply", reason="incident closed")
    s.add(ev.ClockCancelled, "A", t(22, "18:00"), "deadlines", clock="final", reason="incident closed")
    return s.events


AFTER_WEEK = t(23, "09:00")


def later_event() -> ev.Event:
    """An event after the week (a grade of B raised on Monday 23): reports of the week ignore it."""
    return ev.IncidentGraded(id="TEVLATER01", incident_id=IDS["B"], at=AFTER_WEEK + timedelta(hours=1),
                             actor="p-li", grade="II", previous="IV", reasons=["人工研判"], source="person")
