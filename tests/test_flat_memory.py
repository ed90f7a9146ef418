"""The driver keeps no per-document array of the whole run in its heap, and a write task
carries its own shard's slices only (peak memory flat in the number of documents)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from thresher import pipeline as P
from thresher.config import SelectConfig
from thresher.console import as_reporter
from thresher.engine import make_engine


def test_driver_arrays_are_mapped_and_write_tasks_carry_their_shard(
    plain_raw_path: Path, tmp_path: Path
) -> None:
    cfg = SelectConfig(
        raw=[str(plain_raw_path)],
        out=str(tmp_path / "run"),
        method="none",
        dedup="minhash",
        shard_bytes=400_000,  # ~20 shards of ~140 documents
        workers=1,
    )
    run = P.Run(cfg=cfg, say=as_reporter(None), command=[])
    P.plan(run)
    run.engine = make_engine(cfg.engine, cfg.workers)
    try:
        with run.run_dir:
            for phase in (P.prepare, P.read_target, P.fit, P.scan, P.dedup, P.select):
                phase(run)
            tasks = P.write_tasks(run)
    finally:
        run.engine.close()
    n = len(run.status)
    assert n > 2500 and len(tasks) >= 15
    assert int((run.status == P.DUPLICATE).sum()) > 0  # the sample has near duplicates
    # The whole run's scores, clusters, rows and line offsets are files in _work/driver.
    work = run.run_dir.work / "driver"
    for arr in (run.scores, run.cluster, *(a for s in run.scans for a in (s.rows, s.starts))):
        assert isinstance(arr, np.memmap) and Path(arr.filename).parent == work
    # Each task: its shard's slices (rows, starts, cluster: 8 B; scores 4 B; 3 flags 1 B per
    # row), never a whole-run array (8 B x n = 22 KB each).
    ctx = len(pickle.dumps(run.ctx))
    for t in tasks:
        assert len(pickle.dumps(t)) - ctx < 40 * len(t.rows) + 4096 < 8 * n
