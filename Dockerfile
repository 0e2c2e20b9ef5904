# One image for every innonet process: the API (uvicorn), the Airflow services (api-server,
# scheduler, dag-processor, triggerer; the LocalExecutor runs tasks inside the scheduler) and
# the sample-feed server of the demo. docker-compose.yml picks the process with `command:`.
#
#   docker build -t innonet:dev .
#
# The repository is installed editable at /opt/innonet, so repository-relative defaults
# (registry/, dags/, crawlers/samples/feeds/) resolve exactly as in a checkout.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/innonet/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    INNONET_DATA_DIR=/var/lib/innonet \
    INNONET_REGISTRY_PATH=/opt/innonet/registry/demo.yaml

# Airflow's convention: a fixed non-root uid (50000) that owns AIRFLOW_HOME and the data dir.
RUN groupadd --system --gid 50000 innonet \
    && useradd --system --uid 50000 --gid innonet --home-dir /opt/airflow --create-home innonet \
    && install -d -o innonet -g innonet /var/lib/innonet /opt/airflow/logs

WORKDIR /opt/innonet

# Dependencies first (cached until pyproject.toml changes), then the code.
# psycopg (v3) is the PostgreSQL driver of both the store (postgresql+psycopg://) and
# Airflow's metadata DB (Airflow 3 uses psycopg 3 when it is installed).
# Optional: --build-arg PIP_CONSTRAINTS=https://raw.githubusercontent.com/apache/airflow/constraints-3.3.2/constraints-3.11.txt
ARG PIP_CONSTRAINTS=""
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install ${PIP_CONSTRAINTS:+--constraint "$PIP_CONSTRAINTS"} \
        -r /tmp/requirements.txt "psycopg[binary]>=3.2,<4" \
    && rm /tmp/requirements.txt

# README.md is the readme of pyproject.toml (the wildcard keeps the COPY valid without it)
COPY pyproject.toml README.m[d] ./
COPY api/ api/
COPY crawlers/ crawlers/
COPY ontology/ ontology/
COPY pipeline/ pipeline/
COPY search/ search/
COPY store/ store/
COPY dags/ dags/
COPY registry/ registry/
RUN pip install --no-deps -e . && python -c "import api, crawlers, ontology, pipeline, search, store"

USER innonet
EXPOSE 8000 8080

# Default process: the innonet API (compose overrides this per service).
# uvloop + httptools named (a missing one fails at start instead of a silent fallback to asyncio + h11);
# no access log: one log line per request was ~0.1 ms of the search API's ~0.3 ms overhead
# (docs/search.md, "API overhead, paired"); drop --no-access-log to get the lines back.
CMD ["uvicorn", "--factory", "api.main:app_factory", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
