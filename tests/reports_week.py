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
        "education": (1, 2, 1, 50.0, 0, 1, 0, 3, 1, True),  # D on time, F breached; F's slips Wed/Thu/Fri
        "market": (1, 0, 0, None, 0, 0, 1, 0, 0, False),  # C late on arrival only
        "transport": (1, 1, 0, 0.0, 1, 0, 0, 3, 1, True),  # B met late; slips Tue/Wed/Thu
        "environment": (1, 2, 1, 50.0, 0, 1, 0, 1, 1, False),  # E
        "zhongshan": (1, 3, 2, 66.7, 1, 0, 0, 1, 1, False),  # A
        "hexi": (0, 1, 1, 100.0, 0, 0, 0, 0, 0, False),  # G (reported 2 Nov)
    },
    "unit_order": ["education", "market", "transport", "environment", "zhongshan", "hexi"],  # units.toml order
    "clocks": {"report_up": (2, 2, 100.0, 0, 0, 0), "first_response": (3, 1, 33.3, 2, 0, 1),
               "statement": (2, 1, 50.0, 0, 1, 0), "formal_reply": (2, 1, 50.0, 0, 1, 0)},
    "slips": 8,
    "tasks": [("education", "县城某小学校服价格过高", "formal_reply", 3, 3, True),
              ("transport", "县道公交停运", "first_response", 3, 3, True),
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
    "actors": [("monitor-01", 1, "16 09:00"), ("p-li", 2, "16 09:20"), ("p-wang", 4, "16 10:00"),
               ("monitor-02", 1, "18 10:00")],
    "notices": (2, 0, 2),
    "acks": [("p-li", 20)],
    "slips": [("zhongshan", "first_response", 1)],
    "timeline": 21,
}
