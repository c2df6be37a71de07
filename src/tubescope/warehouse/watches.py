"""Watch lists in the warehouse: what is watched, how often, and which tick was last handed out.

The SQL is written once for both backends. Ticks are claimed with a compare-and-set on
``last_tick_at``, so any number of schedulers (replicas, workers) hand out each tick once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tubescope.warehouse.repository import Warehouse

_COLUMNS = "channel_id, every_seconds, watch_group, added_at, last_tick_at"


@dataclass(frozen=True, slots=True)
class Watch:
    """One watched channel."""

    channel_id: str
    every: timedelta
    group: str
    added_at: datetime
    last_tick_at: datetime | None

    def due(self, now: datetime) -> bool:
        """Whether a tick is due at ``now`` (never ticked, or ``every`` has passed since)."""
        return self.last_tick_at is None or now - self.last_tick_at >= self.every


def _watch(row: Sequence[object]) -> Watch:
    channel_id, every_seconds, group, added_at, last_tick_at = row
    return Watch(
        channel_id=str(channel_id),
        every=timedelta(seconds=int(str(every_seconds))),
        group=str(group),
        added_at=added_at,  # type: ignore[arg-type]
        last_tick_at=last_tick_at,  # type: ignore[arg-type]
    )


def add_watches(
    warehouse: Warehouse, channel_ids: Sequence[str], *, every: timedelta, group: str, at: datetime
) -> list[str]:
    """Watch ``channel_ids`` (already watched ones get the new ``every`` and ``group``);
    returns the ids that were not watched before."""
    added: list[str] = []
    with warehouse.transaction() as con:
        for channel_id in channel_ids:
            known = con.count(
                "UPDATE watches SET every_seconds = ?, watch_group = ? WHERE channel_id = ?",
                [int(every.total_seconds()), group, channel_id],
            )
            if known == 0:
                con.count(
                    f"INSERT INTO watches ({_COLUMNS}) VALUES (?, ?, ?, ?, NULL)",  # noqa: S608
                    [channel_id, int(every.total_seconds()), group, at],
                )
                added.append(channel_id)
    return added


def remove_watches(warehouse: Warehouse, channel_ids: Sequence[str]) -> int:
    """Stop watching ``channel_ids``; returns how many were watched."""
    removed = 0
    with warehouse.transaction() as con:
        for channel_id in channel_ids:
            removed += con.count("DELETE FROM watches WHERE channel_id = ?", [channel_id])
    return removed


def list_watches(warehouse: Warehouse, group: str | None = None) -> list[Watch]:
    """Every watched channel (of ``group``), by channel id."""
    if group is None:
        rows = warehouse.fetchall(f"SELECT {_COLUMNS} FROM watches ORDER BY channel_id")  # noqa: S608
    else:
        rows = warehouse.fetchall(
            f"SELECT {_COLUMNS} FROM watches WHERE watch_group = ? ORDER BY channel_id",  # noqa: S608
            [group],
        )
    return [_watch(row) for row in rows]


def claim_tick(warehouse: Warehouse, watch: Watch, now: datetime) -> bool:
    """Move ``watch``'s last tick to ``now`` if no other scheduler did since it was read.

    True means this caller owns the tick and must enqueue it. A watch down for days is claimed
    once at ``now``: missed ticks are caught up once, not many times.
    """
    with warehouse.transaction() as con:
        if watch.last_tick_at is None:
            changed = con.count(
                "UPDATE watches SET last_tick_at = ? WHERE channel_id = ? AND last_tick_at IS NULL",
                [now, watch.channel_id],
            )
        else:
            changed = con.count(
                "UPDATE watches SET last_tick_at = ? WHERE channel_id = ? AND last_tick_at = ?",
                [now, watch.channel_id, watch.last_tick_at],
            )
    return changed == 1


def release_ticks(
    warehouse: Warehouse, channel_ids: Sequence[str], claimed_at: datetime, retry_at: datetime
) -> list[str]:
    """Give back the ticks claimed at ``claimed_at`` whose job failed: each channel is due again at
    ``retry_at`` (or at its usual next tick, if that comes first) instead of a whole period later.

    A channel a later tick has claimed meanwhile keeps that claim (compare-and-set on
    ``last_tick_at``). Returns the channels released.
    """
    wanted = set(channel_ids)
    released: list[str] = []
    for watch in list_watches(warehouse):
        if watch.channel_id not in wanted or watch.last_tick_at != claimed_at:
            continue
        # due() fires once ``every`` has passed since last_tick_at: backdate it so that is retry_at
        backdated = min(claimed_at, retry_at - watch.every)
        with warehouse.transaction() as con:
            changed = con.count(
                "UPDATE watches SET last_tick_at = ? WHERE channel_id = ? AND last_tick_at = ?",
                [backdated, watch.channel_id, claimed_at],
            )
        if changed == 1:
            released.append(watch.channel_id)
    return released


def upload_rates(
    warehouse: Warehouse, channel_ids: Sequence[str], *, window_days: int = 90
) -> dict[str, tuple[int, float]]:
    """``channel_id -> (stored videos, uploads per day over the last window of its data)``."""
    found: dict[str, tuple[int, float]] = {}
    for channel_id in channel_ids:
        row = warehouse.fetchone(
            "SELECT count(*), max(published_at) FROM videos WHERE channel_id = ? AND NOT is_deleted",
            [channel_id],
        )
        videos = int(row[0]) if row else 0
        newest = row[1] if row else None
        recent = 0
        if newest is not None:
            since = newest - timedelta(days=window_days)
            recent_row = warehouse.fetchone(
                "SELECT count(*) FROM videos WHERE channel_id = ? AND NOT is_deleted AND published_at > ?",
                [channel_id, since],
            )
            recent = int(recent_row[0]) if recent_row else 0
        found[channel_id] = (videos, recent / window_days)
    return found


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """A channel's WebSub subscription: where the hub pushes, the shared secret, the lease."""

    channel_id: str
    callback: str
    secret: str
    requested_at: datetime
    expires_at: datetime | None


