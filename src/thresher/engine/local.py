"""Local engine: a process pool on this machine (inline when workers == 1).

Workers never outlive the driver: killed with ``kill -9`` the driver cannot shut
its pool down, and each worker (a few hundred MB once the scorer is loaded)
would otherwise wait forever on a queue whose write end it holds itself. So
every worker asks the kernel to kill it when its parent dies (Linux
``PR_SET_PDEATHSIG``) and also runs a watchdog thread that exits when its parent
pid changes (any POSIX system; the kernels release the GIL, so it gets to run).
When the workers are gone, multiprocessing's resource tracker sees its pipe
close and exits too.

Ctrl-C is the driver's business: workers ignore SIGINT (a terminal sends it to
the whole process group), so they print no tracebacks; the driver's
``KeyboardInterrupt`` stops the pool at once instead of waiting for running tasks.

The driver is one of the workers: ``--workers N`` spawns N - 1 processes and a thread of
the driver runs its share of the tasks (its main thread would only wait otherwise). That
is one interpreter fewer to start (~1.2 s of CPU: imports, numba's first cached kernel)
and no pickling of that share's tasks and results. Which tasks it runs depends on timing;
results still come back in task order, so output does not. A stage's task may therefore
run in a non-main thread of the driver (one task at a time there).

Workers do not re-run the user's script. Python's spawn start method makes each child
import the parent's ``__main__`` (as ``__mp_main__``), so a plain script that calls
``thresher.select`` without an ``if __name__ == "__main__":`` guard would call it again in
every worker: each prints a RuntimeError and the pool dies (BrokenProcessPool). The tasks
are thresher's own top-level functions and objects, which the workers import by module
name, so the pool's processes are launched with the same preparation data as spawn's minus
the main module (see :class:`_NoMainPopen`). Consequence: an object defined in the user's
``__main__`` cannot be shipped to a worker; define it in a module.
"""

from __future__ import annotations

import ctypes
import io
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import context as mp_context
from multiprocessing import spawn, util
from typing import Any

_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 0.2


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def driver_threads(cap: int = 4) -> int:
    """Threads for a kernel the driver runs while the workers wait (a fit, the target
    check): the cores this process may use, at most ``cap``."""
    return min(cap, default_workers())


def _die_with_parent(parent_pid: int, pdeathsig: bool) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent."""
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog remains
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="thresher-parent-watch", daemon=True).start()


# Keys of spawn's preparation data that make the child import the parent's main module.
_MAIN_KEYS = ("init_main_from_name", "init_main_from_path")


if sys.platform != "win32":
    from multiprocessing import popen_spawn_posix

    class _NoMainPopen(popen_spawn_posix.Popen):
        """spawn's POSIX launcher (CPython's ``popen_spawn_posix.Popen._launch``, 3.11-3.13)
        with one change: the preparation data the child reads first leaves out the main
        module, so the child does not import (re-run) the parent's script."""

        def _launch(self, process_obj: Any) -> None:
            from multiprocessing import resource_tracker

            tracker_fd = resource_tracker.getfd()
            self._fds.append(tracker_fd)
            prep_data = spawn.get_preparation_data(process_obj._name)
            for key in _MAIN_KEYS:
                prep_data.pop(key, None)
            fp = io.BytesIO()
            mp_context.set_spawning_popen(self)
            try:
                mp_context.reduction.dump(prep_data, fp)
                mp_context.reduction.dump(process_obj, fp)
            finally:
                mp_context.set_spawning_popen(None)
            parent_r = child_w = child_r = parent_w = None
            try:
                parent_r, child_w = os.pipe()
                child_r, parent_w = os.pipe()
                cmd = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
                self._fds.extend([child_r, child_w])
                self.pid = util.spawnv_passfds(spawn.get_executable(), cmd, self._fds)
                self.sentinel = parent_r
                with open(parent_w, "wb", closefd=False) as f:
                    f.write(fp.getbuffer())
            finally:
                self.finalizer = util.Finalize(
                    self, util.close_fds, [fd for fd in (parent_r, parent_w) if fd is not None]
                )
                for fd in (child_r, child_w):
                    if fd is not None:
                        os.close(fd)

    class _NoMainProcess(mp_context.SpawnProcess):
        _start_method = "spawn"

        @staticmethod
        def _Popen(process_obj: Any) -> _NoMainPopen:
            return _NoMainPopen(process_obj)

    class _NoMainContext(mp_context.SpawnContext):
        """A spawn context whose processes never import the parent's ``__main__``."""

        Process = _NoMainProcess

    def worker_context() -> mp_context.BaseContext:
        return _NoMainContext()

else:  # pragma: no cover - Windows: plain spawn (scripts there need the __main__ guard)

    def worker_context() -> mp_context.BaseContext:
        return mp.get_context("spawn")


def _init_worker(
    parent_pid: int | None = None, pdeathsig: bool = False, counter: Any = None
) -> None:
    if counter is not None:  # bytes/documents read, seen by the driver's progress display
        from thresher.console import set_progress_counter

        set_progress_counter(counter)
    from thresher.pages import tune_process

    tune_process()  # a worker is thresher's own process (see thresher.pages)
    # One process per core already: keep native libraries from oversubscribing it.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        _die_with_parent(parent_pid, pdeathsig)


