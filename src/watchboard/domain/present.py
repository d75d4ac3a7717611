"""Pure presentation of an incident: the JSON of `watchboard show/ls --json` (DESIGN.md §4.4)
and one-line timeline texts. No I/O: the CLI gathers the KV parts and the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from watchboard.domain import events as ev
from watchboard.domain.views import IncidentView

CLOCK_ORDER = ("report_up", "first_response", "statement", "formal_reply", "final")


def _iso(dt: Any) -> str | None:
    return None if dt is None else dt.isoformat()


def clock_sort_key(name: str) -> tuple[int, str]:
    # Profile-specific clocks (e.g. simple_answer) sit before `final`, after the known ones.
    if name in CLOCK_ORDER:
        index = CLOCK_ORDER.index(name)
        return (index if name != "final" else 99, name)
    return (50, name)


def summary_json(view: IncidentView) -> dict[str, Any]:
    """The object of `ls --json`: everything of §4.4 but mentions, notices and timeline."""
    core, grade, clocks, notices = view.core, view.grade, view.clocks, view.notices
    return {
        "id": view.id,
        "title": core.title if core else "",
        "grade": grade.grade if grade else None,
        "grade_reasons": list(grade.reasons) if grade else [],
        "grade_source": grade.source if grade else None,
        "sentiment": grade.sentiment if grade else None,
        "owner": grade.owner if grade else None,
        "stage": core.stage if core else "reported",
        "acknowledged_by": notices.acknowledged_by if notices else None,
        "clocks": [
            {"name": c.name, "due_at": _iso(c.due_at), "basis": c.basis, "status": c.status,
             **({"provisional": True} if c.provisional else {})}
            for c in sorted(clocks.clocks, key=lambda c: clock_sort_key(c.name))
        ] if clocks else [],
        "reminders": clocks.reminders if clocks else 0,
        "flagged": clocks.flagged if clocks else False,
        "flags": list(grade.flags) if grade else [],  # rumour | illegal (watchboard flag)
        "reported_at": _iso(core.reported_at) if core else None,
    }


def show_json(view: IncidentView, history: Iterable[ev.Event] = ()) -> dict[str, Any]:
    out = summary_json(view)
    core, notices = view.core, view.notices
    out["mentions"] = [
        {"platform": m.platform, "url": m.url, "observed_at": _iso(m.observed_at),
         "metrics": {"reposts": m.metrics.reposts, "comments": m.metrics.comments,
                     "likes": m.metrics.likes, "views": m.metrics.views}}
        for m in (core.mentions if core else [])
    ]
    out["notices"] = [
        {"to": n.to, "channel": n.channel, "status": n.status,
         **({"reason": n.reason} if n.reason else {})}
        for n in (notices.notices if notices else [])
    ]
    out["timeline"] = [
        {"at": _iso(e.at), "type": ev.event_type(e), "actor": e.actor, "text": describe(e)}
        for e in sorted(history, key=lambda e: e.at)
    ]
    return out


def describe(e: ev.Event) -> str:
    """One line a person reads in the timeline (English; the board translates labels)."""
    match e:
        case ev.IncidentReported():
            m = e.mention
            return f"reported on {m.platform}" + (f" ({m.region})" if m.region else "")
        case ev.MentionAdded():
            m = e.mention
            return (f"new mention on {m.platform} (merged by {e.merged_by}); reposts {m.metrics.reposts}, "
                    f"comments {m.metrics.comments}")
        case ev.StageChanged():
            return f"stage {e.previous} → {e.stage}" + (f": {e.note}" if e.note else "")
        case ev.NoteAdded():
            return e.text
        case ev.IncidentClosed():
            return "closed" + (f": {e.summary}" if e.summary else "")
        case ev.IncidentGraded():
            head = f"graded {e.grade}" if e.previous is None else f"grade {e.previous} → {e.grade}"
            # The timeline is English: the English reasons (events before reasons_en had only one list).
            return f"{head} ({e.source}): " + "; ".join(e.reasons_en or e.reasons)
        case ev.IncidentAssigned():
            return f"owner {e.owner}" + (f" (was {e.previous})" if e.previous else "") + f": {e.reason}"
        case ev.IncidentFlagged():
            return f"flagged {e.kind}: {e.reason}"
        case ev.IncidentUnflagged():
            return f"flag {e.kind} removed: {e.reason}"
        case ev.ClockStarted():
            text = f"clock {e.clock} due {_iso(e.due_at)} ({e.basis})"
            if e.previous_due_at is not None:
                text += f", tightened from {_iso(e.previous_due_at)}"
            return text + (" provisional" if e.provisional else "")
        case ev.ClockWarning():
            return f"clock {e.clock} warning at {e.point}, due {_iso(e.due_at)}"
        case ev.ClockBreached():
            return f"clock {e.clock} breached (due {_iso(e.due_at)})" + (" — emitted late" if e.late else "")
        case ev.ClockMet():
            return f"clock {e.clock} met" + (f": {e.note}" if e.note else "")
        case ev.ClockExtended():
            return f"clock {e.clock} extended to {_iso(e.due_at)}: {e.reason}"
        case ev.ClockCancelled():
            return f"clock {e.clock} cancelled" + (f": {e.reason}" if e.reason else "")
        case ev.UnitReminded():
            return f"reminder slip {e.count} to {e.unit} ({e.clock})"
        case ev.UnitFlagged():
            return f"{e.unit} flagged for the circular after {e.count} reminders"
        case ev.NoticeSent():
            return f"notice to {e.to} by {e.channel} ({e.cause})"
        case ev.NoticeFailed():
            return f"notice to {e.to} by {e.channel} failed: {e.reason}"
        case ev.NoticeEscalated():
            return f"escalated to tier {e.tier}: {', '.join(e.to)}"
        case ev.IncidentAcknowledged():
            return f"acknowledged by {e.by} ({e.via})"
        case ev.SweepRecorded():
            return "monitoring sweep recorded" + (f": {e.note}" if e.note else "")
        case ev.SweepMissed():
            return f"monitoring sweep missed ({e.window})"
    return ev.event_type(e)
