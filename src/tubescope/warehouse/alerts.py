"""Alerts in the warehouse: claiming one (once, outside its cooldown), delivery results, listing,
and the rules added through REST. The SQL is written once for both backends.

An alert is claimed in one transaction that (1) moves the rule's cooldown for the subject forward
by compare-and-set, as a watch tick is claimed, and (2) inserts the alert under its unique
``dedupe_key``. Either step refusing rolls both back, so any number of replicas (or a restarted
one) evaluating the same finding send it once.

Each delivery round (the first one included) is claimed before anything is sent: the alert is
stored with claim statuses, and its outcome replaces them only while they are still that claim
(:func:`record_delivery`), so a round another replica took over after the claim expired cannot be
overwritten by the one it took over from.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tubescope.errors import WriteConflict
from tubescope.warehouse.repository import Warehouse

_ALERT_COLUMNS = (
    "alert_id, dedupe_key, rule, channel_id, video_id, fired_at, value, message, CAST(delivered AS VARCHAR)"
)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored: what fired, when, the text sent, and how each delivery went."""

    alert_id: str
    dedupe_key: str
    rule: str
    channel_id: str | None
    video_id: str | None
    fired_at: datetime
    value: float | None
    message: str
    delivered: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (CLI ``--json``, REST, webhook payloads)."""
        return {
            "alert_id": self.alert_id,
            "rule": self.rule,
            "channel_id": self.channel_id,
            "video_id": self.video_id,
            "fired_at": self.fired_at.isoformat(),
            "value": self.value,
            "message": self.message,
            "delivered": dict(self.delivered),
        }


def _alert(row: Sequence[Any]) -> StoredAlert:
    delivered = json.loads(row[8]) if row[8] else {}
    return StoredAlert(
        alert_id=str(row[0]),
        dedupe_key=str(row[1]),
        rule=str(row[2]),
        channel_id=row[3],
        video_id=row[4],
        fired_at=row[5],
        value=float(row[6]) if row[6] is not None else None,
        message=str(row[7]),
        delivered={str(k): str(v) for k, v in dict(delivered).items()},
    )


class _Refused(Exception):
    """Rolls a claim back: the alert exists already, or its rule is cooling down."""


def claim_alert(
    warehouse: Warehouse,
    *,
    dedupe_key: str,
    rule: str,
    subject: str,
    cooldown: timedelta,
    channel_id: str | None,
    video_id: str | None,
    value: float | None,
    message: str,
    now: datetime,
    claims: Mapping[str, str] | None = None,
) -> StoredAlert | None:
    """Store the alert if it was never sent and ``rule`` is not cooling down for ``subject``; the
    caller that gets it back (and only that one) delivers it. None: nothing to send.

    ``claims`` are the statuses it is stored with (the first delivery's claim per channel, e.g.
    ``{"webhook": "sending since …"}``), so a crash before its outcome is recorded leaves a claim
    that can expire, never an alert that looks as if nothing was to be sent."""
    if warehouse.fetchone("SELECT 1 FROM alerts WHERE dedupe_key = ?", [dedupe_key]) is not None:
        return None
    alert = StoredAlert(
        alert_id=uuid.uuid4().hex,
        dedupe_key=dedupe_key,
        rule=rule,
        channel_id=channel_id,
        video_id=video_id,
        fired_at=now,
        value=value,
        message=message,
        delivered=dict(claims or {}),
    )
    until = now + cooldown
    try:
        with warehouse.transaction() as con:
            moved = con.count(
                "UPDATE alert_cooldowns SET until = ? WHERE rule = ? AND subject = ? AND until <= ?",
                [until, rule, subject, now],
            )
            if moved == 0:
                moved = con.count(
                    "INSERT INTO alert_cooldowns (rule, subject, until) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [rule, subject, until],
                )
            if moved == 0:
                raise _Refused
            inserted = con.count(
                f"INSERT INTO alerts ({_ALERT_COLUMNS.replace('CAST(delivered AS VARCHAR)', 'delivered')})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    alert.alert_id,
                    dedupe_key,
                    rule,
                    channel_id,
                    video_id,
                    now,
                    value,
                    message,
                    json.dumps(dict(alert.delivered), sort_keys=True),
                ],
            )
            if inserted == 0:
                raise _Refused
    except (_Refused, WriteConflict):  # refused, or another replica's claim wrote first
        return None
    return alert


def record_delivery(
    warehouse: Warehouse, alert_id: str, delivered: Mapping[str, str], *, claims: Sequence[str] = ()
) -> bool:
    """How each delivery of ``alert_id`` went (``{"webhook": "sent", "email": "failed: …"}``).

    With ``claims`` (the claim statuses of the round that was sent), only while the stored
    statuses still hold every one of them: False when the round was taken over meanwhile (its
    claim expired), and the statuses are left to the replica that took it over."""
    held = "".join(" AND CAST(delivered AS VARCHAR) LIKE ?" for _ in claims)
    try:
        with warehouse.transaction() as con:
            moved = con.count(
                f"UPDATE alerts SET delivered = ? WHERE alert_id = ?{held}",  # noqa: S608
                [
                    json.dumps(dict(delivered), sort_keys=True),
                    alert_id,
                    # each claim as a JSON string value (both backends render strings alike)
                    *(f"%{json.dumps(claim)}%" for claim in claims),
                ],
            )
    except WriteConflict:
        if not claims:
            raise
        return False  # a takeover of the claims wrote first
    return moved == 1


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A stored alert one of whose deliveries failed, as read: ``delivered_text`` is its stored
    statuses exactly, which the claim of its next delivery round compares against."""

    alert: StoredAlert
    delivered_text: str


