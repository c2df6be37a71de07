from __future__ import annotations

from tubescope.pipeline.completeness import channel_completeness

CHANNEL = "UC" + "c" * 22


def test_a_channel_beyond_the_playlist_cap_explains_the_gap_by_the_cap() -> None:
    report = channel_completeness(
        channel_id=CHANNEL,
        video_count=25_000,
        stored_live=20_000,
        unavailable=0,
        tombstoned=0,
        quarantined=0,
        finished=True,
    )
    assert report.missing == 5_000 and report.beyond_playlist_cap == 5_000
    assert report.unexplained == 0
    assert any("20000-item cap" in reason for reason in report.reasons)


def test_every_known_cause_is_named_and_the_rest_is_called_unexplained() -> None:
    report = channel_completeness(
        channel_id=CHANNEL,
        video_count=120,
        stored_live=100,
        unavailable=3,
        tombstoned=2,
        quarantined=5,
        finished=True,
    )
    assert report.missing == 20
    assert report.unexplained == 12
    text = " ".join(report.reasons)
    assert "3 listed video(s) were private or deleted" in text
    assert "5 item(s) failed validation" in text
    assert "2 stored video(s) were deleted or made private" in text
    assert "12 video(s) counted by the channel are not listed" in text


def test_a_complete_channel_has_no_reasons_and_a_stopped_one_says_how_to_resume() -> None:
    whole = channel_completeness(
        channel_id=CHANNEL,
        video_count=50,
        stored_live=50,
        unavailable=0,
        tombstoned=0,
        quarantined=0,
        finished=True,
    )
    assert whole.reasons == ()
    stopped = channel_completeness(
        channel_id=CHANNEL,
        video_count=50,
        stored_live=10,
        unavailable=0,
        tombstoned=0,
        quarantined=0,
        finished=False,
    )
    assert "run collect again" in stopped.reasons[0]
    assert stopped.as_dict()["finished"] is False


def test_a_crawl_stopped_by_the_quota_says_not_fetched_never_private_or_deleted() -> None:
    report = channel_completeness(
        channel_id=CHANNEL,
        video_count=900,
        stored_live=150,
        unavailable=2,
        tombstoned=0,
        quarantined=0,
        finished=False,
        stop_reason="quota",
    )
    text = " ".join(report.reasons)
    assert report.not_yet_fetched == 748 and report.unexplained == 0
    assert "(quota)" in text and "748 video(s) not fetched yet" in text
    assert "unlisted" not in text  # once, 748 videos were called "private, unlisted or deleted"
    assert report.as_dict()["not_fetched"] == 748 and report.as_dict()["stop_reason"] == "quota"


def test_failed_batches_of_a_finished_crawl_are_not_fetched_and_fetched_first_next_time() -> None:
    report = channel_completeness(
        channel_id=CHANNEL,
        video_count=200,
        stored_live=150,
        unavailable=0,
        tombstoned=0,
        quarantined=0,
        finished=True,
        not_fetched=50,
    )
    assert report.not_yet_fetched == 50 and report.unexplained == 0
    assert any("50 video(s) not fetched (errors after retries)" in r for r in report.reasons)
