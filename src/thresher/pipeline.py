"""The select pipeline as phases over one :class:`Run`: plan, prepare, target, fit, scan,
dedup, select, write, manifest.

Work is split into shards (see :mod:`thresher.io.sources`) and mapped by an engine; the
per-shard tasks are in :mod:`thresher.tasks`, this module is the driver:

* *plan* validates everything (inputs, options, output location, scorer and filter options)
  before anything on disk is touched;
* *prepare* claims the run directory;
* *target* reads the target and lets target-fitted filters (``--lang auto``) decide;
* *fit* samples the raw shards (the first documents of every shard, in proportion to its
  size; or a full pass for count-fitted scorers with ``raw_sample=0``) and fits the scorer;
  while a slow fit keeps the driver busy, the workers beside it filter the rest of the
  shards for the scan (:class:`_Prefilter`);
* *scan* reads, filters, dedup-hashes and scores every document (the documents the fit
  sample read, or the prefilter decided, keep those decisions: none is filtered twice);
* *dedup* resolves duplicate clusters across shards;
* *select* chooses from the scores alone (and a seed), and the per-document token counts the
  scan made when the request is a token budget;
* *write* re-reads the chosen rows of each shard and writes them with score and provenance,
  plus a per-document decision table;
* *manifest* records counts, metrics, warnings and timings.

Results come back in shard order, so output is byte-identical for any number of workers or
engine.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import platform
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from thresher._version import __version__
from thresher.config import SelectConfig
from thresher.console import Reporter, as_reporter
from thresher.engine import make_engine
from thresher.engine.base import Engine
from thresher.errors import ConfigError, InputError
from thresher.io.formats import get_format
from thresher.io.fs import RemotePath
from thresher.io.fs import configure as configure_storage
from thresher.io.memory import MemoryInput, inputs_dir, materialize, on_disk
from thresher.io.readers import Reject, read_texts
from thresher.io.sources import InputFile, Shard, discover, plan_shards
from thresher.io.storage import redact
from thresher.io.writers import unify_parquet_parts, write_jsonl
from thresher.metrics.kl import kl_divergence, kl_reduction
from thresher.rundir import (
    DOCS,
    REJECTS,
    SELECTED,
    RunDir,
    disk_full_guard,
    fit_sample_limits,
    manifest_inputs,
    read_selected,
    writing,
)
from thresher.scorers import make_scorer
from thresher.select.budget import by_key, fill
from thresher.select.select import gumbel_noise, select_indices
from thresher.spill import DRIVER_DIR, release_freed_memory, spill, spill_scans
from thresher.tasks import (
    DUPLICATE,
    ELIGIBLE,
    FILTERED,
    Filtered,
    ShardScan,
    StageContext,
    WriteTask,
    load_checkpoint,
    prefilter_task,
    sample_task,
    save_checkpoint,
    scan_task,
    write_task,
)
from thresher.tasks import (
    warm_up as tasks_warm_up,
)
from thresher.text.ngrams import NgramHasher
from thresher.text.tokens import TokenCounter, make_counter

DEFAULT_FIT_SAMPLE = 100_000  # raw documents a scorer fits on when raw_sample is 0 but not counts
# The scan takes the fit sample's filter decisions on the documents it read (tests turn it
# off to compare: the output is the same bytes either way).
REUSE_SAMPLE_FILTERS = True
# While the driver fits a slow scorer, the workers filter the rest of every shard for the
# scan (tests turn it off to compare; needs REUSE_SAMPLE_FILTERS).
PREFILTER = True


@dataclass
class Timer:
    stages: dict[str, float] = field(default_factory=dict)
    say: Reporter | None = None  # shows each stage while it runs (progress lines, spinners)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            if self.say is None:
                yield
            else:
                with self.say.activity(name):
                    yield
        finally:
            self.stages[name] = round(self.stages.get(name, 0.0) + time.perf_counter() - t0, 4)


@dataclass
class Run:
    """Everything one run knows, filled in phase by phase."""

    cfg: SelectConfig
    say: Reporter
    command: list[str]
    run_file: str | os.PathLike | None = None  # the pipeline file: OUT may not hold it
    timer: Timer = field(default_factory=Timer)
    engine: Engine | None = None
    warnings: list[str] = field(default_factory=list)
    # plan
    raw_files: list[InputFile] = field(default_factory=list)
    target_files: list[InputFile] = field(default_factory=list)
    shards: list[Shard] = field(default_factory=list)
    filters: list[Any] = field(default_factory=list)
    scorer: Any | None = None
    counter: TokenCounter | None = None  # tokens per document (--tokenizer, or the estimate)
    ctx: StageContext | None = None
    # in-memory inputs (API) by label; after prepare, their files -> labels
    memory: dict[str, MemoryInput] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    # prepare
    inputs: dict[str, list[dict]] = field(default_factory=dict)  # identity by role (rundir)
    # target
    # (not pa.array([]): pyarrow imports pandas on its first pa.array of a list, ~0.15 s
    # that would delay starting the workers)
    target_texts: pa.Array = field(default_factory=lambda: pa.nulls(0, pa.large_string()))
    target_rejects: list[Reject] = field(default_factory=list)
    target_counts: np.ndarray | None = None
    learned: dict | None = None  # what target-fitted filters learned (manifest metrics)
    target_check: Any | None = None  # thresher.target_check.TargetCheck (manifest, report)
    # fit
    raw_counts: np.ndarray | None = None
    n_sample: int | None = None
    # the fit sample's filter decisions per shard, and the filters that made them (the scan
    # reuses them; None after a fit from a checkpoint)
    sampled: list[Filtered | None] | None = None
    sampled_filters: list[Any] = field(default_factory=list)
    # scan, dedup, select
    scans: list[ShardScan] = field(default_factory=list)
    scores: np.ndarray | None = None
    lengths: np.ndarray | None = None  # tokens per document
    status: np.ndarray | None = None
    cluster: np.ndarray | None = None
    selected: np.ndarray | None = None
    random: np.ndarray | None = None
    # write
    sel_counts: np.ndarray | None = None
    rnd_counts: np.ndarray | None = None

    @property
    def out(self) -> Path | RemotePath:
        return self.run_dir.root

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.cfg.out)

    def paths(self, role: str) -> list[str]:
        """``cfg.raw`` / ``cfg.target`` with each in-memory input's label replaced by its file."""
        files = {label: path for path, label in self.sources.items()}
        return [files.get(p, p) for p in getattr(self.cfg, role)]

    def warn(self, message: str) -> None:
        """A questionable request or result: printed now and recorded in the manifest."""
        self.warnings.append(message)
        self.say.warn(message)


