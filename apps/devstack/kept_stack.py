"""`ragstream dev`'s local infrastructure, kept under the state directory and resumed at every start:
Postgres, Temporal (SQLite), SeaweedFS (S3, on disk) and Tansu (Kafka) storing its log in a second SeaweedFS.

Two SeaweedFS, because the documents' one publishes its filer's events to Tansu: Tansu's storage must be
up before Tansu, and Tansu (with the events' topic) before the documents' SeaweedFS. On one SeaweedFS
neither started again after a restart. A part missing or holding another stack's id stops the start
(`StackMismatch`); `fresh=True` deletes the state first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psutil

from apps.devstack import stamps
from apps.devstack.kafka import EmbeddedKafka, create_topic, s3_storage_environment
from apps.devstack.manifest import MANIFEST_NAME, StackManifest
from apps.devstack.postgres import EmbeddedPostgres
from apps.devstack.process import ServerProcess, ServerRecord, free_port, port_open
from apps.devstack.s3 import ACCESS_KEY, REGION, SECRET_KEY
from apps.devstack.seaweedfs import EmbeddedSeaweedFS
from apps.devstack.stack import DATABASE, apps_environment
from apps.devstack.temporal import EmbeddedTemporal

FILER_TOPIC = "seaweedfs.filer"
KAFKA_BUCKET = "tansu"
# The parts' folders under the state directory (the README's disk layout).
PART_DIRS = {
    "postgres": "Postgres",
    "temporal": "Temporal",
    "qdrant": "the vector store",
    "s3": "S3",
    "kafka": "Kafka",
}


@dataclass
class KeptStack:
    state_dir: Path
    fresh: bool = False
    temporal_ui: bool = False
    say: Callable[[str], None] = print
    postgres: EmbeddedPostgres = field(init=False)
    temporal: EmbeddedTemporal = field(default_factory=EmbeddedTemporal)
    kafka_storage: EmbeddedSeaweedFS = field(init=False)
    kafka: EmbeddedKafka = field(init=False)
    s3: EmbeddedSeaweedFS = field(init=False)
    manifest: StackManifest = field(init=False)
    database_url: str = ""

    def __post_init__(self) -> None:
        self.postgres = EmbeddedPostgres(self.state_dir / "postgres", keep=True, say=self.say)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start(self) -> KeptStack:
        """Start the servers on the kept state (checked to be one stack's); stop them again if one fails."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = self._claim()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            if self.manifest.initialized:
                self._check_folders()
            self._start_servers()
            if not self.manifest.initialized:
                self._write_stamps()
        except BaseException:
            self.stop()
            raise
        return self

    def _claim(self) -> StackManifest:
        """The manifest of the stack to start: stale servers of an earlier run stopped, and with `fresh`
        (or after a first start that did not finish) a new one on an empty state directory."""
        manifest = StackManifest.load(self.state_dir)
        if manifest is not None:
            if manifest.owner is not None and manifest.owner.running():
                raise RuntimeError(
                    f"another ragstream dev (pid {manifest.owner.pid}) runs the stack in {self.state_dir}: "
                    "stop it first"
                )
            # Servers die with the ragstream dev that started them (apps/devstack/process.py); one that is
            # still stopping, or outlived it where that is not possible, would hold its ports and files.
            for record in manifest.servers.values():
                if record.running() is not None:
                    self.say(
                        f"stopping {record.name} (pid {record.pid}), left by an earlier ragstream dev..."
                    )
                    record.stop()
            if not manifest.initialized and not self.fresh:
                self.say("the first start of this stack did not finish: starting it anew")
                self._delete_state()
                manifest = None
        if self.fresh:
            self.say(f"--fresh: deleting the stack's state in {self.state_dir} (data, logs, {MANIFEST_NAME})")
            self._delete_state()
            manifest = None
        if manifest is None:
            leftovers = [name for name in PART_DIRS if (self.state_dir / name).exists()]
            if leftovers:
                raise stamps.StackMismatch(
                    self.state_dir, MANIFEST_NAME, f"is missing beside the folders {', '.join(leftovers)}"
                )
            manifest = StackManifest(self.state_dir / MANIFEST_NAME)
            self.say(f"a new stack in {self.state_dir}")
        else:
            self.say(f"resuming the stack in {self.state_dir}")
        myself = psutil.Process()
        manifest.owner = ServerRecord("ragstream dev", myself.pid, myself.create_time(), myself.cmdline()[0])
        manifest.servers = {}
        manifest.save()
        return manifest

    def _delete_state(self) -> None:
        for name in (*PART_DIRS, "logs"):
            shutil.rmtree(self.state_dir / name, ignore_errors=True)
        (self.state_dir / MANIFEST_NAME).unlink(missing_ok=True)

    def _check_folders(self) -> None:
        """Before starting anything: every part's data is there."""
        expected = {
            "postgres": self.postgres.data_dir / "PG_VERSION",
            "temporal": EmbeddedTemporal.database(self.state_dir / "temporal"),
            "qdrant": self.state_dir / "qdrant" / stamps.STAMP_FILE,
            "s3": self.state_dir / "s3",
            "kafka": self.state_dir / "kafka",
        }
        for name, path in expected.items():
            if not path.exists():
                raise stamps.StackMismatch(
                    self.state_dir, PART_DIRS[name], f"has lost its data ({path} is missing)"
                )
        found = stamps.read_file(self.state_dir / "qdrant")
        if found != self.manifest.stack_id:
            raise stamps.StackMismatch(
                self.state_dir, PART_DIRS["qdrant"], f"belongs to another stack ({found})"
            )

    def _port(self, part: str, name: str) -> int:
        """The port `part` had, else a free one (none yet, or taken). None of the parts needs its old port
        (a restart on new ports of Postgres, Temporal, Tansu and SeaweedFS was checked); keeping them
        keeps the endpoints that a browser tab or a shell's variables still hold."""
        recorded = self.manifest.ports.get(part, {}).get(name, 0)
        if recorded and port_open(recorded):
            self.say(f"port {recorded} of {part} is taken by another program: using another")
            recorded = 0
        return recorded or free_port()

    def _started(self, part: str, process: ServerProcess | None, ports: dict[str, int]) -> None:
        assert process is not None
        self.manifest.servers[part] = process.record()
        self.manifest.ports[part] = ports
        self.manifest.save()

    def _start_servers(self) -> None:
        self.say("starting Postgres (.ragstream/postgres)...")
        self.postgres.port = self._port("postgres", "port")
        self.postgres.start(self.log_dir)
        self._started("postgres", self.postgres.process, {"port": self.postgres.port})
        self._check("Postgres", lambda: stamps.read_postgres(self.postgres.url, DATABASE))
        self.database_url = self.postgres.database_url(DATABASE)

        self.say("starting Temporal (.ragstream/temporal)...")
        self.temporal.port = self._port("temporal", "port")
        if self.temporal_ui:
            self.temporal.ui_port = self._port("temporal", "ui_port")
        self.temporal.start(self.state_dir / "temporal", self.log_dir, ui=self.temporal_ui, durable=True)
        ports = {"port": self.temporal.port} | (
            {"ui_port": self.temporal.ui_port} if self.temporal.ui_port else {}
        )
        self._started("temporal", self.temporal.process, ports)

        self.say("starting SeaweedFS for Kafka's storage (.ragstream/kafka)...")
        self.kafka_storage = self._seaweedfs("kafka", "seaweedfs-kafka")
        self.kafka_storage.start(self.log_dir)
        self._started("kafka-storage", self.kafka_storage.process, self.kafka_storage.ports())
        self._check("Kafka's storage (SeaweedFS)", lambda: stamps.read_filer(self.kafka_storage.filer_url))
        self._create_bucket(self.kafka_storage.endpoint_url, KAFKA_BUCKET)

        self.say(f"starting Kafka (Tansu, storing in s3://{KAFKA_BUCKET}/ on that SeaweedFS)...")
        storage_env = s3_storage_environment(self.kafka_storage.endpoint_url, ACCESS_KEY, SECRET_KEY, REGION)
        self.kafka = EmbeddedKafka(
            self._port("kafka", "port"), storage=f"s3://{KAFKA_BUCKET}/", storage_environment=storage_env
        )
        self.kafka.start(self.log_dir)
        self._started("kafka", self.kafka.process, {"port": self.kafka.port})
        self._check("Kafka (Tansu)", lambda: stamps.read_kafka(self.kafka.bootstrap_servers))
        create_topic(self.kafka.bootstrap_servers, FILER_TOPIC)

        self.say(
            f"starting SeaweedFS for the documents (.ragstream/s3), its events to topic {FILER_TOPIC}..."
        )
        self.s3 = self._seaweedfs("s3", "seaweedfs", notify_kafka=self.kafka.bootstrap_servers)
        self.s3.start(self.log_dir)
        self._started("s3", self.s3.process, self.s3.ports())
        self._check("S3 (SeaweedFS)", lambda: stamps.read_filer(self.s3.filer_url))

    def _seaweedfs(self, part: str, name: str, *, notify_kafka: str | None = None) -> EmbeddedSeaweedFS:
        """A SeaweedFS on `part`'s folder, on the ports it had (none need be the same: its endpoint is)."""
        server = EmbeddedSeaweedFS(
            self.state_dir / part, name, notify_kafka=notify_kafka, notify_topic=FILER_TOPIC
        )
        for port in self.manifest.ports.get(part, {}):
            setattr(server, port, self._port(part, port))
        return server

    @staticmethod
    def _create_bucket(endpoint_url: str, bucket: str) -> None:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )
        with contextlib.suppress(
            client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists
        ):
            client.create_bucket(Bucket=bucket)

    def _check(self, part: str, read: Callable[[], str | None]) -> None:
        """On a resumed stack, as soon as `part` is up and before anything is written to it: it holds the
        stack's id."""
        if not self.manifest.initialized:
            return
        found = read()
        if found != self.manifest.stack_id:
            problem = "has lost its data" if not found else f"holds another stack's data ({found})"
            raise stamps.StackMismatch(self.state_dir, part, problem)

    def _write_stamps(self) -> None:
        stack_id = self.manifest.stack_id
        self.postgres.create_database(DATABASE)
        stamps.write_postgres(self.postgres.url, DATABASE, stack_id)
        stamps.write_filer(self.s3.filer_url, stack_id)
        stamps.write_filer(self.kafka_storage.filer_url, stack_id)
        stamps.write_kafka(self.kafka.bootstrap_servers, stack_id)
        stamps.write_file(self.state_dir / "qdrant", stack_id)
        self.manifest.initialized = True
        self.manifest.save()

    def servers(self) -> list[ServerProcess]:
        """The servers started, in the order they started."""
        parts = [
            getattr(self, name, None) for name in ("postgres", "temporal", "kafka_storage", "kafka", "s3")
        ]
        return [part.process for part in parts if part is not None and part.process is not None]

    def stop(self) -> None:
        """Stop every server we started, by PID: all signalled at once (SeaweedFS takes seconds to stop),
        then each awaited, newest first."""
        servers = self.servers()
        for server in servers:
            server.signal_stop()
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
        if getattr(self, "manifest", None) is not None and self.manifest.path.parent.exists():
            self.manifest.owner = None
            self.manifest.servers = {}
            self.manifest.save()

    def environment(self, *, api_port: int = 8000) -> dict[str, str]:
        """The `RAGSTREAM_*` settings that point every ragstream process at this stack: S3 events come from
        the filer's topic (no SQS); the reconciler's interval can be set in the environment."""
        interval = os.environ.get("RAGSTREAM_RECONCILE_INTERVAL", "PT1M")
        base = apps_environment(
            self.state_dir,
            self.database_url,
            self.kafka,
            self.temporal,
            api_port,
            reconcile_interval=interval,
        )
        return base | {
            "RAGSTREAM_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "RAGSTREAM_S3_REGION": REGION,
            "RAGSTREAM_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "RAGSTREAM_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "RAGSTREAM_S3_EVENTS_FILER_TOPIC": FILER_TOPIC,
        }
