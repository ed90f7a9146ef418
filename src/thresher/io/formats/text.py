"""Plain text and Markdown files (``.txt``, ``.md``): targets as people keep them.

A file is one document by default. ``split`` (``--target-split``) cuts it instead into
paragraphs (runs of lines between blank lines) or lines (each non-blank line). A
document's row is the 0-based line of the file where it starts (0 for a whole file), so
a reject's ``line`` is a line an editor shows, in every mode.

The definition of a valid document, the same in every pass: its bytes (without a UTF-8
byte order mark at the start of the file, without the line ending of each line) decode
as UTF-8, are at most ``max_row_bytes`` long, and are not only whitespace (blank ones
are skipped, like blank JSONL lines). Anything else is a reject naming file and line. A
file is one shard: these are small files (a target, a folder of notes); the file is
streamed line by line, never read whole unless it is one document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pyarrow as pa

from thresher.errors import InputError
from thresher.io.formats.base import DEFAULT_MAX_ROW_BYTES, Batch, Format, InputFile, Shard
from thresher.io.fs import open_input

if TYPE_CHECKING:
    from thresher.io.readers import ShardReader

SPLITS = ("document", "paragraphs", "lines")
BOM = b"\xef\xbb\xbf"
_EXCERPT = 300
_BATCH_DOCS = 4096


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"target split {split!r}: expected one of {', '.join(SPLITS)}")
    return split


def _pieces(f: BinaryIO, split: str, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(row, bytes) of the documents of a stream; bytes None: longer than ``max_bytes``
    (then the piece is not kept in memory; its first bytes follow as a second item)."""
    if split == "document":
        data = f.read(max_bytes + len(BOM) + 1)
        data = data[len(BOM) :] if data.startswith(BOM) else data
        yield 0, data if len(data) <= max_bytes else None
        return
    para: list[bytes] = []
    para_row = 0
    para_len = 0
    for row, line in enumerate(f):
        if row == 0 and line.startswith(BOM):
            line = line[len(BOM) :]
        line = line.rstrip(b"\r\n")
        blank = not line.strip()
        if split == "lines":
            if not blank:
                yield row, line if len(line) <= max_bytes else None
            continue
        if blank:
            if para_len:
                yield para_row, b"\n".join(para) if para_len <= max_bytes else None
            para, para_len = [], 0
            continue
        if not para_len:
            para_row = row
        para_len += len(line) + (1 if para_len else 0)
        if para_len <= max_bytes:  # past the cap: keep counting, stop keeping
            para.append(line)
    if para_len:
        yield para_row, b"\n".join(para) if para_len <= max_bytes else None


def documents(
    path: str, split: str, max_bytes: int = DEFAULT_MAX_ROW_BYTES
) -> Iterator[tuple[int, str | None, str]]:
    """(row, text, "") of each document of a file, or (row, None, reject reason)."""
    check_split(split)
    try:
        with open_input(path) as f:
            for row, data in _pieces(f, split, max_bytes):
                if data is None:
                    yield row, None, f"row_too_large: > {max_bytes} bytes"
                    continue
                if not data.strip():
                    continue
                try:
                    yield row, data.decode("utf-8"), ""
                except UnicodeDecodeError as e:
                    yield row, None, f"invalid_utf8: byte {e.start}"
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from e


def _excerpt(path: str, row: int) -> bytes:
    """The first bytes of line ``row`` of a file (for a reject's excerpt)."""
    with open_input(path) as f:
        for i, line in enumerate(f):
            if i == row:
                return line[:_EXCERPT]
    return b""


class TextFormat(Format):
    name = "text"
    suffixes = (".txt", ".md")

    def plan(self, file: InputFile, shard_bytes: int) -> list[Shard]:
        return [Shard(0, file.path, self.name, 0, -1, 0)]

    def batches(self, reader: ShardReader) -> Iterator[Batch]:
        path = reader.shard.path
        split = getattr(reader, "split", "document")
        texts: list[str] = []
        rows: list[int] = []
        n_lines = 0
        for row, text, why in documents(path, split, reader.max_row_bytes):
            n_lines = row + 1
            if text is None:
                reader.reject(row, why, _excerpt(path, row))
                continue
            texts.append(text)
            rows.append(row)
            if len(texts) >= _BATCH_DOCS:
                yield self._batch(texts, rows, reader)
                texts, rows = [], []
        reader.lines = n_lines
        if texts:
            yield self._batch(texts, rows, reader)

    @staticmethod
    def _batch(texts: list[str], rows: list[int], reader: ShardReader) -> Batch:
        # A text file has no fields but its text: any other field asked for is None.
        extra = {f: [None] * len(texts) for f in reader.fields}
        return Batch(pa.array(texts, type=pa.large_string()), np.array(rows, np.int64), extra)

    def records(self, reader: ShardReader, wanted: np.ndarray) -> list[dict]:
        want = set(np.asarray(wanted).tolist())
        split = getattr(reader, "split", "document")
        tf = reader.text_field
        out: dict[int, dict] = {}
        for row, text, _ in documents(reader.shard.path, split, reader.max_row_bytes):
            if row in want and text is not None:
                out[row] = {tf: text}
        missing = want - set(out)
        if missing:
            raise InputError(
                f"{reader.shard.path}: line {min(missing) + 1}: no document there in the write "
                "pass, but the scan read one (was the file changed during the run?)"
            )
        return [out[r] for r in sorted(want)]

    def rows(self, path: str, wanted: Iterable[int]) -> Iterator[tuple[int, dict]]:
        """Rows of a file read as one document each (how raw text files are read)."""
        want = set(wanted)
        for row, text, _ in documents(path, "document"):
            if row in want and text is not None:
                yield row, {"text": text}
