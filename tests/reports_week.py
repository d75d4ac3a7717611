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

The follow-through (issue 14), in the same week:

  A  evidence 现场截图.png (1,258,291 bytes) Mon 09:10 and 原帖网页.mhtml (348,160) Mon 09:12;
     a 会商 Mon 10:30 hands out A1 (market, 2wd → Wed 17:30: fed back Tue 16:00, on time) and
     A2 (education, 1wd → Tue 17:30: breached Tue 17:30, slip 1, fed back Wed 10:00, late);
     statement v1 Mon 11:00 sent back by p-chen 12:00, v2 Mon 15:00 approved 16:00, published
     Mon 20:00 on 官方微博 (which meets the statement clock); supervised Mon 14:00, Tue 10:00,
     Thu 09:30 — none on Wednesday.
  B  task B1 (transport, 县委书记批示, 2wd) Wed 09:00 → Fri 17:30: breached, slip 1, open at the
     week's end; statement v1 drafted Wed 11:00, never approved.
  C  evidence 餐馆后厨照片.jpg (204,800) Wed 09:40; task C1 (market, 1wd) Wed 10:00 → Thu 17:30,
     cancelled when C closed Thu 16:00.
  E  evidence 河道视频.mp4 (52,428,800) Sat 11:30; task E1 (environment, 2wd) Sat 12:00 → Tue 24
     17:30, open.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from watchboard.domain import events as ev
from watchboard.domain.report import Metrics

