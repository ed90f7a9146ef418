"""Shared machinery of the heuristic rule filters (Gopher, C4, FineWeb)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from thresher.filters.base import BaseFilter, FilterResult


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in the repeats): datatrove's ``find_duplicates``.

    Every occurrence after the first of an item counts; computed with a Counter instead of a
    Python loop over the items.
    """
    counts = Counter(items)
    n_dup = len(items) - len(counts)
    if n_dup == 0:
        return 0, 0
    return n_dup, sum(len(s) * (c - 1) for s, c in counts.items() if c > 1)


def texts_to_list(texts: pa.Array | pa.ChunkedArray | list[str]) -> list[str]:
    if isinstance(texts, pa.Array | pa.ChunkedArray):
        return texts.to_pylist()
    return list(texts)


class RuleFilter(BaseFilter):
    """Base of the rule filters: ``apply`` runs ``check(text) -> (rule, value) | None`` on
    every document.

    Subclasses set ``name`` and implement ``check``, returning None to keep the document or
    the first rule it fails and the value it measured (``("mean_word_length", 12.3)``);
    ``apply`` prefixes the filter's name to the rule (``"gopher_quality.mean_word_length"``).
    """

    name = "rules"

    def check(self, text: str) -> tuple[str, float] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, texts: pa.Array) -> FilterResult:
        values = texts_to_list(texts)
        rule = np.full(len(values), "", dtype=object)
        value = np.full(len(values), np.nan, dtype=np.float64)
        prefix = self.name + "."
        for i, text in enumerate(values):
            failed = self.check(text or "")
            if failed is not None:
                rule[i] = prefix + failed[0]
                value[i] = failed[1]
        return FilterResult.from_drops(rule, value)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({opts})"