def run_select(
    cfg: SelectConfig,
    progress: Any | None = None,
    command: list[str] | None = None,
    run_file: str | os.PathLike | None = None,
    memory: dict[str, MemoryInput] | None = None,
) -> dict:
    """Run the whole pipeline for ``cfg``; return the manifest (also written to OUT).

    ``run_file``: the pipeline file the run came from (OUT may not hold it). ``memory``:
    in-memory inputs by the label that stands for each in ``cfg.raw`` / ``cfg.target``
    (:func:`thresher.io.memory.memory_inputs`).
    """
    run = Run(cfg=cfg, say=as_reporter(progress), command=command or [], run_file=run_file)
    run.memory = dict(memory or {})
    run.timer.say = run.say
    configure_storage(cfg.storage_options)
    with run.timer.stage("plan"):
        plan(run)  # validates everything; nothing is written before it passes
    # Started before the target is read: its workers import and load kernels meanwhile.
    run.engine = make_engine(
        cfg.engine,
        cfg.workers,
        cfg.ray_address,
        warm_up=tasks_warm_up,
        max_tasks=None if run.memory else len(run.shards),  # in-memory inputs: shards later
    )
    try:
        # The lock prepare takes is released however the run ends; a full disk is one line.
        with run.run_dir, disk_full_guard(run.out):
            prepare(run)
            read_target(run)
            fit_filters_to_sample(run)
            fit(run)
            scan(run)
            dedup(run)
            select(run)
            write(run)
            return manifest(run)
    finally:
        run.engine.close()


# ---------------------------------------------------------------------------------------
# plan: validate everything, touch nothing
# ---------------------------------------------------------------------------------------


def plan(run: Run) -> None:
    """Find the inputs, build filters and scorer, check the output location."""
    cfg = run.cfg
    if cfg.method != "none" and not cfg.target:
        raise ConfigError("give --target: example documents of what you want")
    raw, target = on_disk(cfg.raw, run.memory), on_disk(cfg.target, run.memory)
    run.raw_files = discover(raw) if raw else []  # in-memory inputs: after prepare
    run.target_files = discover(target) if target else []
    if cfg.counts_tokens:  # a bad tokenizer file stops the run here
        run.counter = make_counter(cfg.tokenizer)
    run.run_dir.check(**_claim(run))
    run.filters = _build_filters(cfg)
    hygiene = _build_hygiene(cfg)  # reads the eval sets: their errors come before any write
    if cfg.method != "none":
        run.scorer = _build_scorer(cfg)
    run.shards = plan_shards(run.raw_files, cfg.shard_bytes)
    run.ctx = StageContext(
        out=str(run.out),
        text_field=cfg.text_field,
        fields=(cfg.quota_field,) if cfg.quota_field else (),
        filters=run.filters,
        scorer=None,
        dedup=cfg.dedup,
        dedup_threshold=cfg.dedup_threshold,
        dedup_ngram=cfg.dedup_ngram,
        fmt=cfg.format,
        num_buckets=cfg.num_buckets,
        ngrams=cfg.ngrams,
        resume=cfg.resume,
        write_dropped=cfg.write_dropped,
        max_row_bytes=cfg.max_row_bytes,
        counter=run.counter,
        storage_options=cfg.storage_options,
        hygiene=hygiene,
    )


def _build_hygiene(cfg: SelectConfig) -> Any | None:
    """Decontamination (the eval sets' n-gram index) and PII redaction, or None."""
    from thresher.hygiene import build_hygiene

    return build_hygiene(cfg)


def _build_filters(cfg: SelectConfig) -> list[Any]:
    if not cfg.filters:
        return []
    from thresher.filters import build_filters

    try:
        return build_filters(cfg.filters, **cfg.filter_options)
    except (TypeError, ValueError) as e:  # a bad name or option: the user's to fix
        raise ConfigError(f"filter options: {e}") from None


def _scorer_options(cfg: SelectConfig) -> dict:
    opts = dict(cfg.scorer_options)
    if cfg.method == "dsir":
        opts.setdefault("num_buckets", cfg.num_buckets)
        opts.setdefault("ngrams", cfg.ngrams)
        opts.setdefault("hashing", cfg.hashing)
    return opts


def _build_scorer(cfg: SelectConfig) -> Any:
    """The scorer with its options checked by name and type before anything runs."""
    from thresher.scorers import scorer_class

    try:
        cls = scorer_class(cfg.method)
    except ValueError as e:
        raise ConfigError(f"--method {cfg.method}: {e}") from None
    opts = _scorer_options(cfg)
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    known = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_KEYWORD]
    for key, value in opts.items():
        if key not in params and not takes_any:
            raise ConfigError(
                f"--method {cfg.method} has no option {key!r} (its options: {', '.join(known)})"
            )
        p = params.get(key)
        if p is not None:
            _check_option_type(cfg.method, key, value, p.default)
    try:
        return make_scorer(cfg.method, **opts)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--method {cfg.method}: {e}") from None


def _check_option_type(method: str, key: str, value: Any, default: Any) -> None:
    """An option whose default is a number, a bool or a string must be one (``abc`` is no int)."""
    if default is inspect.Parameter.empty or default is None:
        return
    kind = type(default)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if kind in (int, float, bool, str) and not ok:
        raise ConfigError(
            f"--method {method}: option {key}={value!r}: expected {kind.__name__} "
            f"(default {default!r})"
        )


# ---------------------------------------------------------------------------------------
# prepare: claim the run directory
# ---------------------------------------------------------------------------------------

_RUN_INVARIANT = (
    "out",
    "overwrite",
    "resume",
    "workers",
    "engine",
    "ray_address",
    "report",
    "storage_options",  # where the bytes come from, not what they are (inputs' identity says)
)