ZONE = ZoneInfo("Asia/Shanghai")
IDS = {k: f"01KTESTINCIDENT{k}0000000000"[:26] for k in "ABCDEFG"}
TASKS = {k: f"TTESTTASK{k}0000000"[:17] for k in ("A1", "A2", "B1", "C1", "E1")}
MEETING = "MTESTMEETINGA0001"
DIGESTS = {name: hashlib.sha256(name.encode()).hexdigest()
           for name in ("现场截图.png", "原帖网页.mhtml", "餐馆后厨照片.jpg", "河道视频.mp4", "A1", "A2", "B1")}


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

    # --- follow-through (issue 14) ---

    def evidence(self, key: str, at: datetime, name: str, size: int, actor: str = "monitor-01") -> None:
        self.add(ev.EvidenceAdded, key, at, actor, name=name, sha256=DIGESTS[name], size=size,
                 media_type="application/octet-stream", object=DIGESTS[name])

    def statement(self, key: str, at: datetime, action: str, version: int, actor: str, **fields: object) -> None:
        digest = DIGESTS["A2" if version == 2 else "A1"] if key == "A" else DIGESTS["B1"]
        cls = {"drafted": ev.StatementDrafted, "approved": ev.StatementApproved, "rejected": ev.StatementRejected,
               "published": ev.StatementPublished}[action]
        extra: dict[str, object] = {"text": f"通稿第{version}稿"} if action == "drafted" else {}
        self.add(cls, key, at, actor, version=version, sha256=digest, **extra, **fields)

    def task(self, key: str, at: datetime, task: str, unit: str, text: str, due: datetime, *, actor: str = "p-li",
             period: str = "2wd", source: str = "", meeting: str = "") -> None:
        self.add(ev.TaskAdded, key, at, actor, task_id=TASKS[task], unit=unit, text=text, due=period, due_at=due,
                 basis="working", source=source, meeting_id=meeting)
        self.add(ev.ClockStarted, key, at, "deadlines", clock=f"task:{TASKS[task]}", due_at=due, basis="working",
                 start_at=at, unit=unit)

    def fed_back(self, key: str, at: datetime, task: str, unit: str, text: str, actor: str, due: datetime) -> None:
        self.add(ev.TaskFedBack, key, at, actor, task_id=TASKS[task], unit=unit, text=text)
        self.add(ev.ClockMet, key, at, actor, clock=f"task:{TASKS[task]}", note=text, due_at=due, late=at > due)

    def task_breach(self, key: str, at: datetime, task: str, unit: str) -> None:
        self.add(ev.ClockBreached, key, at, "deadlines", clock=f"task:{TASKS[task]}", due_at=at, unit=unit)
        self.add(ev.UnitReminded, key, at, "deadlines", unit=unit, clock=f"task:{TASKS[task]}", count=1)

    def supervise(self, key: str, at: datetime, note: str) -> None:
        self.add(ev.IncidentSupervised, key, at, "p-li", note=note)


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
    s.evidence("A", t(16, "09:10"), "现场截图.png", 1_258_291)
    s.evidence("A", t(16, "09:12"), "原帖网页.mhtml", 348_160)
    s.add(ev.IncidentAcknowledged, "A", t(16, "09:20"), "p-li", by="p-li", via="board")
    s.add(ev.StageChanged, "A", t(16, "10:00"), "p-wang", stage="handling", previous="reported", note="已联系学校")
    s.met("A", t(16, "10:30"), "report_up", t(16, "13:00"), "p-li")
    s.add(ev.MeetingHeld, "A", t(16, "10:30"), "p-li", meeting_id=MEETING, kind="会商", incidents=[IDS["A"]],
          attendees=["王主任", "赵科长"], minutes="研判后交办两项任务", held_at=t(16, "10:30"),
          tasks=[TASKS["A1"], TASKS["A2"]])
    s.task("A", t(16, "10:30"), "A1", "market", "封存涉事批次食材并送检", t(18, "17:30"), meeting=MEETING)
    s.task("A", t(16, "10:30"), "A2", "education", "约谈学校负责人", t(17, "17:30"), period="1wd", meeting=MEETING)
    s.statement("A", t(16, "11:00"), "drafted", 1, "p-wang")
    s.breach("A", t(16, "12:00"), "first_response", t(16, "12:00"))
    s.slip("A", t(16, "12:00"), "zhongshan", "first_response", 1)
    s.statement("A", t(16, "12:00"), "rejected", 1, "p-chen", reason="请补充检测结果", person="p-chen", role="approver")
    s.supervise("A", t(16, "14:00"), "电话督办仲山镇：食材已封存")
    s.met("A", t(16, "14:30"), "first_response", t(16, "12:00"), "p-wang", late=True)
    s.statement("A", t(16, "15:00"), "drafted", 2, "p-wang")
    s.statement("A", t(16, "16:00"), "approved", 2, "p-chen", person="p-chen", role="approver")
    s.statement("A", t(16, "20:00"), "published", 2, "p-wang", url="https://weibo.com/zhongshan/1", channel="官方微博")
    s.met("A", t(16, "20:00"), "statement", t(17, "09:00"), "p-wang")
    # Tuesday 17: B; G moves.
    s.report("B", t(17, "10:00"), "县道公交停运", "kuaishou", 30)
    s.grade("B", t(17, "10:00"), "IV")
    s.assign("B", t(17, "10:00"), "transport")
    s.start("B", t(17, "10:00"), "first_response", t(17, "15:00"))
    s.start("B", t(17, "10:00"), "formal_reply", t(24, "17:30"))
    s.supervise("A", t(17, "10:00"), "督办：检测进行中")
    s.add(ev.StageChanged, "B", t(17, "11:00"), "p-wang", stage="assessing", previous="reported")
    s.add(ev.StageChanged, "G", t(17, "11:30"), "p-wang", stage="following", previous="reported")
    s.add(ev.ClockExtended, "G", t(17, "14:00"), "p-wang", clock="formal_reply", due_at=t(19, "17:30"),
          previous_due_at=t(17, "17:30"), reason="需协调多部门")
    s.breach("B", t(17, "15:00"), "first_response", t(17, "15:00"))
    s.slip("B", t(17, "15:00"), "transport", "first_response", 1)
    s.fed_back("A", t(17, "16:00"), "A1", "market", "已封存并送检", "liaison-market", t(18, "17:30"))
    s.task_breach("A", t(17, "17:30"), "A2", "education")
    # Wednesday 18, before C: B's task from the county secretary's instruction.
    s.task("B", t(18, "09:00"), "B1", "transport", "书面说明停运原因并提出恢复方案", t(20, "17:30"), source="县委书记批示")
    # Wednesday 18: C, D; A's newspaper mention; slips.
    s.report("C", t(18, "09:30"), "城关镇某餐馆食品变质", "weibo", 30, region="城关镇")
    s.grade("C", t(18, "09:30"), "III")
    s.assign("C", t(18, "09:30"), "market")
    s.start("C", t(18, "09:30"), "first_response", t(18, "08:00"))
    s.breach("C", t(18, "09:30"), "first_response", t(18, "08:00"), on_arrival=True)
    s.start("C", t(18, "09:30"), "formal_reply", t(25, "17:30"))
    s.evidence("C", t(18, "09:40"), "餐馆后厨照片.jpg", 204_800)
    s.mention("A", t(18, "10:00"), "市报：仲山镇中学食堂问题调查", "newspaper", 12, "city")
    s.fed_back("A", t(18, "10:00"), "A2", "education", "已约谈校长", "p-zhang", t(17, "17:30"))
    s.task("C", t(18, "10:00"), "C1", "market", "核查餐馆食品来源", t(19, "17:30"), actor="p-wang", period="1wd")
    s.met("C", t(18, "11:00"), "first_response", t(18, "08:00"), "p-zhao", late=True)
    s.statement("B", t(18, "11:00"), "drafted", 1, "p-wang")
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
    s.supervise("A", t(19, "09:30"), "督办：检测结果明日公布")
    s.slip("B", t(19, "15:00"), "transport", "first_response", 3)
    s.named("B", t(19, "15:00"), "transport", "first_response", 3)
    s.add(ev.IncidentClosed, "C", t(19, "16:00"), "p-wang", summary="已澄清")
    s.add(ev.ClockCancelled, "C", t(19, "16:00"), "deadlines", clock="formal_reply", reason="incident closed")
    s.add(ev.ClockCancelled, "C", t(19, "16:00"), "deadlines", clock=f"task:{TASKS['C1']}", reason="incident closed")
    s.met("G", t(19, "16:00"), "formal_reply", t(19, "17:30"), "p-wang")
    s.slip("F", t(19, "17:30"), "education", "formal_reply", 2)
    # Friday 20.
    s.met("B", t(20, "10:00"), "first_response", t(17, "15:00"), "p-wang", late=True)
    s.slip("F", t(20, "17:30"), "education", "formal_reply", 3)
    s.named("F", t(20, "17:30"), "education", "formal_reply", 3)
    s.task_breach("B", t(20, "17:30"), "B1", "transport")
    # Saturday 21: E.
    s.report("E", t(21, "11:00"), "石桥乡河道污染", "tv", 0, media_level="provincial", region="石桥乡")
    s.grade("E", t(21, "11:00"), "II")
    s.assign("E", t(21, "11:00"), "environment")
    s.start("E", t(21, "11:00"), "report_up", t(21, "15:00"))
    s.start("E", t(21, "11:00"), "statement", t(22, "11:00"))
    s.evidence("E", t(21, "11:30"), "河道视频.mp4", 52_428_800, actor="monitor-02")
    s.task("E", t(21, "12:00"), "E1", "environment", "开展河道水质检测", t(24, "17:30"))
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


