"""The ``tubescope`` command line: one thin command per job in :mod:`tubescope.jobs`.

Any :class:`~tubescope.errors.TubescopeError` becomes one readable line on stderr and the error's
exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import gc
import json
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from tubescope import __version__
from tubescope.errors import TubescopeError
from tubescope.jobs.console import SafeConsole, safe_text
from tubescope.logging import capture_stdlib_loggers, configure_from_env, configure_logging, redact_text

if TYPE_CHECKING:
    from tubescope.warehouse.alerts import StoredAlert
    from tubescope.warehouse.target import WarehouseTarget

DB_HELP = "Warehouse: a DuckDB file or a postgresql:// URL (TUBESCOPE_DB_PATH, TUBESCOPE_DB_URL)."


def _db_target(db: str | None) -> WarehouseTarget | None:
    """``--db`` as a warehouse target (None: the configured one); a URL's password is never shown."""
    from tubescope.warehouse.target import parse_target

    return parse_target(db) if db else None


app = typer.Typer(
    name="tubescope",
    help="YouTube channel analytics: collect, store, analyse, predict and report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stderr = SafeConsole(stderr=True)
_state: dict[str, bool | None] = {"debug": False, "log_json": None}


class _Working:
    """Progress for a wait: a spinner on a terminal; piped, once the wait passes a second, one
    timestamped line per step on stderr, so a log or CI shows what is happening instead of
    silence (and a quick answer or error stays a single line)."""

    DELAY_SECONDS = 1.0

    def __init__(self, message: str) -> None:
        import threading

        self._message = message
        self._spinner: Any = None
        self._lock = threading.Lock()
        self._shown = False
        self._done = False
        self._timer = threading.Timer(self.DELAY_SECONDS, self._show)
        self._timer.daemon = True

    def __enter__(self) -> _Working:
        if stderr.is_terminal:
            self._spinner = stderr.status(self._message)
            self._spinner.__enter__()
        else:
            self._timer.start()
        return self

    def _show(self) -> None:
        with self._lock:
            if not self._done:
                self._shown = True
                self._line(self._message)

    def update(self, message: str) -> None:
        """Show the current step."""
        if self._spinner is not None:
            self._spinner.update(message)
            return
        with self._lock:
            self._message = message
            if self._shown:
                self._line(message)

    def _line(self, message: str) -> None:
        import time

        stderr.print(f"[{time.strftime('%H:%M:%S')}] {message}", highlight=False, soft_wrap=True)

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True  # a late timer prints nothing
        if self._spinner is not None:
            self._spinner.__exit__(*exc_info)


def _working(message: str) -> _Working:
    return _Working(message)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_json: Annotated[bool | None, typer.Option("--log-json/--log-console", help="Log format.")] = None,
) -> None:
    _state["debug"] = debug
    _state["log_json"] = log_json
    if ctx.invoked_subcommand != "version":  # it logs nothing: start without structlog
        configure_from_env("WARNING", debug=debug, json=log_json)


@app.command()
def version() -> None:
    """Print the tubescope version."""
    typer.echo(__version__)


emulator_app = typer.Typer(help="The offline YouTube: a simulated world behind a Data API v3 emulator.")
app.add_typer(emulator_app, name="emulator")


@emulator_app.command("serve")
def emulator_serve(
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8080,
    seed: Annotated[int, typer.Option(help="World seed: same seed, same answers.")] = 7,
    channels: Annotated[int, typer.Option(help="Number of simulated channels.")] = 20,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    quota: Annotated[int, typer.Option(help="Daily quota units per demo key.")] = 10_000,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", help="Injected latency per request (ms).")
    ] = 0.0,
    error_rate: Annotated[float, typer.Option(help="Share of requests answered 500 backendError.")] = 0.0,
) -> None:
    """Serve the emulated Data API v3; prints the base URL and the demo keys."""
    from tubescope.emulator.server import serve
    from tubescope.errors import ConfigError

    if channels < 1 or quota < 0 or latency_ms < 0 or not 0 <= error_rate <= 1:
        raise ConfigError("--channels must be >= 1, --quota and --latency-ms >= 0, --error-rate within 0..1")
    serve(
        host=host,
        port=port,
        seed=seed,
        n_channels=channels,
        daily_quota=quota,
        latency_ms=latency_ms,
        error_rate=error_rate,
        echo=typer.echo,
    )


