"""The container image and the production-shaped stack, checked without a Docker engine.

`infra/compose.yaml` must be valid by the Compose Specification's JSON Schema (fetched at install
time by `scripts/fetch-compose-schema.sh`, not committed), and wired to what the apps read: each
deployable runs `ragstream <component>` with real `RAGSTREAM_*` settings pointing at the services
of the file, and waits for those services to be healthy. The Dockerfile must be multi-stage,
unprivileged, and run `ragstream`.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from apps.cli.main import app as cli_app
from apps.common.kafka import MAX_MESSAGE_BYTES
from apps.common.settings import Settings
from schemas.topics import DOCUMENT_READY, S3_EVENTS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "infra" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
MAKEFILE = ROOT / "Makefile"
SCHEMA_SCRIPT = "scripts/fetch-compose-schema.sh"
SCHEMA_FILE = Path(sys.prefix) / "share" / "compose-spec.json"

PREFIX = "RAGSTREAM_"
COMPONENTS = ("api", "processors", "worker", "intake")

# What each deployable connects to (see apps/cli/system.py): every one applies the migrations
# and uses Kafka and Temporal (the API checks Kafka for readiness and starts workflows to
# reprocess); the API and the processors search the vector store; the processors and the worker
# read S3, and the API deletes from it.
NEEDS: dict[str, frozenset[str]] = {
    "api": frozenset({"postgres", "kafka", "temporal", "qdrant", "s3"}),
    "processors": frozenset({"postgres", "kafka", "temporal", "qdrant", "s3"}),
    "worker": frozenset({"postgres", "kafka", "temporal", "s3"}),
    "intake": frozenset({"postgres", "kafka", "temporal"}),
}
# The service each need is served by, and what a deployable must wait for before it starts.
DEPENDENCY: dict[str, tuple[str, str]] = {
    "postgres": ("postgres", "service_healthy"),
    "kafka": ("kafka", "service_healthy"),
    "temporal": ("temporal", "service_healthy"),
    "qdrant": ("qdrant", "service_healthy"),
    "s3": ("minio-setup", "service_completed_successfully"),
}
LONG_RUNNING = ("postgres", "kafka", "temporal", "qdrant", "minio", "api")


Service = dict[str, Any]


@cache
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{COMPOSE_FILE} is not a mapping"
    return cast(dict[str, Any], document)


def services() -> dict[str, Service]:
    return cast(dict[str, Service], compose()["services"])


def service(name: str) -> Service:
    found = services().get(name)
    assert found is not None, f"{COMPOSE_FILE.name} has no service {name!r}"
    return found


def environment(svc: Service) -> dict[str, str | None]:
    """A service's environment as a mapping (Compose allows a mapping or a list of NAME=value)."""
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in raw)
        return {name: value for name, value in pairs}
    return {str(name): None if value is None else str(value) for name, value in raw.items()}


def env_value(svc: Service, name: str) -> str:
    value = environment(svc).get(name)
    assert value, f"{name} is not set"
    return value


def depends_on(svc: Service) -> dict[str, str]:
    """Each service waited for, with the condition (`service_started` for the short syntax)."""
    raw = svc.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def settings_of(svc: Service) -> Settings:
    """The settings a process of this service reads: its environment alone, validated as the
    process would (not this test's own environment, nor a stack.env file)."""
    values = {
        name[len(PREFIX) :].lower(): value
        for name, value in environment(svc).items()
        if name.startswith(PREFIX) and value is not None
    }
    return Settings.model_validate(values)


def deployables() -> Iterator[tuple[str, Service]]:
    for component in COMPONENTS:
        yield component, service(component)


# --- the Compose Specification ---------------------------------------------------------------


def test_compose_file_is_valid_by_the_compose_specification() -> None:
    if not SCHEMA_FILE.is_file():
        pytest.fail(
            f"the Compose Specification's JSON Schema is not at {SCHEMA_FILE}: run `{SCHEMA_SCRIPT}` "
            "(part of the install) to fetch it"
        )
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(
        validator_class(schema).iter_errors(compose()), key=lambda e: [str(p) for p in e.absolute_path]
    )
    messages = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
    assert not messages, "infra/compose.yaml is not valid Compose:\n" + "\n".join(messages)