# --- the figures, worked out by hand from the script above -------------------------------
#
# The tests reduce a report's JSON figures to these shapes (`daily_digest`, `weekly_digest`,
# `review_digest`): titles for incidents, unit ids, local times "DD HH:MM".

def hm(iso: str | None) -> str | None:
    """'2026-11-18T15:00:00+08:00' → '18 15:00' (local day and time)."""
    if iso is None:
        return None
    at = datetime.fromisoformat(iso).astimezone(ZONE)
    return f"{at.day} {at:%H:%M}"


def daily_digest(f: dict) -> dict:
    new, opened, due, br = f["new_incidents"], f["open_incidents"], f["clocks_due"], f["breaches"]
    return {
        "new_total": new["total"],
        "new_by_grade": new["by_grade"],
        "new": [(i["title"], i["grade"], i["owner"], hm(i["reported_at"])) for i in new["items"]],
        "open_total": opened["total"],
        "open": {r["owner"]: {s: n for s, n in r["stages"].items() if n} for r in opened["rows"]},
        "open_by_stage": {s: n for s, n in opened["by_stage"].items() if n},
        "due": (due["today"], due["tomorrow"],
                [(i["title"], i["clock"], hm(i["due_at"]), i["status"], i["owner"], i["day"]) for i in due["items"]]),
        "breaches": (br["total"], br["charged"], br["on_arrival"],
                     [(i["title"], i["clock"], i["owner"], i["on_arrival"], hm(i["met_at"])) for i in br["items"]]),
        "slips": (f["reminder_slips"]["total"],
                  [(hm(s["at"]), s["unit"], s["title"], s["clock"], s["count"]) for s in f["reminder_slips"]["items"]]),
        "unit_flags": [(hm(u["at"]), u["unit"], u["title"], u["clock"], u["count"]) for u in f["flags"]["units"]],
        "incident_flags": [(hm(m["at"]), m["title"], m["kind"], m["actor"], m["removed"]) for m in f["flags"]["incidents"]],
        "notable": (f["notable_mentions"]["total"],
                    [(hm(m["at"]), m["incident_title"], m["platform"], m["media_level"], m["reposts"])
                     for m in f["notable_mentions"]["items"]]),
    }


