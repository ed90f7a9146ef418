"""Document filters: language identification and heuristic quality rules.

``build_filters(["lang", "gopher_quality", "c4"], languages=["en"])`` builds filters by name;
``apply_filters(filters, texts)`` runs them in order over one batch's text column.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pyarrow as pa

from thresher.filters.base import Annotator, Filter
from thresher.filters.c4 import C4QualityFilter
from thresher.filters.fineweb import FineWebQualityFilter
from thresher.filters.gopher import GopherQualityFilter, GopherRepetitionFilter
from thresher.filters.langid import LanguageFilter

FILTERS: dict[str, type] = {
    "lang": LanguageFilter,
    "gopher_quality": GopherQualityFilter,
    "gopher_repetition": GopherRepetitionFilter,
    "c4": C4QualityFilter,
    "fineweb": FineWebQualityFilter,
}

__all__ = [
    "FILTERS",
    "Annotator",
    "C4QualityFilter",
    "Filter",
    "FineWebQualityFilter",
    "GopherQualityFilter",
    "GopherRepetitionFilter",
    "LanguageFilter",
    "apply_filters",
    "build_filters",
]


def build_filters(spec: list[str], **options: Any) -> list[Filter]:
    """Filters named in ``spec``, in that order.

    ``options`` are keyword arguments for the filters' constructors; each filter takes the ones
    its constructor names (``languages=["en"], min_score=0.8`` go to ``lang``,
    ``min_doc_words=100`` to ``gopher_quality``). To give one filter an option another also
    has, pass ``<name>={...}`` (e.g. ``c4={"min_num_sentences": 3}``). An option no
    requested filter accepts is an error, so typos do not pass silently.
    """
    unknown = [name for name in spec if name not in FILTERS]
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown}; known: {sorted(FILTERS)}")
    if len(set(spec)) != len(spec):
        raise ValueError(f"filter listed twice in {spec}")
    used: set[str] = set()
    filters: list[Filter] = []
    for name in spec:
        cls = FILTERS[name]
        params = inspect.signature(cls.__init__).parameters
        kwargs = {k: v for k, v in options.items() if k in params}
        used.update(kwargs)
        per_filter = options.get(name)
        if per_filter is not None:
            if not isinstance(per_filter, dict):
                raise TypeError(f"option {name}= must be a dict of {cls.__name__} options")
            bad = [k for k in per_filter if k not in params]
            if bad:
                raise TypeError(f"{cls.__name__} has no option(s) {bad}")
            kwargs.update(per_filter)
            used.add(name)
        filters.append(cls(**kwargs))
    unused = set(options) - used
    if unused:
        raise TypeError(f"option(s) {sorted(unused)} not accepted by any of {spec}")
    return filters


def apply_filters(
    filters: list[Filter], texts: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array]]:
    """Run ``filters`` in order over ``texts``.

    Returns ``keep`` (bool), ``reason`` (object: ``""`` where kept, else the reason of the
    first filter that dropped the document) and the annotations of annotating filters (e.g.
    ``language``, ``language_score``; null for documents dropped before that filter ran).
    Each filter only sees the documents every earlier filter kept.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    keep = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    annotations: dict[str, pa.Array] = {}
    for f in filters:
        idx = np.flatnonzero(keep)
        if len(idx) == 0 and not isinstance(f, Annotator):
            continue
        # An annotator still runs on zero documents when all were dropped before it, so
        # its columns exist (all null) in every batch and line up across batches.
        sub = texts if len(idx) == n else texts.take(pa.array(idx, type=pa.int64()))
        if hasattr(f, "keep_and_annotate"):
            k, r, ann = f.keep_and_annotate(sub)
        elif isinstance(f, Annotator):
            k, r = f.keep(sub)
            ann = f.annotate(sub)
        else:
            k, r = f.keep(sub)
            ann = {}
        k = np.asarray(k, dtype=bool)
        dropped = idx[~k]
        keep[dropped] = False
        reason[dropped] = np.asarray(r, dtype=object)[~k]
        for col, values in ann.items():
            if len(idx) == n:
                annotations[col] = values
            else:
                full = [None] * n
                for j, v in zip(idx.tolist(), values.to_pylist(), strict=True):
                    full[j] = v
                annotations[col] = pa.array(full, type=values.type)
    return keep, reason, annotations
