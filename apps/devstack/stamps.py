"""The stack id written inside each part of a kept stack, and read back at every start: a part whose data
is missing or belongs to another stack makes the start fail instead of serving half a state."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from apps.devstack.kafka import create_topic, list_topics

_FILER_PATH = "/ragstream/stack-id"
_TOPIC_PREFIX = "_ragstream.stack."
STAMP_FILE = "ragstream-stack-id"


class StackMismatch(RuntimeError):
    """A part of the kept stack is missing or is another stack's."""

    def __init__(self, state_dir: Path, part: str, problem: str) -> None:
        super().__init__(
            f"the stack in {state_dir} cannot be resumed: {part} {problem}. Nothing was changed. Restore "
            f"{state_dir} from a backup, or start an empty stack with `ragstream dev --fresh` "
            "(it deletes this one's data)."
        )
        self.part = part


def read_postgres(admin_url: str, database: str) -> str | None:
    """The stack id in the comment of `database`; None if there is no such database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
    return None if row is None else (row[0] or "")


def write_postgres(admin_url: str, database: str, stack_id: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = psycopg.sql.SQL("COMMENT ON DATABASE {} IS {}")
        conn.execute(statement.format(psycopg.sql.Identifier(database), psycopg.sql.Literal(stack_id)))


def read_filer(filer_url: str) -> str | None:
    """The stack id in a SeaweedFS filer's file (outside the buckets: not an S3 object)."""
    try:
        return _filer_request(urllib.request.Request(f"{filer_url}{_FILER_PATH}")).decode()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def write_filer(filer_url: str, stack_id: str) -> None:
    _filer_request(urllib.request.Request(f"{filer_url}{_FILER_PATH}", data=stack_id.encode(), method="PUT"))


def _filer_request(request: urllib.request.Request, timeout: float = 30.0) -> bytes:
    """Send `request`, waiting for the filer: it listens a moment after SeaweedFS's S3 serves."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return bytes(response.read())
        except urllib.error.HTTPError:
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def read_file(directory: Path) -> str | None:
    try:
        return (directory / STAMP_FILE).read_text()
    except FileNotFoundError:
        return None


def write_file(directory: Path, stack_id: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STAMP_FILE).write_text(stack_id)


def read_kafka(bootstrap_servers: str) -> str | None:
    """The stack id in the name of an empty topic: the broker's own storage remembers it."""
    topics = list_topics(bootstrap_servers)
    return next((t.removeprefix(_TOPIC_PREFIX) for t in topics if t.startswith(_TOPIC_PREFIX)), None)


def write_kafka(bootstrap_servers: str, stack_id: str) -> None:
    create_topic(bootstrap_servers, _TOPIC_PREFIX + stack_id)
