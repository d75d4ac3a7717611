"""Acknowledgement tokens (pure): signed, bound to an incident and a person, expiring.

A token binds an incident, a person, an expiry and a nonce, signed with HMAC-SHA256:
`b64url(json[incident, person, expires, nonce]) "." b64url(mac)`. Issuing one with a given
nonce is a function of its inputs (render.py passes the notice's key); that a link works
only once is the ledger's part (acklink.py records each nonce used).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec

from watchboard.services.notify.settings import AckLink


class AckRefused(Exception):
    """A token that must not acknowledge anything: kind is forged | expired | reused."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        super().__init__(f"{kind}: {detail}" if detail else kind)


class AckClaim(NamedTuple):
    incident_id: str
    person_id: str
    expires: int  # epoch seconds
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckSigner:
    def __init__(self, secret: bytes, ttl_seconds: float) -> None:
        if len(secret) < 16:
            raise ValueError("the acknowledgement secret must be at least 16 bytes")
        self._secret = secret
        self.ttl = ttl_seconds

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()

    def issue(self, incident_id: str, person_id: str, now: datetime, *, nonce: str | None = None) -> str:
        expires = int(now.timestamp() + self.ttl)
        body = msgspec.json.encode([incident_id, person_id, expires, nonce or secrets.token_urlsafe(12)])
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def verify(self, token: str, now: datetime) -> AckClaim:
        """The claim of a genuine, unexpired token; raises AckRefused otherwise (reuse is the ledger's)."""
        try:
            body_text, mac_text = token.split(".")
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError) as exc:
            raise AckRefused("forged", "malformed token") from exc
        if not hmac.compare_digest(mac, self._mac(body)):
            raise AckRefused("forged", "bad signature")
        try:
            incident, person, expires, nonce = msgspec.json.decode(body, type=tuple[str, str, int, str])
        except msgspec.DecodeError as exc:  # signed by us but not our shape: treat as forged
            raise AckRefused("forged", "bad claim") from exc
        if now.timestamp() >= expires:
            raise AckRefused("expired", datetime.fromtimestamp(expires, UTC).isoformat())
        return AckClaim(incident, person, expires, nonce)


def ack_url(cfg: AckLink, token: str) -> str:
    return f"{cfg.public_base()}/ack/{token}"