@app.command()
def collect(
    refs: Annotated[list[str], typer.Argument(help="Channels: UC… ids, @handles, channel or video URLs.")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="API key; repeat for several (TUBESCOPE_API_KEYS).")
    ] = None,
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Data API base URL (TUBESCOPE_YOUTUBE_API_BASE).")
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Stop cleanly before spending more units.")
    ] = None,
    comments: Annotated[bool, typer.Option("--comments", help="Also collect comments and replies.")] = False,
    max_comments: Annotated[
        int | None, typer.Option("--max-comments", help="Most top-level comments per video.")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Walk the whole uploads playlist again.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the planned quota cost; collect nothing.")
    ] = False,
    allow_search: Annotated[
        bool, typer.Option("--allow-search", help="Allow search.list (100 units) to resolve /c/ URLs.")
    ] = False,
    detect_shorts: Annotated[
        bool, typer.Option("--detect-shorts", help="Walk the UUSH playlist to tell Shorts (costs units).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
) -> None:
    """Collect channels into the warehouse: incremental, resumable, quota-exact."""
    from tubescope.jobs import collect as job

    with job.RichProgress(SafeConsole(stderr=True), budget=budget) as progress:
        summary = job.collect(
            refs,
            db_path=_db_target(db),
            api_keys=api_key or (),
            api_base=api_base,
            budget=budget,
            comments=comments,
            max_comments=max_comments,
            full=full,
            dry_run=dry_run,
            allow_search=allow_search,
            detect_shorts=detect_shorts,
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2, sort_keys=True))
    else:
        typer.echo(safe_text(job.summary_text(summary)))
    if summary.exit_error is not None:
        raise summary.exit_error


@app.command()
def prune(
    older_than_days: Annotated[
        int, typer.Option("--older-than-days", help="Delete snapshots observed more than N days ago.")
    ],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was pruned as JSON.")] = False,
) -> None:
    """Drop old statistics snapshots; each video's and channel's latest one is kept."""
    from tubescope.jobs import retention as job

    outcome = job.prune(_db_target(db), older_than_days=older_than_days)
    typer.echo(json.dumps(outcome.as_dict(), indent=2, sort_keys=True) if as_json else outcome.text())


