"""Evidence files: what intake records, given what it read back from the bucket. Pure."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from watchboard.domain import incident
from watchboard.domain.commands import Ctx, EvidenceAdd
from watchboard.domain.errors import Conflict, Invalid, NotFound
from watchboard.domain.events import IncidentReported, Mention
from watchboard.domain.evidence import (
    CHUNK,
    Observed,
    accept_chunk,
    check_complete,
    check_upload,
    decide_add,
    human_size,
)
from watchboard.domain.views import CoreView

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DATA = b"\x89PNG screenshot of the post"
SHA = hashlib.sha256(DATA).hexdigest()
OTHER = hashlib.sha256(b"something else").hexdigest()
LIMIT = 1000


def record() -> CoreView:
    core = incident.apply(None, IncidentReported(id="r", incident_id="A", at=T0, actor="m", title="t",
                                                 mention=Mention(platform="weibo")))
    assert core is not None
    return core


def cmd(**change: object) -> EvidenceAdd:
    fields: dict[str, object] = {"incident_id": "A", "actor": "monitor-01", "name": "post.png", "sha256": SHA,
                                 "size": len(DATA), "media_type": "image/png"}
    return EvidenceAdd(**(fields | change))  # type: ignore[arg-type]


def test_a_stored_file_is_recorded_with_its_digest_size_type_and_who() -> None:
    event = decide_add(record(), cmd(), Ctx(T0, "R1"), Observed(SHA, len(DATA)), LIMIT)
    assert (event.name, event.sha256, event.size, event.media_type, event.object, event.bucket, event.actor) == (
        "post.png", SHA, len(DATA), "image/png", SHA, "wb-evidence", "monitor-01")
    core = incident.apply(record(), event)
    assert core is not None and [(f.name, f.sha256, f.added_by) for f in core.evidence_files] == [
        ("post.png", SHA, "monitor-01")]


@pytest.mark.parametrize(("change", "observed", "error", "field", "words"), [
    ({"size": 5000}, None, Invalid, "size", "at most 1,000 bytes (evidence.max_bytes in intake.toml)"),
    ({}, Observed("", 5000), Invalid, "size", "is 4.9 KB; evidence files may be at most 1,000 bytes"),
    ({}, None, NotFound, "object", "no object"),
    ({}, Observed(OTHER, len(DATA)), Conflict, "sha256", "altered"),
    ({}, Observed(SHA, len(DATA) + 1), Conflict, "sha256", "altered"),
    ({"sha256": "xyz"}, Observed(SHA, len(DATA)), Invalid, "sha256", "64 characters"),
    ({"name": "../etc/passwd"}, Observed(SHA, len(DATA)), Invalid, "name", "not a file name"),
    ({"name": ""}, Observed(SHA, len(DATA)), Invalid, "name", "not a file name"),
    ({"media_type": "png"}, Observed(SHA, len(DATA)), Invalid, "media_type", "not a media type"),
])
def test_refusals_name_the_field(change: dict[str, object], observed: Observed | None, error: type, field: str,
                                 words: str) -> None:
    """Over the limit (claimed or found), not stored, altered, or malformed: refused, saying why."""
    with pytest.raises(error) as info:
        decide_add(record(), cmd(**change), Ctx(T0, "R1"), observed, LIMIT)
    assert info.value.field == field and words in info.value.message


def test_nothing_kept_is_replaced() -> None:
    """The same file twice, or another file under a kept name: conflict."""
    core = incident.apply(record(), decide_add(record(), cmd(), Ctx(T0, "R1"), Observed(SHA, len(DATA)), LIMIT))
    with pytest.raises(Conflict) as info:
        decide_add(core, cmd(name="again.png"), Ctx(T0, "R2"), Observed(SHA, len(DATA)), LIMIT)
    assert info.value.field == "sha256" and "already kept" in info.value.message
    with pytest.raises(Conflict) as info:
        decide_add(core, cmd(sha256=OTHER, size=14), Ctx(T0, "R3"), Observed(OTHER, 14), LIMIT)
    assert info.value.field == "name"


@pytest.mark.parametrize(("n", "text"), [(0, "0 bytes"), (1023, "1,023 bytes"), (1024, "1 KB"),
                                         (52_428_800, "50 MB"), (1536 * 1024, "1.5 MB")])
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


# --- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("sha256", "size", "error", "field"), [
    (SHA, 10, None, None),
    (SHA.upper(), 0, None, None),  # an empty file may be kept; the digest is read case-blind
    ("", 10, Invalid, "sha256"),
    ("xyz", 10, Invalid, "sha256"),
    (SHA, -1, Invalid, "size"),
    (SHA, "10", Invalid, "size"),
    (SHA, True, Invalid, "size"),
    (SHA, LIMIT + 1, Invalid, "size"),
])
def test_check_upload(sha256: str, size: object, error: type | None, field: str | None) -> None:
    """An upload begins only for a digest and a size within evidence.max_bytes."""
    if error is None:
        assert check_upload(sha256, size, LIMIT) == (SHA, size)
        return
    with pytest.raises(error) as info:
        check_upload(sha256, size, LIMIT)
    assert info.value.field == field


@pytest.mark.parametrize(("held", "offset", "length", "size", "new", "error", "field"), [
    (0, 0, CHUNK, 3 * CHUNK, True, None, None),  # the next chunk
    (CHUNK, CHUNK, 10, CHUNK + 10, True, None, None),  # the last, short one
    (CHUNK, 0, CHUNK, 3 * CHUNK, False, None, None),  # a retry of one held: nothing to write
    (2 * CHUNK, CHUNK, CHUNK, 3 * CHUNK, False, None, None),
    (5, 5, 0, 5, False, None, None),  # an empty chunk at the very end
    (0, 0, CHUNK + 1, 3 * CHUNK, None, Invalid, "chunk"),  # over the bound
    (0, 0, 0, 10, None, Invalid, "chunk"),  # empty before the end
    (0, -1, 10, 10, None, Invalid, "offset"),
    (0, 0, 20, 10, None, Invalid, "size"),  # past the size declared
    (CHUNK, 2 * CHUNK, CHUNK, 3 * CHUNK, None, Conflict, "offset"),  # a gap
    (CHUNK, CHUNK - 5, 10, 3 * CHUNK, None, Conflict, "offset"),  # overlaps the end of what is held
])
def test_accept_chunk(held: int, offset: int, length: int, size: int, new: bool | None, error: type | None,
                      field: str | None) -> None:
    """A chunk is appended only where intake is; retries are harmless; the rest is refused,
    a misplaced one with where to resume."""
    if error is None:
        assert accept_chunk(held, offset, length, size) is new
        return
    with pytest.raises(error) as info:
        accept_chunk(held, offset, length, size)
    assert info.value.field == field
    if error is Conflict:
        assert f"send from offset {held:,}" in info.value.message


@pytest.mark.parametrize(("held", "digest", "field"), [
    (len(DATA), SHA, None),
    (len(DATA) - 1, SHA, "size"),
    (len(DATA), OTHER, "sha256"),
])
def test_check_complete(held: int, digest: str, field: str | None) -> None:
    """The whole is stored only when every byte arrived and the digest is the one declared."""
    if field is None:
        check_complete(held, len(DATA), digest, SHA)
        return
    with pytest.raises(Conflict) as info:
        check_complete(held, len(DATA), digest, SHA)
    assert info.value.field == field
