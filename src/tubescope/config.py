"""Settings: environment ``TUBESCOPE_*``, then an optional ``tubescope.toml``, then defaults.

Built by :func:`load_settings` (never at import). CLI flags override by passing keyword values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tubescope.errors import ConfigError
from tubescope.warehouse.target import (
    DEFAULT_POOL_SIZE,
    PostgresTarget,
    WarehouseTarget,
    is_postgres_url,
    parse_target,
    with_pool_size,
)

DEFAULT_API_BASE = "https://www.googleapis.com/youtube/v3"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

AlertKind = Literal[
    "breakout", "views_per_hour", "subscriber_drop", "upload_gap", "quota", "collection_failed"
]


class AlertRuleSettings(BaseModel):
    """One alert rule, as written in ``tubescope.toml`` (``[[alert.rules]]``) or sent to REST."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: AlertKind
    threshold: float | None = Field(
        default=None,
        ge=0,
        description="breakout: same-age outlier score (5); views_per_hour: views (required); "
        "subscriber_drop and quota: a fraction (0.02, 0.8); upload_gap: times the usual gap (1.5).",
    )
    cooldown_hours: float = Field(default=24.0, ge=0, le=24 * 365)
    channels: list[str] = Field(default_factory=list, max_length=10_000)
    ages_hours: list[float] = Field(default_factory=lambda: [1.0, 24.0, 72.0], min_length=1, max_length=10)
    min_peers: int = Field(default=3, ge=1, le=1000)