def _claim(run: Run) -> dict:
    """What the run directory checks before it is touched (see :meth:`RunDir.prepare`)."""
    cfg = run.cfg
    stamp = cfg.model_dump(mode="json", exclude=set(_RUN_INVARIANT))
    if run.counter is not None and "sha256" in run.counter.describe():  # its bytes, not its path
        stamp["tokenizer_sha256"] = run.counter.describe()["sha256"]
    return {
        "stamp": stamp,
        "inputs": {"raw": on_disk(cfg.raw, run.memory), "target": on_disk(cfg.target, run.memory)},
        "run_file": run.run_file,
        "overwrite": cfg.overwrite,
        "resume": cfg.resume,
    }


def prepare(run: Run) -> None:
    """Claim OUT (locked for the run); on --resume the options and input bytes must match."""
    with run.timer.stage("prepare"):
        run.inputs = run.run_dir.prepare(**_claim(run))
    if run.memory:
        with run.timer.stage("materialize"):
            _materialize(run)


def _materialize(run: Run) -> None:
    """Write the in-memory inputs under OUT/_work/inputs; from here on they are files."""
    cfg = run.cfg
    assert run.ctx is not None
    folder = inputs_dir(run.run_dir.work)
    for role in ("raw", "target"):
        for label in (p for p in getattr(cfg, role) if p in run.memory):
            ident = materialize(run.memory[label], folder, cfg.shard_bytes, resume=cfg.resume)
            run.sources[ident["file"]] = label
            run.inputs.setdefault(role, []).append(ident)
        if run.inputs.get(role):  # in the order of the inputs as given
            order = {f.path: i for i, f in enumerate(discover(run.paths(role)))}
            labels = {label: path for path, label in run.sources.items()}
            run.inputs[role].sort(key=lambda e: order[labels.get(e["path"], e["path"])])
    run.raw_files = discover(run.paths("raw"))
    run.shards = plan_shards(run.raw_files, cfg.shard_bytes)
    run.ctx.sources = run.sources


# ---------------------------------------------------------------------------------------
# target
# ---------------------------------------------------------------------------------------


def read_target(run: Run) -> None:
    """Read the target; let filters that take something from it (``--lang auto``) decide."""
    cfg = run.cfg
    with run.timer.stage("read_target"):
        if cfg.target:
            run.target_texts, run.target_rejects = read_texts(
                run.paths("target"),
                cfg.text_field,
                max_row_bytes=cfg.max_row_bytes,
                split=cfg.target_split,
            )
            for r in run.target_rejects:
                r.source = run.sources.get(r.source, r.source)
            if len(run.target_texts) == 0:
                raise InputError(
                    _nothing_read(
                        paths=cfg.target,
                        what="target",
                        rejects=run.target_rejects,
                        text_field=cfg.text_field,
                    )
                )
        if cfg.method != "none" and len(run.target_texts):
            _check_target(run)
        run.target_counts = NgramHasher(cfg.num_buckets, cfg.ngrams).counts(run.target_texts)
        run.learned = _fit_filters_to_target(run.filters, run.target_texts, run.say)


def _target_where(run: Run) -> list[str]:
    """A name per target document for messages: ``target.jsonl line 12`` (``doc 12`` when
    rejected rows or split text files make line numbers unknown)."""
    names: list[str] = []
    for path in run.paths("target"):
        for f in discover([path]):
            texts, rejects = read_texts(
                [f.path],
                run.cfg.text_field,
                max_row_bytes=run.cfg.max_row_bytes,
                split=run.cfg.target_split,
            )
            label = run.sources.get(f.path, f.path)
            unit = "line" if not rejects and f.format == "jsonl" else "doc"
            names += [f"{label} {unit} {i + 1}" for i in range(len(texts))]
    if len(names) != len(run.target_texts):  # pragma: no cover - defensive
        names = [f"target doc {i + 1}" for i in range(len(run.target_texts))]
    return names


def _check_target(run: Run) -> None:
    """Target diagnostics (thresher.target_check); drop, keep or refuse the outliers."""
    from thresher.target_check import check_target

    action = run.cfg.target_outliers
    with run.timer.stage("target_check"):
        where = _target_where(run)
        chk = check_target(run.target_texts, where=where, action=action)
    run.target_check = chk
    if chk.outliers and action == "error":
        names = ", ".join(f"{o['where']} ({'; '.join(o['reasons'])})" for o in chk.outliers[:10])
        more = f" and {len(chk.outliers) - 10} more" if len(chk.outliers) > 10 else ""
        raise ConfigError(
            f"--target-outliers error: {len(chk.outliers)} target documents are unlike the rest: "
            f"{names}{more}; remove them, or pass --target-outliers drop or keep"
        )
    if chk.outliers and action == "drop":
        keep = np.ones(len(run.target_texts), dtype=bool)
        keep[chk.outlier_indices()] = False
        if keep.sum() >= 1:
            run.target_texts = run.target_texts.filter(pa.array(keep))
            chk.dropped = int((~keep).sum())
    for line in chk.summary():
        run.say.note(line)


def _nothing_read(paths: list[str], what: str, rejects: list[Reject], text_field: str) -> str:
    """Why no document could be read, naming the commonest reject reason and an example line."""
    where = ", ".join(paths)
    if not rejects:
        return f"{where}: no {what} documents (the input is empty)"
    reasons = Counter(r.reason.split(":")[0] for r in rejects)
    top, n = reasons.most_common(1)[0]
    first = next(r for r in rejects if r.reason.split(":")[0] == top)
    hint = ""
    if top == "missing_text_field":
        hint = f"; no row has the text field {text_field!r} (set --text-field)"
    return (
        f"{where}: no {what} documents could be read: {len(rejects):,} row(s) rejected, "
        f"{n:,} as {top} (first: {first.source} line {first.row + 1}){hint}"
    )


def _fit_filters_to_target(filters: list, target_texts: pa.Array, say: Reporter) -> dict | None:
    """Fit the filters that need the target (``--lang auto``) before any raw document is
    filtered; return what they learned, for the manifest's metrics (None: nothing)."""
    learned: dict = {}
    for f in filters:
        if not f.needs_target:
            continue
        if len(target_texts) == 0:
            raise ConfigError(
                f"filter {f.name!r} is fitted to the target (--lang auto): it needs a target "
                "(select --target)"
            )
        info = f.fit_target(target_texts) or {}
        say.note(
            f"{f.name} fitted to {len(target_texts)} target docs: "
            + "; ".join(
                f"{k} {','.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in info.items()
                if not isinstance(v, dict)
            )
        )
        learned.update(f.report())
    return learned or None


