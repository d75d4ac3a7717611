"""notify.toml's people as intake reads them: id, name, roles only; the rest is notify's."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchboard.config import ConfigError, ConfigSource
from watchboard.config.people import load_people
from watchboard.services.notify.settings import PERSON_ROLES, load_notify


def test_the_shipped_people_and_an_approver() -> None:
    """The same people notify loads; 陈主任 approves, the leadership group is a person too."""
    people = load_people()
    assert [p.id for p in people.people] == [p.id for p in load_notify().people]
    assert people.find("陈主任").roles == ("approver",)  # type: ignore[union-attr]
    assert people.find("g-leaders").roles == ("leader_group",)  # type: ignore[union-attr]
    assert people.find("nobody") is None and people.find(" ") is None
    assert "approver" in PERSON_ROLES  # notify accepts the role it routes nothing by


@pytest.mark.parametrize(("text", "key", "problem"), [
    ('[[people]]\nid = "a"\nname = "甲"\n[[people]]\nid = "a"\nname = "乙"\n', "people[1].id", "defined twice"),
    ('[[people]]\nid = " "\nname = "甲"\n', "people[0].id", "is empty"),
    ('[[people]]\nname = "甲"\n', "people[0]", "missing required field `id`"),
])
def test_bad_people_name_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    (tmp_path / "notify.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_people(ConfigSource(tmp_path, profile="default"))
    assert (info.value.key, info.value.file) == (key, str(tmp_path / "notify.toml"))
    assert problem in info.value.problem


def test_other_keys_are_notify_s(tmp_path: Path) -> None:
    """Contacts, routes and any key intake does not know are left to notify."""
    (tmp_path / "notify.toml").write_text(
        '[[people]]\nid = "p"\nname = "丙"\nroles = ["approver"]\ncontacts = [{ channel = "board" }]\n'
        '[roster]\nfallback = ["p"]\n', encoding="utf-8")
    assert load_people(ConfigSource(tmp_path, profile="default")).find("丙").id == "p"  # type: ignore[union-attr]
