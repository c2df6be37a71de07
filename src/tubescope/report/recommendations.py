"""Strategic recommendations drawn from a :class:`ReportModel`, each with the numbers behind it.

Rules: a recommendation states its effect size, interval and sample size; evidence whose interval
includes "no effect" is either omitted or reported as weak, never as a finding; correlations are
called correlations. Everything here is derived by tubescope, not reported by YouTube.
"""

from __future__ import annotations

import re

from tubescope.report import formatting as fmt
from tubescope.report.model import (
    AbResult,
    Confidence,
    Recommendation,
    ReportModel,
    TimeSlotEffect,
)

MIN_SLOT_UPLOADS = 8
"""Fewer uploads than this in a publish slot and its lift is not discussed at all."""
MIN_FORMAT_UPLOADS = 5
MIN_CORRELATION = 0.3
MIN_OUTLIER_RATIO = 2.0
PEER_GAP_PERCENTILE = 25.0

_ORDER = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}

FEATURE_WORDS: dict[str, tuple[str, str, str]] = {
    # feature: (what it is, in words; more of it; less of it)
    "duration_seconds": ("video length", "longer videos", "shorter videos"),
    "title_length": ("title length", "longer titles", "shorter titles"),
    "title_word_count": ("words per title", "titles with more words", "titles with fewer words"),
    "title_caps_ratio": ("capital letters in titles", "more capitals in titles", "fewer capitals in titles"),
    "title_has_question": ("a question in the title", "question titles", "titles without a question"),
    "title_digit_count": ("numbers in titles", "numbers in titles", "titles without numbers"),
    "title_emoji_count": ("emoji in titles", "emoji in titles", "titles without emoji"),
    "tag_count": ("the number of tags", "more tags", "fewer tags"),
    "publish_hour": (
        "the hour of publishing (UTC)",
        "publishing later in the day",
        "publishing earlier in the day",
    ),
    "publish_weekday": (
        "the weekday of publishing",
        "publishing later in the week",
        "publishing earlier in the week",
    ),
    "is_short": ("being a Short", "more Shorts", "fewer Shorts"),
    "is_live": ("being a live stream", "more live streams", "fewer live streams"),
}
"""Video features in a creator's words: never a column name in a headline."""
TARGET_WORDS: dict[str, str] = {
    "log_views": "Views",
    "engagement_rate": "Engagement",
    "log_performance": "Views for a video's age and format",
}
_FILTER_WORDS: tuple[tuple[str, str], ...] = (
    (r"^title contains '\?'$", "titles with a question mark"),
    (r"^title contains '(.+)'$", "titles containing “\\1”"),
    (r"^tag_count >= (\d+)$", "\\1 or more tags"),
    (r"^tag_count < (\d+)$", "fewer than \\1 tags"),
    (r"^format = '?short'?$", "Shorts"),
    (r"^duration > (\d+)$", "videos over \\1 seconds"),
    (r"^not \((.+)\)$", "the rest"),
)


def feature_words(name: str) -> tuple[str, str, str]:
    """(what ``name`` is, more of it, less of it) in plain words."""
    plain = name.replace("_", " ")
    return FEATURE_WORDS.get(name, (plain, f"more {plain}", f"less {plain}"))


def filter_words(expression: str) -> str:
    """A filter such as ``title contains '?'`` in words (``titles with a question mark``)."""
    text = expression.strip()
    for pattern, words in _FILTER_WORDS:
        if re.match(pattern, text):
            return re.sub(pattern, words, text)
    return f"videos matching “{text}”"


def build_recommendations(model: ReportModel) -> tuple[Recommendation, ...]:
    """All recommendations the evidence supports, strongest first."""
    found: list[Recommendation] = [
        *_timing(model),
        *_formats(model),
        *_ab_tests(model),
        *_correlations(model),
        *_outliers(model),
        *_peers(model),
        *_growth(model),
    ]
    return tuple(sorted(found, key=lambda rec: _ORDER[rec.confidence]))


def _slot(effect: TimeSlotEffect, timezone: str) -> str:
    return fmt.slot(effect.weekday, effect.hour, timezone, effect.hours)


