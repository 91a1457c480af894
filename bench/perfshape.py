"""What a sync costs beyond the bot's own CPU: its helper processes' CPU and how long it held
the event loop (commands wait that long)."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
TICK_S = 0.001  # how often the watcher asks for the loop: finer than any hold that matters


def children_cpu_ms() -> float:
    """CPU milliseconds of this process' ended (waited-for) child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


async def _watch(longest: list[float]) -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(TICK_S)
        longest[0] = max(longest[0], (time.perf_counter() - started - TICK_S) * 1000)


async def costs_of(work: Awaitable[T], watch: bool = False) -> tuple[T, float, float, float]:
    """What `work` returns; the CPU ms of this process (every thread) and of the child
    processes it ran; with `watch`, the longest ms the event loop was held meanwhile (0.0
    without: the watcher's ticks would count in the CPU)."""
    longest = [0.0]
    watcher = asyncio.create_task(_watch(longest)) if watch else None
    await asyncio.sleep(0)  # the watcher is ticking before the work starts
    cpu, children = time.process_time(), children_cpu_ms()
    try:
        result = await work
    finally:
        if watcher is not None:
            watcher.cancel()
    return (result, (time.process_time() - cpu) * 1000, children_cpu_ms() - children,
            longest[0])
