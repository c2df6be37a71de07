"""The alert jobs: evaluate the rules when a run lands or the scheduler ticks, claim each alert
once in the warehouse, deliver it (webhook, e-mail), and list what fired.

Rules come from Settings (``[[alert.rules]]`` in ``tubescope.toml``) and from the warehouse
(added through REST). Evaluation is pure (:mod:`tubescope.analysis.alerts`); this module reads
its inputs, claims (:mod:`tubescope.warehouse.alerts`) and delivers (:mod:`tubescope.watch.delivery`).
Delivery happens outside any warehouse transaction; its outcome is stored with the alert, and a
delivery that failed is tried again as later runs land (``alert_redeliveries`` rounds at most).

Every round is claimed before it is sent (``sending since <when>``, ``redelivering (n of m) since
<when>``). A claim older than ``alert_claim_lease_seconds`` belongs to a round cut short (the
process was killed between sending and recording): the next redelivery pass takes it over by
compare-and-set, so one replica does, and counts it as a failed round. A round killed after it
sent is therefore sent again: delivery is at least once, and receivers de-duplicate on the
alert's id (the payload's ``alert_id``, the webhook's ``Idempotency-Key`` header, the e-mail's
``Message-ID``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import structlog
from pydantic import ValidationError

from tubescope.analysis.alerts import (
    DEFAULT_THRESHOLDS,
    RECENT,
    AlertInputs,
    AlertRule,
    Finding,
    RunRecord,
    channel_link,
    evaluate,
    message,
)
from tubescope.config import AlertRuleSettings, Settings, load_settings
from tubescope.errors import ConfigError, DeliveryError, NotFoundError, TubescopeError
from tubescope.jobs.common import (
    load_channel_frames,
    open_for_reading,
    open_for_writing,
    resolve_stored_channel,
    utc_now,
    warehouse_target,
)
from tubescope.logging import redact_text
from tubescope.warehouse.alerts import (
    StoredAlert,
    claim_alert,
    claim_redelivery,
    delete_rule,
    failed_deliveries,
    list_alerts,
    record_delivery,
    save_rule,
    stored_rules,
)
from tubescope.warehouse.lineage import RUN_COLUMNS, summary_from_row
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget
from tubescope.warehouse.watches import list_watches
from tubescope.watch.delivery import EmailTarget, RetryPolicy, WebhookTarget, post_webhook, send_email

Borrow = Callable[[], AbstractContextManager[Warehouse]]
_log = structlog.get_logger("tubescope.alerts")

CHANNEL_KINDS = ("breakout", "views_per_hour", "subscriber_drop", "upload_gap")
"""Rules about a channel's data: evaluated when a run lands for that channel."""
TICK_KINDS = ("quota", "collection_failed")
"""Rules about the system: evaluated on every scheduler tick (and when a run lands)."""


def alert_rule(spec: AlertRuleSettings) -> AlertRule:
    """The pure rule a setting (or a REST body) describes; a typed error when it cannot work."""
    threshold = spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLDS.get(spec.kind)
    if threshold is None:
        raise ConfigError(f"alert rule {spec.name!r}: a {spec.kind} rule needs a threshold")
    return AlertRule(
        name=spec.name,
        kind=spec.kind,
        threshold=float(threshold),
        cooldown=timedelta(hours=spec.cooldown_hours),
        channel_ids=tuple(spec.channels),
        ages_hours=tuple(spec.ages_hours),
        min_peers=spec.min_peers,
    )


def parse_rule(raw: Mapping[str, Any]) -> AlertRuleSettings:
    """A rule from JSON (REST body or stored spec), checked as the settings check it."""
    try:
        spec = AlertRuleSettings.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rule"
        raise ConfigError(f"invalid alert rule {where}: {first['msg']}") from None
    alert_rule(spec)  # refuse now what could never be evaluated
    return spec


