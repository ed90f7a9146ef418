"""Selection with per-group quotas (mixtures): e.g. 70% English, 30% German.

``select_with_quotas`` splits the total ``k`` (or ``fraction`` of the eligible
documents) among groups in proportion to ``quotas`` with largest-remainder
rounding (ties to the group named first in sorted order, so it is
deterministic), then selects within each group with
:func:`thresher.select.select.select_indices` semantics. The Gumbel noise is
drawn once for every global position (same seed, same noise per position), so
a document's key does not depend on how the groups were split.

Groups not named in ``quotas`` get nothing, unless the key ``"*"`` gives them a
share: all unnamed groups then form one pool that shares the ``"*"`` quota.

Shortfall: when a group has fewer eligible documents than its share, its
unused share is **redistributed** to the other groups that still have
eligible documents, in proportion to their quotas (again largest-remainder),
repeated until the total is met or every group with a positive quota is
exhausted. So ``k`` documents are selected whenever enough eligible ones exist
in groups with a positive quota. Pass ``redistribute=False`` to keep the
shares strict (the selection is then smaller than ``k``).

In ``threshold`` mode every group keeps the documents at or above the
threshold, capped at its share when ``k``/``fraction`` is given.

Quotas in tokens: with a budget ``tokens`` (and per-document ``lengths``), the shares are
shares of the budget, in tokens, split and redistributed the same way (a group's available
amount is the tokens of its eligible documents); each group then fills its share in its own
order with :func:`thresher.select.budget.fill`.
"""

from __future__ import annotations

import numpy as np

from thresher.select.budget import by_key, check_budget, fill
from thresher.select.select import SelectionMode, _top, gumbel_noise, resolve_k


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` into integers proportional to ``weights`` (deterministic)."""
    names = sorted(weights)
    w = np.array([max(float(weights[g]), 0.0) for g in names])
    if total <= 0 or w.sum() <= 0:
        return {g: 0 for g in names}
    exact = total * w / w.sum()
    base = np.floor(exact).astype(np.int64)
    left = total - int(base.sum())
    rem = exact - base
    order = sorted(range(len(names)), key=lambda i: (-rem[i], i))
    for i in order[:left]:
        base[i] += 1
    return {g: int(b) for g, b in zip(names, base, strict=True)}


def select_with_quotas(
    scores: np.ndarray,
    eligible: np.ndarray,
    groups: np.ndarray,
    quotas: dict[str, float],
    *,
    mode: SelectionMode = "resample",
    k: int | None = None,
    fraction: float | None = None,
    threshold: float | None = None,
    seed: int = 0,
    temperature: float = 1.0,
    redistribute: bool = True,
    tokens: int | None = None,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted positions of the selected documents, ``quotas`` giving each group's share
    (of ``k`` documents, or of a budget of ``tokens`` given each document's ``lengths``)."""
    scores = np.asarray(scores, dtype=np.float64)
    eligible = np.asarray(eligible, dtype=bool)
    groups = np.asarray(groups, dtype=object)
    if not (len(scores) == len(eligible) == len(groups)):
        raise ValueError("scores, eligible and groups must have the same length")
    if any(float(v) < 0 for v in quotas.values()):
        raise ValueError("quotas must be >= 0")
    if mode not in ("resample", "topk", "threshold"):
        raise ValueError(f"unknown selection mode {mode!r}")
    if mode == "threshold" and threshold is None:
        raise ValueError("threshold mode needs a threshold")
    if mode == "resample" and temperature <= 0:
        raise ValueError("temperature must be > 0")
    check_budget(tokens, lengths)
    if tokens is not None and (k is not None or fraction is not None):
        raise ValueError("give k, fraction or tokens, not two of them")

    named = {g for g in quotas if g != "*"}
    # Map each document to its quota key ("*" for unnamed groups when "*" is given).
    key = np.array([g if g in named else "*" for g in groups.tolist()], dtype=object)
    members = {g: np.flatnonzero(eligible & (key == g)) for g in quotas}
    if "*" not in quotas:
        members.pop("*", None)

    if mode == "resample":
        keys_all = scores / temperature + gumbel_noise(len(scores), seed)
    else:
        keys_all = scores

    if mode == "threshold":
        members = {g: idx[scores[idx] >= threshold] for g, idx in members.items()}
        if k is None and fraction is None and tokens is None:
            return np.sort(
                np.concatenate(
                    [members[g] for g in members if quotas[g] > 0] or [np.zeros(0, np.int64)]
                )
            )
    n_elig = int(eligible.sum())
    if tokens is not None:
        assert lengths is not None
        lengths = np.asarray(lengths, dtype=np.int64)
        total = int(tokens)
        avail = {g: int(lengths[members[g]].sum()) if g in members else 0 for g in quotas}
    else:
        total = resolve_k(n_elig, k, fraction)
        avail = {g: len(members.get(g, ())) for g in quotas}

    alloc = {g: 0 for g in quotas}
    active = {g: float(q) for g, q in quotas.items() if float(q) > 0 and avail[g] > 0}
    want = largest_remainder(total, {g: float(q) for g, q in quotas.items()})
    for g in quotas:
        alloc[g] = min(want.get(g, 0), avail[g]) if float(quotas[g]) > 0 else 0
    if redistribute:
        while True:
            short = total - sum(alloc.values())
            active = {g: q for g, q in active.items() if alloc[g] < avail[g]}
            if short <= 0 or not active:
                break
            extra = largest_remainder(short, active)
            if sum(extra.values()) == 0:
                break
            for g, e in extra.items():
                alloc[g] = min(alloc[g] + e, avail[g])

    chosen = []
    for g in sorted(quotas):
        idx = members.get(g)
        if idx is None or alloc[g] == 0:
            continue
        if tokens is not None:
            chosen.append(fill(idx[by_key(keys_all[idx])], lengths, alloc[g]))  # type: ignore[arg-type]
        else:
            chosen.append(idx[_top(keys_all[idx], alloc[g])])
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen))
