from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unknown_command_is_a_usage_error_not_a_traceback() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_version_prints_and_exits_zero() -> None:
    result = run_cli("version")
    assert result.returncode == 0 and result.stdout.strip()


def test_alerts_lists_what_fired_and_refuses_an_unknown_channel(tmp_path: object) -> None:
    import json
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from tubescope.warehouse import Warehouse
    from tubescope.warehouse.alerts import claim_alert, record_delivery

    db = Path(str(tmp_path)) / "alerts.duckdb"
    with Warehouse.open(db) as warehouse:
        alert = claim_alert(
            warehouse,
            dedupe_key="quota:key-1:default:2026-05-20",
            rule="quota",
            subject="key-1:default",
            cooldown=timedelta(hours=6),
            channel_id=None,
            video_id=None,
            value=0.85,
            message="API key key-1 has spent 85% of today's default quota.",
            now=datetime(2026, 5, 20, 12, tzinfo=UTC),
        )
        assert alert is not None
        record_delivery(warehouse, alert.alert_id, {"webhook": "sent"})
    listed = run_cli("alerts", "--db", str(db), "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["rule"], row["value"], row["delivered"]) == ("quota", 0.85, {"webhook": "sent"})
    text = run_cli("alerts", "--db", str(db))
    assert text.returncode == 0 and "85% of today's default quota" in text.stdout
    assert "webhook sent" in text.stdout
    missing = run_cli("alerts", "--db", str(db), "--channel", "@nobody-here")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_analyze_and_report_exempt_their_imports_from_the_cyclic_gc(tmp_path: Path) -> None:
    """The one-shot analysis commands freeze what they imported (gc.freeze) before analysing, so
    full collections during the analysis do not walk the libraries' objects again and again."""
    import gc

    from typer.testing import CliRunner

    from tubescope.cli import app

    missing = tmp_path / "none.duckdb"
    for command in (["analyze", "UCx"], ["report", "UCx", "--out", str(tmp_path / "r.html")]):
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        try:
            result = CliRunner().invoke(app, [*command, "--db", str(missing)])
            assert result.exit_code != 0  # no such warehouse: refused after the imports
            assert gc.get_freeze_count() > 10_000, command
        finally:
            gc.unfreeze()


def test_analyze_and_report_import_with_the_cyclic_gc_off(tmp_path: Path) -> None:
    """In a fresh interpreter, the analysis commands' imports (numpy, pandas, scipy, scikit-learn,
    the analysis) set off no collection: the collector is off while they run, and on again after
    (the CLI's own start, typer and logging, is not counted)."""
    probe = (
        "import gc, json, sys\n"
        "from tubescope.cli import app\n"
        "starts = []\n"
        "heavy = lambda: 'numpy' in sys.modules  # the analysis's imports have begun\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and heavy() and starts.append(phase))\n"
        "try:\n"
        "    app(sys.argv[1:], standalone_mode=False)\n"
        "except Exception:\n"
        "    pass  # no such warehouse: refused after the imports\n"
        "seen = {'collections': len(starts), 'enabled': gc.isenabled(), 'modules': len(sys.modules)}\n"
        "print(json.dumps(seen))"
    )
    missing = str(tmp_path / "none.duckdb")
    for command in (["analyze", "UCx"], ["report", "UCx", "--out", str(tmp_path / "r.html")]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *command, "--db", missing],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["modules"] > 1_000, (command, seen)  # the heavy imports did happen
        assert seen["enabled"], command
        # Without the pause, these imports set off ~460 collections.
        assert seen["collections"] < 20, (command, seen)


def test_analyze_and_report_import_scipy_without_its_docstring_rewriting(tmp_path: Path) -> None:
    """In a fresh interpreter, the analysis commands import scipy with its docstrings as written
    (tubescope.lean_imports): scipy's note-appending, ~0.3 s of a report, is skipped."""
    probe = (
        "import json, sys\n"
        "from tubescope.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:], standalone_mode=False)\n"
        "except Exception:\n"
        "    pass  # no such warehouse: refused after the imports\n"
        "import scipy.stats\n"
        "print(json.dumps({'doc': scipy.stats.ttest_ind.__doc__, 'modules': len(sys.modules)}))"
    )
    missing = str(tmp_path / "none.duckdb")
    for command in (["analyze", "UCx"], ["report", "UCx", "--out", str(tmp_path / "r.html")]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *command, "--db", missing],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["modules"] > 1_000, command  # the analysis's imports did happen
        assert "Calculate the T-test" in seen["doc"], command
        assert "Array API Standard Support" not in seen["doc"], command


def test_runs_tokens_and_fleet_refusals_read_as_one_line(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from tubescope.warehouse import Warehouse

    db = Path(str(tmp_path)) / "empty.duckdb"
    with Warehouse.open(db):
        pass
    none_yet = run_cli("runs", "--db", str(db))
    assert none_yet.returncode == 0 and "no collection runs yet" in none_yet.stdout
    as_json = run_cli("runs", "--db", str(db), "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
    bad_scope = run_cli("token", "create", "--scope", "root", "--db", str(db))
    assert bad_scope.returncode == 2 and "unknown scope 'root'; use read, write or admin" in bad_scope.stderr
    unknown = run_cli("token", "revoke", "tok-nope", "--db", str(db))
    assert unknown.returncode == 3 and "no token with id tok-nope" in unknown.stderr
    as_of = run_cli("fleet", "kpis", "--lake", str(tmp_path), "--as-of", "yesterday")
    assert as_of.returncode == 2 and "invalid --as-of 'yesterday'" in as_of.stderr
    for result in (bad_scope, unknown, as_of):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
