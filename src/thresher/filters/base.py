"""The filter protocol: a filter decides, document by document, what to keep and why not."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa


@runtime_checkable
class Filter(Protocol):
    """A per-document keep/drop decision.

    ``keep`` gets the batch's text column (a pyarrow string array, no nulls) and
    returns a bool array (True = keep) and an object array of reasons: ``""`` where
    kept, else ``"<rule>:<value>"`` (e.g. ``"gopher_quality.mean_word_length:12.3"``)
    so every dropped document records what dropped it. Filters must be picklable
    (the engine ships them to worker processes) and deterministic.
    """

    name: str

    def keep(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class Annotator(Protocol):
    """A filter that also adds per-document columns (e.g. ``language``, ``language_score``)."""

    def annotate(self, texts: pa.Array) -> dict[str, pa.Array]: ...
