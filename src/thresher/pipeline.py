"""The select pipeline: read -> filter -> dedup -> score -> select -> write.

Work is split into shards (see :mod:`thresher.io.sources`) and mapped by an
engine in three passes (the tasks are in :mod:`thresher.tasks`; this module is
the driver: plan, fit, global selection, manifest):

1. *sample*: the first documents of every shard, in proportion to its size,
   to fit the scorer on (skipped when the scorer fits on a full pass);
2. *scan*: every document is read, filtered, hashed for dedup and scored; a
   shard returns only its rows, scores, statuses and reasons;
3. *write*: after the global selection (which sees only scores and a seed),
   each shard re-reads its chosen rows and writes them with score and
   provenance, plus a per-document decision table for the report.

Results come back in shard order, so output is byte-identical for any number
of workers or engine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from thresher import __version__
from thresher.config import SelectConfig
from thresher.engine import make_engine
from thresher.errors import ConfigError, InputError
from thresher.io.readers import Reject, read_texts
from thresher.io.sources import Shard, discover, file_digest, plan_shards
from thresher.io.writers import (
    atomic_write_bytes,
    records_to_table,
    unify_parquet_parts,
    write_jsonl,
)
from thresher.metrics.kl import kl_divergence, kl_reduction
from thresher.scorers import make_scorer
from thresher.select.select import gumbel_noise, select_indices
from thresher.tasks import (
    DUPLICATE,
    ELIGIBLE,
    FILTERED,
    ShardScan,
    StageContext,
    WriteTask,
    load_checkpoint,
    sample_task,
    save_checkpoint,
    scan_task,
    write_task,
)
from thresher.text.ngrams import NgramHasher


@dataclass
class Timer:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - t0, 4)


def _resolve_rows(shards: list[Shard], scans: list[ShardScan], out: Path) -> list[Shard]:
    """Turn shard-relative JSONL line numbers into file line numbers; write the rejects.

    A byte-range shard does not know how many lines come before it until the shards
    before it are read; each scan reports its line count, so the offsets are prefix
    sums per file. Returns the shards with ``first_row`` filled in.
    """
    resolved = []
    lines_before: dict[str, int] = {}
    for shard, scan in zip(shards, scans, strict=True):
        if shard.first_row < 0:
            base = lines_before.get(shard.path, 0)
            scan.rows = scan.rows + base
            for r in scan.rejects:
                r.row += base
            shard = dataclasses.replace(shard, first_row=base)
        if shard.format != "parquet":
            lines_before[shard.path] = shard.row_base + scan.lines
        if scan.rejects:
            _write_rejects(out / "rejects" / f"part-{shard.name}.jsonl", scan.rejects)
        resolved.append(shard)
    return resolved


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl([r.as_dict() for r in rejects], path)


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------


_RUN_INVARIANT = ("out", "overwrite", "resume", "workers", "engine", "ray_address", "report")


def _prepare_out(cfg: SelectConfig) -> None:
    """Create OUT; on --resume check it was started with the same config (workers may differ)."""
    out = Path(cfg.out)
    stamp = out / "_work" / "config.json"
    mine = cfg.model_dump(mode="json", exclude=set(_RUN_INVARIANT))
    if cfg.resume and stamp.exists():
        theirs = json.loads(stamp.read_text())
        if theirs != mine:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise ConfigError(
                f"{out}: cannot resume, the run was started with other options ({', '.join(diff)})"
            )
        # A killed run can leave a half-written temporary file (named after the writing
        # process, so the resumed run's writes do not replace it): remove them.
        for tmp in out.rglob(".*.tmp-*"):
            tmp.unlink()
        return
    if out.exists() and any(out.iterdir()):
        if not cfg.overwrite and not cfg.resume:
            raise ConfigError(
                f"{out}: output directory exists and is not empty (use --overwrite or --resume)"
            )
        if cfg.resume:
            raise ConfigError(
                f"{out}: nothing to resume here (no _work/config.json); use --overwrite"
            )
        shutil.rmtree(out)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(stamp, json.dumps(mine, indent=1, sort_keys=True).encode())


def _versions() -> dict[str, str]:
    import numba

    return {
        "thresher": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "numba": numba.__version__,
    }


def _input_entries(paths: list[str]) -> list[dict]:
    if not paths:
        return []
    return [
        {"path": f.path, "format": f.format, "bytes": f.size, "hash": file_digest(f.path)}
        for f in discover(paths)
    ]


def _scorer_options(cfg: SelectConfig) -> dict:
    opts = dict(cfg.scorer_options)
    if cfg.method == "dsir":
        opts.setdefault("num_buckets", cfg.num_buckets)
        opts.setdefault("ngrams", cfg.ngrams)
        opts.setdefault("hashing", cfg.hashing)
    return opts


def run_select(
    cfg: SelectConfig, progress: Any | None = None, command: list[str] | None = None
) -> dict:
    """Run the whole pipeline for ``cfg``; return the manifest (also written to OUT)."""
    timer = Timer()
    out = Path(cfg.out)
    say = progress or _NullProgress()
    # Started first: its workers import and load kernels while the driver plans.
    engine = make_engine(cfg.engine, cfg.workers, cfg.ray_address)
    try:
        return _prepare_and_run(cfg, engine, timer, say, out, command)
    finally:
        engine.close()


def _fit(cfg, ctx, engine, say, scorer, target_texts, shards, raw_files):
    """Fit the scorer on the target and raw documents; return it, the raw KL counts, the sample size.

    A scorer that fits on n-gram counts (dsir) needs only counts from the workers: of
    ``raw_sample`` documents spread over the shards in proportion to their size, or of
    every document (``raw_sample=0``). Other scorers get the sampled texts themselves.
    """
    by_counts = scorer.fits_on_counts
    full_pass = by_counts and cfg.raw_sample == 0
    want = cfg.raw_sample or 100_000
    sizes = {f.path: f.size for f in raw_files}
    total_bytes = sum(sizes.values()) or 1
    shards_in_file = Counter(s.path for s in shards)
    ctx.scorer = scorer  # unfitted: only its featurizer is used here
    tasks = []
    for s in shards:
        n = None
        if not full_pass:
            # Whole compressed files; Parquet row-group shards share their file's bytes.
            b = s.end - s.start if s.format == "jsonl" else sizes[s.path] / shards_in_file[s.path]
            n = max(1, int(np.ceil(want * b / total_bytes)))
        tasks.append((s, n, ctx, not by_counts))
    label = "fit raw" if full_pass else "sample raw"
    parts = list(say.track(engine.map(sample_task, tasks), len(tasks), label))
    n_docs = sum(p.n_docs for p in parts)
    if n_docs == 0:
        raise InputError(f"{', '.join(cfg.raw)}: no raw documents could be read")
    raw_counts = np.sum([p.kl_counts for p in parts], axis=0)
    fraction = cfg.fraction
    if fraction is None and cfg.k is not None and all(p.exhausted for p in parts):
        fraction = min(1.0, cfg.k / n_docs)  # the sample saw every document that passes the filters
    if fraction is not None:
        scorer.expect_fraction(fraction)
    if by_counts:
        fit_counts = np.sum([p.fit_counts for p in parts], axis=0)
        scorer = scorer.fit_counts(scorer.counts(target_texts), fit_counts)
    else:
        scorer = scorer.fit(target_texts, pa.concat_arrays([p.texts for p in parts]))
    return scorer, raw_counts, None if full_pass else n_docs


def _fit_filters_to_target(filters: list, target_texts: pa.Array, say) -> dict | None:
    """Fit the filters that need the target (``--lang auto``) before any raw document is
    filtered; return what they learned, for the manifest's metrics (None: nothing)."""
    learned: dict = {}
    for f in filters:
        if not f.needs_target:
            continue
        if len(target_texts) == 0:
            raise ConfigError(
                f"filter {f.name!r} is fitted to the target: it needs a target (select --target)"
            )
        info = f.fit_target(target_texts) or {}
        getattr(say, "note", lambda _: None)(
            f"{f.name} fitted to {len(target_texts)} target docs: "
            + "; ".join(
                f"{k} {','.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in info.items()
                if not isinstance(v, dict)
            )
        )
        learned.update(f.report())
    return learned or None


