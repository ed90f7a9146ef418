"""Local engine: a process pool on this machine (inline when workers == 1)."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    # One process per core already: keep native libraries from oversubscribing it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def _warm_up(_: int) -> None:
    """Import the pipeline and load the compiled kernels while the driver plans."""
    import pyarrow as pa

    import thresher.tasks  # noqa: F401
    from thresher.text.ngrams import NgramHasher

    NgramHasher(16, 2).counts(pa.array(["warm up"], type=pa.large_string()))


class LocalEngine:
    """Spawned worker processes (safe with numba/pyarrow threads, unlike fork)."""

    name = "local"

    def __init__(self, workers: int | None = None, warm_up: bool = True) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None
        if warm_up and self.workers > 1:
            # Spawned workers take ~1-2 s to import and load kernels: start them now,
            # so that overlaps with planning and reading the target.
            pool = self._executor()
            for i in range(self.workers):
                pool.submit(_warm_up, i)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
            )
        return self._pool

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            for t in tasks:
                yield fn(t)
            return
        pool = self._executor()
        # Submit a bounded window so results (score arrays) never pile up in memory.
        window = self.workers * 2
        futures = [pool.submit(fn, t) for t in tasks[:window]]
        nxt = len(futures)
        for i in range(len(tasks)):
            result = futures[i].result()
            futures[i] = None  # type: ignore[call-overload]
            if nxt < len(tasks):
                futures.append(pool.submit(fn, tasks[nxt]))
                nxt += 1
            yield result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
