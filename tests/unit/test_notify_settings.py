"""notify.toml: the defaults load, and each bad config stops with file, key and problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest

from watchboard.config import ConfigError, ConfigSource, defaults_dir
from watchboard.services.notify.settings import load_notify

DEFAULT_TEXT = (defaults_dir() / "notify.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, units: str | None = None) -> ConfigSource:
    (tmp_path / "notify.toml").write_text(text, encoding="utf-8")
    if units is not None:
        (tmp_path / "units.toml").write_text(units, encoding="utf-8")
    return ConfigSource(config_dir=tmp_path, profile="default")


def test_default_config_loads() -> None:
    """The shipped notify.toml is valid and names the seeds' routes and three tiers."""
    cfg = load_notify(ConfigSource(profile="default"))
    assert {p.id for p in cfg.people} >= {"p-li", "p-office", "g-leaders", "p-propaganda", "p-zhang"}
    assert cfg.liaisons["education"] == "p-zhang"
    assert [t.after for t in cfg.escalation.tiers] == ["15m", "30m", "60m"]
    assert set(cfg.templates) == {"zh", "en"}


@pytest.mark.parametrize(("old", "new", "key", "problem"), [
    ('education = "p-zhang"', 'education = "p-nobody"', "liaisons.education", "unknown person 'p-nobody'"),
    ('roles = ["duty_officer", "leader_group"]', 'roles = ["duty_officer", "leaders"]', "routes[0].roles",
     "unknown role 'leaders'"),
    ('event = "clock.warning"', 'event = "clock.warned"', "routes[9].event", "unknown event type 'clock.warned'"),
    ('grades = ["I"]', 'grades = ["V"]', "routes[2].grades", "unknown grade 'V'"),
    ('sentiments = ["negative"]', 'sentiments = ["angry"]', "routes[3].sentiments", "unknown sentiment 'angry'"),
    ('profiles = ["plan-000"]', 'profiles = ["plan-0"]', "routes[2].profiles", "unknown profile 'plan-0'"),
    ('priority = "low"', 'priority = "urgent"', "routes[1].priority", "'urgent' is not one of normal, low"),
    ('days = ["workday"]', 'days = ["holiday"]', "roster.shifts[0].days", "'holiday' is not one of"),
    ('low_priority_window = "5m"', 'low_priority_window = "soon"', "delivery.low_priority_window",
     "is not a duration"),
    ('start = "08:30"\nend = "17:30"', 'start = "8:30"\nend = "17:30"', "roster.shifts[0].start",
     "'8:30' is not a time like '08:30'"),
    ('person = "p-wang"\n\n# 24', 'person = "p-who"\n\n# 24', "roster.shifts[1].person", "unknown person 'p-who'"),
    ('after = "30m"', 'after = "10m"', "escalation.tiers[1].after", "'10m' is not later than the tier before"),
    ('after = "15m"', 'after = "soon"', "escalation.tiers[0].after", "'soon' is not a duration"),
    ('subject = "【已超时】{title}"', 'subject = "【已超时】{titel}"', "templates.zh.clock.breached.subject",
     "unknown placeholder {titel}"),
    ('roles = ["office"]', 'roles = ["boss"]', "people[2].roles", "unknown role 'boss'"),
    ('contacts = [{ channel = "board" }]\n# contacts = [{ channel = "board" }, { channel = "email", '
     'address = "zhang@example.gov.cn" }]',
     'contacts = [{ channel = "board" }, { channel = "email", address = "zhang" }]', "people[7].contacts[1].address",
     "'zhang' is not an e-mail address"),
    ('listen = "127.0.0.1:8765"', 'listen = "8765"', "ack.listen", "is not host:port"),
    ('tls_cert = ""', 'tls_cert = "/etc/wb/web.crt"', "ack.tls_key", "needs both ack.tls_cert and ack.tls_key"),
    ('tls_key = ""', 'tls_key = "/etc/wb/web.key"', "ack.tls_cert", "needs both"),
    ('tls_cert = ""\ntls_key = ""', 'tls_cert = "web.crt"\ntls_key = "/etc/wb/web.key"', "ack.tls_cert",
     "must be an absolute path"),
    ('rate_window = "5m"', 'rate_window = "5 minutes"', "delivery.rate_window", "is not a duration"),
    ("max_attempts = 6", "max_attempts = 0", "delivery.max_attempts", "must be at least 1"),
])
def test_config_errors(tmp_path: Path, old: str, new: str, key: str, problem: str) -> None:
    """Each mistake is reported with the file, the key and the offending value."""
    assert old in DEFAULT_TEXT
    source = write(tmp_path, DEFAULT_TEXT.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_notify(source)
    assert info.value.key == key
    assert problem in info.value.problem
    assert info.value.file.endswith("notify.toml")


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    """A typo in a key name fails at load time (forbid_unknown_fields)."""
    source = write(tmp_path, DEFAULT_TEXT.replace("max_attempts = 6", "max_attempt = 6"))
    with pytest.raises(ConfigError, match="max_attempt"):
        load_notify(source)


def test_missing_template_for_routed_event(tmp_path: Path) -> None:
    """A route whose event has no template in one language is refused at start."""
    data = DEFAULT_TEXT.replace('[templates.en."sweep.missed"]\nsubject = "[Sweep missed] {window}"\n'
                                'body = "{person}: the {window} mainstream media sweep was not recorded."\n', "")
    source = write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"no template for 'sweep\.missed'") as info:
        load_notify(source)
    assert info.value.key == "templates.en"


