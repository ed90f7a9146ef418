"""``thresher dedup`` at scale: peak memory against input size, time beside datatrove.

Input: ``bench/corpus.py large --vary`` output (the bench pool repeated, repetitions
r >= 1 drop one paragraph per document: near duplicates, never byte-identical).  Smaller
sizes are byte prefixes of it (cut at a line end) written next to it.

Each configuration runs as its own subprocess; every 0.2 s the bench sums, over the
process and all its descendants, PSS and anonymous PSS (``Pss_Anon``; memory that cannot
be dropped, unlike the page-cache pages of memory-mapped files) from
``/proc/<pid>/smaps_rollup``.  CPU = user+sys of the whole tree.

    python bench/dedup_scale.py --big /work/scratch-dedup/raw-5gb.jsonl \
        --sizes 1000,2500,5000 --ray-size 5000 --dt-size 250 --workers 2

datatrove (``--dt-python``) runs its default MinHash pipeline (``MinhashConfig()``:
5-grams, 14 x 8, 64-bit; signatures -> buckets -> cluster -> filter+write jsonl) with
``--workers`` workers over the same bytes split into ``--workers`` files.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dedup_vs_datatrove import _read_kb, _tree  # noqa: E402

DT_SCALE = r"""
import sys
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets,
    MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter

def ex(pipeline, tasks, name, w, work):
    return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=w,
                                 logging_dir=f"{work}/logs/{name}")

if __name__ == "__main__":  # the executor's forkserver re-imports this file
    corpus_dir, work, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = MinhashConfig()
    ex([JsonlReader(corpus_dir), MinhashDedupSignature(f"{work}/sigs", config=cfg)],
       workers, "s1", workers, work).run()
    ex([MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)],
       cfg.num_buckets, "s2", workers, work).run()
    ex([MinhashDedupCluster(f"{work}/buckets", f"{work}/ids", config=cfg)], 1, "s3", 1, work).run()
    ex([JsonlReader(corpus_dir), MinhashDedupFilter(f"{work}/ids"), JsonlWriter(f"{work}/kept")],
       workers, "s4", workers, work).run()
