"""A question's context, laid out for people by its shape (not by job type): a draft, with its
changes since the previous draft marked; a tool call's arguments as a table; items with their
proposed labels; anything else as named values."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

_WORDS = re.compile(r"\S+\s*")


@dataclass
class Piece:
    """A run of a draft's words: kept, added since the previous draft, or removed from it."""

    text: str
    change: Literal["same", "added", "removed"] = "same"


@dataclass
class ContextView:
    draft: list[Piece] | None = None
    feedback: str | None = None
    tool: str | None = None
    arguments: list[tuple[str, str]] = field(default_factory=list)
    items: list[dict[str, str]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(piece.change != "same" for piece in self.draft or [])


def context_view(context: dict[str, Any] | None) -> ContextView:
    context = dict(context or {})
    view = ContextView()
    if isinstance(context.get("draft"), str):
        draft = context.pop("draft")
        previous = context.pop("previous_draft", None)
        view.draft = _diff(previous, draft) if isinstance(previous, str) else [Piece(draft)]
        feedback = context.pop("feedback", None)
        view.feedback = feedback if isinstance(feedback, str) else None
    if isinstance(context.get("tool"), str) and isinstance(context.get("arguments"), dict):
        view.tool = context.pop("tool")
        view.arguments = [(str(k), _shown(v)) for k, v in context.pop("arguments").items()]
    if isinstance(context.get("items"), list):
        view.items = [
            {str(k): _shown(v) for k, v in item.items()}
            for item in context.pop("items")
            if isinstance(item, dict)
        ]
    view.other = [(key.replace("_", " "), _shown(value)) for key, value in context.items()]
    return view


def _diff(before: str, after: str) -> list[Piece]:
    """Word by word: what the new draft kept, added and dropped."""
    old, new = _WORDS.findall(before), _WORDS.findall(after)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("".join(new[b1:b2])))
            continue
        if a2 > a1:
            pieces.append(Piece("".join(old[a1:a2]), "removed"))
        if b2 > b1:
            pieces.append(Piece("".join(new[b1:b2]), "added"))
    return pieces


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
