"""The scorer contract: every hook the driver calls, declared once, with defaults.

The driver (pipeline, tasks) calls only the hooks of :class:`Scorer` and never asks a scorer
what it happens to have, so a new scorer is one class deriving from :class:`BaseScorer` plus
one line in :data:`thresher.scorers.SCORERS`; the contract tests (tests/test_contracts.py)
pick it up from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from thresher.text.ngrams import NgramHasher

Mode = Literal["resample", "topk", "threshold", "all"]


@runtime_checkable
class Scorer(Protocol):
    """Relevance of raw documents to a target.

    ``fit(target, sample)`` sees the target documents and a raw sample (both as
    pyarrow string arrays) and returns the fitted scorer (it may be ``self``).
    ``score(texts)`` returns one float32 per document; higher means more relevant.
    A fitted scorer must be picklable, so the engine can ship it to workers, and
    deterministic, so scores never depend on batch boundaries or worker count.

    Optional capabilities, with defaults in :class:`BaseScorer`:

    * ``fits_on_counts``: the scorer fits on summed feature counts alone (DSIR), so the
      sample pass ships ``counts(texts)`` from the workers instead of texts, and the driver
      calls ``fit_counts(counts(target), summed raw counts)`` instead of ``fit``;
      ``counts_equal(hasher)`` says the counts are exactly ``hasher.counts`` (the KL
      metric's features), so the sample pass counts once for both;
    * ``expect_fraction(fraction)``: the share of the corpus the run will select, known
      before ``fit`` (a BETR student learns the teacher's top share);
    * ``report()``: what the fit learned, merged into the manifest's metrics;
    * ``default_mode``: the selection mode when the run names none;
    * ``slow_fit``: the fit keeps the driver busy for seconds (a model to train), long enough
      for the workers to filter the corpus meanwhile.
    """

    name: ClassVar[str]
    default_mode: ClassVar[Mode]
    fits_on_counts: ClassVar[bool]

    def fit(self, target: pa.Array, sample: pa.Array) -> Scorer: ...

    def score(self, texts: pa.Array) -> np.ndarray: ...

    def counts(self, texts: pa.Array) -> np.ndarray: ...

    def fit_counts(self, target_counts: np.ndarray, raw_counts: np.ndarray) -> Scorer: ...

    def counts_equal(self, hasher: NgramHasher) -> bool: ...

    def expect_fraction(self, fraction: float) -> None: ...

    def report(self) -> dict[str, Any]: ...


class BaseScorer:
    """Defaults for every optional hook of :class:`Scorer`; every scorer derives from it."""

    name: ClassVar[str] = "scorer"
    # Importance resampling needs log-importance weights (dsir); other scores only rank.
    default_mode: ClassVar[Mode] = "topk"
    fits_on_counts: ClassVar[bool] = False
    # What a scorer may decide in its fit for the rest of the run (auto does): a fitted
    # filter the scan adds after the user's, and language shares the selection keeps.
    language_filter: Any = None
    language_quotas: dict[str, float] | None = None
    # The raw documents the fit uses at most (None: every document it is given). The driver
    # reads no more than this for the fit sample unless the user set ``raw_sample``: a
    # classifier that keeps 20k negatives need not have 100k documents read, parsed, shipped
    # to the driver and checked for target copies.
    fit_sample_docs: int | None = None
    # Modules the fit imports (scikit-learn: ~1.1 CPU s, most of it scipy.stats): the
    # driver imports them in a background thread while the workers read the fit sample,
    # when it would otherwise sit idle.
    fit_imports: ClassVar[tuple[str, ...]] = ()
    # The fit takes seconds in the driver (a model to train, an encoder to run) and leaves
    # workers idle: the driver then has the workers run the scan's filters on the rest of
    # every shard meanwhile (pipeline ``_Prefilter``), and the scan only reads and scores.
    # False for fits that take well under a second (dsir, bm25, zipfit): a second pass over
    # the shards' text would then cost more than the filtering it moves off the scan.
    slow_fit: ClassVar[bool] = False

    def fit(self, target: pa.Array, sample: pa.Array) -> BaseScorer:
        raise NotImplementedError

    def score(self, texts: pa.Array) -> np.ndarray:
        raise NotImplementedError

    def counts(self, texts: pa.Array) -> np.ndarray:
        """Summed feature counts of ``texts`` (only for ``fits_on_counts`` scorers)."""
        raise NotImplementedError(f"{self.name} does not fit on counts")

    def fit_counts(self, target_counts: np.ndarray, raw_counts: np.ndarray) -> BaseScorer:
        """Fit from summed counts (only for ``fits_on_counts`` scorers)."""
        raise NotImplementedError(f"{self.name} does not fit on counts")

    def counts_equal(self, hasher: NgramHasher) -> bool:
        """True when ``counts(texts)`` is always ``hasher.counts(texts)``."""
        return False

    def expect_fraction(self, fraction: float) -> None:
        """Most scorers do not care how much the run selects."""

    def report(self) -> dict[str, Any]:
        """Nothing learned worth recording beyond the scores."""
        return {}

    def summary(self) -> list[str]:
        """Lines to print once fitted: most scorers decide nothing a user must read."""
        return []


def as_string_array(texts: pa.Array | Sequence[str]) -> pa.Array:
    """Accept a list of str or any pyarrow string array; return a pyarrow (large_)string array."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), type=pa.string())
    return texts
