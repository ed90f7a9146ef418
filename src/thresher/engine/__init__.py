"""Engines run the pipeline's per-shard work: locally or on a Ray cluster.

An engine is one class implementing :class:`~thresher.engine.base.Engine`, registered
here by name (imported on demand: Ray is an optional extra).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from thresher.engine.base import Engine
from thresher.engine.local import LocalEngine, default_workers
from thresher.errors import ConfigError

ENGINES: dict[str, str] = {
    "local": "thresher.engine.local:LocalEngine",
    "ray": "thresher.engine.ray:RayEngine",
}


def make_engine(
    name: str = "local",
    workers: int | None = None,
    address: str | None = None,
    warm_up: Callable[[int], Any] | None = None,
    max_tasks: int | None = None,
) -> Engine:
    """An engine by name; ``warm_up(i)`` runs on each worker as soon as it starts.

    ``max_tasks``: the most tasks any one map will get (the number of shards): a local
    pool starts no more processes than that (a single shard runs in the driver), since
    each spawned process costs ~1.5 s of CPU to start and warm up."""
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r} (expected one of {', '.join(ENGINES)})")
    module, cls = ENGINES[name].split(":")
    engine = getattr(importlib.import_module(module), cls)(workers, address)
    if max_tasks is not None and isinstance(engine, LocalEngine):
        engine.processes = max(1, min(engine.workers, max_tasks))
    if warm_up is not None:
        engine.warm_up(warm_up)
    return engine


__all__ = ["ENGINES", "Engine", "LocalEngine", "default_workers", "make_engine"]
