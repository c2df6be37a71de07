"""The web dashboard: server-rendered pages for people, signed in with an API token (a cookie).

A channel page is assembled from parts cached per channel (its key figures, its video rows) and
forgotten when a run lands, so a warm page costs a template render, not a report. The full
report is one click away and cached the same way. Errors are HTML pages, never JSON.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from tubescope.cache import FLEET, TEXT, Codec
from tubescope.errors import TubescopeError
from tubescope.jobs import catalog
from tubescope.jobs import dashboard as parts
from tubescope.jobs import watch as watch_jobs
from tubescope.jobs.queue import collect_spec
from tubescope.jobs.report import render_report
from tubescope.jobs.tokens import Scope, TokenInfo
from tubescope.service.errors import status_for
from tubescope.service.state import DASHBOARD_COOKIE, ServiceState, State, client_address
from tubescope.warehouse.alerts import list_alerts
from tubescope.warehouse.watches import remove_watches

router = APIRouter(include_in_schema=False)
COOKIE = DASHBOARD_COOKIE
CSRF_COOKIE = "tubescope_csrf"
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("tubescope.service", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
_templates.globals["urlencode"] = urlencode


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A dashboard page (``user`` defaults to nobody signed in)."""
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    return HTMLResponse(_templates.get_template(template).render(**context), status_code=status_code)


def error_page(status_code: int, message: str, *, user: TokenInfo | None = None) -> HTMLResponse:
    """The HTML error page people see instead of a JSON body."""
    titles = {401: "Sign in needed", 403: "Not allowed", 404: "Not found", 422: "Cannot do that"}
    return render_page(
        "error.html.j2",
        status_code,
        title=titles.get(status_code, "Something went wrong"),
        status=status_code,
        message=message,
        user=user,
    )


def _user(request: Request, state: ServiceState) -> TokenInfo | None:
    token = request.cookies.get(COOKIE, "")
    info = state.tokens.verify(token) if token else None
    return info if info is not None and info.scope.allows(Scope.READ) else None


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE, "")


