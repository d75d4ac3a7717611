"""The table of operator commands in docs/architecture.md, generated from the Structs
(tests/unit/test_commands.py keeps the page equal to this, so it cannot drift)."""

from __future__ import annotations

from typing import Any

import msgspec

from watchboard.domain.commands import COMMANDS, Command


def _type(info: Any) -> str:
    if isinstance(info, msgspec.inspect.StrType):
        return f"str ≤ {info.max_length:,}" if info.max_length else "str"
    if isinstance(info, msgspec.inspect.ListType):
        limit = f" ≤ {info.max_length}" if info.max_length else ""
        return f"list[{_type(info.item_type)}]{limit}"
    if isinstance(info, msgspec.inspect.StructType):
        return f"`{info.cls.__name__}`"
    if isinstance(info, msgspec.inspect.IntType) and info.ge is not None:
        return f"int ≥ {info.ge}"
    return type(info).__name__.removesuffix("Type").lower()


def fields(cmd: type[Command]) -> list[str]:
    info = msgspec.inspect.type_info(cmd)
    assert isinstance(info, msgspec.inspect.StructType)
    out = []
    for f in info.fields:
        default = "" if f.required else f" = {f.default!r}" if f.default is not msgspec.NODEFAULT else " = []"
        out.append(f"`{f.name}`: {_type(f.type)}{default}")
    return out


def _nested(cmd: type[Command]) -> list[type[msgspec.Struct]]:
    """Structs a command holds (a meeting's tasks), to list under the table."""
    info = msgspec.inspect.type_info(cmd)
    assert isinstance(info, msgspec.inspect.StructType)
    out = []
    for f in info.fields:
        item = f.type.item_type if isinstance(f.type, msgspec.inspect.ListType) else f.type
        if isinstance(item, msgspec.inspect.StructType):
            out.append(item.cls)
    return out


def markdown() -> str:
    lines = ["| subject | service | Struct | fields |", "|---|---|---|---|"]
    nested: list[type[msgspec.Struct]] = []
    for cmd in COMMANDS:
        lines.append(f"| `wb.cmd.{cmd.verb}` | {cmd.service} | `{cmd.__name__}` | {', '.join(fields(cmd))} |")
        nested += [n for n in _nested(cmd) if n not in nested]
    for struct in nested:
        lines.append(f"| | | `{struct.__name__}` | {', '.join(fields(struct))} |")  # type: ignore[arg-type]
    return "\n".join(lines) + "\n"
