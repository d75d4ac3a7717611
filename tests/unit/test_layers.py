"""The layers hold: the domain imports nothing that reads files, talks to NATS or stores
anything, and takes its config as typed Structs from the per-file config modules.

    watchboard.domain  ──Structs──►  watchboard.config.<file>  ──►  config.loader (reads nothing)
                                                                         │ handed a source
                                                                   config.files (reads files)
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import watchboard.config
from watchboard.config import files, loader

SRC = Path(__file__).resolve().parents[2] / "src" / "watchboard"
DOMAIN_FILES = sorted((SRC / "domain").rglob("*.py"))
CONFIG_FILES = sorted(p for p in (SRC / "config").glob("*.py") if p.stem not in ("__init__", "loader", "files"))

# Modules that read files, the environment's stores or the bus, and this package's doors to
# them: `watchboard.config` itself resolves to the loaders, `files` reads, `watchboard`
# (watchboard.toml) is only read at a service's start.
IO_MODULES = ("tomllib", "pathlib", "importlib", "sqlite3", "aiosqlite", "nats", "shutil", "socket",
              "watchboard.bus", "watchboard.store", "watchboard.services", "watchboard.client",
              "watchboard.config.files", "watchboard.config.watchboard")
# What a per-file config module may take from the domain: its leaves, never a rule module
# (a rule module imports the config modules; the other way would be a cycle).
DOMAIN_LEAVES = ("watchboard.domain.report", "watchboard.domain.durations", "watchboard.domain.errors")


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in the file, at any depth (function-local too)."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


def refused(module: str, names: list[str]) -> str | None:
    for bad in IO_MODULES:
        if module == bad or module.startswith(bad + "."):
            return f"imports {module}"
    if module == "watchboard.config":
        return f"imports {names} from watchboard.config (the loaders' front door); import the Structs " \
               "from watchboard.config.<file>"
    if module.startswith("watchboard.config."):
        loaders = [n for n in names if n.startswith("load") or n in ("ConfigSource", "or_default")]
        if module == "watchboard.config.loader" or loaders:
            return f"imports {loaders or module} from {module}: the domain is handed config, it loads none"
    return None


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_domain_module_imports_no_io(path: Path) -> None:
    """No domain module imports a file reader, a store, the bus, or a config loader."""
    problems = [why for module, names in imports_of(path) if (why := refused(module, names))]
    assert problems == []


def test_refused_imports_are_refused() -> None:
    """The check above catches what it is there to catch (it is not vacuous)."""
    assert refused("tomllib", []) is not None
    assert refused("importlib.resources", []) is not None
    assert refused("watchboard.config", ["ConfigSource"]) is not None
    assert refused("watchboard.config.loader", ["ConfigError"]) is not None
    assert refused("watchboard.config.grading", ["load_grading"]) is not None
    assert refused("watchboard.store.states", ["StateTable"]) is not None
    assert refused("watchboard.config.grading", ["GradingConfig"]) is None
    assert refused("msgspec", []) is None


def test_importing_the_domain_imports_no_reader() -> None:
    """Transitively too: importing every domain module loads no file reader, store or bus client.

    Run in a fresh interpreter, since this test process has imported everything already."""
    modules = [".".join(p.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
               for p in DOMAIN_FILES]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "bad = ('tomllib', 'importlib.resources', 'sqlite3', 'aiosqlite', 'nats', 'watchboard.bus',\n"
            "       'watchboard.store', 'watchboard.config.files', 'watchboard.config.watchboard')\n"
            "print(sorted(m for m in sys.modules if m in bad or m.startswith(tuple(b + '.' for b in bad))))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_module_takes_only_domain_leaves(path: Path) -> None:
    """A per-file config module imports the domain's vocabulary, never a rule module, and no reader."""
    domain = [m for m, _ in imports_of(path) if m.startswith("watchboard.domain")]
    assert [m for m in domain if m not in DOMAIN_LEAVES] == []
    assert [m for m, _ in imports_of(path) if m in ("tomllib", "pathlib", "watchboard.config.files")] == []


@pytest.mark.parametrize("name", watchboard.config.__all__)
def test_package_names_resolve_to_their_home(name: str) -> None:
    """Each name `from watchboard.config import X` gives is the object its module defines."""
    value = getattr(watchboard.config, name)
    home = importlib.import_module(f"watchboard.config.{watchboard.config._HOMES[name]}")
    assert value is getattr(home, name)


def test_package_lists_every_name_it_resolves() -> None:
    """`__all__` and the lazy table agree, and an unknown name is an AttributeError."""
    assert sorted(watchboard.config.__all__) == sorted(watchboard.config._HOMES)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = watchboard.config.nope


def test_loader_reads_through_the_source_it_is_handed() -> None:
    """`load` takes its data from any source: no file is read for this one."""

    class Given:
        def read(self, name: str) -> tuple[dict, str]:
            return {"language": "en"}, f"given/{name}"

        def profile_data(self) -> tuple[dict, str]:
            raise AssertionError("watchboard.toml is not amended by a profile")

    from watchboard.config.watchboard import load_watchboard

    assert load_watchboard(Given()).language == "en"
    assert isinstance(loader.or_default(None), files.ConfigSource)