def _page(
    request: Request, template: str, user: TokenInfo, status_code: int = 200, **context: Any
) -> Response:
    """A page for a signed-in person; it carries the form token its forms post back."""
    csrf = _csrf(request)
    fresh = not csrf
    if fresh:
        csrf = secrets.token_urlsafe(16)
    response = render_page(template, status_code, user=user, csrf=csrf, **context)
    if fresh:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#c00"/><path d="M6 4l6 4-6 4z" fill="#fff"/></svg>'
)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The dashboard's icon."""
    return Response(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/login", response_class=HTMLResponse)
def login_form(next: str = "/") -> HTMLResponse:
    """The sign-in page."""
    return render_page(
        "login.html.j2", title="Sign in", error=None, next_url=next if next.startswith("/") else "/"
    )


@router.post("/login", response_model=None)
def login(
    request: Request, state: State, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Sign in with a token and set the session cookie."""
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    client = client_address(request)
    blocked = state.auth_guard.wait(client)
    if blocked > 0:
        response = render_page(
            "login.html.j2", 429, title="Sign in", error="Too many failed attempts; wait.", next_url=safe_next
        )
        response.headers["Retry-After"] = state.auth_guard.retry_after_header(blocked)
        return response
    info = state.tokens.verify(token.strip())
    if info is None or not info.scope.allows(Scope.READ):
        state.auth_guard.failed(client)
        # 200, not 401: this is the form shown again to a person, not an API refusal
        return render_page(
            "login.html.j2", title="Sign in", error="That token is not valid.", next_url=safe_next
        )
    redirect = RedirectResponse(safe_next, status_code=303)
    redirect.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict")
    return redirect


@router.api_route("/logout", methods=["GET", "POST"], response_model=None)
def logout() -> Response:
    """Forget the token cookie and go back to the sign-in form."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def channel_list(request: Request, state: State) -> Response:
    """The list of channels."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    with state.pool.borrow() as warehouse:
        channels = catalog.list_channels(warehouse)
    return _page(request, "channels.html.j2", user, title="Channels", channels=channels, error=None)


@router.post("/channels", response_model=None)
async def add_channel(
    request: Request,
    state: State,
    ref: Annotated[str, Form(max_length=300)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Start collecting a channel (write scope) and show the job's progress."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    if not user.scope.allows(Scope.WRITE):
        return error_page(403, "Adding channels needs a token with the write scope.", user=user)
    if not csrf or not secrets.compare_digest(csrf, _csrf(request)):
        return error_page(403, "The form expired; reload the page and try again.", user=user)
    try:
        job = await state.jobs.submit(collect_spec([ref.strip()]).validated())
    except TubescopeError as exc:
        with state.pool.borrow() as warehouse:
            channels = catalog.list_channels(warehouse)
        return _page(
            request, "channels.html.j2", user, 422, title="Channels", channels=channels, error=str(exc)
        )
    return RedirectResponse(f"/jobs/{job['job_id']}", status_code=303)


def _write_refused(request: Request, user: TokenInfo, csrf: str, action: str) -> Response | None:
    """The error page when a form post may not write (read-only token, stale form), else ``None``."""
    if not user.scope.allows(Scope.WRITE):
        return error_page(403, f"{action} needs a token with the write scope.", user=user)
    if not csrf or not secrets.compare_digest(csrf, _csrf(request)):
        return error_page(403, "The form expired; reload the page and try again.", user=user)
    return None


def _watch_page(
    request: Request, state: ServiceState, user: TokenInfo, status_code: int = 200, error: str | None = None
) -> Response:
    with state.pool.borrow() as warehouse:
        watched = watch_jobs.watch_table(warehouse)
        channels = catalog.list_channels(warehouse)
    taken = {w["channel_id"] for w in watched}
    return _page(
        request,
        "watches.html.j2",
        user,
        status_code,
        title="Watch list",
        watches=watched,
        unwatched=[c for c in channels if c["channel_id"] not in taken],
        error=error,
    )


@router.get("/watches", response_class=HTMLResponse, response_model=None)
def watch_list(request: Request, state: State) -> Response:
    """The channels collected on a schedule, how often, and when each is next due."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    return _watch_page(request, state, user)


@router.post("/watches", response_model=None)
def add_watch(
    request: Request,
    state: State,
    ref: Annotated[str, Form(max_length=300)],
    every: Annotated[str, Form(max_length=20)] = "1d",
    group: Annotated[str, Form(max_length=100)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Watch a collected channel (write scope); the scheduler in ``tubescope serve`` collects it."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    refused = _write_refused(request, user, csrf, "Watching channels")
    if refused is not None:
        return refused
    try:
        period = watch_jobs.parse_every(every)
        with state.pool.borrow() as warehouse:
            watch_jobs.watch_stored(warehouse, [ref.strip()], every=period, group=group.strip() or "default")
    except TubescopeError as exc:
        return _watch_page(request, state, user, 422, error=str(exc))
    return RedirectResponse("/watches", status_code=303)


@router.post("/watches/remove", response_model=None)
def remove_watch(
    request: Request,
    state: State,
    channel_id: Annotated[str, Form(max_length=100)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Stop watching a channel (write scope); its collected data stays."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    refused = _write_refused(request, user, csrf, "Changing the watch list")
    if refused is not None:
        return refused
    with state.pool.borrow() as warehouse:
        remove_watches(warehouse, [channel_id])
    return RedirectResponse("/watches", status_code=303)


@router.get("/alerts", response_class=HTMLResponse, response_model=None)
def alert_list(request: Request, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """The alerts that fired, newest first, as ``/v1/alerts`` lists them: what happened, the number,
    the channel, and how each delivery went."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    with state.pool.borrow() as warehouse:
        fired = list_alerts(warehouse, limit=limit)
        titles = {c["channel_id"]: c["title"] for c in catalog.list_channels(warehouse)}
    return _page(request, "alerts.html.j2", user, title="Alerts", alerts=fired, titles=titles)


@router.get("/jobs/{job_id}", response_class=HTMLResponse, response_model=None)
async def job_page(job_id: str, request: Request, state: State) -> Response:
    """A collection job's progress; the page refreshes itself until the job ends."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    try:
        job = await state.jobs.get(job_id)
    except TubescopeError as exc:
        return error_page(status_for(exc), str(exc), user=user)
    running = job["state"] in ("queued", "running")
    return _page(request, "job.html.j2", user, title="Collection job", job=job, running=running)


async def _cached(
    state: ServiceState, channel_id: str, key: Any, compute: Any, codec: Codec[Any] | None = None
) -> Any:
    """A memory hit on the event loop; a miss (lower tiers, or the warehouse) on a worker thread.
    With a ``codec`` (text parts) the value is shared through the lower tiers too."""
    hit, value = state.cache.get(channel_id, key)
    if hit:
        return value
    return (await run_in_threadpool(state.cache.get_or_compute, channel_id, key, compute, codec))[1]


@router.get("/channels/{ref}", response_class=HTMLResponse, response_model=None)
async def channel_page(
    ref: str,
    request: Request,
    state: State,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=40)] = "published_at",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """A channel: its key figures and a searchable, sortable table of its videos."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    try:
        with state.pool.borrow() as warehouse:
            channel_id = await _cached(
                state, FLEET, ("ref", ref), lambda: catalog.resolve_channel(warehouse, ref)
            )
            header = await _cached(
                state, channel_id, ("dash", "header"), lambda: catalog.channel_row(warehouse, channel_id)
            )
            figures = await _cached(
                state,
                channel_id,
                ("dash", "figures"),
                lambda: parts.figures_html(parts.channel_figures(warehouse, channel_id)),
                TEXT,
            )
            videos: catalog.ChannelVideos = await _cached(
                state, channel_id, "videos", lambda: catalog.channel_videos(warehouse, channel_id)
            )
    except TubescopeError as exc:
        return error_page(status_for(exc), str(exc), user=user)
    table = parts.video_table(videos.rows, query=q, sort=sort, descending=order == "desc", page=page)
    return _page(
        request,
        "channel.html.j2",
        user,
        title=header.get("title") or channel_id,
        channel=header,
        figures=Markup(figures),  # noqa: S704 - rendered by an autoescaping template
        table=table,
    )


@router.get("/channels/{ref}/report", response_class=HTMLResponse, response_model=None)
async def channel_report(ref: str, request: Request, state: State) -> Response:
    """The channel's full report (cached until a run lands)."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    try:
        with state.pool.borrow() as warehouse:
            channel_id = await run_in_threadpool(catalog.resolve_channel, warehouse, ref)
            # the report page the REST download serves too, through every cache tier
            page = await _cached(
                state, channel_id, "report-page", lambda: render_report(warehouse, channel_id).html, TEXT
            )
    except TubescopeError as exc:
        return error_page(status_for(exc), str(exc), user=user)
    return HTMLResponse(page)


@router.get("/channels/{ref}/videos/{video_id}", response_class=HTMLResponse, response_model=None)
def video_page(ref: str, video_id: str, request: Request, state: State) -> Response:
    """One video: its view curve against the channel's same-age band."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    try:
        with state.pool.borrow() as warehouse:
            detail = parts.video_detail(warehouse, ref, video_id)
    except TubescopeError as exc:
        return error_page(status_for(exc), str(exc), user=user)
    return _page(
        request,
        "video.html.j2",
        user,
        title=detail.video.get("title") or video_id,
        detail=detail,
        chart=Markup(detail.chart_svg),  # noqa: S704 - built from numbers, titles escaped
    )


@router.get("/compare", response_class=HTMLResponse, response_model=None)
def compare_page(
    request: Request, state: State, channel: Annotated[list[str] | None, Query(max_length=20)] = None
) -> Response:
    """Channels compared side by side."""
    user = _user(request, state)
    if user is None:
        return _to_login(request)
    chosen = channel or []
    if len(chosen) < 2:
        return _page(request, "compare.html.j2", user, title="Compare", results=[], names={}, error=None)
    try:
        with state.pool.borrow() as warehouse:
            results = catalog.peer_comparison(warehouse, chosen)
            names = {c["channel_id"]: c["title"] for c in catalog.list_channels(warehouse)}
    except TubescopeError as exc:
        return _page(
            request, "compare.html.j2", user, 422, title="Compare", results=[], names={}, error=str(exc)
        )
    return _page(request, "compare.html.j2", user, title="Compare", results=results, names=names, error=None)
