"""The scan takes the fit sample's filter decisions on the documents the sample read, instead
of filtering them again: the same bytes out as filtering them anew (any number of workers,
batch boundaries of the two passes apart, bad lines among them), and each document is
filtered once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import thresher
from tests.conftest import SAMPLE, tree_bytes
from thresher import pipeline as P
from thresher.config import SelectConfig
from thresher.console import as_reporter
from thresher.engine import make_engine
from thresher.errors import InputError
from thresher.filters import FILTERS, apply_filters, build_filters
from thresher.filters.base import BaseFilter, FilterResult

TARGET = str(SAMPLE / "target.jsonl")
OUTPUTS = ("selected", "dropped", "docs", "rejects")


class CountingFilter(BaseFilter):
    """Drops the documents whose length in characters is a multiple of 5 (rule
    ``counting.mod5``, the length as value), annotates every document with its length, and
    appends how many documents each call saw to ``log`` (a file: worker processes too)."""

    name = "counting"

    def __init__(self, log: str = "") -> None:
        self.log = log

    def apply(self, texts: pa.Array) -> FilterResult:
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{len(texts)}\n")
        chars = pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.int64)
        rule = np.where(chars % 5 == 0, "counting.mod5", "").astype(object)
        return FilterResult.from_drops(rule, chars.astype(np.float64), {"chars": pa.array(chars)})


@pytest.fixture
def counting(monkeypatch, tmp_path) -> Path:
    """The counting filter registered under ``counting``; yields its log file."""
    monkeypatch.setitem(FILTERS, "counting", CountingFilter)
    return tmp_path / "counted.log"


def counted(log: Path) -> int:
    return sum(int(x) for x in log.read_text().split()) if log.exists() else 0


def select(out: Path, reuse: bool, monkeypatch, **options) -> dict:
    """``thresher.select`` with the scan reusing the sample's decisions, or filtering anew."""
    monkeypatch.setattr(P, "REUSE_SAMPLE_FILTERS", reuse)
    opts = dict(target=[TARGET], out=str(out), fraction=0.1, seed=0, report=False)
    return thresher.select(write_dropped=True, **{**opts, **options})


def assert_same_run(a: Path, ma: dict, b: Path, mb: dict) -> None:
    for sub in OUTPUTS:
        assert (a / sub).exists() == (b / sub).exists(), sub
        if (a / sub).exists():
            assert tree_bytes(a / sub) == tree_bytes(b / sub), sub
    assert ma["counts"] == mb["counts"]
    assert ma["metrics"] == mb["metrics"]


def both_ways(tmp_path: Path, monkeypatch, counting: Path, **options) -> tuple[list, list]:
    """The same selection with and without the reuse: [(out, manifest)] and the number of
    documents the counting filter saw, each in that order."""
    runs, seen = [], []
    for reuse in (True, False):
        out = tmp_path / f"reuse-{reuse}"
        counting.unlink(missing_ok=True)
        runs.append((out, select(out, reuse, monkeypatch, **options)))
        seen.append(counted(counting))
    return runs, seen


def _phases(cfg: SelectConfig, check_fit=None):
    """The pipeline's phases one by one up to the scan; ``check_fit(run)`` between fit and scan."""
    run = P.Run(cfg=cfg, say=as_reporter(None), command=[])
    P.plan(run)
    run.engine = make_engine(cfg.engine, cfg.workers)
    with run.run_dir:
        try:
            for phase in (P.prepare, P.read_target, P.fit_filters_to_sample, P.fit):
                phase(run)
            if check_fit is not None:
                check_fit(run)
            P.scan(run)
        finally:
            run.engine.close()
    return run


# -- FilterResult slices, concatenation, and a chain that goes on from an earlier decision --
def test_apply_filters_from_a_start_is_the_whole_chain(raw_records) -> None:
    texts = pa.array([r["text"] for r in raw_records[::7]], pa.large_string())
    first = build_filters(["lang"], languages=["en", "de"])
    rest = build_filters(["gopher_quality", "c4"])
    whole = apply_filters(first + rest, texts)
    assert 0 < whole.keep.sum() < len(texts)
    head = apply_filters(first, texts)
    for got in (
        apply_filters(rest, texts, start=head),
        # in pieces, the way a scan batch straddles the sample's end
        FilterResult.concat(
            [
                apply_filters(rest, texts.slice(0, 150), start=head.slice(0, 150)),
                apply_filters(first + rest, texts.slice(150)),
            ]
        ),
    ):
        assert got.keep.tolist() == whole.keep.tolist()
        assert got.rule.tolist() == whole.rule.tolist()
        np.testing.assert_array_equal(got.value, whole.value)
        assert list(got.annotations) == list(whole.annotations) == ["language", "language_score"]
        for k, v in whole.annotations.items():
            assert got.annotations[k].equals(v)