"""


def prefix(big: str, mb: int, out: str) -> str:
    """The first ``mb`` MB of ``big``, cut after a newline (reused if present)."""
    if mb * 1_000_000 >= os.path.getsize(big) - 1_000_000:  # the whole file
        return big
    if os.path.exists(out):
        return out
    want = mb * 1_000_000
    with open(big, "rb") as src, open(out + ".tmp", "wb") as dst:
        left = want
        while left > 0:
            chunk = src.read(min(1 << 24, left))
            if not chunk:
                break
            dst.write(chunk)
            left -= len(chunk)
        dst.write(src.readline())
    os.replace(out + ".tmp", out)
    return out


def split_lines(path: str, parts: int, out_dir: str) -> None:
    """``path`` split into ``parts`` files of whole lines (datatrove: one task per file)."""
    os.makedirs(out_dir, exist_ok=True)
    size = os.path.getsize(path)
    with open(path, "rb") as src:
        for k in range(parts):
            with open(os.path.join(out_dir, f"part{k}.jsonl"), "wb") as dst:
                limit = size * (k + 1) // parts
                while src.tell() < limit or k == parts - 1:
                    line = src.readline()
                    if not line:
                        break
                    dst.write(line)


def sampled(cmd: list[str], interval: float = 0.2) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = peak_anon = procs = 0
    ticks: dict[int, int] = {}  # pid -> utime+stime seen last (forkserver grandchildren too)
    while proc.poll() is None:
        pss = anon = 0
        pids = _tree(proc.pid)
        for p in pids:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks[p] = int(fields[11]) + int(fields[12])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
            m = _read_kb(f"/proc/{p}/smaps_rollup", ("Pss", "Pss_Anon"))
            pss += m.get("Pss", 0)
            anon += m.get("Pss_Anon", 0)
        peak, peak_anon, procs = max(peak, pss), max(peak_anon, anon), max(procs, len(pids))
        time.sleep(interval)
    wall = time.perf_counter() - t0
    log = proc.stdout.read().decode(errors="replace")
    if proc.returncode:
        sys.stderr.write(log[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    # processes that were not waited for by the child (pool workers) are only in the samples
    cpu = max(cpu, sum(ticks.values()) / os.sysconf("SC_CLK_TCK"))
    return {"wall": wall, "cpu": cpu, "pss_mb": peak / 1024, "anon_mb": peak_anon / 1024,
            "procs": procs, "log": log}  # fmt: skip


def thresher_run(path: str, out: str, workers: int, engine: str) -> dict:
    cmd = [sys.executable, "-m", "thresher.cli", "dedup", "--raw", path, "--out", out]
    cmd += ["--workers", str(workers), "--engine", engine, "--overwrite"]
    r = sampled(cmd)
    with open(os.path.join(out, "manifest.json")) as f:
        c = json.load(f)["counts"]
    r.update(read=c["read"], kept=c["selected"], dups=c["duplicate"])
    shutil.rmtree(out)
    return r


def datatrove_run(dt_python: str, path: str, work: str, workers: int) -> dict:
    corpus = os.path.join(work, "dt-in")
    split_lines(path, workers, corpus)
    script = os.path.join(work, "dt_scale.py")
    with open(script, "w") as f:
        f.write(DT_SCALE)
    shutil.rmtree(os.path.join(work, "dt-work"), ignore_errors=True)
    r = sampled([dt_python, script, corpus, os.path.join(work, "dt-work"), str(workers)])
    kept = 0
    for root, _, files in os.walk(os.path.join(work, "dt-work", "kept")):
        for fn in files:
            import gzip

            with gzip.open(os.path.join(root, fn), "rb") as fh:
                kept += sum(1 for _ in fh)
    r.update(kept=kept)
    shutil.rmtree(corpus)
    shutil.rmtree(os.path.join(work, "dt-work"))
    return r


def _cell(r: dict, key: str, digits: int = 0) -> str:
    """The (median) value, with ``[min-max]`` when the run was repeated."""
    v = f"{r[key]:.{digits}f}"
    if r.get("n", 1) > 1:
        v += f" [{r['min'][key]:.{digits}f}-{r['max'][key]:.{digits}f}]"
    return v


def row(system: str, mb: int, r: dict) -> str:
    cells = [system, mb, r.get("read", "-"), r["kept"], _cell(r, "wall"), _cell(r, "cpu")]
    cells += [f"{mb / r['wall']:.1f}", _cell(r, "pss_mb"), _cell(r, "anon_mb"), r["procs"]]
    cells.append(r.get("n", 1))
    return " | ".join(map(str, cells))


def median_run(runs: list[dict]) -> dict:
    """Medians (and min, max) of the measured values of repeated runs of one configuration."""
    keys = ("wall", "cpu", "pss_mb", "anon_mb")
    out = dict(runs[0], n=len(runs))
    out.update({k: statistics.median(r[k] for r in runs) for k in keys})
    out["min"] = {k: min(r[k] for r in runs) for k in keys}
    out["max"] = {k: max(r[k] for r in runs) for k in keys}
    return out


def growth(anon: dict[int, tuple[int, float]]) -> None:
    """Peak anonymous PSS growth per added document between the smallest and each size."""
    sizes = sorted(anon)
    for mb in sizes[1:]:
        (d0, a0), (d1, a1) = anon[sizes[0]], anon[mb]
        per_doc = (a1 - a0) * 2**20 / max(1, d1 - d0)
        print(f"peak anon PSS growth {sizes[0]} -> {mb} MB: {a1 - a0:+.0f} MB, "
              f"{per_doc:+.0f} B per added document", flush=True)  # fmt: skip


REDUCE = r"""
import json, sys, time
from thresher.dedup.lsh import BandSpill
from thresher.dedup.minhash import MinHashParams
spill, max_records = sys.argv[1], int(sys.argv[2])
p = MinHashParams()
t = time.perf_counter()
e = BandSpill(f"{spill}/exact", bands=1, partitions=16, key_words=2, max_records=max_records)
e.clusters()
m = BandSpill(f"{spill}/minhash", bands=p.bands, partitions=16, max_records=max_records)
keys, cid, st = m.clusters(threshold=p.threshold, return_stats=True)
print(json.dumps({"docs": len(keys), "dups": st["duplicates"], "sec": time.perf_counter() - t}))
"""


PHASES = r"""
import collections, os, sys, threading, time
sys.path.insert(0, sys.argv[4])
from dedup_vs_datatrove import _read_kb, _tree
import thresher.pipeline as P
from thresher import api
raw, out, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
phase, peaks, done = ["start"], collections.Counter(), threading.Event()
def sample():
    while not done.is_set():
        for p in _tree(os.getpid()):
            a = _read_kb(f"/proc/{p}/smaps_rollup", ("Pss_Anon",)).get("Pss_Anon", 0)
            who = "driver" if p == os.getpid() else f"worker {p}"
            peaks[(phase[0], who)] = max(peaks[(phase[0], who)], a)
        time.sleep(0.05)
