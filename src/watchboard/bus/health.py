"""A service instance's health, as `watchboard status` and the Prometheus metrics read it.

The figures live in the running process: each consumer loop's lag and failures
(`ConsumerStats`), the outbox's depth and the age of its oldest row, the dead letters, the
last warning or error logged. `Health.sample()` refreshes the store figures (a few small
SQLite reads) and is called every few seconds by the runtime; `Health.data()` is what the
instance puts in the `data` of its `$SRV.STATS` answer, so status reads it from the NATS
service API with no extra port or subject. `problems()` is the verdict, a pure function.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client

from watchboard.bus.consumer import ConsumerStats
from watchboard.bus.survey import survey

log = logging.getLogger("watchboard.health")

# An outbox row older than this means the bus is not taking the service's effects.
OUTBOX_STUCK = 30.0
ERROR_MAX = 300  # characters of the last error kept (a log line may carry a whole payload)


@dataclass
class StoreFigures:
    outbox: int = 0  # effects committed, not yet in the stream
    outbox_oldest: float = 0.0  # seconds the oldest of them has waited (0: none)
    dead_letters: int = 0  # effects the bus refused for good, set aside


@dataclass
class LastError:
    """The last WARNING or ERROR this process logged (`watchboard.*` loggers)."""

    message: str = ""
    at: float = 0.0  # time.time()
    errors: int = 0
    warnings: int = 0


Problem = dict[str, Any]  # {"code": …, and its figures}; words in `describe` (en) and the CLI (zh)


def problems(consumers: Mapping[str, ConsumerStats], store: StoreFigures) -> list[Problem]:
    """What is wrong with the instance ([]: healthy).

    Lag alone is not a problem (a burst of reports makes some); a consumer whose last fetch or
    batch failed is, as are effects the bus has not taken for a while and effects set aside."""
    out: list[Problem] = []
    for durable, stats in sorted(consumers.items()):
        if stats.failing:
            out.append({"code": "consumer_failing", "consumer": durable, "error": stats.last_error[:120]})
    if store.outbox and store.outbox_oldest >= OUTBOX_STUCK:
        out.append({"code": "outbox_stuck", "count": store.outbox, "oldest": round(store.outbox_oldest)})
    if store.dead_letters:
        out.append({"code": "dead_letters", "count": store.dead_letters})
    return out


WORDS = {
    "en": {"consumer_failing": "consumer {consumer} failing ({error})",
           "outbox_stuck": "{count} effects waiting for the bus, the oldest {oldest}s",
           "dead_letters": "{count} dead letters (effects the bus refused; see the log)"},
    "zh": {"consumer_failing": "消费者 {consumer} 处理出错（详见服务日志）",
           "outbox_stuck": "{count} 条结果未能发上总线，最早的已等 {oldest} 秒",
           "dead_letters": "{count} 条结果被总线拒收，已移出（详见服务日志）"},
}


def describe(found: list[Problem], lang: str = "en") -> str:
    words = WORDS["zh" if lang == "zh" else "en"]
    return ("；" if lang == "zh" else "; ").join(
        words[p["code"]].format(**p) if p.get("code") in words else str(p.get("code")) for p in found)


class ErrorLog(logging.Handler):
    """Keeps the last warning or error of the process (one service per process in production;
    in-process tests share it)."""

    def __init__(self, last: LastError) -> None:
        super().__init__(logging.WARNING)
        self.last = last

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not break logging
            text = str(record.msg)
        self.last.message = text[:ERROR_MAX]
        self.last.at = record.created
        if record.levelno >= logging.ERROR:
            self.last.errors += 1
        else:
            self.last.warnings += 1


class Health:
    """One instance's figures. The runtime gives it the consumers' stats and, once the service
    has started, the running service (its `outbox`, when it has one)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.consumers: dict[str, ConsumerStats] = {}
        self.store = StoreFigures()
        self.last = LastError()
        self.running: Any = None  # the running service: `outbox`, optional `gauges()`
        self.gauges: dict[str, Any] = {}  # the service's own figures (clocks running, notices by status)
        self._handler: ErrorLog | None = None

    def watch_log(self) -> None:
        if self._handler is None:
            self._handler = ErrorLog(self.last)
            logging.getLogger("watchboard").addHandler(self._handler)

    def unwatch_log(self) -> None:
        if self._handler is not None:
            logging.getLogger("watchboard").removeHandler(self._handler)
            self._handler = None

    @property
    def lag(self) -> int:
        return sum(s.lag for s in self.consumers.values())

    async def sample(self) -> None:
        """Read the store figures and the service's own ones (bounded: a busy store answers late,
        the old figures stay)."""
        running = self.running
        if running is None:
            return
        outbox = getattr(running, "outbox", None)
        if outbox is not None:
            try:
                self.store = await asyncio.wait_for(store_figures(outbox.db, outbox.table), 2)
            except Exception as exc:  # a closed or busy store: keep the last figures
                log.debug("%s: health sample: %s", self.service, exc)
        gauges = getattr(running, "gauges", None)
        if gauges is not None:
            with contextlib.suppress(Exception):
                self.gauges = await asyncio.wait_for(gauges(), 2)

    def problems(self) -> list[Problem]:
        return problems(self.consumers, self.store)

    def data(self) -> dict[str, Any]:
        """What `$SRV.STATS` carries (JSON)."""
        return {
            "health": "ok" if not (found := self.problems()) else "degraded",
            "problems": found,
            "lag": self.lag,
            "consumers": {d: {"lag": s.lag, "events": s.events, "failures": s.failures, "failing": s.failing}
                          for d, s in self.consumers.items()},
            "outbox": self.store.outbox,
            "dead_letters": self.store.dead_letters,
            "last_error": self.last.message,
            "last_error_at": self.last.at,
            **{k: v for k, v in self.gauges.items() if isinstance(v, int | float | dict)},
        }


async def store_figures(db: Any, table: str = "outbox") -> StoreFigures:
    async with db.execute(f"SELECT COUNT(*), MIN(created_at) FROM {table}") as cur:
        count, oldest = await cur.fetchone()
    async with db.execute("SELECT COUNT(*) FROM dead_letters") as cur:
        (dead,) = await cur.fetchone()
    age = max(0.0, time.time() - oldest) if count and oldest else 0.0
    return StoreFigures(int(count or 0), age, int(dead or 0))


@dataclass(frozen=True)
class InstanceHealth:
    """One instance's `$SRV.STATS` answer, as status shows it."""

    id: str
    service: str
    data: dict[str, Any] = field(default_factory=dict)


async def instance_health(nc: Client, wait: float = 1.0) -> dict[str, InstanceHealth]:
    """instance id → its health, from one `$SRV.STATS` round ({} where this identity may not ask)."""
    out: dict[str, InstanceHealth] = {}
    for stats in await survey(nc, "$SRV.STATS", wait):
        with contextlib.suppress(AttributeError, TypeError, KeyError):
            data = next((e["data"] for e in stats.get("endpoints") or [] if isinstance(e.get("data"), dict)), {})
            out[str(stats["id"])] = InstanceHealth(str(stats["id"]), str(stats.get("name", "")), data)
    return out
