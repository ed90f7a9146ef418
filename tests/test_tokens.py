"""Token budgets: counting (a real BPE trained here by ``tokenizers``, and the built-in
estimate), the fill in every mode on the shipped sample, determinism across workers, errors."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import regex
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from typer.testing import CliRunner

import thresher
from tests.conftest import small_corpus, tree_bytes
from thresher.cli import app
from thresher.errors import ConfigError
from thresher.runfile import load_runfile, plan
from thresher.select.budget import fill
from thresher.select.quotas import select_with_quotas
from thresher.select.select import select_indices
from thresher.text.tokens import (
    FEATURES,
    EstimateCounter,
    TokenizerCounter,
    estimate_features,
)

BUDGET = 250_000  # tokens of the sample BPE; the sample holds ~2.0M


def _texts(sample_dir: Path) -> list[str]:
    raw = gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes())
    return [json.loads(line)["text"] for line in raw.splitlines()]


@pytest.fixture(scope="module")
def texts(sample_dir) -> list[str]:
    return _texts(sample_dir)


@pytest.fixture(scope="module")
def bpe(texts, tmp_path_factory) -> Path:
    """A byte-level BPE (8,000 merges' vocabulary) trained on the shipped sample: seconds."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def _bpe_count(path: Path, texts: list[str]) -> np.ndarray:
    """Tokens per text, straight from the tokenizers library (independent of thresher)."""
    tok = Tokenizer.from_file(str(path))
    return np.array([len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)])


# ------------------------------------------------------------------------- counting


def _reference_features(text: str) -> list[int]:
    """The estimate's features, recomputed with the ``regex`` engine (what the kernel means)."""
    f = dict.fromkeys(FEATURES, 0)
    for m in regex.finditer(r"([^\W\d_]|(?![0-9])\d)+|[0-9]+|([^\w\s]|_)+|\n|[^\S\n]+", text):
        run = m.group()
        if run == "\n":
            f["newlines"] += 1
        elif run.isspace():
            f["extra_spaces"] += len(run) - 1
        elif "0" <= run[0] <= "9":
            f["digit_runs"] += 1
            f["digits"] += len(run)
        elif regex.match(r"[^\w\s]|_", run[0]):
            f["punct_runs"] += 1
            f["punct"] += len(run)
        else:
            f["words"] += 1
            f["letters_over_4"] += max(0, len(run) - 4)
            f["letters_over_8"] += max(0, len(run) - 8)
            f["letters_2byte"] += sum(len(c.encode()) == 2 for c in run)
            f["letters_3byte"] += sum(len(c.encode()) > 2 for c in run)
    return [f[k] for k in FEATURES]


def test_estimate_features_match_a_regex_reference(texts):
    texts = texts[::4]  # every language of the sample, in a few seconds
    got = estimate_features(pa.array(texts, type=pa.large_string()))
    want = np.array([_reference_features(t) for t in texts])
    bad = np.flatnonzero((got != want).any(axis=1))
    assert len(bad) == 0, f"doc {bad[:5]}: {got[bad[0]]} vs {want[bad[0]]}"
    assert got.sum(axis=0).min() > 0  # the sample exercises every feature


def test_estimate_small_cases():
    counter = EstimateCounter()
    got = counter.count(pa.array(["", "a", "   ", "Hello, world!", "x" * 40], pa.large_string()))
    assert got[0] == 0 and got[1] >= 1 and got[3] >= 3
    assert got[4] > got[1]  # a long word costs more than a short one
    sliced = pa.array(["skip me", "Hello, world!"], pa.string()).slice(1)  # offsets respected
    assert counter.count(sliced)[0] == got[3]


def test_estimate_error_against_a_bpe_trained_on_the_sample(bpe, texts):
    """The numbers the README states for the sample (bench/tokens.py prints the same)."""
    ref = _bpe_count(bpe, texts)
    est = EstimateCounter().count(pa.array(texts, type=pa.large_string()))
    total = est.sum() / ref.sum() - 1
    per_doc = np.abs(est - ref) / ref
    print(f"estimate vs sample BPE-8k: total {total:+.1%}, median per doc {np.median(per_doc):.1%}")
    assert abs(total) < 0.20 and np.median(per_doc) < 0.18
    # Up to one scale factor (tokenizers differ in bytes per token), the features track the
    # BPE closer than bytes do: the estimate's per-document shape is worth its kernel.
    nbytes = np.array([len(t.encode()) for t in texts])
    shape_est = np.median(np.abs(est * ref.sum() / est.sum() - ref) / ref)
    shape_bytes = np.median(np.abs(nbytes * ref.sum() / nbytes.sum() - ref) / ref)
    assert shape_est < 0.8 * shape_bytes


