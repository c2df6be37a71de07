"""The ``abtest`` job: compare the views of two groups of a collected channel's videos."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tubescope.analysis.abtest import AbTestOptions, AbTestResult, run_ab_test
from tubescope.analysis.query import parse_query
from tubescope.jobs.common import load_channel_frames, open_for_reading, resolve_stored_channel, utc_now
from tubescope.warehouse.target import WarehouseTarget


def abtest(
    db_path: WarehouseTarget,
    ref: str,
    group_a: str,
    group_b: str | None = None,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    now: datetime | None = None,
) -> AbTestResult:
    """A/B test ``group_a`` against ``group_b`` (default: the channel's other videos).

    The filters are checked before the warehouse is opened, so a typo costs nothing. ``seed``
    makes the bootstrap reproducible; ``now`` is the analysis clock (default: the current time).
    """
    query_a = parse_query(group_a)
    query_b = parse_query(group_b) if group_b is not None else None
    options = AbTestOptions(confidence=confidence)
    with open_for_reading(db_path) as warehouse:
        channel_id = resolve_stored_channel(warehouse, ref)
        frames = load_channel_frames(warehouse, [channel_id])
    return run_ab_test(frames, query_a, query_b, now=now or utc_now(), rng=seed, options=options)


def abtest_summary(result: AbTestResult, *, wide: bool = True) -> RenderableType:
    """Every format compared, the verdict, and the caveats, for a terminal: one wide table, or
    (``wide=False``, for 80 columns) one short two-column table per format."""
    if not wide:
        return _narrow_summary(result)
    level = f"{result.confidence * 100:g}%"
    table = Table(title=f"A: {result.group_a}   vs   B: {result.group_b}", caption=result.metric_description)
    for heading in ("format", "n A", "n B", "median A", "median B", f"lift A/B ({level} CI)", "Welch p"):
        table.add_column(heading, justify="left" if heading == "format" else "right")
    table.add_column("Mann-Whitney p", justify="right")
    table.add_column(f"median ratio ({level} CI)", justify="right")
    table.add_column("power", justify="right")
    table.add_column("detectable lift", justify="right")
    for comparison in result.comparisons:
        a, b, s = comparison.group_a, comparison.group_b, comparison.statistics
        medians = [f"{m:,.0f}" if m is not None else "-" for m in (a.median_views, b.median_views)]
        if s is None:
            table.add_row(
                comparison.stratum, str(a.n), str(b.n), *medians, "too few videos", "", "", "", "", ""
            )
            continue
        median_ci = (
            f"{s.median_ratio:.2f} ({s.median_ratio_ci_low:.2f}-{s.median_ratio_ci_high:.2f})"
            if s.median_ratio is not None
            and s.median_ratio_ci_low is not None
            and s.median_ratio_ci_high is not None
            else "-"
        )
        table.add_row(
            comparison.stratum,
            str(a.n),
            str(b.n),
            *medians,
            f"{s.lift:.2f}x ({s.lift_ci_low:.2f}-{s.lift_ci_high:.2f})",
            f"{s.welch_p:.3g}",
            f"{s.mann_whitney_p:.3g}",
            median_ci,
            f"{s.achieved_power:.0%}",
            f"{s.minimum_detectable_lift:.2f}x" if s.minimum_detectable_lift is not None else "-",
        )
    parts: list[RenderableType] = [table, Text(result.verdict, style="bold")]
    parts.extend(Text(f"note: {note}", style="dim") for note in result.notes)
    return Group(*parts)


def _narrow_summary(result: AbTestResult) -> RenderableType:
    level = f"{result.confidence * 100:g}%"
    parts: list[RenderableType] = [
        Text(f"A: {result.group_a}", style="bold"),
        Text(f"B: {result.group_b}", style="bold"),
        Text(result.metric_description, style="dim"),
    ]
    for comparison in result.comparisons:
        a, b, s = comparison.group_a, comparison.group_b, comparison.statistics
        table = Table(title=f"{comparison.stratum}", show_header=False, title_justify="left")
        table.add_column("", style="dim")
        table.add_column("", justify="right", overflow="fold")
        table.add_row("videos A / B", f"{a.n} / {b.n}")
        medians = [f"{m:,.0f}" if m is not None else "-" for m in (a.median_views, b.median_views)]
        table.add_row("median views A / B", " / ".join(medians))
        if s is None:
            table.add_row("result", "too few videos")
        else:
            table.add_row(
                f"lift A/B ({level} CI)", f"{s.lift:.2f}x ({s.lift_ci_low:.2f}-{s.lift_ci_high:.2f})"
            )
            table.add_row("Welch p / Mann-Whitney p", f"{s.welch_p:.3g} / {s.mann_whitney_p:.3g}")
            if (
                s.median_ratio is not None
                and s.median_ratio_ci_low is not None
                and s.median_ratio_ci_high is not None
            ):
                table.add_row(
                    f"median ratio ({level} CI)",
                    f"{s.median_ratio:.2f} ({s.median_ratio_ci_low:.2f}-{s.median_ratio_ci_high:.2f})",
                )
            table.add_row("power", f"{s.achieved_power:.0%}")
            if s.minimum_detectable_lift is not None:
                table.add_row("detectable lift", f"{s.minimum_detectable_lift:.2f}x")
        parts.append(table)
    parts.append(Text(result.verdict, style="bold"))
    parts.extend(Text(f"note: {note}", style="dim") for note in result.notes)
    return Group(*parts)
