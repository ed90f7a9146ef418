"""JSON Lines, plain or compressed (gzip, zstd): one document per line.

The definition of a valid row, used by the scan and by the write pass alike: a line
(after a UTF-8 byte order mark at the start of the file is dropped) that is not blank,
at most ``max_row_bytes`` long, that orjson parses to an object whose text field is a
string. The scan reads the text of clean lines with one strict JSON pass in numba
(:mod:`._jsonscan`, most of its speed) and every other line with orjson, so both passes
accept exactly the same rows and read the same text.

A plain file splits into byte ranges cut after a newline; a compressed stream cannot be
split, so it is one shard. A corrupt or truncated stream is an :class:`InputError`
naming the file and line: what follows the damage cannot be trusted.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import orjson
import pyarrow as pa
import zstandard

from thresher.console import advance
from thresher.errors import InputError
from thresher.io.formats._jsonscan import block_texts
from thresher.io.formats.base import (
    DEFAULT_MAX_ROW_BYTES,
    Batch,
    Format,
    InputFile,
    Shard,
)
from thresher.io.fs import open_input, stat

if TYPE_CHECKING:
    from thresher.io.readers import ShardReader

BATCH_BYTES = 8 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
EXCERPT_BYTES = 300


@dataclass(frozen=True)
class Codec:
    """A compression stream: how to recognize it and how to open it."""

    name: str
    magic: bytes
    wrap: Callable[[BinaryIO], BinaryIO]
    errors: tuple[type[BaseException], ...]


GZIP = Codec(
    "gzip",
    b"\x1f\x8b",
    lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),  # type: ignore[arg-type,return-value]
    (EOFError, OSError, zlib.error),
)
ZSTD = Codec(
    "zstd",
    b"\x28\xb5\x2f\xfd",
    lambda raw: zstandard.ZstdDecompressor().stream_reader(
        raw, closefd=True, read_across_frames=True
    ),
    (EOFError, OSError, zstandard.ZstdError),
)


def parse_row(line: bytes, text_field: str) -> tuple[dict | None, str]:
    """The one definition of a valid JSONL row: (record, "") or (None, reject reason)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as u:
            return None, f"invalid_utf8: byte {u.start}"
        return None, f"invalid_json: {e}"
    if not isinstance(rec, dict):
        return None, f"not_an_object: {_type_name(rec)}"
    if text_field not in rec:
        return None, f"missing_text_field: {text_field!r}"
    text = rec[text_field]
    if not isinstance(text, str):
        return None, f"text_not_string: {_type_name(text)}"
    return rec, ""


def _type_name(v: object) -> str:
    return "null" if v is None else type(v).__name__


def is_blank(line: bytes) -> bool:
    """Blank lines (ASCII whitespace only) are not rows: skipped, never rejected."""
    return not line or line.isspace()


@dataclass
class Block:
    """Whole lines of a shard: ``data`` ends with a newline, ``nl`` holds every newline's
    offset. A line longer than the row limit is emptied in ``data`` (so line numbers hold)
    and listed in ``oversized`` as (row, first bytes)."""

    row: int
    data: bytes
    nl: np.ndarray
    oversized: list[tuple[int, bytes]] = field(default_factory=list)
    offset: int = -1  # file offset of data[0] when data is the file's bytes as they are

    def starts(self, k: np.ndarray) -> np.ndarray | None:
        """File offsets of lines ``k`` (None when the block's bytes are not the file's)."""
        if self.offset < 0:
            return None
        k = np.asarray(k, dtype=np.int64)
        begin = np.where(k > 0, self.nl[np.maximum(k - 1, 0)] + 1, 0) if len(self.nl) else k
        return self.offset + begin.astype(np.int64)

    @property
    def lines(self) -> int:
        return len(self.nl)

    def line(self, k: int) -> bytes:
        start = int(self.nl[k - 1]) + 1 if k else 0
        return self.data[start : int(self.nl[k])]


def _block(row: int, data: bytes, max_row_bytes: int) -> Block:
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if len(data) - len(nl) <= max_row_bytes:  # no line can be too long
        return Block(row, data, nl)
    starts = np.concatenate(([0], nl[:-1] + 1))
    big = np.flatnonzero(nl - starts > max_row_bytes)
    if not len(big):
        return Block(row, data, nl)
    pieces, oversized, prev = [], [], 0
    for k in big.tolist():
        s = int(starts[k])
        pieces.append(data[prev:s])
        oversized.append((row + k, data[s : s + EXCERPT_BYTES]))
        prev = int(nl[k])  # keep the newline: the line stays, empty
    pieces.append(data[prev:])
    data = b"".join(pieces)
    return Block(row, data, np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10), oversized)