def fit_filters_to_sample(run: Run) -> None:
    """Filters that learn from the corpus (``perplexity``: its quantile cut) see the raw fit
    sample before the scan: the documents the scorer would fit on that pass the other filters."""
    needing = [f for f in run.filters if f.needs_sample]
    if not needing:
        return
    cfg, ctx = run.cfg, run.ctx
    assert ctx is not None and run.engine is not None
    with run.timer.stage("fit_filters"):
        others = dataclasses.replace(
            ctx, filters=[f for f in run.filters if not f.needs_sample], scorer=None
        )
        limits = fit_sample_limits(run.shards, run.raw_files, cfg.raw_sample or DEFAULT_FIT_SAMPLE)
        # Not the fit's filter chain (perplexity is left out): no decisions for the scan.
        tasks = [(s, n, others, True, False) for s, n in zip(run.shards, limits, strict=True)]
        parts = list(run.say.track(run.engine.map(sample_task, tasks), len(tasks), "sample raw"))
        sample = _concat_texts([p.texts for p in parts if p.texts is not None])
        for f in needing:
            info = f.fit_sample(sample) or {}
            run.say.note(
                f"{f.name} fitted to the raw sample: "
                + "; ".join(f"{k} {v}" for k, v in info.items())
            )
            run.learned = {**(run.learned or {}), **f.report()}


# ---------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------


def fit(run: Run) -> None:
    """Fit the scorer on the target and raw documents (from a checkpoint on --resume)."""
    cfg = run.cfg
    ctx = run.ctx
    assert ctx is not None
    with run.timer.stage("fit"):
        if run.scorer is None:
            run.raw_counts, run.n_sample = np.zeros(cfg.num_buckets, np.int64), None
            return
        ckpt = ctx.run_dir.fit_checkpoint
        fitted = load_checkpoint(ckpt) if cfg.resume else None
        if fitted is None:
            fitted = _fit(run)
            save_checkpoint(ckpt, fitted)
        run.scorer, run.raw_counts, run.n_sample = fitted
        ctx.scorer = run.scorer
        _adopt_fit_choices(run)


def _adopt_fit_choices(run: Run) -> None:
    """A scorer that chose a filter in its fit (auto: the target language): scan with it
    (after the user's filters)."""
    assert run.ctx is not None
    for line in run.scorer.summary():
        run.say.note(line)
    lf = run.scorer.language_filter
    if lf is not None:
        run.filters = [*run.filters, lf]
        run.ctx.filters = run.filters


def _fit(run: Run) -> tuple[Any, np.ndarray, int | None]:
    """Fit the scorer; return it, the raw KL counts and the sample size.

    A scorer that fits on n-gram counts (dsir) needs only counts from the workers: of
    ``raw_sample`` documents spread over the shards in proportion to their size, or of
    every document (``raw_sample=0``). Other scorers get the sampled texts themselves.
    """
    cfg, ctx, scorer = run.cfg, run.ctx, run.scorer
    assert ctx is not None and run.engine is not None
    by_counts = scorer.fits_on_counts
    full_pass = by_counts and cfg.raw_sample == 0
    limits = fit_sample_limits(run.shards, run.raw_files, _fit_sample_size(cfg, scorer))
    ctx.scorer = scorer  # unfitted: only its featurizer is used here
    tasks = [
        (s, None if full_pass else n, ctx, not by_counts, REUSE_SAMPLE_FILTERS)
        for s, n in zip(run.shards, limits, strict=True)
    ]
    label = "fit raw" if full_pass else "sample raw"
    _import_in_background(scorer.fit_imports)
    parts = list(run.say.track(run.engine.map(sample_task, tasks), len(tasks), label))
    run.sampled = [p.filtered for p in parts]
    run.sampled_filters = list(ctx.filters)
    n_docs = sum(p.n_docs for p in parts)
    if n_docs == 0:
        raise InputError(_nothing_sampled(run, parts))
    raw_counts = np.sum([p.kl_counts for p in parts], axis=0)
    fraction = cfg.fraction
    if fraction is None and cfg.k is not None and all(p.exhausted for p in parts):
        fraction = min(1.0, cfg.k / n_docs)  # the sample saw every document that passes the filters
    if fraction is not None:
        scorer.expect_fraction(fraction)
    if by_counts:
        fit_counts = np.sum([p.fit_counts for p in parts], axis=0)
        scorer = scorer.fit_counts(scorer.counts(run.target_texts), fit_counts)
    else:
        sample = _concat_texts([p.texts for p in parts])
        prefilter = _Prefilter.start(run, parts) if scorer.slow_fit else None
        try:
            # The leak screen runs beside the fit: a model's fit (liblinear) keeps one core
            # busy and leaves the other idle while the workers wait.
            with ThreadPoolExecutor(1) as pool:
                copies = pool.submit(_raw_copies, run, sample)
                scorer = scorer.fit(run.target_texts, sample)
                _report_raw_copies(run, copies.result())
        except BaseException:
            if prefilter is not None:
                prefilter.end()  # the engine's close waits for the started tasks
            raise
        if prefilter is not None:
            run.sampled = prefilter.finish()
    return scorer, raw_counts, None if full_pass else n_docs