def _slot_evidence(effect: TimeSlotEffect, timezone: str) -> str:
    return (
        f"{fmt.format_name(effect.video_format)} published {_slot(effect, timezone)} "
        f"get {fmt.ratio(effect.lift)} {effect.baseline} "
        f"({fmt.interval(effect.ci_low, effect.ci_high, effect.ci_level)}, n={effect.n})"
    )


def _timing(model: ReportModel) -> list[Recommendation]:
    heatmap = model.heatmap
    if heatmap is None or not heatmap.best_slots:
        return []
    candidates = sorted(
        (s for s in heatmap.best_slots if s.n >= MIN_SLOT_UPLOADS), key=lambda s: s.ci_low, reverse=True
    )
    found: list[Recommendation] = []
    seen_formats: set[str | None] = set()
    for effect in candidates:
        clear = effect.ci_low > 1.0 and (effect.p_value is None or effect.p_value < 0.05)
        if not clear or effect.video_format in seen_formats:
            continue
        seen_formats.add(effect.video_format)
        strong = effect.ci_low >= 1.2 and effect.n >= 30
        found.append(
            Recommendation(
                headline=(
                    f"Schedule {fmt.format_name(effect.video_format).lower()} for "
                    f"{_slot(effect, heatmap.timezone)}"
                ),
                evidence=_slot_evidence(effect, heatmap.timezone),
                confidence=Confidence.HIGH if strong else Confidence.MEDIUM,
                topic="timing",
            )
        )
        if len(found) == 2:
            break
    if not found and candidates:
        best = max(candidates, key=lambda s: s.lift)
        found.append(
            Recommendation(
                headline="No publish time clearly beats the others; keep the current schedule",
                evidence=(
                    f"Best slot: {_slot_evidence(best, heatmap.timezone)}; the interval includes 1x, "
                    "so this may be chance"
                ),
                confidence=Confidence.LOW,
                topic="timing",
            )
        )
    return found


def _formats(model: ReportModel) -> list[Recommendation]:
    formats = [f for f in model.formats if f.n_videos >= MIN_FORMAT_UPLOADS and f.median_views_ci is not None]
    if len(formats) < 2:
        return []
    best = max(formats, key=lambda f: f.median_views)
    others = [f for f in formats if f is not best]
    assert best.median_views_ci is not None
    best_low = best.median_views_ci[0]
    separated = [f for f in others if f.median_views_ci is not None and best_low > f.median_views_ci[1]]
    if len(separated) != len(others):
        return []  # the intervals overlap: no format is reliably ahead
    runner_up = max(others, key=lambda f: f.median_views)
    assert runner_up.median_views_ci is not None
    share_uploads = best.n_videos / sum(f.n_videos for f in model.formats)
    return [
        Recommendation(
            headline=f"{fmt.format_name(best.video_format)} earn the most views per upload",
            evidence=(
                f"{fmt.format_name(best.video_format)}: median {fmt.compact(best.median_views)} views "
                f"({fmt.interval(*best.median_views_ci, as_ratio=False)}, n={best.n_videos}) vs "
                f"{fmt.compact(runner_up.median_views)} for "
                f"{fmt.format_name(runner_up.video_format).lower()} "
                f"({fmt.interval(*runner_up.median_views_ci, as_ratio=False)}, n={runner_up.n_videos}); "
                f"{share_uploads * 100:.0f}% of uploads earned {best.share_of_views * 100:.0f}% of views"
            ),
            confidence=Confidence.MEDIUM,
            topic="format",
        )
    ]


def _ab_effect(test: AbResult) -> str:
    if test.effect_scale == "ratio":
        return f"{fmt.ratio(test.effect)} {test.metric}"
    return f"{test.effect:+.3g} {test.metric}"


def _ab_label(test: AbResult) -> str:
    scope = f"{test.scope}: " if test.scope else ""
    return f"{scope}{test.group_b} vs {test.group_a}"