def _to_arrow(texts: list[str], path: str) -> pa.Array:
    try:
        return pa.array(texts, type=pa.large_string())
    except pa.ArrowException as e:  # pragma: no cover - orjson already validated UTF-8
        raise InputError(f"{path}: cannot convert text to Arrow ({e})") from e


class JsonlFormat(Format):
    rows_resolved_after_scan = True

    def __init__(self, name: str, suffixes: tuple[str, ...], codec: Codec | None) -> None:
        self.name = name
        self.suffixes = suffixes
        self.codec = codec
        self.magic = codec.magic if codec else b""
        # Byte ranges of a plain file start mid-file; a compressed file is one shard.
        self.rows_resolved_after_scan = codec is None

    # -- planning ---------------------------------------------------------------------
    def plan(self, file: InputFile, shard_bytes: int) -> list[Shard]:
        if self.codec is not None:
            return [Shard(0, file.path, self.name, 0, -1, 0)]
        return [
            Shard(0, file.path, self.name, b0, b1, 0 if b0 == 0 else -1)
            for b0, b1 in _cuts(file.path, file.size, shard_bytes)
        ]

    def shard_share(self, shard: Shard, file_size: int, shards_in_file: int) -> float:
        if self.codec is None:
            return float(shard.end - shard.start)
        return super().shard_share(shard, file_size, shards_in_file)

    # -- reading lines ----------------------------------------------------------------
    @contextmanager
    def _stream(self, shard: Shard, raws: list | None = None) -> Iterator[BinaryIO]:
        # A plain shard reads its own byte range only (one range request per block remotely).
        raw = open_input(shard.path, span=(shard.start, shard.end) if self.codec is None else None)
        if raws is not None:  # the caller tracks compressed bytes consumed (progress)
            raws.append(raw)
        try:
            if self.codec is None:
                if shard.start:
                    raw.seek(shard.start)
                yield raw
            else:
                stream = self.codec.wrap(raw)
                try:
                    yield stream
                finally:
                    stream.close()
        finally:
            raw.close()

    def blocks(
        self,
        shard: Shard,
        block_bytes: int = BATCH_BYTES,
        max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
    ) -> Iterator[Block]:
        """Blocks of ~block_bytes of whole lines; memory stays under ~max_row_bytes + 2 blocks.

        The unfinished last line of a read is kept as a list of pieces and joined once,
        when its newline arrives (never re-joined per read); once it passes
        ``max_row_bytes`` it is dropped up to its newline and reported as oversized.
        """
        row = shard.row_base
        remaining = shard.end - shard.start if self.codec is None else -1
        at_start = shard.start == 0
        pending: list[bytes] = []  # pieces of the line not yet ended by a newline
        pending_len = 0
        skipping = False  # inside an oversized line: drop bytes up to the next newline
        errors = self.codec.errors if self.codec else (OSError,)
        plain = self.codec is None  # blocks know their file offsets (the write pass seeks)
        raws: list = []
        consumed = 0  # input bytes (compressed, for a codec) counted for progress so far

        def progress() -> None:
            nonlocal consumed
            try:
                pos = raws[0].tell() if self.codec else shard.end - shard.start - remaining
            except (OSError, ValueError, AttributeError):  # a stream that cannot tell
                return
            if pos > consumed:
                advance(nbytes=pos - consumed)
                consumed = pos

        try:
            with self._stream(shard, raws) as f:

                def read(n: int) -> bytes:
                    nonlocal remaining
                    if remaining >= 0:
                        n = min(n, remaining)
                    data = f.read(n) if n else b""
                    if remaining >= 0:
                        remaining -= len(data)
                    return data

                while chunk := read(block_bytes):
                    if at_start:
                        at_start = False
                        while len(chunk) < len(BOM) and BOM.startswith(chunk):
                            more = read(len(BOM) - len(chunk))
                            if not more:
                                break
                            chunk += more
                        if chunk.startswith(BOM):
                            chunk = chunk[len(BOM) :]
                    if skipping:
                        nl = chunk.find(b"\n")
                        if nl < 0:
                            continue
                        chunk = chunk[nl + 1 :]
                        skipping = False
                    cut = chunk.rfind(b"\n") + 1
                    if cut == 0:
                        if chunk:
                            pending.append(chunk)
                            pending_len += len(chunk)
                        if pending_len > max_row_bytes:
                            head = _head(pending)
                            yield Block(row, b"\n", np.zeros(1, np.int64), [(row, head)])
                            row += 1
                            pending, pending_len, skipping = [], 0, True
                        continue
                    if pending:  # one copy: the line begun before and the chunk's lines
                        pending.append(memoryview(chunk)[:cut])
                        whole = b"".join(pending)
                    else:
                        whole = chunk if cut == len(chunk) else chunk[:cut]
                    blk = _block(row, whole, max_row_bytes)
                    tail = chunk[cut:]
                    if plain and not blk.oversized:
                        blk.offset = shard.end - remaining - len(tail) - len(whole)
                    pending, pending_len = ([tail], len(tail)) if tail else ([], 0)
                    row += blk.lines
                    progress()
                    yield blk
                if remaining > 0:  # the file ended (or a read came back short) mid-shard
                    raise InputError(
                        f"{shard.path}: line {row + 1} is past the end of the file: "
                        f"{remaining:,} bytes of the shard missing (was the file changed "
                        "during the run, or a read cut short?)"
                    )
                progress()
                if pending and not skipping:
                    blk = _block(row, b"".join(pending) + b"\n", max_row_bytes)
                    if plain and not blk.oversized:
                        blk.offset = shard.end - remaining - pending_len
                    yield blk
        except errors as e:
            kind = self.codec.name if self.codec else "file"
            raise InputError(
                f"{shard.path}: corrupt or truncated {kind} stream near line {row + 1} ({e})"
            ) from e

    # -- pass 1: the scan ---------------------------------------------------------------
    def batches(self, reader: ShardReader) -> Iterator[Batch]:
        base = reader.shard.row_base
        limit = reader.max_row_bytes
        for blk in self.blocks(reader.shard, reader.batch_bytes, limit):
            reader.lines = blk.row - base + blk.lines
            mark = len(reader.rejects)
            for row, head in blk.oversized:
                reader.reject(row, f"row_too_large: > {limit} bytes", head)
            batch = self._exact(reader, blk) if reader.fields else self._fast(reader, blk)
            if batch is not None:
                batch.starts = blk.starts(batch.rows - blk.row)
            if len(reader.rejects) - mark > 1:
                reader.rejects[mark:] = sorted(reader.rejects[mark:], key=lambda r: r.row)
            if batch is not None:
                yield batch

    def _fast(self, reader: ShardReader, blk: Block) -> Batch | None:
        """The scanner's texts for clean lines, orjson for the rest (see the module doc)."""
        n = blk.lines
        if n == 0:
            return None
        scanned = block_texts(blk.data, blk.nl, reader.text_field)
        if scanned is None:
            return self._exact(reader, blk)
        clean, texts = scanned
        if len(texts) == n:
            return Batch(texts, np.arange(blk.row, blk.row + n, dtype=np.int64))
        rows = blk.row + np.flatnonzero(clean).astype(np.int64)
        exact = self._exact(reader, blk, np.flatnonzero(~clean))
        if exact is None:
            return Batch(texts, rows) if len(texts) else None
        if not len(texts):
            return exact
        rows = np.concatenate([rows, exact.rows])
        order = np.argsort(rows, kind="stable")
        merged = pa.concat_arrays([texts, exact.texts]).take(pa.array(order))
        return Batch(merged, rows[order])

    def _exact(
        self, reader: ShardReader, blk: Block, only: np.ndarray | None = None
    ) -> Batch | None:
        """Lines of a block (or only the lines ``only``) parsed one by one with orjson."""
        tf = reader.text_field
        texts: list[str] = []
        rows: list[int] = []
        extra: dict[str, list] = {f: [] for f in reader.fields}
        if only is None:
            lines: Iterable[tuple[int, bytes]] = enumerate(blk.data.split(b"\n")[:-1])
        else:
            lines = ((k, blk.line(k)) for k in only.tolist())
        for k, line in lines:
            if is_blank(line):
                continue
            rec = reader.parse_line(blk.row + k, line)
            if rec is None:
                continue
            texts.append(rec[tf])
            rows.append(blk.row + k)
            for f in reader.fields:
                extra[f].append(rec.get(f))
        if not texts:
            return None
        return Batch(_to_arrow(texts, reader.shard.path), np.array(rows, np.int64), extra)

    # -- pass 2: records of chosen rows -----------------------------------------------
    def records(self, reader: ShardReader, wanted: np.ndarray) -> list[dict]:
        """Records of the ``wanted`` rows (sorted), the shard read block by block (a
        compressed file, or rows whose offsets the scan did not record); each block's rows
        are parsed before the next is read, so the first fault in the file is the one named."""
        wanted = np.asarray(wanted, dtype=np.int64)
        path, tf = reader.shard.path, reader.text_field
        out: list[dict] = []
        pos = 0
        if len(wanted):
            for blk in self.blocks(reader.shard, reader.batch_bytes, reader.max_row_bytes):
                end = int(np.searchsorted(wanted, blk.row + blk.lines))
                rows = wanted[pos:end]
                lines = [blk.line(r - blk.row) for r in rows.tolist()]
                out += JsonLines(path, tf, rows, lines).dicts()
                pos = end
                if pos == len(wanted):
                    break
        if pos < len(wanted):
            raise _past_end(path, int(wanted[pos]))
        return out

    def lines_at(
        self,
        reader: ShardReader,
        wanted: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray | None = None,
    ) -> JsonLines:
        """The lines of the ``wanted`` rows (sorted) read at their file offsets, which the
        scan recorded: the lines between are never split or counted. ``stops``: where each
        line ends at the latest (the next row's offset), when known (see :func:`_lines_at`)."""
        rows, lines = [], []
        for r, line in _lines_at(reader.shard, wanted, starts, stops):
            rows.append(r)
            lines.append(line)
        return JsonLines(reader.shard.path, reader.text_field, np.array(rows, np.int64), lines)

    def rows(self, path: str, wanted: Iterable[int]) -> Iterator[tuple[int, dict]]:
        want = np.unique(np.fromiter(wanted, dtype=np.int64))
        if len(want) == 0:
            return
        size = stat(path).size if self.codec is None else -1
        shard = Shard(0, path, self.name, 0, size, 0)
        pos = 0
        for blk in self.blocks(shard):
            end = int(np.searchsorted(want, blk.row + blk.lines))
            for r in want[pos:end].tolist():
                try:
                    rec = orjson.loads(blk.line(r - blk.row))
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    yield r, rec
            pos = end
            if pos == len(want):
                return


