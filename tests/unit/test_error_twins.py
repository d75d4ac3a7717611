"""Every refusal is worded twice: each place that makes a `DomainError` (`Invalid`, `NotFound`,
`Conflict`, `Forbidden`, `Unavailable`, `ReportError`…), report validation's `_fail` and the
evidence store's `EvidenceError` gives its Chinese twin (`zh=…`) beside the English.

The walk is static (an AST scan of src/ and services/), so a refusal no test triggers is
checked too. Where the twin is written out at the raise site, its words are checked as well:
the Chinese holds Chinese and no English word, the English no Chinese (tokens, ids and quoted
data aside, tests/language.py).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.language import CJK, stray_chinese, stray_english
from watchboard.domain.errors import Conflict, Invalid, ReportError, message_in

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "src" / "watchboard").rglob("*.py"), *(ROOT / "services").rglob("*.py")])
DOMAIN_ERRORS = frozenset({"DomainError", "Invalid", "NotFound", "Conflict", "Forbidden", "Unavailable",
                           "ReportError", "InvalidReport", "ReportNotFound"})
CODE_FIRST = frozenset({"DomainError", "ReportError", "EvidenceError"})  # (code, field|message, …)
PLACEHOLDER = "·"  # stands for an f-string's {value}: neither Latin nor Chinese


@dataclass(frozen=True)
class Site:
    where: str
    call: ast.Call
    kind: str  # the error's name, or "_fail"

    def english(self) -> ast.expr | None:
        index = {"_fail": 1, "EvidenceError": 1}.get(self.kind, 2 if self.kind in CODE_FIRST else 1)
        return self.call.args[index] if len(self.call.args) > index else None

    def chinese(self) -> ast.expr | None:
        return next((k.value for k in self.call.keywords if k.arg == "zh"), None)


def error_names(tree: ast.Module, path: Path) -> set[str]:
    """The names that make a refusal in this module: the domain's errors as imported here (at
    any depth, under any alias), the evidence store's error, validate.py's `_fail`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "watchboard.domain.errors":
            names |= {a.asname or a.name for a in node.names if a.name in DOMAIN_ERRORS}
        if isinstance(node, ast.ImportFrom) and node.module == "watchboard.evidence_store":
            names |= {a.asname or a.name for a in node.names if a.name == "EvidenceError"}
    if path.name == "evidence_store.py":
        names.add("EvidenceError")
    if path.name == "validate.py" and path.parent.name == "domain":
        names.add("_fail")
    return names


def sites_in(source: str, where: str, path: Path) -> list[Site]:
    tree = ast.parse(source)
    names = error_names(tree, path)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        # `(Invalid if … else Conflict)(field, problem, zh=…)` is one site of two classes.
        candidates = [func.body, func.orelse] if isinstance(func, ast.IfExp) else [func]
        called = [c.id for c in candidates if isinstance(c, ast.Name) and c.id in names]
        if called:
            found.append(Site(f"{where}:{node.lineno}", node, called[0]))
    return found


def all_sites() -> list[Site]:
    out = []
    for path in SOURCES:
        if path.name == "errors.py" and path.parent.name == "domain":
            continue  # the family itself: its classes, no refusal
        out += sites_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), path)
    return out


