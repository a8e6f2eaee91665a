"""An HTTP client for the query API of the running stack, with its bearer token if one is set."""

from __future__ import annotations

from typing import Any

import httpx

from apps.common.settings import Settings


class NoRunningStack(RuntimeError):
    pass


def api_client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
    headers = {}
    if settings.api_token:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    return httpx.Client(base_url=settings.api_url, headers=headers, timeout=timeout)


def unreachable_message(settings: Settings) -> str:
    return (
        f"the query API at {settings.api_url} does not answer: start the system with `ragstream dev` "
        "(or set RAGSTREAM_API_HOST / RAGSTREAM_API_PORT)"
    )


def api_error(response: httpx.Response) -> str:
    """The API's JSON error body of `response`, as `code: message`."""
    error: dict[str, Any] = response.json().get("error", {})
    return f"{error.get('code')}: {error.get('message')}"
