"""Progress hooks: the collector reports what it did; the caller decides how to show it."""

from __future__ import annotations

from typing import Protocol


class CollectProgress(Protocol):
    """Receives the progress of a collection, for a progress bar or job counters."""

    def run_opened(self, run_id: int, resumed: bool) -> None:
        """The collection run ``run_id`` was opened (``resumed``: an unfinished one carried on)."""

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        """A channel's crawl started; it is expected to hold ``expected_videos`` videos."""

    def page_walked(self, channel_id: str) -> None:
        """One playlist page was walked."""

    def videos_stored(self, channel_id: str, count: int) -> None:
        """``count`` videos were stored."""

    def quota_spent(self, units: int) -> None:
        """``units`` of quota were spent."""

    def channel_finished(self, channel_id: str) -> None:
        """A channel's crawl finished."""


class SilentProgress:
    """Reports nothing: the default for library callers and tests."""

    def run_opened(self, run_id: int, resumed: bool) -> None:
        """Ignore the event."""
        return None

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        """Ignore the event."""
        return None

    def page_walked(self, channel_id: str) -> None:
        """Ignore the event."""
        return None

    def videos_stored(self, channel_id: str, count: int) -> None:
        """Ignore the event."""
        return None

    def quota_spent(self, units: int) -> None:
        """Ignore the event."""
        return None

    def channel_finished(self, channel_id: str) -> None:
        """Ignore the event."""
        return None