def test_tokenizer_counter_counts_like_the_library_and_pickles(bpe, texts):
    counter = TokenizerCounter(bpe)
    some = texts[:50]
    np.testing.assert_array_equal(counter.count(pa.array(some)), _bpe_count(bpe, some))
    again = pickle.loads(pickle.dumps(counter))  # what workers get: the JSON, not the path
    np.testing.assert_array_equal(again.count(pa.array(some)), _bpe_count(bpe, some))
    assert counter.describe()["sha256"] == again.describe()["sha256"]


# ------------------------------------------------------------------------- selection


def test_fill_never_exceeds_and_skips_to_smaller():
    lengths = np.array([5, 50, 30, 10, 3, 1], dtype=np.int64)
    order = np.arange(6)
    # 5 fits, 50 does not (skipped), 30 fits (35), 10 does not, 3 fits (38), 1 fits (39)
    np.testing.assert_array_equal(fill(order, lengths, 39), [0, 2, 4, 5])
    np.testing.assert_array_equal(fill(order, lengths, 1000), order)
    assert len(fill(order, lengths, 0)) == 0
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 5000, size=5000)
    for budget in (1, 999, 123_456, 10**9):
        got = lengths[fill(rng.permutation(5000), lengths, budget)].sum()
        assert got <= budget
        assert got == min(budget, lengths.sum()) or budget - got < lengths.min() + 5000


@pytest.mark.parametrize("mode", ["topk", "resample", "threshold", "all"])
def test_select_indices_tokens_order(mode):
    rng = np.random.default_rng(1)
    scores = rng.normal(size=2000)
    lengths = rng.integers(50, 2000, size=2000)
    eligible = rng.random(2000) > 0.1
    sel = select_indices(
        scores, eligible, mode=mode, tokens=100_000, lengths=lengths, threshold=-0.5, seed=3
    )
    assert eligible[sel].all() and 0.97 * 100_000 <= lengths[sel].sum() <= 100_000
    if mode == "topk":
        # best first: the top documents up to the first that did not fit are all taken ...
        order = np.flatnonzero(eligible)[np.argsort(-scores[eligible], kind="stable")]
        prefix = order[: int(np.searchsorted(np.cumsum(lengths[order]), 100_000, "right"))]
        assert len(prefix) > 20 and np.isin(prefix, sel).all()
        # ... and a better document left out was too long even for what is left at the end
        skipped = np.flatnonzero(
            eligible & (scores > scores[sel].min()) & ~np.isin(range(2000), sel)
        )
        assert (lengths[skipped] > 100_000 - lengths[sel].sum()).all()
    if mode == "threshold":
        assert (scores[sel] >= -0.5).all()
    if mode == "all":  # input order: a prefix of the eligible documents, bar skips at the end
        assert np.isin(np.flatnonzero(eligible)[:40], sel).all()
    with pytest.raises(ValueError, match="not two"):
        select_indices(scores, eligible, mode=mode, tokens=10, k=3, lengths=lengths, threshold=0)


def test_quotas_in_tokens_split_the_budget():
    rng = np.random.default_rng(2)
    n = 3000
    scores = rng.normal(size=n)
    lengths = rng.integers(100, 3000, size=n)
    groups = np.array(rng.choice(["en", "de", "fr"], size=n, p=[0.6, 0.3, 0.1]), dtype=object)
    q = {"en": 0.5, "de": 0.3, "fr": 0.2}
    for mode in ("topk", "resample"):
        sel = select_with_quotas(
            scores, np.ones(n, bool), groups, q, mode=mode, tokens=600_000, lengths=lengths
        )
        got = {g: int(lengths[sel][groups[sel] == g].sum()) for g in q}
        assert sum(got.values()) <= 600_000 and sum(got.values()) >= 0.97 * 600_000
        for g, share in q.items():
            assert share * 600_000 * 0.95 <= got[g] <= share * 600_000
    # fr holds too few tokens for 60% of the budget: its shortfall goes to en and de
    fr_tokens = int(lengths[groups == "fr"].sum())
    sel = select_with_quotas(
        scores,
        np.ones(n, bool),
        groups,
        {"en": 0.2, "de": 0.2, "fr": 0.6},
        mode="topk",
        tokens=2_000_000,
        lengths=lengths,
    )
    assert int(lengths[sel][groups[sel] == "fr"].sum()) == fr_tokens
    assert lengths[sel].sum() >= 0.97 * 2_000_000