@dataclass
class JsonLines:
    """Chosen rows of a JSONL file held as their lines, parsed only as far as the caller needs.

    The write pass wants the selected rows as a table (Parquet output) and the random
    baseline's texts only (its KL counts). Parsing every line into Python dicts with orjson
    and building Arrow columns from them was a third of that pass's CPU; Arrow's JSON reader
    builds the table in C++ (1.27x orjson + ``records_to_table``), and the scan's own text
    scanner (:mod:`._jsonscan`) reads the texts 1.39x faster than orjson + ``pa.array``
    (a fifth of the rows of 256 MB, bench/results/write_pass.md); the write stage of dsir on
    1 GB: 1.76 -> 1.56 s at 1 worker (bench/results/dsir_vs_reference.md).

    Both fast paths give exactly what the dicts would, or step aside: :meth:`table` takes
    Arrow's table only where its types are those :func:`~thresher.io.writers.records_to_table`
    gives (Arrow would read ISO dates as timestamps and integers beyond int64 as doubles, and
    refuses duplicate keys and mixed types, which the dicts keep), and any line the scanner
    leaves goes to orjson, which names the file and line of one that no longer parses.
    """

    path: str
    text_field: str
    rows: np.ndarray  # each line's row in the file (0-based)
    lines: list[bytes]

    def __len__(self) -> int:
        return len(self.lines)

    def take(self, idx: Iterable[int]) -> JsonLines:
        """The lines at positions ``idx`` (in that order)."""
        idx = list(idx)
        return JsonLines(self.path, self.text_field, self.rows[idx], [self.lines[i] for i in idx])

    def dicts(self) -> list[dict]:
        out: list[dict] = []
        for r, line in zip(self.rows.tolist(), self.lines, strict=True):
            rec, why = parse_row(line, self.text_field)
            if rec is None:
                raise InputError(
                    f"{self.path}: line {r + 1}: {why} in the write pass, but the scan "
                    "read it (was the file changed during the run?)"
                )
            out.append(rec)
        return out

    def _joined(self) -> tuple[bytes, np.ndarray]:
        data = b"\n".join([*self.lines, b""])  # one copy (a "+ b'\\n'" is a second)
        nl = np.cumsum(np.fromiter(map(len, self.lines), np.int64, len(self.lines)) + 1) - 1
        return data, nl

    def texts(self) -> pa.Array:
        """The text of every line, in order (as the scan read it)."""
        if not self.lines:
            return pa.array([], type=pa.large_string())
        data, nl = self._joined()
        scanned = block_texts(data, nl, self.text_field)
        if scanned is not None and len(scanned[1]) == len(self.lines):
            return scanned[1].cast(pa.large_string())
        return pa.array([r[self.text_field] for r in self.dicts()], type=pa.large_string())

    def table(self) -> pa.Table:
        """The records as a table, as :func:`~thresher.io.writers.records_to_table` builds it
        from :meth:`dicts`."""
        from thresher.io.writers import records_to_table

        if self.lines:
            data, _ = self._joined()
            table = _arrow_json(data)
            if table is not None and _same_as_dicts(table, self.text_field):
                return table
        return records_to_table(self.dicts())


