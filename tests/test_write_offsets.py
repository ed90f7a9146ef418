"""The write pass reads chosen rows at the file offsets the scan recorded (plain JSONL),
and gets exactly the records the line-by-line path gets, whatever the file's quirks."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

from thresher.errors import InputError
from thresher.io.readers import ShardReader
from thresher.io.sources import discover, plan_shards


def _quirky_lines(texts: list[str]) -> list[bytes]:
    """Real texts with the cases that move offsets: CRLF, blank, bad and oversized lines."""
    lines = [json.dumps({"id": i, "text": t}).encode() + b"\n" for i, t in enumerate(texts)]
    lines[3] = lines[3][:-1] + b"\r\n"  # CRLF
    lines[7] = b"   \n"  # blank: not a row
    lines[11] = b'{"text": broken}\n'  # a reject
    lines[60] = json.dumps({"text": "x" * 5000}).encode() + b"\n"  # over max_row_bytes below
    lines[-1] = lines[-1].rstrip(b"\n")  # the last line has no newline
    return lines


@pytest.fixture(params=["stops", "blocks", "store"])
def how(request, monkeypatch) -> str:
    """The ways the write pass reads lines: one read per line up to where it must end (a
    local file, given each line's stop), 8 MB blocks (no stops), and a file that has no
    descriptor (one on a store: blocks, even given the stops)."""
    if request.param == "store":
        monkeypatch.setattr(
            "thresher.io.formats.jsonl.open_input", lambda path, **kw: _Stored(path)
        )
    return request.param


class _Stored:
    """A file as a store's stream is: it reads and seeks, but has no ``fileno`` at all."""

    def __init__(self, path: str) -> None:
        self._f = io.BytesIO(Path(path).read_bytes())

    def __getattr__(self, name: str):
        if name == "fileno":
            raise AttributeError(name)
        return getattr(self._f, name)

    def __enter__(self) -> _Stored:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def _records_at(reader: ShardReader, rows: np.ndarray, starts: np.ndarray, wanted, how: str):
    """reader.records of the wanted rows at their offsets, with their stops as the write
    pass computes them (the next row's offset, or the shard's end) unless ``how`` is blocks."""
    keep = np.isin(rows, wanted)
    stops = np.append(starts[1:], reader.shard.end)[keep]
    return reader.records(rows[keep], starts[keep], None if how == "blocks" else stops)


@pytest.fixture(scope="module")
def texts(sample_dir) -> list[str]:
    with gzip.open(sample_dir / "raw.jsonl.gz", "rb") as f:
        rows = [json.loads(line) for line in f.read().splitlines()[:120]]
    return [r["text"][:1500] for r in rows]  # under the row limit used below


@pytest.mark.parametrize("bom", [False, True])
def test_records_at_offsets_equal_the_line_by_line_records(tmp_path, texts, bom, how):
    path = tmp_path / "raw.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(_quirky_lines(texts)))
    shards = plan_shards(discover([path]), shard_bytes=40_000)
    assert len(shards) > 3  # byte-range shards that start mid-file
    rng = np.random.default_rng(0)
    n_rows = checked = 0
    for shard in shards:
        reader = ShardReader(shard, max_row_bytes=4096, batch_bytes=16_384)
        batches = list(reader.batches())
        rows = np.concatenate([b.rows for b in batches])
        n_rows += len(rows)
        if any(b.starts is None for b in batches):  # a block with an oversized line was
            assert any(r.reason.startswith("row_too_large") for r in reader.rejects)  # edited
            continue  # then the scan records no offsets: the write pass splits lines
        starts = np.concatenate([b.starts for b in batches])
        assert shard.start > 0 or starts[0] == (3 if bom else 0)  # after the byte order mark
        checked += 1
        for wanted in (rows, rows[rng.random(len(rows)) < 0.3], rows[-1:]):
            at = _records_at(reader, rows, starts, wanted, how)
            assert at == reader.records(wanted)
    assert n_rows == len(texts) - 3  # blank, broken and oversized lines are not rows
    assert checked == len(shards) - 1


def test_records_at_a_changed_or_shortened_file_name_file_and_line(tmp_path, texts, how):
    path = tmp_path / "raw.jsonl"
    lines = [json.dumps({"text": t}).encode() + b"\n" for t in texts[:20]]
    path.write_bytes(b"".join(lines))
    (shard,) = plan_shards(discover([path]))
    reader = ShardReader(shard)
    (batch,) = list(reader.batches())
    lines[5] = b'{"text": "changed"' + b" " * (len(lines[5]) - 19) + b"\n"  # same length, bad
    path.write_bytes(b"".join(lines))
    with pytest.raises(InputError, match=r"raw\.jsonl: line 6: invalid_json"):
        _records_at(reader, batch.rows, batch.starts, batch.rows, how)
    path.write_bytes(b"".join(lines[:15]))
    with pytest.raises(InputError, match=r"raw\.jsonl: line 16 is past the end"):
        _records_at(reader, batch.rows, batch.starts, batch.rows[15:], how)


def test_compressed_shards_have_no_offsets(tmp_path, texts):
    path = tmp_path / "raw.jsonl.gz"
    path.write_bytes(
        gzip.compress(b"".join(json.dumps({"text": t}).encode() + b"\n" for t in texts))
    )
    (shard,) = plan_shards(discover([path]))
    assert all(b.starts is None for b in ShardReader(shard).batches())