class Settings(BaseSettings):
    """Every setting, each settable as ``TUBESCOPE_<NAME>`` or in ``tubescope.toml``.

    The README's settings table is generated from these fields (a test keeps the two equal).
    """

    model_config = SettingsConfigDict(env_prefix="TUBESCOPE_", extra="ignore", frozen=True)

    db_path: Path = Field(default=Path("tubescope.duckdb"), description="The warehouse file (DuckDB).")
    db_url: SecretStr | None = Field(
        default=None,
        description="`postgresql://user:password@host/db`: the team warehouse (wins over `db_path`).",
    )
    db_pool_size: int = Field(
        default=DEFAULT_POOL_SIZE,
        ge=1,
        le=1000,
        description="PostgreSQL: most connections each process (replica, worker, command) keeps open.",
    )
    youtube_api_base: str = Field(
        default=DEFAULT_API_BASE, description="Base URL of the YouTube Data API v3 (or of the emulator)."
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description='YouTube Data API keys, used in order as each runs out; a JSON list: `["AIza…"]`.',
    )
    # The API's per-user rate quota, 180,000 a minute (youtube/quota.py); the daily units bind first.
    requests_per_second: float = Field(
        default=3000.0, gt=0, description="Most requests per second sent to the YouTube API."
    )
    max_concurrency: int = Field(
        default=8, ge=1, le=256, description="Most YouTube API requests in flight at once."
    )
    max_retries: int = Field(
        default=5, ge=0, le=20, description="Retries of a failed YouTube API request (with backoff)."
    )
    breaker_failures: int = Field(
        default=10, ge=1, description="Consecutive failures that open the circuit breaker."
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="Seconds the open circuit breaker waits before a probe request."
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Timeout of one YouTube API request, in seconds."
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Prune snapshots older than this many days after each collection.",
    )
    # The 2026 data policy (../shared/YOUTUBE_API_NOTES.md): "strict" keeps raw statistics no
    # longer than retention_window_days and only derived daily aggregates beyond; "extended" keeps
    # everything (the operator has the policy's accepted amendment). tubescope.toml: [retention] mode.
    retention_mode: Literal["strict", "extended"] = Field(
        default="extended",
        description="`strict`: raw statistics past the window become daily aggregates; `extended`: kept.",
    )
    retention_window_days: int = Field(
        default=30, ge=1, description="Days of raw statistics the `strict` retention mode keeps."
    )
    model_dir: Path = Field(default=Path("models"), description="Where trained models are saved.")
    api_rate_per_second: float = Field(
        default=50.0, gt=0, description="REST API: requests per second per token (`serve --rate-limit`)."
    )
    api_rate_burst: int = Field(
        default=100, ge=1, description="REST API: burst of requests allowed per token (`serve --rate-burst`)."
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by several processes (caches, rate limits, queue); unset: one process.",
    )
    redis_prefix: str = Field(default="tubescope:", description="Prefix of every Redis key tubescope writes.")
    cache_dir: Path | None = Field(
        default=None, description="Folder of the disk cache tier; unset: beside the warehouse (`<db>.cache`)."
    )
    cache_memory_ttl_seconds: float = Field(
        default=300.0, gt=0, description="Seconds an entry lives in the in-process memory cache tier."
    )
    cache_memory_max_entries: int = Field(default=2048, ge=1, description="Most entries in the memory tier.")
    cache_memory_max_mb: int = Field(default=256, ge=1, description="Most megabytes in the memory tier.")
    cache_redis_ttl_seconds: float = Field(
        default=3600.0, gt=0, description="Seconds an entry lives in the Redis cache tier."
    )
    cache_redis_max_mb: int = Field(default=256, ge=1, description="Most megabytes in the Redis tier.")
    cache_generation_max_age_seconds: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="Seconds a replica reuses a channel's cache generation read from Redis.",
    )
    cache_disk_ttl_seconds: float = Field(
        default=7 * 86400.0, gt=0, description="Seconds an entry lives in the disk cache tier."
    )
    cache_disk_max_mb: int = Field(
        default=1024, ge=0, description="Most megabytes in the disk tier; 0 turns the disk tier off."
    )
    cache_warming: Literal["all", "answers", "off"] = Field(
        default="all",
        description=(
            "What `serve` computes ahead of requests, at startup and when a run lands: `all` (every channel's"
            " answers and analysis), `answers` (no analyses) or `off`."
        ),
    )
    public_url: str | None = Field(
        default=None,
        description="This service's public address; the WebSub hub pushes to `<public_url>/websub/<id>`.",
    )
    websub_hub: str = Field(
        default="https://pubsubhubbub.appspot.com/",
        description="The WebSub hub that YouTube's upload feeds publish through.",
    )
    watch_tick_seconds: float = Field(
        default=60.0, ge=1, description="How often `tubescope serve` looks for watched channels that are due."
    )
    watch_dense_hourly_hours: int = Field(
        default=24, ge=1, le=720, description="A new video is sampled every hour until this age (hours)."
    )
    watch_dense_every_hours: int = Field(
        default=6,
        ge=1,
        le=720,
        description="After the hourly phase, a new video is sampled this often (hours).",
    )
    watch_dense_until_hours: int = Field(
        default=72,
        ge=0,
        le=720,
        description="Dense sampling of a new video stops at this age (hours); 0 turns it off.",
    )
    key_daily_quota: int = Field(
        default=10_000,
        ge=1,
        description="Daily quota units of each API key and bucket, shared by all workers (and `/metrics`).",
    )
    job_lease_seconds: float = Field(
        default=30.0, gt=0, description="A worker that stops renewing a job's lease this long gives it up."
    )
    job_timeout_seconds: float = Field(default=6 * 3600.0, gt=0, description="Longest one job may run.")
    job_max_tries: int = Field(default=5, ge=1, description="Tries of a job before it is marked failed.")
    worker_concurrency: int = Field(
        default=1, ge=1, le=64, description="Jobs one `tubescope worker` runs at once."
    )
    output_dir: Path | None = Field(
        default=None,
        description="Where report and export jobs write, a folder each; unset: `outputs/` by the warehouse.",
    )
    log_level: str | None = Field(
        default=None,
        description="Log level (DEBUG, INFO, WARNING, ERROR); unset: WARNING for commands, INFO for `serve`.",
    )
    log_json: bool | None = Field(
        default=None,
        description="JSON log lines (true) or console (false); unset: JSON unless on a TTY.",
    )
    public_metrics: bool = Field(
        default=True, description="False: the service's `/metrics` needs an admin token."
    )
    public_docs: bool = Field(
        default=True,
        description="False: `/docs` and `/openapi.json` need a read token (or the dashboard sign-in).",
    )

    alert_rules: list[AlertRuleSettings] = Field(
        default_factory=list,
        description="Alert rules (`[[alert.rules]]` in tubescope.toml: name, kind, threshold, cooldown_hours,"
        " channels); more can be added through `/v1/alerts/rules`.",
    )
    alert_webhook_url: str | None = Field(
        default=None, description="Alerts are POSTed here as JSON signed with `alert_webhook_secret`."
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of the `X-Tubescope-Signature-256` header."
    )
    alert_smtp_host: str | None = Field(default=None, description="SMTP server that e-mails alerts.")
    alert_smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server.")
    alert_smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    alert_smtp_username: str | None = Field(default=None, description="SMTP login (unset: no login).")
    alert_smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    alert_email_from: str = Field(default="tubescope@localhost", description="Sender of alert e-mails.")
    alert_email_to: list[str] = Field(default_factory=list, description="Recipients of alert e-mails.")
    alert_retries: int = Field(
        default=5, ge=1, le=20, description="Attempts of each alert delivery (exponential backoff between)."
    )
    alert_retry_wait_seconds: float = Field(
        default=1.0, ge=0, le=600, description="Wait before the first delivery retry (doubling after)."
    )
    alert_redeliveries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="Further rounds of a failed alert delivery, one each time a run lands (0: none).",
    )
    alert_claim_lease_seconds: float = Field(
        default=600.0,
        ge=1,
        le=86_400,
        description="Age at which an alert delivery round's claim with no outcome recorded counts as"
        " cut short (a kill): the next redelivery pass takes it over as a failed round. Keep it above"
        " the longest delivery (attempts x 10 s timeout plus backoff).",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return level

    @property
    def warehouse_target(self) -> WarehouseTarget:
        """Where the warehouse lives: ``db_url`` (PostgreSQL) when set, else the DuckDB ``db_path``."""
        url = self.db_url.get_secret_value().strip() if self.db_url is not None else ""
        return with_pool_size(parse_target(url), self.db_pool_size) if url else self.db_path


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path.is_file():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML ({exc})") from None
            self._data = dict(raw.get("tubescope", raw))
            for section, values in list(self._data.items()):  # [retention] mode = … → retention_mode
                if isinstance(values, dict):
                    for key, value in values.items():
                        self._data.setdefault(f"{section}_{key}", value)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from env and ``tubescope.toml`` with ``overrides`` (CLI flags) winning.

    Overrides whose value is None are ignored so that unset flags fall through.
    """
    path = config_file or Path("tubescope.toml")
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file not found: {config_file}")

    class _Configured(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _TomlSource(settings_cls, path))

    given = {k: v for k, v in overrides.items() if v is not None and v != []}
    if "db_path" in given:  # --db takes a file or a postgresql:// URL, and wins over the environment
        chosen = given.pop("db_path")
        url = chosen.url if isinstance(chosen, PostgresTarget) else str(chosen)
        if isinstance(chosen, PostgresTarget) or (not isinstance(chosen, Path) and is_postgres_url(url)):
            given["db_url"] = url
        else:
            given["db_path"], given["db_url"] = chosen, ""
    try:
        configured = _Configured(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from None
    return Settings.model_validate(configured.model_dump())


def _default_text(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None or value == []:
        return "unset"
    return f"`{value}`"


def _type_text(name: str) -> str:
    annotation = Settings.model_fields[name].annotation
    text = getattr(annotation, "__name__", None) if not hasattr(annotation, "__args__") else None
    text = text or str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = text.replace("pydantic.types.", "").replace("<class '", "").replace("'>", "")
    return text.replace(" | NoneType", "").replace(" | None", "")


def settings_table() -> str:
    """The README's settings table (Markdown), one row per :class:`Settings` field."""
    rows = [
        "| environment variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        env = f"TUBESCOPE_{name.upper()}"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env}` | {_type_text(name)} | {_default_text(name)} | {description} |")
    return "\n".join(rows)
