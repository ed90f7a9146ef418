"""DSIR: importance weights from hashed n-gram distributions (Xie et al., 2023).

Fit bag-of-n-gram distributions ``p_target`` and ``p_raw`` over hashed buckets;
a document's log-importance weight is ``sum_j count_j * (log p_target_j - log
p_raw_j)``, exactly the reference's ``np.dot(log_diff, counts)`` with its
``1e-8`` smoothing. ``hashing="fast"`` (default) runs the numba kernel;
``hashing="sha256"`` reproduces the reference's buckets one for one (sha256 of
each n-gram string, slow, for equivalence checks).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Literal

import numpy as np
import pyarrow as pa
import regex

from thresher.scorers.base import BaseScorer, as_string_array
from thresher.text.ngrams import NgramHasher

# nltk >= 3.10 compiles WordPunctTokenizer's pattern with the `regex` engine.
_WORDPUNCT = regex.compile(r"\w+|[^\w\s]+")


@functools.lru_cache(maxsize=1_000_000)
def _sha_bucket(s: str, num_buckets: int) -> int:
    return int(hashlib.sha256(s.encode("utf-8")).hexdigest(), 16) % num_buckets


def sha256_counts(text: str, num_buckets: int, ngrams: int) -> np.ndarray:
    """The reference's ``get_ngram_counts`` bucket for bucket (per-token Python: slow)."""
    words = _WORDPUNCT.findall(text.lower())
    counts = np.zeros(num_buckets, dtype=np.int64)
    for w in words:
        counts[_sha_bucket(w, num_buckets)] += 1
    for n in range(2, ngrams + 1):
        for i in range(len(words) - n + 1):
            counts[_sha_bucket(" ".join(words[i : i + n]), num_buckets)] += 1
    return counts


class DSIRScorer(BaseScorer):
    """Log-importance weight of each document under hashed n-gram models.

    It fits on summed bucket counts alone (``fits_on_counts``), so a full pass over the
    raw corpus costs the workers one counts vector each. Its scores are log-importance
    weights, hence importance resampling by default.
    """

    name = "dsir"
    default_mode = "resample"
    fits_on_counts = True

    def __init__(
        self,
        num_buckets: int = 10_000,
        ngrams: int = 2,
        hashing: Literal["fast", "sha256"] = "fast",
        smoothing: float = 1e-8,
    ) -> None:
        if hashing not in ("fast", "sha256"):
            raise ValueError("hashing must be 'fast' or 'sha256'")
        self.hasher = NgramHasher(num_buckets, ngrams)
        self.hashing = hashing
        self.smoothing = smoothing
        self.target_probs: np.ndarray | None = None
        self.raw_probs: np.ndarray | None = None
        self.log_diff: np.ndarray | None = None

    @property
    def num_buckets(self) -> int:
        return self.hasher.num_buckets

    def counts(self, texts: pa.Array) -> np.ndarray:
        """Summed n-gram bucket counts of some documents."""
        texts = as_string_array(texts)
        if self.hashing == "fast":
            return self.hasher.counts(texts)
        total = np.zeros(self.num_buckets, dtype=np.int64)
        for t in texts.to_pylist():
            total += sha256_counts(t, self.num_buckets, self.hasher.ngrams)
        return total

    def counts_equal(self, hasher: NgramHasher) -> bool:
        """Fast hashing with the same buckets and order is exactly ``hasher``'s counts."""
        return self.hashing == "fast" and (self.hasher.num_buckets, self.hasher.ngrams) == (
            hasher.num_buckets,
            hasher.ngrams,
        )

    def fit(self, target: pa.Array, sample: pa.Array) -> DSIRScorer:
        return self.fit_counts(self.counts(target), self.counts(sample))

    def fit_counts(self, target_counts: np.ndarray, raw_counts: np.ndarray) -> DSIRScorer:
        """Fit from bucket counts (e.g. summed over a full pass of the raw corpus)."""
        if target_counts.sum() == 0:
            raise ValueError("the target has no tokens")
        if raw_counts.sum() == 0:
            raise ValueError("the raw sample has no tokens")
        self.target_probs = target_counts / target_counts.sum()
        self.raw_probs = raw_counts / raw_counts.sum()
        eps = self.smoothing
        self.log_diff = np.log(self.target_probs + eps) - np.log(self.raw_probs + eps)
        return self

    def score(self, texts: pa.Array) -> np.ndarray:
        if self.log_diff is None:
            raise RuntimeError("DSIRScorer.score called before fit")
        texts = as_string_array(texts)
        if self.hashing == "fast":
            scores, _ = self.hasher.dot(texts, self.log_diff)
            return scores.astype(np.float32)
        return np.array(
            [
                float(np.dot(self.log_diff, sha256_counts(t, self.num_buckets, self.hasher.ngrams)))
                for t in texts.to_pylist()
            ],
            dtype=np.float32,
        )
