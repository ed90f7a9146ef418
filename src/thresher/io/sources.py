"""Find input files and cut them into shards: the unit of work of every engine.

A shard is a byte range of a plain JSONL file (cut at line boundaries), a
whole compressed JSONL file (gzip and zstd streams cannot be split), or a run
of Parquet row groups. Shards depend only on the files and ``shard_bytes``,
never on the number of workers, so results are the same for any worker count.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import xxhash

from thresher.errors import InputError

DEFAULT_SHARD_BYTES = 64 * 1024 * 1024

_SUFFIXES = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl.gz",
    ".json.gz": "jsonl.gz",
    ".ndjson.gz": "jsonl.gz",
    ".jsonl.zst": "jsonl.zst",
    ".json.zst": "jsonl.zst",
    ".ndjson.zst": "jsonl.zst",
    ".jsonl.zstd": "jsonl.zst",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def file_format(path: str | Path) -> str | None:
    """The format of a file by its name (``jsonl``, ``jsonl.gz``, ``jsonl.zst``, ``parquet``)."""
    name = str(path).lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    return None


@dataclass(frozen=True)
class InputFile:
    path: str
    format: str
    size: int


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


def discover(paths: list[str | Path]) -> list[InputFile]:
    """Expand files, directories (recursively) and globs into a sorted list of input files."""
    found: list[str] = []
    for p in paths:
        p = str(p)
        if any(ch in p for ch in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise InputError(f"{p}: no file matches this pattern")
            candidates = matches
        elif os.path.isdir(p):
            candidates = sorted(
                str(f) for f in Path(p).rglob("*") if f.is_file() and file_format(f) is not None
            )
            if not candidates:
                raise InputError(f"{p}: directory holds no .jsonl(.gz/.zst) or .parquet file")
        elif os.path.exists(p):
            candidates = [p]
        else:
            raise InputError(f"{p}: no such file or directory")
        for c in candidates:
            if os.path.isdir(c):
                continue
            if file_format(c) is None:
                raise InputError(
                    f"{c}: unknown format (expected .jsonl, .jsonl.gz, .jsonl.zst or .parquet)"
                )
            found.append(c)
    seen: set[str] = set()
    files = []
    for f in found:
        if f not in seen:
            seen.add(f)
            files.append(InputFile(f, file_format(f), os.path.getsize(f)))  # type: ignore[arg-type]
    if not files:
        raise InputError("no input files given")
    return files


def _jsonl_cuts(path: str, size: int, shard_bytes: int) -> list[tuple[int, int]]:
    """(start, end) byte ranges of ~shard_bytes, each cut just after a newline.

    Only a few bytes are read around each cut (not the whole file), so planning a
    terabyte costs nothing; line numbers are resolved after the scan pass, from
    each shard's own line count.
    """
    cuts = [0]
    with open(path, "rb") as f:
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


def plan_shards(files: list[InputFile], shard_bytes: int = DEFAULT_SHARD_BYTES) -> list[Shard]:
    """Cut input files into shards of about ``shard_bytes`` each, in file order."""
    shards: list[Shard] = []
    for f in files:
        if f.format == "jsonl":
            for b0, b1 in _jsonl_cuts(f.path, f.size, shard_bytes):
                shards.append(Shard(len(shards), f.path, f.format, b0, b1, 0 if b0 == 0 else -1))
        elif f.format == "parquet":
            try:
                meta = pq.ParquetFile(f.path).metadata
            except Exception as e:  # pyarrow raises several types for corrupt files
                raise InputError(f"{f.path}: not a readable Parquet file ({e})") from e
            g0, row0, acc, row = 0, 0, 0, 0
            for g in range(meta.num_row_groups):
                rg = meta.row_group(g)
                acc += rg.total_byte_size
                row += rg.num_rows
                if acc >= shard_bytes or g == meta.num_row_groups - 1:
                    shards.append(Shard(len(shards), f.path, f.format, g0, g + 1, row0))
                    g0, row0, acc = g + 1, row, 0
            if meta.num_row_groups == 0:
                shards.append(Shard(len(shards), f.path, f.format, 0, 0, 0))
        else:
            shards.append(Shard(len(shards), f.path, f.format, 0, -1, 0))
    return shards


def file_digest(path: str, algo: str = "xxh3_128") -> str:
    """Content hash of a file, for the manifest (streams; constant memory).

    xxh3_128 by default: it identifies the input, it does not need to resist attack, and it
    hashes at memory speed (1 GB from the page cache: 0.14 s, as fast as reading it; blake2b
    1.24 s, sha256 0.73 s) -- the driver hashes every raw file after the scan, so on a 1 GB
    run blake2b cost ~10% of the wall time. ``algo`` may also name any hashlib algorithm.
    """
    h = getattr(xxhash, algo)() if algo.startswith("xxh") else hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            h.update(chunk)
    return f"{algo}:{h.hexdigest()}"