# -- same bytes with and without the reuse ----------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_lang_auto_classifier_same_bytes_with_and_without_reuse(
    plain_raw_path, tmp_path, monkeypatch, workers
) -> None:
    """`select --method classifier --lang auto`: its sample reads every shard whole (the
    classifier samples 20,000 documents; this corpus has 2,780)."""
    runs = []
    for reuse in (True, False):
        out = tmp_path / f"reuse-{reuse}"
        m = select(
            out,
            reuse,
            monkeypatch,
            raw=[str(plain_raw_path)],
            method="classifier",
            filters=["lang"],
            filter_options={"languages": ["auto"]},
            workers=workers,
            shard_bytes=2_500_000,  # 3 shards
        )
        runs.append((out, m))
    assert runs[0][1]["counts"]["filtered"] > 1000  # 13 languages, the target's is English
    assert_same_run(*runs[0], *runs[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_filter_chain_straddling_batches_same_bytes_and_filtered_once(
    plain_raw_path, tmp_path, monkeypatch, counting, workers
) -> None:
    """A sample of ~100 documents per shard stops inside its first 2 MB block, and the scan's
    one 8 MB batch of each shard holds those documents and more: the batch takes the reused
    decisions for its first documents and filters the rest. Each document goes through the
    counting filter (first in the chain: it sees every document) once with the reuse."""
    runs, seen = both_ways(
        tmp_path,
        monkeypatch,
        counting,
        raw=[str(plain_raw_path)],
        method="dsir",
        raw_sample=300,
        filters=["counting", "lang", "gopher_repetition"],
        filter_options={"languages": ["en", "de", "fr"], "counting": {"log": str(counting)}},
        workers=workers,
        shard_bytes=2_500_000,
    )
    assert_same_run(*runs[0], *runs[1])
    c = runs[0][1]["counts"]
    docs = c["read"] - c["rejected"]
    assert seen[0] == docs  # with the reuse: every document once
    # without: the sample's documents (~760 a shard: a 2 MB block) twice
    assert docs + 1000 < seen[1] < 2 * docs


def test_the_scan_filters_only_what_the_sample_did_not_read(
    plain_raw_path, tmp_path, counting
) -> None:
    """Phase by phase: each shard's sample decided part of the shard (whole 2 MB blocks, so
    more than it kept, fewer than the shard holds), and the scan filters exactly the other
    documents. A fit from its checkpoint (--resume) brings no decisions: the scan filters all."""
    cfg = SelectConfig(
        target=[TARGET],
        raw=[str(plain_raw_path)],
        out=str(tmp_path / "run"),
        method="dsir",
        raw_sample=300,
        filters=["counting", "lang"],
        filter_options={"languages": ["en"], "counting": {"log": str(counting)}},
        shard_bytes=2_500_000,
        workers=1,
        fraction=0.1,
        report=False,
    )
    sampled: list = []

    def after_fit(run: P.Run) -> None:
        assert run.sampled is not None and len(run.sampled) == len(run.shards) == 3
        assert all(f is not None and f.filters == 2 and len(f) > 300 // 3 for f in run.sampled)
        sampled.extend(len(f) for f in run.sampled)
        assert counted(counting) == sum(sampled)

    run = _phases(cfg, after_fit)
    n = len(run.status)
    assert all(k < len(s.rows) for k, s in zip(sampled, run.scans, strict=True))  # mid-batch
    assert counted(counting) == n  # the sample's documents once, the others once
    # Killed after the fit: --resume takes the fit from its checkpoint, without decisions.
    for s in run.shards:
        run.run_dir.scan_checkpoint(s.name).unlink()
    counting.unlink()

    def no_decisions(run: P.Run) -> None:
        assert run.sampled is None

    run = _phases(cfg.model_copy(update={"resume": True}), no_decisions)
    assert len(run.status) == n and counted(counting) == n


def test_method_auto_appended_language_filter_runs_on_the_reused_decisions(
    plain_raw_path, tmp_path, monkeypatch, counting
) -> None:
    """auto chooses a language filter in its fit and appends it to the user's filters: the
    scan takes the sample's decisions of the user's filters and runs only the appended one
    on what they keep."""
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"".join(plain_raw_path.read_bytes().splitlines(keepends=True)[::2]))
    runs, seen = both_ways(
        tmp_path,
        monkeypatch,
        counting,
        raw=[str(raw)],
        method="auto",
        scorer_options={"candidates": "dsir", "language": "on", "compare_sample": 1000},
        raw_sample=400,
        filters=["counting"],
        filter_options={"counting": {"log": str(counting)}},
        workers=1,
        format="jsonl",
    )
    assert runs[0][1]["auto"]["language_filter"]
    assert runs[0][1]["counts"]["filtered"] > 300
    assert_same_run(*runs[0], *runs[1])
    c = runs[0][1]["counts"]
    assert seen[0] == c["read"] - c["rejected"] < seen[1]


def test_bad_lines_before_the_sample_end_line_up(
    raw_records, tmp_path, monkeypatch, counting
) -> None:
    """Rejected lines (bad JSON, invalid UTF-8, too long; and a blank line, skipped) among the
    documents the sample read and after them: the reader skips them the same way in both
    passes, so the sample's decisions land on the same documents in the scan (which also
    checks the row of the last one)."""
    lines = gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes()).splitlines(keepends=True)
    lines = lines[:1200]
    lines.insert(3, b'{"text": "unterminated\n')
    lines.insert(40, b"\n")
    lines.insert(90, b'{"text": "caf\xe9 latin-1"}\n')
    lines.insert(200, json.dumps({"text": "x" * 30_000}).encode() + b"\n")  # too long
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"".join(lines))
    runs, calls = [], []
    for reuse in (True, False):
        out = tmp_path / f"reuse-{reuse}"
        counting.unlink(missing_ok=True)
        m = select(
            out,
            reuse,
            monkeypatch,
            raw=[str(raw)],
            method="dsir",
            raw_sample=200,  # the 200th English document is on line ~435
            max_row_bytes=7_000,  # ~1.5% of the real documents are longer
            filters=["counting", "lang"],
            filter_options={"languages": ["en"], "counting": {"log": str(counting)}},
            workers=1,
        )
        runs.append((out, m))
        calls.append([int(x) for x in counting.read_text().split()])
    assert_same_run(*runs[0], *runs[1])
    c = runs[0][1]["counts"]
    docs = c["read"] - c["rejected"]
    # The sample read one 2 MB block (k documents); the scan's one batch (the whole file)
    # took its decisions on those and filtered the rest; without the reuse, all again.
    k = calls[0][0]
    assert calls == [[k, docs - k], [k, docs]] and 600 < k < docs - 300
    rejects = [json.loads(x) for p in (runs[0][0] / "rejects").iterdir() for x in p.open()]
    rows = sorted(r["row"] for r in rejects if r["source"] == str(raw))  # not the target's
    assert len(rows) == c["rejected"] > 10 and {3, 90, 200} <= set(rows)
    before = sum(r < k for r in rows)  # (a reject's row is past k documents' worth of lines)
    assert before > 5 and rows[-1] > k + before + 100


def test_a_shard_that_reads_differently_in_the_scan_is_an_error(
    plain_raw_path, tmp_path, counting
) -> None:
    """The scan checks the row of the last document the sample decided: a file changed
    between the passes is a clear error, never decisions on the wrong documents."""
    cfg = SelectConfig(
        target=[TARGET],
        raw=[str(plain_raw_path)],
        out=str(tmp_path / "run"),
        method="dsir",
        raw_sample=300,
        filters=["counting"],
        workers=1,
        fraction=0.1,
        report=False,
    )

    def tamper(run: P.Run) -> None:
        assert run.sampled is not None and run.sampled[0] is not None
        run.sampled[0].last_row += 1

    with pytest.raises(InputError, match="was the file changed"):
        _phases(cfg, tamper)
