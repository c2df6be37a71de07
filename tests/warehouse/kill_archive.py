"""An archive or a restore run as a child process by test_archive_kill.py, to be SIGKILLed.

Usage: python kill_archive.py DB archive LOCATION CUTOFF_ISO
       python kill_archive.py DB restore FROM_ISO TO_ISO

Prints ``step <name> <segment>`` (flushed) after each durable step, then ``done``.
"""

from __future__ import annotations

import sys
from datetime import datetime

from tubescope.warehouse import Warehouse
from tubescope.warehouse import archive as ar


def main() -> None:
    db, op, first, second = sys.argv[1:5]

    def say(step: str, segment: str) -> None:
        print(f"step {step} {segment}", flush=True)

    with Warehouse.open(db) as wh:
        if op == "archive":
            ar.archive(wh, first, datetime.fromisoformat(second), on_step=say)
        else:
            ar.restore(wh, datetime.fromisoformat(first), datetime.fromisoformat(second), on_step=say)
    print("done", flush=True)


if __name__ == "__main__":
    main()
