"""Importance resampling (Gumbel top-k), top-k and threshold selection.

Selection sees only an array of scores in a fixed global order (shards in
order, rows in order), so it is the same whatever engine or worker count
produced them. Resampling without replacement is the Gumbel top-k trick: the
k largest ``score + Gumbel noise`` are an exact sample without replacement
from ``softmax(score)``, as in DSIR. Ties break by position.

A token budget (``tokens`` with per-document ``lengths``) replaces ``k``/``fraction`` in every
mode: the documents are taken in the mode's order (best scores for topk, Gumbel keys for
resample, best scores above the threshold for threshold, input order for all) until the budget,
with :func:`thresher.select.budget.fill`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from thresher.select.budget import by_key, check_budget, fill

SelectionMode = Literal["resample", "topk", "threshold", "all"]


def resolve_k(n_eligible: int, k: int | None, fraction: float | None) -> int:
    """How many documents to select: ``k`` or ``fraction`` of the eligible ones."""
    if k is not None and fraction is not None:
        raise ValueError("give k or fraction, not both")
    if k is None and fraction is None:
        raise ValueError("give k, fraction or tokens")
    if k is not None:
        if k < 0:
            raise ValueError("k must be >= 0")
        return min(int(k), n_eligible)
    assert fraction is not None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    return int(round(fraction * n_eligible))


def gumbel_noise(n: int, seed: int) -> np.ndarray:
    """n Gumbel(0, 1) draws from a counter-based generator: same seed, same noise."""
    rng = np.random.Generator(np.random.Philox(key=seed))
    return rng.gumbel(size=n)


def _top(keys: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest keys, ties to the earlier index, in index order."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= len(keys):
        return np.arange(len(keys), dtype=np.int64)
    # lexsort: primary key -keys, secondary index -> deterministic ties.
    part = np.argpartition(-keys, k - 1)
    kth = keys[part[k - 1]]
    cand = np.flatnonzero(keys >= kth)
    order = np.lexsort((cand, -keys[cand]))
    return np.sort(cand[order[:k]])


def select_indices(
    scores: np.ndarray,
    eligible: np.ndarray,
    *,
    mode: SelectionMode = "resample",
    k: int | None = None,
    fraction: float | None = None,
    threshold: float | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    tokens: int | None = None,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Positions (sorted) of the selected documents among ``scores``.

    ``eligible`` masks documents that may be chosen (not rejected, filtered or
    duplicate). Noise is drawn for every position, eligible or not, so adding a
    filter does not reshuffle the noise of other documents. ``tokens``: a budget
    instead of ``k``/``fraction``, ``lengths`` the tokens of each document.
    """
    scores = np.asarray(scores, dtype=np.float64)
    eligible = np.asarray(eligible, dtype=bool)
    check_budget(tokens, lengths)
    if tokens is not None and (k is not None or fraction is not None):
        raise ValueError("give k, fraction or tokens, not two of them")
    idx = np.flatnonzero(eligible)
    if mode == "all":
        return idx if tokens is None else fill(idx, lengths, tokens)  # type: ignore[arg-type]
    if mode == "threshold":
        if threshold is None:
            raise ValueError("threshold mode needs a threshold")
        chosen = idx[scores[idx] >= threshold]
        if tokens is not None:  # capped by the budget, best first
            return fill(chosen[by_key(scores[chosen])], lengths, tokens)  # type: ignore[arg-type]
        if k is not None or fraction is not None:  # optional cap: best first
            cap = resolve_k(len(idx), k, fraction)
            if len(chosen) > cap:
                chosen = chosen[_top(scores[chosen], cap)]
        return chosen
    if mode == "topk":
        keys = scores[idx]
    elif mode == "resample":
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        keys = scores[idx] / temperature + gumbel_noise(len(scores), seed)[idx]
    else:
        raise ValueError(f"unknown selection mode {mode!r}")
    if tokens is not None:
        return fill(idx[by_key(keys)], lengths, tokens)  # type: ignore[arg-type]
    return idx[_top(keys, resolve_k(len(idx), k, fraction))]
