"""Runs the app under uvicorn inside an existing event loop (signals are the caller's to handle)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette


class ApiServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the process that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def wait_started(self, task: asyncio.Task[None], timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.started:
            if task.done():
                task.result()
                raise RuntimeError("the API server stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the API server did not start")
            await asyncio.sleep(0.02)


def api_server(app: Starlette, *, host: str, port: int) -> ApiServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        http="httptools",  # its C parser: less of the event loop an answer than h11's Python
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    return ApiServer(config)
