"""What fits on the bus: every effect and every view is checked against the server's
`max_payload` before it is put in an outbox or the KV bucket (issue 12, "bounded everywhere").
Pure: the limit is handed in (nats-py's `nc.max_payload`, from the server's INFO).

- `room(max_payload)`: the bytes one message body may take, headers set aside;
- `check_effects(effects, max_payload, command)`: a command whose events would not fit is
  refused (`Invalid`) naming the command's largest field and the event type's limit, before
  anything is written;
- `fit_view(view, limit)`: a view that would not fit is summarised, step by step (long texts
  cut, then the latest items only, then the headline alone), and marked `summarised`; the
  stream keeps everything, the view is only what the board shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from watchboard.domain.errors import Invalid
from watchboard.domain.events import Event, encode_event, event_type
from watchboard.domain.views import (
    ClocksView,
    CoreView,
    GradeView,
    NoticesView,
    SupervisionDayView,
    TaskView,
    encode_view,
)

# Bytes kept for a message's headers (`Nats-Msg-Id` and whatever the bus adds): the server
# counts headers and body together against max_payload, and one byte over closes the
# connection rather than refusing the message.
HEADER_ROOM = 1024

V = TypeVar("V", bound=msgspec.Struct)


def room(max_payload: int) -> int:
    """The largest body one message may have on a server with this `max_payload`."""
    return max(0, max_payload - HEADER_ROOM)


def too_large(data: bytes, max_payload: int) -> bool:
    return len(data) > room(max_payload)


def _largest_field(command: object) -> str:
    """The field of `command` whose value takes the most bytes (what to shorten)."""
    if not isinstance(command, msgspec.Struct):
        return "body"
    sizes = {name: len(msgspec.json.encode(getattr(command, name))) for name in command.__struct_fields__}
    return max(sizes, key=lambda k: sizes[k]) if sizes else "body"


def check_effects(effects: Sequence[Event], max_payload: int, command: object | None = None) -> None:
    """Raise `Invalid` if an effect would be larger than one message may be. The message names
    the event type, its size and the limit; the field is the command's largest one."""
    limit = room(max_payload)
    for effect in effects:
        size = len(encode_event(effect))
        if size > limit:
            kind = event_type(effect)
            field = _largest_field(command)
            raise Invalid(field, f"this would record a {kind} event of {size:,} bytes; a {kind} event may "
                          f"take at most {limit:,} bytes on this bus (max_payload {max_payload:,}); "
                          f"shorten `{field}`",
                          zh=f"这将记录一条 {size:,} 字节的 `{kind}` 事件；此总线上这类事件至多 {limit:,} 字节"
                          f"（`max_payload` {max_payload:,}）；请缩短 `{field}`")


def bounded(decide: Callable[[Any, Any, Any], tuple[Any, list[Event]]],
            max_payload: Callable[[], int]) -> Callable[[Any, Any, Any], tuple[Any, list[Event]]]:
    """A command decider whose effects are checked (`check_effects`) before they are returned,
    so a command that cannot travel is refused before anything is written."""
    def run(state: Any, command: Any, ctx: Any) -> tuple[Any, list[Event]]:
        new, effects = decide(state, command, ctx)
        check_effects(effects, max_payload(), command)
        return new, effects

    return run


# --- views -------------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _cut_opt(text: str | None, limit: int) -> str | None:
    return None if text is None else _cut(text, limit)


replace = msgspec.structs.replace


def _core_texts(v: CoreView) -> CoreView:
    """Long texts cut; every item kept."""
    return replace(
        v, title=_cut(v.title, 500), summary=_cut(v.summary, 1_000), close_summary=_cut(v.close_summary, 1_000),
        mentions=[replace(m, title=_cut(m.title, 200), url=_cut_opt(m.url, 300)) for m in v.mentions],
        notes=[replace(n, text=_cut(n.text, 300), actor=_cut(n.actor, 100)) for n in v.notes],
        evidence=[_cut(e, 200) for e in v.evidence],
        statements=[replace(s, text=_cut(s.text, 2_000), rejected_reason=_cut(s.rejected_reason, 300),
                            url=_cut(s.url, 300),
                            history=[replace(h, detail=_cut(h.detail, 200), url=_cut(h.url, 300)) for h in s.history])
                    for s in v.statements],
        tasks=[replace(t, text=_cut(t.text, 300), feedback=_cut(t.feedback, 300)) for t in v.tasks],
        meetings=[replace(m, minutes=_cut(m.minutes, 300), attendees=m.attendees[:20]) for m in v.meetings],
        supervisions=[replace(n, text=_cut(n.text, 300)) for n in v.supervisions],
        summarised=True)


