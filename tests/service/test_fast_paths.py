"""The service's fast paths give the answers of the plain computation, and its cache is safe.

Video pages come from a cached, pre-sorted copy of the channel's videos (and, outside the
service, from SQL with LIMIT/OFFSET); both are checked here against a straightforward pandas
filter -> stable sort -> slice over the warehouse frame.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pandas as pd

from tests.service.conftest import Service
from tubescope.analysis.query import parse_query
from tubescope.jobs import catalog
from tubescope.service.cache import AnalysisCache


def _expected_page(
    videos: pd.DataFrame, *, sort: str, descending: bool, where: str | None, page: int, size: int
) -> tuple[list[str], int]:
    if where:
        videos = videos[parse_query(where).mask(videos).to_numpy(dtype=bool)]
    ordered = videos.sort_values(sort, ascending=not descending, na_position="last", kind="stable")
    return list(ordered["video_id"].iloc[(page - 1) * size : page * size]), len(ordered)


def test_video_pages_match_a_plain_sort_of_the_warehouse_frame(service: Service) -> None:
    state = service.app.state.tubescope
    with state.pool.borrow() as warehouse:
        frames = warehouse.load_frames(service.channel_ids)
        sql_pages = {
            (sort, descending): catalog.list_videos(
                warehouse, service.channel_ids[0], sort=sort, descending=descending, page=2, page_size=7
            )
            for sort, descending in itertools.product(catalog.VIDEO_SORT_KEYS, (True, False))
        }
    all_videos = frames["videos"]
    own = all_videos[all_videos["channel_id"] == service.channel_ids[0]]
    for (sort, descending), sql_page in sql_pages.items():
        ids, total = _expected_page(own, sort=sort, descending=descending, where=None, page=2, size=7)
        assert [v["video_id"] for v in sql_page.items] == ids, (sort, descending)
        assert sql_page.total == total

    checked = 0
    with service.client() as client:
        for channel_id in service.channel_ids:
            videos = all_videos[all_videos["channel_id"] == channel_id]
            for sort, order, where in itertools.product(
                ("view_count", "like_count", "title", "published_at"),
                ("asc", "desc"),
                (None, "format = short", "likes > 10 or comments > 2"),
            ):
                params: dict[str, Any] = {"sort": sort, "order": order, "page": 2, "page_size": 5}
                if where:
                    params["where"] = where
                body = client.get(f"/v1/channels/{channel_id}/videos", params=params).json()
                ids, total = _expected_page(
                    videos, sort=sort, descending=order == "desc", where=where, page=2, size=5
                )
                assert [v["video_id"] for v in body["items"]] == ids, params
                assert body["total"] == total
                checked += len(ids)
    assert checked > 0


def test_concurrent_misses_compute_once_and_a_landing_run_is_never_hidden() -> None:
    cache = AnalysisCache(ttl_seconds=60)
    calls: list[int] = []
    release = threading.Event()

    def slow() -> str:
        calls.append(1)
        release.wait(5)
        return "analysis"

    answers: list[tuple[bool, str]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.get_or_compute("UC1", "analysis", slow)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(answers) == [(False, "analysis")] + [(True, "analysis")] * 7

    def computed_while_a_run_lands() -> str:
        cache.invalidate_channel("UC2")
        return "stale"

    assert cache.get_or_compute("UC2", "analysis", computed_while_a_run_lands) == (False, "stale")
    assert cache.get("UC2", "analysis") == (False, None)


def test_the_cache_keeps_at_most_max_entries() -> None:
    cache = AnalysisCache(ttl_seconds=60, max_entries=3)
    for index in range(10):
        cache.get_or_compute(f"UC{index}", "kpis", lambda index=index: index)
    assert len(cache) == 3
    assert cache.get("UC9", "kpis") == (True, 9) and cache.get("UC0", "kpis") == (False, None)


def test_latency_metrics_are_labelled_by_route_template(service: Service) -> None:
    with service.client() as client:
        client.get(f"/v1/channels/{service.channel_ids[0]}/videos")
        metrics = client.get("/metrics").text
    assert 'route="/v1/channels/{ref}/videos",status="2xx"' in metrics


def test_a_large_answer_is_gzipped_for_clients_that_accept_it(service: Service) -> None:
    path = f"/v1/channels/{service.channel_ids[2]}/analysis"
    with service.client() as client:
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert plain.status_code == zipped.status_code == 200
    assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.json() == plain.json() and plain.json()["channel_id"] == service.channel_ids[2]


def test_an_expired_entry_is_served_while_one_caller_refreshes_it() -> None:
    now = [0.0]
    cache = AnalysisCache(ttl_seconds=10, clock=lambda: now[0])
    cache.put("UC1", "analysis", "old")
    now[0] = 11.0
    refreshing, release = threading.Event(), threading.Event()

    def slow_refresh() -> str:
        refreshing.set()
        release.wait(5)
        return "new"

    refresher = threading.Thread(target=lambda: cache.get_or_compute("UC1", "analysis", slow_refresh))
    refresher.start()
    assert refreshing.wait(5)
    assert cache.get_or_compute("UC1", "analysis", lambda: "never") == (True, "old")
    release.set()
    refresher.join()
    assert cache.get("UC1", "analysis") == (True, "new")
    cache.invalidate_channel("UC1")  # data landed: nobody gets the old value any more
    assert cache.get_or_compute("UC1", "analysis", lambda: "fresh") == (False, "fresh")
