"""Object storage for the cold archive: ``s3://bucket/prefix`` or a local folder, through pyarrow.

A location is a URI. ``s3://bucket/prefix?endpoint_override=host:port&scheme=http&region=…``
reaches any S3-compatible server (pyarrow's own S3 filesystem); ``file:///abs/path`` or a plain
path is a local folder. Credentials never travel in the URI: pyarrow reads them from the usual
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or the instance's role), so the URI can be
stored in the warehouse and logged as it is.

Every object is written whole or not at all (S3: one PUT or one completed multipart upload;
local: a temporary name renamed into place), and read back by checksum before anyone trusts it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pyarrow as pa
from pyarrow import fs as pafs

from tubescope.errors import ConfigError, StorageError

_SECRET_PARAMS = frozenset({"access_key", "secret_key", "session_token"})
_READ_CHUNK = 8 << 20


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What was written: the path under the store's root, its size and SHA-256."""

    path: str
    bytes: int
    sha256: str


def sha256_of(data: pa.Buffer | bytes) -> str:
    """The hex SHA-256 of a buffer (without copying an Arrow buffer)."""
    return hashlib.sha256(memoryview(data)).hexdigest()


@dataclass(frozen=True, slots=True)
class ObjectStore:
    """A root folder on a pyarrow filesystem; paths given to its methods are relative to it."""

    uri: str
    filesystem: pafs.FileSystem
    root: str

    @classmethod
    def open(cls, uri: str) -> ObjectStore:
        """Resolve ``uri`` (``s3://…``, ``file://…`` or a path); :class:`ConfigError` when unusable."""
        text = uri.strip()
        if not text:
            raise ConfigError("an archive location is required (s3://bucket/prefix or file:///folder)")
        parts = urlsplit(text)
        if parts.scheme in ("", "file"):
            path = Path(parts.path if parts.scheme == "file" else text).expanduser().resolve()
            return cls(path.as_uri(), pafs.LocalFileSystem(), str(path))
        if parts.scheme != "s3":
            raise ConfigError(f"unsupported archive location {parts.scheme}://…; use s3:// or file://")
        secret = _SECRET_PARAMS & {k for k, _ in parse_qsl(parts.query)}
        if secret:
            raise ConfigError(
                "put S3 credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URI "
                f"(found {', '.join(sorted(secret))})"
            )
        if not parts.netloc:
            raise ConfigError(f"an s3:// location needs a bucket: {text!r}")
        try:
            filesystem, root = pafs.FileSystem.from_uri(text)
        except (pa.ArrowInvalid, ValueError, OSError) as exc:
            raise ConfigError(f"cannot use archive location {text!r}: {exc}") from None
        return cls(text, filesystem, root.rstrip("/"))

    def path(self, relative: str) -> str:
        """The filesystem path of ``relative`` under the root."""
        return f"{self.root}/{relative.lstrip('/')}"

    def put(self, relative: str, data: pa.Buffer | bytes) -> StoredObject:
        """Write ``data`` whole at ``relative`` (replacing what was there)."""
        target = self.path(relative)
        try:
            if isinstance(self.filesystem, pafs.LocalFileSystem):
                self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
                temporary = f"{target}.tmp-{uuid.uuid4().hex}"
                with self.filesystem.open_output_stream(temporary) as out:
                    out.write(data)
                self.filesystem.move(temporary, target)
            else:
                with self.filesystem.open_output_stream(target) as out:
                    out.write(data)
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"writing {relative} to {self.uri} failed: {exc}") from None
        return StoredObject(relative, len(memoryview(data)), sha256_of(data))

    def get(self, relative: str) -> pa.Buffer:
        """Read the whole object at ``relative``."""
        try:
            with self.filesystem.open_input_stream(self.path(relative)) as stream:
                chunks = []
                while chunk := stream.read(_READ_CHUNK):
                    chunks.append(chunk)
        except FileNotFoundError:
            raise StorageError(f"{relative} is missing from {self.uri}") from None
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"reading {relative} from {self.uri} failed: {exc}") from None
        return pa.py_buffer(b"".join(chunks))

    def verify(self, stored: StoredObject) -> pa.Buffer:
        """Read ``stored`` back and check its size and checksum; the bytes when they match."""
        data = self.get(stored.path)
        size = len(memoryview(data))
        digest = sha256_of(data)
        if size != stored.bytes or digest != stored.sha256:
            raise StorageError(
                f"{stored.path} on {self.uri} does not match what was written "
                f"({size} bytes, sha256 {digest[:12]}… ≠ {stored.bytes} bytes, {stored.sha256[:12]}…)"
            )
        return data

    def delete(self, relative: str) -> None:
        """Remove the object at ``relative`` (nothing when it is not there)."""
        try:
            self.filesystem.delete_file(self.path(relative))
        except FileNotFoundError:
            return
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"deleting {relative} from {self.uri} failed: {exc}") from None

    def list(self, relative: str) -> list[str]:
        """Every object under the folder ``relative`` (recursively), as relative paths."""
        selector = pafs.FileSelector(self.path(relative), recursive=True, allow_not_found=True)
        try:
            infos = self.filesystem.get_file_info(selector)
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"listing {relative} on {self.uri} failed: {exc}") from None
        prefix = self.root + "/"
        return sorted(
            info.path[len(prefix) :]
            for info in infos
            if info.type == pafs.FileType.File and info.path.startswith(prefix)
        )
