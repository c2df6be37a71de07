"""Validation before load: the pipeline's name for :mod:`tubescope.youtube.items`.

The converter itself lives in the ``youtube`` layer so the source plugin uses the very same code.
"""

from __future__ import annotations

from tubescope.youtube.items import (
    EARLIEST,
    MAX_CLOCK_SKEW,
    MAX_COUNT,
    MAX_DURATION_SECONDS,
    Accepted,
    InvalidItem,
    Rejected,
    ValidChannel,
    ValidVideo,
    parse_count,
    parse_timestamp,
    playlist_video_id,
    thread_parts,
    validate_channel,
    validate_comment,
    validate_video,
    validate_video_stat,
)

__all__ = [
    "EARLIEST",
    "MAX_CLOCK_SKEW",
    "MAX_COUNT",
    "MAX_DURATION_SECONDS",
    "Accepted",
    "InvalidItem",
    "Rejected",
    "ValidChannel",
    "ValidVideo",
    "parse_count",
    "parse_timestamp",
    "playlist_video_id",
    "thread_parts",
    "validate_channel",
    "validate_comment",
    "validate_video",
    "validate_video_stat",
]
