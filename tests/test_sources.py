"""Shard planning: big inputs split at line boundaries / row groups, nothing lost or doubled."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import thresher
from thresher.io.readers import ShardReader
from thresher.io.sources import discover, plan_shards


def test_jsonl_byte_ranges_cut_at_lines_and_cover_every_row(plain_raw_path, raw_records):
    shards = plan_shards(discover([plain_raw_path]), shard_bytes=300_000)
    assert len(shards) > 10
    data = plain_raw_path.read_bytes()
    rows, texts = [], []
    for prev, cur in zip(shards, shards[1:], strict=False):
        assert prev.end == cur.start and data[cur.start - 1 : cur.start] == b"\n"
        assert cur.first_row == -1  # resolved after the scan, from line counts
    base = 0
    for s in shards:
        reader = ShardReader(s)
        for b in reader.batches():
            rows.extend((b.rows + base).tolist())
            texts.extend(b.texts.to_pylist())
        assert reader.lines == data[s.start : s.end].count(b"\n")
        base += reader.lines
    assert rows == list(range(len(raw_records)))
    assert texts == [r["text"] for r in raw_records]


def test_rows_and_reject_lines_are_file_lines_across_byte_range_shards(
    tmp_path, raw_records, sample_dir
):
    import json

    lines = [json.dumps({"text": r["text"]}) for r in raw_records[:1500]]
    bad_at = [3, 700, 1400]
    for i in bad_at:
        lines[i] = '{"text": broken'
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(lines) + "\n")
    m = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(path)],
        out=str(tmp_path / "o"),
        k=1500,
        mode="topk",
        workers=2,
        report=False,
        shard_bytes=400_000,
        format="jsonl",
    )
    assert m["shards"] > 3 and m["counts"]["rejected"] == 3
    rejected = sorted(
        json.loads(x)["line"]
        for p in sorted((tmp_path / "o" / "rejects").glob("*.jsonl"))
        for x in p.read_bytes().splitlines()
    )
    assert rejected == [i + 1 for i in bad_at]
    table = thresher.read_selected(tmp_path / "o")
    for row, text in zip(
        table.column("thresher_row").to_pylist(), table.column("text").to_pylist(), strict=True
    ):
        assert raw_records[row]["text"] == text


def test_parquet_row_groups_become_shards(tmp_path, raw_records, sample_dir):
    table = pa.Table.from_pylist([{"text": r["text"], "lang": r["lang"]} for r in raw_records])
    path = tmp_path / "raw.parquet"
    pq.write_table(table, path, row_group_size=200)
    shards = plan_shards(discover([path]), shard_bytes=500_000)
    assert len(shards) > 5
    rows = np.concatenate([b.rows for s in shards for b in ShardReader(s).batches()])
    assert rows.tolist() == list(range(len(raw_records)))
    one = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(path)],
        out=str(tmp_path / "a"),
        k=100,
        workers=1,
        report=False,
    )
    many = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(path)],
        out=str(tmp_path / "b"),
        k=100,
        workers=2,
        report=False,
        shard_bytes=500_000,
    )
    assert one["shards"] == 1 and many["shards"] == len(shards)
    a = thresher.read_selected(tmp_path / "a").column("thresher_row").to_pylist()
    b = thresher.read_selected(tmp_path / "b").column("thresher_row").to_pylist()
    assert sorted(a) == sorted(b)
