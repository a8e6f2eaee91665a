"""The tests' local infrastructure: start the four servers fresh, provision them, describe them as settings.

Kafka and S3 (moto, whose SQS carries the bucket's events as on AWS) keep their data in memory, so
Postgres, Temporal and the vector store start empty too. `ragstream dev` keeps its state instead:
apps/devstack/kept_stack.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from apps.common.database import migrate
from apps.common.kafka import ensure_topics
from apps.common.s3 import s3_client, sqs_client
from apps.common.settings import Settings
from apps.devstack.kafka import EmbeddedKafka
from apps.devstack.postgres import EmbeddedPostgres
from apps.devstack.s3 import ACCESS_KEY, REGION, SECRET_KEY, EmbeddedS3
from apps.devstack.temporal import EmbeddedTemporal

log = logging.getLogger(__name__)

DATABASE = "ragstream"
EVENTS_QUEUE = "ragstream-s3-events"


@dataclass
class LocalStack:
    state_dir: Path
    temporal_ui: bool = False
    postgres: EmbeddedPostgres = field(init=False)
    kafka: EmbeddedKafka = field(default_factory=EmbeddedKafka)
    temporal: EmbeddedTemporal = field(default_factory=EmbeddedTemporal)
    s3: EmbeddedS3 = field(default_factory=EmbeddedS3)
    database_url: str = ""

    def __post_init__(self) -> None:
        self.postgres = EmbeddedPostgres(self.state_dir / "postgres")

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def start(self) -> LocalStack:
        """Start the servers from empty state; stop those already started if one fails."""
        for sub in ("postgres", "temporal", "qdrant", "logs"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.kafka.start(self.log_dir)
            self.s3.start(self.log_dir)
            self.temporal.start(self.state_dir / "temporal", self.log_dir, ui=self.temporal_ui)
            self.postgres.start(self.log_dir)
            self.database_url = self.postgres.create_database(DATABASE)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server we started, by PID, newest first."""
        for server in (self.postgres, self.temporal, self.s3, self.kafka):
            with contextlib.suppress(Exception):
                server.stop()

    def environment(self, *, api_port: int = 8000) -> dict[str, str]:
        """The `RAGSTREAM_*` settings that point every ragstream process at this stack."""
        return apps_environment(self.state_dir, self.database_url, self.kafka, self.temporal, api_port) | {
            "RAGSTREAM_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "RAGSTREAM_S3_REGION": REGION,
            "RAGSTREAM_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "RAGSTREAM_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "RAGSTREAM_S3_EVENTS_SQS_QUEUE_URL": self.s3.queue_url(EVENTS_QUEUE),
        }


def apps_environment(
    state_dir: Path,
    database_url: str,
    kafka: EmbeddedKafka,
    temporal: EmbeddedTemporal,
    api_port: int,
    *,
    reconcile_interval: str = "PT1M",
) -> dict[str, str]:
    """The settings of every local stack's apps but S3's."""
    ui = {"RAGSTREAM_TEMPORAL_UI_URL": temporal.ui_url} if temporal.ui_url else {}
    return ui | {
        "RAGSTREAM_STATE_DIR": str(state_dir),
        "RAGSTREAM_DATABASE_URL": database_url,
        "RAGSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "RAGSTREAM_KAFKA_IDEMPOTENT_PRODUCER": "false",
        "RAGSTREAM_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "RAGSTREAM_KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        # Tansu answers a fetch of one partition as soon as a message lands (a hop takes ~2 ms), but
        # holds a fetch of several for up to its wait (500 ms: hops of p50 100-150 ms). One process
        # consumes every partition here anyway.
        "RAGSTREAM_KAFKA_PARTITIONS": "1",
        "RAGSTREAM_TEMPORAL_ADDRESS": temporal.address,
        "RAGSTREAM_QDRANT_URL": str(state_dir / "qdrant"),
        # Locally the reconciler is on: it starts what dropped S3 events missed, at start and each minute.
        "RAGSTREAM_RECONCILE_INTERVAL": reconcile_interval,
        "RAGSTREAM_API_PORT": str(api_port),
    }


async def provision(settings: Settings) -> None:
    """Create what the apps expect to exist: tables, topics, the bucket, and its event notifications to
    SQS where the events come from SQS (SeaweedFS's filer publishes them to Kafka by itself)."""
    await migrate(settings.database_url)
    await ensure_topics(settings)
    if settings.s3_events_sqs_queue_url:
        await create_bucket_with_notifications(settings, EVENTS_QUEUE)
    else:
        await create_bucket(settings)


async def create_bucket(settings: Settings) -> None:
    async with s3_client(settings) as s3:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            await s3.create_bucket(Bucket=settings.s3_bucket)


async def create_bucket_with_notifications(settings: Settings, queue_name: str) -> None:
    """The bucket, an SQS queue, and the bucket's ObjectCreated/Removed notifications to it (as on AWS)."""
    async with s3_client(settings) as s3, sqs_client(settings) as sqs:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            await s3.create_bucket(Bucket=settings.s3_bucket)
        queue_url = (await sqs.create_queue(QueueName=queue_name))["QueueUrl"]
        attributes = await sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        await s3.put_bucket_notification_configuration(
            Bucket=settings.s3_bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": "ragstream-ingest",
                        "QueueArn": attributes["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    }
                ]
            },
        )


def run_provision(settings: Settings) -> None:
    asyncio.run(provision(settings))
