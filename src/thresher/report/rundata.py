"""Read the raw corpus behind a run: given rows of a source file, or a bounded sample.

The run directory itself (manifest, decision table, selected parts, rejects) is read
through :mod:`thresher.rundir`. Everything here is bounded: the raw corpus is read
either for a few chosen rows (by source and row) or as a capped sample, never whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import pyarrow as pa

from thresher.errors import InputError
from thresher.io.formats import read_rows
from thresher.io.fs import filesystem
from thresher.io.memory import is_label, label_path
from thresher.io.readers import ShardReader
from thresher.io.sources import DEFAULT_SHARD_BYTES, discover, plan_shards
from thresher.rundir import fit_sample_limits


def resolve_source(path: str, base: str | None = None, run: str | os.PathLike | None = None) -> str:
    """A raw path as recorded in the run; relative paths are tried against the run's ``cwd``.
    An in-memory input (``<memory:raw>``) is the copy the run ``run`` keeps of it."""
    if run is not None and is_label(path):
        return str(label_path(path, run))
    if base and not os.path.isabs(path) and not os.path.exists(path):
        alt = os.path.join(base, path)
        if os.path.exists(alt):
            return alt
    return path


def text_field(manifest: dict) -> str:
    return (manifest.get("config") or {}).get("text_field") or "text"


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


def iter_rows(path: str, rows: Iterable[int]) -> Iterator[tuple[int, dict]]:
    """(row, record) of the wanted rows of one raw file (any registered format), in file order."""
    if not filesystem(path).exists(path):  # a local path or a URL on a store
        raise InputError(f"{path}: raw input not found (was the run made from another directory?)")
    yield from read_rows(path, rows)


def fetch_records(
    keys: Iterable[tuple[str, int]],
    columns: list[str] | None = None,
    base: str | None = None,
    run: str | os.PathLike | None = None,
) -> dict[tuple[str, int], dict]:
    """Records of (source, row) pairs; a missing source gives no entries (never raises)."""
    by_source: dict[str, list[int]] = {}
    for s, r in keys:
        by_source.setdefault(s, []).append(int(r))
    out: dict[tuple[str, int], dict] = {}
    for s, rows in by_source.items():
        try:
            for r, rec in iter_rows(resolve_source(s, base, run), rows):
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
    run: str | os.PathLike | None = None,
) -> tuple[list[dict], str]:
    """A bounded sample of the raw input (``fields`` and the text), and how it was drawn.

    Small inputs are read whole; larger ones give the first documents of every
    shard in proportion to its size (as the pipeline's fit sample does).
    """
    tf = text_field(manifest)
    entries = (manifest.get("inputs") or {}).get("raw") or []
    base = manifest.get("cwd")
    paths = [resolve_source(e["path"], base, run) for e in entries]
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return [], "raw input not found"
    files = discover(paths)
    shard_bytes = (manifest.get("config") or {}).get("shard_bytes") or DEFAULT_SHARD_BYTES
    shards = plan_shards(files, shard_bytes)
    n_docs = (manifest.get("counts") or {}).get("read") or 0
    exact = n_docs and n_docs <= max_docs
    limits = fit_sample_limits(shards, files, max_docs)
    out: list[dict] = []
    extra = tuple(f for f in fields if f != tf)
    seen = 0
    for s, n in zip(shards, limits, strict=True):
        limit = None if exact else n
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