class _Prefilter:
    """The scan's filters on the rest of every shard (after its fit sample's documents), run
    on the workers while the driver fits a slow scorer (``slow_fit``), for the scan to take
    as it takes the sample's decisions (:func:`thresher.tasks.prefilter_task`).

    On the 1 GB bench corpus with ``--lang auto`` language id is ~60% of the scan's CPU and
    the classifier's fit keeps the driver ~4 s with one core idle for most of it (liblinear
    is single-threaded): the workers beside it, at the lowest priority, decide the shards in
    order until the fit ends (a shard they started stops at its next 2 MB block); the scan
    filters what they did not reach. Only the filters known before the fit (auto's language
    filter is chosen by it and runs in the scan on what these keep), only when the sample
    kept decisions (filters, no hygiene rewriting), and nothing on resume from a fit
    checkpoint (the scan filters).
    Decisions are small (keep, rule, value, annotations per document): they wait in the
    driver like the sample's, about the size of the scan's own results.
    """

    def __init__(self, run: Run, tasks: list[tuple], index: list[int]) -> None:
        self.sampled = list(run.sampled or [])
        self.index = index  # shard of each task
        self.stop = threading.Event()
        self._marker = run.run_dir.prefilter_stop  # the tasks' stop
        with writing(self._marker):
            self._marker.unlink(missing_ok=True)  # (left by a run that failed in its fit)
        self._result: list[Filtered | None] | None = None
        self._error: BaseException | None = None
        engine = run.engine
        assert engine is not None
        self._thread = threading.Thread(
            target=self._run, args=(engine, tasks), name="thresher-prefilter", daemon=True
        )
        self._thread.start()

    @classmethod
    def start(cls, run: Run, parts: list) -> _Prefilter | None:
        """Start on the shards the sample did not read to the end; None when nothing to do."""
        ctx = run.ctx
        assert ctx is not None
        if not (PREFILTER and REUSE_SAMPLE_FILTERS and ctx.filters and ctx.hygiene is None):
            return None
        if run.sampled is None:
            return None
        # The scorer stays out: the filters are all a task needs, and it is not fitted yet.
        pctx = dataclasses.replace(ctx, scorer=None)
        tasks, index = [], []
        for i, (shard, part, done) in enumerate(zip(run.shards, parts, run.sampled, strict=True)):
            if part.exhausted:  # the sample decided every document of the shard
                continue
            skip, row = (len(done), done.last_row) if done is not None else (0, -1)
            tasks.append((shard, pctx, skip, row))
            index.append(i)
        return cls(run, tasks, index) if tasks else None

    def _run(self, engine: Engine, tasks: list[tuple]) -> None:
        try:
            self._result = engine.map_beside(prefilter_task, tasks, self.stop)
        except BaseException as e:  # raised in the driver's main thread by finish()
            self._error = e

    def end(self) -> None:
        """No new shard, and the started ones stop at their next batch (the marker)."""
        with writing(self._marker):
            self._marker.parent.mkdir(parents=True, exist_ok=True)
            self._marker.touch()
        self.stop.set()

    def finish(self) -> list[Filtered | None]:
        """End, and wait for the started shards (a batch each); per shard, the sample's
        decisions followed by the prefilter's (the scan filters whatever neither made)."""
        self.end()
        self._thread.join()
        with writing(self._marker):
            self._marker.unlink(missing_ok=True)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        out = list(self.sampled)
        for i, rest in zip(self.index, self._result, strict=True):
            if rest is not None:
                out[i] = rest if out[i] is None else out[i].then(rest)
        return out


def _import_in_background(modules: tuple[str, ...]) -> None:
    """Start importing what the fit will need while the driver waits for the workers (an
    import the fit then makes waits for this one: Python's import lock is per module)."""
    if modules:
        threading.Thread(
            target=lambda: [importlib.import_module(m) for m in modules], daemon=True
        ).start()


def _fit_sample_size(cfg: SelectConfig, scorer: Any) -> int:
    """Raw documents to sample for the fit: ``raw_sample``, or fewer when the scorer uses
    fewer (``fit_sample_docs``) and the user did not set ``raw_sample``."""
    if cfg.raw_sample:
        return cfg.raw_sample
    cap = scorer.fit_sample_docs
    if cap is not None and cfg.raw_sample is None:
        return min(DEFAULT_FIT_SAMPLE, int(cap))
    return DEFAULT_FIT_SAMPLE


def _concat_texts(texts: list[pa.Array]) -> pa.Array:
    """One array of the shards' sampled texts (Parquet shards give string, JSONL large_string)."""
    if not texts:
        return pa.array([], pa.large_string())
    if len({t.type for t in texts}) > 1:
        texts = [t.cast(pa.large_string()) for t in texts]
    return pa.concat_arrays(texts)


def _raw_copies(run: Run, sample: pa.Array) -> dict | None:
    """Raw documents of the fit sample that are (near-)copies of target documents."""
    from thresher.target_check import find_raw_copies

    if run.target_check is None:
        return None
    return find_raw_copies(run.target_texts, sample)


def _report_raw_copies(run: Run, copies: dict | None) -> None:
    chk = run.target_check
    if chk is None or copies is None:
        return
    chk.raw_copies = copies
    for line in chk.summary():
        if "copies of" in line:
            run.say.note(line)


def _nothing_sampled(run: Run, parts: list) -> str:
    """Why the fit got no raw document: nothing read, all rejected, or all filtered (by what)."""
    where = ", ".join(run.cfg.raw)
    n_read = sum(p.n_read for p in parts)
    dropped: Counter[str] = Counter()
    for p in parts:
        dropped.update(p.dropped)
    if n_read == 0:
        return (
            f"{where}: no raw documents could be read (empty, or every row rejected: see rejects)"
        )
    rules = ", ".join(f"{n:,} by {rule}" for rule, n in dropped.most_common(3))
    kept = ""
    languages = run.cfg.filter_options.get("languages")
    fitted = (run.learned or {}).get("target_languages")
    if fitted:  # --lang auto: the languages it took from the target
        languages = fitted["languages"]
    if languages:
        kept = f" (kept languages: {', '.join(languages)})"
    return (
        f"{where}: every raw document was filtered out: read {n_read:,}, filtered {rules}{kept}; "
        "loosen the filters"
    )


# ---------------------------------------------------------------------------------------
# scan and dedup
# ---------------------------------------------------------------------------------------


def scan(run: Run) -> None:
    """Read, filter, dedup-hash and score every document of every shard."""
    assert run.engine is not None and run.ctx is not None
    tasks = list(zip(run.shards, [run.ctx] * len(run.shards), _reusable(run), strict=True))
    run.sampled = None
    with run.timer.stage("scan"):
        scans = run.engine.map(scan_task, tasks)
        run.scans = list(run.say.track(scans, len(tasks), "score", nbytes=_input_bytes(run)))
    run.shards = _resolve_rows(run.shards, run.scans, run.out)
    n_valid = sum(len(s.rows) for s in run.scans)
    n_rejected = sum(len(s.rejects) for s in run.scans)
    if n_valid + n_rejected == 0:
        raise InputError(f"{', '.join(run.cfg.raw)}: input is empty (no documents)")
    # Per-document arrays of the whole run live in mapped files, not the driver's heap.
    folder = run.run_dir.work / DRIVER_DIR
    run.scores = spill(folder / "scores64.npy", [s.scores for s in run.scans], np.float64)
    if run.counter is not None:
        run.lengths = spill(folder / "lengths.npy", [s.tokens for s in run.scans], np.int64)
    run.status = np.concatenate([s.status for s in run.scans])
    spill_scans(run.scans, folder)


