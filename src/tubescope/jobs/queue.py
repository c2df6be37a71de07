"""Durable jobs: what a job is, and its queue and state in Redis (arq) for workers to run.

A job is a :class:`JobSpec` (kind and parameters). With ``TUBESCOPE_REDIS_URL`` the service puts
it on an `arq <https://arq-docs.helpmanual.io/>`_ queue and ``tubescope worker`` processes run it
(:mod:`tubescope.jobs.worker`); without Redis the service runs it in its own thread
(:mod:`tubescope.jobs.background`). Either way callers see the same JSON record.

In Redis a job is two things:

* arq's own entry (``tubescope:queue`` and ``arq:job:<id>``): delivery. It stays in the queue
  until a worker finishes it, and a worker holds it through arq's in-progress key, renewed as a
  short lease while the job runs: a worker that is killed stops renewing, the lease lapses and
  another worker takes the job up again;
* a hash ``tubescope:job:<id>``: the record any replica reads (state, progress, result, error,
  attempts), written by whoever holds the job. Records expire a week after their last change.

Whoever finishes a job that ran also adds its duration to one shared histogram
(``tubescope:metrics:job_duration_seconds``, counters that never expire), so that every replica's
``/metrics`` shows how long the workers' jobs took (:meth:`RedisJobs.durations`). The quota units
a job spends are added to ``tubescope:metrics:quota_units_spent`` as it goes (each heartbeat and
at its end), so ``tubescope_quota_units_spent_total`` counts the workers' units too.

Every key above starts with ``TUBESCOPE_REDIS_PREFIX`` (``tubescope:`` shown): deployments with
different prefixes share one Redis without meeting, each with its own queue. arq names its
per-job keys itself (``arq:job:<id>``, ``arq:in-progress:<id>``); their ids are random.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import structlog
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix
from redis.exceptions import RedisError, WatchError

from tubescope.errors import ConfigError, NotFoundError, StorageError
from tubescope.jobs.common import utc_now
from tubescope.logging import redact_text
from tubescope.warehouse.lineage import normalise_refs

DEFAULT_PREFIX = "tubescope:"
"""The default of ``TUBESCOPE_REDIS_PREFIX``, which starts every key named below."""
ARQ_FUNCTION = "tubescope_job"
RECORD_TTL = timedelta(days=7)
LIST_LIMIT = 200
RUN_LOCK_NAME = "lock:collect:"
JOB_DURATION_BUCKETS: tuple[float, ...] = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
"""Upper bounds (seconds) of the job duration histogram, for in-process and worker jobs alike."""

# Extend or drop a lock only while it is still ours (KEYS[1] the lock, ARGV[1] the owner).
_RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# A claim writes the attempt's holder token ("worker#attempt") with the attempt count it bumps, in
# one step: every later write of that attempt is conditional on the token still being there.
_CLAIM = """
local attempt = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local holder = ARGV[1] .. '#' .. attempt
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'worker', ARGV[1], 'holder', holder)
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return holder
"""
# KEYS: record, arq's in-progress key, quota count. ARGV: holder, lease ms, progress, quota units.
# The units were spent whoever holds the job now, so they count either way. The holder SETs the
# in-progress key (not just extends it): a superseded attempt's end may have deleted it.
_HEARTBEAT = """
if ARGV[4] ~= '0' then redis.call('INCRBY', KEYS[3], ARGV[4]) end
if redis.call('HGET', KEYS[1], 'holder') ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'progress', ARGV[3])
if redis.call('HGET', KEYS[1], 'cancel') then return 1 end
return 0
"""
_DROP_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class JobKeys:
    """The Redis keys of the jobs, each under ``prefix`` (``TUBESCOPE_REDIS_PREFIX``)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def queue(self) -> str:
        """arq's queue (a sorted set of the job ids waiting or held)."""
        return f"{self.prefix}queue"

    @property
    def index(self) -> str:
        """Every job id by creation time (for listing)."""
        return f"{self.prefix}jobs"

    @property
    def durations(self) -> str:
        """The shared histogram of finished jobs' durations."""
        return f"{self.prefix}metrics:job_duration_seconds"

    @property
    def quota_spent(self) -> str:
        """Quota units spent by the jobs of every worker, in all (never expires)."""
        return f"{self.prefix}metrics:quota_units_spent"

    def record(self, job_id: str) -> str:
        """The hash holding ``job_id``'s record."""
        return f"{self.prefix}job:{job_id}"

    def lock(self, name: str) -> str:
        """Lock ``name`` (such as :attr:`JobSpec.run_lock`)."""
        return self.prefix + name


