"""Scorers: relevance of each raw document to the target; one module per method."""

from __future__ import annotations

from thresher.scorers.base import Scorer
from thresher.scorers.dsir import DSIRScorer

SCORERS: dict[str, str] = {
    "dsir": "thresher.scorers.dsir:DSIRScorer",
    "bm25": "thresher.scorers.bm25:BM25Scorer",
    "zipfit": "thresher.scorers.zipfit:ZipFitScorer",
    "dense": "thresher.scorers.dense:DenseScorer",
    "classifier": "thresher.scorers.classifier:ClassifierScorer",
    "hybrid": "thresher.scorers.hybrid:HybridScorer",
}


def scorer_class(method: str) -> type:
    """The scorer class registered as ``method`` (imported on demand: dense pulls in torch)."""
    import importlib

    if method not in SCORERS:
        raise ValueError(f"unknown method {method!r} (expected one of {', '.join(SCORERS)})")
    mod, cls = SCORERS[method].split(":")
    try:
        return getattr(importlib.import_module(mod), cls)
    except ModuleNotFoundError as e:
        raise ValueError(f"method {method!r} is not available: {e}") from e


def make_scorer(method: str, **options) -> Scorer:
    """A scorer by name, with its options (e.g. ``num_buckets`` for dsir)."""
    return scorer_class(method)(**options)


__all__ = ["DSIRScorer", "SCORERS", "Scorer", "make_scorer", "scorer_class"]
