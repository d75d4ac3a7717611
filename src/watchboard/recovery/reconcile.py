"""Views that converge: a service compares its KV keys (`<id>.<part>`) with the views its state
gives, at start and every `recovery.reconcile_every`, and repairs what differs:

- missing: the state has a view, the bucket no key (a crash between commit and put);
- stale: the value differs from the state's view (`updated_at` aside: it says when, not what);
- too large: the state's view does not fit one message, and the bucket does not hold its
  summary (domain.bounds.fit_view);
- extra: a key of the service's part for an incident its state does not know (deleted); with
  `spare`, those it names are left (a state on disk but out of memory, issue 13).

Race-free without holding the service's lock: the bucket is read first (each key's revision),
the state after. A view in the bucket was put after its state was committed, so the state read
afterwards is at least as new; each repair is a compare-and-set on the revision read (`create`
for a missing key, `update(last=)` for a stale one, `delete(last=)` for an extra), so a view
the service put meanwhile — from an even newer state — is never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from watchboard.domain.bounds import fit_view
from watchboard.domain.views import decode_view, kv_key

log = logging.getLogger("watchboard.reconcile")

# What a compare-and-set refused because the key changed meanwhile (wrong last sequence, or a
# key created since): anything else (a timeout, no connection) fails the round, tried again later.
_RACED = (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.BadRequestError)

Snapshot = Callable[[], Awaitable[Mapping[str, msgspec.Struct]]]  # incident id → its view
CHUNK = 200  # repairs in flight at once
READ_IDLE = 5.0  # seconds without a key while reading the bucket: give up this round


@dataclass
class Outcome:
    checked: int = 0
    missing: int = 0
    stale: int = 0
    oversize: int = 0
    extra: int = 0
    raced: int = 0  # changed meanwhile by the service itself: left to it

    @property
    def repaired(self) -> int:
        return self.missing + self.stale + self.oversize + self.extra

    def __str__(self) -> str:
        return (f"{self.checked:,} views checked; rewritten: {self.missing} missing, {self.stale} stale, "
                f"{self.oversize} too large; {self.extra} removed")


async def read_part(kv: KeyValue, part: str) -> dict[str, tuple[int, bytes]]:
    """Every `<id>.<part>` key now in the bucket: incident id → (revision, value).

    Read by direct get (bus/reader.py), which a service may do with roles on (a KV watcher would
    need a consumer on the bucket's stream, which no service's permissions give). `sys.*` keys
    are facts of no incident (`sys.notices` is a `*.notices` key): never an incident's view."""
    from watchboard.bus.reader import KV_PREFIX, KV_STREAM, scan

    nc = kv._js._nc  # the connection the bucket was opened on
    found: dict[str, tuple[int, bytes]] = {}
    for stored in await scan(nc, KV_STREAM, f"{KV_PREFIX}*.{part}", batch=1000, timeout=30):
        incident = stored.subject[len(KV_PREFIX):].rpartition(".")[0]
        if incident == "sys":
            continue
        if stored.headers.get("KV-Operation") in ("DEL", "PURGE") or not stored.data:
            found.pop(incident, None)
        else:
            found[incident] = (stored.seq, stored.data)
    return found


def same_view(part: str, have: bytes, want: bytes) -> bool:
    """Whether two values of `part` say the same (`updated_at` aside)."""
    if have == want:
        return True
    a, b = decode_view(part, have), decode_view(part, want)
    if a is None or b is None:
        return False
    return msgspec.structs.replace(a, updated_at=None) == msgspec.structs.replace(b, updated_at=None)  # type: ignore[call-arg]


Spare = Callable[[list[str]], Awaitable[set[str]]]  # of these extra incidents, those to leave


async def reconcile(kv: KeyValue, part: str, snapshot: Snapshot, limit: int, *, service: str = "",
                    remove_extra: bool = True, spare: Spare | None = None) -> Outcome:
    """Repair the `<id>.<part>` keys so they say what the state says (see the module docstring)."""
    have = await read_part(kv, part)
    want = await snapshot()  # read after the bucket: at least as new as any value in it
    out = Outcome(checked=len(want))
    jobs: list[Callable[[], Awaitable[None]]] = []
    for incident, view in want.items():
        key = kv_key(incident, part)
        data, summarised = fit_view(view, limit)
        current = have.get(incident)
        if current is None:
            out.missing += 1
            jobs.append(_create(kv, key, data, out))
        elif not same_view(part, current[1], data):
            if summarised:
                out.oversize += 1
            else:
                out.stale += 1
            jobs.append(_update(kv, key, data, current[0], out))
    if remove_extra:
        extra = [i for i in have if i not in want]
        left = await spare(extra) if spare is not None and extra else set()
        for incident in extra:
            revision = have[incident][0]
            if incident not in left:
                out.extra += 1
                jobs.append(_delete(kv, kv_key(incident, part), revision, out))
    for start in range(0, len(jobs), CHUNK):
        await asyncio.gather(*(job() for job in jobs[start:start + CHUNK]))
    if out.repaired:
        log.warning("%s: reconciled <id>.%s: %s", service, part, out)
    else:
        log.debug("%s: reconciled <id>.%s: %s", service, part, out)
    return out


def _create(kv: KeyValue, key: str, data: bytes, out: Outcome) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        try:
            await asyncio.wait_for(kv.create(key, data), 6)
        except _RACED:  # created meanwhile by the service: its value is newer
            out.raced += 1
    return job


def _update(kv: KeyValue, key: str, data: bytes, revision: int, out: Outcome) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        try:
            await asyncio.wait_for(kv.update(key, data, last=revision), 6)
        except _RACED:
            out.raced += 1
    return job


def _delete(kv: KeyValue, key: str, revision: int, out: Outcome) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        try:
            await asyncio.wait_for(kv.delete(key, last=revision), 6)
        except _RACED:
            out.raced += 1
    return job
