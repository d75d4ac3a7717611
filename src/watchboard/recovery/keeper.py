"""A service's views of one part (`<id>.core`, `<id>.grade`, …): put fitted to one message, owed
when a put fails (put again by the next round, not by redelivery: the batch is committed and
its events count as processed), and reconciled with the state at start and periodically.

    views = ViewKeeper(rt, "grade", current=lambda i: view_of(states.get(i)), snapshot=all_views)
    await views.put({incident: view, ...})    # after the facts are in the stream
    await views.put_owed()                     # housekeeping
    views.schedule()                           # reconcile at start and every recovery.reconcile_every

With a `HistoryKeeper` (issue 13) the keeper puts no view of an incident that has left the board
(closed over `history.board_retention` ago), reconciles only those on it, and never removes the
key of an incident whose state is on disk but out of memory: the history's sweep purges those.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

import msgspec

from watchboard.bus.runtime import Runtime
from watchboard.domain.views import kv_key
from watchboard.recovery.reconcile import Outcome, Snapshot, reconcile
from watchboard.recovery.views import encode_fitted, view_limit

if TYPE_CHECKING:
    from watchboard.bus.history import HistoryKeeper

log = logging.getLogger("watchboard.views")

Current = Callable[[str], msgspec.Struct | None]  # the view of one incident now (None: none)


class ViewKeeper:
    def __init__(self, rt: Runtime, part: str, *, current: Current, snapshot: Snapshot,
                 history: HistoryKeeper | None = None) -> None:
        self.rt, self.part, self.current, self.snapshot = rt, part, current, snapshot
        self.history = history
        self.owed: set[str] = set()  # incidents whose view a failed put still owes
        self.last: Outcome | None = None  # the last reconcile round

    @property
    def limit(self) -> int:
        return view_limit(self.rt.nc)

    async def put(self, views: Mapping[str, msgspec.Struct]) -> bool:
        """Put `views` (incident → view); a failure is logged and owed, never raised. True if all went."""
        if self.history is not None:
            views = {i: v for i, v in views.items() if self.history.on_board(i)}
        if not views:
            return True
        items = encode_fitted({kv_key(i, self.part): v for i, v in views.items()}, self.limit, self.rt.name)
        try:
            await self.rt.kv_put_many(items)
        except Exception as exc:
            self.owed.update(views)
            log.warning("%s: putting %d <id>.%s views failed (%s); put again on the next round", self.rt.name,
                        len(views), self.part, exc)
            return False
        self.owed.difference_update(views)
        return True

    async def put_owed(self) -> None:
        if not self.owed:
            return
        owed = list(self.owed)
        views = {i: v for i in owed if (v := self.current(i)) is not None}
        self.owed.difference_update(set(owed) - set(views))
        await self.put(views)

    async def put_now(self, incidents: Iterable[str]) -> bool:
        """Put the current view of each incident (after a change was committed)."""
        return await self.put({i: v for i in dict.fromkeys(incidents) if (v := self.current(i)) is not None})

    async def reconcile(self) -> Outcome:
        assert self.rt.kv is not None
        history = self.history
        if history is None:
            self.last = await reconcile(self.rt.kv, self.part, self.snapshot, self.limit, service=self.rt.name)
            return self.last

        async def on_board() -> Mapping[str, msgspec.Struct]:
            return {i: v for i, v in (await self.snapshot()).items() if history.on_board(i)}

        self.last = await reconcile(self.rt.kv, self.part, on_board, self.limit, service=self.rt.name,
                                    spare=history.held)
        return self.last

    def schedule(self, before: Callable[[], Awaitable[None]] | None = None) -> None:
        """Reconcile at start and every `recovery.reconcile_every` ("0": at start only)."""
        every = self.rt.wb.recovery.reconcile_seconds()

        async def once() -> None:
            if before is not None:
                await before()
            await self.reconcile()

        if every > 0:
            self.rt.every(every, once, f"reconciling <id>.{self.part}")
        else:
            self.rt.task(once)
