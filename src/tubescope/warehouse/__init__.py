"""The embedded warehouse: DuckDB schema, migrations, lineage, quarantine and Parquet export.

Open with ``Warehouse.open(path)``; see :mod:`tubescope.warehouse.repository` for the API.
"""

from tubescope.warehouse.db import DEFAULT_DB_PATH, DEFAULT_MEMORY_LIMIT
from tubescope.warehouse.lineage import RESUMABLE_STATUSES, RunStatus, RunSummary
from tubescope.warehouse.migrations import LATEST_VERSION
from tubescope.warehouse.quality import QualityIssue, QualityReport, QualityRules, Rule, Severity
from tubescope.warehouse.quarantine import QuarantineRecord
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.state import Checkpoint, IncrementalState, PruneResult, WriteResult

__all__ = [
    "DEFAULT_DB_PATH",
    "DEFAULT_MEMORY_LIMIT",
    "LATEST_VERSION",
    "RESUMABLE_STATUSES",
    "Checkpoint",
    "IncrementalState",
    "PruneResult",
    "QualityIssue",
    "QualityReport",
    "QualityRules",
    "QuarantineRecord",
    "Rule",
    "RunStatus",
    "RunSummary",
    "Severity",
    "Warehouse",
    "WriteResult",
]
