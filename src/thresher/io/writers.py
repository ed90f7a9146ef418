"""Write selected records as sharded Parquet or JSON Lines (plain, gzip, zstd), atomically;
read such parts back.

The output formats and their part suffixes live here (``OUTPUT_FORMATS``); the run
directory names parts with them. Compressed parts are byte-deterministic: gzip without a
timestamp or file name, zstd at a fixed level, both single-threaded.

Locally: a temp file and a rename. On an object store (a :class:`RemotePath`) there is
no rename, and none is needed: an object appears whole when its upload completes, or not
at all (a failed multipart upload is aborted), so files are written under their final
names.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from thresher.io.fs import RemotePath

# Output format -> part file suffix (the config's ``format`` takes these names).
OUTPUT_FORMATS = {
    "parquet": ".parquet",
    "jsonl": ".jsonl",
    "jsonl.gz": ".jsonl.gz",
    "jsonl.zst": ".jsonl.zst",
}
GZIP_LEVEL = 6  # gzip's own default: ~3x smaller than plain JSONL on text
ZSTD_LEVEL = 3  # zstd's default: as small as gzip -6, several times faster

AnyPath = Path | RemotePath


def atomic_write_bytes(path: AnyPath, data: bytes) -> None:
    """Write via a temp file + rename, so a half-written file is never taken as finished."""
    if isinstance(path, RemotePath):
        path.write_bytes(data)
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def readable(path: AnyPath) -> Iterator[Any]:
    """What pyarrow reads ``path`` from: the local path, or an open file on a store."""
    if isinstance(path, RemotePath):
        with path.open("rb") as f:
            yield f
    else:
        yield path


def _column(values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, OverflowError):
        # Mixed types across rows (e.g. int here, str there): keep each value as JSON text.
        return pa.array(
            [None if v is None else orjson.dumps(v).decode() for v in values], type=pa.string()
        )


def records_to_table(records: list[dict]) -> pa.Table:
    """Dicts to a table with the union of their keys, in order of first appearance."""
    keys: dict[str, None] = {}
    for r in records:
        for k in r:
            keys.setdefault(k, None)
    return pa.table({k: _column([r.get(k) for r in records]) for k in keys})


def write_parquet(table: pa.Table, path: AnyPath) -> None:
    if isinstance(path, RemotePath):
        with path.open("wb") as f:  # streamed in parts; the object appears on close
            pq.write_table(table, f, compression="zstd")
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _default(v: object) -> object:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def write_jsonl(records: list[dict], path: AnyPath) -> None:
    """JSON Lines, compressed when the name ends in ``.gz`` or ``.zst``."""
    opts = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    data = b"".join(orjson.dumps(r, default=_default, option=opts) for r in records)
    atomic_write_bytes(path, _compress(data, str(path)))


def _compress(data: bytes, name: str) -> bytes:
    if name.endswith(".gz"):
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if name.endswith(".zst"):
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    return data


def _decompress(data: bytes, name: str) -> bytes:
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def part_format(path: str | os.PathLike) -> str | None:
    """The output format a part file's name says (longest suffix), or None."""
    name = str(path)
    found = [f for f, suffix in OUTPUT_FORMATS.items() if name.endswith(suffix)]
    return max(found, key=len) if found else None


def _jsonl_lines(path: AnyPath) -> list[bytes]:
    # Split on newlines only: str.splitlines would also split on U+2028 inside a record.
    return [x for x in _decompress(path.read_bytes(), path.name).split(b"\n") if x.strip()]


def read_part(path: AnyPath) -> pa.Table:
    """A part of any output format as a table (local or on a store)."""
    if part_format(path) == "parquet":
        with readable(path) as src:
            return pq.read_table(src)
    return records_to_table([orjson.loads(x) for x in _jsonl_lines(path)])


def part_columns(path: AnyPath) -> list[str]:
    """The columns of a part (of a JSONL part: the keys of its first record)."""
    if part_format(path) == "parquet":
        with readable(path) as src:
            return pq.ParquetFile(src).schema_arrow.names
    lines = _jsonl_lines(path)
    return list(orjson.loads(lines[0])) if lines else []


def iter_part_records(path: AnyPath, columns: list[str]) -> Iterator[dict]:
    """The records of a part, only ``columns`` (a JSONL record lacking one gives None)."""
    if part_format(path) == "parquet":
        with readable(path) as src:
            pf = pq.ParquetFile(src)
            cols = [c for c in columns if c in pf.schema_arrow.names]
            for rb in pf.iter_batches(batch_size=2048, columns=cols):
                yield from rb.to_pylist()
        return
    for line in _jsonl_lines(path):
        rec = orjson.loads(line)
        yield {c: rec.get(c) for c in columns}


def unify_parquet_parts(paths: list[AnyPath]) -> int:
    """Rewrite parts whose schema differs from the union, so the directory reads as one dataset.

    Returns how many parts were rewritten.
    """
    if len(paths) < 2:
        return 0
    schemas = []
    for p in paths:
        with readable(p) as src:
            schemas.append(pq.read_schema(src))
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, TypeError):
        return 0
    rewritten = 0
    for p, s in zip(paths, schemas, strict=True):
        if s.equals(unified, check_metadata=False):
            continue
        with readable(p) as src:
            table = pq.read_table(src)
        cols = []
        for f in unified:
            if f.name in table.column_names:
                cols.append(table.column(f.name).cast(f.type))
            else:
                cols.append(pa.nulls(table.num_rows, f.type))
        write_parquet(pa.Table.from_arrays(cols, schema=unified.remove_metadata()), p)
        rewritten += 1
    return rewritten
