"""The review page at /inbox: reviewers sign in with their key, see the questions their groups
were given, and answer from a form made from each question's schema. Server-rendered HTML, no
script, nothing from another origin; every form carries its session's CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from api.answer_form import Field, form_fields, place_errors, read_form
from api.deps import SettingsDep, StoresDep, TemporalClient
from api.inbox import Inbox
from api.job_service import JobService
from api.question_view import context_view
from api.review_session import (
    SIGN_IN_COOKIE,
    Session,
    close_session,
    current_session,
    open_session,
    remember_sign_in,
    same_token,
    sign_in_token,
)
from api.schemas import InboxItem
from core.config import Settings, reviewer_of
from core.errors import AijobsError, InvalidInput, JobConflict, QuestionNotFound

router = APIRouter(prefix="/inbox", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
# No script and nothing from elsewhere: a page that shows model output runs none of it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@router.get("", response_class=HTMLResponse)
async def inbox_page(
    request: Request, client: TemporalClient, settings: SettingsDep, stores: StoresDep
) -> Response:
    session = current_session(request, settings)
    if session is None:
        return _sign_in_page(request)
    items = await Inbox(client, settings, session.reviewer, stores).items()
    return _page(
        request,
        "list.html",
        session,
        items=items,
        groups=", ".join(sorted(session.reviewer.groups)),
        notice=request.query_params.get("notice"),
    )


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, settings: SettingsDep) -> Response:
    form = await request.form()
    if not same_token(request.cookies.get(SIGN_IN_COOKIE), _text(form, "csrf")):
        return _sign_in_page(request, "The form expired: sign in again.", status.HTTP_403_FORBIDDEN)
    reviewer = reviewer_of(_text(form, "key"), settings.reviewers)
    if reviewer is None:
        return _sign_in_page(request, "That is not a reviewer key.", status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse("/inbox", status_code=status.HTTP_303_SEE_OTHER)
    open_session(response, request, reviewer, settings)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, settings: SettingsDep) -> Response:
    session = current_session(request, settings)
    form = await request.form()
    if session is not None and not same_token(session.csrf, _text(form, "csrf")):
        return _refused()
    response = RedirectResponse("/inbox", status_code=status.HTTP_303_SEE_OTHER)
    close_session(response)
    return response


@router.get("/questions/{question_id}", response_class=HTMLResponse)
async def question_page(
    question_id: str,
    request: Request,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> Response:
    session = current_session(request, settings)
    if session is None:
        return _sign_in_page(request)
    inbox = Inbox(client, settings, session.reviewer, stores)
    try:
        item = await inbox.find(question_id)
    except QuestionNotFound:
        return _gone(request, session)
    return _question(request, session, item, notice=request.query_params.get("notice"))


@router.post("/questions/{question_id}/answer", response_class=HTMLResponse)
async def answer_question(
    question_id: str,
    request: Request,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> Response:
    posted = await _posted(request, settings)
    if posted is None:
        return _refused()
    session, form = posted
    inbox = Inbox(client, settings, session.reviewer, stores)
    try:
        item = await inbox.find(question_id)
    except QuestionNotFound:
        return _gone(request, session)
    fields = _fields(item)
    value = read_form(fields, form)
    jobs = JobService(client, settings, session.reviewer.name, stores, reviewer=session.reviewer)
    try:
        record = await jobs.submit_input(item.job_id, item.name, value, question_id, via="inbox")
    except InvalidInput as refused:
        loose = place_errors(fields, refused.errors) if refused.errors else [refused.message]
        return _question(
            request, session, item, fields, form, loose, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    except JobConflict as conflict:
        return _question(request, session, item, fields, form, [str(conflict)], conflict.status)
    shown = record.value.get("decision") or "answer"
    notice = f"Recorded: {shown} on {item.name} of {item.job_type} job {item.job_id}."
    following = [i for i in await inbox.items() if i.question_id != question_id]
    target = f"/inbox/questions/{following[0].question_id}" if following else "/inbox"
    return RedirectResponse(
        f"{target}?{_query(notice=notice)}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.post("/questions/{question_id}/{action}")
async def claim_or_release(
    question_id: str,
    action: str,
    request: Request,
    client: TemporalClient,
    settings: SettingsDep,
    stores: StoresDep,
) -> Response:
    posted = await _posted(request, settings)
    if posted is None:
        return _refused()
    session, _ = posted
    if action not in ("claim", "release"):
        return Response(status_code=status.HTTP_404_NOT_FOUND)
    inbox = Inbox(client, settings, session.reviewer, stores)
    try:
        await (inbox.claim if action == "claim" else inbox.release)(question_id)
        notice = "Claimed: others see it is yours." if action == "claim" else "Released."
    except AijobsError as err:
        notice = str(err)
    return RedirectResponse(
        f"/inbox/questions/{question_id}?{_query(notice=notice)}",
        status_code=status.HTTP_303_SEE_OTHER,
    )


async def _posted(request: Request, settings: Settings) -> tuple[Session, FormData] | None:
    """The session and the form it posted, or None when either is missing or the form's
    CSRF token is not the session's."""
    session = current_session(request, settings)
    form = await request.form()
    if session is None or not same_token(session.csrf, _text(form, "csrf")):
        return None
    return session, form


def _question(
    request: Request,
    session: Session,
    item: InboxItem,
    fields: list[Field] | None = None,
    form: FormData | None = None,
    loose_errors: list[str] | None = None,
    status_code: int = status.HTTP_200_OK,
    notice: str | None = None,
) -> Response:
    posted = {k: v for k, v in (form or {}).items() if isinstance(v, str)}
    return _page(
        request,
        "question.html",
        session,
        status_code,
        item=item,
        view=context_view(item.context),
        fields=fields or _fields(item),
        posted=posted,
        loose_errors=loose_errors or [],
        notice=notice,
    )


def _fields(item: InboxItem) -> list[Field]:
    """The form, with nested choices set to what the job proposed (an item's label)."""
    proposed: dict[str, Any] = {}
    for entry in (item.context or {}).get("items") or []:
        if isinstance(entry, dict) and "index" in entry and "label" in entry:
            proposed.setdefault("labels", {})[str(entry["index"])] = entry["label"]
    return form_fields(item.answer_schema, proposed)


def _page(
    request: Request,
    template: str,
    session: Session | None,
    status_code: int = status.HTTP_200_OK,
    **values: Any,
) -> Response:
    context = {
        "reviewer": session.reviewer.name if session else None,
        "csrf": session.csrf if session else "",
        "age": _age,
        "overdue": lambda deadline: deadline < datetime.now(UTC),
        **values,
    }
    return templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=SECURITY_HEADERS
    )


def _sign_in_page(
    request: Request, error: str | None = None, status_code: int = status.HTTP_200_OK
) -> Response:
    token = sign_in_token(request)
    response = _page(request, "sign_in.html", None, status_code, error=error, csrf=token)
    remember_sign_in(response, request, token)
    return response


def _gone(request: Request, session: Session) -> Response:
    notice = "That question is answered, or is not yours to answer."
    return RedirectResponse(
        f"/inbox?{_query(notice=notice)}", status_code=status.HTTP_303_SEE_OTHER
    )


def _refused() -> Response:
    return Response(
        "This form is not from your session: reload the page and try again.",
        status_code=status.HTTP_403_FORBIDDEN,
        media_type="text/plain",
    )


def _age(asked: datetime | None) -> str:
    if asked is None:
        return ""
    minutes = int((datetime.now(UTC) - asked).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} min ago"
    return f"{minutes // 60} h ago"


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _query(**values: str) -> str:
    return urlencode(values)