@dataclass(frozen=True)
class RuleRow:
    """A rule as listed: its settings and where it was configured (``settings`` or ``rest``)."""

    spec: AlertRuleSettings
    source: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (REST and CLI)."""
        rule = alert_rule(self.spec)
        return {**self.spec.model_dump(), "threshold": rule.threshold, "source": self.source}


def rule_rows(settings: Settings, warehouse: Warehouse) -> list[RuleRow]:
    """Every active rule: those in Settings first, then those stored through REST (a stored rule
    of the same name as a setting is ignored: the file wins)."""
    rows = [RuleRow(spec, "settings") for spec in settings.alert_rules]
    named = {row.spec.name for row in rows}
    for raw in stored_rules(warehouse):
        try:
            spec = parse_rule(raw)
        except ConfigError as exc:  # written by an older version: skipped, said once per evaluation
            _log.warning("alerts.rule_skipped", error=str(exc))
            continue
        if spec.name not in named:
            rows.append(RuleRow(spec, "rest"))
    return rows


def active_rules(settings: Settings, warehouse: Warehouse) -> list[AlertRule]:
    """The pure rules of :func:`rule_rows`."""
    return [alert_rule(row.spec) for row in rule_rows(settings, warehouse)]


def add_rule(warehouse: Warehouse, settings: Settings, raw: Mapping[str, Any], *, at: datetime) -> RuleRow:
    """Store a rule sent through REST; a rule of that name in Settings cannot be replaced."""
    spec = parse_rule(raw)
    if any(s.name == spec.name for s in settings.alert_rules):
        raise ConfigError(f"alert rule {spec.name!r} is set in tubescope.toml; change it there")
    save_rule(warehouse, spec.name, spec.model_dump(), at)
    return RuleRow(spec, "rest")


def remove_rule(warehouse: Warehouse, settings: Settings, name: str) -> None:
    """Delete a rule added through REST."""
    if any(s.name == name for s in settings.alert_rules):
        raise ConfigError(f"alert rule {name!r} is set in tubescope.toml; remove it there")
    if not delete_rule(warehouse, name):
        raise NotFoundError(f"no alert rule {name!r}")


@dataclass(frozen=True)
class Delivery:
    """Where alerts go (either may be None: the alert is only listed)."""

    webhook: WebhookTarget | None
    email: EmailTarget | None
    retry: RetryPolicy
    public_url: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Delivery:
        """The delivery Settings describe; a typed error for a half-configured webhook."""
        webhook = None
        if settings.alert_webhook_url:
            secret = settings.alert_webhook_secret.get_secret_value() if settings.alert_webhook_secret else ""
            webhook = WebhookTarget(settings.alert_webhook_url, secret)
        email = None
        if settings.alert_smtp_host:
            password = settings.alert_smtp_password
            email = EmailTarget(
                host=settings.alert_smtp_host,
                port=settings.alert_smtp_port,
                sender=settings.alert_email_from,
                recipients=tuple(settings.alert_email_to),
                username=settings.alert_smtp_username,
                password=password.get_secret_value() if password is not None else None,
                starttls=settings.alert_smtp_starttls,
            )
        retry = RetryPolicy(
            attempts=settings.alert_retries,
            wait_initial=settings.alert_retry_wait_seconds,
            wait_max=max(60.0, settings.alert_retry_wait_seconds),
        )
        return cls(webhook, email, retry, settings.public_url)


def payload(alert: StoredAlert, finding: Finding, public_url: str | None) -> dict[str, Any]:
    """The webhook's JSON body."""
    body = alert.as_dict()
    body.pop("delivered")
    body.update(
        kind=finding.kind,
        threshold=finding.threshold,
        link=channel_link(public_url, finding.channel_id) if finding.channel_id else None,
    )
    return body


