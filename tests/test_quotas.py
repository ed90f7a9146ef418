from __future__ import annotations

import numpy as np
import pytest

from thresher.select.quotas import largest_remainder, select_with_quotas
from thresher.select.select import select_indices


def _data(n=1000, seed=1):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=n)
    groups = np.array(rng.choice(["en", "de", "fr"], size=n, p=[0.6, 0.3, 0.1]), dtype=object)
    return scores, np.ones(n, bool), groups


def test_largest_remainder():
    assert largest_remainder(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(largest_remainder(7, {"a": 0.5, "b": 0.3, "c": 0.2}).values()) == 7


@pytest.mark.parametrize("mode", ["resample", "topk"])
def test_proportions_and_determinism(mode):
    scores, elig, groups = _data()
    q = {"en": 0.5, "de": 0.3, "fr": 0.2}
    sel = select_with_quotas(scores, elig, groups, q, mode=mode, k=200, seed=3)
    assert len(sel) == 200 and np.all(np.diff(sel) > 0)
    got = {g: int((groups[sel] == g).sum()) for g in q}
    assert got == {"en": 100, "de": 60, "fr": 40}
    again = select_with_quotas(scores, elig, groups, q, mode=mode, k=200, seed=3)
    np.testing.assert_array_equal(sel, again)


def test_within_group_matches_select_indices():
    # same seed -> same noise per global position: a group's pick equals select_indices
    # restricted to that group
    scores, elig, groups = _data()
    sel = select_with_quotas(scores, elig, groups, {"de": 1.0}, mode="resample", k=50, seed=7)
    ref = select_indices(scores, elig & (groups == "de"), mode="resample", k=50, seed=7)
    np.testing.assert_array_equal(sel, ref)


def test_unnamed_groups_and_star():
    scores, elig, groups = _data()
    sel = select_with_quotas(scores, elig, groups, {"en": 1.0}, mode="topk", k=100)
    assert set(groups[sel]) == {"en"}
    sel = select_with_quotas(scores, elig, groups, {"en": 0.5, "*": 0.5}, mode="topk", k=100)
    assert (groups[sel] == "en").sum() == 50 and set(groups[sel]) == {"en", "de", "fr"}


def test_shortfall_redistributed():
    scores, elig, groups = _data()
    nfr = int((groups == "fr").sum())
    q = {"en": 0.4, "de": 0.2, "fr": 0.4}
    sel = select_with_quotas(scores, elig, groups, q, mode="topk", k=400)
    assert len(sel) == 400
    got = {g: int((groups[sel] == g).sum()) for g in q}
    assert got["fr"] == nfr  # all of fr, the rest split 2:1 between en and de
    rest = 400 - nfr
    assert abs(got["en"] - rest * 2 / 3) <= 1 and abs(got["de"] - rest / 3) <= 1
    strict = select_with_quotas(scores, elig, groups, q, mode="topk", k=400, redistribute=False)
    assert len(strict) == 160 + 80 + nfr


def test_eligible_and_threshold():
    scores, elig, groups = _data()
    elig = elig.copy()
    elig[::2] = False
    sel = select_with_quotas(scores, elig, groups, {"en": 0.5, "de": 0.5}, mode="topk", k=100)
    assert elig[sel].all()
    thr = select_with_quotas(
        scores, elig, groups, {"en": 1, "de": 1}, mode="threshold", threshold=1.0
    )
    assert (scores[thr] >= 1.0).all() and set(groups[thr]) <= {"en", "de"}
    capped = select_with_quotas(
        scores, elig, groups, {"en": 1, "de": 1}, mode="threshold", threshold=0.0, k=20
    )
    assert len(capped) == 20 and (scores[capped] >= 0).all()
