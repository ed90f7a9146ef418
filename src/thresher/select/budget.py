"""Token budgets: take documents in a given order until their tokens reach the budget.

The fill is greedy in order, and it skips: a document that no longer fits is passed over and
the fill goes on with the next ones (smaller documents further down may still fit), until the
budget is met exactly or the order is exhausted. So the selection never exceeds the budget,
and when the eligible documents hold at least the budget, it falls short of it by less than
the smallest document left out. The order comes from the mode (best score first, Gumbel keys
first, ...); positions break ties, so the fill is deterministic.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _fill_kernel(lengths, budget):
    take = np.zeros(len(lengths), dtype=np.bool_)
    left = budget
    for i in range(len(lengths)):
        if left == 0:
            break
        if lengths[i] <= left:
            take[i] = True
            left -= lengths[i]
    return take


def check_budget(tokens: int | None, lengths: np.ndarray | None) -> None:
    """A budget needs per-document token counts, and must not be negative."""
    if tokens is None:
        return
    if tokens < 0:
        raise ValueError("tokens must be >= 0")
    if lengths is None:
        raise ValueError("a token budget needs the documents' token counts (lengths)")


def by_key(keys: np.ndarray) -> np.ndarray:
    """Positions by descending key, ties to the earlier position (a stable sort)."""
    return np.argsort(-np.asarray(keys, dtype=np.float64), kind="stable")


def fill(order: np.ndarray, lengths: np.ndarray, budget: int) -> np.ndarray:
    """Sorted positions among ``order`` taken greedily until ``budget`` tokens (never more).

    ``order``: the candidate positions, best first; ``lengths``: tokens per position (of the
    whole array that ``order`` indexes).
    """
    order = np.asarray(order, dtype=np.int64)
    if budget <= 0 or len(order) == 0:
        return np.zeros(0, dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)[order]
    if int(lens.sum()) <= budget:  # everything fits
        return np.sort(order)
    return np.sort(order[_fill_kernel(lens, np.int64(budget))])


__all__ = ["by_key", "check_budget", "fill"]