@app.command()
def train(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    model_dir: Annotated[Path | None, typer.Option("--model-dir", help="Where models are stored.")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="Forecast age: 7d, 48h, 2w.")] = "7d",
    trees: Annotated[
        int, typer.Option("--trees", min=10, max=5000, help="Boosting rounds (the forest gets a third).")
    ] = 300,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evaluation as JSON.")] = False,
) -> None:
    """Train the view forecaster on the warehouse (time-based split) and store a new model version."""
    from tubescope.jobs import train as job
    from tubescope.predict.model import ForecastOptions, parse_horizon

    horizon_days = parse_horizon(horizon)
    options = ForecastOptions(horizon_days=horizon_days, n_estimators=trees, forest_trees=trees // 3)
    with _working("training the ensemble (LightGBM, XGBoost, random forest)…"):
        outcome = job.train(db_path=_db_target(db), model_dir=model_dir, options=options)
    if as_json:
        typer.echo(json.dumps(outcome.to_dict(), indent=2, sort_keys=True))
    else:
        SafeConsole().print(job.report_table(outcome))
        typer.echo(f"saved model {outcome.manifest.version} in {outcome.model_dir}")


@app.command()
def predict(
    channel: Annotated[str, typer.Option("--channel", help="UC… channel id or @handle.")],
    title: Annotated[str, typer.Option("--title", help="The planned title.")],
    duration: Annotated[str, typer.Option("--duration", help="Seconds, mm:ss or PT10M30S.")],
    publish_at: Annotated[str, typer.Option("--publish-at", help="ISO-8601 time (UTC if no offset).")],
    short: Annotated[bool, typer.Option("--short", help="The video is a Short.")] = False,
    tags: Annotated[list[str] | None, typer.Option("--tags", help="Tag (repeat or comma-separate).")] = None,
    category: Annotated[str | None, typer.Option("--category", help="YouTube category id.")] = None,
    horizon: Annotated[str | None, typer.Option("--horizon", help="Must match the model's: 7d.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Warehouse for fresh channel priors.")] = None,
    model_dir: Annotated[Path | None, typer.Option("--model-dir", help="Where models are stored.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the forecast as JSON.")] = False,
) -> None:
    """Forecast a planned video's views with 80% and 95% intervals and the reasons."""
    from tubescope.jobs import predict as job
    from tubescope.predict.model import parse_horizon

    tag_list = tuple(t.strip() for raw in (tags or []) for t in raw.split(",") if t.strip())
    video = job.PlannedVideo(
        channel=channel,
        title=title,
        duration_seconds=job.parse_duration(duration),
        published_at=job.parse_publish_time(publish_at),
        short=short,
        tags=tag_list,
        category_id=category,
    )
    horizon_days = parse_horizon(horizon) if horizon is not None else None
    with _working("loading the model and forecasting…"):
        forecast = job.predict(video, horizon_days=horizon_days, db_path=_db_target(db), model_dir=model_dir)
    if as_json:
        typer.echo(json.dumps(forecast.to_dict(), indent=2, sort_keys=True))
    else:
        SafeConsole().print(job.forecast_table(forecast))


@contextlib.contextmanager
def _one_shot_imports() -> Iterator[None]:
    """The imports of a one-shot command, run with the cyclic garbage collector off; every object
    alive after them (chiefly the modules imported) is then moved out of the collector's
    generations (:func:`gc.freeze`).

    Importing pandas, scipy, scikit-learn and the analysis creates ~2,000 modules and set off ~460
    collections (three of them full) over objects that all live until the command exits: ~0.2 s
    of CPU. Afterwards the analysis allocates enough objects to set off full collections, and
    each one walked the ~160k objects those libraries leave behind: about 0.5 s of a 10k-video
    analysis. Never used by the long-running service, where objects alive at a freeze would never
    be collected. Only a collector this found on is switched back on.

    scipy is imported without its docstring rewriting (:mod:`tubescope.lean_imports`): ~0.3 s of
    a 10k-video report's CPU.
    """
    from tubescope.lean_imports import skip_scipy_docstring_rewrites

    enabled = gc.isenabled()
    gc.disable()
    try:
        skip_scipy_docstring_rewrites()
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()


@app.command()
def analyze(
    ref: Annotated[str, typer.Argument(help="A collected channel: UC… id, @handle or URL.")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only videos published from this date.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every result as JSON.")] = False,
    tz: Annotated[
        str,
        typer.Option("--tz", help="IANA time zone for the best publish day and hour, e.g. Europe/Berlin."),
    ] = "UTC",
) -> None:
    """Engagement, growth, same-age performance, timing, outliers, correlations, A/B and time series."""
    with _one_shot_imports():
        from tubescope.config import load_settings
        from tubescope.jobs import analyze as job
        from tubescope.jobs.common import parse_date

    settings = load_settings(db_path=db)
    with _working("analysing…"):
        analysis, frames = job.analyze_with_frames(
            settings.warehouse_target, ref, since=parse_date(since) if since else None, timezone=tz
        )
    if as_json:
        typer.echo(json.dumps(analysis.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        SafeConsole().print(job.analysis_summary(analysis, settings.warehouse_target, frames=frames))


@app.command()
def compare(
    refs: Annotated[list[str], typer.Argument(help="Two or more collected channels.")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Each channel's KPIs as a percentile among the others, normalised for channel size."""
    from tubescope.config import load_settings
    from tubescope.jobs import analyze as job

    with _working("comparing…"):
        results = job.compare(load_settings(db_path=db).warehouse_target, refs)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True))
    else:
        SafeConsole().print(job.comparison_table(results))


@app.command()
def abtest(
    ref: Annotated[str, typer.Argument(help="A collected channel: UC… id, @handle or URL.")],
    group_a: Annotated[str, typer.Argument(help="Filter for group A, e.g. \"title contains '?'\".")],
    versus: Annotated[
        str | None,
        typer.Option("--versus", "-b", help="Filter for group B (default: every other video)."),
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence level, e.g. 0.95.")] = 0.95,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap (reproducible).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    wide: Annotated[
        bool,
        typer.Option("--wide", help="One wide table (default: a short table per format under 140 columns)."),
    ] = False,
) -> None:
    """A/B test two groups of a channel's videos: view lift with confidence interval and a verdict.

    Filters: fields title, tags, category, format, duration, tag_count, views, likes, comments,
    title_length, published_at, weekday, hour; operators = != < <= > >= contains startswith in;
    and/or/not and parentheses, e.g. "duration > 600 and not (title contains 'vs')".
    """
    from tubescope.config import load_settings
    from tubescope.jobs import abtest as job

    settings = load_settings(db_path=db)
    with _working("testing…"):
        result = job.abtest(settings.warehouse_target, ref, group_a, versus, confidence=confidence, seed=seed)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        console = SafeConsole()
        console.print(job.abtest_summary(result, wide=wide or console.width >= 140))


@app.command()
def report(
    ref: Annotated[str, typer.Argument(help="A collected channel: UC… id, @handle or URL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (one self-contained page).")] = Path(
        "report.html"
    ),
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    peers: Annotated[
        list[str] | None,
        typer.Option("--peers", help="Collected peer channels to compare with (repeat, or a,b,c)."),
    ] = None,
    report_format: Annotated[
        str, typer.Option("--format", help="html, pdf or png (pdf/png need Chromium).")
    ] = "html",
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Days the KPIs cover (default 28; half the data if shorter)."),
    ] = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Report as of this date (default: the last observation).")
    ] = None,
    summary: Annotated[bool, typer.Option("--summary/--no-summary", help="Also print the summary.")] = True,
) -> None:
    """Executive report: KPIs, growth and forecast, timing, outliers, A/B, peers and recommendations."""
    with _one_shot_imports():
        from tubescope.config import load_settings
        from tubescope.jobs import report as job
        from tubescope.jobs.common import parse_date
        from tubescope.report.terminal import render_summary

    settings = load_settings(db_path=db)
    with _working("building the report…") as status:
        outcome = job.write_report(
            settings.warehouse_target,
            ref,
            out,
            peers=[p.strip() for given in peers or () for p in given.split(",") if p.strip()],
            report_format=report_format,
            now=parse_date(now) if now else None,
            window_days=window_days,
            progress=lambda message: status.update(f"{message}…"),
        )
    if summary:
        SafeConsole().print(render_summary(outcome.model))
    stderr.print(
        f"wrote {outcome.path} ({outcome.report_format.value}, {outcome.size_bytes / 1e6:.1f} MB, "
        f"{outcome.n_recommendations} recommendations)",
        highlight=False,
    )


@app.command()
def runs(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="How many runs to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List the collection runs recorded in the warehouse, newest first."""
    from tubescope.config import load_settings
    from tubescope.jobs import runs as job

    found = job.list_runs(load_settings(db_path=db).warehouse_target, limit=limit)
    if as_json:
        typer.echo(json.dumps([job.run_dict(r) for r in found], indent=2, sort_keys=True))
    elif not found:
        typer.echo("no collection runs yet; run `tubescope collect @handle`")
    else:
        SafeConsole().print(job.runs_table(found))


@app.command("export")
def export_tables(
    out: Annotated[Path, typer.Option("--out", help="Folder for the dataset (one sub-folder per table).")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    export_format: Annotated[
        str, typer.Option("--format", help="parquet (a partitioned lake), csv, json or xlsx.")
    ] = "parquet",
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help="Table to export (repeatable; default: the analytic tables)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the exported tables in a non-empty --out folder.")
    ] = False,
) -> None:
    """Export warehouse tables: a Parquet lake (partitioned by channel_id and snapshot_date), or
    one CSV/JSON file per table, or one Excel workbook with a sheet per table."""
    from tubescope.jobs import export as job

    result = job.run_export(
        out,
        db_path=_db_target(db),
        fmt=export_format,
        tables=table or (),
        console=stderr,
        overwrite=overwrite,
    )
    for item in result.tables:
        typer.echo(f"{item.table}: {item.rows} rows in {item.files} files -> {item.path}")
    stderr.print(f"exported {result.rows} rows in {result.seconds:.1f}s", highlight=False)


@app.command()
def archive(
    to: Annotated[str, typer.Option("--to", help="Archive location: s3://bucket/prefix or file:///folder.")],
    older_than: Annotated[
        str, typer.Option("--older-than", help="Move snapshots observed longer ago than this (90d, 12w).")
    ] = "90d",
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="video_snapshots or channel_snapshots (default both).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was archived as JSON.")] = False,
) -> None:
    """Move old snapshots to Parquet on object storage (verified before they leave the warehouse)."""
    from tubescope.jobs import archive as job

    summary = job.run_archive(_db_target(db), to=to, older_than=older_than, tables=table or ())
    typer.echo(json.dumps(summary.as_dict(), indent=2, sort_keys=True) if as_json else summary.text())


