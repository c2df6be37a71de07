"""`tubescope watch add|list|plan|remove` as a user runs them, against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tubescope.jobs.watch import describe_every, parse_every
from tubescope.testing import running_emulator


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_periods_parse_and_print_back() -> None:
    assert describe_every(parse_every("1d")) == "1d"
    assert describe_every(parse_every("6h")) == "6h"
    assert describe_every(parse_every("90m")) == "90m"


def test_watch_commands_end_to_end(tmp_path: Path) -> None:
    with running_emulator(seed=8, n_channels=4) as emu:
        ids = emu.world.channel_ids()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
        env.update(
            TUBESCOPE_DB_PATH=str(tmp_path / "w.duckdb"),
            TUBESCOPE_YOUTUBE_API_BASE=emu.base_url,
            TUBESCOPE_API_KEYS=json.dumps(emu.keys[:1]),
        )
        added = _cli(env, tmp_path, "watch", "add", ids[0], ids[1], "--every", "6h", "--group", "team")
        assert added.returncode == 0, added.stderr
        assert "watching 2 channels every 6h (2 new)" in added.stdout
        listed = json.loads(_cli(env, tmp_path, "watch", "list", "--json").stdout)
        assert [(row["channel_id"], row["every"], row["group"]) for row in listed] == sorted(
            [(ids[0], "6h", "team"), (ids[1], "6h", "team")]
        )
        planned = _cli(env, tmp_path, "watch", "plan", "--json")
        assert planned.returncode == 0, planned.stderr
        figures = json.loads(planned.stdout)
        assert figures["channels"] == 2 and figures["fits"]
        assert figures["units_per_day"]["default"] >= 2 * 4  # a playlist page per channel per 6 h tick
        refused = _cli(env, tmp_path, "watch", "add", "not a channel")
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        bad_period = _cli(env, tmp_path, "watch", "add", ids[0], "--every", "soon")
        assert bad_period.returncode == 2 and "invalid period" in bad_period.stderr
        removed = _cli(env, tmp_path, "watch", "remove", ids[1])
        assert removed.returncode == 0 and "stopped watching 1 channels" in removed.stdout
        over = _cli(env, tmp_path, "watch", "plan", "--keys", "1")
        assert over.returncode == 0
        env["TUBESCOPE_KEY_DAILY_QUOTA"] = "3"
        tight = _cli(env, tmp_path, "watch", "plan")
        assert tight.returncode == 2 and "such channels fit" in tight.stderr


def test_a_watch_sweep_evaluates_the_alert_rules_once(tmp_path: Path) -> None:
    from datetime import timedelta

    from tubescope.config import AlertRuleSettings, load_settings
    from tubescope.jobs.collect import collect
    from tubescope.jobs.watch import sweep
    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.alerts import list_alerts
    from tubescope.warehouse.watches import add_watches

    with running_emulator(seed=12, n_channels=2) as emu:
        channel_id = emu.world.channel_ids()[0]
        db = tmp_path / "w.duckdb"
        collect([channel_id], db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        settings = load_settings(
            db_path=db,
            youtube_api_base=emu.base_url,
            api_keys=emu.keys[:1],
            # any channel with a known cadence is "silent" at 0.001x its usual gap
            alert_rules=[AlertRuleSettings(name="gap", kind="upload_gap", threshold=0.001)],
        )
        with Warehouse.open(db) as warehouse:
            add_watches(warehouse, [channel_id], every=timedelta(days=1), group="default", at=emu.clock.now())
        for hours in (1, 2):
            emu.set_now(emu.clock.now() + timedelta(hours=hours))
            result = sweep(emu.clock.now(), channel_ids=[channel_id], dense=False, settings=settings)
            assert result.run_id is not None and channel_id in result.touched
            with Warehouse.open(db, read_only=True) as warehouse:
                fired = list_alerts(warehouse)
            # fired by the first sweep; the second finds it already sent
            assert [(a.rule, a.channel_id) for a in fired] == [("gap", channel_id)]


def test_a_failed_watch_tick_is_tried_again_an_hour_later_not_a_day(tmp_path: Path) -> None:
    from contextlib import AbstractContextManager
    from datetime import timedelta

    import pytest

    from tubescope.config import load_settings
    from tubescope.errors import TubescopeError
    from tubescope.jobs.collect import collect
    from tubescope.jobs.watch import RETRY_FAILED_TICK_AFTER, sweep, tick
    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.watches import add_watches, list_watches

    with running_emulator(seed=12, n_channels=2) as emu:
        channel_id = emu.world.channel_ids()[0]
        db = tmp_path / "w.duckdb"
        collect([channel_id], db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        settings = load_settings(
            db_path=db, youtube_api_base=emu.base_url, api_keys=emu.keys[:1], max_retries=0
        )
        with Warehouse.open(db) as warehouse:
            add_watches(warehouse, [channel_id], every=timedelta(days=1), group="default", at=emu.clock.now())

        def borrow() -> AbstractContextManager[Warehouse]:
            return Warehouse.open(db)

        first = emu.clock.now()
        assert tick(borrow, first) == [channel_id]
        emu.set_faults(backend_error_rate=1.0)  # every API call fails: the watch job fails
        with pytest.raises(TubescopeError):
            sweep(first, channel_ids=[channel_id], dense=False, settings=settings)
        emu.set_faults()
        retry = first + RETRY_FAILED_TICK_AFTER
        assert tick(borrow, retry - timedelta(minutes=1)) == []
        assert tick(borrow, retry) == [channel_id]  # claimed again once, within the hour
        assert tick(borrow, retry + timedelta(minutes=1)) == []
        emu.set_now(retry)
        result = sweep(retry, channel_ids=[channel_id], dense=False, settings=settings)
        assert result.run_id is not None and result.snapshots > 0
        with Warehouse.open(db, read_only=True) as warehouse:
            (watched,) = list_watches(warehouse)
            runs = warehouse.fetchall("SELECT status FROM collection_runs ORDER BY run_id")
            statuses = [str(row[0]) for row in runs]
        # the next daily tick counts from the retry that succeeded
        assert watched.last_tick_at == retry and not watched.due(retry + timedelta(hours=23))
        assert statuses[-2:] == ["failed", "completed"]  # the failed tick is logged as a failed run
