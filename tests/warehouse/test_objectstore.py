"""The archive's object store on a local folder (file://): whole-object writes, verified reads, and
every failure a typed error naming the object; bad locations refused before anything is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.objectstore import ObjectStore, StoredObject


def test_put_get_verify_list_and_delete(tmp_path: Path) -> None:
    store = ObjectStore.open((tmp_path / "cold").as_uri())
    stored = store.put("a/b/one.bin", b"hello")
    assert stored == StoredObject("a/b/one.bin", 5, stored.sha256) and len(stored.sha256) == 64
    assert store.verify(stored).to_pybytes() == b"hello"
    store.put("a/two.bin", b"x" * 10)
    assert store.list("a") == ["a/b/one.bin", "a/two.bin"]
    assert store.list("nothing-here") == []
    store.delete("a/two.bin")
    store.delete("a/two.bin")  # already gone: nothing to do
    assert store.list("") == ["a/b/one.bin"]
    assert [p.name for p in (tmp_path / "cold" / "a" / "b").iterdir()] == ["one.bin"]  # no temporary left


def test_every_failure_names_the_object(tmp_path: Path) -> None:
    store = ObjectStore.open(str(tmp_path / "cold"))
    with pytest.raises(StorageError, match=r"missing\.bin is missing from file://"):
        store.get("missing.bin")
    tampered = store.put("t.bin", b"original")
    (tmp_path / "cold" / "t.bin").write_bytes(b"changed!")  # same size, other bytes
    with pytest.raises(StorageError, match=r"t\.bin on file://.* does not match what was written"):
        store.verify(tampered)
    (tmp_path / "cold" / "blocker").write_text("a file where a folder should be")
    with pytest.raises(StorageError, match=r"writing blocker/inside\.bin to file://.* failed"):
        store.put("blocker/inside.bin", b"data")
    (tmp_path / "cold" / "folder" / "deep").mkdir(parents=True)
    (tmp_path / "cold" / "folder" / "deep" / "x").write_text("x")
    with pytest.raises(StorageError, match=r"deleting folder/deep from file://.* failed"):
        store.delete("folder/deep")  # a folder, not an object
    with pytest.raises(StorageError, match=r"reading folder from file://.* failed"):
        store.get("folder")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("   ", "an archive location is required"),
        ("ftp://host/x", "unsupported archive location ftp://"),
        ("s3:///prefix-only", "an s3:// location needs a bucket"),
        ("s3://bucket/p?secret_key=abc", "not in the URI"),
        ("s3://bucket/p?region=nowhere-1&scheme=gopher", "cannot use archive location"),
    ],
    ids=["empty", "ftp", "no-bucket", "secret-in-uri", "bad-option"],
)
def test_bad_locations_are_refused(uri: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        ObjectStore.open(uri)
    assert "abc" not in str(caught.value)  # a secret in the URI is never echoed
