"""Output formats: Parquet, JSON Lines, and JSON Lines compressed with gzip or zstd.

Every format holds the same records; compressed parts are byte-identical whatever the
number of workers; what reads a run back (read_selected, the report, inspect, eval,
datasets.load_dataset) reads every format.
"""

from __future__ import annotations

import gzip
import json

import orjson
import pytest
import zstandard
from typer.testing import CliRunner

import thresher
from tests.conftest import SAMPLE, tree_bytes
from thresher.cli import app
from thresher.inspect import query
from thresher.io.writers import OUTPUT_FORMATS, part_format, read_part, write_jsonl
from thresher.rundir import RunDir, iter_selected, selected_columns

SHARD_BYTES = 1 << 20
OPTS = {
    "target": [str(SAMPLE / "target.jsonl")],
    "k": 120,
    "seed": 2,
    "shard_bytes": SHARD_BYTES,
    "filters": ["c4"],
    "write_dropped": True,
}


def _run(raw, out, fmt, workers=1, report=False):
    return thresher.select(
        method="dsir",
        raw=[str(raw)],
        out=str(out),
        format=fmt,
        workers=workers,
        report=report,
        **OPTS,
    )


@pytest.fixture(scope="module")
def runs(plain_raw_path, tmp_path_factory) -> dict:
    """One run per output format on the same input (7 shards)."""
    base = tmp_path_factory.mktemp("formats")
    out = {}
    for fmt in OUTPUT_FORMATS:
        _run(plain_raw_path, base / fmt, fmt, report=fmt == "jsonl.zst")
        out[fmt] = base / fmt
    return out


def _decompress(path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


@pytest.mark.parametrize("fmt", ["jsonl.gz", "jsonl.zst"])
def test_compressed_parts_hold_the_jsonl_bytes(runs, fmt):
    for kind in ("selected", "dropped"):
        plain = sorted((runs["jsonl"] / kind).glob("part-*"))
        packed = sorted((runs[fmt] / kind).glob("part-*"))
        assert [p.name for p in packed] == [p.name + fmt[len("jsonl") :] for p in plain]
        assert plain, kind
        for a, b in zip(plain, packed, strict=True):
            assert part_format(b) == fmt
            assert _decompress(b) == a.read_bytes()
            assert len(b.read_bytes()) < len(a.read_bytes()) / 2  # text compresses ~3x


def test_every_format_reads_back_as_the_same_table(runs):
    ref = thresher.read_selected(runs["parquet"])
    assert ref.num_rows == 120
    for fmt in ("jsonl", "jsonl.gz", "jsonl.zst"):
        got = thresher.read_selected(runs[fmt])
        assert got.column_names == ref.column_names
        for col in ("text", "id", "thresher_row", "thresher_source"):
            assert got.column(col).to_pylist() == ref.column(col).to_pylist(), (fmt, col)
        assert got.column("thresher_score").to_pylist() == pytest.approx(
            ref.column("thresher_score").to_pylist(), rel=1e-6
        )
        assert selected_columns(runs[fmt]) == ref.column_names
        first = next(iter_selected(runs[fmt], ["id", "lang"], limit=1))
        assert first == {"id": ref.column("id")[0].as_py(), "lang": ref.column("lang")[0].as_py()}


def test_compressed_output_is_byte_identical_for_any_worker_count(plain_raw_path, runs, tmp_path):
    _run(plain_raw_path, tmp_path / "w2", "jsonl.zst", workers=2)
    for kind in ("selected", "dropped"):
        assert tree_bytes(tmp_path / "w2" / kind) == tree_bytes(runs["jsonl.zst"] / kind)


def test_report_inspect_and_eval_read_compressed_runs(runs):
    run = runs["jsonl.zst"]
    html = (run / "report.html").read_text()
    assert "120 selected documents" in html
    page = query(run, status=["selected"], page_size=5)
    assert page.total == 120 and all(item["text"] for item in page.items)
    from thresher.evaluate import selection_texts

    texts = selection_texts(run, max_tokens=10**9)
    assert len(texts) == 120


def test_datasets_loads_compressed_jsonl_parts(runs, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    parts = [str(p) for p in RunDir(runs["jsonl.gz"]).selected_parts()]
    ds = datasets.load_dataset(
        "json", data_files=parts, split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert ds["text"] == thresher.read_selected(runs["parquet"]).column("text").to_pylist()


def test_jsonl_parts_split_on_newlines_only(tmp_path):
    """A record holding U+2028 (a line separator to str.splitlines) stays one record."""
    recs = [{"text": "one\u2028two"}, {"text": "three"}]
    for suffix in (".jsonl", ".jsonl.gz", ".jsonl.zst"):
        path = tmp_path / f"part-00000{suffix}"
        write_jsonl(recs, path)
        assert read_part(path).to_pylist() == recs
        raw = _decompress(path)
        assert raw.split(b"\n")[:2] == [orjson.dumps(r) for r in recs]


def test_cli_format_option_and_a_bad_format_is_one_line(plain_raw_path, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["dedup", "--raw", str(SAMPLE / "raw.jsonl.gz"), "--out", str(tmp_path / "d")]
        + ["--format", "jsonl.gz", "--workers", "1", "--method", "exact"],
    )
    assert ok.exit_code == 0, ok.output
    parts = RunDir(tmp_path / "d").selected_parts()
    assert [p.name for p in parts] == ["part-00000.jsonl.gz"]
    lines = gzip.decompress(parts[0].read_bytes()).split(b"\n")
    m = json.loads((tmp_path / "d" / "manifest.json").read_text())
    assert len([x for x in lines if x]) == m["counts"]["selected"] > 2000
    bad = runner.invoke(
        app,
        ["filter", "--raw", str(plain_raw_path), "--out", str(tmp_path / "b")]
        + ["--rules", "c4", "--format", "jsonl.bz2"],
    )
    assert bad.exit_code != 0
    assert "jsonl.bz2" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "b").exists()
