"""The local engine's driver runs a share of the tasks: one process fewer, same results."""

from __future__ import annotations

import os
import threading

import pytest

from thresher.engine import make_engine


def test_driver_and_worker_share_the_tasks_results_and_errors_in_task_order():
    eng = make_engine("local", 2, max_tasks=40)
    try:
        assert eng.spawned == 1  # --workers 2: the driver and one spawned process
        tasks = [str(i) for i in range(40)]
        assert list(eng.map(int, tasks)) == list(range(40))
        pids = list(eng.map(_pid, range(40)))
        assert os.getpid() in pids and len(set(pids)) == 2  # both ran some
        # Bad tasks side by side: the first in task order is the one raised, whoever ran it
        # and whichever failed first.
        bad = [*tasks[:5], "bad-5", "bad-6", "bad-7", *tasks[8:]]
        for _ in range(3):
            with pytest.raises(ValueError, match="'bad-5'"):
                list(eng.map(int, bad))
        assert list(eng.map(int, tasks[:3])) == [0, 1, 2]  # the pool still works after
    finally:
        eng.close()
    assert not [t for t in threading.enumerate() if t.name == "thresher-driver"]  # ended


def _pid(_: int) -> int:
    import time

    time.sleep(0.01)  # long enough that the driver takes some tasks while the worker runs
    return os.getpid()
