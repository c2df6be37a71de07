# tubescope — `make demo` and `make test` work on a fresh machine with only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: demo test lint types contracts docs pytest bench bench-check audit lock browser servers loadgen clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tubescope needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tubescope demo --out demo-output

# Headless Chromium for the report and dashboard browser tests (Debian packages); tests skip
# with a clear reason when it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed; browser tests will be skipped"; \
	  else echo "chromium not installed and apt-get unavailable; browser tests will be skipped"; fi; }

# PostgreSQL and redis-server for the team-backend tests, and promtool (Debian's prometheus
# package) for the alert-rule tests; tests start private instances on free loopback ports and
# skip with a clear reason when these cannot be installed.
servers:
	@missing=""; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	  command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	  if [ -n "$$missing" ]; then \
	    if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	        || echo "$$missing could not be installed; their tests will be skipped"; \
	    else echo "$$missing not installed and apt-get unavailable; their tests will be skipped"; fi; \
	  fi

# wrk (Debian's package), the compiled load generator benchmarks/load.py drives when present; without
# it load.py falls back to Python clients, which take a large share of the CPU they measure.
loadgen:
	@command -v wrk >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	      || echo "wrk could not be installed; load.py will use its Python clients"; \
	  else echo "wrk not installed and apt-get unavailable; load.py will use its Python clients"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src

types: $(STAMP)
	$(BIN)/mypy --strict src/

contracts: $(STAMP)
	$(BIN)/lint-imports

# The docs site (MkDocs + mkdocstrings, offline); --strict turns every warning into an error.
# docs/cli.md is generated from the Typer app at build time (the hook tools/cli_reference.py).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet

# Line coverage of src/ (CLI and server subprocesses included: `patch = ["subprocess"]` in
# pyproject), printed per package; `coverage report` fails under [tool.coverage.report] fail_under.
pytest: $(STAMP) browser servers
	@$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q $(PYTEST_ARGS)
	@$(BIN)/coverage combine -q
	@$(BIN)/coverage json -q -o coverage.json
	@$(BIN)/python tools/coverage_by_package.py coverage.json
	@$(BIN)/coverage report --format=total >/dev/null || { $(BIN)/coverage report --format=total; \
	  echo "line coverage is below fail_under in pyproject.toml"; exit 1; }

test: lint types contracts docs pytest

bench: $(STAMP) loadgen servers
	@for script in benchmarks/*.py; do \
	  case $$script in */bench_check.py) continue;; esac; \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Small benchmarks as ratios against a peer in the same run; fails when one is >10% worse than
# benchmarks/baseline.json (`python benchmarks/bench_check.py --update` re-records it). Not in CI.
bench-check: $(STAMP)
	$(BIN)/python benchmarks/bench_check.py

# pip-audit over the lock file; one line and exit 0 when the advisory service is unreachable.
audit: $(STAMP)
	@$(BIN)/python tools/audit.py

# requirements.lock: every runtime dependency pinned (the Dockerfile installs from it).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	  --quiet -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache demo-output .coverage .coverage.* coverage.json site