def _arrow_json(data: bytes) -> pa.Table | None:
    """Arrow's JSON reader on whole lines, one thread, one block (its types are inferred
    from every line); None where it refuses the lines (duplicate keys, mixed types)."""
    from pyarrow import json as pj

    opts = pj.ReadOptions(use_threads=False, block_size=len(data) + 1)
    try:
        return pj.read_json(pa.BufferReader(data), read_options=opts)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


_PLAIN_TYPES = (pa.types.is_string, pa.types.is_int64, pa.types.is_boolean, pa.types.is_null)


def _same_as_dicts(table: pa.Table, text_field: str) -> bool:
    """Whether Arrow read the lines into the types ``records_to_table`` gives: strings,
    int64, booleans, nulls, doubles with no integer beyond int64 (Arrow reads 2**64 as a
    double; the dicts keep it as text), lists and structs of these; and a text column of
    strings on every row (else a line changed since the scan: the dicts name it)."""
    if text_field not in table.column_names:
        return False
    text = table.column(text_field)
    if not pa.types.is_string(text.type) or text.null_count:
        return False
    return all(_plain(col.type, col) for col in table.columns)


def _plain(t: pa.DataType, col: pa.ChunkedArray | pa.Array) -> bool:
    import pyarrow.compute as pc

    if any(is_(t) for is_ in _PLAIN_TYPES):
        return True
    if pa.types.is_float64(t):
        big = pc.greater_equal(pc.abs(col), 2.0**63)
        return not pc.any(pc.and_(big, pc.equal(pc.floor(col), col))).as_py()
    if pa.types.is_list(t):
        return _plain(t.value_type, pc.list_flatten(col))
    if pa.types.is_struct(t):
        return all(_plain(t.field(i).type, pc.struct_field(col, [i])) for i in range(t.num_fields))
    return False


