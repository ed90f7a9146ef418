"""While the driver fits a slow scorer (``slow_fit``: classifier, dense, hybrid, auto), the
workers run the scan's filters on the rest of every shard, and the scan takes those
decisions as it takes the fit sample's: the same bytes out as the plain path (shards split
mid-file, 1 and 2 workers, the local engine; Ray in tests/test_engine.py), each document
filtered once, and nothing of it for quick fits (dsir)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.test_sample_reuse import (
    TARGET,
    _phases,
    assert_same_run,
    counted,
    counting,  # noqa: F401 - the fixture
    select,
)
from thresher import pipeline as P
from thresher.config import SelectConfig
from thresher.engine import make_engine
from thresher.errors import InputError
from thresher.io.readers import ShardReader
from thresher.io.sources import discover, plan_shards
from thresher.scorers import SCORERS, scorer_class
from thresher.tasks import StageContext, prefilter_task

SHARDS = 2_500_000  # the sample pool (~7.3 MB of plain JSONL) in 3 byte-range shards


@pytest.fixture
def prefilter_whole(monkeypatch) -> list:
    """The fit waits for the prefilter to decide every shard (on this small corpus the fit
    can end before its first shard: the test would then show nothing). Yields a list that
    gets, per run, the shards the prefilter decided."""
    decided: list = []
    finish = P._Prefilter.finish

    def whole(self: P._Prefilter) -> list:
        self._thread.join()  # (stop not set: it hands out every shard)
        decided.append(sum(r is not None for r in self._result or []))
        return finish(self)

    monkeypatch.setattr(P._Prefilter, "finish", whole)
    return decided


def lang_auto_classifier(plain_raw_path: Path, counting: Path, workers: int) -> dict:  # noqa: F811
    return dict(
        raw=[str(plain_raw_path)],
        method="classifier",
        raw_sample=300,  # a sample that stops early in every shard: the rest is the prefilter's
        filters=["counting", "lang"],
        filter_options={"languages": ["auto"], "counting": {"log": str(counting)}},
        workers=workers,
        shard_bytes=SHARDS,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_prefiltered_classifier_lang_auto_same_bytes_as_filtering_in_the_scan(
    plain_raw_path,
    tmp_path,
    monkeypatch,
    counting,  # noqa: F811
    prefilter_whole,
    workers,
) -> None:
    """`select --method classifier --lang auto` on 3 shards split mid-file: the prefiltered
    run (2 workers: one filters beside the fit) writes the same bytes as a run that filters
    every document in the scan, and filters each document once (the other: twice what the
    sample read)."""
    opts = lang_auto_classifier(plain_raw_path, counting, workers)
    runs, seen = [], []
    for on in (True, False):
        monkeypatch.setattr(P, "PREFILTER", on)
        out = tmp_path / f"prefilter-{on}"
        counting.unlink(missing_ok=True)
        runs.append((out, select(out, on, monkeypatch, **opts)))  # reuse off: the plain path
        seen.append(counted(counting))
    assert_same_run(*runs[0], *runs[1])
    c = runs[0][1]["counts"]
    docs = c["read"] - c["rejected"]
    assert c["filtered"] > 1000  # 13 languages, the target's is English
    assert seen[0] == docs < seen[1]
    # One worker has no process beside the driver: nothing is prefiltered.
    assert prefilter_whole == [3 if workers == 2 else 0]


def test_prefilter_covers_the_shards_then_the_scan_filters_nothing(
    plain_raw_path,
    tmp_path,
    counting,  # noqa: F811
    prefilter_whole,
) -> None:
    """Phase by phase: after the fit, each shard's decisions are the sample's followed by the
    prefilter's, as many as the shard's documents, so the scan filters none of them."""
    cfg = SelectConfig(
        target=[TARGET],
        out=str(tmp_path / "run"),
        fraction=0.1,
        report=False,
        **lang_auto_classifier(plain_raw_path, counting, 2),
    )
    decided: list = []

    def after_fit(run: P.Run) -> None:
        assert run.sampled is not None and len(run.sampled) == len(run.shards) == 3
        assert all(f is not None and f.filters == 2 for f in run.sampled)
        decided.extend(len(f) for f in run.sampled)
        assert counted(counting) == sum(decided)

    run = _phases(cfg, after_fit)
    assert prefilter_whole == [3]
    assert decided == [len(s.rows) for s in run.scans]
    assert counted(counting) == len(run.status)


def test_a_fit_that_ends_first_leaves_the_rest_to_the_scan(
    plain_raw_path,
    tmp_path,
    monkeypatch,
    counting,  # noqa: F811
) -> None:
    """The fit ends as the prefilter starts (stop set at once: it decides at most the shard
    it started): the scan filters what it did not decide, and the output is the plain
    path's, each document filtered once."""
    start = P._Prefilter.start

    def stopped(run: P.Run, parts: list) -> P._Prefilter | None:
        pre = start(run, parts)
        if pre is not None:
            pre.end()
        return pre

    monkeypatch.setattr(P._Prefilter, "start", staticmethod(stopped))
    opts = lang_auto_classifier(plain_raw_path, counting, 2)
    a = tmp_path / "stopped"
    ma = select(a, True, monkeypatch, **opts)
    docs = ma["counts"]["read"] - ma["counts"]["rejected"]
    assert counted(counting) == docs
    monkeypatch.setattr(P, "PREFILTER", False)
    b = tmp_path / "plain"
    assert_same_run(a, ma, b, select(b, False, monkeypatch, **opts))


