"""notify's `board` channel: notices for people at the board, and failed deliveries, in the side panel."""

from __future__ import annotations

from datetime import timedelta

from tests.board.support import NOW, ScriptedFeed, incident, make_app, settle, snapshot, static_text
from watchboard.board.model import BoardModel
from watchboard.bus.feed_types import KVChange
from watchboard.domain.views import NoticesView, NoticeView, encode_view, kv_key


def notices(n: int, *items: NoticeView) -> KVChange:
    return KVChange(kv_key(f"01JTEST{n:019d}", "notices"), encode_view(NoticesView(notices=list(items))))


BOARD = NoticeView(to="p-li", channel="board", status="sent", cause="incident.graded", at=NOW - timedelta(minutes=2))
FAILED = NoticeView(to="g-leaders", channel="webhook:wecom", status="failed", cause="incident.graded",
                    reason="webhook wecom for g-leaders: connection refused \x1b[31m", at=NOW - timedelta(minutes=1))
SENT_MAIL = NoticeView(to="p-office", channel="email", status="sent", cause="clock.breached", at=NOW)


def test_alerts_are_board_notices_and_failures_newest_first() -> None:
    """Sent e-mails are not alerts; the board channel's and the failed ones are, newest first."""
    model = BoardModel()
    for change in [*incident(1, "II", title="食堂"), notices(1, BOARD, FAILED, SENT_MAIL)]:
        model.ingest(change)
    alerts = model.alerts()
    assert [(a.to, a.failed) for a in alerts] == [("g-leaders", True), ("p-li", False)]
    assert "\x1b" not in alerts[0].reason and alerts[1].title == "食堂"


def test_closed_incidents_raise_no_alerts() -> None:
    """A closed incident's notices leave the panel."""
    model = BoardModel()
    for change in [*incident(1, "II", stage="closed"), notices(1, FAILED)]:
        model.ingest(change)
    assert model.alerts() == []


async def test_side_panel_shows_alerts_only_when_there_are_some() -> None:
    """Wide desk: the panel appears with the failure's reason and the board notice."""
    feed = ScriptedFeed(*snapshot(incident(1, "II", title="化工厂排放"), incident(2, "IV")))
    app = make_app(feed, lang="en")
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, app)
        assert not app.screen.query_one("#alerts").display
        feed.push(notices(1, BOARD, FAILED))
        await settle(pilot, app)
        text = static_text(app, "#alerts")
        assert app.screen.query_one("#alerts").display
        assert "Board notices" in text and "connection refused" in text and "p-li ← 化工厂排放" in text
