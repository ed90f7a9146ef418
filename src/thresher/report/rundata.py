"""Read a run directory back: manifest, decision table, selected records, raw rows.

Everything here is bounded: the decision table holds only small columns, the
raw corpus is read either for a few chosen rows (by source and row) or as a
capped sample, never as a whole in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.errors import InputError
from thresher.io.readers import ShardReader, iter_lines
from thresher.io.sources import Shard, file_format, plan_shards

DOC_COLUMNS = ("source", "row", "status", "rule", "value", "score", "selected", "cluster")


def resolve_source(path: str, base: str | None = None) -> str:
    """A raw path as recorded in the run; relative paths are tried against the run's ``cwd``."""
    if base and not os.path.isabs(path) and not os.path.exists(path):
        alt = os.path.join(base, path)
        if os.path.exists(alt):
            return alt
    return path


def load_manifest(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        raise InputError(f"{run_dir}: not a run directory (no manifest.json)")
    return json.loads(path.read_text())


def text_field(manifest: dict) -> str:
    return (manifest.get("config") or {}).get("text_field") or "text"


def read_docs(run_dir: str | os.PathLike) -> pa.Table:
    """The decision table (one row per valid raw document), all parts concatenated."""
    parts = sorted((Path(run_dir) / "docs").glob("part-*.parquet"))
    if not parts:
        return pa.table(
            {
                "source": pa.array([], pa.string()),
                "row": pa.array([], pa.int64()),
                "status": pa.array([], pa.string()),
                "rule": pa.array([], pa.string()),
                "value": pa.array([], pa.float64()),
                "score": pa.array([], pa.float32()),
                "selected": pa.array([], pa.bool_()),
            }
        )
    tables = []
    for p in parts:
        names = pq.ParquetFile(p).schema_arrow.names
        table = pq.read_table(p, columns=[c for c in DOC_COLUMNS + ("reason",) if c in names])
        if "reason" in names and "rule" not in names:
            table = _rule_from_reason(table)
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive")


def _rule_from_reason(table: pa.Table) -> pa.Table:
    """A decision table written before drops had (rule, value) columns: its ``reason``
    (``"language:de=0.99"``, ``"duplicate_of:12"``) gives the rule; the value is unknown."""
    reasons = table.column("reason").to_pylist()
    rules = [(r or "").split(":")[0].replace("duplicate_of", "duplicate") for r in reasons]
    i = table.column_names.index("reason")
    table = table.set_column(i, "rule", pa.array(rules, pa.string()))
    return table.add_column(i + 1, "value", pa.nulls(len(rules), pa.float64()))


def drop_reasons(docs: pa.Table) -> list[str]:
    """Per document of the decision table, why it was dropped, for people to read:
    ``""`` (kept), ``"<rule>=<value>"`` (``"language=0.41"``), ``"<rule>"`` (no value) or
    ``"duplicate of <cluster>"``."""
    rules = docs.column("rule").to_pylist()
    values = docs.column("value").to_pylist()
    clusters = (
        docs.column("cluster").to_pylist()
        if "cluster" in docs.column_names
        else [None] * len(rules)
    )
    out = []
    for rule, value, cluster in zip(rules, values, clusters, strict=True):
        if not rule:
            out.append("")
        elif value is not None:
            out.append(f"{rule}={value:.4g}")
        elif rule == "duplicate" and cluster is not None:
            out.append(f"duplicate of {cluster}")
        else:
            out.append(rule)
    return out


def read_rejects(run_dir: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """Rows of rejects/*.jsonl (raw shards; the target file's rejects are marked)."""
    out: list[dict] = []
    for p in sorted((Path(run_dir) / "rejects").glob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            if not line.strip():
                continue
            rec = orjson.loads(line)
            rec["file"] = p.name
            out.append(rec)
            if limit is not None and len(out) >= limit:
                return out
    return out


def selected_parts(run_dir: str | os.PathLike) -> list[Path]:
    sel = Path(run_dir) / "selected"
    return sorted(sel.glob("part-*.parquet")) or sorted(sel.glob("part-*.jsonl"))


def selected_columns(run_dir: str | os.PathLike) -> list[str]:
    parts = selected_parts(run_dir)
    if not parts:
        return []
    if parts[0].suffix == ".parquet":
        return pq.ParquetFile(parts[0]).schema_arrow.names
    with open(parts[0], "rb") as f:
        first = f.readline()
    return list(orjson.loads(first)) if first.strip() else []


def iter_selected(
    run_dir: str | os.PathLike, columns: list[str], limit: int | None = None
) -> Iterator[dict]:
    """Selected records (only ``columns``), in part order, at most ``limit``."""
    n = 0
    for p in selected_parts(run_dir):
        if p.suffix == ".parquet":
            pf = pq.ParquetFile(p)
            cols = [c for c in columns if c in pf.schema_arrow.names]
            for rb in pf.iter_batches(batch_size=2048, columns=cols):
                for rec in rb.to_pylist():
                    yield rec
                    n += 1
                    if limit is not None and n >= limit:
                        return
        else:
            with open(p, "rb") as f:
                for line in f:
                    if not line.strip():
                        continue
                    rec = orjson.loads(line)
                    yield {c: rec.get(c) for c in columns}
                    n += 1
                    if limit is not None and n >= limit:
                        return


def _whole_file_shard(path: str) -> Shard:
    fmt = file_format(path)
    if fmt is None:
        raise InputError(f"{path}: unknown format")
    if fmt == "parquet":
        return Shard(0, path, fmt, 0, pq.ParquetFile(path).metadata.num_row_groups, 0)
    return Shard(0, path, fmt, 0, os.path.getsize(path), 0)


def iter_rows(path: str, rows: Iterable[int]) -> Iterator[tuple[int, dict]]:
    """(row, record) of the wanted rows of one raw file, in file order.

    JSONL is scanned up to the last wanted row, parsing only the wanted lines;
    Parquet reads only the row groups holding wanted rows.
    """
    want = np.unique(np.fromiter(rows, dtype=np.int64))
    if len(want) == 0:
        return
    if not os.path.exists(path):
        raise InputError(f"{path}: raw input not found (was the run made from another directory?)")
    shard = _whole_file_shard(path)
    if shard.format == "parquet":
        pf = pq.ParquetFile(path)
        start = 0
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            sel = want[(want >= start) & (want < start + n)]
            if len(sel):
                table = pf.read_row_group(g)
                for r, rec in zip(
                    sel.tolist(), table.take(pa.array(sel - start)).to_pylist(), strict=True
                ):
                    yield r, rec
            start += n
        return
    wanted = set(want.tolist())
    last = int(want[-1])
    for row, line in iter_lines(shard):
        if row in wanted:
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                yield row, rec
        if row >= last:
            break


def fetch_records(
    keys: Iterable[tuple[str, int]], columns: list[str] | None = None, base: str | None = None
) -> dict[tuple[str, int], dict]:
    """Records of (source, row) pairs; a missing source gives no entries (never raises)."""
    by_source: dict[str, list[int]] = {}
    for s, r in keys:
        by_source.setdefault(s, []).append(int(r))
    out: dict[tuple[str, int], dict] = {}
    for s, rows in by_source.items():
        try:
            for r, rec in iter_rows(resolve_source(s, base), rows):
                out[(s, r)] = rec if columns is None else {c: rec.get(c) for c in columns}
        except InputError:
            continue
    return out


def raw_sample(
    manifest: dict,
    fields: list[str],
    max_docs: int = 4000,
    with_text: bool = True,
    text_chars: int = 4000,
    text_every: int = 1,
) -> tuple[list[dict], str]:
    """A bounded sample of the raw input (``fields`` and the text), and how it was drawn.

    Small inputs are read whole; larger ones give the first documents of every
    shard in proportion to its size (as the pipeline's fit sample does).
    """
    tf = text_field(manifest)
    entries = (manifest.get("inputs") or {}).get("raw") or []
    base = manifest.get("cwd")
    paths = [resolve_source(e["path"], base) for e in entries]
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return [], "raw input not found"
    from thresher.io.sources import discover

    files = discover(paths)
    shard_bytes = (manifest.get("config") or {}).get("shard_bytes") or 64 * 1024 * 1024
    shards = plan_shards(files, shard_bytes)
    total = sum(f.size for f in files) or 1
    n_docs = (manifest.get("counts") or {}).get("read") or 0
    exact = n_docs and n_docs <= max_docs
    sizes = {f.path: f.size for f in files}
    out: list[dict] = []
    extra = tuple(f for f in fields if f != tf)
    seen = 0
    for s in shards:
        if exact:
            limit = None
        else:
            b = (
                (s.end - s.start)
                if s.format == "jsonl"
                else sizes[s.path] / max(1, sum(1 for t in shards if t.path == s.path))
            )
            limit = max(1, int(np.ceil(max_docs * b / total)))
        reader = ShardReader(s, tf, extra)
        got = 0
        for batch in reader.batches(limit):
            texts = batch.texts.to_pylist() if with_text else [None] * len(batch)
            for i, t in enumerate(texts):
                rec = {f: batch.fields[f][i] for f in extra}
                if with_text and seen % text_every == 0:
                    rec[tf] = t[:text_chars]
                seen += 1
                out.append(rec)
            got += len(batch)
            if limit is not None and got >= limit:
                break
    how = (
        f"all {len(out):,} raw documents"
        if exact
        else f"{len(out):,} raw documents (the first of every shard, in proportion to its size)"
    )
    return out, how
