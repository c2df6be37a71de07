from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.service.conftest import Service, serve, wait_until_warm
from tubescope.config import load_settings
from tubescope.jobs.catalog import peer_comparison
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.cache import FLEET
from tubescope.service.routers.channels import NEWEST
from tubescope.service.state import ServiceOptions


def test_health_ready_and_metrics_answer_without_a_token(service: Service) -> None:
    with service.client(None) as client:
        assert client.get("/health").json() == {"status": "ok"}
        ready = client.get("/ready").json()
        assert ready["status"] == "ready" and ready["tables"]["channels"] == 3
        assert ready["retention"]["mode"] == "extended" and "raw statistics" in ready["retention"]["policy"]
        client.get("/v1/channels")  # one request so the latency histogram has a sample
        metrics = client.get("/metrics").text
    assert "tubescope_http_request_duration_seconds_bucket" in metrics
    assert "tubescope_quota_units_spent_total" in metrics
    assert 'tubescope_jobs{state="running"}' in metrics


@pytest.mark.parametrize(
    ("scope", "method", "path", "expected"),
    [
        (None, "GET", "/v1/channels", 401),
        ("bogus", "GET", "/v1/channels", 401),
        ("read", "GET", "/v1/channels", 200),
        ("read", "POST", "/v1/jobs", 403),
        ("read", "POST", "/v1/channels", 403),
        ("read", "DELETE", "/v1/jobs/nope", 403),
        ("write", "GET", "/v1/channels", 200),
        ("write", "DELETE", "/v1/jobs/nope", 404),
        ("admin", "GET", "/v1/jobs", 200),
    ],
)
def test_auth_matrix(service: Service, scope: str | None, method: str, path: str, expected: int) -> None:
    headers = {}
    if scope == "bogus":
        headers = {"Authorization": "Bearer ts_not-a-real-token-at-all-0000"}
    elif scope is not None:
        headers = {"Authorization": f"Bearer {service.tokens[scope]}"}
    body = (
        {"refs": ["@nothing-here"]} if method == "POST" and path == "/v1/jobs" else {"ref": "@nothing-here"}
    )
    with httpx.Client(base_url=service.url, timeout=60) as client:
        response = client.request(method, path, headers=headers, json=body if method == "POST" else None)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert "Traceback" not in response.text and response.json()["error"]["message"]


def test_channels_videos_and_kpis(service: Service) -> None:
    with service.client() as client:
        listed = client.get("/v1/channels").json()
        assert sorted(c["channel_id"] for c in listed["items"]) == sorted(service.channel_ids)
        channel_id = service.channel_ids[0]
        detail = client.get(f"/v1/channels/{channel_id}").json()
        assert detail["kpis"]["derived"] is True and detail["kpis"]["values"]["n_videos"] > 0
        page = client.get(
            f"/v1/channels/{channel_id}/videos",
            params={"page_size": 5, "sort": "view_count", "order": "desc"},
        ).json()
        views = [v["view_count"] for v in page["items"]]
        assert len(views) == 5 and views == sorted(views, reverse=True)
        assert page["total"] == detail["kpis"]["values"]["n_videos"]
        shorts_seen = 0
        for each in service.channel_ids:
            every = client.get(f"/v1/channels/{each}/videos", params={"page_size": 500}).json()["items"]
            where = {"where": "format = short and views > 100", "page_size": 500}
            shorts = client.get(f"/v1/channels/{each}/videos", params=where).json()["items"]
            expected = {
                v["video_id"] for v in every if v["video_format"] == "short" and v["view_count"] > 100
            }
            assert {v["video_id"] for v in shorts} == expected
            shorts_seen += len(expected)
        assert shorts_seen > 0


def test_bad_parameters_are_422_and_unknown_channels_404(service: Service) -> None:
    channel_id = service.channel_ids[0]
    with service.client() as client:
        bad_sort = client.get(f"/v1/channels/{channel_id}/videos", params={"sort": "drop table"})
        bad_filter = client.get(f"/v1/channels/{channel_id}/videos", params={"where": "title >> 3"})
        bad_page = client.get(f"/v1/channels/{channel_id}/videos", params={"page": 0})
        unknown = client.get("/v1/channels/UCaaaaaaaaaaaaaaaaaaaaaa")
        bad_ref = client.get("/v1/channels/not a channel")
        brackets = [
            client.get(f"/v1/channels/{ref}") for ref in ("a.b%5B", "youtube.com%5D%3Ax", "%5B%3A%3A1")
        ]
    for response in (bad_sort, bad_filter, bad_page):
        assert response.status_code == 422 and response.json()["error"]["message"]
    assert "column" in bad_filter.json()["error"]["message"]
    assert unknown.status_code == 404 and "tubescope collect" in unknown.json()["error"]["message"]
    assert bad_ref.status_code == 422
    for response in brackets:  # once "Invalid IPv6 URL" and a 500
        assert response.status_code == 422, response.text
        assert "invalid channel reference" in response.json()["error"]["message"]


