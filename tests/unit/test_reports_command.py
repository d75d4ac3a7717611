"""The options of `watchboard report` and `watchboard review`: each bounded, refused naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.cli import build_parser
from watchboard.reports.command import UsageError, check


def parse(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(("argv", "field"), [
    (("report", "weekly", "--format", "docx"), "--format"),
    (("report", "daily", "--lookback", "0"), "--lookback"),
    (("report", "daily", "--lookback", "400"), "--lookback"),
    (("report", "daily", "--timeout", "0"), "--timeout"),
    (("report", "daily", "--issuer", "x" * 101), "--issuer"),
    (("report", "daily", "--issuer", "  "), "--issuer"),
    (("report", "daily", "--to", "y" * 201), "--to"),
    (("review", "wb.ev.>"), "id"),
    (("review", "01ABC *"), "id"),
    (("review", "x" * 101), "id"),
    (("report", "daily", "-o", "/nonexistent-folder/r.md"), "-o"),
])
def test_bad_options_are_refused_naming_them(argv: tuple[str, ...], field: str) -> None:
    with pytest.raises(UsageError) as err:
        check(parse(*argv))
    assert err.value.field == field and str(err.value)


@pytest.mark.parametrize("argv", [
    ("report", "daily"),
    ("report", "weekly", "--week", "2026-W47", "--format", "json", "--lang", "en"),
    ("review", "01KTESTINCIDENTA0000000000", "--format", "html"),
])
def test_good_options_pass(argv: tuple[str, ...], tmp_path: Path) -> None:
    args = parse(*argv, "-o", str(tmp_path / "out"))
    check(args)
    assert args.output == tmp_path / "out"


def test_defaults() -> None:
    args = parse("report", "daily")
    assert (args.format, args.output, args.lookback, args.lang, args.date) == ("md", None, 60, None, None)
    assert parse("report", "weekly").week is None
    assert not hasattr(parse("review", "X"), "lookback")