# ------------------------------------------------------------------------- pipeline


def _run(sample_dir: Path, out: Path, **kw) -> dict:
    opts = dict(
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(sample_dir / "raw.jsonl.gz")],
        out=str(out),
        seed=11,
        workers=1,
        report=False,
        format="jsonl",
    )
    opts.update(kw)
    opts.setdefault("method", "dsir")
    return thresher.select(**opts)


def _selected_texts(out: Path) -> list[str]:
    return [
        json.loads(line)["text"]
        for p in sorted((out / "selected").glob("*.jsonl"))
        for line in p.read_bytes().splitlines()
    ]


def _check_fill(m: dict, out: Path, bpe: Path, budget: int) -> int:
    """The selected output, recounted by the library itself: within [97%, 100%] of budget."""
    got = int(_bpe_count(bpe, _selected_texts(out)).sum())
    assert got == m["counts"]["tokens_selected"] == m["tokens"]["selected"]
    assert 0.97 * budget <= got <= budget, (got, budget)
    assert m["tokens"]["counter"] == "tokenizer" and m["tokens"]["budget"] == budget
    c = m["counts"]
    assert c["tokens_read"] == sum(
        c[f"tokens_{k}"] for k in ("filtered", "duplicate", "not_selected", "selected")
    )
    return got


def test_resample_fill_and_determinism_across_workers(sample_dir, tmp_path, bpe, texts):
    one = _run(sample_dir, tmp_path / "w1", tokens=BUDGET, tokenizer=str(bpe), mode="resample")
    two = _run(
        sample_dir, tmp_path / "w2", tokens=BUDGET, tokenizer=str(bpe), mode="resample", workers=2
    )
    _check_fill(one, tmp_path / "w1", bpe, BUDGET)
    assert one["counts"]["tokens_read"] == int(_bpe_count(bpe, texts).sum())
    assert one["counts"] == two["counts"]
    a, b = tree_bytes(tmp_path / "w1" / "selected"), tree_bytes(tmp_path / "w2" / "selected")
    assert a == b and a
    # the random baseline got as many tokens (of the same eligible documents)
    assert one["metrics"]["kl_reduction"] > one["metrics"]["kl_reduction_random"]


def test_topk_fill_via_cli_and_summary(sample_dir, tmp_path, bpe):
    out = tmp_path / "topk"
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
            "bm25",
            "--tokens",
            str(BUDGET),
            "--tokenizer",
            str(bpe),
            "--workers",
            "1",
            "--format",
            "jsonl",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    got = _check_fill(m, out, bpe, BUDGET)
    assert f"selected {got:,} of a budget of {BUDGET:,}" in " ".join(res.output.split())
    assert "tokens selected (tokenizer)" in (out / "report.html").read_text()
    # topk: every selected document scores at least as well as all but the skipped ones
    table = thresher.read_selected(out)
    assert table.num_rows == m["counts"]["selected"]


def test_threshold_and_quota_fill(sample_dir, tmp_path, bpe):
    m = _run(
        sample_dir,
        tmp_path / "thr",
        tokens=BUDGET,
        tokenizer=str(bpe),
        mode="threshold",
        threshold=-1e9,  # everything passes: the budget caps, best first
    )
    _check_fill(m, tmp_path / "thr", bpe, BUDGET)
    q = _run(
        sample_dir,
        tmp_path / "quota",
        tokens=BUDGET,
        tokenizer=str(bpe),
        mode="topk",
        quota_field="lang",
        quotas={"en": 0.6, "de": 0.4},
    )
    _check_fill(q, tmp_path / "quota", bpe, BUDGET)
    recs = [
        json.loads(line)
        for p in sorted((tmp_path / "quota" / "selected").glob("*.jsonl"))
        for line in p.read_bytes().splitlines()
    ]
    by_lang = {
        g: int(_bpe_count(bpe, [r["text"] for r in recs if r["lang"] == g]).sum())
        for g in ("en", "de")
    }
    assert set(r["lang"] for r in recs) == {"en", "de"}
    assert 0.97 * 0.6 * BUDGET <= by_lang["en"] <= 0.6 * BUDGET
    assert 0.97 * 0.4 * BUDGET <= by_lang["de"] <= 0.4 * BUDGET


