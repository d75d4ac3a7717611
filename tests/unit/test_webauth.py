"""The browser board's rules, as tables: who must log in where, passwords (argon2id), sessions,
throttling, and which board a logged-in person gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watchboard.auth import passwords
from watchboard.auth.folder import AuthError, AuthFolder
from watchboard.board.webauth import (
    FAILURE_WINDOW,
    FAILURES_ALLOWED,
    Logins,
    Person,
    WebRefused,
    is_loopback,
    login_page,
    policy,
    same_origin,
)
from watchboard.config import ConfigSource, load_watchboard
from watchboard.config.loader import ConfigError

GOOD = "correct horse battery"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.20.0.7", False), ("wall.duty.example", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    """Only a loopback address counts; a name may resolve to anything."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "operator", "https", "insecure", "login"), [
    ("127.0.0.1", False, False, False, False),  # the wall, anonymously, on this machine only
    ("127.0.0.1", True, False, False, True),  # the desk needs a login even on loopback
    ("::1", True, True, False, True),
    ("0.0.0.0", False, True, False, True),  # beyond loopback: a login, over HTTPS
    ("10.20.0.7", True, True, False, True),
    ("0.0.0.0", False, False, True, True),  # --insecure: still a login
    ("0.0.0.0", False, False, False, None),  # refused
    ("wall.duty.example", True, False, False, None),
])
def test_policy(host: str, operator: bool, https: bool, insecure: bool, login: bool | None) -> None:
    if login is None:
        with pytest.raises(WebRefused, match="needs HTTPS"):
            policy(host, operator=operator, https=https, insecure=insecure)
        return
    assert policy(host, operator=operator, https=https, insecure=insecure).login is login


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
    ("https://wall.duty.example", "wall.duty.example", True),
    ("https://evil.example", "wall.duty.example", False),
    ("http://127.0.0.1:9999", "127.0.0.1:8080", False),
    (None, "127.0.0.1:8080", False),
    ("null", "127.0.0.1:8080", False),
])
def test_same_origin(origin: str | None, host: str, same: bool) -> None:
    """A websocket is taken only from a page this server served."""
    assert same_origin(origin, host) is same


@pytest.mark.parametrize(("password", "ok"), [
    (GOOD, True), ("short", False), ("x" * 257, False), (" leading space x", False), ("tab\tinside xx", False),
    ("十个汉字的一个好密码啊", True),
])
def test_password_rules(password: str, ok: bool) -> None:
    assert (passwords.check_password(password) is None) is ok


@pytest.fixture
def folder(tmp_path: Path) -> AuthFolder:
    auth = AuthFolder(tmp_path / "auth")
    auth.init(operator="值班员")
    auth.add_person("陈主任", "approver")
    return auth


def test_passwords_are_argon2id_hashes_in_a_private_file(folder: AuthFolder) -> None:
    folder.set_password("值班员", GOOD)
    text = folder.passwords_path.read_text()
    entry = json.loads(text)["people"]["值班员"]
    assert entry["hash"].startswith("$argon2id$") and GOOD not in text
    assert oct(folder.passwords_path.stat().st_mode & 0o777) == "0o600"
    known = passwords.load(folder.passwords_path)
    assert passwords.verify(known, "值班员", GOOD)
    assert not passwords.verify(known, "值班员", GOOD + "!")
    assert not passwords.verify(known, "nobody", GOOD)


@pytest.mark.parametrize(("name", "says"), [
    ("nobody", "is not a person"),
    ("intake", "is not a person"),  # services log in nowhere
])
def test_set_password_only_for_people(folder: AuthFolder, name: str, says: str) -> None:
    with pytest.raises(AuthError, match=says):
        folder.set_password(name, GOOD)


def test_revoking_removes_the_password(folder: AuthFolder) -> None:
    folder.set_password("陈主任", GOOD)
    folder.revoke("陈主任")
    assert "陈主任" not in passwords.load(folder.passwords_path).people
    with pytest.raises(AuthError, match="revoked"):
        folder.set_password("陈主任", GOOD)


