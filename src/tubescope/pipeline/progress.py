"""Progress hooks: the collector reports what it did; the caller decides how to show it."""

from __future__ import annotations

from typing import Protocol


class CollectProgress(Protocol):
    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None: ...

    def page_walked(self, channel_id: str) -> None: ...

    def videos_stored(self, channel_id: str, count: int) -> None: ...

    def quota_spent(self, units: int) -> None: ...

    def channel_finished(self, channel_id: str) -> None: ...


class SilentProgress:
    """Reports nothing: the default for library callers and tests."""

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        return None

    def page_walked(self, channel_id: str) -> None:
        return None

    def videos_stored(self, channel_id: str, count: int) -> None:
        return None

    def quota_spent(self, units: int) -> None:
        return None

    def channel_finished(self, channel_id: str) -> None:
        return None
