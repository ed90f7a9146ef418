"""Document filters: language identification and heuristic quality rules.

``build_filters(["lang", "gopher_quality", "c4"], languages=["en"])`` builds filters by name;
``apply_filters(filters, texts)`` runs them in order over one batch's text column. A filter is
one class deriving from :class:`~thresher.filters.base.BaseFilter` plus one line in
:data:`FILTERS` (``_REGISTRY`` below: its modules are imported on first use).
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from thresher.filters.base import BaseFilter, Filter, FilterResult

if TYPE_CHECKING:
    from thresher.filters.c4 import C4QualityFilter
    from thresher.filters.fineweb import FineWebQualityFilter
    from thresher.filters.gopher import GopherQualityFilter, GopherRepetitionFilter
    from thresher.filters.langid import LanguageFilter
    from thresher.filters.perplexity import PerplexityFilter

    FILTERS: dict[str, type[BaseFilter]]

# The filters by name. Their modules are imported when ``FILTERS`` or a class is first asked
# for: a process that runs no filter (a dsir run's driver and workers) does not load the rule
# tables, the byte LM and the report they pull in (~0.15 s of CPU in each process).
_REGISTRY: dict[str, str] = {
    "lang": "thresher.filters.langid:LanguageFilter",
    "gopher_quality": "thresher.filters.gopher:GopherQualityFilter",
    "gopher_repetition": "thresher.filters.gopher:GopherRepetitionFilter",
    "c4": "thresher.filters.c4:C4QualityFilter",
    "fineweb": "thresher.filters.fineweb:FineWebQualityFilter",
    "perplexity": "thresher.filters.perplexity:PerplexityFilter",
}
_MODULES = {cls: mod for mod, cls in (p.split(":") for p in _REGISTRY.values())}


def __getattr__(name: str) -> Any:
    """``FILTERS`` and the filter classes, imported on first use (PEP 562)."""
    if name == "FILTERS":
        return _registry()
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registry() -> dict[str, type[BaseFilter]]:
    """``FILTERS``: made once, then a plain dict (entries added to it count)."""
    if "FILTERS" not in globals():
        globals()["FILTERS"] = {n: __getattr__(p.split(":")[1]) for n, p in _REGISTRY.items()}
    return globals()["FILTERS"]


__all__ = [
    "FILTERS",
    "BaseFilter",
    "C4QualityFilter",
    "Filter",
    "FilterResult",
    "FineWebQualityFilter",
    "GopherQualityFilter",
    "GopherRepetitionFilter",
    "LanguageFilter",
    "PerplexityFilter",
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
    registry = _registry()
    unknown = [name for name in spec if name not in registry]
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown}; known: {sorted(registry)}")
    if len(set(spec)) != len(spec):
        raise ValueError(f"filter listed twice in {spec}")
    used: set[str] = set()
    filters: list[Filter] = []
    for name in spec:
        cls = registry[name]
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
    filters: list[Filter], texts: pa.Array | pa.ChunkedArray, start: FilterResult | None = None
) -> FilterResult:
    """Run ``filters`` in order over ``texts``; each sees only what every earlier one kept.

    The result's ``rule`` and ``value`` are those of the first filter that dropped the
    document; its annotations (e.g. ``language``) are null for documents dropped before the
    annotating filter ran. Every filter runs even when nothing is left, so its annotation
    columns exist (all null) in every batch and line up across batches.

    ``start``: the decision earlier filters of the chain already made on ``texts`` (the
    scan reusing its fit sample's); ``filters`` go on from it, as if the chain had run
    whole: ``apply_filters(a + b, t) == apply_filters(b, t, start=apply_filters(a, t))``.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    if start is None:
        keep = np.ones(n, dtype=bool)
        rule = np.full(n, "", dtype=object)
        value = np.full(n, np.nan, dtype=np.float64)
        annotations: dict[str, pa.Array] = {}
    else:
        if len(start) != n:
            raise ValueError(f"start decides {len(start)} documents, texts has {n}")
        keep, rule, value = start.keep.copy(), start.rule.copy(), start.value.copy()
        annotations = dict(start.annotations)
    for f in filters:
        idx = np.flatnonzero(keep)
        whole = len(idx) == n
        res = f.apply(texts if whole else texts.take(pa.array(idx, type=pa.int64())))
        dropped = ~np.asarray(res.keep, dtype=bool)
        keep[idx[dropped]] = False
        rule[idx[dropped]] = res.rule[dropped]
        value[idx[dropped]] = res.value[dropped]
        if res.annotations and not whole:
            # Scatter back to the batch's positions: null where the filter did not run.
            where = np.full(n, -1, dtype=np.int64)
            where[idx] = np.arange(len(idx))
            at = pa.array(where, mask=where < 0)
        for col, values in res.annotations.items():
            annotations[col] = values if whole else values.take(at)
    return FilterResult(keep, rule, value, annotations)
