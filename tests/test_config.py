from __future__ import annotations

from pathlib import Path

import pytest

from tubescope.config import load_settings
from tubescope.errors import ConfigError


def test_env_then_toml_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tubescope.toml").write_text(
        '[tubescope]\ndb_path = "from-toml.duckdb"\nmax_concurrency = 3\n'
    )
    assert load_settings().db_path == Path("from-toml.duckdb")
    monkeypatch.setenv("TUBESCOPE_DB_PATH", "from-env.duckdb")
    monkeypatch.setenv("TUBESCOPE_API_KEYS", '["k1-secret", "k2-secret"]')
    settings = load_settings()
    assert settings.db_path == Path("from-env.duckdb") and settings.max_concurrency == 3
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1-secret", "k2-secret"]
    assert "k1-secret" not in repr(settings)
    assert load_settings(db_path=Path("flag.duckdb")).db_path == Path("flag.duckdb")


def test_bad_values_are_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUBESCOPE_MAX_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="max_concurrency"):
        load_settings()
    (tmp_path / "bad.toml").write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="TOML"):
        load_settings(config_file=tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml")
