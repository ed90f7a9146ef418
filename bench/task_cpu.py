"""Scaling of the passes as if each executor had a core of its own: thread CPU per task.

On a shared machine the kernel's autogroup scheduling gives a session the same CPU share
however many processes it runs, so wall-time ratios of 2 vs 1 worker measure the other
users. This runs ``thresher select --method dsir`` with 1 and N workers (fresh processes,
interleaved, ``--repeats`` rounds) with a hook (a ``sitecustomize`` on PYTHONPATH, also
loaded by spawned workers) that logs each task's thread CPU time and executor; per pass it
prints 1-worker CPU / the busiest executor's CPU at N workers: the pass's speed-up on idle
cores, load balance and concurrency slow-down included, start-up and idle gaps not.

    python bench/task_cpu.py --raw /work/bench-data/raw-1gb.jsonl --repeats 3
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOK = """
import os, threading, time
LOG = os.environ.get("TASKLOG")
if LOG:
    import importlib.abc, importlib.util, sys

    def _wrap(mod):
        for name in ("sample_task", "scan_task", "write_task"):
            fn = getattr(mod, name)
            def w(arg, fn=fn, name=name):
                c0 = time.thread_time()
                try:
                    return fn(arg)
                finally:
                    with open(LOG, "a") as f:
                        th = threading.current_thread().name
                        f.write(f"{os.getpid()}/{th} {name} {time.thread_time() - c0:.4f}\\n")
            w.__module__, w.__qualname__ = fn.__module__, fn.__qualname__
            setattr(mod, name, w)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != "thresher.tasks":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            run = spec.loader.exec_module
            def exec_module(module):
                run(module)
                _wrap(module)
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Finder())
"""


def run(src: Path, raw: str, workers: int, tmp: Path) -> dict[str, dict[str, float]]:
    log = tmp / f"tasks-{workers}.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, TASKLOG=str(log), PYTHONPATH=f"{tmp}:{src}")
    target = str(ROOT / "data" / "sample" / "target.jsonl")
    cmd = [sys.executable, "-m", "thresher.cli", "select", "--method", "dsir", "--raw", raw]
    cmd += ["--target", target, "--out", str(tmp / "out"), "--workers", str(workers)]
    cmd += ["--fraction", "0.1", "--seed", "0", "--no-report", "--overwrite"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    per: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: collections.defaultdict(float)
    )
    for line in log.read_text().splitlines():
        who, name, cpu = line.split()
        per[name][who] += float(cpu)
    return per


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--raw", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "sitecustomize.py").write_text(HOOK)
        print(f"load average at start: {os.getloadavg()}")
        for rnd in range(args.repeats):
            one = run(args.src, args.raw, 1, tmp)
            many = run(args.src, args.raw, args.workers, tmp)
            for name in ("sample_task", "scan_task", "write_task"):
                c1, busiest = sum(one[name].values()), max(many[name].values())
                print(
                    f"round {rnd + 1} {name}: 1 worker {c1:.2f} s CPU; {args.workers} workers "
                    f"{sum(many[name].values()):.2f} s over {len(many[name])} executors, busiest "
                    f"{busiest:.2f} s: {c1 / busiest:.2f}x"
                )
        print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