GRADES0 = {"I": 0, "II": 0, "III": 0, "IV": 0, "ungraded": 0}

# Wednesday 18 November, the whole day (as of Thursday 00:00).
DAILY_WED = {
    "new_total": 2,  # C 09:30 (III, market) and D 16:00 (IV, education)
    "new_by_grade": {**GRADES0, "III": 1, "IV": 1},
    "new": [("城关镇某餐馆食品变质", "III", "market", "18 09:30"), ("河西镇学校补课收费", "IV", "education", "18 16:00")],
    # Open at the day's end: A handling, B assessing, C reported (closed only on Thursday),
    # D reported, F handling, G following (its report is older than the week).
    "open_total": 6,
    "open": {"education": {"reported": 1, "handling": 1}, "market": {"reported": 1}, "transport": {"assessing": 1},
             "zhongshan": {"handling": 1}, "hexi": {"following": 1}},
    "open_by_stage": {"reported": 2, "assessing": 1, "handling": 2, "following": 1},
    # Open clocks due Wed or Thu: D's first response (Thu 10:00) and G's extended formal reply
    # (Thu 17:30); F's formal reply fell due Wed 17:30 and is breached, not open.
    "due": (0, 2, [("河西镇学校补课收费", "first_response", "19 10:00", "running", "education", "tomorrow"),
                   ("河西镇道路积水", "formal_reply", "19 17:30", "extended", "hexi", "tomorrow")]),
    # C late on arrival at 09:30 (met late 11:00), F's formal reply at 17:30 (charged).
    "breaches": (2, 1, 1, [("城关镇某餐馆食品变质", "first_response", "market", True, "18 11:00"),
                           ("县城某小学校服价格过高", "formal_reply", "education", False, None)]),
    "slips": (2, [("18 15:00", "transport", "县道公交停运", "first_response", 2),
                  ("18 17:30", "education", "县城某小学校服价格过高", "formal_reply", 1)]),
    "unit_flags": [],
    "incident_flags": [("18 14:00", "城关镇某餐馆食品变质", "rumour", "p-li", False)],
    # A's city newspaper report; C's 30 and D's 5 reposts are not notable.
    "notable": (1, [("18 10:00", "仲山镇中学食堂使用过期食材", "newspaper", "city", 12)]),
}

# Thursday 19 November: the third slip names transport; C closes.
DAILY_THU = {
    "new_total": 0,
    "new_by_grade": GRADES0,
    "new": [],
    "open_total": 5,
    "open": {"education": {"reported": 1, "handling": 1}, "transport": {"assessing": 1},
             "zhongshan": {"handling": 1}, "hexi": {"following": 1}},
    "open_by_stage": {"reported": 1, "assessing": 1, "handling": 2, "following": 1},
    "due": (0, 0, []),
    "breaches": (0, 0, 0, []),
    "slips": (2, [("19 15:00", "transport", "县道公交停运", "first_response", 3),
                  ("19 17:30", "education", "县城某小学校服价格过高", "formal_reply", 2)]),
    "unit_flags": [("19 15:00", "transport", "县道公交停运", "first_response", 3)],
    "incident_flags": [],
    "notable": (0, []),
}


