"""Memory the process no longer uses, handed back to the system."""

from __future__ import annotations

import ctypes
import sys


def give_back_free_memory() -> None:
    """Return the C heap's free pages to the system, where the C library can (glibc).

    A search index build or a sync of a large folder frees hundreds of MB of temporaries
    (numpy arrays, rows, paths) when it ends, but glibc keeps most of that memory mapped
    for a reuse that rarely comes: the process would stay that much larger for good.
    """
    if sys.platform.startswith("linux"):
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # absent from musl
        if trim is not None:
            trim(0)
