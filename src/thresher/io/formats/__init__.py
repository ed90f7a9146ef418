"""The input formats: one module each behind :class:`~thresher.io.formats.base.Format`.

Adding a format is one module and one line in ``FORMATS``. A file's format is what its
bytes say when they carry magic bytes (gzip, zstd, Parquet's ``PAR1``), else what its
name says: a gzip file named ``.jsonl`` is read as gzip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from thresher.errors import InputError
from thresher.io.formats.base import (
    DEFAULT_MAX_ROW_BYTES,
    Batch,
    Format,
    InputFile,
    Reject,
    Shard,
)
from thresher.io.formats.jsonl import JSONL, JSONL_GZ, JSONL_ZST
from thresher.io.formats.parquet import ParquetFormat
from thresher.io.formats.text import TextFormat
from thresher.io.fs import read_head

FORMATS: dict[str, Format] = {
    f.name: f for f in (JSONL, JSONL_GZ, JSONL_ZST, ParquetFormat(), TextFormat())
}

__all__ = [
    "DEFAULT_MAX_ROW_BYTES",
    "FORMATS",
    "Batch",
    "Format",
    "InputFile",
    "Reject",
    "Shard",
    "by_name",
    "detect",
    "get_format",
    "read_rows",
]

_SNIFF_BYTES = 8
EXPECTED = ".jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt or .md"


def get_format(name: str) -> Format:
    """The registered format called ``name`` (as written in shards and manifests)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"unknown input format {name!r} (known: {', '.join(FORMATS)})") from None


def by_name(path: str) -> Format | None:
    """The format a file name says (longest matching suffix), or None."""
    name = str(path).lower()
    best: Format | None = None
    best_len = 0
    for fmt in FORMATS.values():
        for suffix in fmt.suffixes:
            if name.endswith(suffix) and len(suffix) > best_len:
                best, best_len = fmt, len(suffix)
    return best


def detect(path: str, head: bytes | None = None) -> Format:
    """The format of a file: its magic bytes first, its name second.

    Compression magic (gzip, zstd) decides the codec of a file whose name says JSON
    Lines, compressed or not. Parquet's magic wins whatever the name. A file that is
    neither raises an InputError naming it.
    """
    if head is None:
        try:
            head = read_head(path, _SNIFF_BYTES)
        except OSError as e:
            raise InputError(f"{path}: cannot read ({e.strerror or e})") from e
    named = by_name(path)
    sniffed = next((f for f in FORMATS.values() if f.sniff(head)), None)
    if sniffed is not None and (named is None or named is not sniffed):
        if sniffed.name == "parquet":
            return sniffed
        if named is not None and named.name.startswith("jsonl"):
            return sniffed  # e.g. gzip bytes in a file named .jsonl
        what = getattr(getattr(sniffed, "codec", None), "name", sniffed.name)
        raise InputError(
            f"{path}: unknown format ({what} data, but the name "
            f"does not say what it holds; expected {EXPECTED})"
        )
    if named is None:
        raise InputError(f"{path}: unknown format (expected {EXPECTED})")
    if named.magic and head and not named.sniff(head):
        if named.name == "parquet":
            return named  # planning reports it as not a readable Parquet file
        return FORMATS["jsonl"]  # named .gz/.zst but holds plain text: read what is there
    return named


def read_rows(path: str, rows: Iterable[int]) -> Iterator[tuple[int, dict]]:
    """(row, record) of the wanted rows of one input file of any format, in file order.

    Rows that are not documents are skipped. For the report and ``inspect``, which look
    up rows the run recorded by (source, row).
    """
    return detect(path).rows(path, rows)
