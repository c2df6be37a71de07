"""The cache warmer: every read route's answer is computed before the first request, at startup
and again, for the channels concerned, when a run lands; warmed answers equal computed ones."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.service.conftest import Service, serve, wait_until_warm
from tubescope.config import load_settings
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions, ServiceState
from tubescope.service.warming import CacheWarmer

READ_KEYS = ("detail", "videos", "kpis", "analysis")


@contextmanager
def _another_server(service: Service, warming: str) -> Iterator[tuple[str, ServiceState]]:
    """A second service on the same warehouse, with its own memory tier and no disk tier (so
    nothing it holds comes from the first service)."""
    settings = load_settings(
        db_path=service.db_path,
        model_dir=service.db_path.parent,
        cache_warming=warming,
        cache_disk_max_mb=0,
    )
    app = create_app(settings, ServiceOptions(db_path=service.db_path, rate_per_second=1000, rate_burst=1000))
    url, server, thread = serve(app)
    try:
        yield url, app.state.tubescope
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _cached(state: ServiceState, channel_id: str) -> dict[str, bool]:
    return {key: state.cache.get(channel_id, key)[0] for key in READ_KEYS}


def test_a_started_service_has_every_answer_computed_before_any_request(service: Service) -> None:
    with _another_server(service, "all") as (url, state):
        warming = wait_until_warm(url)
        token = {"Authorization": f"Bearer {service.tokens['read']}"}
        stored = httpx.get(f"{url}/v1/channels", headers=token, timeout=60).json()["total"]
        assert warming["channels"] == stored >= len(service.channel_ids)  # other tests may add some
        assert warming["answers_warmed"] == warming["analyses_warmed"] == stored
        for channel_id in service.channel_ids:
            assert _cached(state, channel_id) == dict.fromkeys(READ_KEYS, True)


def test_without_warming_nothing_is_computed_before_it_is_asked_for(service: Service) -> None:
    with _another_server(service, "off") as (url, state):
        assert httpx.get(f"{url}/ready", timeout=60).json()["cache_warming"] is None
        time.sleep(0.5)
        assert _cached(state, service.channel_ids[0]) == dict.fromkeys(READ_KEYS, False)


def test_answers_warming_leaves_the_analyses_to_their_first_request(service: Service) -> None:
    with _another_server(service, "answers") as (url, state):
        warming = wait_until_warm(url)
        assert warming["analyses_warmed"] == 0
        assert _cached(state, service.channel_ids[0]) == {**dict.fromkeys(READ_KEYS, True), "analysis": False}


def test_a_landing_run_rewarms_only_its_channels(service: Service) -> None:
    with _another_server(service, "answers") as (url, state):
        wait_until_warm(url)
        changed, unchanged = service.channel_ids[0], service.channel_ids[1]
        state.data_changed([changed])
        # the fleet entries went with the run; the unchanged channel's own answers stayed
        assert _cached(state, unchanged)["detail"]
        warming = wait_until_warm(url)
        assert (warming["channels"], warming["answers_warmed"]) == (1, 1)
        assert _cached(state, changed) == {**dict.fromkeys(READ_KEYS, True), "analysis": False}


def test_warmed_answers_are_the_answers_a_request_computes(service: Service) -> None:
    token = {"Authorization": f"Bearer {service.tokens['read']}"}
    paths = ["/v1/channels"]
    for channel_id in service.channel_ids:
        paths += [
            f"/v1/channels/{channel_id}",
            f"/v1/channels/{channel_id}/videos?sort=view_count&order=asc&page_size=7",
            f"/v1/channels/{channel_id}/analysis",
        ]
    paths.append("/v1/compare?" + "&".join(f"channel={c}" for c in service.channel_ids))
    answers = {}
    for warming in ("all", "off"):
        with _another_server(service, warming) as (url, _):
            if warming == "all":
                wait_until_warm(url)
            with httpx.Client(base_url=url, headers=token, timeout=120) as client:
                answers[warming] = [client.get(path).json() for path in paths]
    assert answers["all"] == answers["off"]


def test_closing_a_busy_warmer_stops_it(service: Service) -> None:
    with _another_server(service, "off") as (_, state):
        warmer = CacheWarmer(state)
        warmer.start()
        warmer.close()
        assert not warmer._thread.is_alive()
