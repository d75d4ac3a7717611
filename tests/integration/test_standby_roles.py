"""Standby instances with roles on: each instance with the service's own credentials only; the
standby hands requests on with the person the server authenticated; the takeover (lease,
replica, snapshot, durables recreated at their ack floor) needs no right the service lacks."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from tests.integration.test_standby import Instance, events_of
from tests.integration.test_trust import REPORT, Site, admin_setup, site  # noqa: F401 - the fixture
from tests.support import eventually
from watchboard.client import request
from watchboard.services.intake.service import build as build_intake


async def test_intake_pair_with_roles_on(site: Site, tmp_path: Path) -> None:  # noqa: F811
    await admin_setup(site)
    a = Instance(build_intake, site.url, tmp_path / "a", "a", creds=site.creds("intake"))
    await eventually(lambda: asyncio.sleep(0, a.role() == "active"), timeout=20, what="a active")
    b = Instance(build_intake, site.url, tmp_path / "b", "b", creds=site.creds("intake"))
    operator = await site.client("operator")
    try:
        await eventually(lambda: asyncio.sleep(0, b.role() == "standby"), timeout=20, what="b standing by")
        # Ten reports: each lands on either instance (one queue group); the standby hands its
        # share on. Every one is recorded with the person the server authenticated.
        ids = []
        for i in range(10):
            reply = await request(operator, "wb.intake.submit", json.dumps({**REPORT, "title": f"事件 {uuid.uuid4().hex}",
                                                                            "url": f"https://weibo.com/x/{i}"}).encode())
            assert reply["ok"] and reply["actor"] == "值班员", reply
            ids.append(reply["incident_id"])
        await a.kill()
        await eventually(lambda: asyncio.sleep(0, b.role() == "active"), timeout=15, what="b active")
        reply = await request(operator, "wb.intake.submit", json.dumps({**REPORT, "title": f"事件 {uuid.uuid4().hex}",
                                                                 "url": "https://weibo.com/x/after"}).encode())
        assert reply["ok"] and reply["actor"] == "值班员", reply
        ids.append(reply["incident_id"])
        sniffer = await site.client("admin")  # the admin may read the stream (JetStream API)
        try:
            reported = await events_of(sniffer, "wb.ev.intake.*.incident.reported")
        finally:
            await sniffer.close()
        assert sorted(e["incident_id"] for e in reported) == sorted(ids)
        assert {e["mention"]["reporter"] for e in reported} == {"值班员"}
    finally:
        await operator.close()
        await b.close()
        await a.close()
