"""The typed commands: decoding refuses with the field named; the documented table is the code's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watchboard.bus.subjects import COMMAND_OWNER
from watchboard.domain.command_table import markdown
from watchboard.domain.commands import BY_VERB, COMMANDS, Assign, Done, Extend, Sweep, decode_command
from watchboard.domain.errors import Invalid

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_page_lists_the_command_structs() -> None:
    """docs/architecture.md's command table is generated from the Structs and cannot drift."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    begin, end = page.index("<!-- commands:begin -->\n"), page.index("<!-- commands:end -->")
    assert page[begin + len("<!-- commands:begin -->\n"):end] == markdown()


def test_every_command_has_a_verb_and_a_service() -> None:
    """Each Struct names its verb and the one service that answers it."""
    assert {c.verb for c in COMMANDS} == set(COMMAND_OWNER) == set(BY_VERB)
    assert set(COMMAND_OWNER.values()) == {"intake", "grading", "deadlines", "notify"}


def body(**fields: object) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode()


def test_a_good_command_decodes() -> None:
    """Fields and defaults as sent; a frozen Struct."""
    cmd = decode_command(Done, body(incident_id="X", clock="report_up", actor="李", note="电话"))
    assert (cmd.incident_id, cmd.clock, cmd.actor, cmd.note) == ("X", "report_up", "李", "电话")
    assert decode_command(Assign, body(incident_id="X", owner="education", actor="li")).assisting == []


@pytest.mark.parametrize(("type_", "raw", "field", "words"), [
    (Done, body(clock="report_up", actor="li"), "incident_id", "`incident_id` is required"),
    (Done, body(incident_id="X", clock="report_up"), "actor", "`actor` is required"),
    (Done, body(incident_id="X", clock=3, actor="li"), "clock", "must be a string, got a whole number"),
    (Done, body(incident_id="X", clock="c", actor="li", notes="typo"), "notes", "unknown field `notes`"),
    (Done, body(incident_id="X", clock="c", actor="a" * 101), "actor", "too long: at most 100 characters"),
    (Done, body(incident_id="X", clock="c", actor="li", note="x" * 2001), "note", "at most 2,000 characters"),
    (Extend, body(incident_id="X", clock="c", actor="li", due_at=None), "due_at", "must be a string, got null"),
    (Assign, body(incident_id="X", owner="o", actor="li", assisting="health"), "assisting", "must be a list"),
    (Assign, body(incident_id="X", owner="o", actor="li", assisting=["a"] * 21), "assisting", "at most 20 items"),
    (Sweep, b"[]", "body", "must be a JSON object, got a list"),
    (Sweep, b"{not json", "body", "not a JSON object"),
])
def test_a_bad_command_names_its_field(type_: type, raw: bytes, field: str, words: str) -> None:
    """msgspec's refusal becomes `invalid` with the field, in words, never a Python type name."""
    with pytest.raises(Invalid) as info:
        decode_command(type_, raw)
    assert info.value.field == field
    assert words in info.value.message
    assert "Expected" not in info.value.message and "$." not in info.value.message
