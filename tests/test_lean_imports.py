"""scipy imported without its docstring rewriting: docstrings as written, the functions unchanged.

Each check runs in a fresh interpreter: the swap must come before scipy's submodules are imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import scipy.stats

from tubescope.lean_imports import skip_scipy_docstring_rewrites

NOTE = "Array API Standard Support"  # what xp_capabilities appends to a docstring
PROBE = """
import json, sys
from tubescope.lean_imports import skip_scipy_docstring_rewrites
swapped = skip_scipy_docstring_rewrites() if sys.argv[1] == "swap" else False
import numpy as np
import scipy.stats
a, b = np.arange(40.0) % 7, np.arange(40.0) % 5 + 0.5
results = [
    list(scipy.stats.ttest_ind(a, b)), list(scipy.stats.mannwhitneyu(a, b)),
    list(scipy.stats.kruskal(a, b)), list(scipy.stats.spearmanr(a, b)),
    scipy.stats.false_discovery_control([0.01, 0.02, 0.3]).tolist(),
]
doc = scipy.stats.ttest_ind.__doc__
print(json.dumps({"swapped": swapped, "doc": doc, "results": [[float(x) for x in r] for r in results]}))
"""


def _probe(mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_scipy_keeps_its_docstrings_as_written_and_its_results() -> None:
    plain, lean = _probe("plain"), _probe("swap")
    assert (plain["swapped"], lean["swapped"]) == (False, True)
    assert NOTE in str(plain["doc"])  # the check has teeth: scipy does append the note
    assert NOTE not in str(lean["doc"])
    assert str(lean["doc"]).strip().startswith("Calculate the T-test for the means of *two independent*")
    assert lean["results"] == plain["results"]


def test_the_swap_is_refused_once_scipy_rewrote_docstrings() -> None:
    """Here scipy.stats is already imported (with its notes): swapping now would only leave the
    process's docstrings inconsistent, so nothing changes."""
    from scipy._lib import _docscrape

    original = _docscrape.FunctionDoc
    assert skip_scipy_docstring_rewrites() is False
    assert _docscrape.FunctionDoc is original
    assert NOTE in str(scipy.stats.ttest_ind.__doc__)
