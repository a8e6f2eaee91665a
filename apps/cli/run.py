"""Runs components until Ctrl-C (SIGINT) or SIGTERM, then stops them cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Collection

from apps.cli.system import Component, System, running_system
from apps.common.settings import Settings


async def run_until_stopped(
    settings: Settings,
    components: Collection[Component],
    *,
    on_started: Callable[[System], Awaitable[None] | None] | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_system(settings, components) as system:
            if on_started is not None:
                result = on_started(system)
                if result is not None:
                    await result
            while not stop.is_set():
                failure = system.failed_task()
                if failure is not None:
                    raise failure
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