def _prepare_and_run(cfg, engine, timer, say, out, command) -> dict:
    with timer.stage("plan"):
        raw_files = discover(cfg.raw)
        if cfg.target:  # fail on a bad path before anything is written
            discover(cfg.target)
        shards = plan_shards(raw_files, cfg.shard_bytes)
    if cfg.method != "none" and not cfg.target:
        raise ConfigError("give --target: example documents of what you want")
    _prepare_out(cfg)

    filters = []
    if cfg.filters:
        from thresher.filters import build_filters

        filters = build_filters(cfg.filters, **cfg.filter_options)

    fields: tuple[str, ...] = (cfg.quota_field,) if cfg.quota_field else ()
    ctx = StageContext(
        out=str(out),
        text_field=cfg.text_field,
        fields=fields,
        filters=filters,
        scorer=None,
        dedup=cfg.dedup,
        dedup_threshold=cfg.dedup_threshold,
        dedup_ngram=cfg.dedup_ngram,
        fmt=cfg.format,
        num_buckets=cfg.num_buckets,
        ngrams=cfg.ngrams,
        resume=cfg.resume,
        write_dropped=cfg.write_dropped,
    )
    return _run(cfg, ctx, engine, shards, raw_files, timer, say, out, command)


def _run(cfg, ctx, engine, shards, raw_files, timer, say, out, command) -> dict:
    hasher = NgramHasher(cfg.num_buckets, cfg.ngrams)
    with timer.stage("read_target"):
        target_texts, target_rejects = (
            read_texts(cfg.target, cfg.text_field)
            if cfg.target
            else (pa.array([], pa.large_string()), [])
        )
        if cfg.target and len(target_texts) == 0:
            raise InputError(f"{', '.join(cfg.target)}: no target documents could be read")
        target_counts = hasher.counts(target_texts)
        target_languages = _fit_filters_to_target(ctx.filters, target_texts, say)

    scorer = None if cfg.method == "none" else make_scorer(cfg.method, **_scorer_options(cfg))
    fit_ckpt = ctx.work / "fit.pkl"
    fitted = load_checkpoint(fit_ckpt) if cfg.resume else None
    with timer.stage("fit"):
        if scorer is None:
            raw_counts, n_sample = np.zeros(cfg.num_buckets, np.int64), None
        elif fitted is not None:
            scorer, raw_counts, n_sample = fitted
        else:
            scorer, raw_counts, n_sample = _fit(
                cfg, ctx, engine, say, scorer, target_texts, shards, raw_files
            )
            save_checkpoint(fit_ckpt, (scorer, raw_counts, n_sample))
        ctx.scorer = scorer

    with timer.stage("scan"):
        scans: list[ShardScan] = list(
            say.track(engine.map(scan_task, [(s, ctx) for s in shards]), len(shards), "score")
        )
    shards = _resolve_rows(shards, scans, out)
    n_valid = sum(len(s.rows) for s in scans)
    n_rejected = sum(len(s.rejects) for s in scans)
    if n_valid + n_rejected == 0:
        raise InputError(f"{', '.join(cfg.raw)}: input is empty (no documents)")

    scores = np.concatenate([s.scores for s in scans]).astype(np.float64)
    status = np.concatenate([s.status for s in scans])
    cluster = None
    with timer.stage("dedup"):
        if cfg.dedup != "none":
            from thresher.dedup.stage import DedupSpec, resolve

            offsets = np.cumsum([0] + [len(s.rows) for s in scans])[:-1].astype(np.int64)
            spec = DedupSpec(cfg.dedup, cfg.dedup_threshold, cfg.dedup_ngram)
            dup, cluster = resolve(ctx.work / "dedup", spec, offsets, len(scores))
            status[dup & (status == ELIGIBLE)] = DUPLICATE

    with timer.stage("select"):
        eligible = status == ELIGIBLE
        if cfg.quotas:
            from thresher.select.quotas import select_with_quotas

            groups = np.array(
                [str(v) for s in scans for v in s.fields[cfg.quota_field]], dtype=object
            )
            chosen = select_with_quotas(
                scores,
                eligible,
                groups,
                cfg.quotas,
                cfg.resolved_mode,
                cfg.k,
                cfg.fraction,
                cfg.threshold,
                cfg.seed,
                cfg.temperature,
            )
        else:
            chosen = select_indices(
                scores,
                eligible,
                cfg.resolved_mode,  # type: ignore[arg-type]
                cfg.k,
                cfg.fraction,
                cfg.threshold,
                cfg.seed,
                cfg.temperature,
            )
        selected = np.zeros(len(scores), dtype=bool)
        selected[chosen] = True
        # Random baseline of the same size among the same eligible documents.
        noise = gumbel_noise(len(scores), cfg.seed + 1_000_003)
        random = np.zeros(len(scores), dtype=bool)
        random[select_indices(noise, eligible, "topk", k=len(chosen))] = True

    with timer.stage("write"):
        tasks = []
        o = 0
        for sh, sc in zip(shards, scans, strict=True):
            m = len(sc.rows)
            tasks.append(
                WriteTask(
                    sh,
                    sc.rows,
                    sc.scores,
                    status[o : o + m],
                    sc.reasons,
                    selected[o : o + m],
                    random[o : o + m],
                    None if cluster is None else cluster[o : o + m],
                    ctx,
                    sc.annotations,
                )
            )
            o += m
        sel_counts = np.zeros(cfg.num_buckets, np.int64)
        rnd_counts = np.zeros(cfg.num_buckets, np.int64)
        for _, sc_, rc_ in say.track(engine.map(write_task, tasks), len(tasks), "write"):
            sel_counts += sc_
            rnd_counts += rc_
        if cfg.format == "parquet":
            unify_parquet_parts(sorted((out / "selected").glob("part-*.parquet")))
        if target_rejects:
            _write_rejects(out / "rejects" / "target.jsonl", target_rejects)

    n_filtered = int((status == FILTERED).sum())
    n_dup = int((status == DUPLICATE).sum())
    counts = {
        "read": n_valid + n_rejected,
        "rejected": n_rejected,
        "filtered": n_filtered,
        "duplicate": n_dup,
        "selected": int(selected.sum()),
        "not_selected": int(eligible.sum() - selected.sum()),
        "target_read": len(target_texts) + len(target_rejects),
        "target_rejected": len(target_rejects),
    }
    assert counts["read"] == (
        counts["rejected"]
        + counts["filtered"]
        + counts["duplicate"]
        + counts["selected"]
        + counts["not_selected"]
    )
    has_kl = len(target_texts) > 0 and raw_counts.sum() > 0
    metrics = {
        "kl_target_raw": kl_divergence(target_counts, raw_counts) if has_kl else None,
        "kl_target_selected": kl_divergence(target_counts, sel_counts) if has_kl else None,
        "kl_target_random": kl_divergence(target_counts, rnd_counts) if has_kl else None,
        "kl_reduction": kl_reduction(target_counts, raw_counts, sel_counts) if has_kl else None,
        "kl_reduction_random": kl_reduction(target_counts, raw_counts, rnd_counts)
        if has_kl
        else None,
        "raw_fit_docs": n_sample,
        **(target_languages or {}),  # what the filters learned from the target
        **(scorer.report() if scorer is not None else {}),
        "eligible": int(eligible.sum()),
        "k": int(selected.sum()),
    }
    sel_scores = scores[selected]
    if len(sel_scores) and cfg.method != "none":
        metrics["score_cut"] = float(np.min(sel_scores))
    nbytes = sum(s.nbytes for s in scans)
    seconds = sum(timer.stages.values())
    manifest = {
        "thresher_version": __version__,
        "command": command or [],
        "cwd": os.getcwd(),
        "config": cfg.model_dump(mode="json"),
        "seed": cfg.seed,
        "engine": {"name": engine.name, "workers": engine.workers},
        "versions": _versions(),
        "inputs": {"raw": _input_entries(cfg.raw), "target": _input_entries(cfg.target)},
        "shards": len(shards),
        "counts": counts,
        "metrics": metrics,
        "timings": timer.stages,
        "throughput": {
            "seconds": round(seconds, 3),
            "docs_per_s": round(counts["read"] / seconds, 1) if seconds else None,
            "text_mb_per_s": round(nbytes / 1e6 / seconds, 2) if seconds else None,
            "text_bytes": nbytes,
        },
        "outputs": {
            "selected": "selected/",
            "docs": "docs/",
            "rejects": "rejects/" if (out / "rejects").exists() else None,
            "format": cfg.format,
        },
    }
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=2).encode() + b"\n")
    if cfg.report:
        from thresher.report import write_report

        write_report(out)
    return manifest


class _NullProgress:
    def track(self, it, total, label):
        yield from it


def run_select_dict(**kwargs: Any) -> dict:
    """Convenience for the API: build the config from keyword arguments and run."""
    return run_select(
        SelectConfig(**kwargs), command=[sys.argv[0], *sys.argv[1:]] if sys.argv else None
    )


def read_selected(out: str | os.PathLike) -> pa.Table:
    """The selected documents of a run directory as one table."""
    sel = Path(out) / "selected"
    parts = sorted(sel.glob("part-*.parquet"))
    if parts:
        return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    recs = [
        orjson.loads(line)
        for p in sorted(sel.glob("part-*.jsonl"))
        for line in p.read_bytes().splitlines()
    ]
    return records_to_table(recs)
