"""What grading publishes: the rules' grade rises only, a person's grade is pinned until released.

- Rules only raise a grade; a new sentiment alone is published with the grade kept.
- A person's grade (`regrade`) is pinned (source "person") until released; on `release` the
  rules' grade applies again, even if lower (that is the point of releasing).
- A person's grade is collapsed by the profile like the rules' (a plan-001 II is its I).

Each returns a `Decision` (the body of an `incident.graded` event) or None when nothing
changes; a refused command raises `Invalid` naming the field.
"""

from __future__ import annotations

import msgspec

from watchboard.config.grading import GradingConfig
from watchboard.domain.errors import Invalid
from watchboard.domain.events import IncidentGraded
from watchboard.domain.grading import text
from watchboard.domain.grading.grades import arrow, collapse, severity
from watchboard.domain.grading.rules import Assessment
from watchboard.domain.report import GRADES


class CurrentGrade(msgspec.Struct, frozen=True, kw_only=True):
    """The grade an incident has now (the last `incident.graded`)."""

    grade: str
    source: str = "rules"  # rules | person
    pinned: bool = False
    sentiment: str = "negative"
    reasons: list[str] = msgspec.field(default_factory=list)
    reasons_en: list[str] = msgspec.field(default_factory=list)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A grade to publish: the fields of `IncidentGraded` (plus `alarm` and the actor)."""

    grade: str
    previous: str | None
    reasons: list[str]
    source: str  # rules | person
    sentiment: str
    pinned: bool
    alarm: bool
    actor: str = "grading"
    reasons_en: list[str] = msgspec.field(default_factory=list)


def current_from_event(event: IncidentGraded) -> CurrentGrade:
    """Rebuild the current grade from the last `incident.graded` event (replay)."""
    return CurrentGrade(grade=event.grade, source=event.source, pinned=event.pinned,
                        sentiment=event.sentiment, reasons=list(event.reasons),
                        reasons_en=list(event.reasons_en))


def apply_grade(decision: Decision) -> CurrentGrade:
    """The current grade once `decision` is published."""
    return CurrentGrade(grade=decision.grade, source=decision.source, pinned=decision.pinned,
                        sentiment=decision.sentiment, reasons=list(decision.reasons),
                        reasons_en=list(decision.reasons_en))


def _sentiment_note(before: str, after: str, lang: str) -> str:
    if lang == "en":
        return f"sentiment {before} → {after}"
    return f"舆情倾向 {text.sentiment(before, 'zh')} → {text.sentiment(after, 'zh')}"


def decide(current: CurrentGrade | None, assessment: Assessment) -> Decision | None:
    """What the rules change: a higher grade, or a new sentiment; None if nothing changes."""
    a = assessment
    if current is None:
        return Decision(grade=a.grade, previous=None, reasons=list(a.reasons), reasons_en=list(a.reasons_en),
                        source="rules", sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    sentiment_changed = a.sentiment != current.sentiment
    zh, en = _sentiment_note(current.sentiment, a.sentiment, "zh"), _sentiment_note(current.sentiment, a.sentiment, "en")
    if current.pinned:
        if not sentiment_changed:
            return None
        return Decision(grade=current.grade, previous=current.grade,
                        reasons=[*current.reasons, f"{zh};保持 {current.grade}:人工定级"],
                        reasons_en=[*current.reasons_en, f"{en}; grade {current.grade} kept: set by a person"],
                        source=current.source, sentiment=a.sentiment, pinned=True, alarm=a.alarm)
    if severity(a.grade) > severity(current.grade):
        return Decision(grade=a.grade, previous=current.grade, reasons=list(a.reasons),
                        reasons_en=list(a.reasons_en), source="rules",
                        sentiment=a.sentiment, pinned=False, alarm=a.alarm)
    if not sentiment_changed:
        return None
    if a.grade == current.grade:
        reasons, reasons_en = [*a.reasons, zh], [*a.reasons_en, en]
    else:
        reasons = [*current.reasons, f"{zh};规则现为 {a.grade},定级只升不降:保持 {current.grade}"]
        reasons_en = [*current.reasons_en,
                      f"{en}; rules now give {a.grade}, grades only rise: {current.grade} kept"]
    return Decision(grade=current.grade, previous=current.grade, reasons=reasons, reasons_en=reasons_en,
                    source=current.source, sentiment=a.sentiment, pinned=False, alarm=a.alarm)


def regrade(current: CurrentGrade | None, grade: str, reason: str, actor: str,
            cfg: GradingConfig) -> Decision | None:
    """A person sets any grade (collapsed by the profile); it sticks until `release`.

    None when the incident already has that grade pinned by a person.
    """
    if grade not in GRADES:
        raise Invalid("grade", f"{grade!r} is not a grade; one of {', '.join(GRADES)}",
                      zh=f"{grade!r} 不是有效级别；可选：{'、'.join(GRADES)}")
    if not actor.strip():
        raise Invalid("actor", "actor is required: who sets the grade",
                      zh="未填写操作人：请注明由谁定级（`--actor 姓名`）")
    final = collapse(grade, cfg)
    if current is not None and current.pinned and current.grade == final:
        return None
    sentiment = current.sentiment if current else "negative"
    why = reason.strip()
    # The person's own words are quoted as typed, in whichever language they wrote.
    zh = f"{actor} 人工定级{':' + why if why else ''} {arrow(grade, cfg, 'zh')}"
    en = f"set by {actor}{': ' + why if why else ''} {arrow(grade, cfg, 'en')}"
    return Decision(grade=final, previous=current.grade if current else None, reasons=[zh], reasons_en=[en],
                    source="person", sentiment=sentiment, pinned=True,
                    alarm=sentiment not in cfg.alarm.quiet_sentiments, actor=actor)


def release(current: CurrentGrade | None, assessment: Assessment, actor: str) -> Decision | None:
    """Unpin a person's grade: the rules' grade applies again (lower or higher); None if not pinned."""
    if current is None or not current.pinned:
        return None
    if not actor.strip():
        raise Invalid("actor", "actor is required: who releases the grade",
                      zh="未填写操作人：请注明由谁解除人工定级（`--actor 姓名`）")
    return Decision(grade=assessment.grade, previous=current.grade,
                    reasons=[f"{actor} 解除人工定级:恢复规则定级", *assessment.reasons],
                    reasons_en=[f"released by {actor}: rules resume", *assessment.reasons_en], source="rules",
                    sentiment=assessment.sentiment, pinned=False, alarm=assessment.alarm, actor=actor)
