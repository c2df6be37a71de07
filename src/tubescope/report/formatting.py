"""Numbers as a reader sees them; shared by the HTML page, the recommendations and the terminal."""

from __future__ import annotations

import math
from datetime import datetime

from tubescope.report.model import WEEKDAY_NAMES, Kpi, Unit


def number(value: float | None, unit: Unit | str = Unit.COUNT) -> str:
    """``1234567`` -> ``1.23M``; fractions shown as percentages; None/NaN -> an em dash."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == Unit.PERCENT:
        return f"{value * 100:.1f}%"
    if unit == Unit.RATIO:
        return f"{value:.2f}x"
    if unit == Unit.PER_WEEK:
        return f"{value:.1f}/wk"
    if unit == Unit.DAYS:
        return f"{value:.1f} d"
    if unit == Unit.SECONDS:
        return f"{value / 60:.1f} min" if abs(value) >= 60 else f"{value:.0f} s"
    return compact(value)


def compact(value: float) -> str:
    """A count in compact form (1.2K, 3.4M)."""
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}"


def delta(kpi: Kpi) -> str:
    """``+12.0%`` for counts; percentage points for rates; an em dash when there is no baseline."""
    change = kpi.delta
    if change is None:
        return "—"
    if kpi.unit == Unit.PERCENT:
        return f"{change * 100:+.1f} pp"
    ratio = kpi.delta_ratio
    if ratio is None:
        return f"{'+' if change >= 0 else '−'}{number(abs(change), kpi.unit)}"
    return f"{ratio * 100:+.1f}%"


def delta_tone(kpi: Kpi) -> str:
    """``good``, ``bad`` or ``flat``: whether the change is welcome given the metric's direction."""
    change = kpi.delta
    if change is None or change == 0:
        return "flat"
    return "good" if (change > 0) == kpi.higher_is_better else "bad"


def ratio(value: float) -> str:
    """A ratio with an "x" (1.25x)."""
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def interval(low: float, high: float, level: float = 0.95, *, as_ratio: bool = True) -> str:
    """A confidence interval at ``level``, as ratios or compact counts."""
    shown = (ratio(low).rstrip("x"), ratio(high).rstrip("x")) if as_ratio else (compact(low), compact(high))
    return f"{level * 100:.0f}% CI {shown[0]}–{shown[1]}"


def p_value(value: float | None) -> str:
    """A p-value as "p=0.012", "p<0.001" or "p=—" when missing."""
    if value is None or not math.isfinite(value):
        return "p=—"
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def slot(weekday: int | None, hour: int | None, timezone: str = "UTC", hours: int = 1) -> str:
    """``Tue 17:00 UTC``, ``Tue``, ``15:00–18:00 UTC``; an hour band when ``hours`` > 1."""
    day_part = WEEKDAY_NAMES[weekday] if weekday is not None else ""
    if hour is None:
        return day_part or "any time"
    hour_part = f"{hour:02d}:00" if hours <= 1 else f"{hour:02d}:00–{(hour + hours) % 24:02d}:00"
    return f"{day_part} {hour_part} {timezone}".strip()


def day(moment: datetime | None) -> str:
    """The date of ``moment`` as YYYY-MM-DD, or "—"."""
    return moment.strftime("%Y-%m-%d") if moment is not None else "—"


def format_name(video_format: str | None) -> str:
    """The name a reader knows a video format by."""
    names = {"short": "Shorts", "long": "Long-form videos", "live": "Live streams", None: "Videos"}
    return names.get(video_format, video_format or "Videos")
