"""Write selected records as sharded Parquet or JSONL, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file + rename, so a half-written file is never taken as finished."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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


def write_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _default(v: object) -> object:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def write_jsonl(records: list[dict], path: Path) -> None:
    opts = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
    data = b"".join(orjson.dumps(r, default=_default, option=opts) for r in records)
    atomic_write_bytes(path, data)


def unify_parquet_parts(paths: list[Path]) -> int:
    """Rewrite parts whose schema differs from the union, so the directory reads as one dataset.

    Returns how many parts were rewritten.
    """
    if len(paths) < 2:
        return 0
    schemas = [pq.read_schema(p) for p in paths]
    try:
        unified = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowException, TypeError):
        return 0
    rewritten = 0
    for p, s in zip(paths, schemas, strict=True):
        if s.equals(unified, check_metadata=False):
            continue
        table = pq.read_table(p)
        cols = []
        for f in unified:
            if f.name in table.column_names:
                cols.append(table.column(f.name).cast(f.type))
            else:
                cols.append(pa.nulls(table.num_rows, f.type))
        write_parquet(pa.Table.from_arrays(cols, schema=unified.remove_metadata()), p)
        rewritten += 1
    return rewritten
