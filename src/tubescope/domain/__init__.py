"""Plain data of tubescope: channels, videos, snapshots, references, durations. Stdlib only."""

from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.models import (
    Channel,
    ChannelSnapshot,
    Comment,
    Video,
    VideoFormat,
    VideoSnapshot,
)
from tubescope.domain.refs import ChannelRef, RefKind, parse_channel_ref

__all__ = [
    "Channel",
    "ChannelRef",
    "ChannelSnapshot",
    "Comment",
    "RefKind",
    "Video",
    "VideoFormat",
    "VideoSnapshot",
    "parse_channel_ref",
    "parse_duration_seconds",
]
