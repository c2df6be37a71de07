"""The web dashboard: server-rendered pages built from the report's components."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from tubescope.cache import TEXT
from tubescope.errors import TubescopeError
from tubescope.jobs import catalog
from tubescope.jobs.report import render_report
from tubescope.jobs.tokens import Scope
from tubescope.service.state import DASHBOARD_COOKIE, ServiceState, State, client_address

router = APIRouter(include_in_schema=False)
COOKIE = DASHBOARD_COOKIE
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("tubescope.service", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_NAV = Markup(  # the report is a whole page; the dashboard only adds its navigation on top
    '<nav style="background:#202124;padding:.6rem 1.2rem;display:flex;gap:1.2rem">'
    '<a style="color:#fff;font-weight:600;text-decoration:none" href="/">tubescope</a>'
    '<a style="color:#fff;text-decoration:none" href="/">Channels</a>'
    '<a style="color:#fff;text-decoration:none" href="/compare">Compare</a></nav>'
)


def _page(template: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(template).render(**context), status_code=status_code)


def _signed_in(request: Request, state: ServiceState) -> bool:
    token = request.cookies.get(COOKIE, "")
    info = state.tokens.verify(token) if token else None
    return info is not None and info.scope.allows(Scope.READ)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#c00"/><path d="M6 4l6 4-6 4z" fill="#fff"/></svg>'
)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/") -> HTMLResponse:
    return _page("login.html.j2", title="Sign in", error=None, next_url=next if next.startswith("/") else "/")


@router.post("/login", response_model=None)
def login(
    request: Request, state: State, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    client = client_address(request)
    blocked = state.auth_guard.wait(client)
    if blocked > 0:
        response = _page(
            "login.html.j2", 429, title="Sign in", error="Too many failed attempts; wait.", next_url=safe_next
        )
        response.headers["Retry-After"] = state.auth_guard.retry_after_header(blocked)
        return response
    info = state.tokens.verify(token.strip())
    if info is None or not info.scope.allows(Scope.READ):
        state.auth_guard.failed(client)
        # 200, not 401: this is the form shown again to a person, not an API refusal
        return _page("login.html.j2", title="Sign in", error="That token is not valid.", next_url=safe_next)
    redirect = RedirectResponse(safe_next, status_code=303)
    redirect.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return redirect


@router.get("/", response_class=HTMLResponse, response_model=None)
def channel_list(request: Request, state: State) -> Response:
    if not _signed_in(request, state):
        return _to_login(request)
    with state.pool.borrow() as warehouse:
        channels = catalog.list_channels(warehouse)
    return _page("channels.html.j2", title="Channels", channels=channels)


@router.get("/channels/{ref}", response_class=HTMLResponse, response_model=None)
def channel_page(ref: str, request: Request, state: State) -> Response:
    if not _signed_in(request, state):
        return _to_login(request)
    with state.pool.borrow() as warehouse:
        channel_id = catalog.resolve_channel(warehouse, ref)
        # the page cache: shared through every tier (Redis, disk) until a run lands for the channel
        _, page = state.cache.get_or_compute(
            channel_id, "report-page", lambda: render_report(warehouse, channel_id).html, TEXT
        )
    return HTMLResponse(page.replace("<body>", "<body>" + _NAV, 1))


@router.get("/compare", response_class=HTMLResponse, response_model=None)
def compare_page(
    request: Request, state: State, channel: Annotated[list[str] | None, Query(max_length=20)] = None
) -> Response:
    if not _signed_in(request, state):
        return _to_login(request)
    chosen = channel or []
    if len(chosen) < 2:
        return _page("compare.html.j2", title="Compare", results=[], names={}, error=None)
    try:
        with state.pool.borrow() as warehouse:
            results = catalog.peer_comparison(warehouse, chosen)
            names = {c["channel_id"]: c["title"] for c in catalog.list_channels(warehouse)}
    except TubescopeError as exc:
        return _page("compare.html.j2", 422, title="Compare", results=[], names={}, error=str(exc))
    return _page("compare.html.j2", title="Compare", results=results, names=names, error=None)