def _reusable(run: Run) -> list[Filtered | None]:
    """Per shard, the fit sample's filter decisions the scan may take (else None).

    Only those of the scan's own filters: the sample's chain must be the first filters of
    the scan's, the same objects (a filter fitted to the sample, perplexity, was fitted
    before the fit sample was taken; one appended after the fit, auto's language filter,
    runs in the scan on what the reused decisions keep). Nothing after a fit from a
    checkpoint (--resume), without a scorer (no fit sample), or when hygiene may rewrite
    texts (the scan filters the rewritten ones).
    """
    assert run.ctx is not None
    none: list[Filtered | None] = [None] * len(run.shards)
    if not REUSE_SAMPLE_FILTERS or run.sampled is None or run.ctx.hygiene is not None:
        return none
    k = len(run.sampled_filters)
    head = run.ctx.filters[:k]
    if len(head) < k or any(a is not b for a, b in zip(head, run.sampled_filters, strict=True)):
        return none
    return list(run.sampled)  # one per shard: the scan's zip(..., strict=True) checks it


def _input_bytes(run: Run) -> int:
    """Input bytes the shards stand for (compressed for .gz): the scale of a pass's progress."""
    sizes = {f.path: f.size for f in run.raw_files}
    per_file = Counter(s.path for s in run.shards)
    return int(
        sum(
            get_format(s.format).shard_share(s, sizes.get(s.path, 0), per_file[s.path])
            for s in run.shards
        )
    )


def _resolve_rows(shards: list[Shard], scans: list[ShardScan], out: Path) -> list[Shard]:
    """Turn shard-relative JSONL line numbers into file line numbers; write the rejects.

    A byte-range shard does not know how many lines come before it until the shards
    before it are read; each scan reports its line count, so the offsets are prefix
    sums per file. Returns the shards with ``first_row`` filled in.
    """
    resolved = []
    lines_before: dict[str, int] = {}
    for shard, sc in zip(shards, scans, strict=True):
        if shard.first_row < 0:
            base = lines_before.get(shard.path, 0)
            sc.rows = sc.rows + base
            for r in sc.rejects:
                r.row += base
            shard = dataclasses.replace(shard, first_row=base)
        if get_format(shard.format).rows_resolved_after_scan:
            lines_before[shard.path] = shard.row_base + sc.lines
        if sc.rejects:
            _write_rejects(RunDir(out).part(REJECTS, shard.name, "jsonl"), sc.rejects)
        resolved.append(shard)
    return resolved


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl([r.as_dict() for r in rejects], path)


def dedup(run: Run) -> None:
    """Mark duplicates across shards (the first of each cluster survives)."""
    cfg = run.cfg
    assert run.ctx is not None and run.status is not None and run.scores is not None
    with run.timer.stage("dedup"):
        if cfg.dedup == "none":
            return
        from thresher.dedup.stage import DedupSpec, resolve

        offsets = np.cumsum([0] + [len(s.rows) for s in run.scans])[:-1].astype(np.int64)
        spec = DedupSpec(cfg.dedup, cfg.dedup_threshold, cfg.dedup_ngram)
        dup, cluster = resolve(run.ctx.run_dir.dedup, spec, offsets, len(run.scores))
        run.status[dup & (run.status == ELIGIBLE)] = DUPLICATE
        run.cluster = spill(run.run_dir.work / DRIVER_DIR / "cluster.npy", [cluster], np.int64)
        del dup, cluster
        release_freed_memory()


# ---------------------------------------------------------------------------------------
# select
# ---------------------------------------------------------------------------------------


def select(run: Run) -> None:
    """Choose from the scores (and the seed) alone; draw the same-size random baseline."""
    cfg = run.cfg
    scores, status, lengths = run.scores, run.status, run.lengths
    assert scores is not None and status is not None
    with run.timer.stage("select"):
        eligible = status == ELIGIBLE
        n_eligible = int(eligible.sum())
        _check_request(run, n_eligible)
        how = dict(
            mode=cfg.resolved_mode,
            k=cfg.k,
            fraction=cfg.fraction,
            threshold=cfg.threshold,
            seed=cfg.seed,
            temperature=cfg.temperature,
            tokens=cfg.tokens,
            lengths=lengths,
        )
        auto_quotas = run.scorer.language_quotas if run.scorer is not None else None
        if cfg.quotas:
            from thresher.select.quotas import select_with_quotas

            groups = _quota_groups(run, eligible)
            chosen = select_with_quotas(scores, eligible, groups, cfg.quotas, **how)
        elif auto_quotas and run.scorer.language_filter is not None:
            from thresher.select.quotas import select_with_quotas

            langs = [v for s in run.scans for v in s.annotations["language"].to_pylist()]
            groups = np.array([str(v) for v in langs], dtype=object)
            chosen = select_with_quotas(scores, eligible, groups, auto_quotas, **how)
        else:
            chosen = select_indices(scores, eligible, **how)
        run.selected = np.zeros(len(scores), dtype=bool)
        run.selected[chosen] = True
        # Random baseline of the same size among the same eligible documents: as many
        # documents, or under a token budget as many tokens.
        noise = gumbel_noise(len(scores), cfg.seed + 1_000_003)
        run.random = np.zeros(len(scores), dtype=bool)
        if cfg.tokens is not None:
            assert lengths is not None
            idx = np.flatnonzero(eligible)
            run.random[fill(idx[by_key(noise[idx])], lengths, int(lengths[chosen].sum()))] = True
        else:
            run.random[select_indices(noise, eligible, mode="topk", k=len(chosen))] = True
        _check_fill(run, eligible)