@app.command()
def restore(
    start: Annotated[str, typer.Option("--from", help="First day to bring back (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Day after the last one (YYYY-MM-DD, UTC).")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="video_snapshots or channel_snapshots (default both).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was restored as JSON.")] = False,
) -> None:
    """Bring archived snapshots of a date range back into the warehouse."""
    from tubescope.jobs import archive as job

    summary = job.run_restore(_db_target(db), start=start, end=end, tables=table or ())
    typer.echo(json.dumps(summary.as_dict(), indent=2, sort_keys=True) if as_json else summary.text())


fleet_app = typer.Typer(help="Fleet compute over the Parquet lake (Dask distributed).", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")


@fleet_app.command("kpis")
def fleet_kpis_command(
    lake: Annotated[str, typer.Option("--lake", help="The lake: a folder from `export`, file:// or s3://.")],
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (default: a LocalCluster).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="LocalCluster worker processes.")] = 2,
    engine: Annotated[str, typer.Option("--engine", help="dask, or duckdb (one process).")] = "dask",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="ISO time with zone (default: the last observation).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON records.")] = False,
) -> None:
    """Fleet KPIs (derived metrics) per channel over the lake."""
    from datetime import datetime

    from tubescope.errors import ConfigError
    from tubescope.jobs import fleet as job

    try:
        now = datetime.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise ConfigError(
            f"invalid --as-of {as_of!r}: use an ISO time such as 2026-03-01T00:00:00+00:00"
        ) from None
    result = job.run_fleet_kpis(lake, scheduler=scheduler, engine=engine, workers=workers, now=now)
    if as_json:
        records = json.loads(result.table.to_json(orient="records", date_format="iso"))
        typer.echo(json.dumps({"as_of": result.as_of.isoformat(), "engine": result.engine, "derived": True,
                               "channels": records}, indent=2))  # fmt: skip
    else:
        typer.echo(result.table.to_string(index=False))
        stderr.print(
            f"{len(result.table)} channels as of {result.as_of.isoformat()} ({result.engine}, "
            f"{result.tasks} task(s), {result.workers} worker(s)); derived metrics",
            highlight=False,
        )