def deliver(alert: StoredAlert, finding: Finding, delivery: Delivery) -> dict[str, str]:
    """Send one claimed alert everywhere configured; ``{"webhook": "sent", ...}`` per channel
    (``failed: <why>`` when it failed; the why names no secret)."""
    outcome: dict[str, str] = {}
    if delivery.webhook is not None:
        try:
            tries = post_webhook(
                payload(alert, finding, delivery.public_url),
                delivery.webhook,
                delivery.retry,
                idempotency_key=alert.alert_id,
            )
            outcome["webhook"] = "sent" if tries == 1 else f"sent after {tries} attempts"
        except DeliveryError as exc:
            outcome["webhook"] = f"failed: {redact_text(str(exc))}"
    if delivery.email is not None:
        subject = f"[tubescope] {finding.kind.replace('_', ' ')}: {finding.rule}"
        try:
            tries = send_email(
                subject, alert.message, delivery.email, delivery.retry, alert_id=alert.alert_id
            )
            outcome["email"] = "sent" if tries == 1 else f"sent after {tries} attempts"
        except DeliveryError as exc:
            outcome["email"] = f"failed: {redact_text(str(exc))}"
    for channel, result in outcome.items():
        if result.startswith("failed"):
            _log.warning("alerts.delivery_failed", alert_id=alert.alert_id, channel=channel, error=result)
    return outcome


def _recent_runs(warehouse: Warehouse, now: datetime) -> tuple[RunRecord, ...]:
    rows = warehouse.fetchall(
        f"SELECT {RUN_COLUMNS} FROM collection_runs WHERE finished_at >= ? ORDER BY run_id",  # noqa: S608
        [now - RECENT],
    )
    runs = []
    for row in rows:
        run = summary_from_row(row)
        if run.finished_at is None:
            continue
        error = redact_text(run.error) if run.error else None
        runs.append(RunRecord(run.run_id, run.status.value, run.finished_at, run.channel_refs, error))
    return tuple(runs)


def _newest(frames: Sequence[pd.DataFrame]) -> datetime | None:
    moments = [frame["observed_at"].max() for frame in frames if not frame.empty]
    moments = [m for m in moments if not pd.isna(m)]
    if not moments:
        return None
    newest: datetime = pd.Timestamp(max(moments)).tz_convert("UTC").to_pydatetime()
    return newest


def _inputs(
    warehouse: Warehouse,
    rules: Sequence[AlertRule],
    channel_ids: Sequence[str],
    now: datetime | None,
    quota: QuotaFigures | None,
) -> tuple[AlertInputs, datetime]:
    frames = None
    if channel_ids and any(rule.kind in CHANNEL_KINDS for rule in rules):
        frames = load_channel_frames(warehouse, channel_ids)
    as_of = now or (_newest([frames.channel_snapshots, frames.video_snapshots]) if frames else None)
    as_of = as_of or utc_now()
    titles: dict[str, str] = {}
    if frames is not None and not frames.channels.empty:
        titles = dict(
            zip(frames.channels["channel_id"].astype(str), frames.channels["title"].astype(str), strict=True)
        )
    runs = _recent_runs(warehouse, as_of) if any(r.kind == "collection_failed" for r in rules) else ()
    inputs = AlertInputs(
        videos=frames.videos if frames is not None else None,
        video_snapshots=frames.video_snapshots if frames is not None else None,
        channels=frames.channels if frames is not None else None,
        channel_snapshots=frames.channel_snapshots if frames is not None else None,
        early_points=frames.early_points if frames is not None else None,
        runs=runs,
        quota_left=quota.left if quota is not None else None,
        quota_daily_units=quota.daily_units if quota is not None else 10_000,
        quota_day=quota.day if quota is not None else "",
        channel_titles=titles,
    )
    return inputs, as_of


@dataclass(frozen=True)
class QuotaFigures:
    """Units left today per (key fingerprint, bucket), for the ``quota`` rule."""

    left: Mapping[tuple[str, str], int]
    daily_units: int
    day: str


