"""CoLoR-Filter (``--method color``) on the shipped sample: the byte n-gram model it is built
on, its ranking of target-like documents, its per-byte normalization, the transformer
variant (tiny, CPU), and its option errors. The pipeline run (1 vs 2 workers) is in
tests/test_perplexity.py, together with the perplexity filter."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from thresher.cli import app
from thresher.evaluate.ngram import KneserNeyLM
from thresher.scorers import make_scorer
from thresher.text.byte_lm import ByteLM, training_stream


@pytest.fixture(scope="module")
def pool(raw_records, target_records):
    """Every 3rd sample document (927: 77 Python API docs, the target's domain) and the
    target's 220 documents."""
    recs = raw_records[::3]
    texts = pa.array([r["text"] for r in recs], pa.large_string())
    y = np.array([r["domain"] == "apidoc" for r in recs])
    return pa.array([r["text"] for r in target_records]), texts, y


def precision_at_k(scores: np.ndarray, y: np.ndarray) -> float:
    k = int(y.sum())
    return float(y[np.argsort(-scores, kind="stable")[:k]].mean())


@pytest.mark.parametrize("order", [3, 5])
def test_byte_lm_is_the_eval_kneser_ney_model(pool, order):
    """The numba hash tables give exactly the numpy Kneser-Ney model ``thresher eval`` uses,
    each document scored after ``order - 1`` separators."""
    target, texts, _ = pool
    lm = ByteLM.fit(target, order)
    ref = KneserNeyLM(order).fit(training_stream(target, order))
    docs = texts.slice(0, 6)
    logp, n = lm.doc_logprob(docs)
    for i, t in enumerate(docs.to_pylist()):
        b = np.frombuffer(t.encode(), np.uint8).astype(np.int64)
        stream = np.concatenate([np.full(order - 1, 256), b])  # log_probs skips the first
        want = ref.log_probs(np.concatenate([[256], stream]))[order - 1 :].sum()
        assert n[i] == len(b)
        assert logp[i] == pytest.approx(want, rel=1e-5)


def test_color_ranks_target_like_documents_first(pool):
    target, texts, y = pool
    scorer = make_scorer("color").fit(target, texts)
    scores = scorer.score(texts)
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    base = y.mean()  # 0.083: what a random pick gets
    p = precision_at_k(scores, y)
    assert p >= 0.55 and p >= 6 * base, p  # measured 0.67
    # a score is a per-byte loss reduction: a document twice over scores about the same
    doc = texts[int(np.argmax(scores))].as_py()[:2000]
    once, twice = scorer.score(pa.array([doc, doc + "\n" + doc]))
    assert twice == pytest.approx(once, rel=0.1)
    assert scorer.report()["color"]["prior_docs"] == len(texts)  # 3 MB < prior_bytes


def test_color_count_merging_ranks_too(pool):
    """The documented alternative (count merging, at another order) stays a usable ranker."""
    target, texts, y = pool
    opts = {"adapt": "counts", "order": 4}
    p = precision_at_k(make_scorer("color", **opts).fit(target, texts).score(texts), y)
    assert p >= 4 * y.mean(), (opts, p)


def test_color_transformer_tiny_on_cpu(pool):
    """The transformer variant: trained on the raw sample, fine-tuned on the target, scored
    in batches of windows; deterministic, batch-independent, picklable."""
    pytest.importorskip("torch")
    target, texts, y = pool
    sub = texts.slice(0, 240)
    ys = y[:240]
    opts = dict(
        model="transformer",
        tiny=True,
        steps=40,
        finetune_steps=20,
        max_doc_bytes=256,
        device="cpu",
        threads=1,  # a busy machine: OpenMP threads spinning against other processes
    )
    scorer = make_scorer("color", **opts).fit(target, sub)
    scores = scorer.score(sub)
    assert scores.dtype == np.float32 and scores.shape == (240,) and np.isfinite(scores).all()
    from scipy.stats import mannwhitneyu

    auc = mannwhitneyu(scores[ys], scores[~ys]).statistic / (ys.sum() * (~ys).sum())
    assert auc >= 0.75, auc
    parts = np.concatenate([scorer.score(sub.slice(0, 7)), scorer.score(sub.slice(7, 53))])
    np.testing.assert_allclose(parts, scores[:60], rtol=1e-4, atol=1e-5)
    again = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_allclose(again.score(sub.slice(0, 20)), scores[:20], rtol=1e-4, atol=1e-5)
    assert scorer.report()["color"]["device"] == "cpu"


@pytest.mark.parametrize(
    "option,message",
    [
        ("weight=2", "weight must be in (0, 1)"),
        ("adapt=finetune", "adapt must be 'mix' or 'counts'"),
        ("order=9", "order must be between 1 and 7"),
        ("steps=abc", "option steps='abc': expected int"),
    ],
)
def test_color_bad_options_are_one_line_errors(option, message, sample_dir, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--raw",
            str(sample_dir / "raw.jsonl.gz"),
            "--target",
            str(sample_dir / "target.jsonl"),
            "--out",
            str(out),
            "--method",
            "color",
            "--k",
            "10",
            "-o",
            option,
        ],
    )
    assert res.exit_code != 0
    lines = [x for x in res.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0] and "--method color" in lines[0], res.output
    assert not out.exists()  # validated before anything is written