def weekly_digest(f: dict) -> dict:
    trend, sup = f["trend"], f["supervision"]

    def outcome(o: dict) -> tuple:
        return (o["due"], o["on_time"], o["on_time_pct"], o["met_late"], o["breached"], o["on_arrival"])

    return {
        "new_total": trend["total"],
        "new_by_grade": trend["by_grade"],
        "days": [(d["date"], d["total"], {g: n for g, n in d["by_grade"].items() if n}) for d in trend["days"]],
        "total": outcome(sup["total"]),
        "units": {u["unit"]: (u["incidents"], *outcome(u), u["slips"], u["tasks_slipped"], u["flagged"])
                  for u in sup["units"]},
        "unit_order": [u["unit"] for u in sup["units"]],
        "clocks": {c["clock"]: outcome(c) for c in sup["clocks"]},
        "slips": sup["slips"],
        "tasks": [(t["unit"], t["title"], t["clock"], t["slips"], t["count"], t["flagged"]) for t in sup["tasks"]],
        "named": [(u["unit"], u["title"], u["clock"], u["count"], hm(u["at"])) for u in sup["flagged"]],
    }


# Week 47. Clocks settled in the week (due = on time + met late + breached, late on arrival apart):
#   A report_up on time (zhongshan), first_response met late (zhongshan), statement on time (zhongshan);
#   B first_response met late (transport); C first_response late on arrival (market);
#   D first_response on time (education); E report_up on time, statement breached (environment);
#   F formal_reply breached (education); G formal_reply on time (hexi).
WEEKLY_W47 = {
    "new_total": 5,
    "new_by_grade": {**GRADES0, "II": 2, "III": 1, "IV": 2},
    "days": [("2026-11-16", 1, {"II": 1}), ("2026-11-17", 1, {"IV": 1}), ("2026-11-18", 2, {"III": 1, "IV": 1}),
             ("2026-11-19", 0, {}), ("2026-11-20", 0, {}), ("2026-11-21", 1, {"II": 1}), ("2026-11-22", 0, {})],
    "total": (9, 5, 55.6, 2, 2, 1),
    # unit: (new incidents, due, on time, %, met late, breached, on arrival, slips, tasks, named)
    "units": {
        # D on time, F breached; F's slips Wed/Thu/Fri and task A2's Tue (tasks' clocks count in
        # the tasks section, not here: only their slips do)
        "education": (1, 2, 1, 50.0, 0, 1, 0, 4, 2, True),
        "market": (1, 0, 0, None, 0, 0, 1, 0, 0, False),  # C late on arrival only
        "transport": (1, 1, 0, 0.0, 1, 0, 0, 4, 2, True),  # B met late; slips Tue/Wed/Thu, task B1's Fri
        "environment": (1, 2, 1, 50.0, 0, 1, 0, 1, 1, False),  # E
        "zhongshan": (1, 3, 2, 66.7, 1, 0, 0, 1, 1, False),  # A
        "hexi": (0, 1, 1, 100.0, 0, 0, 0, 0, 0, False),  # G (reported 2 Nov)
    },
    "unit_order": ["education", "market", "transport", "environment", "zhongshan", "hexi"],  # units.toml order
    "clocks": {"report_up": (2, 2, 100.0, 0, 0, 0), "first_response": (3, 1, 33.3, 2, 0, 1),
               "statement": (2, 1, 50.0, 0, 1, 0), "formal_reply": (2, 1, 50.0, 0, 1, 0)},
    # 8 slips about the plans' clocks, and one each about tasks A2 (education, Tue) and B1
    # (transport, Fri): slips go to the task's unit, counted per task.
    "slips": 10,
    "tasks": [("education", "县城某小学校服价格过高", "formal_reply", 3, 3, True),
              ("education", "仲山镇中学食堂使用过期食材", f"task:{TASKS['A2']}", 1, 1, False),
              ("transport", "县道公交停运", "first_response", 3, 3, True),
              ("transport", "县道公交停运", f"task:{TASKS['B1']}", 1, 1, False),
              ("environment", "石桥乡河道污染", "statement", 1, 1, False),
              ("zhongshan", "仲山镇中学食堂使用过期食材", "first_response", 1, 1, False)],
    "named": [("transport", "县道公交停运", "first_response", 3, "19 15:00"),
              ("education", "县城某小学校服价格过高", "formal_reply", 3, "20 17:30")],
}