def test_every_dependency_exists_and_its_condition_can_be_met() -> None:
    """What the schema cannot see: depends_on names real services, `service_healthy` ones have a
    health check, and `service_completed_successfully` ones are one-shot jobs."""
    for name, svc in services().items():
        for dependency, condition in depends_on(svc).items():
            assert dependency in services(), f"{name} depends on a missing service {dependency!r}"
            target = services()[dependency]
            if condition == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dependency} to be healthy: no healthcheck"
                assert not target["healthcheck"].get("disable"), f"{dependency}'s healthcheck is disabled"
            if condition == "service_completed_successfully":
                assert target.get("restart", "no") == "no", f"{dependency} is awaited as a one-shot job"


def test_long_running_services_have_health_checks() -> None:
    for name in LONG_RUNNING:
        check = service(name).get("healthcheck")
        assert check, f"{name} has no health check"
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name}'s health check is disabled"


# --- the deployables -------------------------------------------------------------------------


def test_each_deployable_runs_its_ragstream_command_from_the_image_of_the_dockerfile() -> None:
    cli_commands = {
        command.name or getattr(command.callback, "__name__", "") for command in cli_app.registered_commands
    }
    for component, svc in deployables():
        assert component in cli_commands, f"`ragstream {component}` is not a command"
        command = svc.get("command")
        command = shlex.split(command) if isinstance(command, str) else command
        assert command == [component], f"{component} runs {command!r}, not `ragstream {component}`"
        assert "entrypoint" not in svc, f"{component} must keep the image's entrypoint, `ragstream`"
        build = svc.get("build")
        assert build, f"{component} is not built from the Dockerfile"
        context = (COMPOSE_FILE.parent / (build if isinstance(build, str) else build["context"])).resolve()
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert context == ROOT, f"{component} is built from {context}, not the repository"
        assert (context / dockerfile).resolve() == DOCKERFILE
    assert len({svc.get("image") for _, svc in deployables()}) == 1, "the deployables run different images"


def test_every_ragstream_variable_is_a_setting() -> None:
    fields = set(Settings.model_fields)
    for name, svc in services().items():
        for variable in environment(svc):
            if variable.startswith(PREFIX):
                field = variable[len(PREFIX) :].lower()
                assert field in fields, f"{name} sets {variable}, which no setting reads"


def test_the_settings_of_each_deployable_are_valid() -> None:
    for _, svc in deployables():
        settings_of(svc)  # raises on a value the setting cannot take


@pytest.mark.parametrize("component", COMPONENTS)
def test_deployable_is_wired_to_the_services_it_needs(component: str) -> None:
    svc = service(component)
    settings = settings_of(svc)
    needs = NEEDS[component]
    waits_for = depends_on(svc)
    for need in needs:
        dependency, condition = DEPENDENCY[need]
        assert waits_for.get(dependency) == condition, f"{component} must wait for {dependency}: {condition}"

    # Postgres: its host is the postgres service, and its role and database are created there.
    url = urlsplit(env_value(svc, "RAGSTREAM_DATABASE_URL"))
    assert url.scheme in ("postgresql", "postgres")
    assert (url.hostname, url.port or 5432) == ("postgres", 5432)
    created = postgres_init()
    assert url.username in created.roles, f"the role {url.username} is not created by postgres-init.sql"
    assert url.path.lstrip("/") in created.databases

    # Kafka: the broker's advertised listener; a real Kafka, so the idempotent producer is on.
    assert "RAGSTREAM_KAFKA_BOOTSTRAP_SERVERS" in environment(svc)
    for address in settings.kafka_bootstrap_servers.split(","):
        assert host_port(address) in kafka_listeners(), f"{address} is not where the kafka service listens"
    assert settings.kafka_idempotent_producer
    assert settings.kafka_replication_factor == 1  # one broker

    # Temporal: its frontend, and the namespace it registers.
    assert "RAGSTREAM_TEMPORAL_ADDRESS" in environment(svc)
    assert host_port(settings.temporal_address) == ("temporal", 7233)
    assert settings.temporal_namespace == env_value(service("temporal"), "DEFAULT_NAMESPACE")

    if "qdrant" in needs:
        # The Qdrant server (over http), never the embedded engine, which one process only can open.
        qdrant = urlsplit(env_value(svc, "RAGSTREAM_QDRANT_URL"))
        assert (qdrant.scheme, qdrant.hostname, qdrant.port) == ("http", "qdrant", 6333), (
            f"{component} does not use the qdrant service: {qdrant.geturl()}"
        )
        assert settings.vector_store in ("auto", "qdrant")

    if "s3" in needs:
        # MinIO, its bucket and its keys.
        endpoint = urlsplit(env_value(svc, "RAGSTREAM_S3_ENDPOINT_URL"))
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == ("http", "minio", 9000), (
            f"{component} does not use the minio service: {endpoint.geturl()}"
        )
        minio = service("minio")
        assert settings.s3_bucket == env_value(service("minio-setup"), "BUCKET")
        assert settings.s3_access_key_id == env_value(minio, "MINIO_ROOT_USER")
        assert settings.s3_secret_access_key is not None
        assert settings.s3_secret_access_key.get_secret_value() == env_value(minio, "MINIO_ROOT_PASSWORD")


