"""recovery.reconcile on a real bucket: missing, stale, too large and stray keys repaired; a
value the service put meanwhile (from a newer state) is never overwritten."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client

from watchboard.bus.jetstream import ensure_board_bucket
from watchboard.config import WatchboardConfig
from watchboard.domain.views import GradeView, NoticesView, NoticeView, encode_view
from watchboard.recovery.reconcile import reconcile, same_view

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def grade(g: str, at: datetime = AT) -> GradeView:
    return GradeView(grade=g, reasons=["r"], updated_at=at)


async def test_missing_stale_oversize_and_stray_keys_are_repaired(nc: Client) -> None:
    kv = await ensure_board_bucket(nc.jetstream(timeout=5), WatchboardConfig())
    await kv.put("A.grade", encode_view(grade("II")))  # right, but put at another time
    await kv.put("B.grade", encode_view(grade("IV")))  # stale
    await kv.put("STRAY.grade", encode_view(grade("I")))  # no such incident
    await kv.put("A.core", b"{}")  # another part: not this round's business
    await kv.put("D.grade", b'{"notices": []}')  # its view has grown past one message since
    big = NoticesView(notices=[NoticeView(to=f"p{i}", channel="webhook", status="sent") for i in range(2_000)])
    want = {"A": grade("II", datetime(2026, 11, 24, tzinfo=UTC)), "B": grade("II"), "C": grade("III"), "D": big}

    async def snapshot() -> dict[str, msgspec.Struct]:
        return want

    # "D" holds a NoticesView here only to have a view too large for 8 kB; reconcile is per part.
    out = await reconcile(kv, "grade", snapshot, 8 * 1024, service="test")
    assert (out.checked, out.missing, out.stale, out.oversize, out.extra, out.raced) == (4, 1, 1, 1, 1, 0)
    assert msgspec.json.decode((await kv.get("B.grade")).value)["grade"] == "II"
    assert msgspec.json.decode((await kv.get("C.grade")).value)["grade"] == "III"
    d = msgspec.json.decode((await kv.get("D.grade")).value)
    assert d["summarised"] is True and len((await kv.get("D.grade")).value) <= 8 * 1024
    assert (await kv.get("A.core")).value == b"{}"
    assert "STRAY.grade" not in await kv.keys()
    again = await reconcile(kv, "grade", snapshot, 8 * 1024, service="test")
    assert again.repaired == 0 and again.checked == 4


async def test_a_key_rewritten_meanwhile_is_left_to_the_service(nc: Client) -> None:
    """The service puts a newer view between the round's read and its write: the round's
    compare-and-set fails and the newer value stays."""
    kv = await ensure_board_bucket(nc.jetstream(timeout=5), WatchboardConfig())
    await kv.put("A.grade", encode_view(grade("IV")))

    async def snapshot() -> dict[str, msgspec.Struct]:
        await kv.put("A.grade", encode_view(grade("I")))  # the service, from a newer state
        await kv.put("N.grade", encode_view(grade("I")))  # and a key created meanwhile
        return {"A": grade("II"), "N": grade("II")}

    out = await reconcile(kv, "grade", snapshot, 1 << 20, service="test")
    assert out.raced == 2
    assert msgspec.json.decode((await kv.get("A.grade")).value)["grade"] == "I"
    assert msgspec.json.decode((await kv.get("N.grade")).value)["grade"] == "I"


def test_same_view_ignores_when_it_was_written() -> None:
    a = encode_view(grade("II", AT))
    assert same_view("grade", a, encode_view(grade("II", datetime(2027, 1, 1, tzinfo=UTC))))
    assert not same_view("grade", a, encode_view(grade("III", AT)))
    assert not same_view("grade", b"not json", a)


async def test_spared_stray_keys_are_left(nc: Client) -> None:
    """A key the state does not hold in memory but the service still knows (issue 13: on disk,
    evicted) is left to the history's sweep; an unknown one is removed."""
    kv = await ensure_board_bucket(nc.jetstream(timeout=5), WatchboardConfig())
    await kv.put("EVICTED.grade", encode_view(grade("II")))
    await kv.put("STRAY.grade", encode_view(grade("I")))
    asked: list[list[str]] = []

    async def snapshot() -> dict[str, msgspec.Struct]:
        return {"A": grade("II")}

    async def spare(extra: list[str]) -> set[str]:
        asked.append(sorted(extra))
        return {i for i in extra if i == "EVICTED"}

    out = await reconcile(kv, "grade", snapshot, 1 << 20, service="test", spare=spare)
    assert (out.missing, out.extra) == (1, 1) and asked == [["EVICTED", "STRAY"]]
    keys = await kv.keys()
    assert "EVICTED.grade" in keys and "STRAY.grade" not in keys
