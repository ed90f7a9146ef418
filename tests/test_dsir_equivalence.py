"""thresher's DSIR weights agree with the reference package (data-selection 1.0.3)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import spearmanr

from tests.conftest import write_jsonl
from thresher.scorers.dsir import DSIRScorer


@pytest.fixture(scope="module")
def reference_weights(tmp_path_factory, raw_records, target_records):
    from data_selection import HashedNgramDSIR

    tmp = tmp_path_factory.mktemp("dsir_ref")
    raw = [{"text": r["text"]} for r in raw_records[::6]]
    target = [{"text": r["text"]} for r in target_records]
    raw_path = write_jsonl(tmp / "raw.jsonl", raw)
    target_path = write_jsonl(tmp / "target.jsonl", target)
    ref = HashedNgramDSIR(
        [str(raw_path)],
        [str(target_path)],
        cache_dir=str(tmp / "cache"),
        num_proc=1,
        ngrams=2,
        num_buckets=10_000,
        tokenizer="wordpunct",
        min_example_length=0,
    )
    ref.fit_importance_estimator(num_tokens_to_fit="all")
    ref.compute_importance_weights()
    weights = np.load(tmp / "cache" / "log_importance_weights" / "0.npy")
    return [r["text"] for r in raw], [t["text"] for t in target], weights, ref


def test_sha256_mode_is_the_reference_bucket_for_bucket(reference_weights):
    raw, target, ref_w, ref = reference_weights
    ours = DSIRScorer(num_buckets=10_000, ngrams=2, hashing="sha256")
    ours.fit(pa.array(target), pa.array(raw))
    np.testing.assert_allclose(ours.raw_probs, ref.raw_probs, rtol=1e-12)
    np.testing.assert_allclose(ours.target_probs, ref.target_probs, rtol=1e-12)
    w = ours.score(pa.array(raw))
    np.testing.assert_allclose(w, ref_w, rtol=1e-5, atol=1e-3)
    assert spearmanr(w, ref_w).statistic > 0.9999


def test_fast_kernel_ranks_like_the_reference(reference_weights):
    """The fast hash puts n-grams in other buckets than sha256 does, so the weights differ by
    what the bucket collisions differ: over six seeds of the FNV offset, the current hash
    gives Spearman 0.989-0.992 (mean 0.9907) here and the previous one (splitmix64
    finisher) 0.990-0.993 (mean 0.9912): 0.985 is below that spread."""
    raw, target, ref_w, _ = reference_weights
    ours = DSIRScorer(num_buckets=10_000, ngrams=2, hashing="fast")
    w = ours.fit(pa.array(target), pa.array(raw)).score(pa.array(raw))
    rho = spearmanr(w, ref_w).statistic
    assert rho >= 0.985, f"Spearman {rho:.4f} < 0.985"
