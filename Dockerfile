# syntax=docker/dockerfile:1
# tubescope REST API and dashboard.
#
#   docker build -t tubescope .
#   docker run -p 8000:8000 -v tubescope-data:/data tubescope
#   docker run --rm -v tubescope-data:/data tubescope tubescope token create --scope admin
#
# The warehouse, its token file and trained models live in the /data volume. Collect through
# the API (POST /v1/channels) while the service runs: DuckDB lets one process write the file.

ARG PYTHON_VERSION=3.11

# -- builder: the project as a wheel, installed with its dependencies into a venv ----------------
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first, pinned by the lock file (`make lock`): reproducible, and cached apart from
# the source. The wheel is then installed under the same pins (a dependency added to
# pyproject.toml since the last `make lock` still resolves, unpinned).
COPY requirements.lock ./
RUN pip install -r requirements.lock
# Only what the wheel is built from: a change to tests or docs does not rebuild this stage.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --constraint requirements.lock /wheels/tubescope-*.whl

# -- runtime: the venv on a clean slim image, run as an unprivileged user -------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

# LightGBM's wheel links against the system OpenMP runtime, which slim images lack.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 tubescope \
    && useradd --system --uid 10001 --gid tubescope --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin tubescope \
    && mkdir -p /data \
    && chown tubescope:tubescope /data

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TUBESCOPE_DB_PATH=/data/tubescope.duckdb \
    TUBESCOPE_MODEL_DIR=/data/models \
    TUBESCOPE_LOG_JSON=true

USER tubescope
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# curl is not in slim images; the venv's Python asks /health (liveness, no token needed).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

CMD ["tubescope", "serve", "--host", "0.0.0.0", "--port", "8000", "--db", "/data/tubescope.duckdb"]
