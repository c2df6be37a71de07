"""A seeded, deterministic model of YouTube: channels, uploads, view curves and planted effects.

Everything the emulator serves is a pure function of ``(seed, t)``: ``World(seed).observe(t)``
answers the same way every time, in any process. Channels are generated lazily by index from a
random generator keyed by ``(seed, index)``, so a 10,000-channel world never holds more than the
few channels it was asked about (an LRU cache keeps the recently used ones).

How numbers are made (the planted truth is in :attr:`World.truth`):

* final views of a video = channel median level x format multiplier (Shorts, live)
  x ``exp(growth_per_year * years since world start)`` x title lift (titles containing ``?`` on
  channels that have one) x 10 for breakout videos x lognormal noise (sigma 0.5), before any of
  the rate changes below;
* views at time t follow a saturating curve
  ``final * (0.7 (1 - exp(-a/tau)) + 0.2 (1 - exp(-a/365)) + 0.1 S(a))`` where
  ``a`` is the video's age in *effective* days (calendar days weighted by the channel's weekday
  multipliers, so daily views have a weekly season) and ``S`` is a per-video random step function:
  day-to-day noise that is deterministic and never makes views go down;
* rate changes multiply the views every affected video accrues after their date: the view-count
  methodology changes (Shorts from 2025-03-31, all formats from 2026-08-27) and a channel's trend
  break (all its videos, from UTC midnight of the break date, like a recommendation change). The
  channel's daily views step by the multiplier on that day; views stay monotone;
* likes and comments are noisy ratios of views (noise keyed by video and UTC day); some videos hide
  likes, some disable comments, some become private/deleted on a date and vanish from then on;
* subscribers grow with the channel and are rounded down to three significant figures above 1,000.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from threading import Lock
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from tubescope.emulator import ids

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_END = datetime(2027, 1, 1, tzinfo=UTC)
SHORTS_METHODOLOGY_CHANGE = datetime(2025, 3, 31, tzinfo=UTC)
ALL_METHODOLOGY_CHANGE = datetime(2026, 8, 27, tzinfo=UTC)
SHORTS_METHODOLOGY_MULTIPLIER = 1.25
ALL_METHODOLOGY_MULTIPLIER = 1.15
BREAKOUT_MULTIPLIER = 10.0
UPLOADS_PLAYLIST_LIMIT = 20_000
SEARCH_RESULT_LIMIT = 500
MAX_THREADS_PER_VIDEO = 5_000
TOP_LEVEL_SHARE = 0.5  # with ~1 reply per thread on average, threads + replies ~ commentCount

_DAY = 86_400.0
_WEEK_ANCHOR = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday: weekday 0 of the effective clock
_BUMPS = 12
_EVERGREEN_TAU_DAYS = 365.0  # the slow tail that keeps a back catalogue earning views
_CACHE_CHANNELS = 256
_CACHE_OBSERVATIONS = 256
_LOOKUP_LIMIT = 300_000  # id -> position shortcuts; beyond this ids are decoded (exact, slower)
_CACHE_TABLES = 64

FORMAT_SHORT, FORMAT_LONG, FORMAT_LIVE = 0, 1, 2
FORMAT_NAMES = ("short", "long", "live")
PlaylistKind = Literal["all", "short", "long", "live"]
PLAYLIST_PREFIXES: dict[str, PlaylistKind] = {"UULF": "long", "UUSH": "short", "UULV": "live", "UU": "all"}


class MethodologyBreak(BaseModel):
    """A change in how YouTube counts views: views accrued after ``date`` are x ``multiplier``."""

    model_config = ConfigDict(frozen=True)
    date: date
    formats: Literal["short", "all"]
    multiplier: float


class ChannelTruth(BaseModel):
    """What was planted in one channel; analyses should recover these numbers."""

    model_config = ConfigDict(frozen=True)
    channel_id: str
    channel_index: int
    title: str
    handle: str
    published_at: datetime
    uploads_per_week: float
    median_views: float
    """Typical final views of a long-form video published at world start, before any effect."""
    view_tau_days: float
    """Median time constant (effective days) of the saturating view curve of long-form videos."""
    shorts_share: float
    shorts_view_multiplier: float
    live_share: float
    weekday_multipliers: tuple[float, ...]
    """Monday..Sunday (UTC days), mean 1: the weekly season of views."""
    growth_per_year: float
    """Log growth of the view level per year of publish date (0.2 = x e^0.2 a year later)."""
    trend_break_date: date | None
    """First UTC day of the channel's structural break (None: no break planted)."""
    trend_break_size: float
    """From the break date on, every video of the channel (old and new) accrues views at this
    multiple of its previous rate, so the channel's daily views step by this factor on that day
    (1.0 without a break; otherwise about x0.4-0.67 or x1.5-2.5)."""
    title_feature: str
    title_lift: float
    """True multiplicative view lift of titles with the feature (1.0: no effect on this channel)."""
    breakout_video_ids: tuple[str, ...]
    breakout_multiplier: float
    hidden_subscriber_count: bool
    subscribers_at_start: int
    publish_hour_utc: float
    """The channel's typical upload hour (UTC); uploads scatter around it (sd 1.5 h)."""
    comments_disabled_share: float
    likes_hidden_share: float


