"""Engines run the pipeline's per-shard work: locally or on a Ray cluster."""

from __future__ import annotations

from thresher.engine.base import Engine
from thresher.engine.local import LocalEngine, default_workers


def make_engine(
    name: str = "local", workers: int | None = None, address: str | None = None
) -> Engine:
    """An engine by name: ``local`` (process pool) or ``ray``."""
    if name == "local":
        return LocalEngine(workers)
    if name == "ray":
        from thresher.engine.ray import RayEngine

        engine = RayEngine(workers, address)
        engine.warm_up()
        return engine
    raise ValueError(f"unknown engine {name!r} (expected 'local' or 'ray')")


__all__ = ["Engine", "LocalEngine", "default_workers", "make_engine"]
