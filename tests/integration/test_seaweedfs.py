"""The embedded SeaweedFS (apps/devstack/seaweedfs.py): S3 with the local stack's keys, objects kept on disk
across restarts, on the same ports or others, and only the ports it was given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from apps.devstack.process import port_open
from apps.devstack.s3 import ACCESS_KEY, REGION, SECRET_KEY
from apps.devstack.seaweedfs import EmbeddedSeaweedFS

pytestmark = pytest.mark.integration


def s3(server: EmbeddedSeaweedFS) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


@pytest.fixture
def servers() -> Iterator[list[EmbeddedSeaweedFS]]:
    """The servers a test starts, each stopped by PID at its end (also when the test failed)."""
    started: list[EmbeddedSeaweedFS] = []
    yield started
    for server in started:
        server.stop()


def test_objects_survive_restarts_on_the_same_ports_and_on_others(
    tmp_path: Path, servers: list[EmbeddedSeaweedFS]
) -> None:
    data, logs = tmp_path / "seaweedfs", tmp_path / "logs"
    first = EmbeddedSeaweedFS(data)
    servers.append(first.start(logs))
    ports = first.ports()
    assert len(set(ports.values())) == len(ports)
    assert all(ports.values())
    client = s3(first)
    client.create_bucket(Bucket="kept")
    put = client.put_object(Bucket="kept", Key="notes/a b ü.txt", Body=b"hello world")
    assert put["ETag"] == '"5eb63bbbe01eeed093cb22bb8f5acdc3"'  # the md5, as S3 gives it for one part
    first.stop()
    assert not any(port_open(port) for port in ports.values())

    same = EmbeddedSeaweedFS(data)
    servers.append(same.start(logs, ports=ports))
    assert same.endpoint_url == first.endpoint_url
    assert s3(same).get_object(Bucket="kept", Key="notes/a b ü.txt")["Body"].read() == b"hello world"
    # Stopped right after the puts: what S3 acknowledged is on disk even though the stop ends in KILL.
    client = s3(same)
    client.put_object(Bucket="kept", Key="second.txt", Body=b"after a restart")
    for n in range(20):
        client.put_object(Bucket="kept", Key=f"many/{n}.txt", Body=f"object {n}".encode())
    same.stop()

    other = EmbeddedSeaweedFS(data)
    servers.append(other.start(logs))
    assert other.ports() != ports
    client = s3(other)
    assert client.get_object(Bucket="kept", Key="notes/a b ü.txt")["Body"].read() == b"hello world"
    assert client.get_object(Bucket="kept", Key="second.txt")["Body"].read() == b"after a restart"
    for n in range(20):
        assert client.get_object(Bucket="kept", Key=f"many/{n}.txt")["Body"].read() == f"object {n}".encode()
    head = client.head_object(Bucket="kept", Key="notes/a b ü.txt")
    assert (head["ETag"], head["ContentLength"]) == ('"5eb63bbbe01eeed093cb22bb8f5acdc3"', 11)


def test_it_refuses_other_credentials(tmp_path: Path, servers: list[EmbeddedSeaweedFS]) -> None:
    server = EmbeddedSeaweedFS(tmp_path / "seaweedfs")
    servers.append(server.start(tmp_path / "logs"))
    stranger = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="stranger",
        aws_secret_access_key="not-the-secret",
        region_name=REGION,
    )
    with pytest.raises(stranger.exceptions.ClientError):
        stranger.create_bucket(Bucket="theirs")
