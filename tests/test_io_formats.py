"""The format registry: every registered format honours the same contract, files are
recognized by their bytes, and the helpers other modules use (read_rows, shard_shares,
input_identity) work for every format."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from thresher.errors import InputError
from thresher.io.formats import FORMATS, by_name, detect, get_format, read_rows
from thresher.io.readers import ShardReader
from thresher.io.sources import (
    discover,
    file_digest,
    input_identity,
    plan_shards,
    shard_shares,
)


def _jsonl(recs: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode()


def _parquet(recs: list[dict]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(recs), buf, row_group_size=50)
    return buf.getvalue()


# One writer per registered format: a format added to the registry without one here fails
# test_every_registered_format_has_a_contract_test.
WRITERS: dict[str, Callable[[list[dict]], bytes]] = {
    "jsonl": _jsonl,
    "jsonl.gz": lambda recs: gzip.compress(_jsonl(recs), mtime=0),
    "jsonl.zst": lambda recs: zstandard.ZstdCompressor().compress(_jsonl(recs)),
    "parquet": _parquet,
    # One document per file: its contract (and paragraph/line splits) in test_formats_text.py.
    "text": lambda recs: recs[0]["text"].encode(),
}
# Formats that hold many records per file, with fields: the contract test below.
RECORD_FORMATS = sorted(set(FORMATS) - {"text"})


@pytest.fixture
def recs(raw_records) -> list[dict]:
    return [{"text": r["text"], "lang": r["lang"], "i": i} for i, r in enumerate(raw_records[:300])]


def test_every_registered_format_has_a_contract_test():
    assert set(WRITERS) == set(FORMATS)
    for name, fmt in FORMATS.items():
        assert fmt.name == name and fmt.suffixes
        assert all(s == s.lower() and s.startswith(".") for s in fmt.suffixes)
        assert get_format(name) is fmt


@pytest.mark.parametrize("name", RECORD_FORMATS)
def test_format_contract_plan_batches_records_rows(tmp_path, recs, name):
    fmt = FORMATS[name]
    path = tmp_path / f"raw{fmt.suffixes[0]}"
    path.write_bytes(WRITERS[name](recs))
    (f,) = discover([path])
    assert (f.format, f.size, f.mtime_ns) == (name, path.stat().st_size, path.stat().st_mtime_ns)
    shards = plan_shards([f], shard_bytes=60_000)
    shares = shard_shares(shards, [f])
    assert len(shares) == len(shards) and abs(sum(shares) - f.size) < 1e-6 * f.size + 1
    texts, rows, langs = [], [], []
    before = 0
    for s in shards:
        reader = ShardReader(s, fields=("lang",))
        base = before if s.first_row < 0 else s.row_base
        for b in reader.batches():
            texts.extend(b.texts.to_pylist())
            rows.extend((b.rows - s.row_base + base).tolist())
            langs.extend(b.fields["lang"])
            got = reader.records(b.rows)
            got = got.to_pylist() if isinstance(got, pa.Table) else got
            assert [r["text"] for r in got] == b.texts.to_pylist()
        assert reader.rejects == []
        before = base + reader.lines
    assert texts == [r["text"] for r in recs]
    assert rows == list(range(len(recs)))
    assert langs == [r["lang"] for r in recs]
    want = [299, 3, 150, 3]
    got = dict(read_rows(str(path), want))
    assert sorted(got) == [3, 150, 299]
    assert all(got[r] == recs[r] for r in got)
    # limit stops after exactly that many documents
    one = ShardReader(shards[0])
    assert sum(len(b) for b in one.batches(limit=7)) == 7


@pytest.mark.parametrize(
    ("stored", "name", "expected"),
    [
        ("jsonl.gz", "gz-named.jsonl", "jsonl.gz"),
        ("jsonl.zst", "zst-named.json", "jsonl.zst"),
        ("jsonl.zst", "mislabeled.jsonl.gz", "jsonl.zst"),
        ("parquet", "table.jsonl", "parquet"),
        ("parquet", "part-00000", "parquet"),
        ("jsonl", "plain-named.jsonl.gz", "jsonl"),
    ],
)
def test_format_is_what_the_bytes_say(tmp_path, recs, stored, name, expected):
    path = tmp_path / name
    path.write_bytes(WRITERS[stored](recs[:40]))
    (f,) = discover([path])
    assert f.format == expected
    (shard,) = plan_shards([f])
    texts = [t for b in ShardReader(shard).batches() for t in b.texts.to_pylist()]
    assert texts == [r["text"] for r in recs[:40]]


def test_unknown_formats_say_so_naming_the_file(tmp_path):
    (tmp_path / "data.csv").write_text("text\nhello\n")
    with pytest.raises(InputError, match=r"data\.csv: unknown format"):
        discover([tmp_path / "data.csv"])
    (tmp_path / "blob.bin").write_bytes(gzip.compress(b'{"text": "a"}\n'))
    with pytest.raises(InputError, match=r"blob\.bin: unknown format \(gzip data"):
        discover([tmp_path / "blob.bin"])
    assert by_name("x.JSONL.ZST").name == "jsonl.zst" and by_name("x.csv") is None
    with pytest.raises(InputError, match="unknown input format 'csv'"):
        get_format("csv")
    (tmp_path / "bad.parquet").write_text("not parquet at all\n")
    assert detect(str(tmp_path / "bad.parquet")).name == "parquet"
    with pytest.raises(InputError, match=r"bad\.parquet: not a readable Parquet file"):
        plan_shards(discover([tmp_path / "bad.parquet"]))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_corrupt_stream_names_file_and_line(tmp_path, recs, codec):
    body = _jsonl(recs)
    if codec == "gzip":
        data = gzip.compress(body, mtime=0)
        data = data[: len(data) * 2 // 3]
    else:
        data = bytearray(zstandard.ZstdCompressor().compress(body))
        mid = len(data) * 2 // 3
        data[mid : mid + 64] = b"\xff" * 64
        data = bytes(data)
    path = tmp_path / f"broken.jsonl.{'gz' if codec == 'gzip' else 'zst'}"
    path.write_bytes(data)
    (shard,) = plan_shards(discover([path]))
    reader = ShardReader(shard, batch_bytes=1 << 16)
    with pytest.raises(InputError) as e:
        for _ in reader.batches():
            pass
    msg = str(e.value)
    assert msg.startswith(f"{path}: corrupt or truncated {codec} stream near line ")
    line = int(msg.split("near line ")[1].split()[0])
    assert 1 < line <= len(recs) + 1 and "\n" not in msg


def test_records_of_a_changed_file_name_file_and_line(tmp_path, recs):
    path = tmp_path / "raw.jsonl"
    path.write_bytes(_jsonl(recs[:20]))
    (shard,) = plan_shards(discover([path]))
    reader = ShardReader(shard)
    rows = np.concatenate([b.rows for b in reader.batches()])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[5] = b'{"text": broken}\n'
    path.write_bytes(b"".join(lines[:15]))
    with pytest.raises(InputError, match=r"raw\.jsonl: line 6: invalid_json"):
        reader.records(rows)
    with pytest.raises(InputError, match=r"raw\.jsonl: line 16 is past the end"):
        reader.records(rows[rows >= 10])


def test_input_identity_changes_with_the_content(tmp_path, recs):
    path = tmp_path / "raw.jsonl"
    path.write_bytes(_jsonl(recs[:20]))
    a = input_identity(str(path))
    assert a == {
        "size": path.stat().st_size,
        "mtime_ns": path.stat().st_mtime_ns,
        "hash": file_digest(str(path)),
    }
    assert input_identity(str(path), content=False) == {
        "size": a["size"],
        "mtime_ns": a["mtime_ns"],
    }
    body = bytearray(path.read_bytes())
    body[10] ^= 1  # same size, other content
    path.write_bytes(bytes(body))
    os.utime(path, ns=(a["mtime_ns"], a["mtime_ns"]))  # even with the old mtime
    b = input_identity(str(path))
    assert b["size"] == a["size"] and b["mtime_ns"] == a["mtime_ns"] and b["hash"] != a["hash"]
