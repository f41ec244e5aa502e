"""What changed between a recorded model request and a new one, said the way a person reads
it: which message changed and how, then any other field."""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

# A diff longer than this is cut: the error must stay readable (and small in history).
MAX_DIFF_LINES = 40


def request_digest(request: dict[str, Any]) -> str:
    """The identity of a request: equal digests, identical requests."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def describe_change(recorded: dict[str, Any], asked: dict[str, Any]) -> str:
    """Lines saying how `asked` differs from `recorded`; empty when they are the same."""
    lines: list[str] = []
    for key in ("messages", "append"):
        if key in recorded or key in asked:
            lines += _messages_change(key, recorded.get(key) or [], asked.get(key) or [])
    for key in sorted(set(recorded) | set(asked)):
        if key in ("messages", "append") or recorded.get(key) == asked.get(key):
            continue
        lines.append(f"{key}: {_short(recorded.get(key))} -> {_short(asked.get(key))}")
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)


def _messages_change(key: str, before: list[Any], after: list[Any]) -> list[str]:
    lines: list[str] = []
    for index in range(max(len(before), len(after))):
        old = before[index] if index < len(before) else None
        new = after[index] if index < len(after) else None
        if old == new:
            continue
        role = (new or old or {}).get("role", "?")
        where = f"{key}[{index}] ({role})"
        if old is None:
            lines.append(f"{where} added: {_short(new.get('content') if new else None)}")
        elif new is None:
            lines.append(f"{where} removed: {_short(old.get('content'))}")
        else:
            lines.append(f"{where} changed:")
            lines += _text_diff(_text(old), _text(new))
    return lines


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    rest = {k: v for k, v in message.items() if k not in ("content", "role")}
    text = content if isinstance(content, str) else json.dumps(content)
    return text + (f"\n{json.dumps(rest, sort_keys=True)}" if rest else "")


def _text_diff(old: str, new: str) -> list[str]:
    """A unified diff of two texts, by line, or by word when both are one line."""
    if "\n" not in old and "\n" not in new:
        old_parts, new_parts = old.split(" "), new.split(" ")
        matcher = difflib.SequenceMatcher(a=old_parts, b=new_parts, autojunk=False)
        lines = []
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag != "equal":
                lines.append(f"  - {' '.join(old_parts[a0:a1])!r}" if a1 > a0 else "")
                lines.append(f"  + {' '.join(new_parts[b0:b1])!r}" if b1 > b0 else "")
        return [line for line in lines if line]
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
    return ["  " + line for line in list(diff)[2:]]


def _short(value: Any, limit: int = 120) -> str:
    """A value as JSON, strings quoted, cut at `limit` characters."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text[:limit] + ("..." if len(text) > limit else "")