@fleet_app.command("train")
def fleet_train_command(
    lake: Annotated[str, typer.Option("--lake", help="The lake: a folder from `export`, file:// or s3://.")],
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (default: a LocalCluster).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="LocalCluster worker processes.")] = 2,
    horizon: Annotated[
        float, typer.Option("--horizon-days", min=0.01, help="Forecast views at this age.")
    ] = 7.0,
    trees: Annotated[int, typer.Option("--trees", min=1, help="Boosting rounds.")] = 200,
    folds: Annotated[int, typer.Option("--folds", min=0, help="Rolling origins scored first.")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="Write the LightGBM model (text) here.")] = None,
) -> None:
    """Train a view forecaster over the lake with LightGBM's Dask integration (rolling-origin checked)."""
    from tubescope.jobs import fleet as job

    stderr.print("building training rows on the workers, then training with lightgbm.dask…", highlight=False)
    result = job.run_fleet_train(
        lake, scheduler=scheduler, workers=workers, horizon_days=horizon, trees=trees, folds=folds, out=out
    )
    typer.echo(json.dumps(result.as_dict(), indent=2))


@app.command()
def serve(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    rate_limit: Annotated[
        float | None,
        typer.Option("--rate-limit", min=0.001, help="Requests per second per token (default 50)."),
    ] = None,
    rate_burst: Annotated[
        int | None, typer.Option("--rate-burst", min=1, help="Burst allowed per token (default 100).")
    ] = None,
) -> None:
    """Serve the REST API (/v1, /health, /ready, /metrics, /docs) and the web dashboard."""
    import dataclasses

    import structlog
    import uvicorn

    from tubescope.config import load_settings
    from tubescope.jobs.catalog import open_pool
    from tubescope.service.app import create_app, default_options

    settings = load_settings(db_path=db)
    options = default_options(settings)
    # Open the warehouse once before the server starts: a locked, corrupt or newer-schema one is
    # one line and exit code 10 here, rather than a startup traceback from inside uvicorn.
    open_pool(options.db_path).close()
    if rate_limit is not None:
        options = dataclasses.replace(options, rate_per_second=rate_limit)
    if rate_burst is not None:
        options = dataclasses.replace(options, rate_burst=rate_burst)
    # A service logs at INFO unless told otherwise, so its access log is on by default.
    level = "DEBUG" if _state["debug"] else settings.log_level or "INFO"
    log_json = _state["log_json"] if _state["log_json"] is not None else settings.log_json
    configure_logging(level, json=log_json)
    capture_stdlib_loggers(["uvicorn", "uvicorn.error"])
    structlog.get_logger("tubescope.serve").info(
        "serve.listening", url=f"http://{host}:{port}", docs="/docs", warehouse=str(settings.warehouse_target)
    )
    # uvicorn's own access log is off: the service writes one JSON line per request itself.
    uvicorn.run(create_app(settings, options), host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="The job queue (default: TUBESCOPE_REDIS_URL).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, max=64, help="Jobs run at once (default 1).")
    ] = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once the queue is empty.")] = False,
) -> None:
    """Run queued jobs (collect, train, report, export) from Redis; start as many as you like."""
    import structlog

    from tubescope.config import load_settings
    from tubescope.jobs.queue import safe_url
    from tubescope.jobs.worker import run_worker

    settings = load_settings(db_path=db, redis_url=redis_url)
    # A worker logs at INFO unless told otherwise (each job's lines carry job_id and request_id);
    # arq reports each job's start and end through the standard logging module, routed alike.
    level = "DEBUG" if _state["debug"] else settings.log_level or "INFO"
    configure_logging(level, json=_state["log_json"] if _state["log_json"] is not None else settings.log_json)
    capture_stdlib_loggers(["arq", "tubescope.worker"])
    structlog.get_logger("tubescope.worker").info(
        "worker.started",
        redis=safe_url(settings.redis_url or ""),
        warehouse=str(settings.warehouse_target),
        burst=burst,
    )
    run_worker(settings, burst=burst, concurrency=concurrency)


