"""Embedded S3 on disk: SeaweedFS (`weed server`: master, volume, filer, S3) keeping everything in one folder.

With `notify_kafka` set its filer publishes every metadata change (protobuf `EventNotification`) to Kafka.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from apps.devstack.binaries import venv_binary
from apps.devstack.process import ServerProcess, free_port
from apps.devstack.s3 import ACCESS_KEY, SECRET_KEY

# Every port `weed server` would otherwise open on a fixed default (9333, 8080, 8888, 8333, 8181 and 9101
# for the Iceberg and Lance catalogs, gRPC at port + 10000) is set here: two stacks, or a stack beside a
# real SeaweedFS, must not collide. The Iceberg and Lance servers are turned off.
#
# Ports on restart (checked: put, stop, start on other ports, get, put, stop, start on the first ports,
# get both): objects survive either way. The filer stores chunks by volume id, not address, and the volume
# server registers itself with the master afresh at every start. But the master keeps its raft state in
# `master/m<port>/`, so another master port starts a fresh one and leaves the old folder behind, and the S3
# endpoint URL the clients know changes: pass the previous `ports()` back to `start` on a restart.
_STOP_GRACE_SECONDS = 1.0
_PORT_FIELDS = (
    "s3_port",
    "s3_grpc_port",
    "master_port",
    "master_grpc_port",
    "volume_port",
    "volume_grpc_port",
    "filer_port",
    "filer_grpc_port",
)


@dataclass
class EmbeddedSeaweedFS:
    data_dir: Path
    name: str = "seaweedfs"
    notify_kafka: str | None = None
    notify_topic: str = "seaweedfs.filer"
    s3_port: int = 0
    s3_grpc_port: int = 0
    master_port: int = 0
    master_grpc_port: int = 0
    volume_port: int = 0
    volume_grpc_port: int = 0
    filer_port: int = 0
    filer_grpc_port: int = 0
    process: ServerProcess | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def filer_url(self) -> str:
        return f"http://127.0.0.1:{self.filer_port}"

    def ports(self) -> dict[str, int]:
        """Every port it uses, by field name: `start(log_dir, ports=...)` reuses them."""
        return {name: getattr(self, name) for name in _PORT_FIELDS}

    def start(self, log_dir: Path, *, ports: Mapping[str, int] | None = None) -> EmbeddedSeaweedFS:
        """Start on `data_dir` (kept from earlier runs), on `ports` (an earlier `ports()`) where given, and
        free ones for the port fields still 0; return once S3 serves and a volume server is listed."""
        for name, port in (ports or {}).items():
            if name not in _PORT_FIELDS:
                raise ValueError(f"{name} is not a port of {self.name} (those are {', '.join(_PORT_FIELDS)})")
            setattr(self, name, port)
        for name in _PORT_FIELDS:
            if not getattr(self, name):
                setattr(self, name, free_port())
        config_dir = self._write_config()
        argv = [
            str(venv_binary("weed")),
            f"-config_dir={config_dir}",
            "server",
            *self._server_flags(config_dir),
        ]
        self.process = ServerProcess(self.name, argv, log_dir / f"{self.name}.log").start()
        # Either comes first: S3 answering (with 500s until the master knows a volume server), or the master
        # listing the volume server ~1 s before S3 listens (a restart). Ready is both.
        self.process.wait_until(self._serving, timeout=60)
        return self

    def _server_flags(self, config_dir: Path) -> list[str]:
        volumes = self.data_dir / "volumes"
        volumes.mkdir(parents=True, exist_ok=True)
        flags = {
            "ip": "127.0.0.1",
            "ip.bind": "127.0.0.1",
            "dir": str(volumes),
            "master.dir": str(self._folder("master")),  # raft state and the filer's leveldb store
            "master.port": self.master_port,
            "master.port.grpc": self.master_grpc_port,
            "master.telemetry": "false",
            "master.electionTimeout": "1s",  # a restart is ready in ~3 s instead of ~14 s
            "master.volumeSizeLimitMB": 64,  # volume.max=0 counts free disk in units of this size
            "volume.port": self.volume_port,
            "volume.port.grpc": self.volume_grpc_port,
            "volume.max": 0,  # as many volumes as the disk allows
            "volume.preStopSeconds": 0,  # its default 10 s lets clients move away: a stop then takes 10 s
            "filer": "true",
            "filer.port": self.filer_port,
            "filer.port.grpc": self.filer_grpc_port,
            "s3": "true",
            "s3.port": self.s3_port,
            "s3.port.grpc": self.s3_grpc_port,
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
            "s3.config": str(config_dir / "s3.json"),
        }
        return [f"-{flag}={value}" for flag, value in flags.items()]

    def _folder(self, name: str) -> Path:
        folder = self.data_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _write_config(self) -> Path:
        """The S3 identity (the local stack's keys), the filer's store and where the filer sends its events,
        written each start. weed reads `-config_dir` first, before `.` and `~/.seaweedfs/`: writing every file
        it would look for keeps a user's own SeaweedFS configuration out."""
        config_dir = self._folder("config")
        identity = {
            "name": "ragstream",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        (config_dir / "s3.json").write_text(json.dumps({"identities": [identity]}, indent=2))
        # Where `weed server` puts the filer's leveldb by default (in the master's folder), said explicitly.
        store = json.dumps(str(self.data_dir / "master" / "filerldb2"))
        (config_dir / "filer.toml").write_text(f"[leveldb2]\nenabled = true\ndir = {store}\n")
        kafka = "enabled = false\n"
        if self.notify_kafka:
            hosts = json.dumps(self.notify_kafka.split(","))
            kafka = f"enabled = true\nhosts = {hosts}\ntopic = {json.dumps(self.notify_topic)}\n"
        (config_dir / "notification.toml").write_text(f"[notification.kafka]\n{kafka}")
        return config_dir

    def _serving(self) -> bool:
        return self._volume_server_listed() and _answers(f"{self.endpoint_url}/healthz")

    def _volume_server_listed(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.master_port}/dir/status"
            with urllib.request.urlopen(url, timeout=1) as response:
                status = json.load(response)
        except (OSError, ValueError):
            return False
        centers = status.get("Topology", {}).get("DataCenters") or []
        return any(rack.get("DataNodes") for center in centers for rack in center.get("Racks") or [])

    def stop(self) -> None:
        # On TERM, weed's filer waits 15 s (fixed in `weed server`) for open gRPC streams, the S3
        # gateway's own metadata subscription among them, before anything else stops. What it has
        # acknowledged is on disk already: volumes and the filer's leveldb journal are written per
        # request (tests/integration/test_seaweedfs.py puts, stops, reads back). So a short grace, then KILL.
        if self.process:
            self.process.stop(timeout=_STOP_GRACE_SECONDS)
            self._remove_sockets()

    def _remove_sockets(self) -> None:
        # weed opens unix sockets beside its TCP ports, in /tmp and named by port, and leaves them on exit.
        sockets = [
            f"{kind}-grpc-{getattr(self, f'{kind}_grpc_port')}"
            for kind in ("master", "volume", "filer", "s3")
        ]
        sockets += [f"filer-{self.filer_port}", f"s3-{self.s3_port}"]
        for socket in sockets:
            Path(f"/tmp/seaweedfs-{socket}.sock").unlink(missing_ok=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