@pytest.mark.parametrize(("name", "password", "result"), [
    ("值班员", GOOD, ("值班员", "operator", True, False)),
    ("陈主任", GOOD, ("陈主任", "approver", True, False)),
    ("wall", GOOD, ("wall", "wall", False, False)),  # a wall identity gets the wall, operator mode or not
    ("值班员", "wrong password!", "wrong"),
    ("nobody", GOOD, "wrong"),  # never says which part was wrong
    ("monitor", GOOD, "no_board"),
])
def test_login(folder: AuthFolder, name: str, password: str, result: object) -> None:
    """A login is a person of the folder with their password; they get their own credentials,
    and the desk only as an operator, approver or leader in operator mode."""
    for who in ("值班员", "陈主任", "wall", "monitor"):
        folder.set_password(who, GOOD)
    got = Logins(folder.path, 3600).login(name, password)
    if isinstance(result, str):
        assert got == result
        return
    assert isinstance(got, Person)
    assert (got.name, got.role, got.desk(True), got.desk(False)) == result
    assert got.creds == folder.path / (folder.registry().by_name(name).creds)  # type: ignore[union-attr]


def test_login_without_credentials_on_this_host(folder: AuthFolder) -> None:
    folder.set_password("陈主任", GOOD)
    folder.creds("陈主任").unlink()
    assert Logins(folder.path, 3600).login("陈主任", GOOD) == "no_creds"


def test_sessions_expire_and_end_when_revoked(folder: AuthFolder) -> None:
    folder.set_password("陈主任", GOOD)
    logins = Logins(folder.path, 100)
    person = logins.login("陈主任", GOOD)
    assert isinstance(person, Person)
    token = logins.start(person, now=1000.0)
    assert logins.person(token, now=1050.0) == person
    assert logins.person(token, now=1100.0) is None  # expired, and forgotten
    token = logins.start(person, now=2000.0)
    assert logins.person("forged-token", now=2001.0) is None
    folder.revoke("陈主任")
    assert logins.person(token, now=2001.0) is None  # revoked since logging in
    logins.end(token)


def test_failed_logins_are_throttled_per_address() -> None:
    logins = Logins(Path("/nonexistent"), 3600)
    for i in range(FAILURES_ALLOWED):
        assert not logins.throttled("10.0.0.9", now=100.0 + i)
        logins.failed("10.0.0.9", now=100.0 + i)
    assert logins.throttled("10.0.0.9", now=120.0)
    assert not logins.throttled("10.0.0.10", now=120.0)  # another address is not held back
    assert not logins.throttled("10.0.0.9", now=100.0 + FAILURE_WINDOW + FAILURES_ALLOWED)


def test_check_ready_refuses_logins_nobody_can_use(folder: AuthFolder, tmp_path: Path) -> None:
    with pytest.raises(WebRefused, match="set-password"):
        Logins(folder.path, 3600).check_ready()
    folder.set_password("值班员", GOOD)
    Logins(folder.path, 3600).check_ready()
    with pytest.raises(WebRefused, match=r"identities\.json"):
        Logins(tmp_path / "elsewhere", 3600).check_ready()


@pytest.mark.parametrize(("lang", "words"), [("zh", ["登录值班看板", "姓名", "密码"]), ("en", ["Log in", "Name", "Password"])])
def test_login_page_is_in_one_language_and_escapes_the_name(lang: str, words: list[str]) -> None:
    page = login_page(lang, "wrong", name='<script>alert(1)</script>')
    assert all(w in page for w in words)
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize(("text", "key"), [
    ('[web]\ntls_cert = "/etc/wb/web.crt"\n', "web.tls_key"),
    ('[web]\ntls_key = "/etc/wb/web.key"\n', "web.tls_cert"),
    ('[web]\nsession = "forever"\n', "web.session"),
    ('[web]\nsession = "30d"\n', "web.session"),
])
def test_web_config_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "watchboard.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_watchboard(ConfigSource(tmp_path))
    assert info.value.key == key and "watchboard.toml" in str(info.value)