token_app = typer.Typer(help="API tokens for the REST service.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    scope: Annotated[str, typer.Option("--scope", help="read, write or admin.")] = "read",
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "",
    db: Annotated[str | None, typer.Option("--db", help="Warehouse the token grants access to.")] = None,
) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from tubescope.config import load_settings
    from tubescope.errors import ConfigError
    from tubescope.jobs.tokens import Scope, token_store_for

    try:
        chosen = Scope(scope.lower())
    except ValueError:
        raise ConfigError(f"unknown scope {scope!r}; use read, write or admin") from None
    token, info = token_store_for(load_settings(db_path=db).warehouse_target).create(chosen, name)
    stderr.print(f"created {info.scope.value} token {info.token_id} ({info.name}); it is shown only once:")
    typer.echo(token)


@token_app.command("list")
def token_list(db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None) -> None:
    """List tokens (ids, names and scopes; never the tokens)."""
    from tubescope.config import load_settings
    from tubescope.jobs.tokens import token_store_for

    for info in token_store_for(load_settings(db_path=db).warehouse_target).list():
        typer.echo(f"{info.token_id}\t{info.scope.value}\t{info.name}\t{info.created_at}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id shown by `token list`.")],
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Revoke a token by id."""
    from tubescope.config import load_settings
    from tubescope.errors import NotFoundError
    from tubescope.jobs.tokens import token_store_for

    if not token_store_for(load_settings(db_path=db).warehouse_target).revoke(token_id):
        raise NotFoundError(f"no token with id {token_id}")
    typer.echo(f"revoked {token_id}")


watch_app = typer.Typer(help="Watch lists: channels collected on a schedule.", no_args_is_help=True)
app.add_typer(watch_app, name="watch")
DbOption = Annotated[str | None, typer.Option("--db", help="Warehouse: a DuckDB file or postgresql:// URL.")]


@watch_app.command("add")
def watch_add(
    refs: Annotated[list[str], typer.Argument(help="Channels: UC… ids, @handles or URLs.")],
    every: Annotated[str, typer.Option("--every", help="How often to collect: 30m, 6h, 1d, 1w.")] = "1d",
    group: Annotated[str, typer.Option("--group", help="A name to list and plan watches by.")] = "default",
    db: DbOption = None,
) -> None:
    """Watch channels (channels never collected are collected now, as their first tick)."""
    from tubescope.jobs import watch as job

    period = job.parse_every(every)
    with stderr.status("adding the watches…"):
        change = job.add(refs, every=period, group=group, db=db)
    described = job.describe_every(period)
    typer.echo(f"watching {len(change.channel_ids)} channels every {described} ({change.changed} new)")


@watch_app.command("list")
def watch_list(
    group: Annotated[str | None, typer.Option("--group", help="Only this group.")] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List watched channels, their period and last tick."""
    from tubescope.jobs import watch as job

    listed = job.watches(db=db, group=group)
    if as_json:
        typer.echo(json.dumps(job.watch_rows(listed), indent=2))
        return
    for w in listed:
        last = w.last_tick_at.isoformat() if w.last_tick_at else "never"
        typer.echo(f"{w.channel_id}\t{job.describe_every(w.every)}\t{w.group}\t{last}")


