"""API tokens for the REST service: created by ``tubescope token create``, stored hashed.

Tokens are 256-bit random strings, so a plain SHA-256 is a sufficient hash (no password
stretching needed); only the hash, never the token, is written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from tubescope.errors import ConfigError

TOKEN_PREFIX = "ts_"  # noqa: S105 -- a public prefix that lets log redaction spot tokens


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        order = [Scope.READ, Scope.WRITE, Scope.ADMIN]
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    name: str
    scope: Scope
    created_at: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """A small JSON file of hashed tokens, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[float, dict[str, dict[str, str]]] | None = None

    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        mtime = self.path.stat().st_mtime
        if self._cache is None or self._cache[0] != mtime:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"token file {self.path} is unreadable: {exc}") from None
            self._cache = (mtime, data)
        return self._cache[1]

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        Path(tmp).chmod(0o600)
        Path(tmp).replace(self.path)
        self._cache = None

    def create(self, scope: Scope, name: str = "") -> tuple[str, TokenInfo]:
        """Returns the plaintext token (shown once) and its stored description."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(
            token_id=secrets.token_hex(6),
            name=name or f"{scope.value}-token",
            scope=scope,
            created_at=datetime.now(UTC).isoformat(),
        )
        data = dict(self._load())
        data[_hash(token)] = {k: str(v) for k, v in asdict(info).items()}
        self._save(data)
        return token, info

    def verify(self, token: str) -> TokenInfo | None:
        digest = _hash(token)
        for stored, row in self._load().items():
            if hmac.compare_digest(stored, digest):
                return TokenInfo(row["token_id"], row["name"], Scope(row["scope"]), row["created_at"])
        return None

    def list(self) -> list[TokenInfo]:
        return [
            TokenInfo(r["token_id"], r["name"], Scope(r["scope"]), r["created_at"])
            for r in self._load().values()
        ]

    def revoke(self, token_id: str) -> bool:
        data = {h: r for h, r in self._load().items() if r["token_id"] != token_id}
        removed = len(data) != len(self._load())
        if removed:
            self._save(data)
        return removed


def token_store_for(db_path: Path) -> TokenStore:
    """Tokens live beside the warehouse they grant access to."""
    return TokenStore(db_path.with_name(db_path.name + ".tokens.json"))
