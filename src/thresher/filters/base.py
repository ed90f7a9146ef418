"""The filter contract: every hook the driver calls, declared once, with defaults.

A filter decides, document by document, what to keep and, for what it drops, which rule
dropped it and the value that rule measured. The driver calls only :meth:`Filter.apply` and,
for filters that say they need the target, :meth:`Filter.fit_target` and
:meth:`Filter.report`; a new filter is one class deriving from :class:`BaseFilter` plus one
line in :data:`thresher.filters.FILTERS`, and the contract tests pick it up from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa


@dataclass
class FilterResult:
    """One filter's (or a chain's) decision on a batch, aligned with its documents.

    ``keep``: bool, True = keep. ``rule``: object array of str, ``""`` where kept, else the
    rule that dropped the document (``"language"``, ``"gopher_quality.mean_word_length"``).
    ``value``: float64, what that rule measured (NaN where kept or the rule measures
    nothing), kept apart from the rule so drops can be grouped by rule.
    ``annotations``: per-document columns (``language``, ``language_score``), each an Arrow
    array as long as the batch.
    """

    keep: np.ndarray
    rule: np.ndarray
    value: np.ndarray
    annotations: dict[str, pa.Array] = field(default_factory=dict)

    @classmethod
    def from_drops(
        cls, rule: np.ndarray, value: np.ndarray, annotations: dict[str, pa.Array] | None = None
    ) -> FilterResult:
        """Keep exactly where ``rule`` is empty; NaN values where kept."""
        rule = np.asarray(rule, dtype=object)
        keep = rule == ""
        value = np.asarray(value, dtype=np.float64).copy()
        value[keep] = np.nan
        return cls(keep.astype(bool), rule, value, dict(annotations or {}))

    def __len__(self) -> int:
        return len(self.keep)

    def slice(self, start: int, stop: int) -> FilterResult:
        """The decisions on documents ``start:stop`` (views, not copies)."""
        return FilterResult(
            self.keep[start:stop],
            self.rule[start:stop],
            self.value[start:stop],
            {k: v.slice(start, stop - start) for k, v in self.annotations.items()},
        )

    @classmethod
    def concat(cls, parts: list[FilterResult]) -> FilterResult:
        """The decisions on consecutive runs of documents as one result.

        Every part must carry the same annotation columns with the same Arrow types (what
        :func:`~thresher.filters.apply_filters` gives for one filter chain: every filter
        runs on every batch, so its columns are there, null where it saw nothing).
        """
        if not parts:
            return cls(np.zeros(0, bool), np.zeros(0, object), np.zeros(0, np.float64))
        names = list(parts[0].annotations)
        for p in parts[1:]:
            if list(p.annotations) != names:
                raise ValueError(f"annotation columns differ: {names} vs {list(p.annotations)}")
        return cls(
            np.concatenate([p.keep for p in parts]),
            np.concatenate([p.rule for p in parts]),
            np.concatenate([p.value for p in parts]),
            {k: pa.concat_arrays([p.annotations[k] for p in parts]) for k in names},
        )


@runtime_checkable
class Filter(Protocol):
    """A per-document keep/drop decision.

    ``apply`` gets a batch's text column (a pyarrow string array, no nulls) and returns a
    :class:`FilterResult`. ``needs_target``: the filter must see the target before any raw
    document (``lang`` with ``languages="auto"``); the driver then calls
    ``fit_target(target_texts)``, which returns what it decided (or None), and merges
    ``report()`` into the manifest's metrics. ``needs_sample``: the filter learns from the
    corpus (a perplexity quantile); before the scan the driver calls
    ``fit_sample(sample_texts)`` with the raw fit sample (the documents that pass the other
    filters). Filters must be picklable (the engine ships
    them to worker processes) and deterministic.
    """

    name: ClassVar[str]

    @property
    def needs_target(self) -> bool: ...

    def apply(self, texts: pa.Array) -> FilterResult: ...

    def fit_target(self, target_texts: pa.Array) -> dict[str, Any] | None: ...

    @property
    def needs_sample(self) -> bool: ...

    def fit_sample(self, sample_texts: pa.Array) -> dict[str, Any] | None: ...

    def report(self) -> dict[str, Any]: ...


class BaseFilter:
    """Defaults for the optional hooks of :class:`Filter`; every filter derives from it."""

    name: ClassVar[str] = "filter"

    @property
    def needs_target(self) -> bool:
        return False

    def apply(self, texts: pa.Array) -> FilterResult:
        raise NotImplementedError

    def fit_target(self, target_texts: pa.Array) -> dict[str, Any] | None:
        """Nothing to learn from the target."""
        return None

    @property
    def needs_sample(self) -> bool:
        return False

    def fit_sample(self, sample_texts: pa.Array) -> dict[str, Any] | None:
        """Nothing to learn from the corpus."""
        return None

    def report(self) -> dict[str, Any]:
        """Nothing learned worth recording."""
        return {}
