"""Operator actions shared by the desk and the detail screen: form → (confirm) → send.

Payloads carry exactly the keys the services expect (DESIGN.md §4.1): `incident_id`,
`actor` (added by the app) and the verb's own fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import SystemCommand
from textual.binding import Binding

from watchboard.board.format import (
    DEFAULT_GRADE_LABELS,
    GradeLabels,
    Units,
    clock_label,
    countdown,
    grade_label,
    stage_label,
    truncate,
    unit_label,
)
from watchboard.board.i18n import Lang, t
from watchboard.board.screens.forms import ActionForm, ConfirmScreen, FieldSpec, FormSpec
from watchboard.domain.present import NOTE_REQUIRED
from watchboard.domain.report import STAGES
from watchboard.domain.sanitize import clean_line

if TYPE_CHECKING:
    from watchboard.board.app import BoardApp
    from watchboard.domain.views import IncidentView

VERBS = ("ack", "assign", "regrade", "stage", "done", "extend", "note", "close", "task_feedback")
CONFIRM = frozenset({"close", "regrade"})
# Clocks `done` does not meet: the statement clock is met only by publishing an approved
# statement, a task's only by the unit's feedback (the deadlines service refuses both).
NOT_DONE_BY_HAND = frozenset({"statement"})


def lowered_clocks(view: IncidentView, grade: str, grade_clocks: dict[str, list[str]] | None) -> list[str]:
    """Running clocks of `view` that `grade` does not have: a lowering cancels them."""
    if not grade_clocks or grade not in grade_clocks or view.clocks is None:
        return []
    keep = set(grade_clocks[grade])
    return [c.name for c in view.clocks.clocks if c.status in ("running", "extended") and c.name not in keep]

ACTION_BINDINGS = [
    Binding("a", "act('ack')", "Ack", id="act.ack", tooltip="Acknowledge: I have seen it"),
    Binding("o", "act('assign')", "Assign", id="act.assign", tooltip="Put a unit in charge, with a reason"),
    Binding("g", "act('regrade')", "Regrade", id="act.regrade", tooltip="Set the grade, with a reason"),
    Binding("s", "act('stage')", "Stage", show=False, id="act.stage", tooltip="Move to another stage"),
    Binding("m", "act('done')", "Met", show=False, id="act.done", tooltip="Mark a running clock as met"),
    Binding("x", "act('extend')", "Extend", show=False, id="act.extend", tooltip="Extend a running clock, with a reason"),
    Binding("n", "act('note')", "Note", show=False, id="act.note", tooltip="Add a note to the timeline"),
    Binding("c", "act('close')", "Close", id="act.close", tooltip="Close with a summary"),
    Binding("f", "act('task_feedback')", "Feedback", show=False, id="act.task_feedback",
            tooltip="Record a unit's feedback on a task"),
]


def meetable(clock_name: str) -> bool:
    """Whether `done` may meet this clock (not the statement's, not a task's)."""
    return clock_name not in NOT_DONE_BY_HAND and not clock_name.startswith("task:")


def open_tasks(view: IncidentView) -> list[Any]:
    """The incident's tasks awaiting feedback, the one due first on top."""
    from watchboard.board.follow import task_clock

    tasks = [task for task in (view.core.tasks if view.core else []) if task.status == "open"]

    def due(task: Any) -> Any:
        clock = task_clock(view.clocks, task.id)
        return clock.due_at if clock is not None else task.due_at

    return sorted(tasks, key=due)


def form_for(verb: str, view: IncidentView, lang: Lang, owners: list[str], now: Any,
             labels: GradeLabels = DEFAULT_GRADE_LABELS, units: Units | None = None) -> FormSpec | None:
    """The fields an action asks for; None when it needs none (ack). A regrade offers the
    profile's grades only, by the profile's names."""
    title = Text(f"{t(f'action.{verb}', lang)} · ", style="bold")
    title.append(truncate(_title(view), 56), style="not bold")
    running = sorted((c for c in (view.clocks.clocks if view.clocks else []) if c.status == "running"),
                     key=lambda c: c.due_at)  # the one due first is preselected
    clock_opts = tuple(
        (f"{clock_label(c.name, lang)}  {countdown(c.due_at, now, lang)}", c.name) for c in running)
    done_opts = tuple(opt for opt in clock_opts if meetable(opt[1]))
    task_opts = tuple((truncate(f"{unit_label(task.unit, lang, units)}：{clean_line(task.text, 80)}"
                                if lang == "zh" else f"{unit_label(task.unit, lang, units)}: {clean_line(task.text, 80)}",
                                44), task.id) for task in open_tasks(view))
    f = lambda key: t(f"field.{key}", lang)  # noqa: E731
    specs: dict[str, tuple[FieldSpec, ...]] = {
        "assign": (FieldSpec("owner", f("owner"), suggestions=tuple(o for o in owners if o)),
                   FieldSpec("reason", f("reason"))),
        "regrade": (FieldSpec("grade", f("grade"), "select",
                              tuple((grade_label(g, lang, labels), g) for g in labels.grades),
                              value=current if (current := view.grade.grade if view.grade else "") in labels.grades else ""),
                    FieldSpec("reason", f("reason"))),
        "stage": (FieldSpec("stage", f("stage"), "select",
                            tuple((stage_label(s, lang), s) for s in STAGES if s != "closed"),
                            value=view.core.stage if view.core and view.core.stage != "closed" else ""),
                  FieldSpec("note", f("note"), required=False)),
        "done": (FieldSpec("clock", f("clock"), "select", done_opts,
                           value=done_opts[0][1] if done_opts else ""),
                 FieldSpec("note", f("note"), required=False)),
        "extend": (FieldSpec("clock", f("clock"), "select", clock_opts,
                             value=clock_opts[0][1] if clock_opts else ""),
                   FieldSpec("due_at", f("due_at"), "time"),
                   FieldSpec("reason", f("reason"))),
        "note": (FieldSpec("text", f("text")),),
        "close": (FieldSpec("summary", f("summary")),),
        "task_feedback": (FieldSpec("task_id", f("task"), "select", task_opts,
                                    value=task_opts[0][1] if task_opts else ""),
                          FieldSpec("text", f("feedback"))),
    }
    if verb not in specs:
        return None

    def note_for_clock(values: dict[str, str]) -> str | None:
        if values.get("clock") in NOTE_REQUIRED and not values.get("note"):
            return t("form.note_required", lang, clock=clock_label(values["clock"], lang))
        return None

    return FormSpec(title=title, fields=specs[verb], check=note_for_clock if verb == "done" else None)