def test_the_intake_reads_the_topic_minio_publishes_to() -> None:
    settings = settings_of(service("intake"))
    assert settings.s3_events_from_kafka
    assert settings.s3_events_sqs_queue_url is None
    assert settings.topic(S3_EVENTS) == minio_kafka_target().topic


def test_the_api_is_published_on_port_8000_and_checked() -> None:
    api = service("api")
    settings = settings_of(api)
    assert settings.api_host == "0.0.0.0", "in a container the API must listen on all interfaces"
    assert settings.api_port == 8000
    assert 8000 in published_ports(api)
    test = " ".join(api["healthcheck"]["test"])
    assert "/readyz" in test or "/healthz" in test, f"the API's health check asks neither endpoint: {test}"


# --- Kafka, MinIO, Temporal, Postgres ---------------------------------------------------------


def test_kafka_runs_in_kraft_mode() -> None:
    for name, svc in services().items():
        assert "zookeeper" not in name
        assert "zookeeper" not in str(svc.get("image", ""))
    env = environment(service("kafka"))
    assert str(service("kafka")["image"]).startswith("apache/kafka:")
    assert set(env_value(service("kafka"), "KAFKA_PROCESS_ROLES").split(",")) == {"broker", "controller"}
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS")
    assert env.get("CLUSTER_ID")
    assert not any(name.startswith("KAFKA_ZOOKEEPER") for name in env)


