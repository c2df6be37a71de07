"""A collection-like write loop run as a child process by test_crash_safety.py.

Usage: python kill_writer.py DB BATCHES BATCH_SIZE [PAUSE_IN_BATCH]

Writes BATCHES batches of BATCH_SIZE video snapshots, each batch and its checkpoint in one
transaction, resuming from the checkpoint of an unfinished run. With PAUSE_IN_BATCH it stops
inside that batch's transaction (rows written, not committed), says ``inside N`` and waits to be
killed. Prints ``committed N`` after each commit. Everything is deterministic.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tubescope.domain.models import Channel, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse import Warehouse

T0 = datetime(2026, 4, 1, tzinfo=UTC)
CHANNEL = "UCkillkillkillkillkill00"
SOURCE = "killtest"
REFS = ["@killtest"]


def video_id(batch: int, index: int) -> str:
    return f"k{batch:04d}{index:06d}"


def main() -> None:
    db, batches, size = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    pause_in = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    with Warehouse.open(db, clock=lambda: T0) as wh:
        earlier = wh.find_resumable_run(SOURCE, REFS)
        if earlier is None:
            run = wh.start_run(SOURCE, REFS, ["key-0000000001"])
        else:
            run = wh.resume_run(earlier.run_id).run_id
        checkpoint = wh.load_checkpoint(run, CHANNEL)
        start = checkpoint.pages_done if checkpoint else 0
        if start == 0:
            with wh.transaction():
                wh.upsert_channel(
                    run,
                    Channel(
                        CHANNEL, "Kill", "@killtest", "", T0, None, None, "UU" + CHANNEL[2:], 10, False, 1, 1
                    ),
                )
        for batch in range(start, batches):
            ids = [video_id(batch, i) for i in range(size)]
            videos = [
                Video(v, CHANNEL, f"t{v}", "", T0 - timedelta(days=1), 60, "PT1M", VideoFormat.LONG, ("x",))
                for v in ids
            ]
            snaps = [
                VideoSnapshot(v, T0, batch * 1000 + i, None if i % 7 == 0 else i, i % 5)
                for i, v in enumerate(ids)
            ]
            with wh.transaction():
                wh.upsert_videos(run, videos)
                wh.record_video_snapshots(run, snaps)
                if batch == pause_in:
                    print(f"inside {batch}", flush=True)
                    time.sleep(600)
                wh.save_checkpoint(
                    run, CHANNEL, page_token=f"page-{batch + 1}", pages_done=batch + 1, done_video_ids=ids
                )
            print(f"committed {batch}", flush=True)
        wh.finish_run(run, "completed", counters={"batches": batches - start})
    print("finished", flush=True)


if __name__ == "__main__":
    main()
