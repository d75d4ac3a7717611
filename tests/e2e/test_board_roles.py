"""The board with roles on: it reads through the operator's account (no JetStream there), and an
acknowledgement pressed on it is recorded under the person the server authenticated, not the
name the board sends."""

from __future__ import annotations

import json
from pathlib import Path

from tests.board.support import settle
from tests.e2e.test_board_live import wait_rows
from tests.integration.test_trust import REPORT, SUBJECTS, Site, admin_setup, site  # noqa: F401 - a fixture
from tests.support import eventually, running
from watchboard.board.launch import make_app
from watchboard.client import load_view, request
from watchboard.config import ConfigSource
from watchboard.services.grading.service import build as build_grading
from watchboard.services.intake.service import build as build_intake
from watchboard.services.notify.service import build as build_notify


async def test_board_reads_and_acts_as_the_proven_person(site: Site, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "config"
    config.mkdir()
    (config / "notify.toml").write_text(
        (Path(__file__).parents[2] / "examples" / "local-webhook" / "notify.toml").read_text(encoding="utf-8")
        .replace('listen = "127.0.0.1:8765"', 'listen = "127.0.0.1:0"'), encoding="utf-8")
    source = ConfigSource(config)
    await admin_setup(site)
    async with running(build_intake(source), site.url, tmp_path / "intake", creds=site.creds("intake")), \
            running(build_grading(source), site.url, tmp_path / "grading", creds=site.creds("grading")), \
            running(build_notify(source), site.url, tmp_path / "notify", creds=site.creds("notify")):
        operator = await site.client("operator")
        try:
            body = dict(REPORT, metrics={"reposts": 500})
            reply = await request(operator, SUBJECTS.submit, json.dumps(body, ensure_ascii=False).encode())
            incident = reply["incident_id"]

            async def notified():
                view = await load_view(operator, incident)
                return view if view is not None and view.notices is not None else None

            await eventually(notified, timeout=20, what="notify knows the incident")
            app, link = make_app(site.url, source, lang="zh", wall=False, creds=site.creds("operator"))
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_rows(pilot, app, "食堂")
                await pilot.press("home", "a")
                await settle(pilot, app)
                await pilot.press("enter")

                async def acked():
                    view = await load_view(operator, incident)
                    return view if view and view.notices and view.notices.acknowledged_by else None

                view = await eventually(acked, timeout=15, what="acknowledged from the board")
            await link.close()
            assert view.notices.acknowledged_by == "值班员"  # the board sent its own actor; the server's person counts
        finally:
            await operator.close()