def test_kafka_creates_no_topic_by_itself() -> None:
    """ragstream creates its topics at start, `document.ready` compacted: the broker must not
    create them first with its defaults, and nothing else may create `document.ready`."""
    kafka = service("kafka")
    assert env_value(kafka, "KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "false"
    assert int(env_value(kafka, "KAFKA_MESSAGE_MAX_BYTES")) >= MAX_MESSAGE_BYTES
    for name, svc in services().items():
        text = json.dumps(svc)
        assert DOCUMENT_READY not in text, f"{name} mentions {DOCUMENT_READY}, which ragstream creates itself"


def test_the_s3_events_topic_exists_before_minio_publishes_to_it() -> None:
    init = service("kafka-init")
    args = [str(a) for a in init["command"]]
    assert args[args.index("--topic") + 1] == minio_kafka_target().topic == S3_EVENTS
    assert "--create" in args
    assert "--if-not-exists" in args
    partitions = int(args[args.index("--partitions") + 1])
    assert partitions == settings_of(service("intake")).kafka_partitions
    assert depends_on(service("minio")).get("kafka-init") == "service_completed_successfully"


def test_minio_notifies_kafka_of_created_and_removed_objects() -> None:
    target = minio_kafka_target()
    assert target.topic == S3_EVENTS
    for broker in target.brokers:
        assert host_port(broker) in kafka_listeners()
    add = event_add_command()
    arn = next(arg for arg in add if arg.startswith("arn:"))
    assert arn == f"arn:minio:sqs::{target.id}:kafka"
    events = set(add[add.index("--event") + 1].split(","))
    assert {"put", "delete"} <= events
    bucket = env_value(service("minio-setup"), "BUCKET")
    assert f"ragstream/{bucket}" in add, "the notification is not on the bucket ragstream uses"
    assert depends_on(service("minio-setup")).get("minio") == "service_healthy"


def test_temporal_runs_on_postgres_with_its_ui() -> None:
    temporal = service("temporal")
    assert env_value(temporal, "DB").startswith("postgres")
    assert env_value(temporal, "POSTGRES_SEEDS") == "postgres"
    assert depends_on(temporal).get("postgres") == "service_healthy"
    created = postgres_init()
    assert env_value(temporal, "POSTGRES_USER") in created.roles
    assert env_value(temporal, "DBNAME") in created.databases
    assert env_value(temporal, "VISIBILITY_DBNAME") in created.databases
    ui = service("temporal-ui")
    assert host_port(env_value(ui, "TEMPORAL_ADDRESS")) == ("temporal", 7233)


def test_postgres_runs_the_init_script() -> None:
    mounts = [str(v) for v in service("postgres").get("volumes", [])]
    init = [m for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert init, "postgres-init.sql is not mounted into /docker-entrypoint-initdb.d/"
    source = init[0].split(":", 1)[0]
    assert (COMPOSE_FILE.parent / source).resolve() == ROOT / "infra" / "postgres-init.sql"


@dataclass(frozen=True)
class KafkaTarget:
    id: str
    brokers: list[str]
    topic: str


def minio_kafka_target() -> KafkaTarget:
    """The Kafka notification target MinIO's environment defines (MINIO_NOTIFY_KAFKA_*_<ID>)."""
    minio = service("minio")
    env = environment(minio)
    enabled = [
        name.removeprefix("MINIO_NOTIFY_KAFKA_ENABLE_")
        for name, value in env.items()
        if name.startswith("MINIO_NOTIFY_KAFKA_ENABLE_") and value == "on"
    ]
    assert len(enabled) == 1, f"MinIO must have one Kafka notification target, has {enabled}"
    target = enabled[0]
    return KafkaTarget(
        id=target,
        brokers=env_value(minio, f"MINIO_NOTIFY_KAFKA_BROKERS_{target}").split(","),
        topic=env_value(minio, f"MINIO_NOTIFY_KAFKA_TOPIC_{target}"),
    )


def event_add_command() -> list[str]:
    """The `mc event add ...` of the minio-setup job, its $$VARIABLES filled from its environment."""
    setup = service("minio-setup")
    command = setup["command"]
    script = command if isinstance(command, str) else "\n".join(command)
    env = environment(setup)

    def fill(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        assert value is not None, f"minio-setup uses ${match.group(1)}, which it does not set"
        return value

    script = re.sub(r"\$\$\{?(\w+)\}?", fill, script)
    for line in script.splitlines():
        args = shlex.split(line)
        if args[:3] == ["mc", "event", "add"]:
            return args
    raise AssertionError("minio-setup runs no `mc event add`")


def kafka_listeners() -> set[tuple[str, int]]:
    listeners = env_value(service("kafka"), "KAFKA_ADVERTISED_LISTENERS").split(",")
    return {host_port(listener.split("://", 1)[1]) for listener in listeners}


def published_ports(svc: Service) -> set[int]:
    """The container ports a service publishes on the host (short or long syntax)."""
    ports: set[int] = set()
    for entry in svc.get("ports", []):
        if isinstance(entry, Mapping):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


@dataclass(frozen=True)
class PostgresInit:
    roles: frozenset[str]
    databases: frozenset[str]


def postgres_init() -> PostgresInit:
    sql = (ROOT / "infra" / "postgres-init.sql").read_text(encoding="utf-8")
    return PostgresInit(
        roles=frozenset(re.findall(r"CREATE ROLE (\w+)", sql, re.IGNORECASE)),
        databases=frozenset(re.findall(r"CREATE DATABASE (\w+)", sql, re.IGNORECASE)),
    )


# --- the Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    return instructions


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    last_from = max(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return instructions[last_from:]


def base_image(stage: Instruction) -> str:
    """The image a FROM starts from, its build arguments replaced by their defaults."""
    defaults = {}
    for ins in dockerfile():
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults[name] = value
    image = stage.args.split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), image)


def test_the_image_is_multi_stage_and_its_final_stage_is_slim() -> None:
    stages = [ins for ins in dockerfile() if ins.keyword == "FROM"]
    assert len(stages) >= 2, "the Dockerfile is not multi-stage"
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base_image(final_stage()[0])), "not a slim Python"
    copies = [ins.args for ins in final_stage() if ins.keyword == "COPY"]
    assert any(args.startswith("--from=") and "/opt/venv" in args for args in copies), (
        "the final stage does not take the virtual environment from the builder"
    )


def test_the_image_runs_ragstream_as_an_unprivileged_user() -> None:
    users = [ins.args for ins in final_stage() if ins.keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"the final stage runs as {user}"
    entrypoint = [json.loads(ins.args) for ins in final_stage() if ins.keyword == "ENTRYPOINT"]
    assert entrypoint, "the final stage has no ENTRYPOINT"
    assert entrypoint[-1][0] == "ragstream"
    cmd = [json.loads(ins.args) for ins in final_stage() if ins.keyword == "CMD"]
    assert cmd, "the final stage has no default CMD"
    assert cmd[-1][0] in COMPONENTS
    keywords = {ins.keyword for ins in final_stage()}
    assert {"HEALTHCHECK", "EXPOSE"} <= keywords
    env = " ".join(ins.args for ins in final_stage() if ins.keyword == "ENV")
    assert "HF_HUB_OFFLINE=1" in env
    assert "DO_NOT_TRACK=true" in env


def stages() -> dict[str, list[Instruction]]:
    """Each stage's instructions, by the name its FROM gives it (`AS name`; else its position)."""
    named: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for ins in dockerfile():
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else str(len(named))
            current = named.setdefault(name, [])
        if current is not None:
            current.append(ins)
    return named


def test_the_image_installs_what_make_installs_but_pytorch() -> None:
    """The Dockerfile repeats the Makefile's install steps, with the serving set for the lock: keep
    their pins in step. PyTorch is installed only in the stage that exports the model."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    makefile = MAKEFILE.read_text(encoding="utf-8")
    assert "-r requirements/serving.txt" in text
    assert "-r requirements/lock.txt" not in text
    assert "--require-hashes -r requirements/spacy-model.txt" in text
    pinned = re.findall(r"--no-deps (\S+==\S+)", makefile)
    assert pinned, "the Makefile's --no-deps installs moved: update this test and the Dockerfile"
    for requirement in pinned:
        assert f"--no-deps {requirement}" in text, (
            f"the Dockerfile does not install {requirement} as make does"
        )
    assert re.search(r"pip install [^\n]*--no-deps[^\n]* \.", text), "ragstream itself is not installed"
    assert " -e ." not in text, "the image must install ragstream non-editable"
    by_stage = stages()
    exporting = [name for name, stage in by_stage.items() if any("torch" in ins.args for ins in stage)]
    assert exporting == ["model"], f"PyTorch is installed in {exporting}, not in the model stage alone"
    assert any("onnx_export" in ins.args for ins in by_stage["model"] if ins.keyword == "RUN")
    copies = [ins.args.split() for stage in by_stage.values() for ins in stage if ins.keyword == "COPY"]
    assert ["--from=model", "/opt/onnx", "/opt/venv/share/ragstream/onnx"] in copies


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (a path is out when it or a
    folder above it matches; the last matching pattern wins, `!` patterns bring paths back)."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        glob = pattern.removeprefix("!").strip("/")
        if glob.startswith("**/"):
            matched = any(fnmatch(candidate.rsplit("/", 1)[-1], glob[3:]) for candidate in candidates)
        else:
            matched = any(fnmatch(candidate, glob) for candidate in candidates)
        if matched:
            excluded = not keep
    return excluded


def test_what_the_image_copies_is_in_the_build_context() -> None:
    assert dockerignored(".venv/bin/python")
    assert dockerignored("infra/terraform/main.tf")
    for ins in dockerfile():
        if ins.keyword != "COPY" or ins.args.startswith("--from="):
            continue
        *sources, _ = ins.args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_warm_up_of_the_image_imports_what_exists() -> None:
    """The image builds the tokenizer cache and the light spaCy pipeline with `python -c` at build
    time: the functions it calls must exist."""
    import importlib

    runs = " ".join(ins.args for ins in final_stage() if ins.keyword == "RUN")
    imports = re.findall(r"from ([\w.]+) import (\w+)", runs)
    assert imports, "the image no longer warms up its caches: update this test"
    for module, name in imports:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name} does not exist"