_SUBSCRIPTION_COLUMNS = "channel_id, callback, secret, requested_at, expires_at"


def get_subscription(warehouse: Warehouse, channel_id: str) -> StoredSubscription | None:
    """The stored subscription of ``channel_id``, if one was ever requested."""
    row = warehouse.fetchone(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM websub_subscriptions WHERE channel_id = ?",  # noqa: S608
        [channel_id],
    )
    return StoredSubscription(*row) if row else None


def save_subscription(
    warehouse: Warehouse, channel_id: str, *, callback: str, secret: str, requested_at: datetime
) -> None:
    """Record a subscription request (the lease starts when the hub verifies it)."""
    with warehouse.transaction() as con:
        changed = con.count(
            "UPDATE websub_subscriptions SET callback = ?, secret = ?, requested_at = ? WHERE channel_id = ?",
            [callback, secret, requested_at, channel_id],
        )
        if changed == 0:
            con.count(
                f"INSERT INTO websub_subscriptions ({_SUBSCRIPTION_COLUMNS}) VALUES (?, ?, ?, ?, NULL)",  # noqa: S608
                [channel_id, callback, secret, requested_at],
            )


def confirm_subscription(warehouse: Warehouse, channel_id: str, expires_at: datetime) -> None:
    """The hub verified the subscription: its lease runs until ``expires_at``."""
    with warehouse.transaction() as con:
        con.count(
            "UPDATE websub_subscriptions SET expires_at = ? WHERE channel_id = ?", [expires_at, channel_id]
        )


def claim_dense_pass(warehouse: Warehouse, at_pass: datetime, now: datetime) -> bool:
    """Claim the dense pass of the whole hour ``at_pass``; True for exactly one caller (the one
    that must run it), however many schedulers tick within that hour."""
    with warehouse.transaction() as con:
        inserted = con.count(
            "INSERT INTO watch_dense_passes (pass_at, claimed_at) VALUES (?, ?)"
            " ON CONFLICT (pass_at) DO NOTHING",
            [at_pass, now],
        )
    return inserted == 1


@dataclass(frozen=True, slots=True)
class YoungVideo:
    """A stored, live video of a watched channel, young enough for dense sampling."""

    video_id: str
    channel_id: str
    published_at: datetime


def young_videos(warehouse: Warehouse, published_after: datetime) -> list[YoungVideo]:
    """Live videos of watched channels published after ``published_after``."""
    rows = warehouse.fetchall(
        "SELECT v.video_id, v.channel_id, v.published_at FROM videos v"
        " JOIN watches w ON w.channel_id = v.channel_id"
        " WHERE v.published_at > ? AND NOT v.is_deleted ORDER BY v.video_id",
        [published_after],
    )
    return [YoungVideo(str(r[0]), str(r[1]), r[2]) for r in rows]


