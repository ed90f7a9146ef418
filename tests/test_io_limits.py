"""A row size cap: a line over ``max_row_bytes`` is a reject naming file and line, reading
resumes at the next newline, and memory stays bounded whatever the input."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zstandard

from thresher.io.readers import ShardReader, read_texts
from thresher.io.sources import discover, plan_shards

from .conftest import ROOT


def _lines(raw_records, n: int) -> list[bytes]:
    return [json.dumps({"text": r["text"]}).encode() for r in raw_records[:n]]


def _write(path, body: bytes) -> None:
    if path.name.endswith(".zst"):
        body = zstandard.ZstdCompressor().compress(body)
    elif path.name.endswith(".gz"):
        body = gzip.compress(body, mtime=0)
    path.write_bytes(body)


@pytest.mark.parametrize("name", ["raw.jsonl", "raw.jsonl.gz", "raw.jsonl.zst"])
def test_a_row_over_the_cap_is_rejected_and_reading_resumes(tmp_path, raw_records, name):
    lines = _lines(raw_records, 60)
    cap = 20_000
    big = {7: b'{"text": "' + b"w " * 15_000 + b'"}', 30: b" " * 100_000, 59: b"x" * 50_000}
    for i, line in big.items():
        lines[i] = line
    path = tmp_path / name
    _write(path, b"\n".join(lines))  # the last (oversized) line has no newline
    texts, rows, rejects = [], [], []
    before = 0
    for shard in plan_shards(discover([path]), shard_bytes=40_000):
        reader = ShardReader(shard, batch_bytes=8192, max_row_bytes=cap)
        base = before if shard.first_row < 0 else shard.row_base
        for b in reader.batches():
            texts.extend(b.texts.to_pylist())
            rows.extend((b.rows - shard.row_base + base).tolist())
            assert [r["text"] for r in reader.records(b.rows)] == b.texts.to_pylist()
        rejects.extend((r.row - shard.row_base + base, r.reason, r.source) for r in reader.rejects)
        before = base + reader.lines
    assert rejects == [(i, f"row_too_large: > {cap} bytes", str(path)) for i in sorted(big)]
    keep = [i for i in range(60) if i not in big]
    assert rows == keep
    assert texts == [raw_records[i]["text"] for i in keep]
    assert before == 60  # every line counted once, the oversized ones included


def test_read_texts_passes_the_cap_and_reports_the_line(tmp_path, raw_records):
    lines = _lines(raw_records, 5)
    assert max(map(len, lines)) < 100_000
    lines.insert(2, b'{"text": "' + b"a" * 200_000 + b'"}')
    path = tmp_path / "target.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    texts, rejects = read_texts([str(path)], max_row_bytes=100_000)
    assert len(texts) == 5
    assert [(r.as_dict()["line"], r.reason) for r in rejects] == [
        (3, "row_too_large: > 100000 bytes")
    ]
    assert rejects[0].excerpt.startswith('{"text": "aaa')
    texts, rejects = read_texts([str(path)])  # default cap: 64 MB
    assert len(texts) == 6 and rejects == []


_PEAK_RSS = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import zstandard
    from thresher.io.formats._jsonscan import scan_texts
    from thresher.io.readers import ShardReader
    from thresher.io.sources import discover, plan_shards

    path, gib = sys.argv[1], float(sys.argv[2])
    with open(path, "wb") as f, zstandard.ZstdCompressor().stream_writer(f) as w:
        w.write(b'{"text": "before"}\\n')
        block = b" " * (1 << 24)
        for _ in range(int(gib * 64)):
            w.write(block)
        w.write(b'\\n{"text": "after"}\\n')
    (shard,) = plan_shards(discover([path]))
    scan_texts(np.frombuffer(b'{"a": 1}\\n', np.uint8), np.array([8]), np.zeros(1, np.uint8))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reader = ShardReader(shard)
    texts = [t for b in reader.batches() for t in b.texts.to_pylist()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rejects = [(r.row, r.reason) for r in reader.rejects]
    print(json.dumps([texts, rejects, reader.lines, (peak - base) // 1024]))
    """
)


def test_memory_stays_bounded_on_a_huge_line_without_newline(tmp_path):
    """512 MB of spaces and no newline (a ~50 KB .jsonl.zst): a reject, and the reader's
    memory stays ~ the 64 MB cap (it grew past the input's size before, re-joining it)."""
    path = tmp_path / "spaces.jsonl.zst"
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(path), "0.5"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=300,
    ).stdout.strip()
    assert path.stat().st_size < 1_000_000
    texts, rejects, lines, grew_mb = json.loads(out)
    assert texts == ["before", "after"]
    assert rejects == [[1, f"row_too_large: > {64 * 1024 * 1024} bytes"]]
    assert lines == 3
    assert grew_mb < 200, f"reader grew by {grew_mb} MB"


def test_rows_after_a_skipped_row_keep_their_file_line_numbers(tmp_path, raw_records):
    lines = _lines(raw_records, 12)
    cap = max(map(len, lines)) + 100
    lines[4] = b'{"text": "' + b"z" * cap + b'"}'
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    (shard,) = plan_shards(discover([path]))
    reader = ShardReader(shard, batch_bytes=1024, max_row_bytes=cap)
    rows = np.concatenate([b.rows for b in reader.batches()])
    assert rows.tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert [r.row for r in reader.rejects] == [4]
    recs = reader.records(rows)
    assert [r["text"] for r in recs] == [raw_records[i]["text"] for i in rows.tolist()]