def literal_text(node: ast.expr | None) -> str | None:
    """The words a string or f-string literal writes out (values as PLACEHOLDER); None when
    the text is computed elsewhere (a helper, a variable)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = literal_text(node.left), literal_text(node.right)
        return None if left is None or right is None else left + right
    return None


def problems_of(site: Site) -> list[str]:
    zh = site.chinese()
    if zh is None:
        return [f"{site.where}: {site.kind}(…) has no Chinese twin (zh=…)"]
    if isinstance(zh, ast.Constant) and not zh.value:
        return [f"{site.where}: {site.kind}(…) has an empty Chinese twin"]
    out = []
    text = literal_text(zh)
    if text is not None:
        if not CJK.search(text):
            out.append(f"{site.where}: the Chinese twin {text!r} holds no Chinese")
        if stray := stray_english(text):
            out.append(f"{site.where}: the Chinese twin {text!r} holds English words {stray}")
    english = literal_text(site.english())
    if english is not None and (stray := stray_chinese(english)):
        out.append(f"{site.where}: the English message {english!r} holds Chinese {stray}")
    return out


SITES = all_sites()


def test_the_walk_finds_the_raise_sites() -> None:
    """The scan sees the refusals (not vacuous): well over a hundred, in the domain, the
    services, validation, the endpoints and the evidence store."""
    assert len(SITES) >= 150
    places = {s.where.split(":")[0] for s in SITES}
    for expected in ("src/watchboard/domain/validate.py", "src/watchboard/domain/incident.py",
                     "services/grading/logic.py", "services/deadlines/logic.py", "services/notify/service.py",
                     "src/watchboard/bus/endpoints.py", "src/watchboard/evidence_store.py"):
        assert expected in places, expected
    assert sum(1 for s in SITES if s.kind == "_fail") >= 25
    # Most twins are written out where the refusal is made, so their words are checked here.
    assert sum(1 for s in SITES if literal_text(s.chinese()) is not None) >= 130


@pytest.mark.parametrize("site", SITES, ids=lambda s: s.where)
def test_every_raise_site_has_a_chinese_twin(site: Site) -> None:
    """Each refusal gives `zh=…`; written-out twins are Chinese through and through, and the
    English holds no Chinese."""
    assert problems_of(site) == []


def test_the_check_refuses_what_it_is_there_to_refuse(tmp_path: Path) -> None:
    """A raise without a twin, with an English twin, with English inside the Chinese, or with
    Chinese inside the English, each fails the check; a proper one passes."""
    source = '''
from watchboard.domain.errors import Conflict as C, Invalid
def f(x):
    raise C("kind", "the incident is already flagged rumour")
def g(x):
    raise Invalid("kind", "bad", zh="bad")
def h(x):
    raise Invalid("kind", "bad", zh=f"该舆情 {x} already 标记")
def i(x):
    raise (Invalid if x else C)("kind", "需要 a reason", zh="须写明理由")
def j(x):
    raise Invalid("kind", f"unknown unit {x!r}", zh=f"没有 {x!r} 这个单位（见 `units.toml`）")
'''
    sites = sites_in(source, "m.py", tmp_path / "m.py")
    assert [len(problems_of(s)) for s in sites] == [1, 2, 1, 1, 0]


def test_a_domain_error_carries_both_texts_to_the_wire() -> None:
    """`message` stays the English; `message_zh` the twin; the reply carries both; a copied or
    pickled error keeps both (the family defines `__reduce__` for that)."""
    import pickle

    err = Conflict("kind", "the incident is already flagged rumour", zh="该舆情已标记为谣言")
    assert (err.message, err.message_zh) == ("the incident is already flagged rumour", "该舆情已标记为谣言")
    assert err.to_reply() == {"ok": False, "error": {
        "code": "conflict", "field": "kind", "message": "the incident is already flagged rumour",
        "message_zh": "该舆情已标记为谣言"}}
    again = pickle.loads(pickle.dumps(err))
    assert (type(again), again.message, again.message_zh) == (Conflict, err.message, err.message_zh)
    report = pickle.loads(pickle.dumps(ReportError("invalid", "title", "title is empty", zh="标题不能为空")))
    assert isinstance(report, Invalid) and report.message_zh == "标题不能为空"
    assert Invalid("x", "no twin").message_zh == "no twin"  # never empty on the wire


@pytest.mark.parametrize(("error", "lang", "expected"), [
    ({"message": "en", "message_zh": "中"}, "zh", "中"),
    ({"message": "en", "message_zh": "中"}, "en", "en"),
    ({"message": "en"}, "zh", "en"),  # a reply from before the twin existed
    ({"message_zh": ""}, "zh", ""),
    ({}, "en", ""),
])
def test_message_in_reads_the_readers_language(error: dict[str, str], lang: str, expected: str) -> None:
    assert message_in(error, lang) == expected
