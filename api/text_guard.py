"""Every JSON body of the API is refused with a 422 when any string in it, at any depth, holds
a NUL or a lone surrogate: such text would fail later, in the database or on the way to a model,
as a 500 or a job that fails on every retry."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from api.deps import CurrentCaller
from core.contracts.text import unstorable_strings

_BODY_METHODS = {"POST", "PUT", "PATCH"}


async def refuse_unstorable_text(request: Request, _: CurrentCaller) -> None:
    """A router dependency. It needs the owner first, so a stranger still gets 401, not 422."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = media_type == "application/json" or media_type.endswith("+json")
    if request.method not in _BODY_METHODS or not is_json or not await request.body():
        return
    try:
        # FastAPI parsed this body already; Starlette keeps the result.
        body = await request.json()
    except ValueError:
        return  # not JSON: FastAPI's own validation answers that
    errors = [
        {"type": "string_unstorable", "loc": ("body", *at), "msg": f"Value error, {reason}"}
        for at, reason in unstorable_strings(body)
    ]
    if errors:
        raise RequestValidationError(errors[:20])
