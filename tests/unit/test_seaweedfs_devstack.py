"""The embedded SeaweedFS's command line and configuration, without starting it: every port set (no fixed
default left to collide), the local stack's S3 keys, and the filer's Kafka target only when asked."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from apps.devstack.s3 import ACCESS_KEY, SECRET_KEY
from apps.devstack.seaweedfs import EmbeddedSeaweedFS


def flags(server: EmbeddedSeaweedFS) -> dict[str, str]:
    config = server._write_config()
    pairs = (flag.removeprefix("-").split("=", 1) for flag in server._server_flags(config))
    return {name: value for name, value in pairs}


def test_every_port_is_given_on_the_command_line(tmp_path: Path) -> None:
    server = EmbeddedSeaweedFS(tmp_path)
    for n, name in enumerate(server.ports()):
        setattr(server, name, 20000 + n)
    given = flags(server)
    for name, port in server.ports().items():
        flag = name.removesuffix("_port").replace("_grpc", ".port.grpc")
        flag = flag if flag.endswith(".grpc") else f"{flag}.port"
        assert given[flag] == str(port), flag
    assert (given["s3.port.iceberg"], given["s3.port.lance"]) == ("0", "0")  # no servers on 8181 and 9101
    assert (given["ip.bind"], given["master.telemetry"]) == ("127.0.0.1", "false")
    assert given["dir"].startswith(str(tmp_path))
    assert given["master.dir"].startswith(str(tmp_path))


def test_s3_knows_the_local_stacks_keys(tmp_path: Path) -> None:
    config = json.loads(Path(flags(EmbeddedSeaweedFS(tmp_path))["s3.config"]).read_text())
    [identity] = config["identities"]
    assert identity["credentials"] == [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]


def test_the_filer_notifies_kafka_only_when_asked(tmp_path: Path) -> None:
    server = EmbeddedSeaweedFS(tmp_path, notify_kafka="127.0.0.1:1,127.0.0.1:2", notify_topic="t.filer")
    config = server._write_config()
    kafka = tomllib.loads((config / "notification.toml").read_text())["notification"]["kafka"]
    assert kafka == {"enabled": True, "hosts": ["127.0.0.1:1", "127.0.0.1:2"], "topic": "t.filer"}
    server.notify_kafka = None
    off = tomllib.loads((server._write_config() / "notification.toml").read_text())["notification"]["kafka"]
    assert off == {"enabled": False}  # written all the same: a notification.toml in `.` is not read


def test_the_filer_store_is_in_the_data_folder(tmp_path: Path) -> None:
    config = EmbeddedSeaweedFS(tmp_path)._write_config()
    store = tomllib.loads((config / "filer.toml").read_text())["leveldb2"]
    assert store == {"enabled": True, "dir": str(tmp_path / "master" / "filerldb2")}


def test_unknown_ports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a port"):
        EmbeddedSeaweedFS(tmp_path).start(tmp_path / "logs", ports={"webdav_port": 7333})
