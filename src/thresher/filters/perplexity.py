"""Perplexity filter (CCNet, Wenzek et al. 2020; DCLM's baselines): keep what a language
model of reference text finds likely.

A byte Kneser-Ney model (:class:`thresher.text.byte_lm.ByteLM`) is fitted on the
``reference`` files (any input format thresher reads; without them, on the target). Each
document's perplexity is ``exp(mean negative log-likelihood per UTF-8 byte)``; documents at or
below the ``perplexity_quantile`` quantile of the corpus are kept, the rest dropped with rule
``perplexity`` and their perplexity as the value.

The quantile is a property of the corpus, but a filter decides document by document in one
streaming scan. As CCNet does, the cut is estimated before the scan, on the run's raw fit
sample (the same documents, spread over the shards in proportion to their size, that the
scorer fits on; those that pass the other filters): ``fit_sample`` computes their perplexities
and takes the ``inverted_cdf`` quantile, so a corpus no larger than the sample keeps exactly
``ceil(Q * n)`` of its documents (ties aside), and a larger one about a share Q. The cut is a
fixed number during the scan: a document's fate never depends on its shard or worker. An empty
document has no perplexity and is dropped (value NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thresher.errors import ConfigError, InputError
from thresher.filters.base import BaseFilter, FilterResult
from thresher.text.byte_lm import ByteLM

RULE = "perplexity"


class PerplexityFilter(BaseFilter):
    """Drop documents whose byte perplexity under a reference LM is above a corpus quantile."""

    name = "perplexity"

    def __init__(
        self,
        reference: list[str] | str | None = None,
        perplexity_quantile: float = 0.5,
        perplexity_order: int = 5,
        reference_field: str = "text",
        reference_bytes: int = 16_000_000,
    ) -> None:
        if isinstance(perplexity_quantile, bool) or not isinstance(
            perplexity_quantile, int | float
        ):
            raise ValueError(
                f"perplexity_quantile must be a number in (0, 1], got {perplexity_quantile!r}"
            )
        q = float(perplexity_quantile)
        if not (0.0 < q <= 1.0) or math.isnan(q):
            raise ValueError(f"perplexity_quantile must be in (0, 1], got {perplexity_quantile!r}")
        if not 1 <= int(perplexity_order) <= 7:
            raise ValueError(f"perplexity_order must be between 1 and 7, got {perplexity_order!r}")
        if isinstance(reference, str):
            reference = [reference]
        self.reference = list(reference) if reference else None
        if self.reference:
            from thresher.io.sources import discover

            discover(self.reference)  # a missing file is an error now, before the run starts
        self.quantile = q
        self.order = int(perplexity_order)
        self.reference_field = reference_field
        self.reference_bytes = int(reference_bytes)
        self.lm: ByteLM | None = None
        self.cut: float | None = None
        self._info: dict[str, Any] = {}

    @property
    def needs_target(self) -> bool:
        """Without reference files the target is the reference."""
        return self.reference is None

    @property
    def needs_sample(self) -> bool:
        return True

    def fit_target(self, target_texts: pa.Array) -> dict[str, Any] | None:
        if self.reference is not None:
            return None
        self._fit_lm(target_texts, "target")
        return {"reference": "target", "reference_docs": len(target_texts)}

    def _fit_lm(self, texts: pa.Array, what: str) -> None:
        if len(texts) == 0 or pc.sum(pc.binary_length(texts)).as_py() in (0, None):
            raise InputError(f"perplexity filter: the {what} has no text to fit a model on")
        self.lm = ByteLM.fit(texts, self.order, self.reference_bytes)
        self._info.update(reference=what, reference_docs=len(texts))

    def load_reference(self) -> None:
        """Read the reference files (any input format) and fit the model on them."""
        from thresher.io.readers import read_texts

        assert self.reference is not None
        texts, rejects = read_texts(self.reference, self.reference_field)
        if len(texts) == 0:
            where = ", ".join(self.reference)
            why = (
                f" ({len(rejects)} row(s) rejected, first: {rejects[0].source} line {rejects[0].row + 1}: {rejects[0].reason})"
                if rejects
                else ""
            )
            raise InputError(f"{where}: no reference documents could be read{why}")
        self._fit_lm(texts, ", ".join(self.reference))

    def perplexity(self, texts: pa.Array) -> np.ndarray:
        """Byte perplexity of each document (NaN for an empty one)."""
        if self.lm is None:
            raise RuntimeError("PerplexityFilter used before it was fitted")
        logp, n = self.lm.doc_logprob(texts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.exp(-logp / n)

    def fit_sample(self, sample_texts: pa.Array) -> dict[str, Any] | None:
        """Fit the model (reference files) if not done, and the cut: the quantile of the
        sample's perplexities."""
        if self.lm is None:
            if self.reference is None:
                raise ConfigError("filter 'perplexity' needs --reference files or a target")
            self.load_reference()
        ppl = self.perplexity(sample_texts)
        ppl = ppl[np.isfinite(ppl)]
        if len(ppl) == 0:
            raise InputError("perplexity filter: the raw sample has no non-empty document")
        self.cut = float(np.quantile(ppl, self.quantile, method="inverted_cdf"))
        self._info.update(
            quantile=self.quantile,
            cut=round(self.cut, 6),
            sample_docs=int(len(ppl)),
            sample_median=round(float(np.median(ppl)), 4),
        )
        return {
            "quantile": self.quantile,
            "perplexity cut": round(self.cut, 3),
            "from sample docs": int(len(ppl)),
        }

    def apply(self, texts: pa.Array) -> FilterResult:
        if self.cut is None:
            raise RuntimeError("PerplexityFilter.apply before fit_sample (the cut is unknown)")
        ppl = self.perplexity(texts)
        keep = ppl <= self.cut  # NaN (empty) compares False: dropped
        rule = np.where(keep, "", RULE).astype(object)
        return FilterResult.from_drops(rule, ppl)

    def report(self) -> dict[str, Any]:
        return {"perplexity_filter": dict(self._info)} if self._info else {}
