"""A client's credentials: its nkey seed file and, with TLS, the CA that proves the server and
the client's own certificate. Everything but the seed is found beside it:

    intake.nk   the seed (--creds FILE or $WATCHBOARD_CREDS)
    ca.crt      the site's CA: the server must present a certificate it signed (or --tls-ca)
    intake.crt  this identity's client certificate, and intake.key its key

Without credentials a client connects anonymously, which only a server with roles off (tests,
or a loopback-only set-up) lets in.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_CREDS = "WATCHBOARD_CREDS"
ENV_TLS_CA = "WATCHBOARD_TLS_CA"


class CredentialsError(Exception):
    """A credentials file or certificate cannot be used; the message names the file."""


@dataclass(frozen=True)
class Credentials:
    seed: Path
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        if self.ca is None:
            return None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        except (OSError, ssl.SSLError) as exc:
            raise CredentialsError(f"{self.ca}: not a CA certificate ({exc})") from exc
        if self.cert is not None and self.key is not None:
            try:
                ctx.load_cert_chain(str(self.cert), str(self.key))
            except (OSError, ssl.SSLError) as exc:
                raise CredentialsError(f"{self.cert}: cannot use this client certificate ({exc})") from exc
        return ctx

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect`."""
        options: dict[str, Any] = {"nkeys_seed": str(self.seed)}
        ctx = self.tls_context()
        if ctx is not None:
            options["tls"] = ctx
        return options


def resolve(creds: str | Path | None, tls_ca: str | Path | None = None) -> Credentials | None:
    """The credentials of `creds` (else $WATCHBOARD_CREDS), with the TLS files beside it;
    None when neither names a file. A named file that does not exist is an error."""
    named = creds or os.environ.get(ENV_CREDS) or None
    if named is None:
        return None
    seed = Path(named).expanduser()
    if not seed.is_file():
        raise CredentialsError(f"{seed}: no such credentials file (from "
                               f"{'--creds' if creds else '$' + ENV_CREDS}); `watchboard auth init` writes them")
    from watchboard.auth.keys import read_seed

    try:
        read_seed(seed)
    except ValueError as exc:
        raise CredentialsError(str(exc)) from None
    except OSError as exc:
        raise CredentialsError(f"{seed}: cannot read it ({exc.strerror})") from exc
    ca_named = tls_ca or os.environ.get(ENV_TLS_CA) or None
    ca = Path(ca_named).expanduser() if ca_named else seed.with_name("ca.crt")
    if ca_named and not ca.is_file():
        raise CredentialsError(f"{ca}: no such CA certificate (from --tls-ca or ${ENV_TLS_CA})")
    cert, key = seed.with_suffix(".crt"), seed.with_suffix(".key")
    return Credentials(seed=seed, ca=ca if ca.is_file() else None,
                       cert=cert if cert.is_file() else None, key=key if key.is_file() else None)


def default_creds(data_dir: Path, identity: str = "operator") -> Path | None:
    """`<data>/auth/<identity>.nk`, which `watchboard up` writes, when it is there."""
    path = data_dir / "auth" / f"{identity}.nk"
    return path if path.is_file() else None
