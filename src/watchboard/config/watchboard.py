"""watchboard.toml: the bus, the zone, the language and the active profile of one site."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from watchboard.config.loader import DEFAULT_PROFILE, ConfigError, Source, load, parse_seconds


class StreamConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    replicas: int = 1
    max_age: str = "365d"  # how long events are kept; "0" keeps them for ever
    duplicate_window: str = "10m"
    # nats-server `jetstream.sync_interval`: "always" fsyncs every write (see README).
    sync_interval: str = "always"


class WebConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`watchboard board --web`: HTTPS, where the logins are, how long one lasts."""

    # HTTPS when both are set (e.g. web.crt and web.key of `watchboard auth init --tls`).
    tls_cert: str = ""
    tls_key: str = ""
    # The auth folder holding identities.json, passwords.json and the credentials of the people
    # who log in ("": <data>/auth, as `watchboard up` keeps it).
    auth_dir: str = ""
    session: str = "12h"  # a login lasts this long


class HistoryConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How long closed incidents stay in the hot path (their facts stay in the stream for good)."""

    # A closed incident's keys leave the board's bucket `wb-board` this long after it closed
    # (each service purges its own); `show`, `ls --all` and the reports read it from the stream.
    board_retention: str = "7d"
    # Services keep a closed incident in memory this long after it closed (and intake's merge
    # index the incidents seen within it); an older one is read from the store when named.
    keep_closed: str = "30d"

    def board_retention_seconds(self) -> float:
        return parse_seconds(self.board_retention) or 0.0

    def keep_closed_seconds(self) -> float:
        return parse_seconds(self.keep_closed) or 0.0


class RecoveryConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Each service compares its KV views with its state at start and this often, and rewrites
    # the missing, stale or too large ones: after a crash the board shows what the stream says
    # within this period. "0" checks at start only.
    reconcile_every: str = "10m"

    def reconcile_seconds(self) -> float:
        return 0.0 if self.reconcile_every == "0" else parse_seconds(self.reconcile_every) or 0.0


class WatchboardConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    subject_prefix: str = "wb"
    timezone: str = "Asia/Shanghai"
    language: str = "zh"
    profile: str = DEFAULT_PROFILE
    nats_url: str = "nats://127.0.0.1:4222"
    stream: StreamConfig = msgspec.field(default_factory=StreamConfig)
    web: WebConfig = msgspec.field(default_factory=WebConfig)
    history: HistoryConfig = msgspec.field(default_factory=HistoryConfig)
    recovery: RecoveryConfig = msgspec.field(default_factory=RecoveryConfig)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def check_watchboard(cfg: WatchboardConfig, file: str = "watchboard.toml") -> None:
    """Cross-field checks; raise ConfigError naming file, key and the offending value."""
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(file, "timezone", f"unknown time zone {cfg.timezone!r}; "
                          "use an IANA name such as 'Asia/Shanghai'") from exc
    if cfg.language not in ("zh", "en"):
        raise ConfigError(file, "language", f"{cfg.language!r} is not one of 'zh', 'en'")
    if cfg.stream.replicas not in (1, 3, 5):
        raise ConfigError(file, "stream.replicas", f"{cfg.stream.replicas} is not 1, 3 or 5")
    for key in ("max_age", "duplicate_window"):
        value = getattr(cfg.stream, key)
        if value != "0" and parse_seconds(value) is None:
            raise ConfigError(file, f"stream.{key}", f"{value!r} is not a duration like '90s', "
                              "'10m', '2h' or '365d'")
    if cfg.stream.sync_interval != "always" and parse_seconds(cfg.stream.sync_interval) is None:
        raise ConfigError(file, "stream.sync_interval",
                          f"{cfg.stream.sync_interval!r} is not 'always' or a duration like '2m'")
    if bool(cfg.web.tls_cert) != bool(cfg.web.tls_key):
        key = "web.tls_key" if cfg.web.tls_cert else "web.tls_cert"
        raise ConfigError(file, key, "HTTPS needs both web.tls_cert and web.tls_key (or neither)")
    seconds = parse_seconds(cfg.web.session)
    if seconds is None or not 60 <= seconds <= 7 * 86400:
        raise ConfigError(file, "web.session", f"{cfg.web.session!r} is not a duration from '1m' to '7d'")
    for key in ("board_retention", "keep_closed"):
        value = getattr(cfg.history, key)
        seconds = parse_seconds(value)
        if seconds is None or seconds < 86400:
            raise ConfigError(file, f"history.{key}", f"{value!r} is not a duration of a day or more like "
                              "'7d' or '30d' (the board shows today's closed incidents whatever this says)")
    every = cfg.recovery.reconcile_every
    if every != "0" and not (parse_seconds(every) or 0) >= 1:
        raise ConfigError(file, "recovery.reconcile_every", f"{every!r} is not '0' or a duration of a second or "
                          "more like '30s' or '10m'")
    if not cfg.subject_prefix or any(c in cfg.subject_prefix for c in " .*>"):
        raise ConfigError(file, "subject_prefix", f"{cfg.subject_prefix!r} must be one token, "
                          "without spaces, dots or wildcards")


def load_watchboard(source: Source | None = None) -> WatchboardConfig:
    """watchboard.toml, checked. No profile amends it: it is the file that names the profile."""
    return load("watchboard.toml", WatchboardConfig, source, check=check_watchboard, with_profile=False)
