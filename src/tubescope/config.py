"""Settings: environment ``TUBESCOPE_*``, then an optional ``tubescope.toml``, then defaults.

Built by :func:`load_settings` (never at import). CLI flags override by passing keyword values.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tubescope.errors import ConfigError
from tubescope.warehouse.target import PostgresTarget, WarehouseTarget, is_postgres_url, parse_target

DEFAULT_API_BASE = "https://www.googleapis.com/youtube/v3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TUBESCOPE_", extra="ignore", frozen=True)

    db_path: Path = Path("tubescope.duckdb")
    db_url: SecretStr | None = None
    """``postgresql://user:password@host/db``: the team warehouse (wins over ``db_path``)."""
    youtube_api_base: str = DEFAULT_API_BASE
    api_keys: list[SecretStr] = Field(default_factory=list)
    # The API's per-user rate quota, 180,000 a minute (youtube/quota.py); the daily units bind first.
    requests_per_second: float = Field(default=3000.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1, le=256)
    max_retries: int = Field(default=5, ge=0, le=20)
    breaker_failures: int = Field(default=10, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    # The 2026 data policy (../shared/YOUTUBE_API_NOTES.md): "strict" keeps raw statistics no
    # longer than retention_window_days and only derived daily aggregates beyond; "extended" keeps
    # everything (the operator has the policy's accepted amendment). tubescope.toml: [retention] mode.
    retention_mode: Literal["strict", "extended"] = "extended"
    retention_window_days: int = Field(default=30, ge=1)
    model_dir: Path = Path("models")
    log_level: str = "INFO"
    # Shared state (caches, rate limits, queue) for several processes: TUBESCOPE_REDIS_URL.
    # None: everything stays in one process (the embedded default needs no server).
    redis_url: str | None = None
    redis_prefix: str = "tubescope:"
    # Cache tiers: memory LRU -> Redis (with redis_url) -> disk -> compute, each with a TTL and
    # a size bound. cache_dir None: the disk tier lives beside the warehouse (<db>.cache);
    # cache_disk_max_mb 0 turns the disk tier off.
    cache_dir: Path | None = None
    cache_memory_ttl_seconds: float = Field(default=300.0, gt=0)
    cache_memory_max_entries: int = Field(default=2048, ge=1)
    cache_memory_max_mb: int = Field(default=256, ge=1)
    cache_redis_ttl_seconds: float = Field(default=3600.0, gt=0)
    cache_redis_max_mb: int = Field(default=256, ge=1)
    # how long a replica reuses a channel's generation read from Redis (another replica's run
    # is seen within it; its own at once)
    cache_generation_max_age_seconds: float = Field(default=0.5, ge=0, le=60)
    cache_disk_ttl_seconds: float = Field(default=7 * 86400.0, gt=0)
    cache_disk_max_mb: int = Field(default=1024, ge=0)
    # Durable jobs (with redis_url): `tubescope worker` runs them from an arq queue in Redis.
    public_url: str | None = None
    """This service's address as the internet reaches it (``https://tubescope.example.org``): the
    WebSub hub pushes new uploads to ``<public_url>/websub/<channel id>``. Unset: no push, polling only."""
    websub_hub: str = "https://pubsubhubbub.appspot.com/"
    """The WebSub hub that YouTube's upload feeds publish through."""
    watch_tick_seconds: float = Field(default=60.0, ge=1)
    """How often ``tubescope serve`` looks for watched channels whose collection is due."""
    key_daily_quota: int = Field(default=10_000, ge=1)
    """Daily quota units of each API key (and of each separate bucket), shared by all workers."""
    job_lease_seconds: float = Field(default=30.0, gt=0)
    """A worker that stops renewing a job's lease for this long (killed) gives the job up."""
    job_timeout_seconds: float = Field(default=6 * 3600.0, gt=0)
    job_max_tries: int = Field(default=5, ge=1)
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    output_dir: Path | None = None
    """Where report and export jobs write their files, one folder per job (None: ``outputs/``
    beside the warehouse file)."""
    log_json: bool | None = None
    public_metrics: bool = True
    """False: the service's /metrics needs an admin token."""
    public_docs: bool = True
    """False: the service's /docs and /openapi.json need a read token (or the dashboard sign-in)."""

    @property
    def warehouse_target(self) -> WarehouseTarget:
        """Where the warehouse lives: ``db_url`` (PostgreSQL) when set, else the DuckDB ``db_path``."""
        url = self.db_url.get_secret_value().strip() if self.db_url is not None else ""
        return parse_target(url) if url else self.db_path


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
