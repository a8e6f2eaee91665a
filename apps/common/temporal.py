"""The Temporal client, with the pydantic data converter so `schemas` models cross as JSON."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from apps.common.settings import Settings


def _tls(settings: Settings) -> TLSConfig | bool:
    """TLS to Temporal Cloud or a secured cluster: with a client certificate (mTLS) when given."""
    if not settings.temporal_tls:
        return False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.get_secret_value().encode(),
            client_private_key=settings.temporal_tls_key.get_secret_value().encode(),
        )
    return True


async def connect(settings: Settings, *, timeout: float = 30.0) -> Client:
    """Connect, retrying while the server is still starting (it refuses connections until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=pydantic_data_converter,
                tls=_tls(settings),
                # Carries the trace into workflows, activities and signals (and out of them).
                interceptors=[TracingInterceptor()],
            )
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


class LazyTemporal:
    """Connects on first use, so a process that rarely needs Temporal starts without it."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def __call__(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await connect(self._settings)
            return self._client