def check(
    borrow: Borrow,
    settings: Settings,
    *,
    channel_ids: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    now: datetime | None = None,
    quota: QuotaFigures | None = None,
    delivery: Delivery | None = None,
) -> list[StoredAlert]:
    """Evaluate the active rules (of ``kinds``) over ``channel_ids`` (default: the watch list),
    claim each new alert once and deliver it; returns the alerts this call claimed.

    ``now`` defaults to the newest observation of those channels (the as-of every figure uses),
    so an emulated clock works as the real one does.
    """
    # Refuse a half-configured delivery before anything is claimed: a claimed alert is never
    # claimed again, so it must not be lost to a settings error.
    chosen = delivery or Delivery.from_settings(settings)
    # The first round is claimed with the alert (not after it), so a kill before its outcome is
    # recorded leaves a claim that expires instead of an alert that is never sent.
    ways = _configured(chosen)
    claimed: list[tuple[StoredAlert, Finding]] = []
    with borrow() as warehouse:
        rules = [r for r in active_rules(settings, warehouse) if kinds is None or r.kind in kinds]
        if not rules:
            return []
        ids = (
            list(channel_ids) if channel_ids is not None else [w.channel_id for w in list_watches(warehouse)]
        )
        inputs, as_of = _inputs(warehouse, rules, ids, now, quota)
        cooldowns = {rule.name: rule.cooldown for rule in rules}
        for finding in evaluate(rules, inputs, as_of):
            alert = claim_alert(
                warehouse,
                dedupe_key=finding.key,
                rule=finding.rule,
                subject=finding.subject,
                cooldown=cooldowns[finding.rule],
                channel_id=finding.channel_id,
                video_id=finding.video_id,
                value=finding.value,
                message=message(finding, settings.public_url),
                now=as_of,
                claims=dict.fromkeys(ways, f"sending since {_stamp(utc_now())}"),
            )
            if alert is not None:
                claimed.append((alert, finding))
    if not claimed:
        return []
    sent = []
    for alert, finding in claimed:
        _log.info("alerts.fired", alert_id=alert.alert_id, rule=alert.rule, channel_id=alert.channel_id)
        held = _hold(borrow, alert, alert.delivered, alert.delivered.keys(), utc_now)
        if held is None:
            continue
        outcome = deliver(alert, finding, chosen)
        if outcome:
            _record(borrow, alert, outcome, held.values())
        sent.append(dataclasses.replace(alert, delivered=outcome))
    return sent


def _configured(delivery: Delivery) -> list[str]:
    """The delivery channels set up (``webhook``, ``email``)."""
    return [name for name, target in (("webhook", delivery.webhook), ("email", delivery.email)) if target]


def _stamp(moment: datetime) -> str:
    """A claim's time as its status says it (UTC, ISO 8601, to the microsecond)."""
    return moment.astimezone(UTC).isoformat()


def _hold(
    borrow: Borrow,
    alert: StoredAlert,
    statuses: Mapping[str, str],
    channels: Collection[str],
    clock: Callable[[], datetime],
) -> dict[str, str] | None:
    """``statuses`` with the round's claims (those of ``channels``) dated now, stored while the
    claims still stand, right before the round is sent: a batch's later rounds are claimed with
    its first but sent after the others, and their lease must count from their own sending.
    None (said in the log) when another replica took the round over meanwhile."""
    now = _stamp(clock())
    renewed = {
        channel: _CLAIM_TIME.sub(f" since {now}", status) if channel in channels else status
        for channel, status in statuses.items()
    }
    if not channels:
        return renewed
    claims = sorted({statuses[channel] for channel in channels})
    with borrow() as warehouse:
        kept = record_delivery(warehouse, alert.alert_id, renewed, claims=claims)
    if not kept:
        _log.warning("alerts.claim_lost", alert_id=alert.alert_id, statuses=dict(statuses))
        return None
    return renewed


def _record(borrow: Borrow, alert: StoredAlert, statuses: Mapping[str, str], claims: Iterable[str]) -> None:
    """Store a round's outcome while its claims still stand; said in the log when another replica
    took the round over meanwhile (the claim outlived the lease: the lease is too short for the
    retries, or this process stalled), whose outcome then stands."""
    with borrow() as warehouse:
        kept = record_delivery(warehouse, alert.alert_id, statuses, claims=sorted(set(claims)))
    if not kept:
        _log.warning("alerts.claim_lost", alert_id=alert.alert_id, statuses=dict(statuses))


