"""`watchboard up --fresh`: what it deletes, and that it asks first."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.launcher import DATA_PARTS, fresh_start


def _folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for part in DATA_PARTS:
        (data / part).mkdir(parents=True)
        (data / part / "x").write_text("state")
    (data / "my-notes.txt").write_text("not ours")
    return data


@pytest.mark.parametrize(("answer", "deleted"), [("y", True), ("是", True), ("", False), ("n", False)])
def test_fresh_start_asks_then_deletes_only_its_own_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          answer: str, deleted: bool) -> None:
    data = _folder(tmp_path)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []
    result = fresh_start(data, yes=False, ask=lambda q: asked.append(q) or answer)
    assert result is deleted and asked and str(data) in asked[0]
    assert all((data / p).exists() is not deleted for p in DATA_PARTS)
    assert (data / "my-notes.txt").read_text() == "not ours"


def test_fresh_start_without_a_terminal_needs_yes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = _folder(tmp_path)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert fresh_start(data, yes=False) is False
    assert "--yes" in capsys.readouterr().err and (data / "nats").exists()
    assert fresh_start(data, yes=True) is True
    assert not any((data / p).exists() for p in DATA_PARTS)
    assert fresh_start(tmp_path / "empty", yes=False) is True  # nothing there: nothing to ask