def test_analysis_is_cached_until_a_new_run_lands(service: Service) -> None:
    channel_id = service.channel_ids[1]
    state = service.app.state.tubescope
    wait_until_warm(service.url)
    with service.client() as client:
        hits = state.metrics.cache_hits._value.get()
        first = client.get(f"/v1/channels/{channel_id}/analysis")
        second = client.get(f"/v1/channels/{channel_id}/analysis")
    assert first.status_code == 200 and first.json() == second.json()
    assert state.metrics.cache_hits._value.get() == hits + 2  # computed before the first request
    warmer, state.warmer = state.warmer, None  # nothing refills the entry behind the check
    try:
        state.data_changed([channel_id])
        assert state.cache.get(channel_id, "analysis") == (False, None)
    finally:
        state.warmer = warmer
        if warmer is not None:
            warmer.request([channel_id])


def test_ab_test_and_comparison(service: Service) -> None:
    a, b, _ = service.channel_ids
    with service.client() as client:
        ab = client.post(
            f"/v1/channels/{a}/abtests", json={"group_a": "format = short", "group_b": "format = long"}
        )
        compared = client.get("/v1/compare", params=[("channel", a), ("channel", b)])
        too_few = client.get("/v1/compare", params={"channel": a})
    assert ab.status_code == 200 and ab.json()["verdict"]
    assert {item["channel_id"] for item in compared.json()["items"]} == {a, b}
    assert too_few.status_code == 422


def test_report_download_is_self_contained_html(service: Service) -> None:
    with service.client() as client:
        response = client.get(f"/v1/channels/{service.channel_ids[0]}/report")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert "<html" in response.text and 'src="http' not in response.text


def test_a_job_started_through_the_api_collects_from_the_emulator(service: Service) -> None:
    new_channel = service.emulator.world.channel_ids()[3]
    with service.client("write") as client:
        started = client.post("/v1/jobs", json={"refs": [new_channel]})
        assert started.status_code == 202
        job_id = started.json()["job_id"]
        deadline = time.monotonic() + 120
        job = started.json()
        while job["state"] in {"queued", "running"} and time.monotonic() < deadline:
            time.sleep(0.2)
            job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "completed", job["error"]
        assert job["progress"]["videos_stored"] > 0 and job["progress"]["quota_used"] > 0
        assert job["result"]["videos_new"] == job["progress"]["videos_stored"]
        assert client.get(f"/v1/channels/{new_channel}").status_code == 200
        assert any(j["job_id"] == job_id for j in client.get("/v1/jobs").json()["items"])


def test_per_token_rate_limit_answers_429_with_retry_after(service: Service) -> None:
    settings = load_settings(db_path=service.db_path)
    store = token_store_for(service.db_path)
    app = create_app(settings, ServiceOptions(service.db_path, store.path, rate_per_second=0.5, rate_burst=3))
    # the shared warehouse is already open read-write in this process: the second app borrows it
    url, server, thread = serve(app)
    try:
        token, _ = store.create(Scope.READ, "limited")
        other, _ = store.create(Scope.READ, "other")
        with httpx.Client(base_url=url, timeout=60) as client:
            answers = [client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"}) for _ in range(5)]
            fresh = client.get("/v1/jobs", headers={"Authorization": f"Bearer {other}"})
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    codes = [a.status_code for a in answers]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert fresh.status_code == 200  # one token's burst does not limit another's


def _finished_job(client: httpx.Client, body: dict[str, object]) -> dict[str, Any]:
    job: dict[str, Any] = client.post("/v1/jobs", json=body).json()
    deadline = time.monotonic() + 60
    while job["state"] in {"queued", "running"} and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/v1/jobs/{job['job_id']}").json()
    return job


def test_export_and_report_jobs_run_in_the_server_without_redis(service: Service) -> None:
    with service.client("write") as client:
        exported = _finished_job(client, {"kind": "export", "tables": ["channels"]})
        failed = _finished_job(client, {"kind": "report", "channel": "@nobody"})
        channels = client.get("/v1/channels").json()["total"]
    assert exported["state"] == "completed", exported["error"]
    assert exported["result"]["rows"] == channels and exported["result"]["tables"] == ["channels"]
    assert failed["state"] == "failed" and "not in the warehouse" in failed["error"]


def test_a_comparison_equals_the_warehouse_computation_on_the_event_loop_and_in_a_thread(
    service: Service,
) -> None:
    a, b, c = service.channel_ids
    state = service.app.state.tubescope
    peer_sets = [[a, b], [c, a, b], [b, c, a]]
    wait_until_warm(service.url)

    def answers(client: httpx.Client) -> list[object]:
        return [client.get("/v1/compare", params=[("channel", x) for x in s]).json() for s in peer_sets]

    with service.client() as client:
        assert all(state.cache.holds(cid, "peer_row") for cid in service.channel_ids)
        assert state.cache.holds(FLEET, NEWEST)
        warm = answers(client)  # every row cached: computed on the event loop
        warmer, state.warmer = state.warmer, None  # nothing refills the entries behind the check
        try:
            state.data_changed([])  # the fleet entries go (the newest observation among them)
            assert not state.cache.holds(FLEET, NEWEST)
            cold = answers(client)  # read from the warehouse in a worker thread
        finally:
            state.warmer = warmer
            if warmer is not None:
                warmer.request(service.channel_ids)
        same_twice = client.get("/v1/compare", params=[("channel", a), ("channel", a)])
    with state.pool.borrow() as warehouse:
        expected = [
            json.loads(
                json.dumps({"items": [r.to_dict() for r in peer_comparison(warehouse, s)], "derived": True})
            )
            for s in peer_sets
        ]
    assert warm == cold == expected
    assert same_twice.status_code in (400, 422) and "two different channels" in same_twice.text