_REDELIVERED = re.compile(r"^failed after redelivery (\d+): ")
_CLAIM = re.compile(r"^(?:sending|redelivering \((\d+) of \d+\))(?: since (\S+))?$")
"""A round's claim: the first delivery's or redelivery n's, and since when (older versions
wrote no time)."""
_CLAIM_TIME = re.compile(r" since \S+$")


def _claim_time(stamp: str | None) -> datetime | None:
    if stamp is None:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _expired(status: str, now: datetime, lease: timedelta) -> str | None:
    """The failed status a claim stands for once it outlived ``lease`` (its round was cut short
    and counts as spent); None for a status that is no claim, or a claim still within its lease.
    A claim without a readable time (written by an older version) has expired."""
    found = _CLAIM.match(status)
    if found is None:
        return None
    round_, stamp = found.groups()
    claimed_at = _claim_time(stamp)
    if claimed_at is not None and now - claimed_at < lease:
        return None
    since = f" (claimed {stamp})" if stamp else ""
    why = f"interrupted{since}: no outcome recorded within {lease.total_seconds():g} s"
    return f"failed: {why}" if round_ is None else f"failed after redelivery {round_}: {why}"


def _rounds_after_first(status: str) -> int:
    """How many redeliveries a ``failed…`` status says were tried after the first delivery."""
    found = _REDELIVERED.match(status)
    return int(found.group(1)) if found else 0


def _redelivered(status: str, round_: int) -> str:
    """:func:`deliver`'s status for a channel, saying which redelivery it was."""
    if status.startswith("failed: "):
        return f"failed after redelivery {round_}: {status.removeprefix('failed: ')}"
    return f"{status} on redelivery {round_}"


def _stored_finding(alert: StoredAlert, rule: AlertRule) -> Finding:
    """The finding a stored alert was made from, as far as delivery needs it (kind, threshold)."""
    return Finding(
        rule=alert.rule,
        kind=rule.kind,
        key=alert.dedupe_key,
        subject=alert.video_id or alert.channel_id or alert.rule,
        channel_id=alert.channel_id,
        video_id=alert.video_id,
        value=alert.value if alert.value is not None else math.nan,
        threshold=rule.threshold,
        observed_at=alert.fired_at,
        summary=alert.message,
    )


