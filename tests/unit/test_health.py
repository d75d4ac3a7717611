"""Health and metrics, the pure parts: the verdict on an instance's figures, its words, and the
metrics address (watchboard.toml [metrics], `serve --metrics`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.bus.consumer import ConsumerStats
from watchboard.bus.health import StoreFigures, describe, problems
from watchboard.config import ConfigError, ConfigSource, load_watchboard
from watchboard.config.watchboard import MetricsConfig, parse_listen
from watchboard.metrics import address_for


@pytest.mark.parametrize(("consumers", "store", "codes"), [
    ({}, StoreFigures(), []),
    ({"grading": ConsumerStats(lag=5000)}, StoreFigures(), []),  # a burst is not a fault
    ({"grading": ConsumerStats(failing=True, last_error="TimeoutError: x")}, StoreFigures(), ["consumer_failing"]),
    ({}, StoreFigures(outbox=3, outbox_oldest=5.0), []),  # just committed, on its way
    ({}, StoreFigures(outbox=3, outbox_oldest=31.0), ["outbox_stuck"]),
    ({}, StoreFigures(dead_letters=1), ["dead_letters"]),
    ({"a": ConsumerStats(failing=True), "b": ConsumerStats()}, StoreFigures(outbox=1, outbox_oldest=99, dead_letters=2),
     ["consumer_failing", "outbox_stuck", "dead_letters"]),
])
def test_problems(consumers: dict[str, ConsumerStats], store: StoreFigures, codes: list[str]) -> None:
    assert [p["code"] for p in problems(consumers, store)] == codes


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "consumer grading failing (TimeoutError: x); 2 dead letters (effects the bus refused; see the log)"),
    ("zh", "消费者 grading 处理出错（详见服务日志）；2 条结果被总线拒收，已移出（详见服务日志）"),
])
def test_problems_in_words(lang: str, expected: str) -> None:
    found = problems({"grading": ConsumerStats(failing=True, last_error="TimeoutError: x")},
                     StoreFigures(dead_letters=2))
    assert describe(found, lang) == expected


@pytest.mark.parametrize(("value", "parsed"), [
    ("127.0.0.1:0", ("127.0.0.1", 0)),
    ("0.0.0.0:9401", ("0.0.0.0", 9401)),
    ("[::1]:9401", ("::1", 9401)),
    ("localhost:65535", ("localhost", 65535)),
])
def test_parse_listen(value: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(value) == parsed


@pytest.mark.parametrize("value", ["9401", ":9401", "host:", "host:port", "host:65536", "host:-1"])
def test_parse_listen_refuses(value: str) -> None:
    with pytest.raises(ValueError, match=r"metrics\.listen: .* is not host:port"):
        parse_listen(value)


@pytest.mark.parametrize(("cfg", "override", "address"), [
    (MetricsConfig(), None, ""),  # off unless configured
    (MetricsConfig(listen="127.0.0.1:0"), None, "127.0.0.1:0"),
    (MetricsConfig(listen="127.0.0.1:0", grading="0.0.0.0:9402"), None, "0.0.0.0:9402"),
    (MetricsConfig(listen="127.0.0.1:0", grading="0.0.0.0:9402"), "127.0.0.1:9412", "127.0.0.1:9412"),
    (MetricsConfig(intake="0.0.0.0:9401"), None, ""),  # another service's key
])
def test_address_for_grading(cfg: MetricsConfig, override: str | None, address: str) -> None:
    assert address_for("grading", cfg, override) == address


@pytest.mark.parametrize(("text", "key", "words"), [
    ('[metrics]\nlisten = "127.0.0.1:9400"\n', "metrics.listen", "port must be 0"),
    ('[metrics]\nlisten = "9400"\n', "metrics.listen", "is not host:port"),
    ('[metrics]\nnotify = "localhost:http"\n', "metrics.notify", "is not host:port"),
    ('[metrics]\nboard = "127.0.0.1:0"\n', "board", "unknown"),
])
def test_metrics_config_errors(tmp_path: Path, text: str, key: str, words: str) -> None:
    (tmp_path / "watchboard.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_watchboard(ConfigSource(tmp_path))
    message = str(info.value)
    assert message.startswith(str(tmp_path / "watchboard.toml")) and key in message and words in message.lower()


def test_metrics_config_accepted(tmp_path: Path) -> None:
    (tmp_path / "watchboard.toml").write_text('[metrics]\nlisten = "127.0.0.1:0"\nintake = "0.0.0.0:9401"\n',
                                              encoding="utf-8")
    cfg = load_watchboard(ConfigSource(tmp_path)).metrics
    assert (cfg.listen, cfg.intake, cfg.grading) == ("127.0.0.1:0", "0.0.0.0:9401", "")
