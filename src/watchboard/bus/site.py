"""Leaf sites: a town keeps working while the link to the hub is down.

A town runs its own nats-server as a *leaf node* of the hub's, with JetStream in its own
domain (`jetstream { domain: town-a }`), and its own watchboard services against it: reports are
taken, graded, clocked and notified there, and the town's board reads the town's bucket — so
it shows the town's incidents whether the hub is reachable or not.

The hub's stream `WB_SITES` *sources* each town's intake events (`wb.ev.intake.>`) through the
town's JetStream domain (`$JS.<domain>.API`), renamed `wb.site.<town>.ev.intake.>`. The hub's
server keeps its place in each town's stream: while the link is down nothing moves; when it
returns the hub reads on from where it stopped, so each event arrives once (and the events'
`Nats-Msg-Id` are kept, so the hub's duplicate window would drop a copy too).

The leaf connection carries nothing else: the remote's `deny_imports`/`deny_exports`
(`LEAF_DENY`) keep watchboard's subjects, buckets and service API on their side, so the hub's
stream never captures the town's events directly (and loses them when the link drops), and the
hub's board never shows the town's keys as its own.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from watchboard.bus.subjects import Subjects
from watchboard.config import WatchboardConfig, parse_seconds
from watchboard.config.watchboard import SiteConfig

SITES_STREAM = "WB_SITES"
# Both ways on a town's leafnode remote: only the JetStream domain API (sourcing) crosses.
LEAF_DENY = ("wb.>", "$KV.>", "$O.>", "$SRV.>", "$JS.API.>")


def site_subjects(prefix: str, site: str) -> str:
    """Where the hub keeps a town's events: `wb.site.town-a.>`."""
    return f"{prefix}.site.{site}.>"


def site_source(wb: WatchboardConfig, site: SiteConfig) -> api.StreamSource:
    s = Subjects(wb.subject_prefix)
    head = f"{wb.subject_prefix}.site.{site.name}.ev.intake.>"
    return api.StreamSource(name="WATCHBOARD", external=api.ExternalStream(api=f"$JS.{site.jetstream_domain}.API"),
                            subject_transforms=[api.SubjectTransform(src=s.from_service("intake"), dest=head)])


def sites_stream_config(wb: WatchboardConfig) -> api.StreamConfig:
    return api.StreamConfig(
        name=SITES_STREAM, storage=api.StorageType.FILE, retention=api.RetentionPolicy.LIMITS,
        num_replicas=wb.stream.replicas, max_age=parse_seconds(wb.stream.max_age) if wb.stream.max_age != "0" else None,
        duplicate_window=parse_seconds(wb.stream.duplicate_window) or 120.0, allow_direct=True,
        sources=[site_source(wb, site) for site in wb.sites],
        description="watchboard: each town's intake events, sourced from its leaf node's own JetStream")


async def ensure_sites_stream(js: JetStreamContext, wb: WatchboardConfig) -> bool:
    """At the hub (`watchboard setup`): WB_SITES sourcing every site of watchboard.toml's
    `[[sites]]`; False when there are none (nothing made)."""
    if not wb.sites:
        return False
    wanted = sites_stream_config(wb)
    try:
        await asyncio.wait_for(js.stream_info(SITES_STREAM), 5)
    except NotFoundError:
        await asyncio.wait_for(js.add_stream(wanted), 10)
        return True
    await asyncio.wait_for(js.update_stream(wanted), 10)
    return True
