"""Column contracts of the tables the warehouse hands to analysis and predict.

The warehouse produces pandas DataFrames with exactly these columns (more are allowed); analysis
and predict rely on nothing else. Timestamps are timezone-aware UTC; counts YouTube may hide are
nullable (``Int64``/float NaN), never 0.
"""

from __future__ import annotations

CHANNEL_COLUMNS: tuple[str, ...] = (
    "channel_id",  # str, UC…
    "title",  # str
    "handle",  # str | None, "@name"
    "published_at",  # datetime64[ns, UTC] | NaT
    "subscriber_count",  # Int64, <NA> when hidden
    "hidden_subscriber_count",  # bool
    "view_count",  # Int64
    "video_count",  # Int64
)

VIDEO_COLUMNS: tuple[str, ...] = (
    "video_id",  # str, 11 chars
    "channel_id",  # str
    "title",  # str
    "published_at",  # datetime64[ns, UTC]
    "duration_seconds",  # float, NaN when unknown (live, P0D)
    "video_format",  # "short" | "long" | "live"
    "tags",  # str, tags joined by "|" ("" when none)
    "tag_count",  # int
    "category_id",  # str | None
    "view_count",  # Int64, latest observed
    "like_count",  # Int64, <NA> when hidden
    "comment_count",  # Int64, <NA> when disabled
    "is_deleted",  # bool, tombstoned (deleted or private since)
)

VIDEO_SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "video_id",
    "channel_id",
    "observed_at",  # datetime64[ns, UTC]
    "view_count",  # Int64
    "like_count",  # Int64, <NA> when hidden
    "comment_count",  # Int64, <NA> when disabled
)

CHANNEL_SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "channel_id",
    "observed_at",  # datetime64[ns, UTC]
    "subscriber_count",  # Int64, <NA> when hidden
    "view_count",  # Int64
    "video_count",  # Int64
)

VIEW_METHODOLOGY_CHANGES: tuple[tuple[str, str, str], ...] = (
    ("2025-03-31", "short", "Shorts views count when playback starts"),
    ("2026-08-27", "all", "all formats: a view counts when playback starts"),
)
"""Known structural breaks in how YouTube counts views (date, formats, what changed)."""
