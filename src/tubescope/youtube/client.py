"""The async YouTube Data API v3 client.

One method per endpoint, typed results (:mod:`tubescope.youtube.models`), and every response
decided by :func:`~tubescope.youtube.classify.classify_response`. Around each request, in order:
the budget (refuse before spending), the circuit breaker, the key pool, the concurrency bound and
the rate limiter; after it, retries with backoff for transient failures only.

The key travels as the ``key=`` query parameter, so a request URL is a secret: it is never put
into a log line or an exception, and the HTTP libraries' own request logs are scrubbed as well.
Requests go out through aiohttp (:mod:`tubescope.youtube.transport`), or through httpx over a
transport handed in.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlencode

import structlog

from tubescope.domain.refs import ChannelRef, RefKind
from tubescope.errors import (
    ApiAccessNotConfigured,
    ApiError,
    ApiKeyInvalid,
    ChannelNotFound,
    ConfigError,
    QuotaExhausted,
    TransientApiError,
    VideoNotFound,
)
from tubescope.logging import key_fingerprint, redact_text
from tubescope.youtube import models as api
from tubescope.youtube.classify import Action, FatalKind, Verdict, classify_response
from tubescope.youtube.errors import RepeatedPageToken, ResourceUnavailable
from tubescope.youtube.keys import KeyPool
from tubescope.youtube.quota import (
    COST,
    DOCUMENTED_REQUESTS_PER_SECOND,
    PAGE_SIZE,
    Method,
    QuotaLedger,
    bucket_of,
)
from tubescope.youtube.resilience import Backoff, CircuitBreaker, Clock, RateLimiter
from tubescope.youtube.shared_quota import SharedQuota
from tubescope.youtube.transport import Sender, TransportFailure, make_sender

if TYPE_CHECKING:
    import httpx

Sleep = Callable[[float], Awaitable[None]]
ItemT = TypeVar("ItemT", bound=api.ApiModel)

CHANNEL_PARTS: tuple[str, ...] = ("snippet", "contentDetails", "statistics")
PLAYLIST_ITEM_PARTS: tuple[str, ...] = ("snippet", "contentDetails")
VIDEO_PARTS: tuple[str, ...] = ("snippet", "contentDetails", "statistics", "status", "liveStreamingDetails")
STATS_PARTS: tuple[str, ...] = ("snippet", "statistics", "contentDetails")
COMMENT_THREAD_PARTS: tuple[str, ...] = ("snippet", "replies")

_log = structlog.get_logger("tubescope.youtube")
_UNBILLED_FATAL = frozenset({FatalKind.KEY_INVALID, FatalKind.ACCESS_NOT_CONFIGURED})


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How hard the client may push the API, and how long it keeps trying."""

    requests_per_second: float = DOCUMENTED_REQUESTS_PER_SECOND
    """Default: the API's own per-user rate limit (the daily quota binds long before it)."""
    max_concurrency: int = 8
    max_retries: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    breaker_threshold: int = 10
    breaker_reset_seconds: float = 30.0
    timeout_seconds: float = 30.0
    budget_units: int | None = None

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("requests_per_second must be > 0", self.requests_per_second > 0),
                ("max_concurrency must be >= 1", self.max_concurrency >= 1),
                ("max_retries must be >= 0", self.max_retries >= 0),
                ("backoff_base_seconds must be >= 0", self.backoff_base_seconds >= 0),
                (
                    "backoff_max_seconds must be >= backoff_base_seconds",
                    self.backoff_max_seconds >= self.backoff_base_seconds,
                ),
                ("breaker_threshold must be >= 1", self.breaker_threshold >= 1),
                ("breaker_reset_seconds must be >= 0", self.breaker_reset_seconds >= 0),
                ("timeout_seconds must be > 0", self.timeout_seconds > 0),
                ("budget_units must be >= 0", self.budget_units is None or self.budget_units >= 0),
            )
            if not ok
        ]
        if problems:
            raise ConfigError("invalid client options: " + "; ".join(problems))


