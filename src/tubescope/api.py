"""The Python API: a small facade over the warehouse and the jobs.

    >>> import tubescope
    >>> with tubescope.open("tubescope.duckdb") as ts:          # doctest: +SKIP
    ...     channel = ts.channel("@somehandle")
    ...     videos = channel.videos()                          # pandas DataFrame
    ...     figures = channel.kpis()                           # the figures every surface shows
    ...     analysis = channel.analyze()                       # every analysis, typed results

Every call reads the warehouse read-only and returns plain pandas DataFrames or the typed results
the CLI prints. A reference that names no collected channel raises
:class:`~tubescope.errors.ChannelNotFound`; it never returns empty data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.kpis import ChannelKpis, channel_kpis_from_table
from tubescope.analysis.summary import ChannelAnalysis, fleet_kpis
from tubescope.errors import StorageError
from tubescope.jobs import analyze as analyze_job
from tubescope.jobs import catalog
from tubescope.jobs.common import newest_observation, open_for_reading, resolve_stored_channel
from tubescope.warehouse.target import PostgresTarget, WarehouseTarget, parse_target

if TYPE_CHECKING:
    from tubescope.predict.model import Forecast

__all__ = ["Channel", "Tubescope", "open"]


class Tubescope:
    """A warehouse opened for reading; get one with :func:`tubescope.open`."""

    def __init__(self, db_path: str | Path | PostgresTarget) -> None:
        self.db_path: WarehouseTarget = parse_target(db_path)
        if isinstance(self.db_path, Path) and not self.db_path.is_file():
            raise StorageError(
                f"no warehouse at {self.db_path}; collect some channels first (`tubescope collect`)"
            )

    def __repr__(self) -> str:
        shown = self.db_path.display if isinstance(self.db_path, PostgresTarget) else str(self.db_path)
        return f"tubescope.open({shown!r})"

    def __enter__(self) -> Tubescope:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept so the object works as a context manager."""

    def channels(self) -> pd.DataFrame:
        """Every collected channel (id, title, handle, latest counts), by title."""
        with open_for_reading(self.db_path) as warehouse:
            return pd.DataFrame(catalog.list_channels(warehouse), columns=list(catalog.CHANNEL_FIELDS))

    def channel(self, ref: str) -> Channel:
        """The collected channel named by ``ref`` (``UC…`` id, ``@handle`` or a channel/video URL).

        Raises :class:`~tubescope.errors.ChannelNotFound` when it was never collected and
        :class:`~tubescope.errors.InvalidChannelRef` when ``ref`` is not a reference at all.
        """
        with open_for_reading(self.db_path) as warehouse:
            channel_id = resolve_stored_channel(warehouse, ref)
            row = catalog.channel_row(warehouse, channel_id)
        return Channel(self, channel_id, row.get("title"), row.get("handle"))

    def compare(self, refs: Sequence[str]) -> pd.DataFrame:
        """KPI percentiles of two or more channels among each other, one row per channel and KPI."""
        results = analyze_job.compare(self.db_path, refs)
        rows = [
            {"channel_id": r.channel_id, "title": r.title, **k.to_dict()} for r in results for k in r.kpis
        ]
        return pd.DataFrame(rows)


class Channel:
    """One collected channel; its methods read the warehouse each time they are called."""

    def __init__(self, owner: Tubescope, channel_id: str, title: str | None, handle: str | None) -> None:
        self._owner = owner
        self.channel_id = channel_id
        self.title = title
        self.handle = handle

    def __repr__(self) -> str:
        return f"<Channel {self.channel_id} {self.title!r}>"

    def _frames(self) -> dict[str, pd.DataFrame]:
        with open_for_reading(self._owner.db_path) as warehouse:
            return warehouse.load_frames([self.channel_id])

    def videos(self) -> pd.DataFrame:
        """The channel's videos with their latest counts (one row per video)."""
        return self._frames()["videos"].reset_index(drop=True)

    def snapshots(self) -> pd.DataFrame:
        """Every statistics snapshot of the channel's videos (video_id, observed_at, counts)."""
        return self._frames()["video_snapshots"].reset_index(drop=True)

    def channel_snapshots(self) -> pd.DataFrame:
        """The channel's own snapshots (subscribers, views, video count over time)."""
        return self._frames()["channel_snapshots"].reset_index(drop=True)

    def kpis(self) -> ChannelKpis:
        """The key figures as of the channel's last observation: what the CLI, REST API,
        dashboard and report show for it."""
        with open_for_reading(self._owner.db_path) as warehouse:
            frames = warehouse.load_frames([self.channel_id])
            reference = newest_observation(warehouse)
        table = fleet_kpis(catalog_frames(frames), None, [self.channel_id])
        return channel_kpis_from_table(table, self.channel_id, reference)

    def analyze(self, *, since: datetime | None = None) -> ChannelAnalysis:
        """Every analysis of the channel (``tubescope analyze --json`` as typed results)."""
        return analyze_job.analyze(self._owner.db_path, self.channel_id, since=since)

    def predict(
        self,
        title: str,
        *,
        duration_seconds: float | None,
        publish_at: datetime,
        short: bool = False,
        tags: Sequence[str] = (),
        category_id: str | None = None,
        model_dir: Path | None = None,
    ) -> Forecast:
        """Forecast a planned video's views with the latest trained model (``tubescope train``)."""
        from tubescope.jobs import predict as predict_job

        video = predict_job.PlannedVideo(
            channel=self.channel_id,
            title=title,
            duration_seconds=duration_seconds,
            published_at=publish_at,
            short=short,
            tags=tuple(tags),
            category_id=category_id,
        )
        return predict_job.predict(video, db_path=self._owner.db_path, model_dir=model_dir)

    def report(self, *, peers: Sequence[str] = ()) -> str:
        """The channel's report as one self-contained HTML page (nothing is written)."""
        from tubescope.jobs.report import render_report

        with open_for_reading(self._owner.db_path) as warehouse:
            return render_report(warehouse, self.channel_id, peers=peers).html


def catalog_frames(frames: dict[str, pd.DataFrame]) -> ChannelFrames:
    """The analysis' frame bundle from :meth:`Warehouse.load_frames`' dictionary."""
    return ChannelFrames(
        channels=frames["channels"],
        videos=frames["videos"],
        video_snapshots=frames["video_snapshots"],
        channel_snapshots=frames["channel_snapshots"],
    )


def open(db: str | Path | PostgresTarget | None = None) -> Tubescope:
    """Open a warehouse for reading: ``db`` (a DuckDB file or a ``postgresql://`` URL) or the
    configured one (``TUBESCOPE_DB_PATH`` / ``TUBESCOPE_DB_URL``).

    Raises :class:`~tubescope.errors.StorageError` when there is no warehouse there yet.
    """
    if db is None:
        from tubescope.config import load_settings

        db = load_settings().warehouse_target
    return Tubescope(db)
