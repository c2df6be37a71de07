"""Per-video features from titles, tags, timing and format, shared by analysis and predict.

Also holds the small helpers every analysis module uses: input checks that fail with typed
errors, and the conversion of results to JSON-safe dictionaries.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from tubescope.errors import ConfigError, DataQualityError

FEATURE_VERSION = 1
"""Bumped whenever a feature's definition changes, so stored models can refuse stale inputs."""

NUMERIC_FEATURES: tuple[str, ...] = (
    "duration_seconds",
    "title_length",
    "title_word_count",
    "title_caps_ratio",
    "title_has_question",
    "title_digit_count",
    "title_emoji_count",
    "tag_count",
    "publish_hour",
    "publish_weekday",
    "is_short",
    "is_live",
)
"""Numeric feature columns of :func:`video_features`, in a stable order."""

FORMATS: tuple[str, ...] = ("short", "long", "live")

# Pictographs, dingbats, flags, keycaps and the joiners/selectors that glue emoji sequences.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\U00002b00-\U00002bff"
    "\U00002300-\U000023ff\U00003030\U0000303d\U00003297\U00003299]"
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclasses.dataclass(frozen=True)
class TitleFeatures:
    """What a title looks like, measured on its characters."""

    length: int
    word_count: int
    caps_ratio: float
    """Upper-case share of cased letters (0 when the title has no cased letters, e.g. Hindi)."""
    has_question: bool
    digit_count: int
    emoji_count: int


def title_features(title: str) -> TitleFeatures:
    """The features of a video title that the analyses and models use."""
    return TitleFeatures(*_title_counts(title or ""))


def _title_counts(text: str) -> tuple[int, int, float, bool, int, int]:
    """:class:`TitleFeatures`' fields in order, as a plain tuple (building 10k frozen dataclasses
    cost more than measuring the titles)."""
    # map() over the str methods runs the per-character loop in C (a character is never both cases).
    upper = sum(map(str.isupper, text))
    cased = upper + sum(map(str.islower, text))
    emoji = len(_EMOJI.findall(text))
    return (
        len(text),
        len(_WORD.findall(_EMOJI.sub(" ", text) if emoji else text)),
        upper / cased if cased else 0.0,
        "?" in text or "？" in text,
        sum(map(str.isdigit, text)),
        emoji,
    )


def video_features(videos: pd.DataFrame) -> pd.DataFrame:
    """One row per video (indexed by ``video_id``) with :data:`NUMERIC_FEATURES` and ``video_format``.

    Publish hour and weekday are in UTC (weekday 0 = Monday). Duration stays NaN when unknown.
    """
    require_columns(videos, "videos", ("video_id", "title", "published_at", "video_format"))
    columns = zip(*[_title_counts(t if isinstance(t, str) else "") for t in videos["title"]], strict=True)
    length, words, caps, question, digits, emoji = (list(c) for c in columns) if len(videos) else ([],) * 6
    published = pd.to_datetime(videos["published_at"], utc=True)
    fmt = videos["video_format"].astype(str).to_numpy()
    if "tag_count" in videos.columns:
        tag_count = pd.to_numeric(videos["tag_count"], errors="coerce").fillna(0).to_numpy(dtype=float)
    else:
        tag_count = np.zeros(len(videos))
    duration = (
        pd.to_numeric(videos["duration_seconds"], errors="coerce").to_numpy(dtype=float)
        if "duration_seconds" in videos.columns
        else np.full(len(videos), np.nan)
    )
    out = pd.DataFrame(
        {
            "duration_seconds": duration,
            "title_length": length,
            "title_word_count": words,
            "title_caps_ratio": caps,
            "title_has_question": [float(q) for q in question],
            "title_digit_count": digits,
            "title_emoji_count": emoji,
            "tag_count": tag_count,
            "publish_hour": published.dt.hour.to_numpy(dtype=float),
            "publish_weekday": published.dt.day_of_week.to_numpy(dtype=float),
            "is_short": (fmt == "short").astype(float),
            "is_live": (fmt == "live").astype(float),
            "video_format": fmt,
        },
        index=pd.Index(videos["video_id"].astype(str).to_numpy(), name="video_id"),
    )
    numeric = list(NUMERIC_FEATURES)
    out[numeric] = out[numeric].astype(float)
    return out