def _ab_interval(test: AbResult) -> str:
    return fmt.interval(test.ci_low, test.ci_high, test.ci_level, as_ratio=test.effect_scale == "ratio")


def _ab_tests(model: ReportModel) -> list[Recommendation]:
    found: list[Recommendation] = []
    inconclusive: list[AbResult] = []
    for test in model.ab_tests:
        if not test.significant:
            inconclusive.append(test)
            continue
        p = test.p_adjusted if test.p_adjusted is not None else test.p_value
        adjusted = " adjusted" if test.p_adjusted is not None else ""
        helps = test.effect > test.null_effect
        strong = p < 0.01 and min(test.n_a, test.n_b) >= 30
        scope = f" ({test.scope.lower()})" if test.scope else ""
        subject = filter_words(test.group_b)
        if test.confounded_by:
            # Confounded evidence is never more than a hint, whatever its p-value.
            headline = f"Worth a fair test: {subject}{scope} {'did better' if helps else 'did worse'}"
            caveat = f"; confounded by {test.confounded_by}, so not a finding"
            confidence = Confidence.LOW
        else:
            headline = f"{'Use more' if helps else 'Use fewer'} {subject}{scope}"
            caveat = ""
            confidence = Confidence.HIGH if strong else Confidence.MEDIUM
        found.append(
            Recommendation(
                headline=headline,
                evidence=(
                    f"{_ab_label(test)}: {_ab_effect(test)} ({_ab_interval(test)}, "
                    f"{fmt.p_value(p)}{adjusted}, n={test.n_b} vs {test.n_a}){caveat}"
                ),
                confidence=confidence,
                topic="ab",
            )
        )
    if inconclusive:
        listed = "; ".join(
            f"{_ab_label(t)}: {_ab_effect(t)} "
            f"({_ab_interval(t)}, "
            f"{fmt.p_value(t.p_adjusted if t.p_adjusted is not None else t.p_value)}, n={t.n_b} vs {t.n_a})"
            for t in inconclusive[:4]
        )
        found.append(
            Recommendation(
                headline="Do not change these on current evidence: no significant difference",
                evidence=listed,
                confidence=Confidence.LOW,
                topic="ab",
            )
        )
    return found


def _correlations(model: ReportModel) -> list[Recommendation]:
    matrix = model.correlation
    if matrix is None:
        return []
    names = matrix.variables
    targets = [n for n in names if n in matrix.targets] or [n for n in names if "view" in n.lower()]
    # A same-age, same-format performance target already removes the format and age effects that
    # dominate raw views; when it is there, raw-view correlations would only restate them.
    normalised = [n for n in targets if "performance" in n.lower()]
    targets = normalised or targets
    if not targets:
        return []
    pairs: list[tuple[float, float, str, str, int]] = []
    for target in targets:
        i = names.index(target)
        for j, name in enumerate(names):
            r, p = matrix.coefficients[i][j], matrix.p_values[i][j]
            if name in targets or r is None or p is None:
                continue
            if abs(r) >= MIN_CORRELATION and p < 0.05:
                pairs.append((r, p, name, target, matrix.pair_n(i, j)))
    pairs.sort(key=lambda item: abs(item[0]), reverse=True)
    symbol = "ρ" if matrix.method == "spearman" else "r"
    adjusted = "" if matrix.p_adjustment == "none" else f" ({matrix.p_adjustment}-adjusted)"
    seen: set[str] = set()
    found: list[Recommendation] = []
    for r, p, name, target, n in pairs:
        if name in seen:
            continue
        seen.add(name)
        what, more, less = feature_words(name)
        outcome = TARGET_WORDS.get(target, target.replace("_", " ").capitalize())
        found.append(
            Recommendation(
                headline=f"Try {more if r > 0 else less} on a few videos and compare",
                evidence=(
                    f"{outcome} {'rise' if r > 0 else 'fall'} with {what} "
                    f"({matrix.method.capitalize()} {symbol}={r:.2f}, {fmt.p_value(p)}{adjusted}, "
                    f"n={n}); a correlation, not proof of cause"
                ),
                confidence=Confidence.MEDIUM if abs(r) >= 0.5 and n >= 30 else Confidence.LOW,
                topic="correlation",
            )
        )
    return found[:2]


