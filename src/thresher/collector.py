"""The garbage collector in thresher's own processes (the CLI and its workers).

A process of a run holds about a million objects that live as long as it does: numba's
typing and lowering registries, pyarrow's and pandas's modules. Each full collection walks
them all again (~0.1 s); a worker made two or three while it loaded its kernels. And at exit
the interpreter collects them once more, after the work is done and when the memory goes
back to the system anyway: a dsir worker took ~0.2 s to exit that way (the driver waits for
it), the driver as long. Frozen (:func:`gc.freeze`), they are left out of those passes;
they still die by reference counting at exit, so files are closed and flushed.

A library call does not change the caller's process: these run in the CLI and in the local
engine's worker processes, not on ``import thresher``.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable
from typing import Any

_registered = False


def skip_exit_collection() -> None:
    """Freeze the heap at exit (registered once per process, however often called)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True


def warm_up_frozen(fn: Callable[[int], Any], i: int) -> Any:
    """``fn(i)`` (a worker's warm-up) with the imports before it and what it loads (kernels)
    frozen: both live as long as the worker."""
    gc.freeze()
    try:
        return fn(i)
    finally:
        gc.freeze()
