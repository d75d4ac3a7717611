"""The chaos suite, short (`python -m bench.chaos` with small numbers): three nodes, two
instances of every service (roles on), 100 reports, three service instances and one node (the
stream's leader) killed with SIGKILL, the hostile inputs; then every accepted report is in the
stream once and graded once, every clock that fell due breached once, every notice recorded
as sent reached the webhook under one key, and every view says what the stream says."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import Options, chaos_run, ok, printable, table


async def test_chaos_short(tmp_path: Path) -> None:
    figures = await chaos_run(Options(reports=100, rate=20, kills=3, node_kills=1, seed=12, data=tmp_path / "chaos",
                                      settle=60), say=print)
    print(table(figures))
    effects, run = figures["effects"], figures["run"]
    detail = printable(figures)
    assert ok(figures), detail
    for name, effect in effects.items():
        assert effect.lost == 0 and effect.duplicated == 0, (name, detail)
    # core and grade of every incident, clocks of those with clocks: all compared
    assert not figures["views"]["stale"] and figures["views"]["keys"] >= 200 + effects["breaches"].expected, detail
    assert figures["stream"]["stored_twice"] == 0
    assert run["accepted_reports"] == run["incidents"] == 100
    # Every kind of effect was there to be checked: grade I/II clocks of 3 s fell due, notices went out.
    assert effects["grades"].done == 100 and effects["breaches"].expected >= 30 and effects["notices"].expected >= 60
    assert [k for k in run["kills"] if "pid" in k] and len(run["kills"]) == 4, run["kills"]
    # The hostile inputs: each report and command refused naming the field; the forged grade on
    # grading's subject refused by the server; the one on intake's subject stored, and no service
    # acted on it (the views equal the honest stream, checked above).
    assert all(h["refused"] is not False for h in run["hostile"]), run["hostile"]
    fields = {h["input"].split(":")[0] + ":" + str(h.get("field")) for h in run["hostile"] if h.get("field")}
    assert {"report:title", "report:body", "report:url", "command:note", "command:reason"} <= fields, fields
    assert figures["stream"]["forged_in_stream"] == 1
    assert sum(run["refused_reports"].values()) == 4  # the four hostile reports, no honest one