def _outliers(model: ReportModel) -> list[Recommendation]:
    over = [o for o in model.outliers if o.ratio is not None and o.ratio >= MIN_OUTLIER_RATIO]
    if not over:
        return []
    top = max(over, key=lambda o: o.score)
    assert top.ratio is not None
    return [
        Recommendation(
            headline=f"Study and repeat what worked in “{top.title}”",
            evidence=(
                f"{fmt.compact(top.views)} views, {fmt.ratio(top.ratio)} the "
                f"{fmt.compact(top.expected_views)} expected at its age and format "
                f"(robust z={top.score:.1f}); {len(over)} video(s) beat expectations "
                f"by {MIN_OUTLIER_RATIO:.0f}x or more"
            ),
            confidence=Confidence.MEDIUM if top.score >= 3.5 else Confidence.LOW,
            topic="outliers",
        )
    ]


def _peers(model: ReportModel) -> list[Recommendation]:
    peers = model.peers
    if peers is None or len(peers.channels) < 3:
        return []
    found: list[Recommendation] = []
    for metric in peers.metrics:
        percentile = metric.subject_percentile
        mine, median = peers.subject_value(metric), peers.peer_median(metric)
        if percentile is None or mine is None or median is None:
            continue
        if metric.higher_is_better:
            behind = percentile <= PEER_GAP_PERCENTILE
        else:
            behind = percentile >= 100 - PEER_GAP_PERCENTILE
        if not behind:
            continue
        n_peers = len(peers.peer_values(metric))
        found.append(
            Recommendation(
                headline=f"Close the gap on {metric.label.lower()}",
                evidence=(
                    f"{fmt.number(mine, metric.unit)} vs a peer median of {fmt.number(median, metric.unit)} "
                    f"({percentile:.0f}th percentile of {n_peers} peers"
                    f"{'; derived metric' if metric.derived else ''})"
                ),
                confidence=Confidence.MEDIUM if n_peers >= 5 else Confidence.LOW,
                topic="peers",
            )
        )
    return found[:2]


def _growth(model: ReportModel) -> list[Recommendation]:
    found: list[Recommendation] = []
    has_daily = any(t.metric == "Daily views" and t.forecast is not None for t in model.growth)
    for trajectory in model.growth:
        band = trajectory.forecast
        if band is None or not band.times or (has_daily and trajectory.metric == "Total views"):
            continue  # the total is the running sum of the daily views: one forecast of them is enough
        mean, low, high = band.mean[-1], band.lower[-1], band.upper[-1]
        if mean <= 0:
            continue
        relative_width = (high - low) / mean
        rounded = trajectory.metric == "Subscribers"
        caveat = "; YouTube rounds public subscriber counts, so this trend is coarse" if rounded else ""
        found.append(
            Recommendation(
                headline=(
                    f"Plan for about {fmt.compact(mean)} {trajectory.metric.lower()} "
                    f"by {fmt.day(band.times[-1])}"
                ),
                evidence=(
                    f"Forecast {fmt.compact(mean)} ({band.level * 100:.0f}% interval "
                    f"{fmt.compact(low)}–{fmt.compact(high)}"
                    f"{', from ' + method_words(band.method) if band.method else ''}); "
                    + ("a narrow band" if relative_width < 0.2 else "a wide band: treat as a rough guide")
                    + caveat
                ),
                # Rounded counts and wide bands are never more than a rough guide.
                confidence=Confidence.MEDIUM if relative_width < 0.2 and not rounded else Confidence.LOW,
                topic="growth",
            )
        )
    return found


def method_words(method: str) -> str:
    """A forecast method in words (no model notation such as ``ETS(A,Ad,A)``)."""
    if method.startswith("ETS") or "ETS(" in method:
        return "a trend and weekly-pattern model of daily views"
    if method.startswith("median of the last 7 days"):
        return "the median of the last week with a band calibrated on real channels"
    if method.startswith("linear trend"):
        return method
    return "a statistical forecast"