def review_digest(f: dict) -> dict:
    facts = f["facts"]["facts"]
    return {
        "closed": hm(facts["closed_at"]), "duration": facts["duration_minutes"], "grade": facts["grade"],
        "owner": facts["owner"], "mentions": facts["mentions"], "platforms": facts["platforms"],
        "clocks": [(c["clock"], c["outcome"], c["minutes"], c["met_by"]) for c in f["clocks"]],
        "actors": [(a["actor"], a["count"], hm(a["first_at"])) for a in f["actors"]],
        "notices": (f["notices"]["sent"], f["notices"]["failed"], f["notices"]["recipients"]),
        "acks": [(a["by"], a["minutes_after_report"]) for a in f["notices"]["acks"]],
        "slips": [(s["unit"], s["clock"], s["count"]) for s in f["slips"]["slips"]],
        "timeline": len(f["timeline"]),
    }


# Incident A: reported Mon 09:00, closed Sun 18:00 (6 d 9 h = 9,180 min).
REVIEW_A = {
    "closed": "22 18:00", "duration": 9180, "grade": "II", "owner": "zhongshan", "mentions": 2,
    "platforms": ["weibo", "newspaper"],
    "clocks": [("report_up", "on_time", 150, "p-li"),  # due 13:00, met 10:30
               ("first_response", "met_late", 150, "p-wang"),  # due 12:00, met 14:30
               ("statement", "on_time", 780, "p-wang"),  # due Tue 09:00, met Mon 20:00
               ("formal_reply", "cancelled", None, None), ("final", "cancelled", None, None)],
    # monitor-01: the report and two evidence files; p-li: ack, report_up, the meeting, two tasks,
    # three supervisions; p-wang: stage, two clocks, two drafts, the publication, the close;
    # p-chen: sent back v1, approved v2; the liaisons: each a feedback and the clock it met.
    "actors": [("monitor-01", 3, "16 09:00"), ("p-li", 8, "16 09:20"), ("p-wang", 7, "16 10:00"),
               ("p-chen", 2, "16 12:00"), ("liaison-market", 2, "17 16:00"), ("monitor-02", 1, "18 10:00"),
               ("p-zhang", 2, "18 10:00")],
    "notices": (2, 0, 2),
    "acks": [("p-li", 20)],
    "slips": [("zhongshan", "first_response", 1), ("education", f"task:{TASKS['A2']}", 1)],
    # 21 of the plans' life, and 21 of the follow-through: 2 evidence, the meeting, 2 tasks and their
    # clocks, 5 statement steps, 3 supervisions, A1's feedback and met, A2's breach, slip,
    # feedback and met (late).
    "timeline": 42,
}


# --- the follow-through sections (issue 14), worked out by hand --------------------------------

def follow_daily_digest(f: dict) -> dict:
    tasks, st, sup, evi = f["tasks"], f["statements"], f["supervision_owed"], f["evidence"]
    return {
        "tasks": (tasks["open"], tasks["overdue"], tasks["due_today"], tasks["due_tomorrow"], tasks["added"],
                  tasks["fed_back"], tasks["fed_back_late"],
                  [(x["id"], x["unit"], x["title"], x["outcome"], hm(x["due_at"])) for x in tasks["items"]]),
        "statements": ([(x["title"], x["version"], x["drafted_by"], hm(x["drafted_at"])) for x in st["awaiting"]],
                       [(x["title"], x["version"], x["channel"], hm(x["at"]), x["approved_by"]) for x in st["published"]],
                       st["approved"], st["rejected"]),
        "supervision": (sup["day"], sup["working_day"], sup["due"], sup["supervised"],
                        [x["title"] for x in sup["unsupervised"]],
                        [(hm(x["at"]), x["title"], x["actor"]) for x in sup["records"]]),
        "evidence": (evi["total"], evi["bytes"],
                     [(hm(x["at"]), x["title"], x["name"], x["size"], x["sha256"][:12], x["actor"]) for x in evi["items"]]),
    }


