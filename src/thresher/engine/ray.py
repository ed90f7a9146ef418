"""Ray engine: the same ``map`` as the local engine, run as Ray tasks on a cluster.

``RayEngine(workers, address)``:

* ``address=None``: start a private local Ray instance with ``num_cpus=workers``
  (no dashboard, worker logs not forwarded) and shut it down in :meth:`close`.
  If Ray is already initialised in this process (e.g. you called ``ray.init``
  yourself), that connection is used and left running.
* ``address="auto"`` or ``"host:6379"`` / ``"ray://host:10001"``: connect to a
  running cluster (``ray start --head ...``) and disconnect in :meth:`close`
  (the cluster keeps running). ``workers`` then caps how many tasks run at
  once; by default it is the cluster's CPU count. Clusters started with token
  authentication (Ray's default for new local clusters since 2.5x) need
  ``RAY_AUTH_MODE=token`` in the driver's environment and the cluster's token
  (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``).

Every task is a ``ray.remote(num_cpus=1)`` call. At most ``workers`` tasks run
at once and at most ``2 * workers`` results wait, unread, in the object store,
so memory stays bounded whatever the number of shards. Results are yielded in
task order, so output is byte-identical to the local engine.

Large objects that many tasks share (the pipeline's ``StageContext`` with the
fitted scorer, found as the same object in several tuple or dataclass tasks) are
put in the object store once per ``map`` and kept, deserialised, in a small cache
on each worker instead of being pickled with every task.

Workers must be able to ``import thresher`` (and its dependencies). On one
machine the virtualenv's editable install is enough: Ray starts workers with
this interpreter. On a multi-node cluster either install thresher on every
node (``pip install thresher`` in the nodes' environment, the usual way), or let
Ray ship it with a runtime environment, given as JSON in ``THRESHER_RAY_RUNTIME_ENV``::

    THRESHER_RAY_RUNTIME_ENV='{"py_modules": ["/path/to/src/thresher"],
                               "pip": ["numba", "pyarrow", "orjson", ...]}'

Set ``THRESHER_RAY_VERBOSE=1`` to see Ray's own log lines and worker output.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from thresher.engine.local import default_workers
from thresher.errors import ConfigError

_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMPY_MADVISE_HUGEPAGE": "0",  # 4 KB pages for numpy arrays (thresher.pages)
}
_ATOMS = (str, bytes, int, float, bool, type(None))

# Worker-side cache of shared objects (keyed by object ref), a few entries at most.
_SHARED_CACHE: OrderedDict[str, Any] = OrderedDict()
_SHARED_CACHE_SIZE = 4


def _quiet_ray() -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # Ray >= 2.10 warns on every init that accelerator env vars will change: hush it.
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    for name in ("ray", "ray._private", "ray.worker", "ray._private.worker"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _runtime_env() -> dict:
    env: dict = {}
    spec = os.environ.get("THRESHER_RAY_RUNTIME_ENV")
    if spec:
        try:
            env = json.loads(spec)
        except json.JSONDecodeError as e:
            raise ConfigError(f"THRESHER_RAY_RUNTIME_ENV: not valid JSON ({e})") from e
        if not isinstance(env, dict):
            raise ConfigError("THRESHER_RAY_RUNTIME_ENV: expected a JSON object")
    env_vars = {**_THREAD_ENV, **env.get("env_vars", {})}
    env["env_vars"] = env_vars
    return env


def _run_task(fn: Callable[[Any], Any], skeleton: Any, keys: list, refs: list) -> Any:
    """Worker side: put the shared objects back into the task, then run ``fn`` on it."""
    if keys:
        import ray

        objs = []
        for ref in refs:
            key = ref.hex()
            if key in _SHARED_CACHE:
                _SHARED_CACHE.move_to_end(key)
            else:
                _SHARED_CACHE[key] = ray.get(ref)
                while len(_SHARED_CACHE) > _SHARED_CACHE_SIZE:
                    _SHARED_CACHE.popitem(last=False)
            objs.append(_SHARED_CACHE[key])
        skeleton = _assemble(skeleton, keys, objs)
    return fn(skeleton)


def _parts(task: Any) -> list[tuple[Any, Any]]:
    """(key, value) of the components of a tuple or dataclass task (else none)."""
    if isinstance(task, tuple) and not hasattr(task, "_fields"):
        return list(enumerate(task))
    if dataclasses.is_dataclass(task) and not isinstance(task, type):
        return [(f.name, getattr(task, f.name)) for f in dataclasses.fields(task)]
    return []


def _strip(task: Any, keys: list) -> Any:
    """The task with the shared components (``keys``) replaced by ``None``."""
    if isinstance(task, tuple):
        drop = set(keys)
        return tuple(None if i in drop else x for i, x in enumerate(task))
    skeleton = copy.copy(task)
    for k in keys:
        object.__setattr__(skeleton, k, None)
    return skeleton


def _assemble(skeleton: Any, keys: list, objs: list) -> Any:
    if isinstance(skeleton, tuple):
        items = list(skeleton)
        for k, o in zip(keys, objs, strict=True):
            items[k] = o
        return tuple(items)
    for k, o in zip(keys, objs, strict=True):
        object.__setattr__(skeleton, k, o)
    return skeleton


def _get(ref: Any) -> Any:
    """A task's result; a task's own exception is raised as itself (not as Ray's wrapper)."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


class RayEngine:
    """Ray tasks, ``num_cpus=1`` each, at most ``workers`` at once, results in task order."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        self.address = address
        self._requested = workers
        # Until connected; without an explicit count it becomes the cluster's CPU count.
        self.workers = workers or default_workers()
        self._owned = False
        self._remote: Any = None
        self._warm: list = []

    def warm_up(self, fn: Callable[[int], Any]) -> None:
        """Connect, and run ``fn(i)`` on every worker now (imports, kernel compilation).

        Ray starts worker processes on first use; warming them while the driver
        plans and reads the target keeps that start-up off the critical path.
        """
        self._connect()
        self._warm = [self._remote.remote(fn, i, [], []) for i in range(self.workers)]

    # -- connection -----------------------------------------------------------------

    def _connect(self) -> None:
        if self._remote is not None:
            return
        _quiet_ray()
        try:
            import ray
        except ImportError as e:  # pragma: no cover - ray is an optional extra
            raise ConfigError("engine 'ray' needs Ray: pip install 'thresher[ray]'") from e
        verbose = os.environ.get("THRESHER_RAY_VERBOSE", "") not in ("", "0")
        common = dict(
            log_to_driver=verbose,
            logging_level=logging.INFO if verbose else logging.WARNING,
            runtime_env=_runtime_env(),
        )
        if ray.is_initialized():
            pass  # the caller's connection: use it, leave it running
        elif self.address is None:
            if not verbose:  # our own private cluster: its token-auth notice is noise
                logging.getLogger("ray._private.authentication").setLevel(logging.ERROR)
            ray.init(
                address="local",  # a new private instance, never a stray running one
                num_cpus=self.workers,
                include_dashboard=False,
                configure_logging=True,
                **common,
            )
            self._owned = True
        else:
            try:
                ray.init(address=self.address, **common)
            except (ConnectionError, RuntimeError) as e:
                hint = ""
                if "auth" in str(e).lower() or "auth" in str(e.__cause__ or "").lower():
                    hint = (
                        "; the cluster uses token authentication: set RAY_AUTH_MODE=token and "
                        "make its token available (RAY_AUTH_TOKEN or ~/.ray/auth_token)"
                    )
                raise ConfigError(
                    f"ray address {self.address!r}: cannot connect ({e}){hint}"
                ) from e
            self._owned = True  # we connected: disconnect in close() (the cluster keeps running)
        if self._requested is None:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            self.workers = max(1, cpus)
        self._remote = ray.remote(num_cpus=1)(_run_task)

    # -- map ------------------------------------------------------------------------

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        tasks = list(tasks)
        if not tasks:
            return
        self._connect()
        import ray

        shared = self._shared_refs(tasks)
        submit = self._submitter(fn, tasks, shared)
        n = len(tasks)
        window = 2 * self.workers  # submitted but not yet yielded
        refs: dict[int, Any] = {}
        running: dict[Any, int] = {}  # submitted, not yet seen finished
        finished: set[int] = set()
        nxt = 0
        try:
            for i in range(n):
                while i not in finished:
                    while nxt < n and len(running) < self.workers and nxt - i < window:
                        ref = submit(nxt)
                        refs[nxt] = ref
                        running[ref] = nxt
                        nxt += 1
                    done, _ = ray.wait(list(running), num_returns=1)
                    for ref in done:
                        finished.add(running.pop(ref))
                ref = refs.pop(i)
                finished.discard(i)
                result = _get(ref)
                del ref
                yield result
        finally:
            for ref in list(running):
                ray.cancel(ref, force=False)
            refs.clear()
            running.clear()
            shared.clear()

    def map_beside(
        self, fn: Callable[[Any], Any], tasks: Iterable[Any], stop: threading.Event
    ) -> list[Any]:
        """:meth:`Engine.map_beside`: at most ``workers - 1`` tasks at once on a private
        instance (its CPUs are this machine's, the driver's among them), ``workers`` on a
        cluster; a task is submitted only when one finishes, so ``stop`` takes effect there.
        """
        tasks = list(tasks)
        results: list[Any] = [None] * len(tasks)
        self._connect()
        slots = self.workers - 1 if self.address is None else self.workers
        if slots < 1 or not tasks:
            return results
        import ray

        shared = self._shared_refs(tasks)
        submit = self._submitter(fn, tasks, shared)
        running: dict[Any, int] = {}
        claimed = 0
        try:
            while True:
                while claimed < len(tasks) and len(running) < slots and not stop.is_set():
                    running[submit(claimed)] = claimed
                    claimed += 1
                if not running:
                    return results
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    results[running.pop(ref)] = _get(ref)
        finally:
            for ref in list(running):
                ray.cancel(ref, force=False)
            running.clear()
            shared.clear()

    def _submitter(
        self, fn: Callable[[Any], Any], tasks: list, shared: dict[int, tuple[Any, Any]]
    ) -> Callable[[int], Any]:
        """``submit(i)``: task ``i`` as a Ray task, its shared components by reference."""
        remote = self._remote

        def submit(i: int):
            task = tasks[i]
            keys = [k for k, v in _parts(task) if id(v) in shared]
            if not keys:
                return remote.remote(fn, task, [], [])
            refs = [shared[id(v)][1] for k, v in _parts(task) if k in keys]
            return remote.remote(fn, _strip(task, keys), keys, refs)

        return submit

    @staticmethod
    def _shared_refs(tasks: list) -> dict[int, tuple[Any, Any]]:
        """Components that several tasks hold as the same object: put each in the store once."""
        import ray

        if len(tasks) < 2:
            return {}
        seen: dict[int, int] = {}
        objs: dict[int, Any] = {}
        for t in tasks:
            for _, v in _parts(t):
                if isinstance(v, _ATOMS):
                    continue
                seen[id(v)] = seen.get(id(v), 0) + 1
                objs[id(v)] = v
        # (obj, ref): holding obj keeps its id from being reused during the map.
        return {i: (objs[i], ray.put(objs[i])) for i, c in seen.items() if c >= 2}

    def close(self) -> None:
        """Shut down the Ray instance we started, or disconnect from the cluster we joined."""
        self._warm = []
        self._remote = None
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False


__all__ = ["RayEngine"]
