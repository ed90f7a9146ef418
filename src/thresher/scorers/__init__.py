"""Scorers: relevance of each raw document to the target; one module per method.

A scorer is one class deriving from :class:`~thresher.scorers.base.BaseScorer` and one line
in :data:`SCORERS`; modules are imported on first use, so a scorer whose dependencies are
missing (dense without torch) costs nothing until it is asked for.
"""

from __future__ import annotations

import importlib

from thresher.scorers.base import BaseScorer, Scorer
from thresher.scorers.dsir import DSIRScorer

SCORERS: dict[str, str] = {
    "dsir": "thresher.scorers.dsir:DSIRScorer",
    "bm25": "thresher.scorers.bm25:BM25Scorer",
    "zipfit": "thresher.scorers.zipfit:ZipFitScorer",
    "dense": "thresher.scorers.dense:DenseScorer",
    "classifier": "thresher.scorers.classifier:ClassifierScorer",
    "hybrid": "thresher.scorers.hybrid:HybridScorer",
    "color": "thresher.scorers.color:ColorScorer",
    "auto": "thresher.scorers.auto:AutoScorer",
}


def scorer_class(method: str) -> type[BaseScorer]:
    """The class registered for ``method`` (imports its module, never its heavy dependencies)."""
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


def default_mode(method: str) -> str:
    """The selection mode a run with ``method`` uses when it names none (``none``: keep all).

    An unknown or unavailable method gets the common default; making its scorer then fails
    with the clear error of :func:`scorer_class`.
    """
    if method == "none":
        return "all"
    try:
        return scorer_class(method).default_mode
    except ValueError:
        return BaseScorer.default_mode


__all__ = [
    "SCORERS",
    "BaseScorer",
    "DSIRScorer",
    "Scorer",
    "default_mode",
    "make_scorer",
    "scorer_class",
]
