"""Stream a shard as batches of text (plus any requested fields), rejecting bad rows.

JSONL lines are parsed one by one with orjson (a document, not a token, per
Python step), so a malformed line costs only itself: it becomes a
:class:`Reject` naming file, line and reason, and the rest of the file goes
on. A corrupt or truncated compressed stream is an :class:`InputError`
naming the file: what follows the damage cannot be trusted.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import zstandard

from thresher.errors import InputError
from thresher.io.sources import Shard

BATCH_BYTES = 8 * 1024 * 1024
_READ_CHUNK = 8 * 1024 * 1024


@dataclass
class Reject:
    """A row that could not be read as a document, and why."""

    source: str
    row: int  # 0-based row of the file (for JSONL: line number - 1)
    reason: str
    excerpt: str = ""

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "line": self.row + 1,
            "row": self.row,
            "reason": self.reason,
            "excerpt": self.excerpt,
        }


@dataclass
class Batch:
    """Documents of one shard: text, their row in the source file, and extra fields."""

    texts: pa.Array
    rows: np.ndarray
    fields: dict[str, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def _open_stream(shard: Shard) -> io.BufferedIOBase:
    if shard.format == "jsonl.gz":
        return gzip.open(shard.path, "rb")  # type: ignore[return-value]
    if shard.format == "jsonl.zst":
        raw = open(shard.path, "rb")  # noqa: SIM115 - closed by the stream reader
        return zstandard.ZstdDecompressor().stream_reader(
            raw, closefd=True, read_across_frames=True
        )
    f = open(shard.path, "rb")  # noqa: SIM115 - returned to caller
    f.seek(shard.start)
    return f


def iter_blocks(shard: Shard, block_bytes: int = BATCH_BYTES) -> Iterator[tuple[int, bytes]]:
    """(row of the first line, bytes of whole lines) of a JSONL shard, ~block_bytes each.

    Every block ends with a newline (one is added after a last unterminated line).
    """
    remaining = shard.end - shard.start if shard.format == "jsonl" else -1
    row = shard.row_base
    tail = b""
    try:
        with _open_stream(shard) as f:
            while True:
                want = _READ_CHUNK if remaining < 0 else min(_READ_CHUNK, remaining)
                chunk = f.read(want) if want else b""
                if remaining >= 0:
                    remaining -= len(chunk)
                if not chunk:
                    break
                buf = tail + chunk
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    tail = buf
                    continue
                block, tail = buf[:cut], buf[cut:]
                yield row, block
                row += block.count(b"\n")
            if tail:
                yield row, tail + b"\n"
    except (EOFError, OSError, zlib.error, zstandard.ZstdError) as e:
        kind = {"jsonl.gz": "gzip", "jsonl.zst": "zstd"}.get(shard.format, "file")
        raise InputError(
            f"{shard.path}: corrupt or truncated {kind} stream near line {row + 1} ({e})"
        ) from e


def iter_lines(shard: Shard) -> Iterator[tuple[int, bytes]]:
    """(row, line bytes without newline) of a JSONL shard; blank lines are skipped."""
    for row, block in iter_blocks(shard):
        for i, line in enumerate(block.split(b"\n")[:-1]):
            if line.strip():
                yield row + i, line


def _fast_texts(block: bytes, text_field: str) -> pa.Array | None:
    """The text column of a clean block, parsed by Arrow's C++ JSON reader, or None.

    Clean means: one object per line, no blank line, a string text field in
    every row. Anything else returns None and the block is parsed line by line,
    so each bad row gets its own reject with its reason.
    """
    if b"\n\n" in block or block.startswith(b"\n"):
        return None
    try:
        table = pj.read_json(
            io.BytesIO(block),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(1 << 20, len(block) + 1)),
            parse_options=pj.ParseOptions(
                explicit_schema=pa.schema([(text_field, pa.large_string())]),
                unexpected_field_behavior="ignore",
                newlines_in_values=False,
            ),
        )
    except (pa.ArrowException, ValueError):
        return None
    col = table.column(text_field)
    if col.null_count or table.num_rows != block.count(b"\n"):
        return None
    return col.combine_chunks()


def _type_name(v: object) -> str:
    return "null" if v is None else type(v).__name__


class ShardReader:
    """Reads one shard. ``fields`` are extra fields to carry (e.g. a quota field)."""

    def __init__(
        self,
        shard: Shard,
        text_field: str = "text",
        fields: tuple[str, ...] = (),
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        self.shard = shard
        self.text_field = text_field
        self.fields = tuple(f for f in fields if f != text_field)
        self.batch_bytes = batch_bytes
        self.rejects: list[Reject] = []
        self.lines = 0  # JSONL lines read so far (blank and bad ones included)

    # -- pass 1: text and a few fields, batch by batch --------------------------------
    def batches(self, limit: int | None = None) -> Iterator[Batch]:
        """Batches of valid documents; bad rows go to ``self.rejects``. Stops after ``limit`` docs."""
        if self.shard.format == "parquet":
            yield from self._parquet_batches(limit)
        else:
            yield from self._jsonl_batches(limit)

    def _reject(self, row: int, reason: str, raw: bytes | str = b"") -> None:
        if isinstance(raw, bytes):
            raw = raw[:300].decode("utf-8", "replace")
        self.rejects.append(Reject(self.shard.path, row, reason, raw[:300]))

    def parse_line(self, row: int, line: bytes) -> dict | None:
        """One JSONL line as a dict with a string text field, or None (and a reject)."""
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as u:
                self._reject(row, f"invalid_utf8: byte {u.start}", line)
                return None
            self._reject(row, f"invalid_json: {e}", line)
            return None
        if not isinstance(rec, dict):
            self._reject(row, f"not_an_object: {_type_name(rec)}", line)
            return None
        if self.text_field not in rec:
            self._reject(row, f"missing_text_field: {self.text_field!r}", line)
            return None
        text = rec[self.text_field]
        if not isinstance(text, str):
            self._reject(row, f"text_not_string: {_type_name(text)}", line)
            return None
        return rec

    def _jsonl_batches(self, limit: int | None) -> Iterator[Batch]:
        seen = 0
        tf = self.text_field
        for first, block in iter_blocks(self.shard, self.batch_bytes):
            self.lines = first - self.shard.row_base + block.count(b"\n")
            texts = None if self.fields else _fast_texts(block, tf)
            if texts is not None:
                rows = np.arange(first, first + len(texts), dtype=np.int64)
                batch = Batch(texts, rows, {})
            else:
                tl: list[str] = []
                rl: list[int] = []
                extra: dict[str, list] = {f: [] for f in self.fields}
                for i, line in enumerate(block.split(b"\n")[:-1]):
                    if not line.strip():
                        continue
                    rec = self.parse_line(first + i, line)
                    if rec is None:
                        continue
                    tl.append(rec[tf])
                    rl.append(first + i)
                    for f in self.fields:
                        extra[f].append(rec.get(f))
                if not tl:
                    continue
                batch = Batch(_to_arrow(tl, self.shard.path), np.array(rl, np.int64), extra)
            if limit is not None and seen + len(batch) > limit:
                keep = limit - seen
                batch = Batch(
                    batch.texts.slice(0, keep),
                    batch.rows[:keep],
                    {k: v[:keep] for k, v in batch.fields.items()},
                )
            seen += len(batch)
            yield batch
            if limit is not None and seen >= limit:
                return

    def _parquet_file(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.shard.path)
        except Exception as e:
            raise InputError(f"{self.shard.path}: not a readable Parquet file ({e})") from e

    def _parquet_batches(self, limit: int | None) -> Iterator[Batch]:
        pf = self._parquet_file()
        names = pf.schema_arrow.names
        if self.text_field not in names:
            raise InputError(
                f"{self.shard.path}: no column {self.text_field!r} (columns: {', '.join(names)})"
            )
        ttype = pf.schema_arrow.field(self.text_field).type
        if not (pa.types.is_string(ttype) or pa.types.is_large_string(ttype)):
            raise InputError(
                f"{self.shard.path}: column {self.text_field!r} is {ttype}, not a string column"
            )
        cols = [self.text_field] + [f for f in self.fields if f in names]
        row = self.shard.row_base
        seen = 0
        groups = list(range(self.shard.start, self.shard.end))
        if not groups:
            return
        try:
            it = pf.iter_batches(batch_size=8192, row_groups=groups, columns=cols)
            for rb in it:
                n = rb.num_rows
                text = rb.column(0)
                rows = np.arange(row, row + n, dtype=np.int64)
                row += n
                if text.null_count:
                    valid = np.asarray(text.is_valid())
                    for r in rows[~valid]:
                        self._reject(int(r), "text_not_string: null")
                    rb = rb.filter(pa.array(valid))
                    rows = rows[valid]
                    text = rb.column(0)
                extra = {
                    f: (rb.column(f).to_pylist() if f in cols else [None] * rb.num_rows)
                    for f in self.fields
                }
                if limit is not None and seen + len(rows) > limit:
                    keep = limit - seen
                    text, rows = text.slice(0, keep), rows[:keep]
                    extra = {k: v[:keep] for k, v in extra.items()}
                seen += len(rows)
                yield Batch(text, rows, extra)
                if limit is not None and seen >= limit:
                    return
        except (OSError, pa.ArrowException) as e:
            raise InputError(
                f"{self.shard.path}: corrupt Parquet data near row {row + 1} ({e})"
            ) from e

    # -- pass 2: whole records of chosen rows -----------------------------------------
    def records(self, wanted: np.ndarray) -> pa.Table | list[dict]:
        """Whole records of the ``wanted`` rows (sorted), as a table (Parquet) or dicts (JSONL)."""
        if self.shard.format == "parquet":
            pf = self._parquet_file()
            groups = list(range(self.shard.start, self.shard.end))
            if not groups or len(wanted) == 0:
                return pf.schema_arrow.empty_table()
            table = pf.read_row_groups(groups)
            return table.take(pa.array(wanted - self.shard.row_base))
        out: list[dict] = []
        if len(wanted) == 0:
            return out
        want = set(wanted.tolist())
        last = int(wanted[-1])
        for row, line in iter_lines(self.shard):
            if row in want:
                out.append(orjson.loads(line))
            if row >= last:
                break
        return out


def _to_arrow(texts: list[str], path: str) -> pa.Array:
    try:
        return pa.array(texts, type=pa.large_string())
    except pa.ArrowException as e:  # pragma: no cover - orjson already validated UTF-8
        raise InputError(f"{path}: cannot convert text to Arrow ({e})") from e


def read_texts(paths: list[str], text_field: str = "text") -> tuple[pa.Array, list[Reject]]:
    """All texts of some (small) files, e.g. the target set; bad rows are returned as rejects."""
    from thresher.io.sources import discover, plan_shards

    chunks: list[pa.Array] = []
    rejects: list[Reject] = []
    # One shard per file: line numbers in the rejects are then file lines from the start.
    for shard in plan_shards(discover(paths), shard_bytes=1 << 62):
        reader = ShardReader(shard, text_field)
        chunks.extend(b.texts for b in reader.batches())
        rejects.extend(reader.rejects)
    if not chunks:
        return pa.array([], type=pa.large_string()), rejects
    return pa.concat_arrays(chunks), rejects
