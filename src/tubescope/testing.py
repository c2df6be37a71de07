"""Public test helpers: the emulator on a loopback port or in process, frames of known truth.

Others build their tests on these; the signatures are kept stable::

    with running_emulator(seed=7, n_channels=5) as emu:
        httpx.get(f"{emu.base_url}/channels", params={"part": "statistics", "id": cid, "key": emu.keys[0]})

    transport = emulator_transport(create_app(World(seed=7)))  # no socket at all
    frames = world_frames(world, channel_ids, [t1, t2, t3])    # what collecting at t1..t3 would store
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import uvicorn

from tubescope.domain.frames import (
    CHANNEL_COLUMNS,
    CHANNEL_SNAPSHOT_COLUMNS,
    VIDEO_COLUMNS,
    VIDEO_SNAPSHOT_COLUMNS,
)
from tubescope.emulator.clock import DEFAULT_NOW, EmulatorClock
from tubescope.emulator.faults import FaultConfig
from tubescope.emulator.quota import QuotaLedger
from tubescope.emulator.server import API_PREFIX, DEMO_KEYS, EmulatorApp, create_app
from tubescope.emulator.world import World

__all__ = [
    "EmulatorHandle",
    "EmulatorProcess",
    "emulator_process",
    "emulator_transport",
    "fixed_clock",
    "running_emulator",
    "world_frames",
]


@dataclass
class EmulatorHandle:
    """A running emulator: where it listens and the objects behind it (shared, live)."""

    base_url: str
    """``http://127.0.0.1:PORT/youtube/v3`` (no trailing slash)."""
    root_url: str
    """``http://127.0.0.1:PORT`` (admin routes live under ``/_admin/``)."""
    keys: list[str]
    world: World
    clock: EmulatorClock
    ledger: QuotaLedger
    app: EmulatorApp

    def set_faults(self, config: FaultConfig | None = None, **settings: Any) -> FaultConfig:
        """Replace the fault settings (a FaultConfig, or its fields as keywords; none = no faults)."""
        chosen = config if config is not None else FaultConfig(**settings)
        self.app.state.faults.configure(chosen)
        return chosen

    def set_now(self, now: datetime) -> None:
        """Set the emulator's clock to ``now``."""
        self.clock.set(now)


def fixed_clock(now: datetime | None = None) -> EmulatorClock:
    """A clock that stands still at ``now`` (default 2026-10-01T12:00Z); also callable: ``clock()``."""
    return EmulatorClock(now or DEFAULT_NOW)


def emulator_transport(app: EmulatorApp) -> httpx.ASGITransport:
    """An httpx transport that calls the emulator in process (use ``base_url=http://emulator``)."""
    return httpx.ASGITransport(app=app)


