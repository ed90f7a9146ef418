"""In-memory inputs of the Python API: data a user holds, given for ``raw`` or ``target``.

Accepted: a ``datasets.Dataset`` or ``IterableDataset``, a ``pyarrow.Table``,
``RecordBatch`` or ``pyarrow.dataset.Dataset``, a ``pyarrow`` string array, or
:class:`Texts` (a list of document strings; a plain list of str stays a list of paths).

Why materialize instead of an in-memory format: every pass (fit sample, scan, write) and
every engine reads inputs by shard, in other processes or on other machines, and the
report and ``inspect`` look documents up after the run. So each in-memory input is
written once, after the run directory is claimed, as Parquet under
``OUT/_work/inputs/`` (row groups of about a quarter shard, so shards come out the size
they would for a file), and from then on it is an input file like any other: same
shards, same rows, same bytes out. Only the names differ: outputs call it
``<memory:raw>`` (``<memory:raw[1]>`` for the second of several), with its row number
in the data as given. The cost is one sequential write of the data (measured in
tests/test_api_inputs.py's docstring).

Nothing touches disk before the run is planned: the kind of object and its text column
are checked first (:func:`memory_inputs`), the write comes after the claim
(:func:`materialize`). A resumed run writes the data again and goes on only if the bytes
are those the run started with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from thresher.errors import ConfigError, InputError

PREFIX = "<memory:"
INPUTS_DIR = "inputs"  # under OUT/_work
WORK_DIR = "_work"  # rundir.WORK (not imported: rundir imports the io layer)
_BATCH_ROWS = 8192


class Texts(list):
    """Documents as strings, for ``raw`` or ``target``: ``thresher.Texts(["doc one", ...])``.

    A plain list of str is a list of paths (files, directories, globs), as always; this
    wrapper says the strings are the documents themselves.
    """


@dataclass
class MemoryInput:
    """One in-memory input, checked but not yet written."""

    label: str  # what outputs call it: <memory:raw>, <memory:target[1]>
    file_name: str  # its Parquet file under OUT/_work/inputs/
    obj: Any
    text_field: str


def is_label(path: str) -> bool:
    return isinstance(path, str) and path.startswith(PREFIX) and path.endswith(">")


def label_file(label: str) -> str:
    """The file name under OUT/_work/inputs of an in-memory input: ``<memory:raw>`` ->
    ``raw.parquet``, ``<memory:raw[1]>`` -> ``raw-1.parquet``."""
    inner = label[len(PREFIX) : -1]
    return inner.replace("[", "-").replace("]", "") + ".parquet"


def label_path(label: str, run_dir: str | os.PathLike) -> Path:
    """Where a finished run keeps the in-memory input ``label`` (for the report, inspect)."""
    return inputs_dir(Path(run_dir) / WORK_DIR) / label_file(label)


def on_disk(paths: list[str], memory: dict[str, MemoryInput]) -> list[str]:
    """The paths of a config list that are files, directories or globs (not in memory)."""
    return [p for p in paths if p not in memory]


def inputs_dir(work: Path) -> Path:
    return Path(work) / INPUTS_DIR


# -- recognizing and checking (no disk) ---------------------------------------------------
def _kind(obj: Any) -> str | None:
    """The kind of in-memory input ``obj`` is, or None (then it is taken as a path)."""
    if isinstance(obj, Texts):
        return "texts"
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return "table"
    if isinstance(obj, pa.Array | pa.ChunkedArray):
        return "array"
    mod = type(obj).__module__ or ""
    if mod.startswith("pyarrow") and hasattr(obj, "to_batches") and hasattr(obj, "schema"):
        return "arrow_dataset"  # pyarrow.dataset.Dataset (FileSystemDataset, InMemoryDataset)
    if mod.startswith("datasets"):
        name = type(obj).__name__
        if name == "Dataset":
            return "hf_dataset"
        if name == "IterableDataset":
            return "hf_iterable"
        if name in ("DatasetDict", "IterableDatasetDict"):
            raise ConfigError(
                f"a {name} holds several splits ({', '.join(obj)}): give one, e.g. ds['train']"
            )
    return None


def memory_inputs(
    role: str, value: Any, text_field: str
) -> tuple[list[str], dict[str, MemoryInput]]:
    """The config list for ``role`` (paths, and a label in place of each in-memory input)
    and the in-memory inputs by label. A str is one path; a list may mix paths and data."""
    if value is None:
        return [], {}
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)], {}
    if _kind(value) is None and isinstance(value, Mapping):  # (a DatasetDict: _kind says)
        raise ConfigError(
            f"{role}: a {type(value).__name__} is neither a path nor in-memory data "
            "(for records, make a table: pyarrow.Table.from_pylist or datasets.Dataset)"
        )
    items = [value] if _kind(value) is not None else list(value)
    n_mem = sum(_kind(v) is not None for v in items)
    paths: list[str] = []
    memory: dict[str, MemoryInput] = {}
    for v in items:
        if _kind(v) is None:
            if not isinstance(v, str | os.PathLike):
                raise ConfigError(
                    f"{role}: {type(v).__name__} is neither a path nor in-memory data "
                    "(a datasets.Dataset or IterableDataset, a pyarrow Table, RecordBatch, "
                    "Dataset or string array, or thresher.Texts)"
                )
            paths.append(os.fspath(v))
            continue
        label = f"{PREFIX}{role}>" if n_mem == 1 else f"{PREFIX}{role}[{len(memory)}]>"
        mi = MemoryInput(label, label_file(label), v, text_field)
        check(mi)
        memory[label] = mi
        paths.append(label)
    return paths, memory


def check(mi: MemoryInput) -> None:
    """The text column exists and holds strings; a DatasetDict, a wrong type: one line."""
    kind = _kind(mi.obj)
    if kind in ("texts", "array"):
        if kind == "texts":
            bad = next((x for x in mi.obj if not isinstance(x, str)), None)
            if bad is not None:
                raise InputError(
                    f"{mi.label}: Texts holds a {type(bad).__name__}, not a str ({bad!r:.60})"
                )
        elif not _is_string(mi.obj.type):
            raise InputError(f"{mi.label}: the array is {mi.obj.type}, not strings")
        return
    schema = _schema(mi.obj, kind)
    if schema is None:  # an IterableDataset of unknown features: its first row says
        first = next(iter(mi.obj), None)
        if first is None:
            return
        if mi.text_field not in first:
            raise InputError(_no_column(mi, list(first)))
        if first[mi.text_field] is not None and not isinstance(first[mi.text_field], str):
            raise InputError(
                f"{mi.label}: column {mi.text_field!r} holds "
                f"{type(first[mi.text_field]).__name__}, not strings"
            )
        return
    if mi.text_field not in schema.names:
        raise InputError(_no_column(mi, schema.names))
    ttype = schema.field(mi.text_field).type
    if not _is_string(ttype):
        raise InputError(f"{mi.label}: column {mi.text_field!r} is {ttype}, not a string column")


def _no_column(mi: MemoryInput, names: list[str]) -> str:
    return (
        f"{mi.label}: no column {mi.text_field!r} (columns: {', '.join(names) or 'none'}; "
        "set text_field)"
    )


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _schema(obj: Any, kind: str | None) -> pa.Schema | None:
    if kind in ("table", "arrow_dataset"):
        return obj.schema
    if kind in ("hf_dataset", "hf_iterable"):
        features = obj.features
        return None if features is None else features.arrow_schema
    return None


# -- writing (after the run directory is claimed) -----------------------------------------
def _batches(mi: MemoryInput) -> Iterator[pa.Table | pa.RecordBatch]:
    obj, kind = mi.obj, _kind(mi.obj)
    if kind in ("texts", "array"):
        texts = obj if kind == "array" else pa.array(list(obj), type=pa.large_string())
        n = len(texts)
        for i in range(0, max(n, 1), _BATCH_ROWS * 8):
            yield pa.table({mi.text_field: texts[i : i + _BATCH_ROWS * 8]})
    elif kind == "table" and isinstance(obj, pa.RecordBatch):
        yield obj
    elif kind == "table":
        yield from (obj.to_batches(max_chunksize=_BATCH_ROWS) if obj.num_rows else [obj])
    elif kind == "arrow_dataset":
        yield from obj.to_batches(batch_size=_BATCH_ROWS)
    elif kind in ("hf_dataset", "hf_iterable"):
        yield from obj.with_format("arrow").iter(batch_size=_BATCH_ROWS)
    else:  # pragma: no cover - memory_inputs admits only the kinds above
        raise AssertionError(kind)


def _write(mi: MemoryInput, path: Path, group_bytes: int) -> int:
    """Write ``mi`` as Parquet at ``path``; return its rows. Row groups of ~group_bytes."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    pending: list[pa.Table] = []
    pending_bytes = 0
    rows = 0

    def flush() -> None:
        nonlocal pending, pending_bytes
        if pending:
            table = pa.concat_tables(pending)
            assert writer is not None
            writer.write_table(table, row_group_size=max(1, table.num_rows))
        pending, pending_bytes = [], 0

    try:
        for b in _batches(mi):
            table = b if isinstance(b, pa.Table) else pa.Table.from_batches([b])
            if schema is None:
                schema = table.schema.remove_metadata()
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            table = table.replace_schema_metadata(None)
            if not table.schema.equals(schema):
                try:
                    table = table.select(schema.names).cast(schema)
                except (pa.ArrowException, KeyError, ValueError) as e:
                    raise InputError(
                        f"{mi.label}: rows from {rows + 1} on do not fit the columns of the "
                        f"rows before ({e})"
                    ) from None
            rows += table.num_rows
            while table.num_rows:
                # Cut at the row where the group reaches ~group_bytes (rows of average size).
                per_row = max(1.0, table.nbytes / table.num_rows)
                take = max(1, int(-(-(group_bytes - pending_bytes) // per_row)))
                piece, table = table.slice(0, take), table.slice(take)
                pending.append(piece)
                pending_bytes += int(per_row * piece.num_rows)
                if pending_bytes >= group_bytes:
                    flush()
        if writer is None:  # no batch at all: an empty table with just the text column
            schema = pa.schema([(mi.text_field, pa.large_string())])
            writer = pq.ParquetWriter(path, schema, compression="zstd")
        flush()
    finally:
        if writer is not None:
            writer.close()
    return rows


def _digest(path: Path) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(8 * 1024 * 1024):
            h.update(chunk)
    return f"xxh3_128:{h.hexdigest()}"


def materialize(mi: MemoryInput, folder: Path, shard_bytes: int, resume: bool = False) -> dict:
    """Write one in-memory input under ``folder``; return its identity for the manifest
    (``path`` is the label, ``file`` where it lies under the run directory).

    On resume the data is written again and must be byte-identical to what the run
    started with (the checkpoints were made from it), or the run stops.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / mi.file_name
    tmp = folder / f".{mi.file_name}.tmp-{os.getpid()}"
    try:
        rows = _write(mi, tmp, group_bytes=max(1, shard_bytes // 4))
        digest = _digest(tmp)
        if resume and dest.exists():
            if _digest(dest) != digest:
                raise ConfigError(
                    f"{mi.label}: differs from the in-memory input the run started with; "
                    "cannot resume, rerun with overwrite=True"
                )
            tmp.unlink()
        else:
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    st = dest.stat()
    return {
        "path": mi.label,
        "file": str(dest),
        "format": "parquet",
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "hash": digest,
        "rows": rows,
    }
