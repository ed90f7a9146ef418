"""Write selected records as sharded Parquet or JSONL, atomically.

Locally: a temp file and a rename. On an object store (a :class:`RemotePath`) there is
no rename, and none is needed: an object appears whole when its upload completes, or not
at all (a failed multipart upload is aborted), so files are written under their final
names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.io.fs import RemotePath

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
    opts = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    data = b"".join(orjson.dumps(r, default=_default, option=opts) for r in records)
    atomic_write_bytes(path, data)


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