class WorldTruth(BaseModel):
    """The documented truth of a world: JSON-serialisable with ``model_dump_json()``."""

    model_config = ConfigDict(frozen=True)
    seed: int
    n_channels: int
    start: datetime
    end: datetime
    methodology_breaks: tuple[MethodologyBreak, ...]
    channels: tuple[ChannelTruth, ...]

    def channel(self, channel_id: str) -> ChannelTruth:
        """The truth about channel ``channel_id``; raises KeyError when it is not in the world."""
        for truth in self.channels:
            if truth.channel_id == channel_id:
                return truth
        raise KeyError(channel_id)


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel as the API shows it at one instant."""

    channel_id: str
    channel_index: int
    title: str
    description: str
    handle: str
    custom_url: str
    username: str | None
    published_at: datetime
    country: str | None
    default_language: str | None
    keywords: str
    topic_category_id: str
    uploads_playlist_id: str
    subscriber_count: int | None
    hidden_subscriber_count: bool
    view_count: int
    video_count: int


@dataclass(frozen=True, slots=True)
class VideoState:
    """A video as the API shows it at one instant (``None`` counts are hidden or disabled)."""

    video_id: str
    channel_id: str
    channel_title: str
    title: str
    description: str
    published_at: datetime
    published_iso: str
    """``published_at`` as the API writes it (``2026-01-02T03:04:05Z``)."""
    duration_iso: str
    duration_seconds: int | None
    video_format: str
    tags: tuple[str, ...]
    category_id: str
    default_language: str | None
    view_count: int
    like_count: int | None
    comment_count: int | None
    comments_disabled: bool
    is_live: bool


@dataclass(frozen=True, slots=True)
class CommentState:
    """A top-level comment (with its thread's reply count) or a reply (with ``parent_id``)."""

    comment_id: str
    video_id: str
    channel_id: str
    parent_id: str | None
    author_name: str
    author_channel_id: str
    text: str
    like_count: int
    published_at: datetime
    total_reply_count: int


# --------------------------------------------------------------------------------------------
# vocabulary

_TOPICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("20", "gaming", ("speedrun", "boss", "build", "loot", "raid", "map", "glitch", "mod", "ranked")),
    ("26", "cooking", ("pasta", "bread", "ramen", "curry", "knife", "oven", "sauce", "dumplings", "cake")),
    ("28", "tech", ("laptop", "phone", "GPU", "keyboard", "router", "camera", "app", "server", "chip")),
    ("27", "science", ("atoms", "black hole", "volcano", "DNA", "quantum", "rocket", "fungi", "ocean")),
    ("17", "fitness", ("squat", "run", "core", "stretch", "protein", "deadlift", "cardio", "mobility")),
    ("10", "music", ("guitar", "piano", "chords", "beat", "synth", "drums", "cover", "riff", "vocals")),
    ("19", "travel", ("Tokyo", "hostel", "train", "Lisbon", "backpack", "visa", "island", "roadtrip")),
    ("22", "vlog", ("morning", "apartment", "coffee", "routine", "week", "haul", "desk", "budget")),
)
_ADJECTIVES = ("best", "worst", "cheapest", "fastest", "ultimate", "honest", "secret", "simple", "weird")
_VERBS = ("tried", "built", "tested", "fixed", "ranked", "cooked", "learned", "broke")
_VERB_BASES = ("try", "build", "test", "fix", "rank", "cook", "learn", "break")
_EMOJI = (" 🔥", " 😱", " 🚀", " ✅", " 💀", " ✨")
_COMMENTS = (
    "Great video, thanks!",
    "This helped me a lot with {noun}.",
    "Who else is watching this in {year}?",
    "Can you do a video about {noun} next?",
    "{minute}:{second:02d} is the best part 😂",
    "I tried this with my {noun} and it worked",
    "Underrated channel. Keep going!",
    "Not sure I agree about the {noun} part, but nice editing.",
    "First!",
    "The algorithm brought me here and I'm not mad",
)
_REPLIES = (
    "Agreed!",
    "Same here.",
    "Thanks for watching! 🙏",
    "Exactly what I was thinking",
    "Source?",
    "Lol this",
)
_NAME_A = ("cozy", "pixel", "rapid", "quiet", "golden", "urban", "lucky", "brave", "nova", "tiny")
_NAME_B = ("kitchen", "lab", "forge", "garage", "studio", "trail", "signal", "corner", "academy")
_COUNTRIES = ("US", "GB", "IN", "DE", "BR", "JP", "CA", "FR", "ES", "KR", None)
_LANGUAGES = {"US": "en", "GB": "en", "IN": "hi", "DE": "de", "BR": "pt", "JP": "ja", "CA": "en"}
_LANGUAGES |= {"FR": "fr", "ES": "es", "KR": "ko"}


def _pick(options: tuple[str, ...], draw: float) -> str:
    return options[int(draw * len(options))]


def _title(u: list[float], words: tuple[str, ...], question: bool, year: int) -> str:
    """A title from ten uniform draws (drawn in bulk: this runs once per video)."""
    noun, other, adj = _pick(words, u[0]), _pick(words, u[1]), _pick(_ADJECTIVES, u[2])
    n = 3 + int(u[3] * 27)
    if question:
        choices = (
            f"Why is {noun} so {adj}?",
            f"Is this the {adj} {noun} ever?",
            f"{noun.title()} vs {other}: which one wins?",
            f"Can I {_pick(_VERB_BASES, u[4])} {n} {noun} in one day?",
            f"What happens if you skip {noun}?",
        )
    else:
        choices = (
            f"I {_pick(_VERBS, u[4])} {n} {noun} so you don't have to",
            f"The {adj} {noun} guide ({year})",
            f"TOP {n} {noun} tricks",
            f"{noun.title()} in {n} minutes",
            f"My {adj} {noun} setup - {other} edition",
        )
    title = choices[int(u[5] * len(choices))]
    if u[6] < 0.12:
        title = title.upper()
    if u[7] < 0.15:
        title += _pick(_EMOJI, u[8])
    return title


def format_iso_duration(seconds: int) -> str:
    """ISO-8601 the way YouTube writes it (``PT4M13S``, ``P1DT2H``); ``P0D`` for unknown (live)."""
    if seconds <= 0:
        return "P0D"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    if hours or minutes or secs:
        out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        out += f"{secs}S" if secs else ""
    return out


