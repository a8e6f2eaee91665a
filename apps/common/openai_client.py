"""The `openai` SDK client, pointed at OpenAI or at any compatible server (`RAGSTREAM_OPENAI_BASE_URL`)."""

from __future__ import annotations

import httpx2
from openai import DEFAULT_CONNECTION_LIMITS, AsyncOpenAI, DefaultAioHttpClient

from apps.common.settings import Settings

# Servers close idle connections, uvicorn (vLLM) and Node after 5 s: a request sent on one at that
# moment fails with "Server disconnected" (in the benchmark, where the SDK does not retry, a question
# did). So the client lets its own idle connections go first.
IDLE_CONNECTION_SECONDS = 4.0


def openai_client(settings: Settings) -> AsyncOpenAI:
    """A client over aiohttp (the SDK's `aiohttp` extra) rather than its default httpx: a streamed
    answer costs the event loop less (BENCHMARKS.md, query). Close it when done (`await client.close()`)."""
    # A compatible server without auth still needs some key for the SDK to send a request.
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return AsyncOpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        max_retries=settings.openai_max_retries,
        http_client=DefaultAioHttpClient(
            limits=httpx2.Limits(
                max_connections=DEFAULT_CONNECTION_LIMITS.max_connections,
                max_keepalive_connections=DEFAULT_CONNECTION_LIMITS.max_keepalive_connections,
                keepalive_expiry=IDLE_CONNECTION_SECONDS,
            )
        ),
    )
