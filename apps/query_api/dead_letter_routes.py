"""`/v1/dead-letters`: what the stages gave up on, and redriving it to their topics (operators only:
the dead-letter topics hold every tenant's messages)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.database import Pool
from apps.common.dead_letters import DeadLetter, DeadLetters, Position
from apps.query_api.errors import ApiError
from apps.query_api.requests import read_model, read_query
from schemas.api import (
    DeadLetterList,
    DeadLetterQuery,
    RedriveRequest,
    RedriveStarted,
    SkippedDeadLetter,
)


@contextlib.contextmanager
def _kafka_answers(request: Request) -> Iterator[None]:
    try:
        yield
    except KafkaError as exc:
        servers = request.app.state.settings.kafka_bootstrap_servers
        message = f"Kafka at {servers} did not answer ({type(exc).__name__}): try again when it is up"
        raise ApiError(503, "unavailable", message) from exc


async def list_dead_letters(request: Request) -> Response:
    query = read_query(request, DeadLetterQuery)
    dead_letters: DeadLetters = request.app.state.dead_letters
    with _kafka_answers(request):
        letters = await dead_letters.waiting(query.stage)
    return JSONResponse(DeadLetterList(items=[d.info() for d in letters]).model_dump(mode="json"))


async def _stale(pool: Pool, letters: Sequence[DeadLetter]) -> dict[Position, str]:
    """The letters whose document version no longer wants indexing, and why."""
    documents = {letter.position: letter.document for letter in letters}
    ids = list({document.document_id for document in documents.values() if document is not None})
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, version, status FROM documents WHERE id = ANY(%s)", (ids,))
        rows = {row["id"]: row for row in await cur.fetchall()}
    reasons = {}
    for position, document in documents.items():
        if document is None:
            continue
        row = rows.get(document.document_id)
        if row is None or row["status"] == "deleted":
            reasons[position] = "the document was deleted"
        elif row["version"] != document.version:
            reasons[position] = f"version {document.version} was superseded by {row['version']}"
        elif row["status"] == "complete":
            reasons[position] = "the document is complete: it was indexed again since"
    return reasons


async def redrive_dead_letters(request: Request) -> Response:
    body = await read_model(request, RedriveRequest)
    dead_letters: DeadLetters = request.app.state.dead_letters
    pool: Pool = request.app.state.pool

    async def stale(letters: Sequence[DeadLetter]) -> dict[Position, str]:
        return await _stale(pool, letters)

    with _kafka_answers(request):
        redrive = await dead_letters.redrive(stale, body.stage)
    started = RedriveStarted(
        redriven=[d.info() for d in redrive.redriven],
        skipped=[SkippedDeadLetter(letter=d.info(), reason=reason) for d, reason in redrive.skipped],
        still_waiting=redrive.still_waiting,
    )
    return JSONResponse(started.model_dump(mode="json"), status_code=202)