def round_subscribers(count: int) -> int:
    """Round down to three significant figures above 1,000, as the public API does."""
    if count < 1000:
        return count
    digits = len(str(count))
    step = int(10 ** (digits - 3))
    return (count // step) * step


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
    """splitmix64 over an array, as uniform floats in [0, 1)."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _ts(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return moment.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts), tz=UTC)


# --------------------------------------------------------------------------------------------
# per-channel generated data


@dataclass(frozen=True)
class _ChannelStatic:
    index: int
    channel_id: str
    title: str
    description: str
    handle: str
    username: str | None
    created_ts: float
    country: str | None
    language: str | None
    topic_category: str
    keywords: str
    truth: ChannelTruth
    weekday: npt.NDArray[np.float64]
    week_cum: npt.NDArray[np.float64]
    subs_base: float
    growth: float
    break_ts: float
    break_size: float
    # one entry per video, ascending publish time
    video_ids: tuple[str, ...]
    titles: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    pub_ts: npt.NDArray[np.float64]
    duration: npt.NDArray[np.int64]
    fmt: npt.NDArray[np.int8]
    final: npt.NDArray[np.float64]
    tau: npt.NDArray[np.float64]
    bumps: npt.NDArray[np.float64]
    like_ratio: npt.NDArray[np.float64]
    comment_ratio: npt.NDArray[np.float64]
    likes_hidden: npt.NDArray[np.bool_]
    comments_disabled: npt.NDArray[np.bool_]
    removed_ts: npt.NDArray[np.float64]
    noise_key: npt.NDArray[np.uint64]
    pub_eff: npt.NDArray[np.float64]
    rate_change_bases: npt.NDArray[np.float64]
    """(changes, videos): base views of each video at each rate change, in time order."""
    era_multipliers: npt.NDArray[np.float64]
    """(changes + 1, videos): how much a view accrued in each era between rate changes counts."""
    # plain-Python copies for the per-request path (numpy scalar access is slow)
    published_iso: tuple[str, ...]
    duration_iso: tuple[str, ...]
    duration_list: tuple[int, ...]
    fmt_list: tuple[int, ...]


class _Observed:
    """Stats of every video of one channel at one instant (-1 = hidden/disabled)."""

    def __init__(
        self,
        *,
        views: npt.NDArray[np.int64],
        likes: npt.NDArray[np.int64],
        comments: npt.NDArray[np.int64],
        visible: npt.NDArray[np.bool_],
        newest_first: dict[str, npt.NDArray[np.int64]],
        total_views: int,
        subscribers: int,
    ) -> None:
        self.views = views
        self.likes = likes
        self.comments = comments
        self.visible = visible
        self.newest_first = newest_first
        self.total_views = total_views
        self.subscribers = subscribers

    # Plain-Python copies for the per-request path (numpy scalar access is slow); made on first use
    # so bulk readers (world_frames) do not pay for them.
    @cached_property
    def views_list(self) -> list[int]:
        return list(self.views.tolist())

    @cached_property
    def likes_list(self) -> list[int]:
        return list(self.likes.tolist())

    @cached_property
    def comments_list(self) -> list[int]:
        return list(self.comments.tolist())

    @cached_property
    def visible_list(self) -> list[bool]:
        return list(self.visible.tolist())


class World:
    """A deterministic simulated YouTube.

    ``videos_per_channel`` fixes every channel's number of uploads between its first upload and
    ``end`` (benchmarks use it); by default the number follows each channel's upload cadence.
    """

    def __init__(
        self,
        seed: int = 7,
        n_channels: int = 20,
        start: datetime = DEFAULT_START,
        *,
        end: datetime = DEFAULT_END,
        videos_per_channel: int | None = None,
    ) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware (UTC)")
        if n_channels < 1 or n_channels > (1 << 22):
            raise ValueError(f"n_channels must be between 1 and {1 << 22}, got {n_channels}")
        if end <= start:
            raise ValueError("end must be after start")
        if videos_per_channel is not None and not 0 <= videos_per_channel <= (1 << 22):
            raise ValueError("videos_per_channel out of range")
        self.seed = seed
        self.n_channels = n_channels
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)
        self.videos_per_channel = videos_per_channel
        self._channels: OrderedDict[int, _ChannelStatic] = OrderedDict()
        self._observations: OrderedDict[tuple[int, float], _Observed] = OrderedDict()
        self._lock = Lock()
        self._truth: WorldTruth | None = None
        self._video_lookup: dict[str, tuple[int, int]] = {}
        self._tables: dict[int, pd.DataFrame] = {}

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, n_channels={self.n_channels}, start={self.start.isoformat()})"

    # ---- identity -----------------------------------------------------------------------

    def channel_id(self, index: int) -> str:
        """The channel id of the channel at ``index``."""
        if not 0 <= index < self.n_channels:
            raise IndexError(f"channel index {index} outside 0..{self.n_channels - 1}")
        return ids.channel_id(self.seed, index)

    def channel_ids(self) -> list[str]:
        """All channel ids (cheap: ids are hashes, nothing else is generated)."""
        return [ids.channel_id(self.seed, i) for i in range(self.n_channels)]

    def channel_index(self, channel_id: str) -> int | None:
        """The index of ``channel_id`` in this world, or None when it is not one of its channels."""
        index = ids.decode_channel_id(self.seed, channel_id)
        return index if index is not None and index < self.n_channels else None

    def handle_of(self, index: int) -> str:
        """The handle of the channel at ``index``."""
        rng = np.random.default_rng([self.seed, index, 1])
        return f"@{rng.choice(_NAME_A)}{rng.choice(_NAME_B)}{index}"

    def _index_from_name(self, name: str) -> int | None:
        digits = ""
        for char in reversed(name):
            if not char.isdigit():
                break
            digits = char + digits
        if not digits or len(digits) > 8:
            return None
        index = int(digits)
        return index if index < self.n_channels else None

    def find_handle(self, handle: str) -> str | None:
        """Channel id of ``@handle`` (case-insensitive, ``@`` optional), else None."""
        wanted = handle if handle.startswith("@") else "@" + handle
        index = self._index_from_name(wanted)
        if index is None or self.handle_of(index).lower() != wanted.lower():
            return None
        return self.channel_id(index)

    def find_username(self, username: str) -> str | None:
        """Channel id of a legacy username (only some channels have one), else None."""
        index = self._index_from_name(username.removesuffix("TV").removesuffix("tv"))
        if index is None:
            return None
        static = self._static(index)
        if static.username is None or static.username.lower() != username.lower():
            return None
        return static.channel_id

    def resolve_video(self, video_id: str) -> tuple[int, int] | None:
        """(channel index, video index) of a video id of this world, else None."""
        known = self._video_lookup.get(video_id)
        if known is not None:
            return known
        found = ids.decode_video_id(self.seed, video_id)
        if found is None or found[0] >= self.n_channels:
            return None
        if found[1] >= len(self._static(found[0]).video_ids):
            return None
        return found

    # ---- truth --------------------------------------------------------------------------

    @property
    def methodology_breaks(self) -> tuple[MethodologyBreak, ...]:
        """The view-counting methodology changes the world simulates."""
        return (
            MethodologyBreak(
                date=SHORTS_METHODOLOGY_CHANGE.date(),
                formats="short",
                multiplier=SHORTS_METHODOLOGY_MULTIPLIER,
            ),
            MethodologyBreak(
                date=ALL_METHODOLOGY_CHANGE.date(), formats="all", multiplier=ALL_METHODOLOGY_MULTIPLIER
            ),
        )

    def channel_truth(self, channel: int | str) -> ChannelTruth:
        """The ground truth of a channel given by index or id."""
        return self._static(self._as_index(channel)).truth

    @property
    def truth(self) -> WorldTruth:
        """Planted truth of every channel (generates them all: use channel_truth for one)."""
        if self._truth is None:
            self._truth = WorldTruth(
                seed=self.seed,
                n_channels=self.n_channels,
                start=self.start,
                end=self.end,
                methodology_breaks=self.methodology_breaks,
                channels=tuple(self._static(i).truth for i in range(self.n_channels)),
            )
        return self._truth

    def _as_index(self, channel: int | str) -> int:
        if isinstance(channel, int):
            if not 0 <= channel < self.n_channels:
                raise IndexError(f"channel index {channel} outside 0..{self.n_channels - 1}")
            return channel
        index = self.channel_index(channel)
        if index is None:
            raise KeyError(f"no channel {channel!r} in this world")
        return index

    # ---- generation ---------------------------------------------------------------------

    def _static(self, index: int) -> _ChannelStatic:
        # Lock-free hit (a dict read is atomic); eviction is first-in-first-out, which is enough.
        cached = self._channels.get(index)
        if cached is not None:
            return cached
        built = self._generate(index)
        with self._lock:
            if len(self._video_lookup) > _LOOKUP_LIMIT:
                self._video_lookup.clear()
            self._video_lookup.update((vid, (index, i)) for i, vid in enumerate(built.video_ids))
            self._channels[index] = built
            while len(self._channels) > _CACHE_CHANNELS:
                self._channels.popitem(last=False)
        return built

    def _generate(self, index: int) -> _ChannelStatic:
        rng = np.random.default_rng([self.seed, index, 0])
        cid = ids.channel_id(self.seed, index)
        topic_cat, topic, words = _TOPICS[int(rng.integers(len(_TOPICS)))]
        handle = self.handle_of(index)
        name = handle[1:].rstrip("0123456789")
        title = " ".join(part.capitalize() for part in _split_name(name))
        if rng.random() < 0.2:
            title = title.upper()
        has_username = rng.random() < 0.3
        username = f"{name}{index}TV" if has_username else None
        country = _COUNTRIES[int(rng.integers(len(_COUNTRIES)))]
        language = _LANGUAGES.get(country) if country else None
        created = self.start + timedelta(days=float(rng.uniform(-1000, 200)))
        created_ts = _ts(created)
        first_upload_ts = max(created_ts, _ts(self.start))
        end_ts = _ts(self.end)
        span_weeks = (end_ts - first_upload_ts) / (7 * _DAY)

        uploads_per_week = float(np.clip(rng.lognormal(math.log(1.2), 0.7), 0.1, 14.0))
        median_views = float(rng.lognormal(math.log(20_000), 1.2))
        tau_days = float(rng.lognormal(math.log(8), 0.4))
        shorts_share = float(rng.choice([0.0, 0.1, 0.3, 0.6, 0.9], p=[0.25, 0.2, 0.25, 0.2, 0.1]))
        shorts_mult = float(rng.lognormal(math.log(0.6), 0.4))
        live_share = float(rng.choice([0.0, 0.03, 0.1], p=[0.6, 0.3, 0.1]))
        amplitude = float(rng.uniform(0.05, 0.35))
        weekend_peak = rng.random() < 0.6
        pattern = (
            np.array([-0.3, -0.5, -0.4, -0.2, 0.2, 0.7, 0.5])
            if weekend_peak
            else np.array([0.4, 0.3, 0.2, 0.3, 0.0, -0.6, -0.6])
        )
        pattern = pattern + rng.normal(0, 0.15, 7)
        weekday = 1.0 + amplitude * pattern
        weekday = np.round(weekday / weekday.mean(), 6)
        growth = float(rng.normal(0.25, 0.3))
        if rng.random() < 0.4:
            break_day = float(rng.uniform(200, (end_ts - _ts(self.start)) / _DAY - 200))
            break_date = (self.start + timedelta(days=break_day)).date()
            break_ts = _ts(datetime(break_date.year, break_date.month, break_date.day, tzinfo=UTC))
            break_size = float(np.exp(rng.choice([-1, 1]) * rng.uniform(0.6, 0.9)))
        else:
            break_date, break_ts, break_size = None, math.inf, 1.0
        has_lift = rng.random() < 0.5
        title_lift = float(round(rng.uniform(1.2, 1.6), 4)) if has_lift else 1.0
        question_share = float(rng.uniform(0.15, 0.4))
        hidden_subs = bool(rng.random() < 0.1)
        subs_base = float(rng.lognormal(math.log(40_000), 1.5))
        comments_disabled_share = float(rng.choice([0.0, 0.05, 0.3], p=[0.5, 0.4, 0.1]))
        likes_hidden_share = float(rng.choice([0.0, 0.03, 0.5], p=[0.6, 0.35, 0.05]))
        hour = float(rng.uniform(0, 24))

        if self.videos_per_channel is not None:
            n = self.videos_per_channel
        else:
            n = int(rng.poisson(uploads_per_week * span_weeks))
        n = min(n, 1 << 22)
        vrng = np.random.default_rng([self.seed, index, 2])
        days = np.sort(vrng.uniform(first_upload_ts / _DAY, end_ts / _DAY, n))
        day_floor = np.floor(days)
        hours = np.clip(vrng.normal(hour, 1.5, n) % 24, 0, 23.99)
        pub_ts = np.round(day_floor * _DAY + hours * 3600.0)
        pub_ts = np.minimum(pub_ts, end_ts - 1)
        order = np.argsort(pub_ts, kind="stable")
        pub_ts = pub_ts[order]
        fmt_draw = vrng.random(n)
        fmt = np.where(
            fmt_draw < live_share,
            FORMAT_LIVE,
            np.where(fmt_draw < live_share + shorts_share, FORMAT_SHORT, FORMAT_LONG),
        ).astype(np.int8)
        long_len = np.clip(vrng.lognormal(math.log(720), 0.8, n), 181, 6 * 3600)
        very_long = vrng.random(n) < 0.005
        long_len = np.where(very_long, vrng.uniform(86_400, 2 * 86_400, n), long_len)
        short_len = vrng.integers(8, 181, n)
        duration = np.where(fmt == FORMAT_SHORT, short_len, np.where(fmt == FORMAT_LIVE, 0, long_len))
        duration = np.round(duration).astype(np.int64)
        question = vrng.random(n) < question_share
        breakout = vrng.random(n) < 0.012
        if n >= 40 and not breakout.any():
            breakout[int(vrng.integers(n))] = True
        years = (pub_ts - _ts(self.start)) / (365.25 * _DAY)
        fmt_mult = np.where(fmt == FORMAT_SHORT, shorts_mult, np.where(fmt == FORMAT_LIVE, 0.5, 1.0))
        final = (
            median_views
            * fmt_mult
            * np.exp(growth * years)
            * np.where(question, title_lift, 1.0)
            * np.where(breakout, BREAKOUT_MULTIPLIER, 1.0)
            * vrng.lognormal(0.0, 0.5, n)
        )
        tau = tau_days * vrng.lognormal(0.0, 0.3, n) * np.where(fmt == FORMAT_LONG, 1.0, 0.5)
        bumps = vrng.exponential(1.0, (n, _BUMPS)) * tau[:, None] * 1.5
        like_ratio = np.clip(vrng.normal(0.035, 0.012, n), 0.002, 0.2)
        comment_ratio = np.clip(vrng.normal(0.003, 0.0015, n), 0.0001, 0.05)
        likes_hidden = vrng.random(n) < likes_hidden_share
        comments_disabled = vrng.random(n) < comments_disabled_share
        removed = vrng.random(n) < 0.025
        removed_ts = np.where(removed, pub_ts + vrng.exponential(200, n) * _DAY + 3600, np.inf)

        trng = np.random.default_rng([self.seed, index, 3])
        video_ids = tuple(ids.video_id(self.seed, index, i) for i in range(n))
        draws = trng.random((n, 10)).tolist()
        tag_order = np.argsort(trng.random((n, len(words))), axis=1).tolist()
        tag_counts = np.where(trng.random(n) < 0.1, 0, trng.integers(0, 13, n)).tolist()
        pub_years = [_dt(float(ts)).year for ts in pub_ts]
        question_flags = question.tolist()
        titles = [_title(draws[i], words, question_flags[i], pub_years[i]) for i in range(n)]
        tags = [
            (topic, *(words[j] for j in order[:count])) if count else ()
            for order, count in zip(tag_order, tag_counts, strict=True)
        ]
        breakout_ids = tuple(video_ids[i] for i in np.flatnonzero(breakout))

        truth = ChannelTruth(
            channel_id=cid,
            channel_index=index,
            title=title,
            handle=handle,
            published_at=_dt(created_ts),
            uploads_per_week=round(n / span_weeks, 4) if span_weeks > 0 else 0.0,
            median_views=round(median_views, 3),
            view_tau_days=round(tau_days, 4),
            shorts_share=shorts_share,
            shorts_view_multiplier=round(shorts_mult, 4),
            live_share=live_share,
            weekday_multipliers=tuple(float(w) for w in weekday),
            growth_per_year=round(growth, 4),
            trend_break_date=break_date,
            trend_break_size=round(break_size, 4),
            title_feature="question_mark",
            title_lift=title_lift,
            breakout_video_ids=breakout_ids,
            breakout_multiplier=BREAKOUT_MULTIPLIER,
            hidden_subscriber_count=hidden_subs,
            subscribers_at_start=int(subs_base),
            publish_hour_utc=round(hour, 3),
            comments_disabled_share=comments_disabled_share,
            likes_hidden_share=likes_hidden_share,
        )
        week_cum = np.concatenate([[0.0], np.cumsum(weekday)])
        static = _ChannelStatic(
            index=index,
            channel_id=cid,
            title=title,
            description=f"{title}: {topic} videos every week. Business enquiries: hello@{name}.example",
            handle=handle,
            username=username,
            created_ts=created_ts,
            country=country,
            language=language,
            topic_category=topic_cat,
            keywords=" ".join([topic, *words[:4]]),
            truth=truth,
            weekday=weekday,
            week_cum=week_cum,
            subs_base=subs_base,
            growth=growth,
            break_ts=break_ts,
            break_size=break_size,
            video_ids=video_ids,
            titles=tuple(titles),
            tags=tuple(tags),
            pub_ts=pub_ts,
            duration=duration,
            fmt=fmt,
            final=final,
            tau=tau,
            bumps=bumps,
            like_ratio=like_ratio,
            comment_ratio=comment_ratio,
            likes_hidden=likes_hidden,
            comments_disabled=comments_disabled,
            removed_ts=removed_ts,
            noise_key=(np.arange(n, dtype=np.uint64) + np.uint64((self.seed * 1_000_003 + index) << 24)),
            pub_eff=_effective_days(pub_ts, week_cum, weekday),
            rate_change_bases=np.zeros((0, n)),
            era_multipliers=np.ones((1, n)),
            published_iso=tuple(
                s + "Z" for s in np.datetime_as_string(pub_ts.astype("datetime64[s]"), unit="s").tolist()
            ),
            duration_iso=tuple(format_iso_duration(d) for d in duration.tolist()),
            duration_list=tuple(duration.tolist()),
            fmt_list=tuple(fmt.tolist()),
        )
        bases, multipliers = _rate_eras(static)
        object.__setattr__(static, "rate_change_bases", bases)
        object.__setattr__(static, "era_multipliers", multipliers)
        return static

    # ---- observation --------------------------------------------------------------------

    def observe(self, at: datetime) -> WorldObservation:
        """The world as the API shows it at ``at`` (a pure function of seed and ``at``)."""
        return WorldObservation(self, at)

    def _observed(self, index: int, at_ts: float) -> _Observed:
        key = (index, at_ts)
        cached = self._observations.get(key)
        if cached is not None:
            return cached
        static = self._static(index)
        built = _observe_channel(static, at_ts, self.start)
        with self._lock:
            self._observations[key] = built
            while len(self._observations) > _CACHE_OBSERVATIONS:
                self._observations.popitem(last=False)
        return built

    def video_table(self, channel: int | str) -> pd.DataFrame:
        """Static facts of every video the channel will ever publish, oldest first (row = position).

        Columns: video_id, channel_id, title, published_at, duration_seconds (NaN for live),
        video_format, tags ("|"-joined), tag_count, category_id. Cached per channel; do not mutate.
        """
        index = self._as_index(channel)
        cached = self._tables.get(index)
        if cached is None:
            cached = _video_table(self._static(index))
            with self._lock:
                self._tables[index] = cached
                while len(self._tables) > _CACHE_TABLES:
                    self._tables.pop(next(iter(self._tables)))
        return cached

    def channel_daily_views(self, channel: int | str, first: date, last: date) -> pd.Series:
        """Views the channel gained on each UTC day ``first..last`` (index: dates, name: views).

        This is the daily series behind the channel's total view count: it carries the weekly
        season, the trend break and the methodology steps.
        """
        static = self._static(self._as_index(channel))
        day_list = pd.date_range(first, last + timedelta(days=1), freq="D", tz=UTC)
        totals = np.array([_total_views(static, float(ts.timestamp())) for ts in day_list], dtype=np.float64)
        gained = np.diff(totals)
        index = pd.DatetimeIndex(day_list[:-1]).date
        return pd.Series(np.round(gained).astype(np.int64), index=pd.Index(index, name="date"), name="views")


@dataclass(frozen=True)
class _TableFields:
    video_ids: list[str]
    channel_id: str
    titles: list[str]
    pub_ts: npt.NDArray[np.float64]
    duration: npt.NDArray[np.int64]
    fmt: list[int]
    tags: list[tuple[str, ...]]
    category_id: str


_EMPTY_STATIC_FIELDS = _TableFields([], "", [], np.zeros(0), np.zeros(0, dtype=np.int64), [], [], "")


def _video_table_from(fields: _TableFields) -> pd.DataFrame:
    n = len(fields.video_ids)
    duration = fields.duration.astype(np.float64)
    return pd.DataFrame(
        {
            "video_id": pd.array(fields.video_ids, dtype="str"),
            "channel_id": pd.array([fields.channel_id] * n, dtype="str"),
            "title": pd.array(fields.titles, dtype="str"),
            "published_at": pd.to_datetime(fields.pub_ts.astype(np.int64), unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "duration_seconds": np.where(duration > 0, duration, np.nan),
            "video_format": pd.array([FORMAT_NAMES[f] for f in fields.fmt], dtype="str"),
            "tags": pd.array(["|".join(t) for t in fields.tags], dtype="str"),
            "tag_count": np.array([len(t) for t in fields.tags], dtype=np.int64),
            "category_id": pd.array([fields.category_id] * n, dtype="str"),
        }
    )


def _video_table(static: _ChannelStatic) -> pd.DataFrame:
    return _video_table_from(
        _TableFields(
            video_ids=list(static.video_ids),
            channel_id=static.channel_id,
            titles=list(static.titles),
            pub_ts=static.pub_ts,
            duration=static.duration,
            fmt=list(static.fmt_list),
            tags=list(static.tags),
            category_id=static.topic_category,
        )
    )


def _video_description(title: str, static: _ChannelStatic) -> str:
    return f"{title}\n\nMore from {static.title}: {static.handle}\n#{static.keywords.split()[0]}"


def _thread_plan(static: _ChannelStatic, i: int) -> tuple[int, float]:
    """(threads the video ends up with, their arrival time constant in seconds)."""
    # Threads follow the audience a video was published to: a trend break before it scales them.
    audience = static.break_size if static.pub_ts[i] >= static.break_ts else 1.0
    final_threads = min(
        int(static.final[i] * audience * static.comment_ratio[i] * TOP_LEVEL_SHARE), MAX_THREADS_PER_VIDEO
    )
    return final_threads, float(static.tau[i]) * 1.5 * _DAY


def _threads_visible(static: _ChannelStatic, i: int, at_ts: float) -> int:
    final_threads, tau = _thread_plan(static, i)
    age = at_ts - float(static.pub_ts[i])
    if age <= 0 or final_threads == 0:
        return 0
    return min(int((final_threads + 1) * (1.0 - math.exp(-age / tau))), final_threads)


def _thread_time(static: _ChannelStatic, i: int, k: int) -> float:
    """When comment ``k`` arrived: the inverse of the arrival curve, so ``k < visible(t)`` <=> time <= t."""
    final_threads, tau = _thread_plan(static, i)
    return float(static.pub_ts[i]) + math.ceil(-tau * math.log(1.0 - (k + 1) / (final_threads + 1)))


def _reply_total(key: int, k: int) -> int:
    draw = ids.unit_hash(key, k, 10)
    return 0 if draw < 0.7 else 1 + int(-math.log(ids.unit_hash(key, k, 11) + 1e-12) * 3)


def _reply_spacing(key: int, k: int) -> float:
    return 600.0 + ids.unit_hash(key, k, 12) * 6 * 3600.0


def _replies_visible(key: int, k: int, published: float, at_ts: float) -> int:
    total = _reply_total(key, k)
    if total == 0:
        return 0
    return max(0, min(total, int((at_ts - published) // _reply_spacing(key, k))))


def _author(seed: int, key: int, k: int, j: int) -> str:
    draw = ids.unit_hash(seed, key, k, j, 13)
    a = _NAME_A[int(draw * len(_NAME_A))]
    b = _NAME_B[int(ids.unit_hash(seed, key, k, j, 14) * len(_NAME_B))]
    return f"@{a}{b}-{int(draw * 1e6) % 9973}"


def _comment_text(key: int, k: int, static: _ChannelStatic) -> str:
    template = _COMMENTS[int(ids.unit_hash(key, k, 15) * len(_COMMENTS))]
    words = static.keywords.split()
    noun = words[1 + int(ids.unit_hash(key, k, 16) * (len(words) - 1))] if len(words) > 1 else "this"
    return template.format(
        noun=noun,
        year=2026,
        minute=int(ids.unit_hash(key, k, 17) * 12),
        second=int(ids.unit_hash(key, k, 18) * 60),
    )


def _split_name(name: str) -> list[str]:
    for word in _NAME_B:
        if name.endswith(word):
            return [name[: -len(word)], word]
    return [name]


def _effective_days(
    ts: npt.NDArray[np.float64], week_cum: npt.NDArray[np.float64], weekday: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Calendar time in days, stretched so each weekday counts its multiplier (the weekly season)."""
    days = (ts - _WEEK_ANCHOR.timestamp()) / _DAY
    weeks = np.floor(days / 7.0)
    rest = days - weeks * 7.0
    day_in_week = np.clip(np.floor(rest).astype(np.int64), 0, 6)
    frac = rest - day_in_week
    return np.asarray(weeks * 7.0 + week_cum[day_in_week] + frac * weekday[day_in_week], dtype=np.float64)


def _base_views(static: _ChannelStatic, at_ts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Views before any methodology change, at per-video instants (0 before publishing)."""
    if static.pub_ts.size == 0:
        return np.zeros(0)
    age = np.maximum(_effective_days(at_ts, static.week_cum, static.weekday) - static.pub_eff, 0.0)
    smooth = 1.0 - np.exp(-age / static.tau)
    evergreen = 1.0 - np.exp(-age / _EVERGREEN_TAU_DAYS)
    steps = (static.bumps <= age[:, None]).mean(axis=1)
    return np.asarray(static.final * (0.7 * smooth + 0.1 * steps + 0.2 * evergreen), dtype=np.float64)


def _rate_eras(static: _ChannelStatic) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Base views at each rate change and the multiplier of each era between them, per video.

    The rate changes are the methodology changes (all videos, or Shorts only) and the channel's
    trend break (all videos); each multiplies the views accrued after it, so they compound.
    """
    n = static.pub_ts.size
    everyone = np.ones(n, dtype=bool)
    changes = [
        (_ts(SHORTS_METHODOLOGY_CHANGE), SHORTS_METHODOLOGY_MULTIPLIER, static.fmt == FORMAT_SHORT),
        (_ts(ALL_METHODOLOGY_CHANGE), ALL_METHODOLOGY_MULTIPLIER, everyone),
    ]
    if math.isfinite(static.break_ts):
        changes.append((static.break_ts, static.break_size, everyone))
    changes.sort(key=lambda change: change[0])
    bases = np.array([_base_views(static, np.full(n, when)) for when, _, _ in changes]).reshape(
        len(changes), n
    )
    multipliers = [np.ones(n)]
    for _, multiplier, affected in changes:
        multipliers.append(multipliers[-1] * np.where(affected, multiplier, 1.0))
    return bases, np.array(multipliers)


def _counted_views(static: _ChannelStatic, at_ts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Views as counted: the views accrued in each era between rate changes times its multiplier.

    Base views only grow with time, so the views accrued before a change are the base at it.
    """
    base = _base_views(static, at_ts)
    counted = np.zeros_like(base)
    lower = np.zeros_like(base)
    for era, multiplier in enumerate(static.era_multipliers):
        upper = static.rate_change_bases[era] if era < len(static.rate_change_bases) else base
        counted += multiplier * np.maximum(np.minimum(base, upper) - lower, 0.0)
        lower = upper
    return np.asarray(counted, dtype=np.float64)


def _total_views(static: _ChannelStatic, at_ts: float) -> float:
    """Channel view count: every published video, frozen at removal for removed ones."""
    if static.pub_ts.size == 0:
        return 0.0
    when = np.minimum(np.full(static.pub_ts.size, at_ts), static.removed_ts)
    views = np.floor(_counted_views(static, when))
    return float(views[static.pub_ts <= at_ts].sum())


def _subscribers(static: _ChannelStatic, at_ts: float, start: datetime) -> int:
    age_days = max(at_ts - static.created_ts, 0.0) / _DAY
    years = (at_ts - _ts(start)) / (365.25 * _DAY)
    level = static.subs_base * (0.3 + 0.7 * (1.0 - math.exp(-age_days / 400.0)))
    level *= math.exp(static.growth * 0.6 * years)
    if at_ts >= static.break_ts:
        level *= math.sqrt(static.break_size)
    return int(level)


def _observe_channel(static: _ChannelStatic, at_ts: float, start: datetime) -> _Observed:
    n = static.pub_ts.size
    published = static.pub_ts <= at_ts
    visible = published & (static.removed_ts > at_ts)
    views = np.floor(_counted_views(static, np.full(n, at_ts))).astype(np.int64)
    views = np.where(published, views, 0)
    day = np.uint64(int(at_ts // _DAY))
    with np.errstate(over="ignore"):
        like_noise = _mix(static.noise_key * np.uint64(0x2545F4914F6CDD1D) ^ day)
        comment_noise = _mix(static.noise_key * np.uint64(0x9E3779B97F4A7C15) ^ (day + np.uint64(77)))
    likes = np.floor(views * static.like_ratio * (0.95 + 0.1 * like_noise)).astype(np.int64)
    comments = np.floor(views * static.comment_ratio * (0.95 + 0.1 * comment_noise)).astype(np.int64)
    likes = np.where(static.likes_hidden, -1, likes)
    comments = np.where(static.comments_disabled, -1, comments)
    visible_idx = np.flatnonzero(visible)[::-1].astype(np.int64)
    newest_first = {
        "all": visible_idx,
        "short": visible_idx[static.fmt[visible_idx] == FORMAT_SHORT],
        "long": visible_idx[static.fmt[visible_idx] == FORMAT_LONG],
        "live": visible_idx[static.fmt[visible_idx] == FORMAT_LIVE],
    }
    return _Observed(
        views=views,
        likes=likes,
        comments=comments,
        visible=visible,
        newest_first=newest_first,
        total_views=int(_total_views(static, at_ts)),
        subscribers=_subscribers(static, at_ts, start),
    )


class WorldObservation:
    """The world at one instant: what ``channels.list``/``videos.list``/playlists would show."""

    def __init__(self, world: World, at: datetime) -> None:
        self.world = world
        self.at = at.astimezone(UTC)
        self._at_ts = float(round(_ts(at)))

    def channel(self, channel_id: str) -> ChannelState | None:
        """The channel, or None when it is unknown or not created yet."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return None
        static = self.world._static(index)
        if static.created_ts > self._at_ts:
            return None
        observed = self.world._observed(index, self._at_ts)
        subs = observed.subscribers
        hidden = static.truth.hidden_subscriber_count
        return ChannelState(
            channel_id=static.channel_id,
            channel_index=index,
            title=static.title,
            description=static.description,
            handle=static.handle,
            custom_url=static.handle.lower(),
            username=static.username,
            published_at=_dt(static.created_ts),
            country=static.country,
            default_language=static.language,
            keywords=static.keywords,
            topic_category_id=static.topic_category,
            uploads_playlist_id="UU" + static.channel_id[2:],
            subscriber_count=None if hidden else round_subscribers(subs),
            hidden_subscriber_count=hidden,
            view_count=observed.total_views,
            video_count=int(observed.newest_first["all"].size),
        )

    def uploads(self, channel_id: str, kind: PlaylistKind = "all") -> list[str]:
        """Visible video ids of a channel's uploads playlist (or a sibling), newest first.

        Like YouTube, the full uploads playlist stops at 20,000 items; removed videos are absent.
        """
        index = self.world.channel_index(channel_id)
        if index is None:
            return []
        static = self.world._static(index)
        order = self.world._observed(index, self._at_ts).newest_first[kind]
        if kind == "all":
            order = order[:UPLOADS_PLAYLIST_LIMIT]
        video_ids = static.video_ids
        return [video_ids[i] for i in order.tolist()]

    def uploads_page(self, channel_id: str, kind: PlaylistKind, offset: int, limit: int) -> list[VideoState]:
        """One page of :meth:`uploads`, as video states (what ``playlistItems.list`` pages through)."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return []
        observed = self.world._observed(index, self._at_ts)
        order = observed.newest_first[kind]
        if kind == "all":
            order = order[:UPLOADS_PLAYLIST_LIMIT]
        return [self._video_state(index, i, observed) for i in order[offset : offset + limit].tolist()]

    def uploads_count(self, channel_id: str, kind: PlaylistKind = "all") -> int:
        """The number of uploads of ``channel_id`` visible at this observation (all, Shorts or long)."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return 0
        size = int(self.world._observed(index, self._at_ts).newest_first[kind].size)
        return min(size, UPLOADS_PLAYLIST_LIMIT) if kind == "all" else size

    def video(self, video_id: str) -> VideoState | None:
        """The video if it is published and public at this instant, else None."""
        found = self.world.resolve_video(video_id)
        if found is None:
            return None
        channel_index, video_index = found
        observed = self.world._observed(channel_index, self._at_ts)
        if not observed.visible_list[video_index]:
            return None
        return self._video_state(channel_index, video_index, observed)

    def videos(self, video_ids: list[str]) -> list[VideoState]:
        """The visible ones among ``video_ids``, in request order (missing ids are simply absent)."""
        out = []
        for video_id in video_ids:
            state = self.video(video_id)
            if state is not None:
                out.append(state)
        return out

    def _video_state(self, channel_index: int, i: int, observed: _Observed) -> VideoState:
        static = self.world._static(channel_index)
        likes = observed.likes_list[i]
        comments = observed.comments_list[i]
        seconds = static.duration_list[i]
        title = static.titles[i]
        fmt = static.fmt_list[i]
        published_iso = static.published_iso[i]
        return VideoState(
            video_id=static.video_ids[i],
            channel_id=static.channel_id,
            channel_title=static.title,
            title=title,
            description=_video_description(title, static),
            published_at=datetime.fromisoformat(published_iso),
            published_iso=published_iso,
            duration_iso=static.duration_iso[i],
            duration_seconds=seconds or None,
            video_format=FORMAT_NAMES[fmt],
            tags=static.tags[i],
            category_id=static.topic_category,
            default_language=static.language,
            view_count=observed.views_list[i],
            like_count=None if likes < 0 else likes,
            comment_count=None if comments < 0 else comments,
            comments_disabled=comments < 0,
            is_live=fmt == FORMAT_LIVE,
        )

    # ---- comments -----------------------------------------------------------------------

    def thread_count(self, video_id: str) -> int:
        """Top-level comments on a visible video with comments enabled (0 otherwise)."""
        found = self.world.resolve_video(video_id)
        if found is None:
            return 0
        static = self.world._static(found[0])
        i = found[1]
        if static.comments_disabled[i] or not self.world._observed(found[0], self._at_ts).visible[i]:
            return 0
        return _threads_visible(static, i, self._at_ts)

    def comment_threads(self, video_id: str, offset: int = 0, limit: int = 20) -> list[CommentState]:
        """Top-level comments, newest first (``offset``/``limit`` page through them)."""
        found = self.world.resolve_video(video_id)
        total = self.thread_count(video_id)
        if found is None or total == 0:
            return []
        channel_index, video_index = found
        static = self.world._static(channel_index)
        numbers = range(total - 1 - offset, max(total - 1 - offset - limit, -1), -1)
        return [self._thread(static, video_index, k) for k in numbers]

    def thread(self, thread_id: str) -> CommentState | None:
        """A top-level comment by id, if its video and the comment are visible now."""
        found = ids.decode_thread_id(self.world.seed, thread_id)
        if found is None or found[0] >= self.world.n_channels:
            return None
        channel_index, video_index, k = found
        static = self.world._static(channel_index)
        if video_index >= len(static.video_ids):
            return None
        if k >= self.thread_count(static.video_ids[video_index]):
            return None
        return self._thread(static, video_index, k)

    def replies(self, thread_id: str, offset: int = 0, limit: int = 20) -> tuple[list[CommentState], int]:
        """Replies to a thread, oldest first, and how many there are now."""
        parent = self.thread(thread_id)
        if parent is None:
            return [], 0
        found = ids.decode_thread_id(self.world.seed, thread_id)
        assert found is not None
        static = self.world._static(found[0])
        total = parent.total_reply_count
        out = [
            self._reply(static, found[1], found[2], parent, j)
            for j in range(offset, min(offset + limit, total))
        ]
        return out, total

    def _thread(self, static: _ChannelStatic, i: int, k: int) -> CommentState:
        seed = self.world.seed
        published = _thread_time(static, i, k)
        key = int(static.noise_key[i])
        text = _comment_text(key, k, static)
        return CommentState(
            comment_id=ids.thread_id(seed, static.index, i, k),
            video_id=static.video_ids[i],
            channel_id=static.channel_id,
            parent_id=None,
            author_name=_author(seed, key, k, 0),
            author_channel_id=ids.channel_id(seed ^ 0xC0FFEE, int(ids.unit_hash(key, k, 5) * 4_000_000)),
            text=text,
            like_count=int(ids.unit_hash(key, k, 6) ** 4 * 300),
            published_at=_dt(published),
            total_reply_count=_replies_visible(key, k, published, self._at_ts),
        )

    def _reply(self, static: _ChannelStatic, i: int, k: int, parent: CommentState, j: int) -> CommentState:
        seed = self.world.seed
        key = int(static.noise_key[i])
        spacing = _reply_spacing(key, k)
        return CommentState(
            comment_id=ids.reply_id(seed, parent.comment_id, j),
            video_id=parent.video_id,
            channel_id=parent.channel_id,
            parent_id=parent.comment_id,
            author_name=_author(seed, key, k, j + 1),
            author_channel_id=ids.channel_id(seed ^ 0xC0FFEE, int(ids.unit_hash(key, k, j, 7) * 4_000_000)),
            text=_REPLIES[int(ids.unit_hash(key, k, j, 8) * len(_REPLIES))],
            like_count=int(ids.unit_hash(key, k, j, 9) ** 6 * 50),
            published_at=_dt(parent.published_at.timestamp() + (j + 1) * spacing),
            total_reply_count=0,
        )

    # ---- search -------------------------------------------------------------------------

    def search_channel_videos(
        self,
        channel_id: str,
        *,
        published_after: datetime | None = None,
        published_before: datetime | None = None,
    ) -> list[str]:
        """What ``search.list?channelId=&type=video&order=date`` finds: newest first, at most 500."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return []
        static = self.world._static(index)
        order = self.world._observed(index, self._at_ts).newest_first["all"]
        pub = static.pub_ts[order]
        keep = np.ones(order.size, dtype=bool)
        if published_after is not None:
            keep &= pub >= _ts(published_after)
        if published_before is not None:
            keep &= pub < _ts(published_before)
        return [static.video_ids[i] for i in order[keep][:SEARCH_RESULT_LIMIT].tolist()]

    def search_channels(self, query: str, limit: int = SEARCH_RESULT_LIMIT) -> list[str]:
        """Channels whose title or handle contains ``query`` (case and spaces ignored)."""
        wanted = "".join(query.lower().split()).lstrip("@")
        if not wanted:
            return []
        found = []
        for index in range(self.world.n_channels):
            handle = self.world.handle_of(index)[1:].lower()
            if wanted in handle or wanted in handle.rstrip("0123456789"):
                if self.world._static(index).created_ts <= self._at_ts:
                    found.append(self.world.channel_id(index))
                if len(found) >= limit:
                    break
        return found

    def channel_video_states(self, channel_id: str, *, include_removed: bool = False) -> list[VideoState]:
        """Every video published by now, oldest first (removed ones only when asked)."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return []
        static = self.world._static(index)
        observed = self.world._observed(index, self._at_ts)
        published = np.flatnonzero(static.pub_ts <= self._at_ts)
        return [
            self._video_state(index, int(i), observed)
            for i in published
            if include_removed or observed.visible[int(i)]
        ]

    def removed_video_ids(self, channel_id: str) -> list[str]:
        """Videos published and since made private or deleted."""
        index = self.world.channel_index(channel_id)
        if index is None:
            return []
        static = self.world._static(index)
        mask = (static.pub_ts <= self._at_ts) & (static.removed_ts <= self._at_ts)
        return [static.video_ids[int(i)] for i in np.flatnonzero(mask)]

    def uploads_stats(self, channel_id: str) -> UploadsStats | None:
        """Stats of the videos the uploads playlist lists now, as arrays (None: no such channel yet).

        ``positions`` index :meth:`World.video_table`; hidden/disabled counts are -1.
        """
        index = self.world.channel_index(channel_id)
        if index is None or self.world._static(index).created_ts > self._at_ts:
            return None
        observed = self.world._observed(index, self._at_ts)
        order = observed.newest_first["all"][:UPLOADS_PLAYLIST_LIMIT]
        return UploadsStats(
            positions=order,
            views=observed.views[order],
            likes=observed.likes[order],
            comments=observed.comments[order],
        )

    def uploads_frame(self, channel_id: str) -> pd.DataFrame:
        """The channel's visible uploads with their stats, as a collector would store them.

        Exactly the videos the uploads playlist lists (newest first, at most 20,000), with the
        columns of :data:`tubescope.domain.frames.VIDEO_COLUMNS` except ``is_deleted``.
        """
        stats = self.uploads_stats(channel_id)
        table = (
            self.world.video_table(channel_id) if self.world.channel_index(channel_id) is not None else None
        )
        if stats is None or table is None:
            empty = _video_table_from(_EMPTY_STATIC_FIELDS)
            return empty.assign(
                view_count=pd.array([], dtype="Int64"),
                like_count=pd.array([], dtype="Int64"),
                comment_count=pd.array([], dtype="Int64"),
            )
        frame = table.take(stats.positions).reset_index(drop=True)
        frame["view_count"] = pd.array(stats.views, dtype="Int64")
        frame["like_count"] = _nullable(stats.likes)
        frame["comment_count"] = _nullable(stats.comments)
        return frame


@dataclass(frozen=True)
class UploadsStats:
    """What one observation shows of a channel's uploads (see :meth:`WorldObservation.uploads_stats`)."""

    positions: npt.NDArray[np.int64]
    views: npt.NDArray[np.int64]
    likes: npt.NDArray[np.int64]
    comments: npt.NDArray[np.int64]


def _nullable(values: npt.NDArray[np.int64]) -> pd.arrays.IntegerArray:
    """Int64 with <NA> where the world hides the count (stored as -1)."""
    hidden = values < 0
    return pd.arrays.IntegerArray(np.where(hidden, 0, values).astype(np.int64), hidden)