def _title(view: IncidentView) -> str:
    return clean_line(view.core.title, 200) if view.core else view.id


class IncidentActions:
    """Mixin for screens that act on one incident: `target_id()` says which."""

    app: BoardApp

    def target_id(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # On a read-only board the keys still run: `run_action` says they are off, rather than
        # a key press doing nothing at all.
        return True

    def action_act(self, verb: str) -> None:
        self.run_action(verb)

    @work(group="forms", exclusive=True)
    async def run_action(self, verb: str) -> None:
        app = self.app
        lang = app.lang
        if app.read_only:
            app.notify(t("sent.readonly", lang), severity="warning")
            return
        incident_id = self.target_id()
        view = app.model.get(incident_id) if incident_id else None
        if view is None or incident_id is None:
            app.notify(t("sent.no_selection", lang), severity="warning")
            return
        units = app.model.units
        if verb == "task_feedback" and not open_tasks(view):
            app.notify(t("sent.no_task", lang), severity="warning")
            return
        owners = [n.full(lang) for n in units.values()] if units else app.model.matrix()[0]
        spec = form_for(verb, view, lang, owners, app.now(), app.model.grade_labels(), units)
        values: dict[str, str] = {}
        if spec is not None:
            result = await app.push_screen_wait(ActionForm(spec, lang, app.zone))
            if result is None:
                return
            values = result
        if verb in CONFIRM:
            title = truncate(_title(view), 40)
            message = t("confirm.close", lang, title=title) if verb == "close" else \
                t("confirm.regrade", lang, title=title, grade=values.get("grade", ""))
            cancelled = lowered_clocks(view, values.get("grade", ""), app.grade_clocks) if verb == "regrade" else []
            if cancelled:  # lowering a grade: say what happens to the clocks it does not have
                names = ("、" if lang == "zh" else ", ").join(clock_label(c, lang) for c in cancelled)
                message += "\n\n" + t("confirm.lower", lang, grade=values.get("grade", ""), cancel=names)
            if not await app.push_screen_wait(ConfirmScreen(Text(message), lang)):
                return
        # A task is named by its own id (wb.cmd.task_feedback takes no incident_id).
        payload: dict[str, Any] = dict(values) if verb == "task_feedback" else {"incident_id": incident_id, **values}
        if verb in ("stage", "done") and "note" not in payload:
            payload["note"] = ""
        app.send_command(verb, payload)

    APPROVES = False  # the screens that show a statement's text let an approver approve it

    def action_approve(self) -> None:
        self.run_approve()

    @work(group="forms", exclusive=True)
    async def run_approve(self) -> None:
        """Approve the latest statement version: confirmed with its version and digest prefix,
        sent with the full digest (so a version changed meanwhile is refused, not approved)."""
        from watchboard.board.follow import digest_prefix

        app = self.app
        lang = app.lang
        if app.read_only:
            app.notify(t("sent.readonly", lang), severity="warning")
            return
        incident_id = self.target_id()
        view = app.model.get(incident_id) if incident_id else None
        if view is None or incident_id is None:
            app.notify(t("sent.no_selection", lang), severity="warning")
            return
        statements = view.core.statements if view.core else []
        if not statements:
            app.notify(t("sent.no_statement", lang), severity="warning")
            return
        latest = max(statements, key=lambda s: s.version)
        if latest.state != "drafted":
            app.notify(t("sent.statement_done", lang, version=latest.version,
                         state=t(f"statement.{latest.state}", lang)), severity="warning")
            return
        message = t("confirm.approve", lang, title=truncate(_title(view), 40), version=latest.version,
                    digest=digest_prefix(latest.sha256))
        if not await app.push_screen_wait(ConfirmScreen(Text(message), lang)):
            return
        app.send_command("statement_approve", {"incident_id": incident_id, "sha256": latest.sha256})

    def palette_actions(self) -> list[SystemCommand]:
        if self.app.read_only:
            return []
        lang = self.app.lang
        out = [SystemCommand(t(f"action.{v}", lang), t(f"palette.act.{v}", lang), lambda v=v: self.run_action(v))
               for v in VERBS]
        if self.APPROVES:
            out.append(SystemCommand(t("action.statement_approve", lang), t("palette.act.statement_approve", lang),
                                     self.run_approve))
        return out