def failed_deliveries(
    warehouse: Warehouse, *, limit: int = 100, prefixes: Sequence[str] = ("failed",)
) -> list[FailedDelivery]:
    """The newest alerts with a delivery whose status starts with one of ``prefixes`` (by
    default those that failed; the redelivery job adds the claims, to find expired ones),
    newest first."""
    if not prefixes:
        return []
    matches = " OR ".join("CAST(delivered AS VARCHAR) LIKE ?" for _ in prefixes)
    rows = warehouse.fetchall(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {matches}"  # noqa: S608
        " ORDER BY fired_at DESC, alert_id LIMIT ?",
        [*(f'%"{prefix}%' for prefix in prefixes), int(limit)],
    )
    found = []
    for row in rows:
        alert = _alert(row)
        if any(status.startswith(tuple(prefixes)) for status in alert.delivered.values()):
            found.append(FailedDelivery(alert, str(row[8])))
    return found


def claim_redelivery(warehouse: Warehouse, failed: FailedDelivery, delivered: Mapping[str, str]) -> bool:
    """Move the alert's statuses from what ``failed`` read to ``delivered`` (the round about to
    be tried) by compare-and-set; True for the one caller (of any replica) that may send it."""
    try:
        with warehouse.transaction() as con:
            moved = con.count(
                "UPDATE alerts SET delivered = ? WHERE alert_id = ? AND CAST(delivered AS VARCHAR) = ?",
                [json.dumps(dict(delivered), sort_keys=True), failed.alert.alert_id, failed.delivered_text],
            )
    except WriteConflict:
        return False  # another replica's claim wrote first
    return moved == 1


def list_alerts(
    warehouse: Warehouse, *, limit: int = 100, channel_id: str | None = None, rule: str | None = None
) -> list[StoredAlert]:
    """The newest alerts first (of one channel or rule when given)."""
    where, params = [], []
    if channel_id is not None:
        where.append("channel_id = ?")
        params.append(channel_id)
    if rule is not None:
        where.append("rule = ?")
        params.append(rule)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = warehouse.fetchall(
        f"SELECT {_ALERT_COLUMNS} FROM alerts {clause} ORDER BY fired_at DESC, alert_id LIMIT ?",  # noqa: S608
        [*params, int(limit)],
    )
    return [_alert(row) for row in rows]


def stored_rules(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The rules added through REST, as their JSON specs, by name."""
    rows = warehouse.fetchall("SELECT spec FROM alert_rules ORDER BY name")
    return [dict(json.loads(str(row[0]))) for row in rows]


def save_rule(warehouse: Warehouse, name: str, spec: Mapping[str, Any], at: datetime) -> bool:
    """Add or replace the stored rule ``name``; True when it is new."""
    text = json.dumps(dict(spec), sort_keys=True)
    with warehouse.transaction() as con:
        if con.count("UPDATE alert_rules SET spec = ? WHERE name = ?", [text, name]):
            return False
        con.count("INSERT INTO alert_rules (name, spec, created_at) VALUES (?, ?, ?)", [name, text, at])
    return True


def delete_rule(warehouse: Warehouse, name: str) -> bool:
    """Remove the stored rule ``name``; False when there was none."""
    with warehouse.transaction() as con:
        return con.count("DELETE FROM alert_rules WHERE name = ?", [name]) > 0
