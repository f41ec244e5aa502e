"""Text that will be stored in PostgreSQL, which cannot hold a NUL character in text or JSON."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    return value


# People's input that aijobs stores: refused at the boundary with a 422 naming the field.
StorableText = Annotated[str, AfterValidator(_no_nul)]