A_TITLE, B_TITLE, C_TITLE, E_TITLE = "仲山镇中学食堂使用过期食材", "县道公交停运", "城关镇某餐馆食品变质", "石桥乡河道污染"

FOLLOW_DAILY = {
    # Monday: A's meeting hands out A1 (due Wed) and A2 (due Tue); v1 sent back, v2 approved and
    # published; A supervised at 14:00; two evidence files (1,258,291 + 348,160 bytes).
    "2026-11-16": {
        "tasks": (2, 0, 0, 1, 2, 0, 0, [(TASKS["A2"], "education", A_TITLE, "open", "17 17:30"),
                                        (TASKS["A1"], "market", A_TITLE, "open", "18 17:30")]),
        "statements": ([], [(A_TITLE, 2, "官方微博", "16 20:00", "p-chen")], 1, 1),
        "supervision": ("2026-11-16", True, 1, 1, [], [("16 14:00", A_TITLE, "p-li")]),
        "evidence": (2, 1_606_451, [("16 09:10", A_TITLE, "现场截图.png", 1_258_291, DIGESTS["现场截图.png"][:12], "monitor-01"),
                                    ("16 09:12", A_TITLE, "原帖网页.mhtml", 348_160, DIGESTS["原帖网页.mhtml"][:12], "monitor-01")]),
    },
    # Wednesday: B1 and C1 handed out (C1 due Thursday), A2 fed back late; B's statement awaits
    # approval; A (grade II) not supervised that day; C's kitchen photo.
    "2026-11-18": {
        "tasks": (2, 0, 0, 1, 2, 1, 1, [(TASKS["C1"], "market", C_TITLE, "open", "19 17:30"),
                                        (TASKS["B1"], "transport", B_TITLE, "open", "20 17:30")]),
        "statements": ([(B_TITLE, 1, "p-wang", "18 11:00")], [], 0, 0),
        "supervision": ("2026-11-18", True, 1, 0, [A_TITLE], []),
        "evidence": (1, 204_800, [("18 09:40", C_TITLE, "餐馆后厨照片.jpg", 204_800, DIGESTS["餐馆后厨照片.jpg"][:12],
                                   "monitor-01")]),
    },
    # Thursday: C1 cancelled with C's close, B1 due tomorrow; A supervised 09:30.
    "2026-11-19": {
        "tasks": (1, 0, 0, 1, 0, 0, 0, [(TASKS["B1"], "transport", B_TITLE, "open", "20 17:30")]),
        "statements": ([(B_TITLE, 1, "p-wang", "18 11:00")], [], 0, 0),
        "supervision": ("2026-11-19", True, 1, 1, [], [("19 09:30", A_TITLE, "p-li")]),
        "evidence": (0, 0, []),
    },
    # Saturday: B1 overdue since Friday 17:30, E1 handed out; a rest day owes no supervision
    # (A and E are open grade II); E's video, 50 MB.
    "2026-11-21": {
        "tasks": (2, 1, 0, 0, 1, 0, 0, [(TASKS["B1"], "transport", B_TITLE, "overdue", "20 17:30"),
                                        (TASKS["E1"], "environment", E_TITLE, "open", "24 17:30")]),
        "statements": ([(B_TITLE, 1, "p-wang", "18 11:00")], [], 0, 0),
        "supervision": ("2026-11-21", False, 0, 0, [], []),
        "evidence": (1, 52_428_800, [("21 11:30", E_TITLE, "河道视频.mp4", 52_428_800, DIGESTS["河道视频.mp4"][:12],
                                      "monitor-02")]),
    },
}