def test_liaison_unit_checked_against_units_toml(tmp_path: Path) -> None:
    """With units.toml present, a liaison for a unit it does not define is refused."""
    units = '[[units]]\nid = "education"\nname = "教育局"\n'
    source = write(tmp_path, DEFAULT_TEXT, units=units)
    with pytest.raises(ConfigError, match="unknown unit 'health'") as info:
        load_notify(source)
    assert info.value.key == "liaisons.health"


def test_liaison_from_units_toml_is_used(tmp_path: Path) -> None:
    """A liaison named in units.toml (and known to notify) fills a unit notify.toml leaves out."""
    units = ('[[units]]\nid = "education"\nname = "教育局"\n[[units]]\nid = "health"\nname = "卫健委"\n'
             '[[units]]\nid = "transport"\nname = "交通局"\nliaison = "p-zhao"\n')
    cfg = load_notify(write(tmp_path, DEFAULT_TEXT, units=units))
    assert cfg.liaisons == {"education": "p-zhang", "health": "p-zhao", "transport": "p-zhao"}


def test_default_text_is_valid_toml() -> None:
    """The shipped file parses as TOML (guards the table edits above)."""
    assert tomllib.loads(DEFAULT_TEXT)["ack"]["listen"] == "127.0.0.1:8765"


# --- the shipped default works on a fresh machine (issue 15 item 4) ---------------------

EXAMPLE_DIR = Path(__file__).parents[2] / "examples" / "local-webhook"


def test_default_contacts_need_no_network_server() -> None:
    """As shipped, every person is reached on the board only: no SMTP server, no robot, no
    webhook, so a fresh install's demo sends every notice without a failure."""
    cfg = load_notify(ConfigSource(profile="default"))
    needs_server = [(p.id, c.label) for p in cfg.people for c in p.contacts if c.channel != "board"]
    assert needs_server == []
    assert all(p.contacts for p in cfg.people), "someone would be reached by nothing"


def test_local_webhook_example_is_the_default_on_the_sink() -> None:
    """examples/local-webhook differs from the default only in contacts (board, plus the local
    webhook-sink) and the first backoff, so it shows the shipped routes and roster."""
    default = load_notify(ConfigSource(profile="default"))
    example = load_notify(ConfigSource(EXAMPLE_DIR, profile="default"))
    for field in ("liaisons", "roster", "routes", "escalation", "smtp", "ack", "templates"):
        assert getattr(example, field) == getattr(default, field), field
    assert msgspec.structs.replace(example.delivery, backoff_initial="10s") == default.delivery
    assert [(p.id, p.name, p.roles) for p in example.people] == [(p.id, p.name, p.roles) for p in default.people]
    hooks = [c.url for p in example.people for c in p.contacts if c.channel != "board"]
    assert hooks and all(url.startswith("http://127.0.0.1:9000/") for url in hooks)
    assert {p.id for p in example.people if any(c.channel == "webhook" for c in p.contacts)} >= {
        "p-li", "g-leaders", "p-wangxuan", "p-police"}
