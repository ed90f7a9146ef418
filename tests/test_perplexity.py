"""The perplexity filter (``--filter perplexity --reference FILES --perplexity-quantile Q``) on
the shipped sample: it keeps what is like the reference, honours the quantile exactly when the
fit sample covers the corpus, gives one-line errors, and runs through select (with
``--method color``) byte-identically on 1 and 2 workers; YAML and the API take it too."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import thresher
from tests.conftest import tree_bytes, write_jsonl
from thresher.cli import app
from thresher.filters import PerplexityFilter
from thresher.rundir import read_docs
from thresher.runfile import load_runfile


def test_keeps_the_reference_like_documents(raw_records, tmp_path):
    """A German reference (read from Parquet) keeps the German documents of a mixed pool."""
    german = [r for r in raw_records if r["lang"] == "de"]
    ref = german[::3]
    held = {r["id"] for r in ref}
    pool = [r for r in raw_records[::2] if r["id"] not in held]
    path = tmp_path / "reference.parquet"
    pq.write_table(pa.table({"text": [r["text"] for r in ref]}), path)
    y = np.array([r["lang"] == "de" for r in pool])
    q = float(y.mean())  # keep as many as there are German documents
    f = PerplexityFilter(reference=[str(path)], perplexity_quantile=q)
    texts = pa.array([r["text"] for r in pool])
    info = f.fit_sample(texts)
    res = f.apply(texts)
    assert res.keep.sum() == math.ceil(q * len(pool))  # the quantile, exactly
    assert y[res.keep].mean() >= 0.8, y[res.keep].mean()  # measured 0.87 (base 0.13)
    assert y[~res.keep].mean() <= 0.05
    assert set(res.rule[~res.keep]) == {"perplexity"}
    assert (res.value[~res.keep] > info["perplexity cut"] - 1e-3).all()
    assert f.report()["perplexity_filter"]["reference_docs"] == len(ref)


@pytest.fixture(scope="module")
def corpus(raw_records, tmp_path_factory):
    recs = raw_records[::5]  # 556 documents, several byte-range shards
    return write_jsonl(tmp_path_factory.mktemp("ppl") / "raw.jsonl", recs), recs


def test_select_color_with_perplexity_filter_same_bytes_for_1_and_2_workers(
    corpus, sample_dir, tmp_path
):
    path, recs = corpus
    outs, manifests = [], []
    for workers in (1, 2):
        out = tmp_path / f"run-{workers}"
        manifests.append(
            thresher.select(
                target=[str(sample_dir / "target.jsonl")],
                raw=[str(path)],
                out=str(out),
                method="color",
                filters=["perplexity"],
                filter_options={
                    "reference": [str(sample_dir / "target.jsonl")],
                    "perplexity_quantile": 0.4,
                },
                k=30,
                workers=workers,
                shard_bytes=400 * 1024,
                report=False,
            )
        )
        outs.append(out)
    assert tree_bytes(outs[0] / "selected") == tree_bytes(outs[1] / "selected")
    assert tree_bytes(outs[0] / "docs") == tree_bytes(outs[1] / "docs")
    m = manifests[0]
    # the fit sample is the whole corpus here: the cut keeps exactly ceil(0.4 * n)
    assert m["counts"]["filtered"] == len(recs) - math.ceil(0.4 * len(recs))
    learned = m["metrics"]["perplexity_filter"]
    assert learned["quantile"] == 0.4 and learned["sample_docs"] == len(recs)
    docs = read_docs(outs[0])
    rule = np.asarray(docs.column("rule").to_pylist(), dtype=object)
    value = docs.column("value").to_numpy(zero_copy_only=False)
    dropped = rule == "perplexity"
    assert dropped.sum() == m["counts"]["filtered"]
    assert (value[dropped] > learned["cut"]).all()
    domain = thresher.read_selected(outs[0]).column("domain").to_pylist()
    base = np.mean([r["domain"] == "apidoc" for r in recs])
    assert np.mean([d == "apidoc" for d in domain]) > max(0.6, 5 * base)


def test_yaml_and_filter_api(corpus, sample_dir, tmp_path):
    """YAML: filter.reference (relative to the file) and perplexity_quantile add the filter.
    API: thresher.filter(rules=["perplexity"]) with its options."""
    path, recs = corpus
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "r.jsonl").write_bytes((sample_dir / "target.jsonl").read_bytes())
    yml = tmp_path / "p.yaml"
    yml.write_text(
        f"read: {{raw: {path}}}\nfilter:\n  reference: ref/r.jsonl\n  perplexity_quantile: 0.25\n"
        "score: none\nwrite: {out: run}\n"
    )
    cfg = load_runfile(yml)
    assert cfg.filters == ["perplexity"]
    assert cfg.filter_options == {
        "reference": [str(tmp_path / "ref" / "r.jsonl")],
        "perplexity_quantile": 0.25,
    }
    m = thresher.filter(
        raw=[str(path)],
        out=str(tmp_path / "api"),
        rules=["perplexity"],
        filter_options=dict(cfg.filter_options),
        workers=1,
        report=False,
    )
    assert m["counts"]["selected"] == math.ceil(0.25 * len(recs))


def _cli(args: list[str]) -> tuple[int, list[str]]:
    res = CliRunner().invoke(app, args)
    return res.exit_code, [x for x in res.output.strip().splitlines() if x.strip()]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--reference", "no/such/ref.jsonl"], "no/such/ref.jsonl"),
        (["--reference", "{target}", "--perplexity-quantile", "0"], "perplexity_quantile"),
        (["--reference", "{target}", "--perplexity-quantile", "1.5"], "must be in (0, 1]"),
        (["--rules", "perplexity"], "needs --reference"),
    ],
)
def test_bad_reference_or_quantile_is_a_one_line_error(
    extra, message, corpus, sample_dir, tmp_path
):
    path, _ = corpus
    out = tmp_path / "run"
    extra = [x.replace("{target}", str(sample_dir / "target.jsonl")) for x in extra]
    code, lines = _cli(["filter", "--raw", str(path), "--out", str(out), *extra])
    assert code != 0
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()