def follow_weekly_digest(f: dict) -> dict:
    tasks, st = f["tasks"], f["statements"]

    def unit_tasks(u: dict) -> tuple:
        return (u["handed_out"], u["fed_back"], u["on_time"], u["late"], u["open"], u["overdue"], u["cancelled"])

    def unit_statements(u: dict) -> tuple:
        return (u["drafted"], u["approved"], u["rejected"], u["published"])

    return {
        "tasks_total": unit_tasks(tasks["total"]),
        "tasks_units": [(u["unit"], *unit_tasks(u)) for u in tasks["units"]],
        "tasks_items": [(x["unit"], x["id"], x["outcome"], hm(x["fed_back_at"])) for x in tasks["items"]],
        "statements_total": unit_statements(st["total"]),
        "statements_units": [(u["unit"], *unit_statements(u)) for u in st["units"]],
        "published": [(x["title"], x["owner"], x["version"], x["channel"], hm(x["at"]), x["approved_by"])
                      for x in st["published"]],
        "awaiting": [(x["title"], x["version"]) for x in st["awaiting"]],
    }


# Week 47: (handed out, fed back, on time, late, open, overdue, cancelled) per unit, units.toml order.
FOLLOW_WEEKLY = {
    "tasks_total": (5, 2, 1, 1, 2, 1, 1),
    "tasks_units": [("education", 1, 1, 0, 1, 0, 0, 0),  # A2: late
                    ("market", 2, 1, 1, 0, 0, 0, 1),  # A1 on time; C1 cancelled (C closed)
                    ("transport", 1, 0, 0, 0, 1, 1, 0),  # B1 overdue
                    ("environment", 1, 0, 0, 0, 1, 0, 0)],  # E1 open, due next Tuesday
    "tasks_items": [("education", TASKS["A2"], "late", "18 10:00"), ("market", TASKS["A1"], "on_time", "17 16:00"),
                    ("market", TASKS["C1"], "cancelled", None), ("transport", TASKS["B1"], "overdue", None),
                    ("environment", TASKS["E1"], "open", None)],
    # (drafted, approved, sent back, published) per unit in charge: B's draft; A's two drafts,
    # one sent back, one approved and published.
    "statements_total": (3, 1, 1, 1),
    "statements_units": [("transport", 1, 0, 0, 0), ("zhongshan", 2, 1, 1, 1)],
    "published": [(A_TITLE, "zhongshan", 2, "官方微博", "16 20:00", "p-chen")],
    "awaiting": [(B_TITLE, 1)],
}


def follow_review_digest(f: dict) -> dict:
    return {
        "statements": [(s["version"], s["state"], [(x["action"], x["actor"], hm(x["at"])) for x in s["steps"]])
                       for s in f["statements"]],
        "tasks": [(x["id"], x["unit"], x["outcome"], x["slips"]) for x in f["tasks"]],
        "supervisions": [(hm(x["at"]), x["actor"]) for x in f["supervisions"]],
        "meetings": [(m["meeting_id"], m["kind"], hm(m["held_at"]), len(m["tasks"])) for m in f["meetings"]],
        "evidence": [(x["name"], x["size"]) for x in f["evidence"]],
    }


FOLLOW_REVIEW_A = {
    "statements": [(1, "rejected", [("drafted", "p-wang", "16 11:00"), ("rejected", "p-chen", "16 12:00")]),
                   (2, "published", [("drafted", "p-wang", "16 15:00"), ("approved", "p-chen", "16 16:00"),
                                     ("published", "p-wang", "16 20:00")])],
    "tasks": [(TASKS["A1"], "market", "on_time", 0), (TASKS["A2"], "education", "late", 1)],
    "supervisions": [("16 14:00", "p-li"), ("17 10:00", "p-li"), ("19 09:30", "p-li")],
    "meetings": [(MEETING, "会商", "16 10:30", 2)],
    "evidence": [("现场截图.png", 1_258_291), ("原帖网页.mhtml", 348_160)],
}
