"""The memory a structure holds, by tracemalloc: what building it left allocated."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def traced_mb(build: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """MB that what `build` makes holds (every Python and numpy allocation still alive,
    whatever the C library keeps mapped besides), and what it made."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = await build()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / 2**20, built