def _lines_at(
    shard: Shard, wanted: np.ndarray, starts: np.ndarray, stops: np.ndarray | None
) -> Iterator[tuple[int, bytes]]:
    """(row, line without its newline) of the ``wanted`` rows, read at their file offsets.

    With ``stops`` (each line ends before its stop: the next row's offset) a local file is
    read a line at a time, each read only that line's bytes (plus any blank or rejected
    lines before the next row): on a fifth of the rows of a 1 GB file, as dsir's selected
    and random baseline are, 0.14 s against 0.36 s for reading the shard in 8 MB blocks
    from each line not in hand, which at that density copy nearly every byte. (Mapping the
    file was as fast, but a file cut short while mapped kills the process with SIGBUS
    where a read comes back short and names the line.) Without stops, or on a store, the
    blocks.
    """
    with open_input(shard.path, span=(shard.start, shard.end)) as f:
        fd = _descriptor(f)
        if stops is None or fd < 0:
            yield from _lines_read(f, shard, wanted, starts)
            return
        for r, s, e in zip(wanted.tolist(), starts.tolist(), stops.tolist(), strict=True):
            buf = os.pread(fd, max(0, e - s), s)
            if not buf:
                raise _past_end(shard.path, r)
            end = buf.find(b"\n")
            yield r, buf if end < 0 else buf[:end]