def _funnel(run: Run) -> str:
    """``read 1,275, filtered 1,275 (language: 1,275)``: what happened before selection."""
    assert run.status is not None
    n_rej = sum(len(s.rejects) for s in run.scans)
    parts = [f"read {len(run.status) + n_rej:,}"]
    if n_rej:
        parts.append(f"rejected {n_rej:,}")
    n_f = int((run.status == FILTERED).sum())
    if n_f:
        rules: Counter[str] = Counter()
        for s in run.scans:
            rules.update(rule for rule, _ in s.reasons.values())
        top = ", ".join(f"{rule}: {n:,}" for rule, n in rules.most_common(3))
        parts.append(f"filtered {n_f:,} ({top})")
    n_d = int((run.status == DUPLICATE).sum())
    if n_d:
        parts.append(f"duplicate {n_d:,}")
    return ", ".join(parts)


def _check_request(run: Run, n_eligible: int) -> None:
    """Say so when the request cannot be met as asked (and record it)."""
    cfg = run.cfg
    if n_eligible == 0:
        run.warn(f"no document is eligible for selection: {_funnel(run)}")
    elif cfg.k is not None and cfg.k > n_eligible and cfg.resolved_mode != "all":
        run.warn(
            f"k={cfg.k:,} but only {n_eligible:,} documents are eligible "
            f"({_funnel(run)}): selecting all {n_eligible:,}"
        )
    elif cfg.tokens is not None and run.lengths is not None:
        have = int(run.lengths[run.status == ELIGIBLE].sum())
        if have < cfg.tokens:
            run.warn(
                f"tokens={cfg.tokens:,} but the {n_eligible:,} eligible documents hold only "
                f"{have:,} tokens ({_funnel(run)}): selecting at most {have:,}"
            )


# A budget filled below this share, though the eligible documents hold enough, is worth a line.
FILL_WARN = 0.97


def _check_fill(run: Run, eligible: np.ndarray) -> None:
    """Say so when a token budget was filled to less than 97% though the documents were there
    (a few documents each larger than what is left; or a threshold or quota that limits)."""
    cfg, lengths, selected = run.cfg, run.lengths, run.selected
    if cfg.tokens is None or lengths is None or selected is None:
        return
    got = int(lengths[selected].sum())
    pool = eligible
    if cfg.resolved_mode == "threshold" and run.scores is not None:
        pool = eligible & (run.scores >= cfg.threshold)
    have = int(lengths[pool].sum())
    if got < FILL_WARN * min(cfg.tokens, have):
        left = lengths[pool & ~selected]
        smallest = f"; the smallest left out has {int(left.min()):,}" if len(left) else ""
        run.warn(
            f"selected {got:,} tokens, {got / cfg.tokens:.1%} of the budget of {cfg.tokens:,} "
            f"(the candidates hold {have:,}{smallest})"
        )


def _quota_groups(run: Run, eligible: np.ndarray) -> np.ndarray:
    """The quota field's value per document; a field no document has is an error."""
    cfg = run.cfg
    assert cfg.quota_field is not None and cfg.quotas is not None
    values = [v for s in run.scans for v in s.fields[cfg.quota_field]]
    if all(v is None for v in values):
        raise ConfigError(
            f"--quota-field {cfg.quota_field}: no document has this field ({_funnel(run)})"
        )
    groups = np.array([str(v) for v in values], dtype=object)
    present = set(groups[eligible].tolist())
    for g, share in cfg.quotas.items():
        if g != "*" and share > 0 and g not in present:
            run.warn(
                f"quota group {cfg.quota_field}={g} has no eligible document: "
                "its share goes to the other groups"
            )
    return groups


# ---------------------------------------------------------------------------------------
# write
# ---------------------------------------------------------------------------------------


def write(run: Run) -> None:
    """Each shard writes its selected records and decision table; unify Parquet schemas."""
    cfg = run.cfg
    assert run.engine is not None and run.ctx is not None and run.status is not None
    assert run.selected is not None and run.random is not None and run.scores is not None
    with run.timer.stage("write"):
        tasks = write_tasks(run)
        run.sel_counts = np.zeros(cfg.num_buckets, np.int64)
        run.rnd_counts = np.zeros(cfg.num_buckets, np.int64)
        done = run.engine.map(write_task, tasks)
        for _, sc_, rc_ in run.say.track(done, len(tasks), "write", nbytes=_input_bytes(run)):
            run.sel_counts += sc_
            run.rnd_counts += rc_
        release_freed_memory()  # the driver's own write tasks' buffers, before the report
        if cfg.format == "parquet":
            unify_parquet_parts(run.run_dir.selected_parts())
        if run.target_rejects:
            _write_rejects(run.run_dir.target_rejects, run.target_rejects)


def write_tasks(run: Run) -> list[WriteTask]:
    """A task per shard with its slices of the per-document arrays (never a whole one)."""
    assert run.ctx is not None and run.status is not None
    assert run.selected is not None and run.random is not None
    tasks = []
    o = 0
    for sh, sc in zip(run.shards, run.scans, strict=True):
        m = len(sc.rows)
        tasks.append(
            WriteTask(
                shard=sh,
                rows=sc.rows,
                scores=sc.scores,
                status=run.status[o : o + m],
                reasons=sc.reasons,
                selected=run.selected[o : o + m],
                random=run.random[o : o + m],
                cluster=None if run.cluster is None else run.cluster[o : o + m],
                ctx=run.ctx,
                annotations=sc.annotations,
                starts=sc.starts,
            )
        )
        o += m
    return tasks


# ---------------------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------------------


