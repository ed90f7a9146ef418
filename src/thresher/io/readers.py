"""Stream a shard as batches of text (plus any requested fields), rejecting bad rows.

The work is the shard's format's (:mod:`thresher.io.formats`); the reader holds what a
pass over one shard accumulates: the rejects (each naming file, line and reason) and the
number of lines read. A bad row costs only itself; a corrupt or truncated compressed
stream is an :class:`InputError` naming the file: what follows the damage cannot be
trusted.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from thresher.io.formats import get_format, read_rows
from thresher.io.formats.base import DEFAULT_MAX_ROW_BYTES, Batch, Reject
from thresher.io.formats.jsonl import (
    BATCH_BYTES,
    JsonLines,
    iter_blocks,
    iter_lines,
    parse_row,
)
from thresher.io.sources import Shard

__all__ = [
    "BATCH_BYTES",
    "DEFAULT_MAX_ROW_BYTES",
    "Batch",
    "Reject",
    "ShardReader",
    "iter_blocks",
    "iter_lines",
    "read_rows",
    "read_texts",
]


class ShardReader:
    """Reads one shard. ``fields`` are extra fields to carry (e.g. a quota field).

    ``max_row_bytes`` bounds a JSONL line: a longer one becomes a ``row_too_large``
    reject. The scan and the write pass of a run must use the same value.
    """

    def __init__(
        self,
        shard: Shard,
        text_field: str = "text",
        fields: tuple[str, ...] = (),
        batch_bytes: int = BATCH_BYTES,
        max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
        split: str = "document",
    ) -> None:
        self.shard = shard
        self.split = split  # how a text file is cut into documents (formats.text)
        self.format = get_format(shard.format)
        self.text_field = text_field
        self.fields = tuple(f for f in fields if f != text_field)
        self.batch_bytes = batch_bytes
        self.max_row_bytes = max_row_bytes
        self.rejects: list[Reject] = []
        self.lines = 0  # JSONL lines read so far (blank and bad ones included)

    # -- pass 1: text and a few fields, batch by batch --------------------------------
    def batches(self, limit: int | None = None) -> Iterator[Batch]:
        """Batches of valid documents; bad rows go to ``self.rejects``. Stops after ``limit`` docs."""
        from thresher.console import advance

        seen = 0
        for batch in self.format.batches(self):
            if limit is not None and seen + len(batch) > limit:
                keep = limit - seen
                batch = Batch(
                    batch.texts.slice(0, keep),
                    batch.rows[:keep],
                    {k: v[:keep] for k, v in batch.fields.items()},
                    None if batch.starts is None else batch.starts[:keep],
                )
            seen += len(batch)
            advance(docs=len(batch))  # progress: documents read (bytes: by the format)
            yield batch
            if limit is not None and seen >= limit:
                return

    def reject(self, row: int, reason: str, raw: bytes | str = b"") -> None:
        if isinstance(raw, bytes):
            raw = raw[:300].decode("utf-8", "replace")
        self.rejects.append(Reject(self.shard.path, row, reason, raw[:300]))

    def parse_line(self, row: int, line: bytes) -> dict | None:
        """One JSONL line as a dict with a string text field, or None (and a reject)."""
        rec, why = parse_row(line, self.text_field)
        if rec is None:
            self.reject(row, why, line)
        return rec

    # -- pass 2: whole records of chosen rows -----------------------------------------
    def records(
        self,
        wanted: np.ndarray,
        starts: np.ndarray | None = None,
        stops: np.ndarray | None = None,
    ) -> pa.Table | list[dict]:
        """Whole records of the ``wanted`` rows (sorted), as a table (Parquet) or dicts (JSONL).

        ``starts``: the file offset of each wanted row's line, as the scan found them
        (:attr:`Batch.starts`); then only those lines are read (plain JSONL), not the whole
        shard split into lines again. ``stops``: where each line ends at the latest (the
        offset of the row after it, or the shard's end); then each read takes one line's
        bytes. Every wanted row must be one the scan accepted; one that no longer parses is
        an InputError naming file and line (the file changed under the run).
        """
        lines = self.raw_lines(wanted, starts, stops)
        if lines is not None:
            return lines.dicts()
        return self.format.records(self, wanted)

    def raw_lines(
        self, wanted: np.ndarray, starts: np.ndarray | None, stops: np.ndarray | None = None
    ) -> JsonLines | None:
        """The ``wanted`` rows as their JSON lines (plain JSONL, read at the scan's offsets:
        see :meth:`records`), to be parsed only as far as needed; None where the format has
        no such lines (then :meth:`records`)."""
        at = getattr(self.format, "lines_at", None)
        if starts is None or at is None:
            return None
        wanted, starts = np.asarray(wanted, np.int64), np.asarray(starts, np.int64)
        return at(self, wanted, starts, None if stops is None else np.asarray(stops, np.int64))


def read_texts(
    paths: list[str],
    text_field: str = "text",
    max_row_bytes: int = DEFAULT_MAX_ROW_BYTES,
    split: str = "document",
) -> tuple[pa.Array, list[Reject]]:
    """All texts of some (small) files, e.g. the target set; bad rows are returned as rejects.

    ``split``: a .txt/.md file is one document, or its paragraphs, or its lines."""
    from thresher.io.sources import discover, plan_shards

    chunks: list[pa.Array] = []
    rejects: list[Reject] = []
    # One shard per file: line numbers in the rejects are then file lines from the start.
    for shard in plan_shards(discover(paths), shard_bytes=1 << 62):
        reader = ShardReader(shard, text_field, max_row_bytes=max_row_bytes, split=split)
        chunks.extend(b.texts for b in reader.batches())
        rejects.extend(reader.rejects)
    if not chunks:
        return pa.array([], type=pa.large_string()), rejects
    return pa.concat_arrays(chunks), rejects
