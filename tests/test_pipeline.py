"""End-to-end `thresher select` on the shipped real multi-domain sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import xxhash
from typer.testing import CliRunner

import thresher
from tests.conftest import tree_bytes
from thresher.cli import app


def _select(sample_dir: Path, out: Path, **kw) -> dict:
    opts = dict(
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(sample_dir / "raw.jsonl.gz")],
        out=str(out),
        k=200,
        seed=7,
        workers=1,
        report=False,
    )
    opts.update(kw)
    return thresher.select(method="dsir", **opts)


def test_counts_add_up_and_outputs_exist(sample_dir, tmp_path, raw_records):
    m = _select(sample_dir, tmp_path / "run")
    c = m["counts"]
    assert c["read"] == len(raw_records)
    assert (
        c["read"]
        == c["selected"] + c["not_selected"] + c["rejected"] + c["filtered"] + c["duplicate"]
    )
    assert c["selected"] == 200
    table = thresher.read_selected(tmp_path / "run")
    assert table.num_rows == 200
    for col in ("text", "domain", "lang", "thresher_score", "thresher_source", "thresher_row"):
        assert col in table.column_names
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    digest = manifest["inputs"]["raw"][0]["hash"]
    assert digest.startswith("xxh3_128:") and len(digest) == len("xxh3_128:") + 32
    raw_path = manifest["inputs"]["raw"][0]["path"]
    with open(raw_path, "rb") as fh:
        assert digest == "xxh3_128:" + xxhash.xxh3_128(fh.read()).hexdigest()
    assert set(manifest["timings"]) >= {"scan", "select", "write"}
    # Provenance points back at the very row.
    rows = table.column("thresher_row").to_pylist()
    texts = table.column("text").to_pylist()
    for r, t in list(zip(rows, texts, strict=True))[:20]:
        assert raw_records[r]["text"] == t


def test_selection_moves_towards_the_target_domain(
    sample_dir, tmp_path, raw_records, target_records
):
    target_domain = target_records[0]["domain"]
    base = np.mean([r["domain"] == target_domain for r in raw_records])
    m = _select(sample_dir, tmp_path / "run", mode="topk")
    table = thresher.read_selected(tmp_path / "run")
    share = np.mean([d == target_domain for d in table.column("domain").to_pylist()])
    assert share > 3 * base, (share, base)
    assert m["metrics"]["kl_reduction"] > m["metrics"]["kl_reduction_random"]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_same_seed_same_bytes_whatever_the_workers(sample_dir, plain_raw_path, tmp_path, fmt):
    a = tmp_path / "w1"
    b = tmp_path / "w2"
    raw = [str(plain_raw_path)]
    _select(sample_dir, a, raw=raw, workers=1, format=fmt, shard_bytes=1024 * 1024)
    _select(sample_dir, b, raw=raw, workers=2, format=fmt, shard_bytes=1024 * 1024)
    ta, tb = tree_bytes(a / "selected"), tree_bytes(b / "selected")
    assert len(ta) > 1 and ta == tb
    assert tree_bytes(a / "docs") == tree_bytes(b / "docs")


def test_different_seed_different_resample(sample_dir, tmp_path):
    _select(sample_dir, tmp_path / "a", seed=1)
    _select(sample_dir, tmp_path / "b", seed=2)
    ra = set(thresher.read_selected(tmp_path / "a").column("thresher_row").to_pylist())
    rb = set(thresher.read_selected(tmp_path / "b").column("thresher_row").to_pylist())
    assert ra != rb and len(ra & rb) > 0


def test_topk_and_threshold_modes(sample_dir, tmp_path):
    m = _select(sample_dir, tmp_path / "top", mode="topk", k=None, fraction=0.1)
    sel = thresher.read_selected(tmp_path / "top")
    docs = pq.read_table(tmp_path / "top" / "docs").to_pandas() if False else None  # noqa: F841
    cut = m["metrics"]["score_cut"]
    assert m["counts"]["selected"] == round(0.1 * m["counts"]["read"])
    assert min(sel.column("thresher_score").to_pylist()) == pytest.approx(cut)
    m2 = _select(sample_dir, tmp_path / "thr", mode="threshold", k=None, threshold=cut)
    assert m2["counts"]["selected"] >= m["counts"]["selected"]
    assert min(thresher.read_selected(tmp_path / "thr").column("thresher_score").to_pylist()) >= cut


def test_refuses_non_empty_out_without_overwrite(sample_dir, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(thresher.errors.ConfigError, match="--overwrite"):
        _select(sample_dir, out)
    assert (out / "keep.txt").exists()
    # --overwrite replaces only a thresher run directory (see test_rundir.py).
    with pytest.raises(thresher.errors.ConfigError, match="not a thresher run directory"):
        _select(sample_dir, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"


def test_cli_runs_and_user_errors_are_one_line(sample_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--target",
            str(sample_dir / "target.jsonl"),
            "--raw",
            str(sample_dir / "raw.jsonl.gz"),
            "--out",
            str(out),
            "--k",
            "50",
            "--workers",
            "1",
            "--format",
            "jsonl",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "KL reduction" in res.output
    lines = (out / "selected" / "part-00000.jsonl").read_bytes().splitlines()
    assert len(lines) == 50
    bad = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--raw",
            str(tmp_path / "nope.jsonl"),
            "--target",
            "x",
            "--out",
            str(tmp_path / "o"),
            "--k",
            "5",
        ],
    )
    assert bad.exit_code != 0
    assert "nope.jsonl" in bad.output
    both = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--raw",
            "a",
            "--target",
            "b",
            "--out",
            str(tmp_path / "o2"),
            "--k",
            "5",
            "--fraction",
            "0.1",
        ],
    )
    assert both.exit_code != 0 and "not both" in both.output