def manifest(run: Run) -> dict:
    """Counts, metrics, warnings, inputs and timings; written last (it marks a finished run)."""
    cfg = run.cfg
    status, selected, scores = run.status, run.selected, run.scores
    assert status is not None and selected is not None and scores is not None
    eligible = status == ELIGIBLE
    n_rejected = sum(len(s.rejects) for s in run.scans)
    counts = {
        "read": len(status) + n_rejected,
        "rejected": n_rejected,
        "filtered": int((status == FILTERED).sum()),
        "duplicate": int((status == DUPLICATE).sum()),
        "selected": int(selected.sum()),
        "not_selected": int(eligible.sum() - selected.sum()),
        "target_read": len(run.target_texts) + len(run.target_rejects) + _target_dropped(run),
        "target_rejected": len(run.target_rejects),
        "target_outliers_dropped": _target_dropped(run),
        **_token_counts(run, eligible),
    }
    if counts["read"] != sum(
        counts[k] for k in ("rejected", "filtered", "duplicate", "selected", "not_selected")
    ):  # pragma: no cover - a bug, never the user's input
        raise AssertionError(f"counts do not add up: {counts}")
    metrics = _metrics(run, eligible)
    nbytes = sum(s.nbytes for s in run.scans)
    seconds = sum(run.timer.stages.values())
    assert run.engine is not None
    m = {
        "thresher_version": __version__,
        "command": run.command,
        "cwd": os.getcwd(),
        "config": {**cfg.model_dump(mode="json"), "storage_options": redact(cfg.storage_options)},
        "seed": cfg.seed,
        "engine": {"name": run.engine.name, "workers": run.engine.workers},
        "versions": _versions(),
        "inputs": manifest_inputs(run.inputs),
        "shards": len(run.shards),
        "counts": counts,
        "metrics": metrics,
        "tokens": _tokens(run),
        "warnings": run.warnings,
        "auto": run.scorer.decision if cfg.method == "auto" else None,
        "target_check": run.target_check.as_dict() if run.target_check is not None else None,
        "timings": run.timer.stages,
        "throughput": {
            "seconds": round(seconds, 3),
            "docs_per_s": round(counts["read"] / seconds, 1) if seconds else None,
            "text_mb_per_s": round(nbytes / 1e6 / seconds, 2) if seconds else None,
            "text_bytes": nbytes,
        },
        **_hygiene_manifest(run),
        "outputs": {
            "selected": f"{SELECTED}/",
            "docs": f"{DOCS}/",
            "rejects": f"{REJECTS}/" if run.run_dir.rejects.exists() else None,
            "format": cfg.format,
        },
    }
    run.run_dir.write_manifest(m)
    if cfg.report:
        from thresher.report import write_report

        write_report(run.out)
    return m


def _hygiene_manifest(run: Run) -> dict:
    """``decontamination`` and ``redactions`` sections (when those stages ran)."""
    assert run.ctx is not None
    if run.ctx.hygiene is None:
        return {}
    from thresher.hygiene import manifest_sections

    return manifest_sections(run.ctx.hygiene, run.scans, run.shards, run.ctx.source_name)


def _target_dropped(run: Run) -> int:
    """Target documents left out of the fit as outliers (--target-outliers drop)."""
    return run.target_check.dropped if run.target_check is not None else 0


def _token_counts(run: Run, eligible: np.ndarray) -> dict[str, int]:
    """Tokens where the documents went (rejected rows have no text, so no tokens):
    tokens_read = tokens_filtered + tokens_duplicate + tokens_not_selected + tokens_selected.
    Nothing when the run counted no tokens."""
    lengths, status, selected = run.lengths, run.status, run.selected
    if lengths is None:
        return {}
    assert status is not None and selected is not None
    out = {
        "tokens_read": int(lengths.sum()),
        "tokens_filtered": int(lengths[status == FILTERED].sum()),
        "tokens_duplicate": int(lengths[status == DUPLICATE].sum()),
        "tokens_not_selected": int(lengths[eligible & ~selected].sum()),
        "tokens_selected": int(lengths[selected].sum()),
    }
    if out["tokens_read"] != sum(
        out[k]
        for k in ("tokens_filtered", "tokens_duplicate", "tokens_not_selected", "tokens_selected")
    ):  # pragma: no cover - a bug, never the user's input
        raise AssertionError(f"token counts do not add up: {out}")
    return out


def _tokens(run: Run) -> dict | None:
    """How tokens were counted, the budget and how full it is (the manifest's ``tokens``)."""
    if run.counter is None or run.lengths is None:
        return None
    assert run.selected is not None
    got = int(run.lengths[run.selected].sum())
    budget = run.cfg.tokens
    return {
        **run.counter.describe(),
        "budget": budget,
        "selected": got,
        "fill": round(got / budget, 6) if budget else None,
    }


def _metrics(run: Run, eligible: np.ndarray) -> dict:
    cfg = run.cfg
    tc, rc, sc, nc = run.target_counts, run.raw_counts, run.sel_counts, run.rnd_counts
    assert tc is not None and rc is not None and sc is not None and nc is not None
    assert run.selected is not None and run.scores is not None
    has_kl = len(run.target_texts) > 0 and rc.sum() > 0
    scorer = run.scorer
    metrics: dict[str, Any] = {
        "kl_target_raw": kl_divergence(tc, rc) if has_kl else None,
        "kl_target_selected": kl_divergence(tc, sc) if has_kl else None,
        "kl_target_random": kl_divergence(tc, nc) if has_kl else None,
        "kl_reduction": kl_reduction(tc, rc, sc) if has_kl else None,
        "kl_reduction_random": kl_reduction(tc, rc, nc) if has_kl else None,
        "raw_fit_docs": run.n_sample,
        **(run.learned or {}),
        **(scorer.report() if scorer is not None else {}),
        "eligible": int(eligible.sum()),
        "k": int(run.selected.sum()),
    }
    sel_scores = run.scores[run.selected]
    if len(sel_scores) and cfg.method != "none":
        metrics["score_cut"] = float(np.min(sel_scores))
    red, red_rnd = metrics["kl_reduction"], metrics["kl_reduction_random"]
    if has_kl and red is not None and red < 0:
        small = " (or k is too small for this measure)" if metrics["k"] < 1000 else ""
        run.warn(
            f"the selection is further from the target than the raw corpus is, in hashed n-grams "
            f"(KL reduction {red:.4f}; a random selection: {red_rnd:.4f}): the target may match "
            f"little in this corpus{small}"
        )
    return metrics


def _versions() -> dict[str, str]:
    import numba

    return {
        "thresher": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        "numba": numba.__version__,
    }


def run_select_dict(**kwargs: Any) -> dict:
    """Convenience for the API: build the config from keyword arguments and run."""
    return run_select(
        SelectConfig(**kwargs), command=[sys.argv[0], *sys.argv[1:]] if sys.argv else None
    )


__all__ = ["read_selected", "run_select", "run_select_dict"]  # read_selected: rundir's, for api