def redeliver_failed(
    borrow: Borrow,
    settings: Settings,
    *,
    delivery: Delivery | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[StoredAlert]:
    """Try once more each failed delivery (webhook, e-mail) of a stored alert that has had fewer
    than ``alert_redeliveries`` further rounds; returns the alerts tried, with their new statuses.

    Each round is claimed by compare-and-set on the stored statuses (to ``redelivering (n of m)
    since <now>``), so replicas send it once. A claim older than ``alert_claim_lease_seconds``
    (the first delivery's or a redelivery's, cut short by a crash) is taken over the same way: its
    round is stored as failed (``interrupted``), said in the log, and the next round follows while
    the limit allows; an alert holding a claim still within its lease is left alone (one round at
    a time). An alert whose rule was removed, or whose way of delivery is no longer configured, is
    not sent again. Channels that were sent are never sent again.
    """
    limit = settings.alert_redeliveries
    lease = timedelta(seconds=settings.alert_claim_lease_seconds)
    chosen = delivery or Delivery.from_settings(settings)
    configured = set(_configured(chosen))
    # with no redeliveries, only expired claims are looked for (to be stored as failed)
    prefixes = ("failed", "sending", "redelivering") if limit else ("sending", "redelivering")
    claimed: list[tuple[StoredAlert, Finding, dict[str, int], dict[str, str]]] = []
    with borrow() as warehouse:
        at = clock()
        rules = {rule.name: rule for rule in active_rules(settings, warehouse)}
        for found in failed_deliveries(warehouse, prefixes=prefixes):
            alert, rule = found.alert, rules.get(found.alert.rule)
            expired = {
                channel: failed
                for channel, status in alert.delivered.items()
                if (failed := _expired(status, at, lease)) is not None
            }
            settled = {**alert.delivered, **expired}
            if any(_CLAIM.match(status) for status in settled.values()):
                continue  # a round of this alert is being sent: one round at a time
            due = {
                channel: _rounds_after_first(status) + 1
                for channel, status in settled.items()
                if status.startswith("failed") and channel in configured
            }
            due = {channel: round_ for channel, round_ in due.items() if round_ <= limit and rule is not None}
            if not due and not expired:
                continue
            claim = f"since {_stamp(at)}"
            marked = {**settled, **{c: f"redelivering ({n} of {limit}) {claim}" for c, n in due.items()}}
            if not claim_redelivery(warehouse, found, marked):
                continue  # another replica claimed this round (or took this claim over) first
            for channel, status in expired.items():
                _log.warning("alerts.claim_expired", alert_id=alert.alert_id, channel=channel, status=status)
            if due and rule is not None:
                claimed.append((alert, _stored_finding(alert, rule), due, marked))
    tried = []
    for alert, finding, due, marked in claimed:
        only_due = dataclasses.replace(
            chosen,
            webhook=chosen.webhook if "webhook" in due else None,
            email=chosen.email if "email" in due else None,
        )
        held = _hold(borrow, alert, marked, due.keys(), clock)
        if held is None:
            continue
        outcome = deliver(alert, finding, only_due)
        statuses = {**held, **{c: _redelivered(status, due[c]) for c, status in outcome.items()}}
        _record(borrow, alert, statuses, (held[c] for c in due))
        _log.info("alerts.redelivered", alert_id=alert.alert_id, statuses=statuses)
        tried.append(dataclasses.replace(alert, delivered=statuses))
    return tried


def after_run(
    settings: Settings, target: WarehouseTarget | Warehouse, channel_ids: Sequence[str]
) -> list[StoredAlert]:
    """Evaluate every rule for the channels a run just collected (called by the collect job),
    then try again the deliveries that failed before (:func:`redeliver_failed`).

    ``target`` is the warehouse to open, or one the caller holds open (the run's own, which
    spares opening and closing the file again).
    """

    def borrow() -> AbstractContextManager[Warehouse]:
        if isinstance(target, Warehouse):
            return nullcontext(target)
        return open_for_writing(target)

    fired = check(borrow, settings, channel_ids=channel_ids)
    redeliver_failed(borrow, settings)
    return fired


def after_run_logged(
    settings: Settings, target: WarehouseTarget | Warehouse, channel_ids: Sequence[str]
) -> None:
    """:func:`after_run`, for the jobs that store runs (collect, watch): an alert that cannot be
    evaluated or delivered is said in the log, and never fails the run that landed."""
    try:
        after_run(settings, target, channel_ids)
    except TubescopeError as exc:
        _log.warning("alerts.check_failed", error=redact_text(str(exc)))


def check_now(
    *, db: WarehouseTarget | str | None = None, settings: Settings | None = None
) -> list[StoredAlert]:
    """Evaluate every rule over the watch list now and deliver what is new (``alerts --check``)."""
    cfg = settings or load_settings()
    target = warehouse_target(db, cfg)

    def borrow() -> AbstractContextManager[Warehouse]:
        return open_for_writing(target)

    return check(borrow, cfg)


def alerts(
    *, db: WarehouseTarget | str | None = None, limit: int = 50, channel: str | None = None
) -> list[StoredAlert]:
    """The newest alerts (``tubescope alerts``), of one channel when ``channel`` names one."""
    cfg = load_settings()
    with open_for_reading(warehouse_target(db, cfg)) as warehouse:
        channel_id = resolve_stored_channel(warehouse, channel) if channel else None
        return list_alerts(warehouse, limit=limit, channel_id=channel_id)
