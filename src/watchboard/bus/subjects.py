"""Subject names, built in one pure function per kind (table-tested in tests/unit)."""

from __future__ import annotations

from dataclasses import dataclass

from watchboard.domain.commands import COMMANDS
from watchboard.domain.events import NO_INCIDENT

STREAM = "WATCHBOARD"
SERVICES = ("intake", "grading", "deadlines", "notify")

# Which service answers which command (DESIGN.md §4.2): each command Struct says.
COMMAND_OWNER: dict[str, str] = {c.verb: c.service for c in COMMANDS}


@dataclass(frozen=True)
class Subjects:
    prefix: str = "wb"

    @property
    def events(self) -> str:
        """Everything the stream holds: `wb.ev.>`."""
        return f"{self.prefix}.ev.>"

    def event(self, service: str, incident_id: str | None, event_type: str) -> str:
        """`wb.ev.grading.01J….incident.graded`; events of no incident use `_`."""
        return f"{self.prefix}.ev.{service}.{incident_id or NO_INCIDENT}.{event_type}"

    def from_service(self, service: str) -> str:
        return f"{self.prefix}.ev.{service}.>"

    def of_incident(self, incident_id: str) -> str:
        return f"{self.prefix}.ev.*.{incident_id}.>"

    def command(self, verb: str) -> str:
        return f"{self.prefix}.cmd.{verb}"

    @property
    def submit(self) -> str:
        return f"{self.prefix}.intake.submit"

    def evidence(self, op: str) -> str:
        """`wb.evidence.begin|chunk|end`: an evidence file carried to intake in chunks."""
        return f"{self.prefix}.evidence.{op}"

    def forwarded(self, service: str) -> str:
        """Where a standby instance hands on the requests it took: only the active instance
        listens (`wb.active.intake.<subject>`), inside the services' account."""
        return f"{self.prefix}.active.{service}"

    def replica(self, service: str) -> str:
        """The active instance's store changes, for its standbys: `wb.replica.grading`."""
        return f"{self.prefix}.replica.{service}"

    def requests_of(self, service: str) -> list[tuple[str, str]]:
        """(endpoint name, subject) of every request `service` answers."""
        out = [("submit", self.submit), *((f"evidence_{op}", self.evidence(op)) for op in ("begin", "chunk", "end"))] \
            if service == "intake" else []
        return out + [(c.verb, self.command(c.verb)) for c in COMMANDS if c.service == service]

    def parse_event(self, subject: str) -> tuple[str, str, str] | None:
        """`wb.ev.grading.X.incident.graded` → ("grading", "X", "incident.graded")."""
        head = f"{self.prefix}.ev."
        if not subject.startswith(head):
            return None
        parts = subject[len(head):].split(".", 2)
        if len(parts) != 3:
            return None
        return parts[0], parts[1], parts[2]