def test_quick_fits_start_no_prefilter(
    plain_raw_path,
    tmp_path,
    monkeypatch,
    counting,  # noqa: F811
) -> None:
    """dsir, bm25 and zipfit fit in well under a second: no second pass over the text."""
    started: list = []
    monkeypatch.setattr(P._Prefilter, "start", staticmethod(lambda run, parts: started.append(run)))
    opts = {**lang_auto_classifier(plain_raw_path, counting, 2), "method": "dsir"}
    select(tmp_path / "dsir", True, monkeypatch, **opts)
    assert started == []
    slow = {m for m in SCORERS if m != "hybrid" and scorer_class(m).slow_fit}
    assert slow == {"classifier", "dense", "auto", "color"}
    # hybrid's depends on its components: its default combination has a classifier.
    assert scorer_class("hybrid")().slow_fit
    assert not scorer_class("hybrid")(combine="dsir,bm25").slow_fit


@pytest.fixture
def shard_ctx(plain_raw_path, tmp_path) -> tuple:
    """The middle shard of the sample pool, a context with the language filter, and the rows
    of the shard's documents."""
    from thresher.filters import build_filters

    shard = plan_shards(discover([str(plain_raw_path)]), SHARDS)[1]
    ctx = StageContext(
        out=str(tmp_path),
        text_field="text",
        fields=(),
        filters=build_filters(["lang"], languages=["en"]),
        scorer=None,
        dedup="none",
        dedup_threshold=0.8,
        dedup_ngram=5,
        fmt="parquet",
        num_buckets=1024,
        ngrams=2,
    )
    rows = np.concatenate([b.rows for b in ShardReader(shard, "text").batches()])
    return shard, ctx, rows


def test_prefilter_task_checks_the_rows_line_up(shard_ctx) -> None:
    """The prefilter re-reads the documents the sample decided to find where it starts: a
    row that differs from the sample's last (the file changed) is a clear error."""
    shard, ctx, rows = shard_ctx
    whole = prefilter_task((shard, ctx, 0, -1))
    assert whole is not None and len(whole) == len(rows) > 500
    assert whole.last_row == rows[-1]
    rest = prefilter_task((shard, ctx, 100, int(rows[99])))  # the sample decided 100
    assert rest is not None and len(rest) == len(rows) - 100
    assert rest.result.keep.tolist() == whole.result.keep[100:].tolist()
    assert rest.result.rule.tolist() == whole.result.rule[100:].tolist()
    with pytest.raises(InputError, match="was the file changed"):
        prefilter_task((shard, ctx, 100, int(rows[100])))
    with pytest.raises(InputError, match="holds"):
        prefilter_task((shard, ctx, len(rows) + 1, -1))


def test_local_map_beside_order_stop_and_one_worker() -> None:
    """Results in task order, None for tasks never started (stop set), and nothing at all with
    one worker (no process beside the driver)."""
    engine = make_engine("local", 2)
    try:
        assert engine.map_beside(abs, [-3, 1, -2, 5], threading.Event()) == [3, 1, 2, 5]
        stop = threading.Event()
        stop.set()
        assert engine.map_beside(abs, [-3, 1], stop) == [None, None]
    finally:
        engine.close()
    one = make_engine("local", 1)
    try:
        assert one.map_beside(abs, [-3, 1], threading.Event()) == [None, None]
    finally:
        one.close()


def test_prefilter_task_stops_at_its_next_block_once_the_fit_has_ended(shard_ctx) -> None:
    """With the driver's marker there, a started shard returns the decisions of the blocks
    it has read (one 2 MB block here, of a 2.5 MB shard): a prefix, with its last row."""
    shard, ctx, rows = shard_ctx
    whole = prefilter_task((shard, ctx, 0, -1))
    marker = ctx.run_dir.prefilter_stop
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    part = prefilter_task((shard, ctx, 0, -1))
    assert part is not None and whole is not None and 100 < len(part) < len(rows)
    assert part.last_row == rows[len(part) - 1]
    assert part.result.rule.tolist() == whole.result.rule[: len(part)].tolist()
    assert prefilter_task((shard, ctx, 100, int(rows[99]))) is not None  # one block past 100


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is a thread's on Linux")
def test_prefilter_runs_at_the_lowest_priority_and_leaves_the_worker_as_it_was() -> None:
    """The fit's threads come first; the worker's own thread keeps its priority for the scan,
    and an error in the task is raised in the worker's thread."""
    from thresher.tasks import _at_low_priority

    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = nice()
    assert _at_low_priority(nice) == 19
    assert nice() == before
    with pytest.raises(InputError, match="changed"):
        _at_low_priority(lambda: (_ for _ in ()).throw(InputError("changed")))
