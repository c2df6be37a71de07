"""The CLI and the package start without the heavy libraries (a functional check, not a timing).

``tubescope --help``, ``version`` and the commands that need no analysis must not pay for scipy,
plotly, statsmodels, scikit-learn, pandas, LightGBM, XGBoost or DuckDB: each is imported where it
is used. Each check runs in a fresh interpreter and lists what ``sys.modules`` holds afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "scipy",
    "plotly",
    "statsmodels",
    "sklearn",
    "pandas",
    "numpy",
    "lightgbm",
    "xgboost",
    "duckdb",
    "pyarrow",
    "httpx",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import tubescope",
        "import tubescope.cli",
        "import tubescope.logging",
        # What `tubescope --help` and `tubescope version` run, in process (typer exits via SystemExit).
        "from tubescope.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass",
        "from tubescope.cli import app\ntry:\n    app(['version'])\nexcept SystemExit:\n    pass",
        "from tubescope.cli import app\ntry:\n    app(['report', '--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_starting_the_cli_loads_no_heavy_library(code: str) -> None:
    heavy = sorted(_loaded_after(code) & set(HEAVY))
    assert heavy == [], f"{code!r} imported {heavy}"


def test_version_starts_without_the_logging_stack() -> None:
    code = "from tubescope.cli import app\ntry:\n    app(['version'])\nexcept SystemExit:\n    pass"
    assert "structlog" not in _loaded_after(code)


def test_the_probe_sees_a_heavy_import() -> None:
    """The check has teeth: importing the analysis does load scipy and pandas."""
    assert {"scipy", "pandas"} <= _loaded_after("import tubescope.analysis.timing")


def test_the_package_namespace_stays_lazy() -> None:
    import tubescope

    with pytest.raises(AttributeError):
        _ = tubescope.no_such_name  # type: ignore[attr-defined]
    assert "__version__" in dir(tubescope)


def test_the_collector_loads_no_analysis_library() -> None:
    """A collection run (which refreshes the maintained fleet KPIs when it lands) imports no
    scipy, statsmodels, scikit-learn or plotly: it pays for what it uses only."""
    modules = ("tubescope.jobs.collect", "tubescope.pipeline.kpi_aggregates", "tubescope.jobs.retention")
    loaded = _loaded_after("\n".join(f"import {m}" for m in modules))
    assert "tubescope" in loaded
    assert sorted(loaded & {"scipy", "statsmodels", "sklearn", "plotly", "lightgbm", "xgboost"}) == []


def test_the_report_loads_no_ets_model_base() -> None:
    """A report (its analysis, model and page) never fits ETS, the comparison forecast, so it does
    not import ETS's module, which pulls statsmodels' model base with formulaic and patsy."""
    code = "import tubescope.jobs.report, tubescope.analysis.summary, tubescope.analysis.timeseries"
    assert sorted(_loaded_after(code) & {"formulaic", "patsy"}) == []


def test_the_ets_forecast_still_loads_its_model() -> None:
    """The check above has teeth: asking for the ETS forecast does import formulaic or patsy
    (through statsmodels' model base)."""
    code = (
        "import numpy as np, pandas as pd\n"
        "from tubescope.analysis.timeseries import DailyViews, forecast_views\n"
        "days = pd.date_range('2026-01-01', periods=60, freq='D')\n"
        "views = pd.Series(1000 + 10 * np.arange(60.0), index=days, name='views')\n"
        "forecast_views(DailyViews('UC' + 'x' * 22, views, 0, 0), horizon_days=7, n_paths=10)"
    )
    assert _loaded_after(code) & {"formulaic", "patsy"}
