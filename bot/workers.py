"""Worker processes for CPU-bound work off the event loop (a sync's parsing, a poll's feeds),
which end with the process that started them."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

# How often a worker that cannot ask the kernel to end it with its parent checks on it.
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def process_pool(workers: int, *, niceness: int = 0) -> ProcessPoolExecutor:
    """A pool of `workers` processes, each ended when this process ends (see
    `end_with_parent`) and run `niceness` steps below this one's CPU priority; start it
    from the event loop's thread, as that needs."""
    # spawn, not fork: the parent runs threads (aiosqlite, the event loop) that fork would copy.
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(os.getpid(), niceness))


def start_worker(parent: int, niceness: int) -> None:
    """Worker initializer: lower this worker's priority, and end it with its parent."""
    if niceness:
        os.nice(niceness)
    end_with_parent(parent)


def end_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the process that started it ends.

    A parent killed outright (kill -9, the OOM killer) shuts no pool down: its workers, and
    the resource tracker that waits for them, would run on for nobody. On Linux the kernel
    kills the worker the moment its parent goes (prctl PR_SET_PDEATHSIG): no thread, no
    polling. It fires when the thread that started the worker ends; the pool starts workers
    from the thread that submits work, the event loop's, which outlives the pool. Elsewhere
    a daemon thread notices that the worker was handed to another parent.
    """
    if not (sys.platform.startswith("linux") and _kernel_ends_us_with_parent()):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before any of that was in place
        os._exit(1)


def _kernel_ends_us_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; whether it agreed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # no C library to load, or no prctl in it
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # nothing to clean up: the parent's work (a transaction, a poll) died with it
