"""One converter: the pipeline (raw JSON) and the source plugin (typed models) store the same record.

Run over every recorded real ``videos`` and ``channels`` item, and over copies of each with one
field removed at a time. Whatever is removed, both paths agree (both reject, or both build equal
records), and a count the API left out is None (a video without ``viewCount`` is a rejection: its
snapshot has nothing to record), never 0.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tubescope.errors import DataQualityError
from tubescope.youtube import models as api
from tubescope.youtube.convert import (
    to_domain_channel,
    to_domain_channel_snapshot,
    to_domain_video,
    to_domain_video_snapshot,
)
from tubescope.youtube.items import Accepted, validate_channel, validate_video

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "api-fixtures"
NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
COUNTS = {"viewCount", "likeCount", "commentCount", "subscriberCount", "videoCount"}


def _items(kind: str) -> list[tuple[str, dict[str, Any]]]:
    if not FIXTURES.is_dir():
        pytest.skip(f"real API fixtures not present at {FIXTURES} (see shared/data/real/INDEX.md)")
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        candidates = body.get("items", []) if isinstance(body, dict) else []
        if isinstance(body, dict) and body.get("kind") == kind:
            candidates = [body]
        for item in candidates:
            if isinstance(item, dict) and item.get("kind") == kind:
                found.append((f"{path.relative_to(FIXTURES)}#{item.get('id')}", item))
    assert found, f"no recorded {kind} items"
    return found


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def _without(item: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    edited = copy.deepcopy(item)
    if not path:
        return edited
    node = edited
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return edited


def _variants(kind: str) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    return [
        (name, _without(item, path), path)
        for name, item in _items(kind)
        for path in [(), *_paths(item)]
        if path != ("id",)
    ]


def _video_both_ways(item: dict[str, Any], channel_id: str) -> tuple[Any, Any]:
    raw = validate_video(item, channel_id=channel_id, observed_at=NOW)
    direct = (raw.record.video, raw.record.snapshot) if isinstance(raw, Accepted) else None
    try:
        model = api.Video.model_validate(item)
        if model.statistics is None:
            raise DataQualityError("no statistics")
        typed = (to_domain_video(model, None, NOW), to_domain_video_snapshot(model, NOW))
    except (ValidationError, DataQualityError):
        typed = None
    return direct, typed


def _channel_both_ways(item: dict[str, Any]) -> tuple[Any, Any]:
    raw = validate_channel(item, observed_at=NOW)
    direct = (raw.record.channel, raw.record.snapshot) if isinstance(raw, Accepted) else None
    try:
        model = api.Channel.model_validate(item)
        typed = (to_domain_channel(model, NOW), to_domain_channel_snapshot(model, NOW))
    except (ValidationError, DataQualityError):
        typed = None
    return direct, typed


def test_every_recorded_video_with_any_field_removed_converts_the_same_both_ways() -> None:
    variants = _variants("youtube#video")
    accepted = 0
    for name, item, removed in variants:
        owner = _items_owner(item)
        direct, typed = _video_both_ways(item, owner)
        assert direct == typed, f"{name} without {'.'.join(removed)}: {direct} != {typed}"
        if direct is not None:
            accepted += 1
            _, snapshot = direct
            if removed and removed[-1] in COUNTS:
                field = {"likeCount": "like_count", "commentCount": "comment_count"}.get(removed[-1])
                assert field is not None, f"{name}: without {removed[-1]} it should have been rejected"
                assert getattr(snapshot, field) is None  # missing is null, never 0
    assert accepted > len(_items("youtube#video"))  # most removals still make a record


CHANNEL_COUNTS = {
    "subscriberCount": "subscriber_count",
    "viewCount": "view_count",
    "videoCount": "video_count",
}


def test_every_recorded_channel_with_any_field_removed_converts_the_same_both_ways() -> None:
    checked = 0
    for name, item, removed in _variants("youtube#channel"):
        direct, typed = _channel_both_ways(item)
        assert direct == typed, f"{name} without {'.'.join(removed)}: {direct} != {typed}"
        if direct is None or removed[:1] != ("statistics",):
            continue
        # A count the API left out (or the whole statistics part) is stored as None: never 0, and
        # never a reason to reject the channel.
        gone = set(CHANNEL_COUNTS) if removed == ("statistics",) else {removed[-1]} & set(CHANNEL_COUNTS)
        channel, snapshot = direct
        for field in (CHANNEL_COUNTS[c] for c in gone):
            assert getattr(channel, field) is None and getattr(snapshot, field) is None, (name, field)
            checked += 1
    assert checked >= len(CHANNEL_COUNTS)


def test_a_recorded_channel_without_any_count_is_accepted_with_nulls() -> None:
    """Every recorded channel that converts at all still converts with each count removed."""
    complete = [(n, i) for n, i in _items("youtube#channel") if _channel_both_ways(i)[0] is not None]
    assert complete, "no recorded channel carries every part a record needs"
    for name, item in complete:
        for count, field in CHANNEL_COUNTS.items():
            if count not in item.get("statistics", {}):
                continue
            direct, typed = _channel_both_ways(_without(item, ("statistics", count)))
            assert direct is not None and direct == typed, (name, count)
            assert getattr(direct[0], field) is None and getattr(direct[1], field) is None, (name, count)


def test_a_legacy_custom_url_is_the_same_handle_both_ways() -> None:
    legacy = [
        (n, i)
        for n, i in _items("youtube#channel")
        if not str(i.get("snippet", {}).get("customUrl", "@")).startswith("@")
    ]
    assert legacy, "no recorded channel with a legacy custom URL"
    converted = [(name, item, *_channel_both_ways(item)) for name, item in legacy]
    complete = [(name, item, direct, typed) for name, item, direct, typed in converted if direct is not None]
    assert complete, "no recorded legacy channel carries every part a record needs"
    for name, item, direct, typed in complete:
        assert direct == typed, name
        assert direct[0].handle == typed[0].handle == "@" + item["snippet"]["customUrl"]


def test_live_details_are_parsed_into_the_record_both_ways() -> None:
    """No recorded video is a broadcast, so a recorded one is given the details a finished stream has."""
    name, item = next(
        (n, copy.deepcopy(i)) for n, i in _items("youtube#video") if _video_both_ways(i, _items_owner(i))[0]
    )
    item["liveStreamingDetails"] = {
        "scheduledStartTime": "2026-09-30T18:00:00Z",
        "actualStartTime": "2026-09-30T18:02:11Z",
        "actualEndTime": "2026-09-30T20:05:00Z",
    }
    direct, typed = _video_both_ways(item, _items_owner(item))
    assert direct is not None and direct == typed, name
    live = direct[0].live
    assert live is not None and live.concurrent_viewers is None  # not sent: None, never 0
    assert live.actual_start_at == datetime(2026, 9, 30, 18, 2, 11, tzinfo=UTC)
    assert live.actual_end_at == datetime(2026, 9, 30, 20, 5, tzinfo=UTC)
    item["liveStreamingDetails"] = {"actualStartTime": "2026-10-01T11:00:00Z", "concurrentViewers": "1234"}
    direct, typed = _video_both_ways(item, _items_owner(item))
    assert direct is not None and direct == typed
    assert direct[0].live is not None and direct[0].live.concurrent_viewers == 1234


def _items_owner(item: dict[str, Any]) -> str:
    snippet = item.get("snippet")
    owner = snippet.get("channelId") if isinstance(snippet, dict) else None
    return owner if isinstance(owner, str) else "UC" + "x" * 22