def _latest_tasks(tasks: list[TaskView], n: int) -> list[TaskView]:
    """At most `n` tasks, open ones first (the latest of them), then the latest done; in order."""
    open_ids = [i for i, t in enumerate(tasks) if t.status == "open"][-n:]
    done_ids = [i for i, t in enumerate(tasks) if t.status != "open"]
    done_ids = done_ids[len(done_ids) - (n - len(open_ids)):] if len(open_ids) < n else []
    return [tasks[i] for i in sorted(open_ids + done_ids)]


def _core_latest(v: CoreView) -> CoreView:
    """The latest items only (the earliest evidence: the original post matters most)."""
    keep = _latest_tasks(v.tasks, 20)
    return replace(
        v, mentions=v.mentions[-10:], notes=v.notes[-10:], evidence=v.evidence[:10],
        statements=[replace(s, history=s.history[-5:]) for s in v.statements[-3:]],
        evidence_files=v.evidence_files[-20:], tasks=keep,
        meetings=v.meetings[-5:], supervisions=v.supervisions[-5:], summarised=True)


def _core_headline(v: CoreView) -> CoreView:
    """What the board's list needs: id, title, stage, times, counts, platforms."""
    return CoreView(id=v.id, title=_cut(v.title, 200), stage=v.stage, reported_at=v.reported_at,
                    region=_cut_opt(v.region, 100), topic=v.topic, unit_hint=_cut_opt(v.unit_hint, 100),
                    platforms=[_cut(p, 40) for p in v.platforms[:20]], mention_count=v.mention_count,
                    closed_at=v.closed_at, updated_at=v.updated_at, posted_at=v.posted_at,
                    observed_at=v.observed_at, summarised=True)


def _notices_latest(n: int) -> Callable[[NoticesView], NoticesView]:
    def step(v: NoticesView) -> NoticesView:
        return replace(v, notices=[replace(x, reason=_cut(x.reason, 200)) for x in v.notices[-n:]],
                       summarised=True)
    return step


def _clocks_short(v: ClocksView) -> ClocksView:
    return replace(v, slips=v.slips[-20:], tasks=v.tasks[-20:], summarised=True)


def _clocks_headline(v: ClocksView) -> ClocksView:
    return replace(v, slips=[], tasks=[], summarised=True)


def _grade_short(v: GradeView) -> GradeView:
    return replace(v, reasons=[_cut(r, 200) for r in v.reasons[:10]],
                   reasons_en=[_cut(r, 200) for r in v.reasons_en[:10]], owner_reason=_cut(v.owner_reason, 300),
                   owner_reason_en=_cut(v.owner_reason_en, 300), summarised=True)


def _grade_headline(v: GradeView) -> GradeView:
    return replace(v, reasons=[], reasons_en=[], owner_reason="", owner_reason_en="", assisting=v.assisting[:20],
                   grade_labels={}, summarised=True)


def _supervision_keep(n: int) -> Callable[[SupervisionDayView], SupervisionDayView]:
    """The first `n` ids of each list (the unsupervised first: those are what the desk chases)."""
    def keep(v: SupervisionDayView) -> SupervisionDayView:
        return replace(v, due=v.due[:n], unsupervised=v.unsupervised[:n], more_due=v.due_count - len(v.due[:n]),
                       more_unsupervised=v.unsupervised_count - len(v.unsupervised[:n]), summarised=True)
    return keep


# Each view type's summaries, mildest first; each is applied to the previous one's result.
SUMMARIES: dict[type, tuple[Callable[[Any], Any], ...]] = {
    CoreView: (_core_texts, _core_latest, _core_headline),
    NoticesView: (_notices_latest(200), _notices_latest(20), _notices_latest(0)),
    ClocksView: (_clocks_short, _clocks_headline),
    GradeView: (_grade_short, _grade_headline),
    SupervisionDayView: (_supervision_keep(5000), _supervision_keep(500), _supervision_keep(0)),
}


def fit_view(view: msgspec.Struct, limit: int) -> tuple[bytes, bool]:
    """The encoded view if it is at most `limit` bytes, else the first summary that is, and
    whether it was summarised. A view no summary brings under `limit` comes back as the last
    summary (the caller's put then fails and is logged; only a tiny limit does that)."""
    data = encode_view(view)
    if len(data) <= limit:
        return data, False
    for summarise in SUMMARIES.get(type(view), ()):
        view = summarise(view)
        data = encode_view(view)
        if len(data) <= limit:
            break
    return data, True
