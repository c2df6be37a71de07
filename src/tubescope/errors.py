"""The one error tree of tubescope.

Every error a user can meet derives from :class:`TubescopeError`. Each subclass names what went
wrong in terms of what the user can do about it, and carries the process exit code the CLI uses::

    TubescopeError                    1  anything else we anticipated
    ├── ConfigError                   2  bad settings, flags or files
    │   └── InvalidChannelRef         2  a channel reference that cannot be parsed
    ├── InvalidQuery                  2  a filter/A-B expression that does not parse
    │   └── QuerySyntaxError          2  … located at a column, with what was expected there
    ├── NotFoundError                 3
    │   ├── ChannelNotFound           3  the API (or the warehouse) has no such channel
    │   └── VideoNotFound             3
    ├── ApiError                      4  the Data API answered with an error we cannot work around
    │   ├── ResourceUnavailable       4  one item is gone, private or closed: skipped, reason kept
    │   ├── RepeatedPageToken         4  the API repeated a page token: following it would loop
    │   ├── ApiKeyInvalid             5  the key was refused; fix the key, do not retry
    │   ├── ApiAccessNotConfigured    5  the project has not enabled the API
    │   ├── QuotaExhausted            6  every key is out of quota; resume after Pacific midnight
    │   ├── BudgetExceeded            7  the run hit --budget; it stopped at a checkpoint
    │   ├── CircuitOpen               8  too many consecutive failures; the breaker is open
    │   └── TransientApiError         9  retries were exhausted on a retryable failure
    │       └── IncompleteRun         9  a run ended with batches or pages it could not fetch (gaps)
    ├── StorageError                 10  the warehouse cannot be opened or written
    │   └── SchemaVersionError       10  the database is newer than this program
    ├── DataQualityError             11  data failed validation and was quarantined
    ├── ModelError                   12  no trained model, or one of another feature version
    ├── DeliveryError                13  an alert's webhook or email failed after its retries
    └── Interrupted             130/143  SIGINT (Ctrl-C) or SIGTERM: stopped at a checkpoint

Messages never contain secrets: API keys are reported by fingerprint only.
"""

from __future__ import annotations


class TubescopeError(Exception):
    """Root of every anticipated tubescope failure."""

    exit_code: int = 1


class ConfigError(TubescopeError):
    """Invalid settings or command-line options."""

    exit_code = 2


class InvalidChannelRef(ConfigError):
    """A channel reference could not be understood; raised before any request is made."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"invalid channel reference {ref!r}: {reason}")
        self.ref = ref
        self.reason = reason


class InvalidQuery(TubescopeError):
    """A query expression that does not parse or names an unknown field."""

    exit_code = 2


class QuerySyntaxError(InvalidQuery):
    """A filter expression that cannot be understood, located at a 1-based column."""

    def __init__(self, query: str, column: int, expected: str, found: str | None = None) -> None:
        shown = query if len(query) <= 80 else query[:77] + "..."
        where = f"{expected} at column {column}" + (f" (found {found})" if found else "")
        super().__init__(f"{where} in filter {shown!r}")
        self.query = query
        self.column = column
        self.expected = expected
        self.found = found


class NotFoundError(TubescopeError):
    """Something asked for does not exist."""

    exit_code = 3


class ChannelNotFound(NotFoundError):
    """The channel asked for is unknown."""

    pass


class VideoNotFound(NotFoundError):
    """The video asked for is unknown."""

    pass


class ApiError(TubescopeError):
    """The YouTube API answered with an error or could not be reached."""

    exit_code = 4

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class ResourceUnavailable(ApiError):
    """One video, playlist, channel or comment thread is gone, private or closed.

    The caller skips the item, records ``reason`` (``videoNotFound``, ``commentsDisabled``…) and
    carries on with the rest of the crawl.
    """


class RepeatedPageToken(ApiError):
    """The API handed back a page token it had already given: following it would loop forever."""


class ApiKeyInvalid(ApiError):
    """The API key is not valid."""

    exit_code = 5


class ApiAccessNotConfigured(ApiError):
    """The YouTube Data API is not enabled for the key's project."""

    exit_code = 5


class QuotaExhausted(ApiError):
    """Every API key's daily quota is spent."""

    exit_code = 6


class BudgetExceeded(ApiError):
    """The run's quota budget would be exceeded."""

    exit_code = 7


class CircuitOpen(ApiError):
    """The circuit breaker is open after repeated failures; calls are refused for a while."""

    exit_code = 8


class TransientApiError(ApiError):
    """A failure worth retrying (network error, 5xx, rate limit)."""

    exit_code = 9


class IncompleteRun(TransientApiError):
    """A run finished with gaps: batches or pages not fetched after their retries.

    The gaps are recorded with the run; the next ``collect`` fetches them first.
    """


class StorageError(TubescopeError):
    """The warehouse could not be read or written."""

    exit_code = 10


class RunTakenOver(StorageError):
    """This process's attempt at a collection run was superseded: another process resumed the run
    (a job whose lease lapsed while its worker still ran it). This attempt stops writing, so no row
    is stored twice; the newer attempt carries the run on."""


class WriteConflict(StorageError):
    """A write was refused because a concurrent transaction changed the same rows first (DuckDB's
    optimistic concurrency, a PostgreSQL serialization failure): for a compare-and-set, the other
    writer won."""


class SchemaVersionError(StorageError):
    """The database's schema version is not one this tubescope can use."""

    pass


class DataQualityError(TubescopeError):
    """Data failed a quality rule."""

    exit_code = 11


class ModelError(TubescopeError):
    """A prediction model is missing, invalid or incompatible."""

    exit_code = 12


class DeliveryError(TubescopeError):
    """An alert could not be delivered (webhook or SMTP) after its retries; it stays listed."""

    exit_code = 13


class Interrupted(TubescopeError):
    """The user (SIGINT, exit 130) or the system (SIGTERM, exit 143) asked the command to stop."""

    exit_code = 130

    def __init__(self, message: str, *, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
