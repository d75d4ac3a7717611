"""A store that cannot be used stops the service with one line naming the path — never a
traceback and a hang (issue "Nothing lost, nothing stuck": bad storage)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from watchboard.bus.server import NatsServer
from watchboard.store.sqlite import StoreError, open_db


async def test_a_good_store_opens_twice(tmp_path: Path) -> None:
    """The check passes on a fresh store and on one reopened."""
    for _ in range(2):
        db = await open_db(tmp_path / "s.sqlite", "CREATE TABLE IF NOT EXISTS t (x INTEGER);")
        await db.close()


async def test_a_damaged_header_is_refused_naming_the_path(tmp_path: Path) -> None:
    """A file that is not SQLite: StoreError with the path and what to do."""
    bad = tmp_path / "s.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as info:
        await open_db(bad)
    assert info.value.path == str(bad)
    assert "not a usable database" in info.value.problem and "--rebuild" in info.value.problem


async def test_a_damaged_page_fails_quick_check(tmp_path: Path) -> None:
    """A store whose pages were overwritten fails quick_check at open, not later."""
    path = tmp_path / "s.sqlite"
    db = await open_db(path, "CREATE TABLE t (x TEXT);")
    await db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(200)])
    await db.commit()
    await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 3: page * 3 + 200] = b"\xff" * 200  # scribble over a b-tree page
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info:
        await open_db(path)
    assert "damaged" in info.value.problem or "not a usable database" in info.value.problem


async def test_a_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    """--data pointing below a file: the folder cannot be made."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError) as info:
        await open_db(tmp_path / "f" / "s.sqlite")
    assert "cannot create the data folder" in info.value.problem


@pytest.mark.parametrize("service", ["intake", "grading", "deadlines", "notify"])
def test_serve_exits_1_with_one_line(service: str, nats_server: NatsServer, tmp_path: Path) -> None:
    """`watchboard serve NAME` on a damaged store: exit code 1 and one line on stderr, at once."""
    data = tmp_path / service
    data.mkdir()
    (data / f"{service}.sqlite").write_bytes(b"garbage" * 1000)
    done = subprocess.run([sys.executable, "-m", "watchboard.cli", "serve", service, "--nats", nats_server.url,
                           "--data", str(data)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith("watchboard serve")]
    assert lines == [f"watchboard serve {service}: store {data / (service + '.sqlite')}: the store is not a "
                     "usable database (file is not a database); rebuild it from the stream with --rebuild (the file "
                     "is kept beside the new one), or restore it from a backup"]
    assert "Traceback" not in done.stderr
