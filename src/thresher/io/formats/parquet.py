"""Parquet: a shard is a run of row groups; a null text is a reject, a missing or
non-string text column an error naming the file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.errors import InputError, ThresherError
from thresher.io.formats.base import Batch, Format, InputFile, Shard
from thresher.io.fs import filesystem

if TYPE_CHECKING:
    from thresher.io.readers import ShardReader


def open_parquet(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(filesystem(path).arrow_source(path))
    except ThresherError:  # the store's error, already one line naming the URL
        raise
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: not a readable Parquet file ({e})") from e


class ParquetFormat(Format):
    name = "parquet"
    suffixes = (".parquet", ".pq")
    magic = b"PAR1"

    def plan(self, file: InputFile, shard_bytes: int) -> list[Shard]:
        meta = open_parquet(file.path).metadata
        shards: list[Shard] = []
        g0, row0, acc, row = 0, 0, 0, 0
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            acc += rg.total_byte_size
            row += rg.num_rows
            if acc >= shard_bytes or g == meta.num_row_groups - 1:
                shards.append(Shard(0, file.path, self.name, g0, g + 1, row0))
                g0, row0, acc = g + 1, row, 0
        if meta.num_row_groups == 0:
            shards.append(Shard(0, file.path, self.name, 0, 0, 0))
        return shards

    def batches(self, reader: ShardReader) -> Iterator[Batch]:
        shard = reader.shard
        pf = open_parquet(shard.path)
        names = pf.schema_arrow.names
        tf = reader.text_field
        if tf not in names:
            raise InputError(f"{shard.path}: no column {tf!r} (columns: {', '.join(names)})")
        ttype = pf.schema_arrow.field(tf).type
        if not (pa.types.is_string(ttype) or pa.types.is_large_string(ttype)):
            raise InputError(f"{shard.path}: column {tf!r} is {ttype}, not a string column")
        cols = [tf] + [f for f in reader.fields if f in names]
        row = shard.row_base
        groups = list(range(shard.start, shard.end))
        if not groups:
            return
        try:
            for rb in pf.iter_batches(batch_size=8192, row_groups=groups, columns=cols):
                n = rb.num_rows
                text = rb.column(0)
                rows = np.arange(row, row + n, dtype=np.int64)
                row += n
                if text.null_count:
                    valid = np.asarray(text.is_valid())
                    for r in rows[~valid]:
                        reader.reject(int(r), "text_not_string: null")
                    rb = rb.filter(pa.array(valid))
                    rows = rows[valid]
                    text = rb.column(0)
                extra = {
                    f: (rb.column(f).to_pylist() if f in cols else [None] * rb.num_rows)
                    for f in reader.fields
                }
                yield Batch(text, rows, extra)
        except (OSError, pa.ArrowException) as e:
            raise InputError(f"{shard.path}: corrupt Parquet data near row {row + 1} ({e})") from e

    def records(self, reader: ShardReader, wanted: np.ndarray) -> pa.Table:
        shard = reader.shard
        pf = open_parquet(shard.path)
        groups = list(range(shard.start, shard.end))
        if not groups or len(wanted) == 0:
            return pf.schema_arrow.empty_table()
        table = pf.read_row_groups(groups)
        return table.take(pa.array(np.asarray(wanted) - shard.row_base))

    def rows(self, path: str, wanted: Iterable[int]) -> Iterator[tuple[int, dict]]:
        want = np.unique(np.fromiter(wanted, dtype=np.int64))
        if len(want) == 0:
            return
        pf = open_parquet(path)
        start = 0
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            sel = want[(want >= start) & (want < start + n)]
            if len(sel):
                table = pf.read_row_group(g)
                recs = table.take(pa.array(sel - start)).to_pylist()
                yield from zip(sel.tolist(), recs, strict=True)
            start += n
