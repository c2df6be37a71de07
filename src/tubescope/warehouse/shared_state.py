"""State every replica must agree on, kept in the warehouse: API tokens and model manifests.

Tokens are stored as their SHA-256 only (``api_tokens``); a saved model's manifest is recorded
in ``model_manifests`` so every replica knows the latest model (the model file itself stays in
the model directory). The SQL is written once for both backends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tubescope.warehouse.repository import Warehouse


@dataclass(frozen=True, slots=True)
class StoredToken:
    """One ``api_tokens`` row (the hash, never the token)."""

    token_hash: str
    token_id: str
    name: str
    scope: str
    created_at: datetime


_ROW_COLUMNS = "token_hash, token_id, name, scope, created_at"


def add_token(warehouse: Warehouse, token: StoredToken) -> bool:
    """Store ``token``; False when its hash or id is already stored (nothing changes then)."""
    with warehouse.transaction() as con:
        return (
            con.count(
                f"INSERT INTO api_tokens ({_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",  # noqa: S608
                [token.token_hash, token.token_id, token.name, token.scope, token.created_at],
            )
            == 1
        )


def find_token(warehouse: Warehouse, token_hash: str) -> StoredToken | None:
    """The stored token with this hash, if any."""
    row = warehouse.fetchone(f"SELECT {_ROW_COLUMNS} FROM api_tokens WHERE token_hash = ?", [token_hash])  # noqa: S608
    return StoredToken(*row) if row else None


def list_tokens(warehouse: Warehouse) -> list[StoredToken]:
    """Every stored token, oldest first."""
    rows = warehouse.fetchall(f"SELECT {_ROW_COLUMNS} FROM api_tokens ORDER BY created_at, token_id")  # noqa: S608
    return [StoredToken(*row) for row in rows]


def delete_token(warehouse: Warehouse, token_id: str) -> bool:
    """Remove the token with this id; False when there was none."""
    with warehouse.transaction() as con:
        return con.count("DELETE FROM api_tokens WHERE token_id = ?", [token_id]) > 0


def record_manifest(warehouse: Warehouse, manifest: dict[str, Any], *, saved_at: datetime) -> None:
    """Record (or refresh) a saved model's manifest under its version."""
    json_type = warehouse.dialect.json_type
    with warehouse.transaction() as con:
        con.rows(
            "INSERT INTO model_manifests (version, kind, feature_version, manifest, saved_at)"  # noqa: S608
            f" VALUES (?, ?, ?, CAST(? AS {json_type}), ?)"
            " ON CONFLICT (version) DO UPDATE SET kind = excluded.kind,"
            " feature_version = excluded.feature_version, manifest = excluded.manifest,"
            " saved_at = excluded.saved_at",
            [
                str(manifest["version"]),
                str(manifest["kind"]),
                str(manifest["feature_version"]),
                json.dumps(manifest, sort_keys=True),
                saved_at,
            ],
        )


def latest_manifest(warehouse: Warehouse, kind: str | None = None) -> dict[str, Any] | None:
    """The most recently saved model's manifest (of ``kind`` when given), or None."""
    where = "WHERE kind = ?" if kind is not None else ""
    row = warehouse.fetchone(
        f"SELECT CAST(manifest AS VARCHAR) FROM model_manifests {where}"  # noqa: S608
        " ORDER BY saved_at DESC, version DESC LIMIT 1",
        [kind] if kind is not None else None,
    )
    if row is None:
        return None
    loaded: dict[str, Any] = json.loads(row[0])
    return loaded
