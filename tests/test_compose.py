"""docker-compose.yml, .env.example and Dockerfile stay consistent with each other and the code.

There is no Docker engine in CI, so this checks structure: every service present and healthy-gated,
third-party images pinned, Airflow 3 commands, every variable documented, every INNONET_* name a
real setting. When the `docker compose` plugin exists, `docker compose config -q` runs as well.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"

AIRFLOW_COMMANDS = {
    "airflow-init": ["airflow", "db", "migrate"],
    "airflow-api-server": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
}
ONE_SHOT = {"airflow-init"}
VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: not KEY=value: {line!r}"
            pairs[key.strip()] = value
    return pairs


def test_every_service_is_there(services: dict):
    expected = {"elasticsearch", "postgres", "samples", "innonet-api", *AIRFLOW_COMMANDS}
    assert expected <= set(services)


def test_third_party_images_are_pinned(services: dict):
    for name, service in services.items():
        image = service.get("image", "")
        assert image, f"{name} has no image"
        if "build" in service:
            continue  # our own image, built from the Dockerfile
        repo, _, tag = image.rpartition(":")
        assert repo, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        assert re.match(r"^\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$", tag), f"{name}: {image} is not a version pin"
    assert services["elasticsearch"]["image"].startswith(
        "docker.elastic.co/elasticsearch/elasticsearch:8.19."
    )


def test_long_running_services_have_healthchecks(services: dict):
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_dependencies_wait_for_health_not_for_start(services: dict):
    for name, service in services.items():
        deps = service.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must name a condition"
        for dep, rule in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert rule == {"condition": want}, (name, dep, rule)
    for name in [*AIRFLOW_COMMANDS, "innonet-api"]:
        assert {"postgres"} <= set(services[name]["depends_on"]), name
    for name in set(AIRFLOW_COMMANDS) - ONE_SHOT:
        assert "airflow-init" in services[name]["depends_on"], name


def test_airflow_3_services(services: dict):
    for name, command in AIRFLOW_COMMANDS.items():
        service = services[name]
        assert service["command"][: len(command)] == command, name
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/innonet/dags", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://airflow:"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-api-server:"), name
        assert any(v.startswith("./dags:/opt/innonet/dags") for v in service["volumes"]), name
    assert not any("webserver" in str(s.get("command")) for s in services.values()), "Airflow 2 command"


def test_innonet_api_uses_postgres_and_elasticsearch(services: dict):
    api = services["innonet-api"]
    env = api["environment"]
    assert env["INNONET_SEARCH_BACKEND"] == "elasticsearch"
    assert env["INNONET_ES_URL"] == "http://elasticsearch:9200"
    assert env["INNONET_DATABASE_URL"].startswith("postgresql+psycopg://innonet:")
    assert env["INNONET_DATABASE_URL"].endswith("@postgres:5432/innonet")
    assert "--factory" in api["command"]
    target = next(arg for arg in api["command"] if arg.startswith("api.main:"))
    tree = ast.parse((REPO / "api" / "main.py").read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert target.split(":")[1] in names, f"{target} is not a function of api/main.py"


def test_innonet_env_names_are_real_settings(services: dict):
    from pipeline.settings import Settings

    fields = {f"INNONET_{name.upper()}" for name in Settings.model_fields}
    for name, service in services.items():
        for key in service.get("environment") or {}:
            if key.startswith("INNONET_"):
                assert key in fields, f"{name}: {key} is not a field of pipeline.settings.Settings"


def test_elasticsearch_is_single_node_without_security_on_loopback(services: dict):
    es = services["elasticsearch"]
    assert es["environment"]["discovery.type"] == "single-node"
    assert es["environment"]["xpack.security.enabled"] == "false"
    assert all(str(p).startswith("127.0.0.1:") for p in es["ports"]), "security is off: loopback only"


def test_postgres_creates_both_databases(compose: dict, services: dict):
    target = services["postgres"]["configs"][0]
    assert target["target"].startswith("/docker-entrypoint-initdb.d/")
    script = compose["configs"][target["source"]]["content"]
    assert "CREATE DATABASE innonet" in script
    assert "CREATE DATABASE airflow" in script


def test_named_volumes_are_declared(compose: dict, services: dict):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_every_variable_is_documented_and_used():
    used = set(VAR.findall(COMPOSE.read_text(encoding="utf-8")))
    documented = _env_example()
    assert used - set(documented) == set(), "used in docker-compose.yml, missing from .env.example"
    assert set(documented) - used == set(), "in .env.example, unused by docker-compose.yml"
    text = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for key in documented:
        i = next(i for i, line in enumerate(text) if line.startswith(f"{key}="))
        assert i > 0, key
        assert text[i - 1].startswith("#"), f"{key} has no comment line above it"


def test_env_example_has_no_innonet_names_and_no_secrets():
    env = _env_example()
    assert not [k for k in env if k.startswith("INNONET_")], "pipeline.settings would read them from .env"
    for key in ("POSTGRES_PASSWORD", "STORE_DB_PASSWORD", "AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY"):
        assert env[key] == "", f"{key}: the example must not ship a usable secret"


def test_dockerfile_builds_one_non_root_image():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11[.\d]*-slim", text, re.M)
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "psycopg[binary]" in text
    assert "pip install --no-deps -e ." in text


def test_harvest_and_api_share_one_store_and_notify_owners(services: dict):
    api_env = services["innonet-api"]["environment"]
    scheduler_env = services["airflow-scheduler"]["environment"]
    assert api_env["INNONET_DATABASE_URL"] == scheduler_env["INNONET_DATABASE_URL"]
    for env in (api_env, scheduler_env):
        assert env["INNONET_SMTP_HOST"].startswith("${SMTP_HOST")
        assert env["INNONET_HARVEST_MAX_BATCHES"].startswith("${HARVEST_MAX_BATCHES")
