"""A real child process is SIGKILLed mid-write; the database must survive with whole batches only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tubescope.warehouse import RunStatus, Warehouse

WRITER = Path(__file__).with_name("kill_writer.py")
BATCHES, SIZE = 8, 400
CHANNEL = "UCkillkillkillkillkill00"

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _start(db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(BATCHES), str(SIZE), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_to_end(db: Path) -> str:
    child = _start(db)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return out


def _state(db: Path) -> dict[str, pd.DataFrame]:
    with Warehouse.open(db, read_only=True) as wh:
        return {
            "snapshots": wh.query(
                "SELECT video_id, channel_id, run_id, observed_at, view_count, like_count, comment_count,"
                " likes_hidden, comments_hidden, source, fetched_at FROM video_snapshots ORDER BY video_id"
            ),
            "videos": wh.query(
                "SELECT video_id, title, latest_view_count, run_id FROM videos ORDER BY video_id"
            ),
            "checkpoint": wh.query(
                "SELECT run_id, channel_id, page_token, pages_done FROM collection_checkpoints"
            ),
            "done": wh.query("SELECT video_id FROM checkpoint_videos_done ORDER BY video_id"),
        }


def _batch_sizes(db: Path) -> dict[int, int]:
    with Warehouse.open(db, read_only=True) as wh:
        counts = wh.query(
            "SELECT CAST(substr(video_id, 2, 4) AS INTEGER) AS batch, count(*) AS n"
            " FROM video_snapshots GROUP BY 1 ORDER BY 1"
        )
    return dict(zip(counts["batch"].tolist(), counts["n"].tolist(), strict=True))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run's database."""
    db = tmp_path_factory.mktemp("reference") / "reference.duckdb"
    assert _run_to_end(db).strip().endswith("finished")
    return db


def test_sigkill_inside_a_transaction_leaves_only_whole_batches(tmp_path: Path, reference: Path) -> None:
    db = tmp_path / "killed.duckdb"
    killed_in = 5
    child = _start(db, str(killed_in))
    assert child.stdout is not None
    seen: list[str] = []
    while True:
        line = child.stdout.readline().strip()
        assert line, f"writer ended early: {child.stderr.read() if child.stderr else ''}"
        seen.append(line)
        if line == f"inside {killed_in}":
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert seen[:-1] == [f"committed {b}" for b in range(killed_in)]

    # The database opens; batches 0..4 are whole, the batch being written when killed is absent.
    assert _batch_sizes(db) == dict.fromkeys(range(killed_in), SIZE)
    with Warehouse.open(db) as wh:
        run = wh.find_resumable_run("killtest", ["@killtest"])
        assert run is not None and run.status is RunStatus.RUNNING
        checkpoint = wh.load_checkpoint(run.run_id, CHANNEL)
        assert checkpoint is not None and checkpoint.pages_done == killed_in
        assert len(checkpoint.done_video_ids) == killed_in * SIZE

    # Re-running the loop resumes from the checkpoint and yields exactly the uninterrupted result.
    out = _run_to_end(db)
    assert out.split()[1] == str(killed_in)  # "committed 5" first: nothing before it was redone
    after, expected = _state(db), _state(reference)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)
    with Warehouse.open(db, read_only=True) as wh:
        final = wh.get_run(run.run_id)
    assert final.status is RunStatus.COMPLETED and final.attempts == 2


def test_sigkill_at_an_arbitrary_moment_then_rerun_matches_reference(tmp_path: Path, reference: Path) -> None:
    db = tmp_path / "killed.duckdb"
    child = _start(db)
    assert child.stdout is not None
    assert child.stdout.readline().startswith("committed")
    time.sleep(0.05)  # somewhere in the following batches, in or between transactions
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    sizes = _batch_sizes(db)
    assert set(sizes.values()) == {SIZE}, f"a partial batch survived the kill: {sizes}"
    assert sorted(sizes) == list(range(len(sizes)))
    _run_to_end(db)
    after, expected = _state(db), _state(reference)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)
