"""Sharing one DuckDB file between processes: hold it only while working, hand it over on a knock.

DuckDB lets one process write a file (or several only read it), and refuses any other open with a
lock error. tubescope's processes share the file instead of failing:

- A process that cannot open the file because another holds it leaves a *knock*: an empty file
  ``<db>.knock-<pid>-<n>`` beside the warehouse. It then retries, with backoff, until the holder
  lets go or its patience runs out (:func:`connect_waiting`).
- Every long-lived holder watches for knocks (:func:`knocking`, a cheap, throttled folder scan):
  the service's pool closes its connection as soon as no request is using it, and a collector
  opened with ``lease=True`` closes its connection at the end of each transaction. The file is
  reopened on the next use, so each side holds it for one request or one batch at a time.
- A knock is removed as soon as its process has the file, and knocks of dead processes are ignored
  and cleaned up, so a SIGKILL never leaves the file claimed.

This is how ``tubescope serve`` and CLI commands run together on the embedded default: no server
to install, and a write by one is visible to the other as soon as its transaction ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tubescope.errors import StorageError

DEFAULT_WAIT_SECONDS = 60.0
"""How long a process waits for another to let go of the file before giving up."""
KNOCK_CHECK_INTERVAL = 0.02
"""Knocks are looked for at most this often per file (a folder scan), so checking on every
request costs nothing measurable."""

_counter = itertools.count()
_own_knocks: set[str] = set()
_own_lock = threading.Lock()
_last_scan: dict[Path, tuple[float, bool]] = {}
_PID_OF_HOLDER = re.compile(r"PID (\d+)")
T = TypeVar("T")


class WarehouseLocked(StorageError):
    """Another process holds the DuckDB file (``holder_pid`` when DuckDB names it)."""

    def __init__(self, path: Path, detail: str) -> None:
        match = _PID_OF_HOLDER.search(detail)
        self.holder_pid = int(match.group(1)) if match else None
        who = f" (pid {self.holder_pid})" if self.holder_pid else ""
        super().__init__(f"{path} is in use by another tubescope process{who}")


def _knock_prefix(path: Path) -> str:
    return f"{path.name}.knock-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def knocking(path: Path, *, fresh: bool = False) -> bool:
    """Whether another live process is waiting for the file at ``path``.

    The answer is cached for :data:`KNOCK_CHECK_INTERVAL` unless ``fresh``; knocks left by dead
    processes are removed on the way.
    """
    key = path.resolve()
    now = time.monotonic()
    if not fresh:
        cached = _last_scan.get(key)
        if cached is not None and now - cached[0] < KNOCK_CHECK_INTERVAL:
            return cached[1]
    prefix = _knock_prefix(key)
    found = False
    try:
        names = [entry.name for entry in key.parent.iterdir()]
    except OSError:
        names = []
    for name in names:
        if not name.startswith(prefix):
            continue
        with _own_lock:
            if name in _own_knocks:
                continue
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            with contextlib.suppress(OSError):
                (key.parent / name).unlink()
            continue
        found = True
        break
    _last_scan[key] = (now, found)
    return found


@contextmanager
def _knock(path: Path) -> Iterator[None]:
    """Leave a knock for the holder while the body waits; take it back afterwards."""
    key = path.resolve()
    name = f"{_knock_prefix(key)}{os.getpid()}-{next(_counter)}"
    marker = key.parent / name
    with _own_lock:
        _own_knocks.add(name)
    with contextlib.suppress(OSError):  # a read-only folder: we still retry, unannounced
        marker.touch()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            marker.unlink()
        with _own_lock:
            _own_knocks.discard(name)


def wait_for_file(
    path: Path,
    attempt: Callable[[], T],
    *,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[WarehouseLocked], None] | None = None,
) -> T:
    """Run ``attempt`` (an open of the file) until it stops raising :class:`WarehouseLocked`.

    While it waits, a knock asks the holder to let go; ``on_wait`` is called once, when the first
    attempt failed, so a command can say what it waits for. Raises the last
    :class:`WarehouseLocked`, with how long it waited, when ``wait_seconds`` pass.
    """
    try:
        return attempt()
    except WarehouseLocked as first:
        if wait_seconds <= 0:
            raise
        if on_wait is not None:
            on_wait(first)
        last = first
    deadline = time.monotonic() + wait_seconds
    delay = 0.005
    with _knock(path):
        while True:
            time.sleep(delay)
            try:
                return attempt()
            except WarehouseLocked as exc:
                last = exc
            if time.monotonic() >= deadline:
                break
            delay = min(delay * 1.5, 0.1)
    who = f" (pid {last.holder_pid})" if last.holder_pid else ""
    raise StorageError(
        f"{path} stayed in use by another process{who} for {wait_seconds:.0f} s; "
        "try again when it has finished"
    ) from None