class JobKind(StrEnum):
    """What a background job does."""

    COLLECT = "collect"
    TRAIN = "train"
    REPORT = "report"
    EXPORT = "export"
    WATCH = "watch"


class JobState(StrEnum):
    """Where a background job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class Lease(StrEnum):
    """What a heartbeat found."""

    HELD = "held"
    CANCEL_ASKED = "cancel_asked"
    LOST = "lost"
    """Another attempt holds the job: this one's lease lapsed (a stalled worker) and it was claimed."""


@dataclass(frozen=True)
class JobSpec:
    """One job to run: its kind and JSON-ready parameters (checked by :meth:`validated`)."""

    kind: JobKind
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def refs(self) -> tuple[str, ...]:
        """The channel references of a collect job (empty for the other kinds)."""
        return tuple(self.params.get("refs", ())) if self.kind is JobKind.COLLECT else ()

    @property
    def run_lock(self) -> str | None:
        """The lock that keeps two collections of the same channels from resuming one run at once
        (its name under the Redis prefix)."""
        if self.kind is not JobKind.COLLECT:
            return None
        identity = "\n".join(normalise_refs(self.refs))
        return RUN_LOCK_NAME + hashlib.sha256(identity.encode()).hexdigest()[:24]

    def validated(self) -> JobSpec:
        """This spec, or a :class:`ConfigError` saying what is wrong, before anything is queued."""
        from tubescope.jobs.collect import parse_refs
        from tubescope.warehouse.export import FORMATS, resolve_tables
        from tubescope.warehouse.export_files import FILE_FORMATS

        params = dict(self.params)
        if self.kind is JobKind.COLLECT:
            parse_refs(list(params.get("refs", [])))
        elif self.kind is JobKind.REPORT:
            if not str(params.get("channel", "")).strip():
                raise ConfigError("a report job needs the channel to report on")
        elif self.kind is JobKind.EXPORT:
            if params.get("format", "parquet") not in (*FORMATS, *FILE_FORMATS):
                raise ConfigError(f"unknown export format; supported: {', '.join((*FORMATS, *FILE_FORMATS))}")
            resolve_tables(list(params.get("tables", [])))
        elif self.kind is JobKind.WATCH:
            from datetime import datetime

            try:
                at = datetime.fromisoformat(str(params.get("at", "")))
            except ValueError:
                raise ConfigError("a watch job needs the tick's time (ISO-8601)") from None
            if at.tzinfo is None:
                raise ConfigError("a watch job's time needs a time zone")
        elif self.kind is JobKind.TRAIN and float(params.get("horizon_days", 7.0)) <= 0:
            raise ConfigError("horizon_days must be > 0")
        return self

    def to_json(self) -> str:
        """The spec as JSON, keys sorted."""
        return json.dumps({"kind": self.kind.value, "params": dict(self.params)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """The spec that :meth:`to_json` wrote."""
        data = json.loads(text)
        return cls(JobKind(data["kind"]), dict(data.get("params", {})))


@dataclass(frozen=True)
class DurationTally:
    """Finished jobs of one kind and outcome: how many, their seconds in all, and how many took at
    most each bound of :data:`JOB_DURATION_BUCKETS` (cumulative, as Prometheus histograms count)."""

    count: int
    total_seconds: float
    at_most: tuple[int, ...]


def collect_spec(refs: Sequence[str], *, full: bool = False, budget: int | None = None) -> JobSpec:
    """A collect job over ``refs``."""
    return JobSpec(JobKind.COLLECT, {"refs": list(refs), "full": full, "budget": budget})


def watch_spec(
    at: datetime,
    channel_ids: Sequence[str] = (),
    *,
    pushed: Mapping[str, str] | None = None,
    dense: bool = True,
) -> JobSpec:
    """A watch tick at ``at``: claimed channels, pushed new videos (``video_id -> channel_id``)
    and, with ``dense``, the dense pass of the tick's hour."""
    params = {
        "at": at.isoformat(),
        "channels": list(channel_ids),
        "pushed": dict(pushed or {}),
        "dense": dense,
    }
    return JobSpec(JobKind.WATCH, params)


class JobQueue(Protocol):
    """Where the service sends jobs: arq in Redis (:class:`RedisJobs`) or its own thread."""

    async def submit(self, spec: JobSpec) -> dict[str, Any]:
        """Queue ``spec``; returns the new job's record."""
        ...

    async def get(self, job_id: str) -> dict[str, Any]:
        """The job's record; :class:`NotFoundError` for an unknown id."""
        ...

    async def list(self, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The newest jobs first."""
        ...

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask the job to stop (at its next checkpoint); returns its record."""
        ...

    async def counts(self) -> dict[str, int]:
        """Jobs per state (of the newest :data:`LIST_LIMIT`)."""
        ...

    async def depth(self) -> int:
        """Jobs waiting on the queue or held by a worker (not yet finished)."""
        ...

    async def aclose(self) -> None:
        """Release connections; running jobs are not affected."""
        ...


def redis_settings(url: str) -> RedisSettings:
    """arq's connection settings for ``url`` (``redis://``, ``rediss://`` or ``unix://``)."""
    try:
        return RedisSettings.from_dsn(url)
    except (RuntimeError, ValueError):
        raise ConfigError(f"not a Redis URL: {safe_url(url)} (use redis://host:port/db)") from None


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _json_loads(data: bytes) -> Any:
    return json.loads(data)


async def connect(url: str, prefix: str = DEFAULT_PREFIX) -> ArqRedis:
    """An arq connection pool on ``url`` that queues on ``prefix``'s queue; :class:`StorageError`
    when Redis cannot be reached."""
    settings = redis_settings(url)
    settings.conn_retries = 2
    try:
        return await create_pool(
            settings,
            default_queue_name=JobKeys(prefix).queue,
            job_serializer=_json_dumps,
            job_deserializer=_json_loads,
        )
    except (RedisError, OSError) as exc:
        raise StorageError(f"cannot reach Redis at {safe_url(url)}: {type(exc).__name__}") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Claim:
    """A claimed attempt at a job: what to run, and the token its later writes are fenced with."""

    spec: JobSpec
    holder: str
    """``worker#attempt``: heartbeats and the final record land only while this is the job's holder."""
    earlier_run_id: int | None = None
    """The collection run an earlier attempt opened, as its last stored progress says."""


def record_to_dict(job_id: str, raw: Mapping[Any, Any]) -> dict[str, Any]:
    """The API's JSON shape of a job from its Redis hash."""
    fields = {_text(k) or "": _text(v) for k, v in raw.items()}
    spec = JobSpec.from_json(fields.get("spec") or "{}")

    def loads(name: str) -> Any:
        text = fields.get(name)
        return json.loads(text) if text else None

    return {
        "job_id": job_id,
        "kind": spec.kind.value,
        "refs": list(spec.refs),
        "params": dict(spec.params),
        "state": fields.get("state"),
        "created_at": fields.get("created_at"),
        "started_at": fields.get("started_at") or None,
        "finished_at": fields.get("finished_at") or None,
        "attempts": int(fields.get("attempts") or 0),
        "worker": fields.get("worker") or None,
        "progress": loads("progress") or {},
        "result": loads("result"),
        "error": fields.get("error") or None,
        "request_id": fields.get("request_id") or None,
    }


class RedisJobs:
    """Jobs on arq's queue with their records in Redis: shared by every replica and worker."""

    def __init__(self, redis: ArqRedis, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = redis
        self.keys = JobKeys(prefix)
        # redis-py's asyncio stubs type most commands as "Awaitable | value"; one Any handle.
        self._r: Any = redis

    @classmethod
    async def connect(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisJobs:
        """Jobs on the Redis at ``url``, their keys under ``prefix``."""
        return cls(await connect(url, prefix), prefix)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()

    # -- what the service does ---------------------------------------------------------------------

    async def submit(self, spec: JobSpec) -> dict[str, Any]:
        """Record the job as ``queued`` and put it on the queue (validated first)."""
        spec.validated()
        job_id = secrets.token_hex(8)
        now = utc_now()
        key = self.keys.record(job_id)
        record = {"spec": spec.to_json(), "state": JobState.QUEUED.value, "created_at": now.isoformat()}
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id is not None:  # the worker binds it to the job's log lines
            record["request_id"] = str(request_id)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=record)
            pipe.expire(key, RECORD_TTL)
            pipe.zadd(self.keys.index, {job_id: now.timestamp()})
            await pipe.execute()
        queued = await self.redis.enqueue_job(ARQ_FUNCTION, job_id, _job_id=job_id, _expires=RECORD_TTL)
        if queued is None:  # pragma: no cover - ids are random; a clash is a bug
            raise StorageError(f"job {job_id} is already queued")
        return await self.get(job_id)

    async def get(self, job_id: str) -> dict[str, Any]:
        """The record of ``job_id``; :class:`NotFoundError` when unknown or expired."""
        raw = await self._r.hgetall(self.keys.record(job_id))
        if not raw:
            raise NotFoundError(f"no job {job_id}")
        return record_to_dict(job_id, raw)

    async def list(self, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The newest ``limit`` jobs first; records that expired drop out of the index."""
        ids = [_text(i) or "" for i in await self._r.zrevrange(self.keys.index, 0, limit - 1)]
        async with self._r.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.keys.record(job_id))
            raws = await pipe.execute()
        gone = [job_id for job_id, raw in zip(ids, raws, strict=True) if not raw]
        if gone:
            await self._r.zrem(self.keys.index, *gone)
        return [record_to_dict(job_id, raw) for job_id, raw in zip(ids, raws, strict=True) if raw]

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Ask the job to stop: a queued job is cancelled now, a running one at its next checkpoint."""
        key = self.keys.record(job_id)
        await self.get(job_id)
        await self._r.hset(key, "cancel", "1")
        # Only a job nobody holds yet moves to cancelled here; the worker running one does it.
        await self._transition(job_id, {JobState.QUEUED}, JobState.CANCELLED)
        return await self.get(job_id)

    async def counts(self) -> dict[str, int]:
        """Jobs per state among the newest :data:`LIST_LIMIT`."""
        counts = {state.value: 0 for state in JobState}
        for job in await self.list():
            counts[job["state"]] = counts.get(job["state"], 0) + 1
        return counts

    async def depth(self) -> int:
        """Jobs on the queue: waiting, or held by a worker and not finished."""
        return int(await self._r.zcard(self.keys.queue))

    # -- what a worker does ------------------------------------------------------------------------

    async def request_id(self, job_id: str) -> str | None:
        """The id of the request that started ``job_id`` (None when it came from elsewhere)."""
        return _text(await self._r.hget(self.keys.record(job_id), "request_id"))

    async def spec(self, job_id: str) -> JobSpec | None:
        """What ``job_id`` runs; None when its record is gone."""
        text = _text(await self._r.hget(self.keys.record(job_id), "spec"))
        return JobSpec.from_json(text) if text else None

    async def take_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Hold lock ``name`` for ``owner`` (a job id) for a lease; True if free or already ``owner``'s."""
        ms = int(lease_seconds * 1000)
        if await self._r.set(self.keys.lock(name), owner, nx=True, px=ms):
            return True
        return bool(await self._r.eval(_RENEW_LOCK, 1, self.keys.lock(name), owner, ms))

    async def renew_lock(self, name: str, owner: str, lease_seconds: float) -> None:
        """Extend ``owner``'s lease on lock ``name``."""
        await self._r.eval(_RENEW_LOCK, 1, self.keys.lock(name), owner, int(lease_seconds * 1000))

    async def drop_lock(self, name: str, owner: str) -> None:
        """Release lock ``name`` if ``owner`` holds it."""
        await self._r.eval(_DROP_LOCK, 1, self.keys.lock(name), owner)

    async def claim(self, job_id: str, worker: str, max_attempts: int) -> Claim | None:
        """Mark the job running on ``worker`` as a new attempt; None when it must not run (finished,
        cancelled, unknown, or out of attempts: then it is marked failed)."""
        key = self.keys.record(job_id)
        raw = await self._r.hgetall(key)
        if not raw:
            return None
        job = record_to_dict(job_id, raw)
        if JobState(job["state"]) in FINAL_STATES:
            return None
        now = utc_now().isoformat()
        if raw.get(b"cancel"):
            await self.finish(job_id, JobState.CANCELLED, None, None)
            return None
        if job["attempts"] >= max_attempts:
            error = f"gave up after {job['attempts']} attempt(s): the worker running it stopped each time"
            await self.finish(job_id, JobState.FAILED, job["result"], error)
            return None
        ttl = int(RECORD_TTL.total_seconds())
        holder = _text(await self._r.eval(_CLAIM, 1, key, worker, JobState.RUNNING.value, now, ttl))
        earlier = job["progress"].get("run_id")
        return Claim(
            JobSpec.from_json(_text(raw[b"spec"]) or "{}"),
            holder or "",
            earlier_run_id=int(earlier) if isinstance(earlier, int) else None,
        )

    async def heartbeat(
        self,
        job_id: str,
        holder: str,
        lease_seconds: float,
        progress: Mapping[str, Any],
        quota_units: int = 0,
    ) -> Lease:
        """Renew ``holder``'s lease on the job and store its progress (adding ``quota_units``, spent
        since the last beat, to the shared count). Says whether cancel was asked, or that another
        attempt holds the job now (this one's lease lapsed and another worker claimed it)."""
        reply = await self._r.eval(
            _HEARTBEAT,
            3,
            self.keys.record(job_id),
            in_progress_key_prefix + job_id,
            self.keys.quota_spent,
            holder,
            int(lease_seconds * 1000),
            json.dumps(dict(progress)),
            int(quota_units),
        )
        return {-1: Lease.LOST, 1: Lease.CANCEL_ASKED}.get(int(reply), Lease.HELD)

    async def holds(self, job_id: str, holder: str) -> bool:
        """True while ``holder``'s attempt is the job's current one."""
        return _text(await self._r.hget(self.keys.record(job_id), "holder")) == holder

    async def add_quota_units(self, units: int) -> None:
        """Count ``units`` in the shared quota tally (an attempt that lost its job still spent them)."""
        if units:
            await self._r.incrby(self.keys.quota_spent, units)

    async def requeue(
        self, job_id: str, progress: Mapping[str, Any], quota_units: int = 0, *, holder: str | None = None
    ) -> bool:
        """The worker stops (shutdown) before the job is done: it waits on the queue again
        (``quota_units``: spent since the last heartbeat). With ``holder``, only while that attempt
        still holds the job; False when it did not."""
        async with self._r.pipeline(transaction=True) as pipe:
            if not await self._still_held(pipe, job_id, holder, quota_units):
                return False
            pipe.hset(
                self.keys.record(job_id),
                mapping={
                    "state": JobState.QUEUED.value,
                    "worker": "",
                    "progress": json.dumps(dict(progress)),
                },
            )
            if quota_units:
                pipe.incrby(self.keys.quota_spent, quota_units)
            return await self._execute_held(pipe, quota_units)

    async def _still_held(self, pipe: Any, job_id: str, holder: str | None, quota_units: int) -> bool:
        """Watch the record for a conditional write by ``holder`` (None: unconditional); False,
        with the quota units counted anyway, when another attempt holds the job."""
        if holder is None:
            return True
        key = self.keys.record(job_id)
        await pipe.watch(key)
        if _text(await pipe.hget(key, "holder")) != holder:
            await pipe.reset()
            await self.add_quota_units(quota_units)
            return False
        pipe.multi()
        return True

    async def _execute_held(self, pipe: Any, quota_units: int) -> bool:
        try:
            await pipe.execute()
        except WatchError:  # claimed by another attempt between the check and the write
            await self.add_quota_units(quota_units)
            return False
        return True

    async def finish(
        self,
        job_id: str,
        state: JobState,
        result: Mapping[str, Any] | None,
        error: str | None,
        progress: Mapping[str, Any] | None = None,
        quota_units: int = 0,
        *,
        holder: str | None = None,
    ) -> bool:
        """Record the job's final state, result and error (redacted); a job that ran adds its
        duration (first start to now) to the shared histogram, and ``quota_units`` (spent since
        its last heartbeat) to the shared count, in the same transaction. With ``holder``, only
        while that attempt still holds the job; False when it did not (nothing is recorded)."""
        key = self.keys.record(job_id)
        finished_at = utc_now()
        started_text, spec_text = (_text(v) for v in await self._r.hmget(key, ["started_at", "spec"]))
        mapping: dict[str, str] = {"state": state.value, "finished_at": finished_at.isoformat()}
        if result is not None:
            mapping["result"] = json.dumps(dict(result), default=str)
        if error is not None:
            mapping["error"] = redact_text(error)
        if progress is not None:
            mapping["progress"] = json.dumps(dict(progress))
        async with self._r.pipeline(transaction=True) as pipe:
            if not await self._still_held(pipe, job_id, holder, quota_units):
                return False
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, RECORD_TTL)
            if quota_units:
                pipe.incrby(self.keys.quota_spent, quota_units)
            if started_text and spec_text:
                seconds = max(0.0, (finished_at - datetime.fromisoformat(started_text)).total_seconds())
                prefix = f"{JobSpec.from_json(spec_text).kind.value}|{state.value}|"
                pipe.hincrby(self.keys.durations, prefix + "count", 1)
                pipe.hincrbyfloat(self.keys.durations, prefix + "sum", seconds)
                for bound in JOB_DURATION_BUCKETS:
                    if seconds <= bound:
                        pipe.hincrby(self.keys.durations, f"{prefix}le={bound:g}", 1)
            return await self._execute_held(pipe, quota_units)

    async def durations(self) -> dict[tuple[str, str], DurationTally]:
        """The shared job duration histogram: a tally per (kind, outcome) of every job any worker
        or replica finished since Redis was last emptied."""
        fields = {
            _text(k) or "": _text(v) or "0" for k, v in (await self._r.hgetall(self.keys.durations)).items()
        }
        tallies: dict[tuple[str, str], DurationTally] = {}
        for name in fields:
            kind, outcome, what = name.split("|", 2)
            if what != "count":
                continue
            prefix = f"{kind}|{outcome}|"
            tallies[(kind, outcome)] = DurationTally(
                count=int(fields[name]),
                total_seconds=float(fields.get(prefix + "sum", "0")),
                at_most=tuple(int(fields.get(f"{prefix}le={b:g}", "0")) for b in JOB_DURATION_BUCKETS),
            )
        return tallies

    async def quota_units_spent(self) -> int:
        """Quota units the workers' jobs spent, in all, since Redis was last emptied."""
        value = await self._r.get(self.keys.quota_spent)
        return int(value) if value is not None else 0

    async def _transition(self, job_id: str, frm: set[JobState], to: JobState) -> bool:
        key = self.keys.record(job_id)
        async with self._r.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            state = _text(await pipe.hget(key, "state"))
            if state is None or JobState(state) not in frm:
                await pipe.reset()
                return False
            pipe.multi()
            pipe.hset(key, mapping={"state": to.value, "finished_at": utc_now().isoformat()})
            try:
                await pipe.execute()
            except RedisError:
                return False
        return True


async def queue_depth(url: str, prefix: str = DEFAULT_PREFIX) -> int:
    """How many jobs wait on (or are held from) ``prefix``'s queue at ``url``: for metrics and probes."""
    jobs = await RedisJobs.connect(url, prefix)
    try:
        return await jobs.depth()
    finally:
        await jobs.aclose()
