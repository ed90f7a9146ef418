"""Shared machinery of the heuristic rule filters (Gopher, C4, FineWeb)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa


def fmt(value: float | int) -> str:
    """A measured value for a reason string: integers as is, floats to 4 significant digits."""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.4g}"


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


class RuleFilter:
    """Base of the rule filters: ``keep`` runs ``check(text) -> reason`` on every document.

    Subclasses set ``name`` and implement ``check``, returning ``""`` to keep the document or
    ``"<rule>:<value>"`` for the first rule it fails (``keep`` prefixes the filter's name).
    """

    name = "rules"

    def check(self, text: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def keep(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        values = texts_to_list(texts)
        reasons = np.full(len(values), "", dtype=object)
        prefix = self.name + "."
        for i, text in enumerate(values):
            reason = self.check(text or "")
            if reason:
                reasons[i] = prefix + reason
        keep = reasons == ""
        return keep.astype(bool), reasons

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"{type(self).__name__}({opts})"
