"""API tokens for the REST service: created by ``tubescope token create``, stored hashed.

Tokens are 256-bit random strings, so a plain SHA-256 is a sufficient hash (no password
stretching needed); only the hash, never the token, is stored. They live in the warehouse's
``api_tokens`` table, so every replica on the same warehouse (DuckDB file or PostgreSQL) sees
the same tokens. A JSON token file left beside a DuckDB warehouse by an older tubescope is
imported once and renamed ``*.imported``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from tubescope.errors import ConfigError
from tubescope.jobs.common import open_for_writing
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.shared_state import StoredToken, add_token, delete_token, find_token, list_tokens
from tubescope.warehouse.target import WarehouseTarget

TOKEN_PREFIX = "ts_"  # noqa: S105 -- a public prefix that lets log redaction spot tokens
VERIFIED_TTL_S = 2.0
"""How long a verified token is trusted without asking the warehouse again (a revocation takes
effect on every replica within this)."""


class Scope(StrEnum):
    """What an API token may do: read, write, or administer."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        """Whether this scope includes ``needed`` (admin includes write, write includes read)."""
        order = [Scope.READ, Scope.WRITE, Scope.ADMIN]
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token's public details (never the secret)."""

    token_id: str
    name: str
    scope: Scope
    created_at: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: StoredToken) -> TokenInfo:
    return TokenInfo(row.token_id, row.name, Scope(row.scope), row.created_at.astimezone(UTC).isoformat())


WarehouseOpener = Callable[[], AbstractContextManager[Warehouse]]


class TokenStore:
    """Hashed tokens in the warehouse, reached through ``open_warehouse`` (a fresh or borrowed
    writable warehouse per call). ``path`` is the legacy JSON file imported on first use."""

    def __init__(self, open_warehouse: WarehouseOpener, path: Path | None = None) -> None:
        self._open = open_warehouse
        self.path = path
        self._verified: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()
        self._imported = path is None

    def _warehouse(self) -> AbstractContextManager[Warehouse]:
        if not self._imported:
            self._import_legacy()
        return self._open()

    def _import_legacy(self) -> None:
        path = self.path
        self._imported = True
        if path is None or not path.is_file():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"token file {path} is unreadable: {exc}") from None
        with self._open() as warehouse:
            for digest, row in dict(data).items():
                add_token(
                    warehouse,
                    StoredToken(
                        str(digest),
                        str(row["token_id"]),
                        str(row["name"]),
                        Scope(row["scope"]).value,
                        datetime.fromisoformat(str(row["created_at"])),
                    ),
                )
        path.replace(path.with_name(path.name + ".imported"))

    def create(self, scope: Scope, name: str = "") -> tuple[str, TokenInfo]:
        """Returns the plaintext token (shown once) and its stored description."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = StoredToken(
            token_hash=_hash(token),
            token_id=secrets.token_hex(6),
            name=name or f"{scope.value}-token",
            scope=Scope(scope).value,
            created_at=datetime.now(UTC),
        )
        with self._warehouse() as warehouse:
            add_token(warehouse, row)
        return token, _info(row)

    def verify(self, token: str) -> TokenInfo | None:
        """The token's description when it is stored (and not revoked), else None."""
        digest = _hash(token)
        now = time.monotonic()
        with self._lock:
            cached = self._verified.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._warehouse() as warehouse:
            row = find_token(warehouse, digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            with self._lock:
                self._verified.pop(digest, None)
            return None
        info = _info(row)
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[digest] = (now + VERIFIED_TTL_S, info)
        return info

    def list(self) -> list[TokenInfo]:
        """Every stored token's description (never the token)."""
        with self._warehouse() as warehouse:
            return [_info(row) for row in list_tokens(warehouse)]

    def revoke(self, token_id: str) -> bool:
        """Remove the token; False when no token has this id."""
        with self._warehouse() as warehouse:
            removed = delete_token(warehouse, token_id)
        with self._lock:
            self._verified = {k: v for k, v in self._verified.items() if v[1].token_id != token_id}
        return removed


def legacy_token_file(target: WarehouseTarget) -> Path | None:
    """Where an older tubescope kept a DuckDB warehouse's tokens (None for PostgreSQL)."""
    if not isinstance(target, Path):
        return None
    return target.with_name(target.name + ".tokens.json")


def token_store_for(target: WarehouseTarget) -> TokenStore:
    """The tokens of the warehouse they grant access to (any process on it sees the same)."""
    return TokenStore(lambda: open_for_writing(target), legacy_token_file(target))
