"""ISO-8601 durations as YouTube writes them, and the protobuf form of ``videos.batchGetStats``."""

from __future__ import annotations

import math
import re

_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_PROTOBUF = re.compile(r"^(?P<seconds>\d+(?:\.\d+)?)s$")
_UNIT_SECONDS = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
_UNITS_IN_ORDER = tuple(
    _UNIT_SECONDS[name] for name, _ in sorted(_ISO.groupindex.items(), key=lambda g: g[1])
)


def parse_duration_seconds(text: str | None) -> int | None:
    """Seconds in ``text``, or None when unknown.

    Live and upcoming videos report ``P0D`` or ``PT0S``: a zero length means "not known yet", so it
    maps to None rather than 0. Malformed text is also None: a duration is never worth failing a
    whole batch for, and the raw value is kept beside it.
    """
    if not text:
        return None
    text = text.strip()
    proto = _PROTOBUF.match(text)
    if proto:
        total = float(proto.group("seconds"))
    else:
        match = _ISO.match(text)
        if not match or text in {"P", "PT"} or text.endswith("T"):
            return None
        # The units in order, added one by one (a collector parses one per stored video: this
        # is several times cheaper than summing over groupdict()).
        total = 0.0
        for value, unit in zip(match.groups(), _UNITS_IN_ORDER, strict=True):
            if value:
                total += float(value) * unit
    if not math.isfinite(total):
        return None  # thousands of digits: not a length, and round() would overflow
    seconds = round(total)
    return seconds if seconds > 0 else None


def format_duration(seconds: int) -> str:
    """The ISO-8601 form YouTube uses (no weeks, days only past 24 hours)."""
    if seconds <= 0:
        return "P0D"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return out + ("T" + time if time else "")
