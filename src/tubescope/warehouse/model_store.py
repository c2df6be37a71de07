"""Versioned storage of trained models: one folder per version, a JSON manifest, a LATEST pointer.

Layout under the model directory::

    LATEST                         the version that loads by default (one line)
    <version>/model.joblib         the pickled model object (joblib)
    <version>/manifest.json        what it is, how it was made, and the model file's sha256

A version is written to a temporary folder and renamed into place, then LATEST is replaced
atomically, so a crash never leaves a half-written model behind the pointer. Loading checks the
file's checksum and refuses a model whose feature version differs from the running code's with
:class:`~tubescope.errors.ModelError`. Only load models you trained: joblib files are pickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]  # ships without type hints; comes with scikit-learn

from tubescope.errors import ModelError

MANIFEST_FORMAT = 1
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "LATEST"
TRACKED_LIBRARIES: tuple[str, ...] = (
    "tubescope",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "xgboost-cpu",
    "joblib",
)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a pickled model depends on, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name == "xgboost-cpu":
                with contextlib.suppress(metadata.PackageNotFoundError):
                    versions["xgboost"] = metadata.version("xgboost")
    return versions


@dataclass(frozen=True)
class ModelManifest:
    """The JSON next to each stored model."""

    version: str
    kind: str
    feature_version: str
    created_at: str
    sha256: str
    metrics: dict[str, Any] = field(default_factory=dict)
    data_window: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    format: int = MANIFEST_FORMAT
    file: str = MODEL_FILE

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON-safe dictionary."""
        return {
            "format": self.format,
            "version": self.version,
            "kind": self.kind,
            "feature_version": self.feature_version,
            "created_at": self.created_at,
            "file": self.file,
            "sha256": self.sha256,
            "metrics": self.metrics,
            "data_window": self.data_window,
            "settings": self.settings,
            "libraries": self.libraries,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: Path) -> ModelManifest:
        """The manifest stored as ``raw``; raises ModelError naming ``where`` when it is invalid."""
        try:
            return cls(
                version=str(raw["version"]),
                kind=str(raw["kind"]),
                feature_version=str(raw["feature_version"]),
                created_at=str(raw["created_at"]),
                sha256=str(raw["sha256"]),
                metrics=dict(raw.get("metrics", {})),
                data_window=dict(raw.get("data_window", {})),
                settings=dict(raw.get("settings", {})),
                libraries={str(k): str(v) for k, v in dict(raw.get("libraries", {})).items()},
                format=int(raw.get("format", MANIFEST_FORMAT)),
                file=str(raw.get("file", MODEL_FILE)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: model manifest is incomplete or malformed ({exc})") from None


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from the store, with its manifest and any library version mismatches."""

    model: Any
    manifest: ModelManifest
    path: Path
    library_mismatches: dict[str, tuple[str, str]]
    """Libraries whose installed version differs from the one the model was saved with (saved, now)."""


def save_model(
    model: Any,
    model_dir: Path,
    *,
    kind: str,
    feature_version: str,
    metrics: dict[str, Any] | None = None,
    data_window: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ModelManifest:
    """Store ``model`` as a new version and point LATEST at it; returns its manifest."""
    created = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=model_dir))
    except OSError as exc:
        raise ModelError(f"cannot write models under {model_dir}: {exc.strerror or exc}") from None
    try:
        model_path = staging / MODEL_FILE
        joblib.dump(model, model_path, compress=3)
        digest = _sha256(model_path)
        version = f"{created:%Y%m%dT%H%M%SZ}-{digest[:8]}"
        manifest = ModelManifest(
            version=version,
            kind=kind,
            feature_version=feature_version,
            created_at=created.isoformat(),
            sha256=digest,
            metrics=_json_ready(metrics or {}),
            data_window=_json_ready(data_window or {}),
            settings=_json_ready(settings or {}),
            libraries=library_versions(),
        )
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        target = model_dir / version
        if target.exists():  # the same model saved twice in one second: keep the first copy
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(target)
        _write_atomic(model_dir / LATEST_FILE, version + "\n")
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"cannot write models under {model_dir}: {exc.strerror or exc}") from None
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def list_versions(model_dir: Path) -> list[str]:
    """Stored versions, oldest first."""
    if not model_dir.is_dir():
        return []
    return sorted(p.name for p in model_dir.iterdir() if p.is_dir() and (p / MANIFEST_FILE).is_file())


def read_manifest(model_dir: Path, version: str | None = None) -> ModelManifest:
    """The manifest of model ``version`` (the newest when None)."""
    folder = _version_folder(model_dir, version)
    path = folder / MANIFEST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder}: no {MANIFEST_FILE}; the model folder is incomplete") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the model manifest ({exc})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: the model manifest is not a JSON object")
    return ModelManifest.from_dict(raw, path)


def load_model(
    model_dir: Path, *, feature_version: str, kind: str | None = None, version: str | None = None
) -> LoadedModel:
    """Load a stored model (LATEST unless ``version``), refusing one of another feature version."""
    manifest = read_manifest(model_dir, version)
    folder = model_dir / manifest.version
    if kind is not None and manifest.kind != kind:
        raise ModelError(f"model {manifest.version} is a {manifest.kind!r} model, not {kind!r}")
    if manifest.feature_version != feature_version:
        raise ModelError(
            f"model {manifest.version} was trained with feature version {manifest.feature_version}, but this "
            f"tubescope computes feature version {feature_version}; retrain it with `tubescope train`"
        )
    model_path = folder / manifest.file
    if not model_path.is_file():
        raise ModelError(f"{model_path}: the model file is missing")
    if _sha256(model_path) != manifest.sha256:
        raise ModelError(
            f"{model_path}: checksum does not match the manifest; the file is damaged or was replaced"
        )
    try:
        model = joblib.load(model_path)
    except Exception as exc:
        raise ModelError(f"{model_path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    installed = library_versions()
    mismatches = {
        name: (saved, installed[name])
        for name, saved in manifest.libraries.items()
        if name in installed and installed[name] != saved
    }
    return LoadedModel(model, manifest, folder, mismatches)


def _version_folder(model_dir: Path, version: str | None) -> Path:
    if version is None:
        pointer = model_dir / LATEST_FILE
        try:
            version = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ModelError(f"no trained model in {model_dir}; run `tubescope train` first") from None
        except OSError as exc:
            raise ModelError(f"cannot read {pointer}: {exc.strerror or exc}") from None
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise ModelError(f"invalid model version {version!r}")
    folder = model_dir / version
    if not folder.is_dir():
        raise ModelError(f"model version {version} not found in {model_dir}")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_ready(value: dict[str, Any]) -> dict[str, Any]:
    """Only plain JSON values in the manifest: NaN and infinities become null, the rest str()."""
    cleaned = _plain(value)
    return cleaned if isinstance(cleaned, dict) else {}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return int(number) if float(number).is_integer() and "int" in type(value).__name__ else number
