"""The write pass holds chosen JSONL rows as their lines (JsonLines) and parses them only as
far as it needs: Arrow's JSON reader for a table, the scan's text scanner for the texts.
Whatever the lines hold, the answer is exactly that of orjson's dicts (records_to_table),
which the write pass used before."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyarrow as pa
import pytest

from thresher.errors import InputError
from thresher.io.formats.jsonl import JsonLines
from thresher.io.readers import ShardReader
from thresher.io.sources import discover, plan_shards
from thresher.io.writers import records_to_table


@pytest.fixture(scope="module")
def real_rows(sample_dir) -> list[dict]:
    with gzip.open(sample_dir / "raw.jsonl.gz", "rb") as f:
        return [json.loads(line) for line in f.read().splitlines()[:60]]


def _lines(rows: list[dict], extra: list[str] | None = None) -> JsonLines:
    """Real records as lines; ``extra[i]`` (raw JSON members) spliced into row i."""
    lines = []
    for i, r in enumerate(rows):
        line = json.dumps(r, ensure_ascii=i % 2 == 0).encode()  # escaped and raw UTF-8
        if extra and extra[i % len(extra)]:
            line = line[:-1] + b", " + extra[i % len(extra)].encode() + b"}"
        lines.append(line)
    return JsonLines("raw.jsonl", "text", np.arange(len(lines), dtype=np.int64), lines)


def _same(jl: JsonLines) -> None:
    want = records_to_table(jl.dicts())
    got = jl.table()
    assert got.schema == want.schema
    assert got.equals(want)
    texts = [r["text"] for r in jl.dicts()]
    assert jl.texts().to_pylist() == texts


def test_real_records_read_by_arrow_equal_the_dicts(real_rows):
    jl = _lines(real_rows)
    _same(jl)
    _same(jl.take([5, 2, 40]))


@pytest.mark.parametrize(
    "members",
    [
        ['"n": 1', '"n": 2.5', '"n": null'],  # int and float: doubles either way
        ['"meta": {"a": [1, 2], "b": "x"}', '"meta": {"a": [], "c": null}'],  # nested
        ['"when": "2021-01-01"', '"when": "2021-01-01T10:00:00"'],  # Arrow: timestamps
        ['"big": 18446744073709551615'],  # Arrow: a double; the dicts: text
        ['"m": {"big": [1, 9223372036854775808]}'],  # the same, nested
        ['"v": 1', '"v": "one"'],  # mixed types: Arrow refuses, the dicts keep JSON text
        ['"x": 1, "x": 2'],  # a duplicate key: Arrow refuses, orjson keeps the last
        ['"e": {}', '"e": {}'],
        ['"flag": true', ""],  # a field missing on some rows
        ['"f": 1e300', '"f": -0.5'],
    ],
)
def test_any_fields_give_the_dicts_table(real_rows, members):
    _same(_lines(real_rows[:12], members))


def test_duplicate_text_keys_take_the_last_as_orjson_does(real_rows):
    jl = _lines(real_rows[:6], ['"text": "the last one wins"'])
    assert jl.texts().to_pylist() == ["the last one wins"] * 6
    _same(jl)


def test_a_line_changed_since_the_scan_names_file_and_line(real_rows):
    jl = _lines(real_rows[:5])
    changed = {("body" if k == "text" else k): v for k, v in real_rows[3].items()}
    jl.lines[3] = json.dumps(changed).encode()  # the same fields, but no text
    jl.rows[:] = np.arange(10, 15)
    for read in (jl.table, jl.texts, jl.dicts):
        with pytest.raises(InputError, match=r"raw\.jsonl: line 14: missing_text_field"):
            read()


def test_empty(real_rows):
    jl = _lines(real_rows[:3]).take([])
    assert len(jl) == 0 and len(jl.texts()) == 0
    assert jl.table().num_rows == 0


def test_read_at_offsets_from_a_file(tmp_path, real_rows):
    """ShardReader.raw_lines reads the rows the scan found, and they parse as records does."""
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in real_rows))
    (shard,) = plan_shards(discover([str(path)]), shard_bytes=1 << 40)
    reader = ShardReader(shard, "text")
    batch = next(reader.batches())
    wanted = batch.rows[::3]
    starts = batch.starts[::3]
    jl = reader.raw_lines(wanted, starts)
    assert jl is not None
    assert jl.dicts() == reader.records(wanted)
    assert jl.table().equals(records_to_table(reader.records(wanted)))
    assert jl.texts().equals(pa.array([r["text"] for r in real_rows[::3]], pa.large_string()))