def parse_http_date(header: str | None) -> datetime | None:
    """An HTTP ``Date`` header (RFC 9110 IMF-fixdate, or the obsolete forms) as aware UTC; None
    when absent or unreadable."""
    if not header:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class YouTubeClient:
    """Async Data API v3 client; use as ``async with YouTubeClient(...) as client:``."""

    def __init__(
        self,
        api_base: str,
        keys: Sequence[str],
        options: ClientOptions | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        shared_quota: SharedQuota | None = None,
    ) -> None:
        self.options = options or ClientOptions()
        self._shared = shared_quota
        if not api_base.startswith(("http://", "https://")):
            raise ConfigError(f"the API base URL must start with http:// or https://, got {api_base!r}")
        self._base = api_base.rstrip("/")
        self._keys = KeyPool(keys)
        self._ledger = QuotaLedger(self.options.budget_units)
        self._breaker = CircuitBreaker(
            self.options.breaker_threshold, self.options.breaker_reset_seconds, clock
        )
        self._backoff = Backoff(self.options.backoff_base_seconds, self.options.backoff_max_seconds)
        self._limiter = RateLimiter(self.options.requests_per_second)
        self._semaphore = asyncio.Semaphore(self.options.max_concurrency)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._batch_stats_supported: bool | None = None
        self._server_time: tuple[datetime, float] | None = None
        self.requests_sent = 0
        _scrub_httpx_logs()
        self._http: Sender = make_sender(
            max_connections=self.options.max_concurrency,
            timeout_seconds=self.options.timeout_seconds,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"YouTubeClient({self._base!r}, keys={self._keys!r})"

    async def __aenter__(self) -> YouTubeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections and the shared quota ledger the client was given."""
        await self._http.aclose()
        if self._shared is not None:
            await self._shared.aclose()

    # ------------------------------------------------------------ the server's clock

    def _note_server_time(self, header: str | None) -> None:
        moment = parse_http_date(header)
        if moment is not None:
            self._server_time = (moment, time.monotonic())

    def server_now(self) -> datetime:
        """The API's own time: the ``Date`` header of the latest answer plus the time since it
        came, or the local clock before any answer (or when the server sends no valid date).

        Snapshots are stamped with this, so the emulator's world clock and the real API both
        stamp what they served at the time they served it.
        """
        if self._server_time is None:
            return datetime.now(UTC)
        moment, received = self._server_time
        return moment + timedelta(seconds=max(time.monotonic() - received, 0.0))

    # ------------------------------------------------------------ quota and health

    @property
    def quota_spent(self) -> int:
        """Units charged by this client: every request sent, rejected ones included, except those
        refused for the key itself (out of quota, invalid, API not enabled), which bill nobody."""
        return self._ledger.spent

    @property
    def quota_remaining(self) -> int | None:
        """Units left under ``budget_units``; None when there is no budget."""
        return self._ledger.remaining

    def quota_by_key(self) -> dict[str, int]:
        """Units spent per key fingerprint, for run lineage."""
        return self._ledger.by_key()

    def quota_by_method(self) -> dict[str, int]:
        """Quota units spent per API method."""
        return self._ledger.by_method()

    def quota_by_key_bucket(self) -> dict[tuple[str, str], int]:
        """Units spent per (key fingerprint, daily quota bucket)."""
        return self._ledger.by_key_bucket()

    def exhausted_by_bucket(self) -> dict[str, list[str]]:
        """Key fingerprints out of quota for today, per quota bucket."""
        return self._keys.exhausted_by_bucket()

    @property
    def key_fingerprints(self) -> list[str]:
        """Fingerprints of the API keys in use (never the keys)."""
        return self._keys.fingerprints

    @property
    def exhausted_key_fingerprints(self) -> list[str]:
        """Keys out of the shared (non-search, non-batchGetStats) quota for today."""
        return self._keys.exhausted_fingerprints()

    @property
    def breaker(self) -> CircuitBreaker:
        """The client's circuit breaker."""
        return self._breaker

    @property
    def batch_stats_supported(self) -> bool | None:
        """None until :meth:`batch_get_stats` has been tried; False once the server lacked it or its
        own daily quota bucket ran out on every key (the client then uses videos.list)."""
        return self._batch_stats_supported

    # ------------------------------------------------------------ endpoints

    async def channels_list(
        self,
        *,
        ids: Sequence[str] | None = None,
        for_handle: str | None = None,
        for_username: str | None = None,
        parts: Sequence[str] = CHANNEL_PARTS,
    ) -> api.ChannelListResponse:
        """``channels.list`` by up to 50 ids, one ``@handle`` or one legacy username (1 unit).

        An unknown handle or username is not an error: the response has no items.
        """
        selectors = [s for s in (ids, for_handle, for_username) if s]
        if len(selectors) != 1:
            raise ValueError("channels_list needs exactly one of ids=, for_handle= or for_username=")
        params: dict[str, str] = {"part": _join(parts)}
        if ids:
            params["id"] = _join(_batch(ids, "channel"))
            params["maxResults"] = str(PAGE_SIZE)
        elif for_handle:
            params["forHandle"] = for_handle
        elif for_username:
            params["forUsername"] = for_username
        body = await self._get(Method.CHANNELS_LIST, "/channels", params)
        return api.ChannelListResponse.model_validate(body)

    async def playlist_items(
        self,
        playlist_id: str,
        *,
        page_token: str | None = None,
        max_results: int = PAGE_SIZE,
        parts: Sequence[str] = PLAYLIST_ITEM_PARTS,
    ) -> api.PlaylistItemListResponse:
        """One page of ``playlistItems.list`` (1 unit). A missing playlist raises ResourceUnavailable."""
        params = {
            "part": _join(parts),
            "playlistId": playlist_id,
            "maxResults": str(_bounded(max_results, 0, PAGE_SIZE)),
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._get(Method.PLAYLIST_ITEMS_LIST, "/playlistItems", params)
        return api.PlaylistItemListResponse.model_validate(body)

    def iter_playlist_pages(
        self,
        playlist_id: str,
        *,
        max_results: int = PAGE_SIZE,
        parts: Sequence[str] = PLAYLIST_ITEM_PARTS,
        start_page_token: str | None = None,
    ) -> AsyncIterator[api.PlaylistItemListResponse]:
        """Every page of a playlist, following ``nextPageToken``; resumable from ``start_page_token``.

        Raises RepeatedPageToken if the API hands back a token it already gave.
        """
        return _paginate(
            lambda token: self.playlist_items(
                playlist_id, page_token=token, max_results=max_results, parts=parts
            ),
            start_page_token,
            f"playlist {playlist_id}",
        )

    async def videos_list(
        self, ids: Sequence[str], *, parts: Sequence[str] = VIDEO_PARTS
    ) -> api.VideoListResponse:
        """``videos.list`` for up to 50 ids (1 unit). Deleted or private videos are simply absent."""
        params = {"part": _join(parts), "id": _join(_batch(ids, "video"))}
        body = await self._get(Method.VIDEOS_LIST, "/videos", params)
        return api.VideoListResponse.model_validate(body)

    async def videos_many(self, ids: Iterable[str], *, parts: Sequence[str] = VIDEO_PARTS) -> list[api.Video]:
        """All ``ids`` (any number) in batches of 50, up to ``max_concurrency`` batches at once.

        Results come back in the order of ``ids`` (duplicates dropped); ids the API does not return
        (deleted, private) are absent. Costs ceil(len(unique ids)/50) units; BudgetExceeded before
        anything is sent when the budget cannot cover them all.
        """
        unique = list(dict.fromkeys(ids))
        batches = [unique[i : i + PAGE_SIZE] for i in range(0, len(unique), PAGE_SIZE)]
        # All or nothing: refuse up front rather than spend quota on batches whose results would
        # be thrown away when a later batch hits the budget.
        self._ledger.ensure_affordable(Method.VIDEOS_LIST, times=len(batches))
        responses = await _gather_or_fail([self.videos_list(batch, parts=parts) for batch in batches])
        by_id = {video.id: video for response in responses for video in response.items}
        return [by_id[i] for i in unique if i in by_id]

    async def batch_get_stats(self, ids: Sequence[str]) -> list[api.VideoStat]:
        """Views, likes, comments, publish time and duration for up to 50 videos (1 unit).

        Uses ``videos.batchGetStats`` where the server has it; the first time it is missing the
        client remembers and falls back to ``videos.list part=snippet,statistics,contentDetails``.
        """
        wanted = _batch(ids, "video")
        body = await self.batch_get_stats_json(wanted)
        if body is not None:
            return list(api.VideoStatListResponse.model_validate(body).items)
        response = await self.videos_list(wanted, parts=STATS_PARTS)
        return [api.VideoStat.from_video(video) for video in response.items]

    async def batch_get_stats_json(self, ids: Sequence[str]) -> dict[str, Any] | None:
        """The raw ``videos.batchGetStats`` answer for up to 50 ids (1 unit of its own bucket).

        None, without spending anything from the main bucket, once the server turned out to lack
        the method or its bucket is spent on every key: the caller then uses ``videos.list``.
        """
        if self._batch_stats_supported is False:
            return None
        params = {"part": _join(STATS_PARTS), "id": _join(_batch(ids, "video"))}
        try:
            body = await self._get(Method.VIDEOS_BATCH_GET_STATS, "/videos:batchGetStats", params)
        except QuotaExhausted:
            # Its own daily bucket is spent on every key; videos.list still has quota.
            self._batch_stats_supported = False
            _log.info("youtube.batch_get_stats_out_of_quota")
            return None
        except ApiError as exc:
            if type(exc) not in (ApiError, ResourceUnavailable) or exc.status not in (400, 404, 405, 501):
                raise
            self._batch_stats_supported = False
            _log.info("youtube.batch_get_stats_unsupported", status=exc.status, reason=exc.reason)
            return None
        self._batch_stats_supported = True
        return body

    async def comment_threads(
        self,
        video_id: str,
        *,
        page_token: str | None = None,
        max_results: int = 100,
        order: str = "time",
        text_format: str = "plainText",
        parts: Sequence[str] = COMMENT_THREAD_PARTS,
    ) -> api.CommentThreadListResponse:
        """One page of a video's top-level comments (1 unit); disabled comments raise ResourceUnavailable."""
        params = {
            "part": _join(parts),
            "videoId": video_id,
            "maxResults": str(_bounded(max_results, 1, 100)),
            "order": order,
            "textFormat": text_format,
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._get(Method.COMMENT_THREADS_LIST, "/commentThreads", params)
        return api.CommentThreadListResponse.model_validate(body)

    def iter_comment_thread_pages(
        self, video_id: str, *, max_results: int = 100, order: str = "time", text_format: str = "plainText"
    ) -> AsyncIterator[api.CommentThreadListResponse]:
        """Every page of a video's comment threads."""
        return _paginate(
            lambda token: self.comment_threads(
                video_id, page_token=token, max_results=max_results, order=order, text_format=text_format
            ),
            None,
            f"comment threads of {video_id}",
        )

    async def comments(
        self,
        parent_id: str,
        *,
        page_token: str | None = None,
        max_results: int = 100,
        text_format: str = "plainText",
    ) -> api.CommentListResponse:
        """One page of replies to a top-level comment (1 unit)."""
        params = {
            "part": "snippet",
            "parentId": parent_id,
            "maxResults": str(_bounded(max_results, 1, 100)),
            "textFormat": text_format,
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._get(Method.COMMENTS_LIST, "/comments", params)
        return api.CommentListResponse.model_validate(body)

    def iter_comment_pages(
        self, parent_id: str, *, max_results: int = 100, text_format: str = "plainText"
    ) -> AsyncIterator[api.CommentListResponse]:
        """Every page of replies to the comment ``parent_id``."""
        return _paginate(
            lambda token: self.comments(
                parent_id, page_token=token, max_results=max_results, text_format=text_format
            ),
            None,
            f"replies to {parent_id}",
        )

    async def search(
        self,
        *,
        channel_id: str | None = None,
        query: str | None = None,
        result_type: str = "video",
        order: str = "date",
        published_after: datetime | None = None,
        published_before: datetime | None = None,
        page_token: str | None = None,
        max_results: int = PAGE_SIZE,
    ) -> api.SearchListResponse:
        """One page of ``search.list``: 100 units. Never use it to list a channel's uploads."""
        if not channel_id and not query:
            raise ValueError("search needs channel_id= or query=")
        params = {
            "part": "snippet",
            "type": result_type,
            "order": order,
            "maxResults": str(_bounded(max_results, 0, PAGE_SIZE)),
        }
        if channel_id:
            params["channelId"] = channel_id
        if query:
            params["q"] = query
        if published_after:
            params["publishedAfter"] = _rfc3339(published_after)
        if published_before:
            params["publishedBefore"] = _rfc3339(published_before)
        if page_token:
            params["pageToken"] = page_token
        body = await self._get(Method.SEARCH_LIST, "/search", params)
        return api.SearchListResponse.model_validate(body)

    # ------------------------------------------------------------ channels by reference

    async def fetch_channel(self, channel_id: str, *, parts: Sequence[str] = CHANNEL_PARTS) -> api.Channel:
        """One channel by id (1 unit); ChannelNotFound when the API does not know it."""
        response = await self.channels_list(ids=[channel_id], parts=parts)
        for channel in response.items:
            if channel.id == channel_id:
                return channel
        raise ChannelNotFound(f"no channel with id {channel_id} (deleted, terminated or mistyped)")

    async def resolve_channel_id(self, ref: ChannelRef, *, allow_search: bool = False) -> str:
        """The ``UC…`` id behind ``ref``; costs ``ref.resolve_cost`` units (0, 1 or 100)."""
        if ref.kind is RefKind.CHANNEL_ID:
            return ref.value
        if ref.kind is RefKind.HANDLE:
            found = await self.channels_list(for_handle=ref.value, parts=("id",))
            if not found.items:
                raise ChannelNotFound(f"no channel has the handle {ref.value}")
            return found.items[0].id
        if ref.kind is RefKind.USERNAME:
            found = await self.channels_list(for_username=ref.value, parts=("id",))
            if not found.items:
                raise ChannelNotFound(f"no channel has the legacy username {ref.value!r}")
            return found.items[0].id
        if ref.kind is RefKind.VIDEO:
            videos = await self.videos_list([ref.value], parts=("snippet",))
            for video in videos.items:
                if video.snippet is not None:
                    return video.snippet.channel_id
            raise VideoNotFound(
                f"video {ref.value} was not found (deleted, private or mistyped), so its channel is unknown"
            )
        if not allow_search:
            raise ConfigError(
                f"{ref.raw!r} is a /c/ custom URL, which only search.list can resolve at "
                f"{COST[Method.SEARCH_LIST]} quota units; pass --allow-search to spend them, "
                "or use the channel's @handle or UC… id instead (0-1 units)"
            )
        results = await self.search(query=ref.value, result_type="channel", order="relevance", max_results=5)
        candidates = [r for r in results.items if r.id.channel_id or (r.snippet and r.snippet.channel_id)]
        if not candidates:
            raise ChannelNotFound(f"search found no channel for the custom URL {ref.raw!r}")
        wanted = ref.value.casefold()
        best = next(
            (r for r in candidates if r.snippet and r.snippet.title.replace(" ", "").casefold() == wanted),
            candidates[0],
        )
        channel_id = best.id.channel_id or (best.snippet.channel_id if best.snippet else None)
        assert channel_id is not None
        _log.info(
            "youtube.resolved_by_search", ref=ref.raw, channel_id=channel_id, candidates=len(candidates)
        )
        return channel_id

    # ------------------------------------------------------------ the one request path

    async def get_json(self, method: Method, path: str, params: dict[str, str]) -> dict[str, Any]:
        """The raw JSON object of one successful call, through the same budget, keys, retries and
        breaker as the typed methods. ``path`` is relative to ``api_base`` (``"/videos"``); ``params``
        must not include ``key``. For callers that keep items exactly as sent (quarantine payloads).
        """
        if "key" in params:
            raise ValueError("pass keys to the client, never as a request parameter")
        return await self._get(method, path, params)

    async def _get(self, method: Method, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = self._base + path
        attempt = 0
        bucket = bucket_of(method)
        while True:
            key = self._keys.current(bucket)
            fingerprint = key_fingerprint(key)
            self._ledger.ensure_affordable(method)
            if not await self._reserve_shared(key, fingerprint, bucket, method):
                continue  # the next turn uses the next key, or raises QuotaExhausted
            try:
                self._breaker.before_request()
            except BaseException:
                await self._release_shared(fingerprint, bucket, method)
                raise
            # Charged before waiting for a slot so that concurrent calls cannot overrun the budget
            # together; handed back if this call is cancelled before it is sent.
            self._ledger.charge(method, fingerprint)
            sent = False
            try:
                async with self._semaphore:
                    await self._limiter.acquire()
                    sent = True
                    self.requests_sent += 1
                    try:
                        # One pre-encoded query string: parsing and re-quoting ``params`` merged
                        # into the long (50-id) URL cost more CPU than the rest of the request.
                        response = await self._http.get(f"{url}?{_query(params, key)}")
                    except TransportFailure as exc:
                        # str(exc) of a transport error names the host, never the query; scrub anyway.
                        verdict = Verdict(Action.RETRY, 0, exc.kind, redact_text(str(exc), [key]))
                        if exc.unsent:
                            # Never reached the API: nothing was billed, so nothing is counted.
                            self._ledger.refund(method, fingerprint)
                    else:
                        verdict = classify_response(response.status, response.body, response.headers)
            except BaseException:
                if not sent:
                    self._ledger.refund(method, fingerprint)
                    await asyncio.shield(self._release_shared(fingerprint, bucket, method))
                self._breaker.release_probe()
                raise
            if verdict.action is Action.OK:
                self._breaker.record_success()
                self._note_server_time(response.dates[-1] if response.dates else None)
                body: dict[str, Any] = verdict.body
                return body
            log = _log.bind(
                method=method.value, status=verdict.status, action=verdict.action.value,
                reason=verdict.reason, attempt=attempt, key_fingerprint=fingerprint,
            )  # fmt: skip
            if verdict.action is Action.RETRY:
                self._breaker.record_failure()
                if attempt >= self.options.max_retries:
                    log.warning("youtube.retries_exhausted", message=verdict.message)
                    raise TransientApiError(
                        f"{method} at {self._base} failed {attempt + 1} times in a row, last with "
                        f"{_describe(verdict)}; check the address (--api-base, TUBESCOPE_YOUTUBE_API_BASE) "
                        "or try again later",
                        status=verdict.status or None,
                        reason=verdict.reason,
                    )
                delay = self._backoff.delay(attempt, self._rng, verdict.retry_after_seconds)
                log.info("youtube.retrying", delay_seconds=round(delay, 3), message=verdict.message)
                await self._sleep(delay)
                attempt += 1
                continue
            self._breaker.record_success()
            if verdict.action is Action.STOP_FOR_QUOTA or verdict.fatal_kind in _UNBILLED_FATAL:
                # Refused for the key itself (spent, invalid, API disabled): no project is billed.
                self._ledger.refund(method, fingerprint)
                await self._release_shared(fingerprint, bucket, method)
            if verdict.action is Action.STOP_FOR_QUOTA:
                if self._shared is not None:
                    await self._shared.exhaust(fingerprint, bucket)
                left = self._keys.mark_exhausted(key, bucket)
                log.warning("youtube.key_out_of_quota", rotating=left, message=verdict.message)
                continue  # the next turn uses the next key, or raises QuotaExhausted
            if verdict.action is Action.SKIP:
                log.info("youtube.skipped", message=verdict.message)
                raise ResourceUnavailable(
                    f"{method} skipped: {_describe(verdict)}", status=verdict.status, reason=verdict.reason
                )
            log.error("youtube.fatal", message=verdict.message)
            raise _fatal_error(method, verdict, fingerprint)

    async def _reserve_shared(self, key: str, fingerprint: str, bucket: str, method: Method) -> bool:
        """Reserve the call's cost on the ledger shared with other processes (if any).

        False when the key's daily units are spent there: the key is set aside for the day in
        this bucket, as if the API had said ``quotaExceeded``, without sending anything.
        """
        if self._shared is None or await self._shared.reserve(fingerprint, bucket, COST[method]):
            return True
        left = self._keys.mark_exhausted(key, bucket)
        _log.info("youtube.key_spent_in_shared_ledger", key_fingerprint=fingerprint, bucket=bucket,
                  rotating=left)  # fmt: skip
        return False

    async def _release_shared(self, fingerprint: str, bucket: str, method: Method) -> None:
        if self._shared is not None:
            await self._shared.release(fingerprint, bucket, COST[method])


def _fatal_error(method: Method, verdict: Verdict, fingerprint: str) -> ApiError:
    if verdict.fatal_kind is FatalKind.KEY_INVALID:
        return ApiKeyInvalid(
            f"the API key {fingerprint} was refused ({_describe(verdict)}); "
            "check or replace it in TUBESCOPE_API_KEYS. Not retried.",
            status=verdict.status,
            reason=verdict.reason,
        )
    if verdict.fatal_kind is FatalKind.ACCESS_NOT_CONFIGURED:
        return ApiAccessNotConfigured(
            f"the YouTube Data API v3 is not enabled for the project of key {fingerprint}: "
            f"enable it in the Google Cloud console ({_describe(verdict)})",
            status=verdict.status,
            reason=verdict.reason,
        )
    return ApiError(
        f"{method} was rejected: {_describe(verdict)}", status=verdict.status, reason=verdict.reason
    )


def _describe(verdict: Verdict) -> str:
    status = f"HTTP {verdict.status}" if verdict.status else "no response"
    reason = f" {verdict.reason}" if verdict.reason else ""
    message = f": {verdict.message}" if verdict.message else ""
    return f"{status}{reason}{message}"


async def _paginate(
    fetch: Callable[[str | None], Awaitable[api.ListResponse[ItemT]]],
    start_token: str | None,
    what: str,
) -> AsyncIterator[api.ListResponse[ItemT]]:
    seen: set[str] = set()
    token = start_token
    while True:
        if token is not None:
            seen.add(token)
        page = await fetch(token)
        yield page
        following = page.next_page_token
        if not following:
            return
        if following in seen:
            raise RepeatedPageToken(
                f"the API repeated a page token while listing {what}; stopped to avoid looping forever",
                reason="repeatedPageToken",
            )
        token = following


_T = TypeVar("_T")


async def _gather_or_fail(awaitables: list[Awaitable[_T]]) -> list[_T]:
    """Run all to the end, then raise the first failure (a typed error, not an ExceptionGroup).

    Siblings are not cancelled mid-flight: a call cancelled after it was sent leaves the quota
    ledger guessing whether the server billed it, while letting it finish keeps the ledger exact.
    After a quota, budget or breaker stop the siblings fail fast without sending anything.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[_T]", results)


def _query(params: dict[str, str], key: str) -> str:
    """The request's query string, the key last; commas stay literal (the API's list separator)."""
    return urlencode({**params, "key": key}, safe=",")


def _batch(ids: Sequence[str], what: str) -> list[str]:
    unique = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not unique:
        raise ValueError(f"no {what} ids given")
    if len(unique) > PAGE_SIZE:
        raise ValueError(f"at most {PAGE_SIZE} {what} ids per request, got {len(unique)}")
    return unique


def _bounded(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"max_results must be between {low} and {high}, got {value}")
    return value


def _join(values: Iterable[str]) -> str:
    return ",".join(values)


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("search bounds must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _RedactUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def _scrub_httpx_logs() -> None:
    """httpx logs every request URL at INFO (aiohttp may name URLs too); the URL carries ``key=``, so
    scrub it at the source."""
    for name in ("httpx", "httpcore", "aiohttp.client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactUrls) for f in logger.filters):
            logger.addFilter(_RedactUrls())