@watch_app.command("remove")
def watch_remove(
    refs: Annotated[list[str], typer.Argument(help="Watched channels to stop watching.")],
    db: DbOption = None,
) -> None:
    """Stop watching channels (their data stays)."""
    from tubescope.jobs import watch as job

    change = job.remove(refs, db=db)
    typer.echo(f"stopped watching {change.changed} channels")


@watch_app.command("plan")
def watch_plan(
    db: DbOption = None,
    keys: Annotated[
        int | None, typer.Option("--keys", min=1, help="Keys to plan for (default: configured).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Quota units per bucket per day for the watch list; exits 2 when the keys cannot carry it."""
    from tubescope.jobs import watch as job
    from tubescope.watch.plan import require_fit

    planned = job.daily_plan(db=db, keys=keys)
    if as_json:
        typer.echo(json.dumps(planned.as_dict(), indent=2, sort_keys=True))
    else:
        for bucket, units in planned.units_per_day.items():
            typer.echo(f"{bucket}: {units} units/day of {planned.capacity}")
        typer.echo(f"{planned.channels} channels watched; about {planned.max_channels} such channels fit")
    require_fit(planned)


@app.command("alerts")
def alerts_list(
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel's alerts.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Newest alerts shown.")] = 50,
    check: Annotated[
        bool, typer.Option("--check", help="First evaluate the rules over the watch list and deliver.")
    ] = False,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List the alerts that fired, newest first (rules: `[[alert.rules]]` in tubescope.toml)."""
    from tubescope.jobs import alerts as job

    if check:
        fired = job.check_now(db=db)
        stderr.print(f"{len(fired)} new alerts")
    listed = job.alerts(db=db, limit=limit, channel=channel)
    if as_json:
        typer.echo(json.dumps([a.as_dict() for a in listed], indent=2))
    for alert in [] if as_json else listed:
        sent = ", ".join(f"{k} {v}" for k, v in sorted(alert.delivered.items())) or "listed only"
        typer.echo(f"{alert.fired_at.isoformat()}\t{alert.rule}\t{alert.message}\t({sent})")
    if check:
        _fail_on_undelivered(fired)


def _fail_on_undelivered(fired: list[StoredAlert]) -> None:
    """Exit 13 when an alert this check fired could not be delivered (it stays listed)."""
    from tubescope.errors import DeliveryError

    failed = [a for a in fired if any(v.startswith("failed") for v in a.delivered.values())]
    if failed:
        ways = sorted({k for a in failed for k, v in a.delivered.items() if v.startswith("failed")})
        raise DeliveryError(
            f"{len(failed)} of {len(fired)} new alerts could not be delivered by {' and '.join(ways)} "
            "after their retries; they stay listed (tubescope alerts)"
        )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the warehouse, model and report.")] = Path(
        "demo-output"
    ),
    seed: Annotated[int, typer.Option("--seed", help="World seed of the emulator.")] = 7,
    peers: Annotated[int, typer.Option("--peers", min=1, max=20, help="Peer channels to compare with.")] = 3,
    days: Annotated[
        int, typer.Option("--days", min=2, max=90, help="Emulated days tubescope serve watches the channels.")
    ] = 30,
) -> None:
    """Run the whole job offline on the built-in emulator and write the report."""
    from tubescope.demo import run_demo

    with _working("starting the emulator…") as status:
        outcome = run_demo(out, seed=seed, n_peers=peers, days=days, step=lambda m: status.update(m + "…"))
    stderr.print(
        f"tubescope serve watched {1 + len(outcome.peer_ids)} channels for {days} emulated days "
        f"({outcome.hours} scheduler hours): {outcome.collections} collections "
        f"({outcome.quota_used} quota units), trained model {outcome.model_version}"
    )
    stderr.print(f"warehouse: {outcome.db_path}")
    typer.echo(f"report written to {outcome.report_path.resolve()}")


class _Terminated(BaseException):
    """SIGTERM outside a collection (which stops at a checkpoint by itself): leave at once."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def _fail(message: str, code: int) -> NoReturn:
    """One line on stderr and the exit code; with --debug the traceback comes first, same code."""
    if _state["debug"]:
        traceback.print_exc()
    stderr.print(message, highlight=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: maps anticipated errors to one line and an exit code.

    ``--debug`` adds the traceback but keeps the exit code, so scripts see the same status.
    """
    with contextlib.suppress(ValueError):  # not the main thread (embedded): keep the default
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        app(standalone_mode=False)
    except TubescopeError as exc:
        _fail(f"[bold red]error:[/] {escape(redact_text(str(exc)))}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("[yellow]interrupted[/] (SIGINT)", 130)
    except _Terminated:
        _fail("[yellow]terminated[/] (SIGTERM)", 143)
    except Exception as exc:
        # Typer vendors its own click: its usage errors, Exit and Abort are recognised by shape.
        code = getattr(exc, "exit_code", None)
        if isinstance(code, int) and not isinstance(exc, TubescopeError):
            show = getattr(exc, "show", None)
            if callable(show):
                show()
            sys.exit(code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        _fail(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(redact_text(str(exc)))}"
            " (rerun with --debug)",
            70,
        )


if __name__ == "__main__":
    main()
