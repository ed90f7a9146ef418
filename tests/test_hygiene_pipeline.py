"""`thresher filter` and `thresher dedup` (and the same stages inside select) on real text."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import thresher
from tests.conftest import tree_bytes, write_jsonl
from thresher.cli import app


def _with_copies(raw_records, tmp_path):
    """Real docs, then exact copies and lightly edited copies of some of them, shuffled in."""
    base = [{"text": r["text"], "id": f"orig-{i}"} for i, r in enumerate(raw_records[:600])]
    copies = []
    for i in range(0, 600, 20):
        copies.append({"text": base[i]["text"], "id": f"exact-{i}"})
        words = base[i + 1]["text"].split(" ")
        if len(words) > 200:  # long enough that a one-word edit keeps Jaccard far above 0.8
            words[len(words) // 2] = "EDITED"
            copies.append({"text": " ".join(words), "id": f"near-{i + 1}"})
    write_jsonl(tmp_path / "base.jsonl", base)
    # Copies come after every original: the first occurrence of a cluster survives.
    return write_jsonl(tmp_path / "raw.jsonl", base + copies), len(copies)


def test_dedup_drops_copies_keeps_every_original_and_is_deterministic(raw_records, tmp_path):
    raw, n_copies = _with_copies(raw_records, tmp_path)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"d{workers}"
        m = thresher.select(
            raw=[str(raw)],
            out=str(out),
            method="none",
            dedup="minhash",
            write_dropped=True,
            workers=workers,
            shard_bytes=256 * 1024,
            report=False,
        )
        outs.append(out)
    c = m["counts"]
    assert c["read"] == c["selected"] + c["duplicate"] + c["filtered"] + c["rejected"]
    kept = pq.read_table(outs[0] / "selected")
    ids = set(kept.column("id").to_pylist())
    # The sample itself holds a few near-duplicate pages: the originals that survive
    # without injected copies must all survive with them.
    thresher.select(
        raw=[str(tmp_path / "base.jsonl")],
        out=str(tmp_path / "base"),
        method="none",
        dedup="minhash",
        workers=1,
        report=False,
    )
    base_kept = set(pq.read_table(tmp_path / "base" / "selected").column("id").to_pylist())
    assert len(base_kept) >= 590
    assert {i for i in ids if i.startswith("orig-")} == base_kept, "an original was lost"
    dropped = pq.read_table(outs[0] / "dropped")
    dropped_ids = set(dropped.column("id").to_pylist())
    assert {i for i in dropped_ids if i.startswith("exact-")} == {
        f"exact-{i}" for i in range(0, 600, 20)
    }
    assert len([i for i in dropped_ids if i.startswith("near-")]) >= 0.8 * len(
        [i for i in range(1, 600, 20) if len(raw_records[i]["text"].split(" ")) > 200]
    )
    assert all(
        r.startswith("duplicate") or r == "" for r in dropped.column("thresher_status").to_pylist()
    )
    # The cluster id points at the surviving original's position.
    assert set(dropped.column("thresher_cluster").to_pylist()) <= set(
        kept.column("thresher_cluster").to_pylist()
    )
    assert tree_bytes(outs[0] / "selected") == tree_bytes(outs[1] / "selected")
    assert tree_bytes(outs[0] / "dropped") == tree_bytes(outs[1] / "dropped")


def test_filter_command_keeps_the_asked_language_and_records_reasons(
    sample_dir, tmp_path, raw_records
):
    out = tmp_path / "f"
    res = CliRunner().invoke(
        app,
        [
            "filter",
            "--raw",
            str(sample_dir / "raw.jsonl.gz"),
            "--out",
            str(out),
            "--lang",
            "de",
            "--write-dropped",
            "--workers",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    c = m["counts"]
    assert c["read"] == len(raw_records) == c["selected"] + c["filtered"]
    kept = pq.read_table(out / "selected")
    langs = kept.column("lang").to_pylist()
    assert sum(x == "de" for x in langs) / len(langs) > 0.95
    n_de = sum(r["lang"] == "de" for r in raw_records)
    assert len(langs) > 0.8 * n_de
    assert set(kept.column("thresher_language").to_pylist()) == {"de"}
    dropped = pq.read_table(out / "dropped")
    assert set(dropped.column("thresher_rule").to_pylist()) <= {"language", "language_score"}
    assert all(0 <= v <= 1 for v in dropped.column("thresher_value").to_pylist())


def test_select_with_filters_and_dedup_counts_add_up(sample_dir, tmp_path):
    m = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(sample_dir / "raw.jsonl.gz")],
        out=str(tmp_path / "s"),
        filters=["lang", "gopher_repetition"],
        filter_options={"languages": ["en"]},
        dedup="exact",
        k=100,
        workers=1,
        report=False,
    )
    c = m["counts"]
    assert c["filtered"] > 1000 and c["selected"] == 100
    assert (
        c["read"]
        == c["selected"] + c["not_selected"] + c["filtered"] + c["duplicate"] + c["rejected"]
    )
    docs = pq.read_table(tmp_path / "s" / "docs")
    assert "language" in docs.column_names
    sel = docs.filter(docs.column("selected"))
    assert set(sel.column("language").to_pylist()) == {"en"}


def test_language_columns_line_up_when_a_whole_shard_is_dropped_before_lang(
    raw_records, sample_dir, tmp_path
):
    """A shard whose every document fails a rule before `lang` still gets (null) language columns."""
    short = [{"text": " ".join(r["text"].split()[:5])} for r in raw_records[:400]]  # too few words
    long = [{"text": r["text"]} for r in raw_records[400:1000]]
    raw = write_jsonl(tmp_path / "raw.jsonl", short + long)
    m = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(raw)],
        out=str(tmp_path / "o"),
        filters=["gopher_quality", "lang"],
        filter_options={"languages": ["en"]},
        k=50,
        workers=2,
        shard_bytes=16 * 1024,
        report=False,
        write_dropped=True,
    )
    assert m["shards"] > 3
    docs = pq.read_table(tmp_path / "o" / "docs")
    assert docs.num_rows == 1000
    first = docs.filter(pa.compute.less(docs.column("row"), 400))
    assert set(first.column("status").to_pylist()) == {"filtered"}
    assert first.column("language").null_count == 400
    kept = docs.filter(docs.column("selected"))
    assert set(kept.column("language").to_pylist()) == {"en"}


def test_filter_dedup_and_report_from_the_python_api(raw_records, sample_dir, tmp_path):
    """thresher.filter / deduplicate / write_report: the CLI's commands, importable."""
    raw, n_copies = _with_copies(raw_records, tmp_path)
    d = thresher.deduplicate(
        [str(raw)], str(tmp_path / "d"), method="exact", workers=1, report=False
    )
    assert d["counts"]["duplicate"] == 30  # the exact copies (every 20th of 600)
    assert d["config"]["dedup"] == "exact" and d["config"]["method"] == "none"
    f = thresher.filter(
        [str(sample_dir / "raw.jsonl.gz")],
        str(tmp_path / "f"),
        languages=["de"],
        rules=["gopher_repetition"],
        filter_options={"min_score": 0.8},
        workers=1,
        report=False,
    )
    assert f["config"]["filters"] == ["lang", "gopher_repetition"]
    assert f["config"]["filter_options"] == {"min_score": 0.8, "languages": ["de"]}
    langs = set(thresher.read_selected(tmp_path / "f").column("thresher_language").to_pylist())
    assert langs == {"de"}
    html = thresher.write_report(tmp_path / "f")
    assert html == tmp_path / "f" / "report.html" and html.stat().st_size > 10_000
    with pytest.raises(ValueError, match="languages and/or rules"):
        thresher.filter([str(raw)], str(tmp_path / "none"))
