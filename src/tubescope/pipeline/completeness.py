"""How complete a collection is: the channel's own ``videoCount`` against the videos stored.

The uploads playlist cannot be trusted to list everything: it stops at about 20,000 items and it
omits deleted and private videos. Rather than pretend, each run reports the gap and the reasons it
can name, and says how much of the gap it cannot explain. What this run *did not fetch* (retries
spent, quota or budget gone, interrupted) is never passed off as private or deleted videos.
"""

from __future__ import annotations

from dataclasses import dataclass

from tubescope.pipeline.incremental import UPLOADS_PLAYLIST_CAP


@dataclass(frozen=True, slots=True)
class ChannelCompleteness:
    """How many of a channel's videos were stored, and why any others were not."""

    channel_id: str
    expected: int
    """The channel's ``statistics.videoCount`` at the time of the run (the videos found when the
    API did not send one: nothing to compare against, so nothing is called missing)."""
    found: int
    """Live (not tombstoned) videos of the channel in the warehouse after the run."""
    beyond_playlist_cap: int
    unavailable: int
    """Listed in the playlist but ``videos.list`` returned nothing: private or deleted meanwhile."""
    tombstoned: int
    """Stored videos that disappeared during this run: deleted or made private."""
    quarantined: int
    """Items of this channel that failed validation in this run (kept in quarantine)."""
    finished: bool
    """False when the run stopped (budget, quota) before this channel's crawl was done."""
    not_fetched: int = 0
    """Listed videos whose ``videos.list`` batch failed after its retries (recorded as gaps)."""
    stop_reason: str | None = None
    """Why an unfinished crawl stopped: ``quota``, ``budget``, ``errors`` or ``interrupted``."""

    @property
    def missing(self) -> int:
        """Videos the channel reports that the warehouse does not hold."""
        return max(0, self.expected - self.found)

    @property
    def not_yet_fetched(self) -> int:
        """Missing videos this run did not get to: failed batches, plus the rest of a stopped crawl."""
        if not self.finished:
            return max(self.not_fetched, self.missing - self.beyond_playlist_cap - self.unavailable)
        return min(self.not_fetched, self.missing)

    @property
    def unexplained(self) -> int:
        """Missing videos that no known reason explains."""
        explained = self.beyond_playlist_cap + self.unavailable + self.quarantined + self.not_yet_fetched
        return max(0, self.missing - explained)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Each known reason for missing videos, in words."""
        out: list[str] = []
        if not self.finished:
            why = f" ({self.stop_reason})" if self.stop_reason else ""
            out.append(
                f"the crawl stopped before it finished{why}: {self.not_yet_fetched} video(s) not fetched yet;"
                " run collect again to resume"
            )
        elif self.not_fetched:
            out.append(
                f"{self.not_fetched} video(s) not fetched (errors after retries); "
                "the next collect fetches them first"
            )
        if self.beyond_playlist_cap:
            out.append(
                f"{self.beyond_playlist_cap} video(s) beyond the uploads playlist's "
                f"{UPLOADS_PLAYLIST_CAP}-item cap"
            )
        if self.unavailable:
            out.append(f"{self.unavailable} listed video(s) were private or deleted when fetched")
        if self.quarantined:
            out.append(f"{self.quarantined} item(s) failed validation and are in quarantine")
        if self.tombstoned:
            out.append(f"{self.tombstoned} stored video(s) were deleted or made private (tombstoned)")
        if self.unexplained:
            out.append(
                f"{self.unexplained} video(s) counted by the channel are not listed: private, "
                "unlisted or deleted videos the playlist omits, or a videoCount that lags"
            )
        if self.found > self.expected:
            out.append(
                f"{self.found - self.expected} more video(s) stored than the channel counts: "
                "videoCount lags new uploads or excludes videos stored earlier"
            )
        return tuple(out)

    def as_dict(self) -> dict[str, object]:
        """The completeness as a JSON-safe dictionary."""
        return {
            "channel_id": self.channel_id,
            "expected": self.expected,
            "found": self.found,
            "missing": self.missing,
            "beyond_playlist_cap": self.beyond_playlist_cap,
            "unavailable": self.unavailable,
            "tombstoned": self.tombstoned,
            "quarantined": self.quarantined,
            "not_fetched": self.not_yet_fetched,
            "stop_reason": self.stop_reason,
            "unexplained": self.unexplained,
            "finished": self.finished,
            "reasons": list(self.reasons),
        }


def channel_completeness(
    *,
    channel_id: str,
    video_count: int | None,
    stored_live: int,
    unavailable: int,
    tombstoned: int,
    quarantined: int,
    finished: bool,
    not_fetched: int = 0,
    stop_reason: str | None = None,
) -> ChannelCompleteness:
    """The completeness of one channel's crawl; ``video_count`` None: the API did not send one."""
    if video_count is None:
        video_count = stored_live
    return ChannelCompleteness(
        channel_id=channel_id,
        expected=video_count,
        found=stored_live,
        beyond_playlist_cap=max(0, video_count - UPLOADS_PLAYLIST_CAP),
        unavailable=unavailable,
        tombstoned=tombstoned,
        quarantined=quarantined,
        finished=finished,
        not_fetched=not_fetched,
        stop_reason=None if finished else stop_reason,
    )
