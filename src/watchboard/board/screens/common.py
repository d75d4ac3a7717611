"""Helpers shared by screens."""

from __future__ import annotations

import dataclasses

from textual.dom import DOMNode

from watchboard.board.i18n import LABELS, Lang, t

_SPECIAL = {"desk.clear": "action.clear_filter"}


def localize_bindings(node: DOMNode, lang: Lang) -> None:
    """Give the footer the labels in the board's language: binding `x.verb` → `action.verb`."""
    bindings = node._bindings.key_to_bindings
    for key, items in bindings.items():
        out = []
        for binding in items:
            label_key = _SPECIAL.get(binding.id or "", f"action.{(binding.id or '').rpartition('.')[2]}")
            if binding.id and label_key in LABELS[lang]:
                binding = dataclasses.replace(binding, description=t(label_key, lang))
            out.append(binding)
        bindings[key] = out
