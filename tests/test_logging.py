from __future__ import annotations

import json

import pytest
import structlog

from tubescope.logging import configure_logging, key_fingerprint, redact_text, register_secret

KEY = "AIzaSyA1234567890abcdefghijklmnopqrstuv"


def test_keys_and_tokens_are_stripped_from_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json=True)
    log = structlog.get_logger()
    log.info(
        "request",
        url=f"http://127.0.0.1/youtube/v3/videos?part=id&key={KEY}&id=x",
        api_key=KEY,
        headers={"Authorization": "Bearer ts_abcdefghijklmnopqrstuvwxyz"},
        nested=[f"key={KEY}"],
    )
    try:
        raise RuntimeError(f"failed with {KEY}")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert KEY not in err
    assert "ts_abcdefghijklmnop" not in err
    first = json.loads(err.splitlines()[0])
    assert "[REDACTED]" in first["url"] and first["api_key"] == "[REDACTED]"


def test_registered_secrets_of_any_shape_are_redacted() -> None:
    register_secret("demo-key-0001")
    assert "demo-key-0001" not in redact_text("the key demo-key-0001 was refused")


def test_passwords_in_database_urls_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://team:pg-s3cret@db.example:5432/tubescope"
    text = redact_text(f"cannot open {url}; cache redis://:rd-s3cret@cache:6379/0")
    assert "pg-s3cret" not in text and "rd-s3cret" not in text
    assert "postgresql://team:[REDACTED]@db.example:5432/tubescope" in text
    configure_logging("DEBUG", json=True)
    structlog.get_logger().warning("warehouse", target=url, detail=f"retrying {url}")
    assert "pg-s3cret" not in capsys.readouterr().err


def test_fingerprint_is_stable_and_does_not_contain_the_key() -> None:
    assert key_fingerprint(KEY) == key_fingerprint(KEY)
    assert KEY[-8:] not in key_fingerprint(KEY)
    assert key_fingerprint(KEY) != key_fingerprint(KEY + "x")


def test_logging_survives_the_stream_it_was_configured_with_being_closed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    temporary = io.StringIO()
    monkeypatch.setattr(sys, "stderr", temporary)
    configure_logging("INFO", json=True)
    temporary.close()
    monkeypatch.undo()
    structlog.get_logger().info("after the swap", n=1)
    assert "after the swap" in capsys.readouterr().err


def test_the_environment_sets_level_and_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tubescope.logging import configure_from_env

    monkeypatch.setenv("TUBESCOPE_LOG_LEVEL", "error")
    monkeypatch.setenv("TUBESCOPE_LOG_JSON", "true")
    configure_from_env("DEBUG")
    log = structlog.get_logger()
    log.warning("quiet")
    log.error("loud", n=2)
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["loud"]
    monkeypatch.setenv("TUBESCOPE_LOG_LEVEL", "")
    configure_from_env("INFO", debug=True)
    log.debug("shown with --debug")
    assert "shown with --debug" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"), [("TUBESCOPE_LOG_LEVEL", "chatty"), ("TUBESCOPE_LOG_JSON", "maybe")]
)
def test_bad_logging_environment_is_one_line_and_an_exit_code(name: str, value: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, name: value}
    result = subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "collect", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert value in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_standard_library_loggers_share_format_context_and_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from tubescope.logging import capture_stdlib_loggers

    configure_logging("INFO", json=True)
    capture_stdlib_loggers(["tubescope-test.stdlib"])
    with structlog.contextvars.bound_contextvars(request_id="rid-42"):
        logging.getLogger("tubescope-test.stdlib").warning("failed for key=%s", KEY)
        logging.getLogger("tubescope-test.stdlib").debug("below the level")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["request_id"] == "rid-42" and line["level"] == "warning" and KEY not in lines[0]
