"""The contract every input format implements, and the values it trades in.

A format knows how to recognize its files (suffixes, magic bytes), cut a file into
shards, read a shard as batches of text (pass 1: scan) and read back whole records of
chosen rows (pass 2: write). The one rule between the passes: a row the scan accepts is
a row the write pass reads, parsed the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from thresher.io.readers import ShardReader

# A JSONL line longer than this is rejected (row_too_large) instead of read: one line
# without a newline must not be able to take all the memory.
DEFAULT_MAX_ROW_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    path: str
    format: str
    size: int
    mtime_ns: int = 0


@dataclass(frozen=True)
class Shard:
    """One unit of work. ``start``/``end`` are bytes (JSONL) or row groups (Parquet)."""

    index: int
    path: str
    format: str
    start: int = 0
    end: int = -1
    # Row (JSONL: line, 0-based) of the file where this shard starts; -1 until known
    # (byte-range shards of JSONL learn it from the line counts of the shards before).
    first_row: int = 0

    @property
    def name(self) -> str:
        return f"{self.index:05d}"

    @property
    def row_base(self) -> int:
        """Where this shard's row numbers start: relative (0) while first_row is unknown."""
        return max(self.first_row, 0)


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
    # Byte offset in the file of each row's line (plain JSONL): the write pass reads only those.
    starts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)


class Format(ABC):
    """One input format. Register an instance in :mod:`thresher.io.formats`."""

    name: str  # as written in shards and manifests ("jsonl", "jsonl.gz", ...)
    suffixes: tuple[str, ...]  # lower-case file name endings that say this format
    magic: bytes = b""  # bytes every file of this format starts with (b"": none)
    # True when rows are file lines and a shard that starts mid-file learns its first
    # row only after the scan (from the line counts of the shards before it).
    rows_resolved_after_scan: bool = False

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file are this format's magic bytes."""
        return bool(self.magic) and head.startswith(self.magic)

    @abstractmethod
    def plan(self, file: InputFile, shard_bytes: int) -> list[Shard]:
        """Shards of ~shard_bytes covering the file, in order (``index`` is renumbered later)."""

    def shard_share(self, shard: Shard, file_size: int, shards_in_file: int) -> float:
        """Bytes of input a shard stands for (to sample shards in proportion to their size)."""
        return file_size / max(1, shards_in_file)

    @abstractmethod
    def batches(self, reader: ShardReader) -> Iterator[Batch]:
        """Batches of valid documents of ``reader.shard``; bad rows go to ``reader.rejects``."""

    @abstractmethod
    def records(self, reader: ShardReader, wanted: np.ndarray) -> pa.Table | list[dict]:
        """Whole records of the ``wanted`` rows (sorted), all of which the scan accepted."""

    @abstractmethod
    def rows(self, path: str, wanted: Iterable[int]) -> Iterator[tuple[int, dict]]:
        """(row, record) of the wanted rows of a whole file, in file order; rows that are not
        documents are skipped (for the report and ``inspect``, which look rows up by number)."""
