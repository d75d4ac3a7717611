"""intake.toml: how reports merge into incidents (`[merge]`), the bounds on a report
(`[limits]`), who may approve statements (`[statements]`) and how large an evidence file may
be (`[evidence]`), checked.

What merging does is `watchboard.domain.merge`, what the limits refuse is
`watchboard.domain.validate`; this module says what the file may hold.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from watchboard.config.loader import ConfigError, Source, load, parse_seconds

# Hedges a monitor adds or omits at will in front of a title (`merge.normalize_title`).
DEFAULT_PREFIXES: tuple[str, ...] = (
    "网传", "网曝", "网爆", "网友爆料", "网友称", "网友曝", "爆料", "突发", "快讯", "热搜", "转发",
)
# Query parameters that only track sharing (`*` suffix = prefix), dropped from URLs.
DEFAULT_TRACKING: tuple[str, ...] = (
    "utm_*", "spm", "spm_id_from", "vd_source", "share_*", "sharer_*", "from", "wm", "chksm",
    "scene", "clicktime", "enterid", "ts", "timestamp", "u_code", "fbclid", "gclid",
    "is_from_app", "isappinstalled", "wxshare_count", "sourcetype", "bbid", "unique_k",
    "xsec_source", "app_platform", "launch_from",
)


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Size and time limits on a report (the `[limits]` table of intake.toml)."""

    max_body_bytes: int = 262_144
    title_max: int = 500
    summary_max: int = 5_000
    url_max: int = 2_000
    region_max: int = 100
    reporter_max: int = 100
    unit_hint_max: int = 100
    evidence_max_items: int = 20
    evidence_item_max: int = 2_000
    metric_max: int = 10**12
    future_skew: str = "5m"  # how far after `now` an observed_at or posted_at may lie (clock drift)

    def future_skew_delta(self) -> timedelta:
        seconds = parse_seconds(self.future_skew)
        return timedelta(seconds=300 if seconds is None else seconds)


class MergeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `[merge]` table of intake.toml."""

    window: str = "72h"
    title_similarity: float = 0.85
    title_min_chars: int = 4
    title_prefixes: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_PREFIXES))
    tracking_params: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_TRACKING))

    def window_delta(self) -> timedelta:
        seconds = parse_seconds(self.window)
        return timedelta(seconds=72 * 3600 if seconds is None else seconds)


# Roles of notify.toml's people that may approve or reject a statement (通稿): seed 000 第五步
# (the leadership group agrees), 002 三.6 (the head signs), 003 三(四) (审定再统一发布).
APPROVER_ROLES: tuple[str, ...] = ("approver", "leader_group")
KNOWN_PERSON_ROLES = ("approver", "office", "leader_group", "upper_level", "propaganda", "legal_referral",
                      "duty_officer", "liaison")


class StatementsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    approver_roles: list[str] = msgspec.field(default_factory=lambda: list(APPROVER_ROLES))


class EvidenceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_bytes: int = 50 * 1024 * 1024  # one file; the Object Store keeps it in 128 KiB chunks


class IntakeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    merge: MergeConfig = msgspec.field(default_factory=MergeConfig)
    limits: Limits = msgspec.field(default_factory=Limits)
    statements: StatementsConfig = msgspec.field(default_factory=StatementsConfig)
    evidence: EvidenceConfig = msgspec.field(default_factory=EvidenceConfig)


def check_intake(cfg: IntakeConfig, file: str = "intake.toml") -> None:
    """Cross-field checks after decoding; raises ConfigError naming the key and the value."""
    m, lim = cfg.merge, cfg.limits
    seconds = parse_seconds(m.window)
    if seconds is None or seconds <= 0:
        raise ConfigError(file, "merge.window", f"{m.window!r} is not a positive duration like '72h' or '3d'")
    if not 0 < m.title_similarity <= 1:
        raise ConfigError(file, "merge.title_similarity",
                          f"{m.title_similarity!r} must be above 0 and at most 1 (0.85 is near-identical)")
    if m.title_min_chars < 1:
        raise ConfigError(file, "merge.title_min_chars", f"{m.title_min_chars!r} must be 1 or more")
    for i, name in enumerate(m.tracking_params):
        if not name or name == "*" or "*" in name[:-1]:
            raise ConfigError(file, f"merge.tracking_params[{i}]",
                              f"{name!r} must be a parameter name, or a prefix ending in '*'")
    if parse_seconds(lim.future_skew) is None:
        raise ConfigError(file, "limits.future_skew", f"{lim.future_skew!r} is not a duration like '10m'")
    for key in Limits.__struct_fields__:
        value = getattr(lim, key)
        if isinstance(value, int) and value < 1:
            raise ConfigError(file, f"limits.{key}", f"{value!r} must be 1 or more")
    roles = cfg.statements.approver_roles
    if not roles:
        raise ConfigError(file, "statements.approver_roles", "is empty: then nobody could approve a statement")
    for i, role in enumerate(roles):
        if role not in KNOWN_PERSON_ROLES:
            raise ConfigError(file, f"statements.approver_roles[{i}]",
                              f"unknown role {role!r}; people's roles in notify.toml: {', '.join(KNOWN_PERSON_ROLES)}")
    if not 1 <= cfg.evidence.max_bytes <= 4 * 1024**3:
        raise ConfigError(file, "evidence.max_bytes", f"{cfg.evidence.max_bytes!r} must be from 1 byte to 4 GiB "
                          "(52428800 is 50 MB)")


def load_intake(source: Source | None = None) -> IntakeConfig:
    """intake.toml (with the active profile's `[intake]` table) → IntakeConfig, checked."""
    return load("intake.toml", IntakeConfig, source, check=check_intake)