def _descriptor(f: BinaryIO) -> int:
    """The OS file descriptor under ``f``, or -1: a store's stream has none (no ``fileno``
    at all, or one that raises)."""
    try:
        return f.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return -1


def _lines_read(
    f: BinaryIO, shard: Shard, wanted: np.ndarray, starts: np.ndarray
) -> Iterator[tuple[int, bytes]]:
    """:func:`_lines_at` by seeks and reads of up to 8 MB from each line not yet in hand."""
    buf, base = b"", 0  # buf holds the file's bytes from offset base
    for r, s in zip(wanted.tolist(), starts.tolist(), strict=True):
        i = s - base
        end = buf.find(b"\n", i) if 0 <= i < len(buf) else -1
        if end < 0:
            f.seek(s)
            buf, base, i = f.read(max(0, min(BATCH_BYTES, shard.end - s))), s, 0
            if not buf:
                raise _past_end(shard.path, r)
            end = buf.find(b"\n")
            while end < 0:  # a line longer than a block, or the file's last line
                more = f.read(min(BATCH_BYTES, shard.end - base - len(buf)))
                buf += more
                end = buf.find(b"\n", len(buf) - len(more)) if more else len(buf)
        yield r, buf[i:end]


def _past_end(path: str, row: int) -> InputError:
    return InputError(
        f"{path}: line {row + 1} is past the end of the file in the write pass, but the "
        "scan read it (was the file changed during the run?)"
    )


def _head(pieces: list[bytes]) -> bytes:
    """The first EXCERPT_BYTES of a line held as pieces (without joining all of it)."""
    out = b""
    for p in pieces:
        out += p[: EXCERPT_BYTES - len(out)]
        if len(out) >= EXCERPT_BYTES:
            break
    return out


def _cuts(path: str, size: int, shard_bytes: int) -> list[tuple[int, int]]:
    """(start, end) byte ranges of ~shard_bytes, each cut just after a newline.

    Only a few bytes are read around each cut (not the whole file), so planning a
    terabyte costs nothing; line numbers are resolved after the scan pass, from
    each shard's own line count.
    """
    if size <= shard_bytes:
        return [(0, size)] if size else []
    cuts = [0]
    with open_input(path, block_size=1 << 16) as f:
        pos = shard_bytes
        while pos < size:
            f.seek(pos)
            skipped = 0
            while True:
                buf = f.read(1 << 16)
                if not buf:
                    break
                nl = buf.find(b"\n")
                if nl >= 0:
                    skipped += nl + 1
                    break
                skipped += len(buf)
            cut = pos + skipped
            if cut >= size:
                break
            cuts.append(cut)
            pos = cut + shard_bytes
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


_JSON_NAMES = (".jsonl", ".json", ".ndjson")
JSONL = JsonlFormat("jsonl", _JSON_NAMES, None)
JSONL_GZ = JsonlFormat("jsonl.gz", tuple(s + ".gz" for s in _JSON_NAMES), GZIP)
JSONL_ZST = JsonlFormat(
    "jsonl.zst", tuple(s + ".zst" for s in _JSON_NAMES) + (".jsonl.zstd",), ZSTD
)
_BY_NAME = {f.name: f for f in (JSONL, JSONL_GZ, JSONL_ZST)}


def _format_of(shard: Shard) -> JsonlFormat:
    try:
        return _BY_NAME[shard.format]
    except KeyError:
        raise InputError(f"{shard.path}: not a JSONL shard ({shard.format})") from None


def iter_blocks(
    shard: Shard, block_bytes: int = BATCH_BYTES, max_row_bytes: int = DEFAULT_MAX_ROW_BYTES
) -> Iterator[tuple[int, bytes]]:
    """(row of the first line, bytes of whole lines) of a JSONL shard, ~block_bytes each.

    Every block ends with a newline (one is added after a last unterminated line); a line
    longer than ``max_row_bytes`` is left empty.
    """
    for blk in _format_of(shard).blocks(shard, block_bytes, max_row_bytes):
        yield blk.row, blk.data


def iter_lines(
    shard: Shard, max_row_bytes: int = DEFAULT_MAX_ROW_BYTES
) -> Iterator[tuple[int, bytes]]:
    """(row, line bytes without newline) of a JSONL shard; blank (and oversized) lines are skipped."""
    for row, block in iter_blocks(shard, max_row_bytes=max_row_bytes):
        for i, line in enumerate(block.split(b"\n")[:-1]):
            if not is_blank(line):
                yield row + i, line
