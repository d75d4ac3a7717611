"""The installed package holds every module of the source tree and the default config.

CI installs with a plain `pip install .`: a sub-package left out of pyproject.toml would
import in an editable checkout and fail on a duty room's PC. This test fails first.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from watchboard.config import defaults_dir, list_profiles

ROOT = Path(__file__).resolve().parents[2]


def source_modules() -> list[str]:
    names = []
    for base, prefix in ((ROOT / "src" / "watchboard", "watchboard"), (ROOT / "services", "watchboard.services")):
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if "__pycache__" in rel.parts or path.name == "__main__.py":
                continue
            names.append(".".join([prefix, *parts]))
    return names


@pytest.mark.parametrize("module", source_modules())
def test_every_module_is_installed(module: str) -> None:
    """Each module of src/watchboard and services/ imports from the installed package."""
    importlib.import_module(module)


def test_default_config_ships_inside_the_package() -> None:
    """Every config file and profile is there without the repository."""
    shipped = {p.name for p in defaults_dir().glob("*.toml")}
    assert shipped == {p.name for p in (ROOT / "config").glob("*.toml")}
    assert {p.stem for p in list_profiles()} == {p.stem for p in (ROOT / "config" / "profiles").glob("*.toml")}


def test_every_package_is_listed_in_pyproject() -> None:
    """pyproject.toml lists packages by hand; one left out installs nothing of it.

    The import test above passes in an editable checkout whatever the list says, so this
    one reads the list itself and fails on the developer's machine, before CI.
    """
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for base, prefix in ((ROOT / "src" / "watchboard", "watchboard"), (ROOT / "services", "watchboard.services")):
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join([prefix, *rel]))
    for init in (ROOT / "config").rglob("__init__.py"):
        found.add(".".join(["watchboard.defaults", *init.parent.relative_to(ROOT / "config").parts]))
    assert found - listed == set(), f"packages missing from pyproject.toml: {sorted(found - listed)}"
