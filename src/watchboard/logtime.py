"""Log lines stamped in the configured zone (Asia/Shanghai by default), with its offset.

A duty officer reads `up`'s terminal and the services' logs: their times must be the room's
time, not the server's (often UTC). The zone comes from watchboard.toml; a config that cannot
be read yet (the error is reported elsewhere) falls back to Asia/Shanghai.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


class ZoneFormatter(logging.Formatter):
    """`2026-11-27 20:14:12+08:00 watchboard.bus INFO …`"""

    def __init__(self, fmt: str, zone: ZoneInfo) -> None:
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        at = datetime.fromtimestamp(record.created, self.zone)
        return at.strftime(datefmt) if datefmt else at.isoformat(sep=" ", timespec="seconds")


def configured_zone(config_dir: object = None, profile: object = None) -> ZoneInfo:
    try:
        from watchboard.config import ConfigSource, load_watchboard

        return load_watchboard(ConfigSource(config_dir, profile)).zone()  # type: ignore[arg-type]
    except Exception:
        return ZoneInfo(DEFAULT_ZONE)


def set_up(level: int, zone: ZoneInfo) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter("%(asctime)s %(name)s %(levelname)s %(message)s", zone))
    logging.basicConfig(level=level, handlers=[handler])