def test_estimate_budget_without_a_tokenizer(sample_dir, tmp_path, texts):
    m = _run(sample_dir, tmp_path / "est", tokens=100_000, method="bm25")
    est = EstimateCounter()
    got = int(est.count(pa.array(_selected_texts(tmp_path / "est"))).sum())
    assert got == m["counts"]["tokens_selected"] and 97_000 <= got <= 100_000
    assert m["tokens"] == {
        "counter": "estimate",
        "budget": 100_000,
        "selected": got,
        "fill": got / 1e5,
    }
    assert m["counts"]["tokens_read"] == int(est.count(pa.array(texts)).sum())


def test_bad_requests_are_one_line_errors(sample_dir, tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"not": "a tokenizer"}')
    with pytest.raises(ConfigError, match=r"tokenizer\.json: not a Hugging Face tokenizer\.json"):
        _run(sample_dir, tmp_path / "a", tokens=1000, tokenizer=str(bad))
    with pytest.raises(ConfigError, match="file not found"):
        _run(sample_dir, tmp_path / "b", tokens=1000, tokenizer=str(tmp_path / "missing.json"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing touched
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--raw",
            "x.jsonl",
            "--target",
            "t.jsonl",
            "--out",
            str(tmp_path / "c"),
        ]
        + ["--k", "10", "--tokens", "100"],
    )
    assert res.exit_code == 2 and "give k or tokens, not both" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_pipeline_file_select_tokens(tmp_path, sample_dir, bpe):
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "bpe.json").write_bytes(bpe.read_bytes())
    yml = tmp_path / "p.yaml"
    yml.write_text(
        f"read: {{raw: {sample_dir / 'raw.jsonl.gz'}, target: {sample_dir / 'target.jsonl'}}}\n"
        "select:\n  tokens: 5000\n  tokenizer: tok/bpe.json\nwrite: {out: run}\n"
    )
    cfg = load_runfile(yml)
    assert cfg.tokens == 5000 and cfg.tokenizer == str(tmp_path / "tok" / "bpe.json")
    text = plan(cfg)
    assert "tokens = 5,000" in text and f"counted by {tmp_path / 'tok' / 'bpe.json'}" in text
    yml.write_text(yml.read_text().replace("tokens: 5000", "tokens: 5000\n  k: 3"))
    with pytest.raises(ConfigError, match=r"p\.yaml:\d+: .*give k or tokens, not both"):
        load_runfile(yml)


def test_budget_beyond_the_corpus_and_input_order_for_method_none(tmp_path):
    raw, _ = small_corpus(tmp_path, 60)  # 60 documents and one malformed line (a reject)
    m = thresher.select(
        raw=[str(raw)], out=str(tmp_path / "all"), method="none", tokens=10**9, report=False
    )
    assert m["counts"]["selected"] == 60 and m["counts"]["rejected"] == 1
    assert any("hold only" in w for w in m["warnings"])
    assert m["counts"]["tokens_selected"] == m["counts"]["tokens_read"] < 10**9
    # method none keeps the input order: the budget takes the documents from the top
    half = m["counts"]["tokens_read"] // 2
    h = thresher.select(
        raw=[str(raw)], out=str(tmp_path / "half"), method="none", tokens=half, report=False
    )
    rows = sorted(thresher.read_selected(tmp_path / "half").column("thresher_row").to_pylist())
    lines = [r for r in range(61) if r != 7]  # the valid lines, in input order
    n = len(rows)
    assert 10 <= n < 60 and rows[: n // 2] == lines[: n // 2]  # a prefix, bar skips near the end
    assert 0.97 * half <= h["counts"]["tokens_selected"] <= half


def test_tokens_counted_only_when_asked(tmp_path):
    raw, target = small_corpus(tmp_path, 40)
    kw = dict(raw=[str(raw)], target=[str(target)], k=5, report=False, method="bm25")
    plain = thresher.select(out=str(tmp_path / "plain"), **kw)
    assert "tokens_read" not in plain["counts"] and plain["tokens"] is None
    counted = thresher.select(out=str(tmp_path / "est"), tokenizer="estimate", **kw)
    assert counted["tokens"] == {
        "counter": "estimate",
        "budget": None,
        "selected": counted["counts"]["tokens_selected"],
        "fill": None,
    }
    lines = raw.read_bytes().splitlines()
    texts = [json.loads(line)["text"] for i, line in enumerate(lines) if i != 7]  # 7: malformed
    assert counted["counts"]["tokens_read"] == EstimateCounter().count(pa.array(texts)).sum()
    # the selection itself is the same: counting changes nothing else
    assert counted["counts"]["selected"] == plain["counts"]["selected"] == 5
    a = thresher.read_selected(tmp_path / "plain").column("thresher_row").to_pylist()
    b = thresher.read_selected(tmp_path / "est").column("thresher_row").to_pylist()
    assert a == b
