"""`/healthz` (the process is up) and `/readyz` (Postgres, the vector store, Kafka and Temporal answer)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.kafka import admin_client
from schemas.api import Health, Readiness

log = logging.getLogger(__name__)
_CHECK_TIMEOUT = 3.0


async def healthz(request: Request) -> Response:
    return JSONResponse(Health(status="ok").model_dump())


async def _postgres(request: Request) -> None:
    async with request.app.state.pool.connection() as conn:
        await conn.execute("SELECT 1")


async def _vector_store(request: Request) -> None:
    await request.app.state.store.resolve(request.app.state.settings.qdrant_collection)


async def _kafka(request: Request) -> None:
    async with admin_client(request.app.state.settings, request_timeout_ms=2000) as admin:
        await admin.describe_cluster()


async def _temporal(request: Request) -> None:
    client = await request.app.state.temporal()
    if not await client.service_client.check_health():
        raise RuntimeError("Temporal answered that it is not serving")


async def readyz(request: Request) -> Response:
    checks = {"postgres": _postgres, "vector_store": _vector_store, "kafka": _kafka, "temporal": _temporal}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(request), _CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"failed: {type(exc).__name__}"
    ready = all(v == "ok" for v in results.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=results)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
