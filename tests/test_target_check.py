"""Target diagnostics on the shipped sample: injected junk, duplicates, raw copies, --target-outliers."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from thresher.cli import app
from thresher.target_check import check_target, find_raw_copies


def _junked(raw_records, target_records):
    """60 Python API docs with 15 German quotations slipped in (20% of the target)."""
    clean = [r["text"] for r in target_records[:60]]
    junk = [r["text"] for r in raw_records if r["domain"] == "quotes" and r["lang"] == "de"][:15]
    return clean, junk


def test_flags_injected_junk(raw_records, target_records):
    clean, junk = _junked(raw_records, target_records)
    chk = check_target(pa.array(clean + junk), action="drop")
    idx = chk.outlier_indices()
    assert set(range(60, 75)) <= set(idx.tolist())  # every junk document flagged
    assert (idx < 60).sum() <= 2  # at most 2 of 60 honest documents
    assert chk.languages == {"en": 60, "de": 15}
    assert any("outliers" in line for line in chk.summary())
    # a clean target: few flagged (the similarity cut drops ~2% of an honest target)
    honest = check_target(pa.array([r["text"] for r in target_records]))
    assert len(honest.outliers) <= 0.03 * len(target_records)


def test_language_minority_and_duplicates(raw_records, target_records):
    docs = [r["text"] for r in target_records[:40]]
    french = next(r["text"] for r in raw_records if r["lang"] == "fr" and r["domain"] == "manpage")
    docs = docs + [french, docs[3], docs[3] + " "]
    chk = check_target(pa.array(docs))
    flagged = {o["index"]: o for o in chk.outliers}
    assert 40 in flagged and "language fr" in flagged[40]["reasons"]
    assert [3, 41, 42] in chk.duplicates
    assert chk.as_dict()["duplicate_docs"] == 2


def test_raw_copies_of_target_docs(raw_records, target_records):
    target = [r["text"] for r in target_records[:50]]
    raw = [r["text"] for r in raw_records[:400]]
    leaked = [target[5], target[9] + " (mirror)", target[20].replace("\n", " \n")]
    sample = raw[:100] + leaked[:1] + raw[100:300] + leaked[1:] + raw[300:]
    rc = find_raw_copies(pa.array(target), pa.array(sample))
    assert rc["copies"] == 3 and rc["target_docs_copied"] == 3
    assert [e["target"] for e in rc["examples"]] == [
        "target doc 6",
        "target doc 10",
        "target doc 21",
    ]
    assert rc["examples"][0]["raw"] == "sample doc 101"
    assert find_raw_copies(pa.array(target), pa.array(raw))["copies"] == 0


def test_target_outliers_error_names_the_documents(tmp_path, raw_records, target_records):
    clean, junk = _junked(raw_records, target_records)
    recs = (
        [{"text": t} for t in clean[:30]] + [{"text": junk[0]}] + [{"text": t} for t in clean[30:]]
    )
    tgt = write_jsonl(tmp_path / "tgt.jsonl", recs)
    raw = write_jsonl(tmp_path / "raw.jsonl", raw_records[:50])
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--target",
            str(tgt),
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--k",
            "5",
            "--method",
            "dsir",
            "--target-outliers",
            "error",
        ],
    )
    assert res.exit_code != 0
    msg = res.output.strip()
    assert len(msg.splitlines()) == 1, msg
    assert "tgt.jsonl line 31" in msg and "--target-outliers" in msg
    assert not (out / "manifest.json").exists() and not (out / "selected").exists()


def test_manifest_records_the_check(tmp_path, raw_records, target_records):
    """drop (the default): the outlier is left out of the fit and recorded with the leak."""
    clean, junk = _junked(raw_records, target_records)
    tgt = write_jsonl(tmp_path / "tgt.jsonl", [{"text": t} for t in clean + junk[:3]])
    raw_recs = raw_records[:300] + [{"text": clean[7]}]
    raw = write_jsonl(tmp_path / "raw.jsonl", raw_recs)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--target",
            str(tgt),
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--k",
            "5",
            "--method",
            "bm25",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_bytes())
    tc = m["target_check"]
    assert tc["outlier_action"] == "drop" and tc["outliers_dropped"] >= 3
    assert {"tgt.jsonl line 61", "tgt.jsonl line 62", "tgt.jsonl line 63"} <= {
        o["where"].rsplit("/", 1)[-1] for o in tc["outliers"]
    }
    assert tc["raw_copies"]["copies"] == 1
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Target check" in html and "Leak" in html
    assert np.isfinite(m["metrics"]["kl_reduction"])
