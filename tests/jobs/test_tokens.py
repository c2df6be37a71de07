"""API tokens live in the warehouse, hashed, so every process on it (replicas, CLI) sees the same."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.warehouse import Warehouse
from tubescope.warehouse.postgres_backend import close_pools
from tubescope.warehouse.target import WarehouseTarget, parse_target


@pytest.fixture(params=["duckdb", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseTarget]:
    if request.param == "duckdb":
        yield tmp_path / "w.duckdb"
        return
    found = parse_target(request.getfixturevalue("postgres_url"))
    yield found
    close_pools(found)  # type: ignore[arg-type]


def test_tokens_are_shared_hashed_and_revocable(target: WarehouseTarget) -> None:
    mine, theirs = token_store_for(target), token_store_for(target)  # two processes' stores
    token, info = mine.create(Scope.WRITE, "ci")
    assert token.startswith("ts_") and info.scope is Scope.WRITE and info.name == "ci"
    seen = theirs.verify(token)
    assert seen is not None and (seen.token_id, seen.scope) == (info.token_id, Scope.WRITE)
    assert theirs.verify(token + "x") is None
    assert [t.token_id for t in theirs.list()] == [info.token_id]
    with Warehouse.open(target) as wh:
        stored = wh.fetchall("SELECT token_hash FROM api_tokens")
        dump = wh.query("SELECT * FROM api_tokens").to_csv()
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(),)]
    assert token not in dump  # only the hash is kept
    assert mine.revoke(info.token_id) and not mine.revoke(info.token_id)
    fresh = token_store_for(target)
    assert fresh.verify(token) is None and fresh.list() == []


def test_a_token_file_from_an_older_tubescope_is_imported_once(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    token = "ts_" + "a" * 43
    legacy = db.with_name(db.name + ".tokens.json")
    row = {"token_id": "abc123", "name": "old", "scope": "read", "created_at": "2026-01-01T00:00:00+00:00"}
    legacy.write_text(json.dumps({hashlib.sha256(token.encode()).hexdigest(): row}), encoding="utf-8")
    info = token_store_for(db).verify(token)
    assert info is not None and (info.token_id, info.scope) == ("abc123", Scope.READ)
    assert not legacy.exists() and legacy.with_name(legacy.name + ".imported").exists()
    assert [t.token_id for t in token_store_for(db).list()] == ["abc123"]


def test_token_cli_on_postgres_never_prints_the_password(postgres_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tubescope.cli", "token", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    created = cli("create", "--scope", "admin", "--name", "ops", "--db", postgres_url)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    listed = cli("list", "--db", postgres_url)
    assert listed.returncode == 0 and "ops" in listed.stdout and token not in listed.stdout
    info = token_store_for(parse_target(postgres_url)).verify(token)
    assert info is not None and info.scope is Scope.ADMIN
    revoked = cli("revoke", info.token_id, "--db", postgres_url)
    assert revoked.returncode == 0, revoked.stderr
    secret_url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:s3cret-pw@")
    wrong = cli("list", "--db", secret_url.rsplit("/", 1)[0] + "/missing_db")
    assert wrong.returncode != 0 and "s3cret-pw" not in wrong.stderr + wrong.stdout
    assert "Traceback" not in wrong.stderr
    assert not (tmp_path / "tubescope.duckdb").exists()
    close_pools(parse_target(postgres_url))  # type: ignore[arg-type]
