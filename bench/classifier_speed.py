#!/usr/bin/env python3
"""``thresher select --method classifier`` end to end, before and after a change, side by side.

    python bench/classifier_speed.py --corpus /work/bench-data/raw-1gb.jsonl \\
        --before-src /path/to/old/src --repeats 3

Every configuration (source tree x workers) runs in its own fresh process; the
configurations are interleaved round by round so a shared machine slows them alike; the
median, min and max of ``--repeats`` rounds are quoted with the load average at start
and end, and the stage timings from each run's manifest. The selected/ outputs of the
two trees are compared file by file (sha256): a speed-up must not change what is
selected. Also measured in one process per tree: the char n-gram score kernel alone, in
MB/s of CPU time on one core (what the load changes least).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dsir_vs_reference import (  # noqa: E402
    Measure,
    count_docs,
    load,
    prefix_file,
    run_measured,
    src_env,
    stats,
    thresher_cmd,
)

KERNEL = r"""
import json, sys, time
import numpy as np, orjson, pyarrow as pa
from thresher.scorers.classifier import ClassifierScorer
path, mb = sys.argv[1], float(sys.argv[2])
texts, size = [], 0
with open(path, "rb") as f:
    for line in f:
        t = orjson.loads(line)["text"]
        texts.append(t)
        size += len(t.encode())
        if size > mb * 1e6:
            break
arr = pa.array(texts, type=pa.large_string())
s = ClassifierScorer().fit(arr.slice(0, 200), arr.slice(200, 2000))
s.score(arr.slice(0, 10))
best = min(
    (lambda t0: (s.score(arr), time.process_time() - t0)[1])(time.process_time())
    for _ in range(3)
)
print(json.dumps({"mb_s": size / best / 1e6}))
"""


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--target", type=Path, default=HERE.parent / "data/sample/target.jsonl")
    ap.add_argument("--src", type=Path, default=HERE.parent / "src")
    ap.add_argument("--before-src", type=Path, help="the source tree before the change")
    ap.add_argument("--workers", default="2,1", help="worker counts to run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kernel-mb", type=float, default=30.0)
    ap.add_argument("--results", type=Path, default=HERE / "results" / "classifier_speed.md")
    args = ap.parse_args()

    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    tmp = Path(tempfile.mkdtemp(prefix="thresher-clf-"))
    size = args.corpus.stat().st_size
    docs = count_docs(args.corpus)
    k = max(1, docs // 10)
    trees = {"after": args.src}
    if args.before_src:
        trees = {"before": args.before_src, "after": args.src}
    workers = [int(w) for w in args.workers.split(",")]
    load_start = load()
    warm = prefix_file(args.corpus, tmp / "warm.jsonl", 2_000_000)
    for src in trees.values():  # fill each tree's numba cache (not measured)
        run_measured(
            thresher_cmd(warm, args.target, tmp / "warm", 10, 1, ("--method", "classifier")),
            env=src_env(src),
        )
    runs: dict[tuple[str, int], list[Measure]] = {(t, w): [] for t in trees for w in workers}
    digests: dict[str, dict] = {}
    for rnd in range(args.repeats):
        for tree, src in trees.items():
            for w in workers:
                out = tmp / f"{tree}-{w}"
                m = run_measured(
                    thresher_cmd(args.corpus, args.target, out, k, w, ("--method", "classifier")),
                    env=src_env(src),
                    manifest=out / "manifest.json",
                )
                runs[tree, w].append(m)
                print(
                    f"  round {rnd + 1}: {tree} {w}w {m.wall:.1f} s, {m.cpu:.1f} s CPU", flush=True
                )
                if rnd == 0 and w == workers[0]:
                    digests[tree] = tree_digest(out / "selected")
    load_end = load()
    say(f"# `thresher select --method classifier`: {size / 1e6:.0f} MB, {docs:,} docs, k={k:,}\n")
    say(f"corpus: {args.corpus}; target: {args.target}\n")
    say(
        "| tree | workers | wall s median [min-max] | MB/s (median wall) | CPU s median "
        "| fit s | scan s | write s |"
    )
    say("|---|---|---|---|---|---|---|---|")
    rate = {}
    for (tree, w), ms in runs.items():
        wall = statistics.median(m.wall for m in ms)
        rate[tree, w] = size / 1e6 / wall
        st = [
            statistics.median(m.timings.get(s, 0.0) for m in ms) for s in ("fit", "scan", "write")
        ]
        say(
            f"| {tree} | {w} | {stats([m.wall for m in ms])} | {rate[tree, w]:.1f} | "
            f"{statistics.median(m.cpu for m in ms):.1f} | "
            + " | ".join(f"{x:.1f}" for x in st)
            + " |"
        )
    say(f"\nload average (1, 5, 15 min): {load_start} at start, {load_end} at end\n")
    if "before" in trees:
        for w in workers:
            say(
                f"- after vs before, {w} worker(s): **{rate['after', w] / rate['before', w]:.2f}x**"
            )
        same = digests.get("before") == digests.get("after")
        say(
            f"- selected/ files identical before and after: **{same}** ({len(digests['after'])} files)"
        )
    if len(workers) > 1 and 1 in workers:
        w2 = max(workers)
        for tree in trees:
            scan = {w: statistics.median(m.timings["scan"] for m in runs[tree, w]) for w in (1, w2)}
            say(
                f"- {tree}: {w2} workers vs 1 end to end **{rate[tree, w2] / rate[tree, 1]:.2f}x**, "
                f"scan stage **{scan[1] / scan[w2]:.2f}x**"
            )
    say("\nchar n-gram score kernel alone, 1 core, MB/s of CPU time (best of 3):")
    for tree, src in trees.items():
        res = subprocess.run(
            [sys.executable, "-c", KERNEL, str(args.corpus), str(args.kernel_mb)],
            env=dict(src_env(src), OMP_NUM_THREADS="1"),
            capture_output=True,
            text=True,
            check=True,
        )
        say(f"- {tree}: {json.loads(res.stdout.splitlines()[-1])['mb_s']:.1f} MB/s")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        "\n".join(lines)
        + "\n\nCommand: `python bench/classifier_speed.py "
        + " ".join(sys.argv[1:])
        + "`\n"
    )
    os.system(f"rm -rf {tmp}")


if __name__ == "__main__":
    main()
