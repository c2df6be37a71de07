"""A SIGKILL at any point of an archive or a restore loses and duplicates no snapshot row, on
DuckDB and on PostgreSQL.

Each trial copies a small warehouse (a file copy, or a database made from a template), runs the
job in a child process against the loopback S3 server, kills it right after its k-th durable
step (k and a few milliseconds of jitter drawn per trial, so kills land inside uploads,
verifications and transactions alike), then checks that every row is hot or cold exactly once,
and that finishing the job leaves no pending segment and no object the registry does not know.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.warehouse.archive_fill import fill
from tests.warehouse.test_archive import identities
from tubescope.warehouse import Warehouse
from tubescope.warehouse import archive as ar
from tubescope.warehouse.objectstore import ObjectStore

CHILD = Path(__file__).with_name("kill_archive.py")
TRIALS_PER_JOB = 10
"""Archive trials and restore trials, each, per backend."""
RESTORE_FROM, RESTORE_TO = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


@dataclass
class Copies:
    """Warehouses of one backend: empty ones, and copies of one that nobody has open."""

    backend: str
    folder: Path
    postgres: Any = None
    made: list[str] = field(default_factory=list)

    def empty(self, name: str) -> str:
        """A new, empty warehouse."""
        if self.postgres is None:
            return str(self.folder / f"{name}.duckdb")
        return self._made(self.postgres.create_database())

    def copy(self, source: str, name: str) -> str:
        """A copy of the warehouse ``source`` (closed in this process first)."""
        if self.postgres is None:
            shutil.copy(source, self.folder / f"{name}.duckdb")
            return str(self.folder / f"{name}.duckdb")
        self.release(source)
        return self._made(self.postgres.create_database(template=source.rsplit("/", 1)[1]))

    def release(self, target: str) -> None:
        """Close this process's connections to ``target`` (PostgreSQL keeps a pool)."""
        if self.postgres is not None:
            from tubescope.warehouse.postgres_backend import close_pools
            from tubescope.warehouse.target import PostgresTarget

            close_pools(PostgresTarget(target))

    def _made(self, url: str) -> str:
        self.made.append(url)
        return url


@pytest.fixture(params=["duckdb", "postgresql"])
def copies(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Copies]:
    """Warehouse copies on DuckDB files or on the session's PostgreSQL."""
    if request.param == "duckdb":
        yield Copies("duckdb", tmp_path)
        return
    made = Copies("postgresql", tmp_path, request.getfixturevalue("postgres"))
    yield made
    for url in made.made:
        made.release(url)


def _kill_after(args: list[str], steps: int, jitter: float) -> tuple[int, bool]:
    """Run the child, SIGKILL it ``jitter`` s after its ``steps``-th step line (0: after start)."""
    child = subprocess.Popen(  # the environment carries the test's AWS_* credentials
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert child.stdout is not None
    seen = 0
    finished = False
    while seen < steps:
        line = child.stdout.readline()
        if not line or line.startswith("done"):
            finished = True
            break
        seen += line.startswith("step ")
    time.sleep(jitter)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    return seen, finished or child.returncode == 0


def _no_strays(wh: Warehouse, location: str) -> None:
    assert ar.segments(wh, state="pending") == []
    known = {p for s in ar.segments(wh) for p in (s.data_path, s.manifest_path)}
    assert set(ObjectStore.open(location).list("")) <= known


def test_sigkill_during_archive_or_restore_loses_and_doubles_nothing(copies: Copies, s3_uri: str) -> None:
    base = copies.empty("base")
    last = fill(base, channels=2, videos=3, days=100, seed=11)
    cutoff = last - timedelta(days=10)
    with Warehouse.open(base) as wh:
        original: Counter[tuple[Any, ...]] = identities(wh)
    # an archived copy for the restore trials, and the number of steps of each job
    archived = copies.copy(base, "archived")
    steps: dict[str, int] = {"archive": 0, "restore": 0}
    with Warehouse.open(archived) as wh:
        ar.archive(wh, s3_uri, cutoff, on_step=lambda *_: steps.__setitem__("archive", steps["archive"] + 1))
    probe = copies.copy(archived, "probe")
    with Warehouse.open(probe) as wh:
        ar.restore(
            wh,
            RESTORE_FROM,
            RESTORE_TO,
            on_step=lambda *_: steps.__setitem__("restore", steps["restore"] + 1),
        )
    assert steps["archive"] >= 16 and steps["restore"] >= 4

    rng = random.Random(20261207)
    killed_mid_job: Counter[str] = Counter()
    trials: Counter[str] = Counter()
    for trial in range(2 * TRIALS_PER_JOB):
        op = "archive" if trial % 2 == 0 else "restore"
        trials[op] += 1
        db = copies.copy(base if op == "archive" else archived, f"trial{trial}")
        location = s3_uri.replace("/archive?", f"/trial{trial}?")
        if op == "archive":
            args = [db, "archive", location, cutoff.isoformat()]
        else:
            location = s3_uri
            args = [db, "restore", RESTORE_FROM.isoformat(), RESTORE_TO.isoformat()]
        at = rng.randrange(0, steps[op])
        _, finished = _kill_after(args, at, rng.uniform(0, 0.03))
        killed_mid_job[op] += not finished
        with Warehouse.open(db) as wh:
            assert identities(wh) == original, f"trial {trial}: {op} killed after step {at}"
            # finishing the job after the kill: still every row once, nothing left behind
            if op == "archive":
                ar.archive(wh, location, cutoff)
                assert wh.fetchone("SELECT count(*) FROM archive_segments WHERE state = 'active'")[0] > 0
            else:
                ar.restore(wh, RESTORE_FROM, RESTORE_TO)
                hot = wh.fetchone(
                    "SELECT count(*) FROM video_snapshots WHERE observed_at >= ? AND observed_at < ?",
                    [RESTORE_FROM, RESTORE_TO],
                )
                before = sum(
                    1 for k in original if k[0] == "video_snapshots" and RESTORE_FROM <= k[3] < RESTORE_TO
                )
                assert hot == (before,)
            assert identities(wh) == original
            _no_strays(wh, location)
        copies.release(db)
    assert trials == {"archive": TRIALS_PER_JOB, "restore": TRIALS_PER_JOB}
    # most kills land inside the job, not after it finished
    assert killed_mid_job["archive"] >= TRIALS_PER_JOB // 2, killed_mid_job
    assert killed_mid_job["restore"] >= TRIALS_PER_JOB // 2, killed_mid_job
