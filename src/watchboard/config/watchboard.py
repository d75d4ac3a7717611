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
class StandbyConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Standby instances (`watchboard serve NAME --standby`, docs/architecture.md "Standby")."""

    # How long a service's lease lives without renewal: a standby takes over at most this
    # long (plus its start) after the active instance dies. The active renews it four times
    # per lease and stops itself a quarter lease before it could expire.
    lease_ttl: str = "2s"
    # How long the replica stream keeps the active's changes to its store; a standby that
    # was away longer starts again from the latest snapshot.
    history: str = "1d"
    # How often the active puts a snapshot of its store for standbys that start late.
    snapshot_every: str = "10m"


class MetricsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Prometheus metrics of each service (watchboard/metrics.py): off unless an address is set.
    `listen` serves every service; its port must be 0 (a free port at each start), since the
    four services, and two instances of one, may share a host. A fixed port is given per
    service (the keys below), or per instance (`serve --metrics`)."""

    listen: str = ""
    intake: str = ""
    grading: str = ""
    deadlines: str = ""
    notify: str = ""


class SiteConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A town's site, as the hub knows it (docs/deploy.md, "A leaf site"): its leaf node runs
    JetStream in its own `domain`, and the hub's stream WB_SITES sources its intake events."""

    name: str
    domain: str = ""  # default: the site's name

    @property
    def jetstream_domain(self) -> str:
        return self.domain or self.name


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
    standby: StandbyConfig = msgspec.field(default_factory=StandbyConfig)
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    # At a hub: the towns whose reports reach its stream WB_SITES (`watchboard setup` sources them).
    sites: list[SiteConfig] = msgspec.field(default_factory=list)

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
    check_standby(cfg.standby, file)
    check_metrics(cfg.metrics, file)
    seen: set[str] = set()
    for i, site in enumerate(cfg.sites):
        for key, value in (("name", site.name), ("domain", site.jetstream_domain)):
            if not value or not all(c.isalnum() or c in "-_" for c in value):
                raise ConfigError(file, f"sites[{i}].{key}", f"{value!r} must be one token of letters, digits, "
                                  "'-' or '_' (it is part of subjects and of the JetStream API prefix)")
        if site.name in seen:
            raise ConfigError(file, f"sites[{i}].name", f"{site.name!r} is named twice")
        seen.add(site.name)
    if not cfg.subject_prefix or any(c in cfg.subject_prefix for c in " .*>"):
        raise ConfigError(file, "subject_prefix", f"{cfg.subject_prefix!r} must be one token, "
                          "without spaces, dots or wildcards")


def parse_listen(value: str, key: str = "metrics.listen") -> tuple[str, int]:
    """`host:port` → (host, port); ValueError naming the key and the problem."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{key}: {value!r} is not host:port (a port from 0 to 65535; 0 takes a free one), "
                         "e.g. '127.0.0.1:0'")
    return host, int(port)


def check_metrics(cfg: MetricsConfig, file: str = "watchboard.toml") -> None:
    for key in ("listen", "intake", "grading", "deadlines", "notify"):
        value = getattr(cfg, key)
        if not value:
            continue
        try:
            _, port = parse_listen(value, f"metrics.{key}")
        except ValueError as exc:
            raise ConfigError(file, f"metrics.{key}", str(exc).split(": ", 1)[1]) from None
        if key == "listen" and port != 0:
            raise ConfigError(file, "metrics.listen", f"{value!r}: every service serves on `listen`, so its port "
                              "must be 0 (a free port each); give a fixed port per service instead, "
                              "e.g. metrics.intake = '0.0.0.0:9401'")


def check_standby(cfg: StandbyConfig, file: str = "watchboard.toml") -> None:
    seconds: dict[str, float] = {}
    for key in ("lease_ttl", "history", "snapshot_every"):
        value = parse_seconds(getattr(cfg, key))
        if value is None or value <= 0:
            raise ConfigError(file, f"standby.{key}", f"{getattr(cfg, key)!r} is not a duration like "
                              "'2s', '10m' or '1d'")
        seconds[key] = value
    if not 1 <= seconds["lease_ttl"] <= 30:
        raise ConfigError(file, "standby.lease_ttl", f"{cfg.lease_ttl!r}: between '1s' and '30s' (a standby "
                          "takes over this long after the active dies; under 1s a busy host loses its lease)")
    if seconds["snapshot_every"] * 2 > seconds["history"]:
        raise ConfigError(file, "standby.snapshot_every", f"{cfg.snapshot_every!r} is more than half of "
                          f"standby.history {cfg.history!r}: a standby could find neither the changes it "
                          "missed nor a snapshot after them")


def load_watchboard(source: Source | None = None) -> WatchboardConfig:
    """watchboard.toml, checked. No profile amends it: it is the file that names the profile."""
    return load("watchboard.toml", WatchboardConfig, source, check=check_watchboard, with_profile=False)