# --- shared helpers -------------------------------------------------------------------------


def require_columns(frame: pd.DataFrame, name: str, columns: Iterable[str]) -> None:
    """Raise :class:`DataQualityError` naming every missing column, before any computation."""
    if not isinstance(frame, pd.DataFrame):
        raise DataQualityError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataQualityError(f"{name} frame lacks required column(s): {', '.join(missing)}")


def require_aware(now: datetime, name: str = "now") -> pd.Timestamp:
    """The clock as a UTC timestamp; a naive datetime is refused because it is ambiguous."""
    if not isinstance(now, datetime):
        raise ConfigError(f"{name} must be a datetime, got {type(now).__name__}")
    if now.tzinfo is None or now.tzinfo.utcoffset(now) is None:
        raise ConfigError(f"{name} must be timezone-aware (UTC), got naive {now.isoformat()}")
    return pd.Timestamp(now).tz_convert("UTC")


def as_float_array(values: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Nullable integer columns as float64 with NaN for <NA>."""
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").astype("float64"), dtype=np.float64)


def epoch_ns(values: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """UTC instants as int64 nanoseconds, whatever the datetime unit (pandas 3 often uses us)."""
    stamps = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return np.asarray(stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64), dtype=np.int64)


def id_positions(values: Any, keys: Any) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each id in ``values``, the position of its first occurrence in ``keys``, or -1.

    Ids are compared as strings. Arrow-backed string columns (pandas' default) are matched by
    Arrow's hash kernel, an order of magnitude faster than ``isin``/``map`` over Python strings.
    """
    column, lookup = pd.Series(values), pd.Series(keys)
    if isinstance(column.array, pd.arrays.ArrowStringArray) and isinstance(
        lookup.array, pd.arrays.ArrowStringArray
    ):
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(pa.array(column.array), value_set=pa.array(lookup.array))
        return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)
    first = pd.Series(np.arange(len(lookup)), index=lookup.astype(str).to_numpy())
    first = first[~first.index.duplicated()]
    found_any = first.reindex(column.astype(str).to_numpy())
    return np.asarray(found_any.fillna(-1).to_numpy(), dtype=np.int64)


def latest_rows(frame: pd.DataFrame, key: str, time_column: str = "observed_at") -> pd.DataFrame:
    """Each ``key``'s row with the latest ``time_column``: exactly
    ``frame.sort_values(time_column).drop_duplicates(key, keep="last")`` (same rows, order and
    index), computed on positions so only the kept rows are copied, not every row sorted.

    The permutation is pandas' own sort of the time column alone (the same unstable quicksort
    the frame sort uses), and the keys are compared as factorized codes (missing keys alike).
    """
    order = pd.Series(frame[time_column].array).sort_values().index.to_numpy()
    codes, _ = pd.factorize(frame[key])
    keep = ~pd.Series(codes[order]).duplicated(keep="last").to_numpy()
    return frame.iloc[order[keep]]


_GC_SWITCH = threading.Lock()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one bounded computation (an analysis).

    The analyses allocate hundreds of thousands of short-lived objects, which start collections
    of every generation, and each full one walks every object the imported libraries hold (a
    10k-video analysis ran a hundred collections, 0.1-0.2 s of CPU). Reference counting still
    frees what is not in a cycle at once; cycles wait for the collector, which runs again as
    soon as the pause ends. Only the caller that found the collector on switches it back on,
    so nested or concurrent pauses never leave it off, and a caller that switched it off on
    purpose keeps it off.
    """
    with _GC_SWITCH:
        owner = gc.isenabled()
        if owner:
            gc.disable()
    try:
        yield
    finally:
        if owner:
            gc.enable()


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None (never NaN or infinity)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy: NaN/inf become None, timestamps ISO-8601, numpy scalars Python."""
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is int:  # the common leaves, first
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.reset_index().to_dict(orient="records")]
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    return value if isinstance(value, str) else str(value)


class JsonMixin:
    """``to_dict()`` for frozen result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """The dataclass as a JSON-safe dictionary (NaN and infinity become None)."""
        assert dataclasses.is_dataclass(self)
        return {name: json_safe(getattr(self, name)) for name in _field_names(type(self))}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
