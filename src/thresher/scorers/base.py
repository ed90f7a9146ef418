"""The scorer protocol: fit on the target (and a raw sample), then score any batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa


@runtime_checkable
class Scorer(Protocol):
    """Relevance of raw documents to a target.

    ``fit(target, sample)`` sees the target documents and a raw sample (both as
    pyarrow string arrays) and returns the fitted scorer (it may be ``self``).
    ``score(texts)`` returns one float32 per document; higher means more relevant.
    A fitted scorer must be picklable, so the engine can ship it to workers, and
    deterministic, so scores never depend on batch boundaries or worker count.
    """

    name: str

    def fit(self, target: pa.Array, sample: pa.Array) -> Scorer: ...

    def score(self, texts: pa.Array) -> np.ndarray: ...


def as_string_array(texts: pa.Array | Sequence[str]) -> pa.Array:
    """Accept a list of str or any pyarrow string array; return a pyarrow (large_)string array."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), type=pa.string())
    return texts
