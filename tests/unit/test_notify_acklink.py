"""Acknowledgement links: signed, bound, expiring, single-use; served on loopback."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from watchboard.auth.folder import AuthFolder
from watchboard.config.loader import ConfigError
from watchboard.services.notify.acklink import AckServer, NonceLedger, load_secret, tls_context
from watchboard.services.notify.acktoken import AckRefused, AckSigner
from watchboard.services.notify.settings import AckLink
from watchboard.store.sqlite import open_db

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef0123456789abcdef"


def test_token_roundtrip_and_binding() -> None:
    """A token carries its incident and person and verifies before it expires."""
    signer = AckSigner(SECRET, 3600)
    claim = signer.verify(signer.issue("INC1", "p-li", T0), T0 + timedelta(minutes=59))
    assert (claim.incident_id, claim.person_id) == ("INC1", "p-li")


@pytest.mark.parametrize(("mutate", "kind"), [
    (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "forged"),  # signature changed
    (lambda t: "x" + t, "forged"),  # body changed
    (lambda t: "garbage", "forged"),
    (lambda t: t.replace(".", ""), "forged"),
])
def test_tampered_tokens_are_forged(mutate, kind: str) -> None:  # type: ignore[no-untyped-def]
    """Any change to a token makes it forged."""
    signer = AckSigner(SECRET, 3600)
    with pytest.raises(AckRefused) as info:
        signer.verify(mutate(signer.issue("INC1", "p-li", T0)), T0)
    assert info.value.kind == kind


def test_other_secret_is_forged_and_expiry_is_enforced() -> None:
    """A token signed with another secret is forged; past its ttl it is expired."""
    token = AckSigner(SECRET, 3600).issue("INC1", "p-li", T0)
    with pytest.raises(AckRefused, match="forged"):
        AckSigner(b"another-secret-of-32-bytes-xxxxx", 3600).verify(token, T0)
    with pytest.raises(AckRefused, match="expired"):
        AckSigner(SECRET, 3600).verify(token, T0 + timedelta(hours=1))


def test_secret_generated_once_into_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without config or env, a secret is generated (mode 0600) and reused."""
    monkeypatch.delenv("WATCHBOARD_ACK_SECRET", raising=False)
    first = load_secret(AckLink(), tmp_path)
    assert load_secret(AckLink(), tmp_path) == first and len(first) == 64
    assert (tmp_path / "ack.secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("WATCHBOARD_ACK_SECRET", "from-the-environment-0123456789")
    assert load_secret(AckLink(), tmp_path) == b"from-the-environment-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def served(tmp_path: Path):
    db = await open_db(tmp_path / "ack.sqlite")
    ledger = NonceLedger(db)
    await ledger.init()
    acks: list[tuple[str, str]] = []

    async def on_ack(incident: str, person: str) -> bool:
        first = not any(i == incident for i, _ in acks)
        acks.append((incident, person))
        return first

    async def describe(incident: str) -> str | None:
        return "<script>alert(1)</script>标题"

    clock = Clock()
    signer = AckSigner(SECRET, 3600)
    server = AckServer(signer, ledger, on_ack, host="127.0.0.1", port=0, clock=clock, describe=describe)
    port = await server.start()
    async with aiohttp.ClientSession() as http:
        yield http, f"http://127.0.0.1:{port}", signer, acks, clock
    await server.stop()
    await db.close()


async def test_get_shows_confirm_page_and_changes_nothing(served) -> None:  # type: ignore[no-untyped-def]
    """GET (a link scanner) shows a POST form; nothing is acknowledged; the title is escaped."""
    http, base, signer, acks, _ = served
    token = signer.issue("INC1", "p-li", T0)
    async with http.get(f"{base}/ack/{token}") as resp:
        text = await resp.text()
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    assert '<form method="post"' in text and "<script>" not in text and "&lt;script&gt;" in text
    assert acks == []


async def test_valid_link_acknowledges_once_then_refuses_reuse(served) -> None:  # type: ignore[no-untyped-def]
    """POST acknowledges once; the same link again gets the 'already used' page."""
    http, base, signer, acks, _ = served
    token = signer.issue("INC1", "p-li", T0)
    async with http.post(f"{base}/ack/{token}") as resp:
        assert resp.status == 200 and "已确认" in await resp.text()
    async with http.post(f"{base}/ack/{token}") as resp:
        text = await resp.text()
        assert resp.status == 409 and "已使用" in text and "already been used" in text
    async with http.get(f"{base}/ack/{token}") as resp:
        assert resp.status == 409
    assert acks == [("INC1", "p-li")]


async def test_expired_link_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    """After its ttl a link gets the expiry page in zh and en and acknowledges nothing."""
    http, base, signer, acks, clock = served
    token = signer.issue("INC1", "p-li", T0)
    clock.now = T0 + timedelta(hours=2)
    async with http.post(f"{base}/ack/{token}") as resp:
        text = await resp.text()
        assert resp.status == 410 and "已过期" in text and "expired" in text
    assert acks == []


async def test_forged_link_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    """A token signed with another secret gets the 'not valid' page and acknowledges nothing."""
    http, base, _, acks, _ = served
    token = AckSigner(b"attacker-secret-xxxxxxxxxxxxxxxx", 3600).issue("INC1", "p-li", T0)
    async with http.post(f"{base}/ack/{token}") as resp:
        text = await resp.text()
        assert resp.status == 403 and "链接无效" in text and "not valid" in text
    assert acks == []


async def test_failed_ack_leaves_link_usable(tmp_path: Path) -> None:
    """If the service cannot record the ack, the link is not spent and works on retry."""
    db = await open_db(tmp_path / "ack.sqlite")
    ledger = NonceLedger(db)
    await ledger.init()
    calls = {"n": 0}

    async def flaky(incident: str, person: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("nats down")
        return True

    signer = AckSigner(SECRET, 3600)
    server = AckServer(signer, ledger, flaky, port=0, clock=lambda: T0)
    port = await server.start()
    try:
        token = signer.issue("INC1", "p-li", T0)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/ack/{token}") as resp:
                assert resp.status == 503
            async with http.post(f"http://127.0.0.1:{port}/ack/{token}") as resp:
                assert resp.status == 200
    finally:
        await server.stop()
        await db.close()


async def test_https_with_the_certificate_auth_init_makes(tmp_path: Path) -> None:
    """With [ack] tls_cert/tls_key (web.crt of `auth init --tls`) the link is served over HTTPS,
    verified against the site's CA, and links name https://; a client that does not trust the
    CA is refused."""
    auth = AuthFolder(tmp_path / "auth")
    auth.init(tls=True, web_hosts=["127.0.0.1"])
    cfg = AckLink(listen="127.0.0.1:0", tls_cert=str(auth.path / "web.crt"), tls_key=str(auth.path / "web.key"))
    assert cfg.public_base() == "https://127.0.0.1:0"
    db = await open_db(tmp_path / "ack.sqlite")
    ledger = NonceLedger(db)
    await ledger.init()
    acks: list[tuple[str, str]] = []

    async def on_ack(incident: str, person: str) -> bool:
        acks.append((incident, person))
        return True

    signer = AckSigner(SECRET, 3600)
    server = AckServer(signer, ledger, on_ack, host="127.0.0.1", port=0, clock=lambda: T0, ssl_context=tls_context(cfg))
    port = await server.start()
    ca = ssl.create_default_context(cafile=str(auth.path / "ca.crt"))
    try:
        async with aiohttp.ClientSession() as http:
            token = signer.issue("INC1", "p-li", T0)
            async with http.post(f"https://127.0.0.1:{port}/ack/{token}", ssl=ca) as resp:
                assert resp.status == 200 and "已确认" in await resp.text()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with http.get(f"https://127.0.0.1:{port}/ack/{token}", ssl=ssl.create_default_context()):
                    pass
            with pytest.raises(aiohttp.ClientError):  # plain HTTP gets nowhere
                async with http.get(f"http://127.0.0.1:{port}/ack/{token}") as resp:
                    await resp.text()
    finally:
        await server.stop()
        await db.close()
    assert acks == [("INC1", "p-li")]


def test_a_certificate_that_cannot_be_used_stops_notify_naming_the_key(tmp_path: Path) -> None:
    from watchboard.config import ConfigSource
    from watchboard.services.notify.service import NotifyService
    from watchboard.services.notify.settings import load_notify

    cfg = load_notify(ConfigSource())
    (tmp_path / "bad.crt").write_text("not a certificate")
    broken = AckLink(tls_cert=str(tmp_path / "bad.crt"), tls_key=str(tmp_path / "bad.key"))
    with pytest.raises(ConfigError) as info:
        NotifyService(type(cfg)(**{**{f: getattr(cfg, f) for f in cfg.__struct_fields__}, "ack": broken}))
    assert info.value.key == "ack.tls_cert" and "bad.crt" in info.value.problem