for name in ("scan", "dedup", "select", "write", "manifest"):
    def wrap(run, _f=getattr(P, name), _n=name):
        phase[0] = _n
        try:
            return _f(run)
        finally:
            phase[0] = "after " + _n
    setattr(P, name, wrap)
threading.Thread(target=sample, daemon=True).start()
m = api.deduplicate(raw=raw, out=out, workers=workers, overwrite=True)
done.set()
print(f"docs {m['counts']['read']}")
for ph in ("scan", "dedup", "select", "write", "manifest"):
    d = {w: v // 1024 for (q, w), v in peaks.items() if q == ph}
    ws = sorted((v for w, v in d.items() if w != "driver"), reverse=True)[:2]
    print(f"{ph} | {d.get('driver', '-')} | {' / '.join(map(str, ws)) or '-'}")
"""


def phases(paths: dict[int, str], work: str, workers: int) -> None:
    """Peak anonymous PSS of the driver and of the two largest workers, per pipeline phase
    (in-process wrappers of the phases, sampled every 50 ms), one run per size."""
    for mb, path in paths.items():
        out = os.path.join(work, "out-phases")
        cmd = [sys.executable, "-c", PHASES, path, out, str(workers), HERE]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        lines = r.stdout.strip().splitlines()[-6:]
        print(f"\n{mb} MB, {lines[0]}\n\nphase | driver anon MB | workers anon MB\n--- | --- | ---")
        print("\n".join(lines[1:]), flush=True)
        shutil.rmtree(out, ignore_errors=True)


def reduce_only(spill: str, sizes: list[int]) -> None:
    """The reduce alone (exact + verified MinHash clustering) on a kept spill directory,
    once per ``max_records`` (a huge value = no partition split, the code before)."""
    print("max_records | docs | duplicates | wall s | peak PSS MB | peak anon PSS MB")
    print("--- | --- | --- | --- | --- | ---")
    for mr in sizes:
        for f in os.listdir(os.path.join(spill, "minhash")):
            if f.endswith(".tmp"):  # a hard-linked all-sigs.tmp must not be rewritten
                os.remove(os.path.join(spill, "minhash", f))
        r = sampled([sys.executable, "-c", REDUCE, spill, str(mr)])
        info = json.loads(r["log"].strip().splitlines()[-1])
        print(
            f"{mr:,} | {info['docs']:,} | {info['dups']:,} | {r['wall']:.0f} | "
            f"{r['pss_mb']:.0f} | {r['anon_mb']:.0f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--big", default=None, help="corpus.py large --vary output")
    ap.add_argument("--sizes", default="1000,2500,5000", help="MB, prefixes of --big")
    ap.add_argument("--ray-size", type=int, default=5000, help="MB run with --engine ray (0: no)")
    ap.add_argument("--dt-size", type=int, default=250, help="MB run by both systems (0: no)")
    ap.add_argument("--dt-python", default="/work/main/.venv-datatrove/bin/python")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="runs per thresher local size")
    ap.add_argument("--repeat-up-to", type=int, default=2500, help="MB: larger sizes run once")
    ap.add_argument("--tag", default="out", help="run directory name (under --big's directory)")
    ap.add_argument("--reduce-only", default=None, help="a kept spill dir: reduce memory only")
    ap.add_argument("--phases", action="store_true", help="per-phase peak memory of --sizes")
    ap.add_argument(
        "--before", default=None, help="a src/ of other code: each local run also with it, "
        "interleaved (before, this code, before, ...)"
    )  # fmt: skip
    a = ap.parse_args()
    if a.reduce_only:
        reduce_only(a.reduce_only, [10**12, 500_000])
        return
    work = os.path.dirname(os.path.abspath(a.big))
    sizes = [int(s) for s in a.sizes.split(",") if s]
    big_mb = round(os.path.getsize(a.big) / 1e6)
    path_of = {
        mb: a.big if mb >= big_mb else prefix(a.big, mb, f"{a.big[:-6]}-{mb}MB.jsonl")
        for mb in sizes
    }
    print(f"load average at start: {os.getloadavg()}")
    if a.phases:
        phases(path_of, work, a.workers)
        print(f"load average at end: {os.getloadavg()}")
        return
    head = "system | input MB | docs | kept | wall s | CPU s | MB/s | peak PSS MB (tree) | "
    head += "peak anon PSS MB | processes | runs"
    print(head + "\n" + " | ".join(["---"] * 11), flush=True)
    anon: dict[int, tuple[int, float]] = {}  # MB -> (docs, median peak anon PSS MB)
    anon_before: dict[int, tuple[int, float]] = {}
    here = os.environ.get("PYTHONPATH", "")
    for mb in sizes:
        n = a.repeats if mb <= a.repeat_up_to else 1
        runs, before = [], []
        for _ in range(n):
            if a.before:
                os.environ["PYTHONPATH"] = a.before
                before.append(
                    thresher_run(path_of[mb], os.path.join(work, a.tag), a.workers, "local")
                )
                os.environ["PYTHONPATH"] = here
            runs.append(thresher_run(path_of[mb], os.path.join(work, a.tag), a.workers, "local"))
        if before:
            print(row(f"before: thresher local, {a.workers} workers", mb, median_run(before)))
            anon_before[mb] = (before[0]["read"], median_run(before)["anon_mb"])
        print(row(f"thresher local, {a.workers} workers", mb, median_run(runs)), flush=True)
        anon[mb] = (runs[0]["read"], median_run(runs)["anon_mb"])
        print(f"  (load average after: {os.getloadavg()[0]:.1f})", flush=True)
    if anon_before:
        print("before:")
        growth(anon_before)
    growth(anon)
    if a.ray_size:
        p = path_of.get(a.ray_size) or prefix(
            a.big, a.ray_size, f"{a.big[:-6]}-{a.ray_size}MB.jsonl"
        )
        r = thresher_run(p, os.path.join(work, a.tag), a.workers, "ray")
        print(row(f"thresher ray, {a.workers} workers", a.ray_size, r), flush=True)
        print(f"  (load average after: {os.getloadavg()[0]:.1f})", flush=True)
    if a.dt_size:
        p = prefix(a.big, a.dt_size, f"{a.big[:-6]}-{a.dt_size}MB.jsonl")
        r = thresher_run(p, os.path.join(work, a.tag), a.workers, "local")
        print(row(f"thresher local, {a.workers} workers", a.dt_size, r), flush=True)
        print(f"  (load average after: {os.getloadavg()[0]:.1f})", flush=True)
        r = datatrove_run(a.dt_python, p, work, a.workers)
        print(row(f"datatrove MinHash, {a.workers} workers", a.dt_size, r), flush=True)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
