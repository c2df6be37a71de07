"""The official google-api-python-client reads the emulator like the real API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tubescope.emulator.world import World
from tubescope.testing import EmulatorHandle, running_emulator

from .conftest import NOW
from .discovery import discovery_document

googleapiclient_discovery = pytest.importorskip("googleapiclient.discovery")
googleapiclient_errors = pytest.importorskip("googleapiclient.errors")
httplib2 = pytest.importorskip("httplib2")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    from tubescope.testing import fixed_clock

    with running_emulator(World(seed=13, n_channels=4), clock=fixed_clock(NOW)) as handle:
        yield handle


def _youtube(emulator: EmulatorHandle, key: str | None = None):  # type: ignore[no-untyped-def]
    return googleapiclient_discovery.build_from_document(
        discovery_document(),
        developerKey=key or emulator.keys[0],
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": emulator.root_url + "/"},
    )


def test_google_client_resolves_handle_pages_uploads_and_reads_videos(emulator: EmulatorHandle) -> None:
    youtube = _youtube(emulator)
    world = emulator.world
    handle = world.handle_of(1)
    channels = youtube.channels().list(part="snippet,contentDetails,statistics", forHandle=handle).execute()
    channel = channels["items"][0]
    assert channel["id"] == world.channel_id(1)
    uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]

    video_ids: list[str] = []
    request = youtube.playlistItems().list(part="contentDetails", playlistId=uploads, maxResults=50)
    while request is not None:
        page = request.execute()
        video_ids += [item["contentDetails"]["videoId"] for item in page["items"]]
        request = youtube.playlistItems().list_next(request, page)
    assert video_ids == world.observe(NOW).uploads(world.channel_id(1))
    assert len(video_ids) == int(channel["statistics"]["videoCount"])

    videos = youtube.videos().list(part="statistics,contentDetails", id=",".join(video_ids[:50])).execute()
    assert [v["id"] for v in videos["items"]] == video_ids[:50]

    threads_read = 0
    for video_id in video_ids[5:30]:
        try:
            threads = youtube.commentThreads().list(part="snippet,replies", videoId=video_id).execute()
        except googleapiclient_errors.HttpError as exc:
            assert exc.resp.status == 403 and exc.error_details[0]["reason"] == "commentsDisabled"
            continue
        threads_read += len(threads.get("items", []))
    assert threads_read > 0


def test_google_client_surfaces_the_real_error_reasons(emulator: EmulatorHandle) -> None:
    with pytest.raises(googleapiclient_errors.HttpError) as bad_key:
        _youtube(emulator, key="not-a-key").channels().list(
            part="id", id=emulator.world.channel_id(0)
        ).execute()
    assert bad_key.value.resp.status == 400
    assert bad_key.value.error_details[0]["reason"] == "keyInvalid"
    with pytest.raises(googleapiclient_errors.HttpError) as missing:
        _youtube(emulator).playlistItems().list(part="id", playlistId="UU" + "x" * 22).execute()
    assert missing.value.resp.status == 404
    assert missing.value.error_details[0]["reason"] == "playlistNotFound"