def taken_slots(warehouse: Warehouse, video_ids: Sequence[str]) -> set[tuple[str, float]]:
    """``(video_id, slot_hours)`` of the dense samples already stored for ``video_ids``."""
    if not video_ids:
        return set()
    rows = warehouse.fetchall(
        "SELECT video_id, slot_hours FROM video_early_points"
        " WHERE video_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [list(video_ids)],
    )
    return {(str(r[0]), float(r[1])) for r in rows}


@dataclass(frozen=True, slots=True)
class EarlyPoint:
    """One dense sample: a video's counts at (about) one sampling age."""

    video_id: str
    channel_id: str
    slot_hours: float
    observed_at: datetime
    age_hours: float
    view_count: int
    like_count: int | None
    comment_count: int | None


def record_early_points(warehouse: Warehouse, run_id: int, points: Sequence[EarlyPoint]) -> int:
    """Store dense samples; a slot already taken keeps its first sample. Returns how many were new."""
    stored = 0
    with warehouse.transaction() as con:
        for p in points:
            taken = con.rows(
                "SELECT count(*) FROM video_early_points WHERE video_id = ? AND slot_hours = ?",
                [p.video_id, p.slot_hours],
            )
            if taken[0][0]:
                continue
            con.count(
                "INSERT INTO video_early_points (video_id, channel_id, slot_hours, observed_at, age_hours,"
                " view_count, like_count, comment_count, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    p.video_id,
                    p.channel_id,
                    p.slot_hours,
                    p.observed_at,
                    p.age_hours,
                    p.view_count,
                    p.like_count,
                    p.comment_count,
                    run_id,
                ],
            )
            stored += 1
    return stored


def early_points(warehouse: Warehouse, channel_ids: Sequence[str] | None = None) -> list[EarlyPoint]:
    """The stored dense samples (of ``channel_ids``), by video and age."""
    columns = (
        "video_id, channel_id, slot_hours, observed_at, age_hours, view_count, like_count, comment_count"
    )
    if channel_ids is None:
        rows = warehouse.fetchall(
            f"SELECT {columns} FROM video_early_points ORDER BY video_id, slot_hours"  # noqa: S608
        )
    else:
        rows = warehouse.fetchall(
            f"SELECT {columns} FROM video_early_points"  # noqa: S608
            " WHERE channel_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) ORDER BY video_id, slot_hours",
            [list(channel_ids)],
        )
    return [
        EarlyPoint(
            str(r[0]),
            str(r[1]),
            float(r[2]),
            r[3],
            float(r[4]),
            int(r[5]),
            None if r[6] is None else int(r[6]),
            None if r[7] is None else int(r[7]),
        )
        for r in rows
    ]


def live_video_ids(warehouse: Warehouse, channel_ids: Sequence[str]) -> dict[str, list[str]]:
    """``channel_id -> its stored videos not tombstoned``: what a channel tick refreshes."""
    found: dict[str, list[str]] = {c: [] for c in channel_ids}
    if not channel_ids:
        return found
    rows = warehouse.fetchall(
        "SELECT channel_id, video_id FROM videos WHERE NOT is_deleted"
        " AND channel_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) ORDER BY channel_id, video_id",
        [list(channel_ids)],
    )
    for channel_id, video_id in rows:
        found[str(channel_id)].append(str(video_id))
    return found


def stored_video_ids(warehouse: Warehouse, video_ids: Sequence[str]) -> set[str]:
    """Which of ``video_ids`` the warehouse holds (tombstoned ones included)."""
    if not video_ids:
        return set()
    rows = warehouse.fetchall(
        "SELECT video_id FROM videos WHERE video_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [list(video_ids)],
    )
    return {str(r[0]) for r in rows}


def uploads_playlists(warehouse: Warehouse, channel_ids: Sequence[str]) -> dict[str, str]:
    """``channel_id -> uploads playlist id`` of stored channels."""
    if not channel_ids:
        return {}
    rows = warehouse.fetchall(
        "SELECT channel_id, uploads_playlist_id FROM channels"
        " WHERE channel_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [list(channel_ids)],
    )
    return {str(r[0]): str(r[1]) for r in rows}
