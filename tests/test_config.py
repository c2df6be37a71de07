from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest
from pydantic import SecretStr

from tubescope.config import AlertRuleSettings, Settings, load_settings, settings_table
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


README = Path(__file__).resolve().parents[1] / "README.md"
_TABLE = re.compile(r"(<!-- settings-table:start -->\n)(.*?)(\n<!-- settings-table:end -->)", re.DOTALL)


def test_readme_settings_table_is_the_one_generated_from_the_model() -> None:
    text = README.read_text(encoding="utf-8")
    match = _TABLE.search(text)
    assert match, "README.md lost its <!-- settings-table:start/end --> markers"
    generated = settings_table()
    if os.environ.get("UPDATE_README") == "1" and match.group(2) != generated:
        README.write_text(_TABLE.sub(lambda m: m.group(1) + generated + m.group(3), text), encoding="utf-8")
        return
    assert match.group(2) == generated, (
        "README settings table is stale: UPDATE_README=1 pytest tests/test_config.py"
    )
    documented = re.findall(r"`(TUBESCOPE_[A-Z_]+)`", match.group(2))
    assert documented == [f"TUBESCOPE_{name.upper()}" for name in Settings.model_fields]


def _non_default(name: str) -> tuple[str, object]:
    """A valid value for setting ``name`` other than its default, as env text and as read back."""
    annotation = str(Settings.model_fields[name].annotation)
    if name == "api_keys":
        return '["k-one-secret"]', ["k-one-secret"]
    if name == "alert_rules":
        return '[{"name": "q", "kind": "quota"}]', [AlertRuleSettings(name="q", kind="quota")]
    if name == "alert_email_to":
        return '["team@example.test"]', ["team@example.test"]
    field = Settings.model_fields[name]
    if get_origin(field.annotation) is Literal:  # a choice: any other choice
        other = next(str(v) for v in get_args(field.annotation) if v != field.get_default())
        return other, other
    if name == "db_url":
        return "postgresql://u:p@127.0.0.1:9/db", "postgresql://u:p@127.0.0.1:9/db"
    if name in ("log_level",):
        return "error", "ERROR"
    if "bool" in annotation:
        return "false", False
    if "Path" in annotation:
        return "elsewhere/x", Path("elsewhere/x")
    if "int" in annotation:
        return "3", 3
    if "float" in annotation:
        return "2.5", 2.5
    return "http://127.0.0.1:9/youtube/v3", "http://127.0.0.1:9/youtube/v3"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_settable_by_environment_variable(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text, expected = _non_default(name)
    monkeypatch.setenv(f"TUBESCOPE_{name.upper()}", text)
    value = getattr(load_settings(), name)
    if name == "api_keys":
        value = [k.get_secret_value() for k in value]
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    assert value == expected != Settings.model_fields[name].get_default(call_default_factory=True)


def test_the_rate_limit_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tubescope.service.app import default_options

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUBESCOPE_API_RATE_PER_SECOND", "7.5")
    monkeypatch.setenv("TUBESCOPE_API_RATE_BURST", "12")
    options = default_options(load_settings())
    assert (options.rate_per_second, options.rate_burst) == (7.5, 12)


def test_an_unknown_log_level_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUBESCOPE_LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="log_level"):
        load_settings()


def test_alert_rules_and_delivery_from_tubescope_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tubescope.toml").write_text(
        "[alert]\n"
        'webhook_url = "https://hooks.example/tubescope"\n'
        'webhook_secret = "toml-hook-secret"\n'
        'email_to = ["team@example.test"]\n'
        "[[alert.rules]]\n"
        'name = "breakouts"\nkind = "breakout"\nthreshold = 4.0\nages_hours = [1, 24]\n'
        "[[alert.rules]]\n"
        'name = "quota"\nkind = "quota"\ncooldown_hours = 6\n'
    )
    settings = load_settings()
    assert [(r.name, r.kind, r.threshold) for r in settings.alert_rules] == [
        ("breakouts", "breakout", 4.0),
        ("quota", "quota", None),
    ]
    assert settings.alert_rules[0].ages_hours == [1.0, 24.0] and settings.alert_rules[1].cooldown_hours == 6
    assert settings.alert_webhook_url == "https://hooks.example/tubescope"
    assert settings.alert_email_to == ["team@example.test"]
    assert "toml-hook-secret" not in repr(settings)
    (tmp_path / "tubescope.toml").write_text('[[alert.rules]]\nname = "x"\nkind = "sometimes"\n')
    with pytest.raises(ConfigError, match="alert_rules"):
        load_settings()