class _DriverThread:
    """One daemon thread of the driver that runs tasks handed to it, as one more worker.

    A daemon: on Ctrl-C the driver exits without waiting for the task it is running (the
    spawned workers are terminated; this thread ends with the process)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="thresher-driver", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Any], Any], task: Any) -> Future:
        future: Future = Future()
        self._jobs.put((future, fn, task))
        return future

    def stop(self, wait: bool) -> None:
        """End the thread once it is done with what it was handed (``wait``: until then:
        a task left running after the run ended could still write into OUT)."""
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, task = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(task))
            except BaseException as e:  # raised in the consumer, in task order
                future.set_exception(e)


class LocalEngine:
    """Spawned worker processes (safe with numba/pyarrow threads, unlike fork)."""

    name = "local"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        # ``address`` is the Ray engine's; a local pool has none (accepted, unused).
        self.workers = workers or default_workers()
        self.processes = self.workers  # at most; fewer when there are fewer tasks (make_engine)
        self._pool: ProcessPoolExecutor | None = None
        self._here: _DriverThread | None = None  # the driver's own worker thread

    @property
    def spawned(self) -> int:
        """Worker processes to start: the driver is the other one."""
        return self.processes - 1

    def warm_up(self, fn: Callable[[int], Any]) -> None:
        """Start the workers now and run ``fn(i)`` on each (imports, kernel compilation).

        Spawned workers take ~1-2 s to start: doing it while the driver plans and reads
        the target takes that off the critical path. Results are not waited for.
        """
        if self.spawned > 0:
            from thresher.collector import warm_up_frozen

            pool = self._executor()
            for i in range(self.spawned):
                pool.submit(warm_up_frozen, fn, i)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # PR_SET_PDEATHSIG fires when the *thread* that spawned a worker exits; the
            # pool spawns from the thread that submits, so arm it only from the main
            # thread (whose end is the process's end). The watchdog covers the rest.
            main = threading.current_thread() is threading.main_thread()
            ctx = worker_context()
            # Progress inside shards: workers count bytes and documents read into shared
            # memory the driver reads (thresher.console.advance / progress_totals).
            from thresher.console import set_progress_counter

            counter = ctx.Array("q", 2)
            set_progress_counter(counter)
            self._pool = ProcessPoolExecutor(
                max_workers=self.spawned,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(os.getpid(), main, counter),
            )
        return self._pool

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if self.spawned == 0 or len(tasks) <= 1:
            for t in tasks:
                yield fn(t)
            return
        yield from self._shared_map(fn, tasks)

    def _shared_map(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]:
        """Tasks in order, run by the pool and by a thread of the driver, each taking the
        next task as soon as it is free (the kernels and Arrow's reader release the GIL).

        The driver's main thread only hands out tasks and yields results, so a worker that
        finishes gets its next task at once; no task waits queued behind a busy executor
        while another is idle (at the end of a pass that would cost up to a whole task). A
        window bounds how far ahead of the consumer tasks are handed out, so results (score
        arrays) never pile up in memory.
        """
        pool = self._executor()
        here = self._driver_thread()
        window = 2 * self.processes + 2
        futures: dict[int, Future] = {}
        on_pool: set[Future] = set()  # running (or about to) in the spawned workers
        on_here: Future | None = None  # running in the driver's thread
        claimed = 0
        try:
            for i in range(len(tasks)):
                while True:
                    if on_here is not None and on_here.done():
                        on_here = None
                    on_pool = {f for f in on_pool if not f.done()}
                    while claimed < min(len(tasks), i + window):
                        if on_here is None:
                            on_here = futures[claimed] = here.submit(fn, tasks[claimed])
                        elif len(on_pool) < self.spawned:
                            futures[claimed] = pool.submit(fn, tasks[claimed])
                            on_pool.add(futures[claimed])
                        else:
                            break
                        claimed += 1
                    if futures[i].done():
                        break
                    busy = [*on_pool, *([on_here] if on_here is not None else [])]
                    wait([futures[i], *busy], return_when=FIRST_COMPLETED)
                yield futures.pop(i).result()
        except KeyboardInterrupt:
            self.abort()
            raise
        finally:
            for f in futures.values():
                f.cancel()

    def map_beside(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], stop: threading.Event
    ) -> list[Any]:
        """:meth:`Engine.map_beside`: on the spawned processes alone, never the driver's
        thread (the driver's cores are its own: its main thread is busy, and a task there
        would share its GIL). One task at a time per process, handed out only when one
        finishes: a task queued in the pool could not be taken back once ``stop`` is set.
        """
        tasks = list(tasks)
        results: list[Any] = [None] * len(tasks)
        if self.spawned == 0 or not tasks:
            return results
        pool = self._executor()
        running: dict[Future, int] = {}
        claimed = 0
        try:
            while True:
                while claimed < len(tasks) and len(running) < self.spawned and not stop.is_set():
                    running[pool.submit(fn, tasks[claimed])] = claimed
                    claimed += 1
                if not running:
                    return results
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for f in done:
                    results[running.pop(f)] = f.result()
        finally:
            for f in running:
                f.cancel()

    def _driver_thread(self) -> _DriverThread:
        if self._here is None:
            self._here = _DriverThread()
        return self._here

    def abort(self) -> None:
        """Stop now: drop queued tasks and end the workers without waiting for running ones."""
        self._stop_here(wait=False)
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(timeout=5)
        if manager is not None:
            manager.join(timeout=5)
            # CPython 3.11's exit hook wakes every pool's manager thread through a pipe that a
            # terminated pool has closed ("Bad file descriptor" traceback at exit): forget it.
            from concurrent.futures import process as futures_process

            futures_process._threads_wakeups.pop(manager, None)

    def _stop_here(self, wait: bool) -> None:
        here, self._here = self._here, None
        if here is not None:
            here.stop(wait)

    def close(self) -> None:
        # Called from a ``finally`` while Ctrl-C unwinds the driver: do not wait for the
        # running tasks (a shard can take many seconds), stop them.
        if isinstance(sys.exc_info()[1], KeyboardInterrupt | SystemExit):
            self.abort()
            return
        self._stop_here(wait=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
