"""KL reduction on hashed n-gram features, the DSIR paper's data metric.

``KL reduction = KL(p_target || p_raw) - KL(p_target || p_selected)``: how much
closer the selection's n-gram distribution is to the target's than the raw
corpus's is. The paper reports it correlates (r=0.89) with downstream accuracy.
Distributions are smoothed like DSIR's weights (``+1e-8`` before the log).
"""

from __future__ import annotations

import numpy as np


def _probs(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.full(len(counts), 1.0 / len(counts))


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, eps: float = 1e-8) -> float:
    p = _probs(np.asarray(p_counts, dtype=np.float64))
    q = _probs(np.asarray(q_counts, dtype=np.float64))
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask] + eps) - np.log(q[mask] + eps))))


def kl_reduction(target: np.ndarray, raw: np.ndarray, selected: np.ndarray) -> float:
    """KL(target||raw) - KL(target||selected); positive means the selection is closer."""
    return kl_divergence(target, raw) - kl_divergence(target, selected)