def _free_socket() -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when it is set,
    # and without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running_emulator(
    world: World | None = None,
    *,
    seed: int = 7,
    n_channels: int = 5,
    keys: Mapping[str, int] | None = None,
    faults: FaultConfig | None = None,
    clock: EmulatorClock | None = None,
    startup_timeout: float = 10.0,
) -> Iterator[EmulatorHandle]:
    """Serve the emulator with uvicorn on a free 127.0.0.1 port in a background thread.

    The world defaults to ``World(seed, n_channels)``; keys to :data:`DEMO_KEYS` (10,000 units a
    day each); the clock to :func:`fixed_clock`. Stops the server (and joins its thread) on exit.
    """
    chosen_world = world or World(seed=seed, n_channels=n_channels)
    chosen_clock = clock or fixed_clock()
    chosen_keys = dict(keys) if keys is not None else dict(DEMO_KEYS)
    app = create_app(chosen_world, clock=chosen_clock, keys=chosen_keys, faults=faults)
    sock = _free_socket()
    port = sock.getsockname()[1]
    # date_header=False: the emulator's own Date (its world clock) is the only one sent.
    config = uvicorn.Config(app, log_level="error", lifespan="off", access_log=False, date_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"emulator-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    root = f"http://127.0.0.1:{port}"
    try:
        yield EmulatorHandle(
            base_url=root + API_PREFIX,
            root_url=root,
            keys=list(chosen_keys),
            world=chosen_world,
            clock=chosen_clock,
            ledger=app.state.ledger,
            app=app,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class EmulatorProcess:
    """An emulator in a child process: no shared GIL with the code under test (for benchmarks).

    ``world`` is a local twin of the served world (same seed and sizes: same answers); the clock,
    faults and ledger live in the child and are reached through the admin routes.
    """

    base_url: str
    root_url: str
    keys: list[str]
    world: World
    pid: int

    def set_faults(self, config: FaultConfig | None = None, **settings: Any) -> None:
        """Change the emulator's fault injection."""
        payload = (config or FaultConfig(**settings)).to_dict()
        httpx.post(f"{self.root_url}/_admin/faults", json=payload, timeout=10).raise_for_status()

    def set_now(self, now: datetime) -> None:
        """Set the emulator's clock to ``now``."""
        httpx.post(
            f"{self.root_url}/_admin/clock", json={"now": now.isoformat()}, timeout=10
        ).raise_for_status()

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward by ``seconds``."""
        body = {"advance_seconds": seconds}
        httpx.post(f"{self.root_url}/_admin/clock", json=body, timeout=10).raise_for_status()

    def quota(self) -> dict[str, Any]:
        """The ledger as ``GET /_admin/quota`` shows it (keys by fingerprint)."""
        answer: dict[str, Any] = httpx.get(f"{self.root_url}/_admin/quota", timeout=10).json()
        return answer


@contextmanager
def emulator_process(
    *,
    seed: int = 7,
    n_channels: int = 5,
    videos_per_channel: int | None = None,
    keys: Mapping[str, int] | None = None,
    faults: FaultConfig | None = None,
    now: datetime | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[EmulatorProcess]:
    """Serve ``World(seed, n_channels, videos_per_channel=...)`` from a child process on loopback."""
    import json
    import subprocess
    import sys

    chosen_keys = dict(keys) if keys is not None else dict(DEMO_KEYS)
    with _free_socket() as probe:
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tubescope.emulator", "--port", str(port), "--seed", str(seed)]
    command += ["--channels", str(n_channels), "--keys", json.dumps(chosen_keys)]
    command += ["--now", (now or DEFAULT_NOW).isoformat()]
    if videos_per_channel is not None:
        command += ["--videos-per-channel", str(videos_per_channel)]
    if faults is not None:
        command += ["--faults", json.dumps(faults.to_dict())]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - our own interpreter and module
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                if httpx.get(f"{root}/_admin/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the emulator process did not start")
            time.sleep(0.05)
        yield EmulatorProcess(
            base_url=root + API_PREFIX,
            root_url=root,
            keys=list(chosen_keys),
            world=World(seed=seed, n_channels=n_channels, videos_per_channel=videos_per_channel),
            pid=child.pid,
        )
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


def world_frames(
    world: World, channel_ids: Sequence[str], observed_at: Sequence[datetime]
) -> dict[str, pd.DataFrame]:
    """The four frames a warehouse would hold after collecting ``channel_ids`` at each instant.

    Keys ``channels``, ``videos``, ``video_snapshots``, ``channel_snapshots``; columns exactly as
    in :mod:`tubescope.domain.frames`. Values are what the HTTP emulator serves at those instants:
    videos are those its uploads playlist lists; ``videos`` holds each video's latest observed
    stats and ``is_deleted`` for videos listed once and no longer listed at the channel's last
    observation (made private or deleted). Channels that do not exist yet at an instant are
    absent from that instant. Rows are grouped by channel (in ``channel_ids`` order), then by time;
    videos oldest first.
    """
    times = sorted({t.astimezone(UTC) for t in observed_at})
    if not times:
        raise ValueError("world_frames needs at least one observation time")
    channel_rows: dict[str, dict[str, Any]] = {}
    channel_snaps: list[dict[str, Any]] = []
    snapshot_parts: list[tuple[npt.NDArray[Any], ...]] = []
    snapshot_channels: list[tuple[str, int]] = []
    video_parts: list[pd.DataFrame] = []
    for channel_id in dict.fromkeys(channel_ids):
        if world.channel_index(channel_id) is None:
            continue
        table = world.video_table(channel_id)
        size = len(table)
        latest_views = np.full(size, -2, dtype=np.int64)  # -2: never listed
        latest_likes = np.full(size, -1, dtype=np.int64)
        latest_comments = np.full(size, -1, dtype=np.int64)
        listed_last = np.zeros(size, dtype=bool)
        video_id_array = table["video_id"].to_numpy(dtype=object)
        for at in times:
            observation = world.observe(at)
            channel = observation.channel(channel_id)
            stats = observation.uploads_stats(channel_id)
            if channel is None or stats is None:
                continue
            channel_rows[channel_id] = {
                "channel_id": channel.channel_id,
                "title": channel.title,
                "handle": channel.handle,
                "published_at": channel.published_at,
                "subscriber_count": channel.subscriber_count,
                "hidden_subscriber_count": channel.hidden_subscriber_count,
                "view_count": channel.view_count,
                "video_count": channel.video_count,
            }
            channel_snaps.append(
                {
                    "channel_id": channel.channel_id,
                    "observed_at": at,
                    "subscriber_count": channel.subscriber_count,
                    "view_count": channel.view_count,
                    "video_count": channel.video_count,
                }
            )
            positions = stats.positions
            latest_views[positions] = stats.views
            latest_likes[positions] = stats.likes
            latest_comments[positions] = stats.comments
            listed_last = np.zeros(size, dtype=bool)
            listed_last[positions] = True
            snapshot_parts.append(
                (
                    video_id_array[positions],
                    np.full(positions.size, pd.Timestamp(at).value, dtype=np.int64),
                    stats.views,
                    stats.likes,
                    stats.comments,
                )
            )
            snapshot_channels.append((channel_id, positions.size))
        seen = np.flatnonzero(latest_views >= 0)
        if seen.size:
            videos = table.take(seen).reset_index(drop=True)
            videos["view_count"] = pd.array(latest_views[seen], dtype="Int64")
            videos["like_count"] = _nullable(latest_likes[seen])
            videos["comment_count"] = _nullable(latest_comments[seen])
            videos["is_deleted"] = ~listed_last[seen]
            video_parts.append(videos)

    channels = _frame(list(channel_rows.values()), CHANNEL_COLUMNS, _CHANNEL_DTYPES)
    channel_snapshots = _frame(channel_snaps, CHANNEL_SNAPSHOT_COLUMNS, _CHANNEL_SNAPSHOT_DTYPES)
    if snapshot_parts:
        columns = [np.concatenate(parts) for parts in zip(*snapshot_parts, strict=True)]
        video_snapshots = pd.DataFrame(
            {
                "video_id": pd.array(columns[0], dtype="str"),
                "channel_id": pd.array(
                    np.repeat([c for c, _ in snapshot_channels], [n for _, n in snapshot_channels]).astype(
                        object
                    ),
                    dtype="str",
                ),
                "observed_at": pd.to_datetime(columns[1], unit="ns", utc=True).astype("datetime64[ns, UTC]"),
                "view_count": pd.array(columns[2], dtype="Int64"),
                "like_count": _nullable(columns[3]),
                "comment_count": _nullable(columns[4]),
            }
        )
    else:
        video_snapshots = _frame([], VIDEO_SNAPSHOT_COLUMNS, _VIDEO_SNAPSHOT_DTYPES)
    if video_parts:
        videos_frame = pd.concat(video_parts, ignore_index=True).astype(_VIDEO_DTYPES)
    else:
        videos_frame = _frame([], VIDEO_COLUMNS, _VIDEO_DTYPES)
    return {
        "channels": channels[list(CHANNEL_COLUMNS)],
        "videos": videos_frame[list(VIDEO_COLUMNS)],
        "video_snapshots": video_snapshots[list(VIDEO_SNAPSHOT_COLUMNS)],
        "channel_snapshots": channel_snapshots[list(CHANNEL_SNAPSHOT_COLUMNS)],
    }


def _nullable(values: npt.NDArray[np.int64]) -> pd.arrays.IntegerArray:
    hidden = values < 0
    return pd.arrays.IntegerArray(np.where(hidden, 0, values).astype(np.int64), hidden)


_CHANNEL_DTYPES = {
    "channel_id": "str",
    "title": "str",
    "handle": "str",
    "published_at": "datetime64[ns, UTC]",
    "subscriber_count": "Int64",
    "hidden_subscriber_count": "bool",
    "view_count": "Int64",
    "video_count": "Int64",
}
_CHANNEL_SNAPSHOT_DTYPES = {
    "channel_id": "str",
    "observed_at": "datetime64[ns, UTC]",
    "subscriber_count": "Int64",
    "view_count": "Int64",
    "video_count": "Int64",
}
_VIDEO_SNAPSHOT_DTYPES = {
    "video_id": "str",
    "channel_id": "str",
    "observed_at": "datetime64[ns, UTC]",
    "view_count": "Int64",
    "like_count": "Int64",
    "comment_count": "Int64",
}
_VIDEO_DTYPES = {
    "video_id": "str",
    "channel_id": "str",
    "title": "str",
    "published_at": "datetime64[ns, UTC]",
    "duration_seconds": "float64",
    "video_format": "str",
    "tags": "str",
    "tag_count": "int64",
    "category_id": "str",
    "view_count": "Int64",
    "like_count": "Int64",
    "comment_count": "Int64",
    "is_deleted": "bool",
}


def _frame(rows: list[dict[str, Any]], columns: Sequence[str], dtypes: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({name: dtypes[name] for name in columns})
