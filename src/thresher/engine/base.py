"""The engine protocol: map a picklable function over tasks, results in task order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol


class Engine(Protocol):
    """Runs ``fn(task)`` for every task, possibly in parallel, yielding results in task order.

    Engines know nothing of the stages: the pipeline hands them a top-level
    function and picklable tasks. Yielding in task order (not completion
    order) is what makes output independent of worker count and engine.
    """

    name: str
    workers: int

    def __init__(self, workers: int | None = None, address: str | None = None) -> None: ...

    def warm_up(self, fn: Callable[[int], Any]) -> None:
        """Start the workers and run ``fn(i)`` on each, without waiting (the driver's preload)."""

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]: ...

    def map_beside(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], stop: threading.Event
    ) -> list[Any]:
        """``fn`` over ``tasks`` while the driver computes something itself (a scorer's fit):
        only on workers that leave the driver its core, in task order, a new task only
        while ``stop`` is not set. Returns the results in task order, None for the tasks
        never started; it waits for the started ones. Blocking: call it from a thread.
        [None, ...] at once when no worker is free beside the driver (one worker)."""

    def close(self) -> None: ...
