"""thresher's DSIR vs the reference implementation (PyPI data-selection 1.0.3), side by side.

Both select from the same real corpus (Debian documentation, see bench/corpus.py)
on the same cores. Every measured configuration runs in its own fresh process; the
configurations are interleaved (round 1: each once, round 2: each once, ...), so a
machine shared with other work slows them alike; each is repeated ``--repeats`` times
(median, min and max quoted) and the load average is recorded at start and end.

Configurations:

* ``reference``: data-selection's fit + weights + resample on the first ``--ref-mb`` MB
  (it runs ~1 MB/s: the whole ~1 GB would take a quarter of an hour per run; its speed
  does not depend on the size, every token goes through the same Python);
* ``thresher <ref-mb>``: ``thresher select`` on the same prefix (equal inputs);
* ``thresher 1 GB, N workers`` and ``1 worker``: the whole corpus; the 2-vs-1 ratio of
  the scan stage (manifest timings) is the scan's scaling;
* with ``--before-src DIR``: the same thresher runs from another source tree (before a
  change), interleaved with this one.

Also printed: the featurize+score kernel alone in MB/s per core (against scikit-learn's
HashingVectorizer), and optionally thresher's peak memory at several input sizes.

    python bench/dsir_vs_reference.py --corpus /work/bench-data/raw-1gb.jsonl --repeats 3
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
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import machine  # noqa: E402

ROOT = HERE.parent
BIN = Path(sys.executable).parent


def prefix_file(src: Path, dst: Path, nbytes: int) -> Path:
    """The first whole lines of src up to nbytes."""
    with open(src, "rb") as f, open(dst, "wb") as g:
        done = 0
        for line in f:
            if done + len(line) > nbytes and done:
                break
            g.write(line)
            done += len(line)
    return dst


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(PSS summed over a process and its descendants, largest single RSS), in MB.

    PSS counts each shared page (libraries, numba's LLVM) once across the tree,
    so the sum is the memory the run really holds; summing RSS would count the
    shared libraries of every worker again.
    """
    pss = 0
    rss_max = 0
    pids = [pid]
    seen = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                    elif line.startswith("Rss:"):
                        rss_max = max(rss_max, int(line.split()[1]) * 1024)
            with open(f"/proc/{p}/task/{p}/children") as f:
                pids.extend(int(x) for x in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pss / 1e6, rss_max / 1e6


@dataclass
class Measure:
    wall: float
    cpu: float  # user + sys of the whole process tree
    pss: float
    rss: float
    timings: dict = field(default_factory=dict)  # thresher's manifest stages
    digest: str = ""  # of the run's selected/ and docs/ files: same output or not
    load: float = 0.0  # 1-minute load average when the run ended


def output_digest(out: Path) -> str:
    """sha256 over the bytes of every file under OUT/selected and OUT/docs, in name order."""
    import hashlib

    h = hashlib.sha256()
    for sub in ("selected", "docs"):
        for p in sorted((out / sub).rglob("*")):
            if p.is_file():
                h.update(p.relative_to(out).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def run_measured(cmd: list[str], env: dict | None = None, manifest: Path | None = None) -> Measure:
    """Run cmd in a fresh process; wall and CPU seconds, peak PSS of the whole process tree
    and peak single-process RSS (MB), and the stage timings of ``manifest`` if given."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0.0
    peak_rss = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_rss
        while not stop.is_set():
            pss, rss = tree_memory_mb(proc.pid)
            peak = max(peak, pss)
            peak_rss = max(peak_rss, rss)
            time.sleep(0.25)  # smaps_rollup walks page tables: sample gently

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0  # before the join: the sampler may sleep 0.25 s more
    stop.set()
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}"
        )
    timings = json.loads(manifest.read_text())["timings"] if manifest else {}
    digest = output_digest(manifest.parent) if manifest else ""
    return Measure(wall, cpu, peak, peak_rss, timings, digest, os.getloadavg()[0])


def count_docs(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def thresher_cmd(
    raw: Path, target: Path, out: Path, k: int, workers: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """A fresh ``python -m thresher.cli select`` (the source tree is the env's PYTHONPATH)."""
    return [
        sys.executable,
        "-m",
        "thresher.cli",
        "select",
        "--method",
        "dsir",  # not the default (auto) any more
        "--raw",
        str(raw),
        "--target",
        str(target),
        "--out",
        str(out),
        "--k",
        str(k),
        "--workers",
        str(workers),
        "--overwrite",
        "--no-report",
        *extra,
    ]


def src_env(src: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(src))


REF_SCRIPT = r"""
import sys, time, json
from data_selection import HashedNgramDSIR
raw, target, cache, out, k, nproc = sys.argv[1:7]
t0 = time.perf_counter()
d = HashedNgramDSIR([raw], [target], cache_dir=cache, num_proc=int(nproc), ngrams=2, num_buckets=10000)
d.fit_importance_estimator(num_tokens_to_fit="auto")
t1 = time.perf_counter()
d.compute_importance_weights()
t2 = time.perf_counter()
d.resample(out_dir=out, num_to_sample=int(k), cache_dir=out + ".cache")
t3 = time.perf_counter()
print(json.dumps({"fit": t1 - t0, "weights": t2 - t1, "resample": t3 - t2}))
"""


def thresher_run(raw: Path, target: Path, out: Path, k: int, workers: int, src: Path) -> Measure:
    """A measured ``thresher select`` into an empty OUT, as the reference's runs start with
    empty folders (the previous round's output is removed before, not inside, the timing)."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = thresher_cmd(raw, target, out, k, workers)
    return run_measured(cmd, env=src_env(src), manifest=out / "manifest.json")


def reference_run(raw: Path, target: Path, k: int, workers: int, tmp: Path) -> Measure:
    cache = tmp / "ref-cache"
    out = tmp / "ref-out"
    for p in (cache, out, Path(str(out) + ".cache")):
        shutil.rmtree(p, ignore_errors=True)
    cmd = [
        sys.executable,
        "-c",
        REF_SCRIPT,
        str(raw),
        str(target),
        str(cache),
        str(out),
        str(k),
        str(workers),
    ]
    env = dict(os.environ, TQDM_DISABLE="1")
    return run_measured(cmd, env)


def kernel_mb_per_core(raw: Path, mb: int = 200) -> dict:
    """featurize+score on in-memory Arrow text, one thread; vs scikit-learn's HashingVectorizer."""
    import numpy as np
    import orjson
    import pyarrow as pa
    from sklearn.feature_extraction.text import HashingVectorizer

    from thresher.text.ngrams import NgramHasher

    texts = []
    size = 0
    with open(raw, "rb") as f:
        for line in f:
            t = orjson.loads(line)["text"]
            texts.append(t)
            size += len(t.encode())
            if size > mb * 1e6:
                break
    arr = pa.array(texts, type=pa.large_string())
    nbytes = arr.buffers()[2].size
    h = NgramHasher(10_000, 2)
    w = np.random.default_rng(0).normal(size=10_000)
    h.dot(arr.slice(0, 10), w)  # compile / load cache
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        h.dot(arr, w)
        times.append(time.perf_counter() - t0)
    ours = nbytes / statistics.median(times) / 1e6
    sub = texts[: max(1, len(texts) // 20)]
    sub_bytes = sum(len(t.encode()) for t in sub)
    hv = HashingVectorizer(
        n_features=10_000,
        ngram_range=(1, 2),
        token_pattern=r"(?u)\w+|[^\w\s]+",
        alternate_sign=False,
        norm=None,
    )
    t0 = time.perf_counter()
    hv.transform(sub) @ w
    sk = sub_bytes / (time.perf_counter() - t0) / 1e6
    return {
        "thresher_kernel_mb_s": round(ours, 1),
        "sklearn_hashingvectorizer_mb_s": round(sk, 1),
        "ratio": round(ours / sk, 1),
        "text_mb": round(nbytes / 1e6, 1),
    }


def ratios(base: list[Measure], new: list[Measure], what: str) -> str:
    """base/new of the medians, with the min and max of the per-round ratios."""
    med = statistics.median(getattr(m, what) for m in base) / statistics.median(
        getattr(m, what) for m in new
    )
    per = [getattr(x, what) / getattr(y, what) for x, y in zip(base, new, strict=True)]
    return f"{med:.2f}x [{min(per):.2f}-{max(per):.2f}]"


def stats(values: list[float]) -> str:
    """median [min-max]"""
    return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--corpus", type=Path, help="raw JSONL (default: build ~1 GB with bench/corpus.py)"
    )
    ap.add_argument("--target", type=Path, default=ROOT / "data" / "sample" / "target.jsonl")
    ap.add_argument("--bytes", type=int, default=1_000_000_000, help="size of the corpus to build")
    ap.add_argument(
        "--ref-mb", type=int, default=100, help="MB of the corpus the reference runs on"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="rounds (median, min, max quoted)")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="thresher source tree")
    ap.add_argument("--before-src", type=Path, help="also run this source tree (before)")
    ap.add_argument(
        "--memory-sizes", default="", help="MB sizes for a memory curve (e.g. 500,1000,2000)"
    )
    ap.add_argument(
        "--before-full-only",
        action="store_true",
        help="run the before tree on the whole corpus only (1 and --workers workers)",
    )
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-kernel", action="store_true")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "dsir_vs_reference.md")
    args = ap.parse_args()
    if args.repeats < 3:
        print("note: fewer than 3 repeats; the protocol quotes the median of at least 3")

    data_dir = HERE / "data"
    corpus = args.corpus
    if corpus is None:
        data_dir.mkdir(exist_ok=True)
        corpus = data_dir / f"large-{args.bytes // 1_000_000}MB.jsonl"
        if not corpus.exists():
            sys.path.insert(0, str(HERE))
            from corpus import build_large  # type: ignore[import-not-found]

            build_large(corpus, target_bytes=args.bytes)
    size = corpus.stat().st_size
    tmp = Path(tempfile.mkdtemp(prefix="thresher-bench-"))
    lines: list[str] = []

    def say(s: str = "") -> None:
        print(s, flush=True)
        lines.append(s)

    load_start = load()
    say(f"# DSIR: thresher vs data-selection 1.0.3 ({args.workers} workers each)\n")
    full_docs = count_docs(corpus)
    m = machine()  # ratios differ between machines: the reference is pure Python, thresher not
    say(f"machine: {m['cores']} cores, {m['cpu']}, {m['memory']}, Python {m['python']}\n")
    say(f"corpus: {corpus} ({size / 1e6:.0f} MB, {full_docs:,} docs); target: {args.target}\n")
    ref_raw = prefix_file(corpus, tmp / "ref.jsonl", args.ref_mb * 1_000_000)
    ref_docs = count_docs(ref_raw)
    ref_mb = ref_raw.stat().st_size / 1e6
    k_ref, k_full = max(1, ref_docs // 10), max(1, full_docs // 10)

    trees = {"": args.src}
    if args.before_src:
        trees = {" (before)": args.before_src, "": args.src}
    # name -> (input MB, docs, zero-arg function returning a Measure)
    configs: dict[str, tuple[float, int, object]] = {}
    if not args.skip_reference:
        configs["data-selection (fit+weights+resample)"] = (
            ref_mb,
            ref_docs,
            lambda: reference_run(ref_raw, args.target, k_ref, args.workers, tmp),
        )
    for tag, src in trees.items():
        for name, raw, docs, mb, k, workers in (
            (f"thresher{tag}", ref_raw, ref_docs, ref_mb, k_ref, args.workers),
            (f"thresher{tag}", corpus, full_docs, size / 1e6, k_full, args.workers),
            (f"thresher{tag}", corpus, full_docs, size / 1e6, k_full, 1),
        ):
            if tag and args.before_full_only and raw != corpus:
                continue
            out = tmp / f"t{abs(hash((name, mb, workers)))}"
            configs[f"{name}, {mb:.0f} MB, {workers} worker{'s' * (workers > 1)}"] = (
                mb,
                docs,
                lambda raw=raw, out=out, k=k, workers=workers, src=src: thresher_run(
                    raw, args.target, out, k, workers, src
                ),
            )
    # Not measured: one small run per source tree fills its numba cache (a cold cache
    # compiles the kernels, ~20 s, once per checkout).
    warm = prefix_file(corpus, tmp / "warm.jsonl", 2_000_000)
    for src in trees.values():
        run_measured(thresher_cmd(warm, args.target, tmp / "warm", 10, 1), env=src_env(src))
    results: dict[str, list[Measure]] = {c: [] for c in configs}
    for rnd in range(args.repeats):
        for name, (_, _, fn) in configs.items():
            m = fn()  # type: ignore[operator]
            results[name].append(m)
            print(
                f"  round {rnd + 1}: {name}: {m.wall:.1f} s wall, {m.cpu:.1f} s CPU, "
                f"load {m.load:.2f}, output {m.digest or '-'}",
                flush=True,
            )
    load_end = load()

    say(
        "| run | input MB | docs | wall s median [min-max] | CPU s median | MB/s (median wall) "
        "| fit s | scan s | write s | peak PSS MB (tree) |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|")
    rate: dict[str, float] = {}
    for name, (mb, docs, _) in configs.items():
        ms = results[name]
        wall = statistics.median(m.wall for m in ms)
        rate[name] = mb / wall
        stage = {
            st: statistics.median(m.timings.get(st, 0.0) for m in ms) if ms[0].timings else None
            for st in ("fit", "scan", "write")
        }
        cols = " | ".join("" if v is None else f"{v:.2f}" for v in stage.values())
        say(
            f"| {name} | {mb:.0f} | {docs:,} | {stats([m.wall for m in ms])} | "
            f"{statistics.median(m.cpu for m in ms):.1f} | {mb / wall:.1f} | {cols} | "
            f"{max(m.pss for m in ms):.0f} |"
        )
    say(f"\nload average (1, 5, 15 min): {load_start} at start, {load_end} at end\n")
    ref_name = "data-selection (fit+weights+resample)"
    w = args.workers
    for tag in trees:
        small = f"thresher{tag}, {ref_mb:.0f} MB, {w} worker{'s' * (w > 1)}"
        full = f"thresher{tag}, {size / 1e6:.0f} MB, {w} worker{'s' * (w > 1)}"
        one = f"thresher{tag}, {size / 1e6:.0f} MB, 1 worker"
        if ref_name in rate and small in rate:
            cpu = {
                n: statistics.median(m.cpu for m in results[n]) / configs[n][0]
                for n in (ref_name, full)
            }  # CPU seconds per MB: what a shared machine changes least
            say(
                f"- thresher{tag} on {size / 1e6:.0f} MB vs the reference, in CPU seconds per MB "
                f"(all processes): **{cpu[ref_name] / cpu[full]:.0f}x** less CPU"
            )
            say(
                f"- thresher{tag} vs the reference: same {ref_mb:.0f} MB **{rate[small] / rate[ref_name]:.0f}x**; "
                f"thresher on {size / 1e6:.0f} MB vs the reference's rate: **{rate[full] / rate[ref_name]:.0f}x**"
            )
        scan = lambda n: statistics.median(m.timings["scan"] for m in results[n])  # noqa: E731
        if one not in results:
            continue
        say(
            f"- thresher{tag} {w} workers vs 1 on {size / 1e6:.0f} MB: end to end "
            f"**{ratios(results[one], results[full], 'wall')}** (wall), scan stage "
            f"**{scan(one) / scan(full):.2f}x**; CPU {w} workers / 1: "
            f"{statistics.median(m.cpu for m in results[full]) / statistics.median(m.cpu for m in results[one]):.2f}"
        )
    if args.before_src:
        for n in ("{mb:.0f} MB, {w} workers", "{mb:.0f} MB, 1 worker"):
            for mb in (ref_mb, size / 1e6):
                key = n.format(mb=mb, w=w)
                a, b = f"thresher, {key}", f"thresher (before), {key}"
                if a in rate and b in rate:
                    say(
                        f"- after vs before, {key}: wall **{ratios(results[b], results[a], 'wall')}** "
                        f"faster, CPU **{ratios(results[b], results[a], 'cpu')}** less "
                        "(ratio of medians [min-max of the per-round ratios])"
                    )
    say("\nSame output (digest of selected/ and docs/ per run):")
    digests: dict[str, set[str]] = {}
    for name, ms in results.items():
        for m in ms:
            if m.digest:
                digests.setdefault(name.split(", ")[1], set()).add(m.digest)
    for size_key, ds in digests.items():
        say(f"- {size_key}: {len(ds)} distinct output(s) over every tree, worker count and round")
    if not args.skip_kernel:
        kern = kernel_mb_per_core(corpus)
        say(
            f"\nfeaturize+score kernel, 1 core: {kern['thresher_kernel_mb_s']} MB/s "
            f"(scikit-learn HashingVectorizer + dot: {kern['sklearn_hashingvectorizer_mb_s']} MB/s, {kern['ratio']}x)"
        )
    sizes = [int(x) for x in args.memory_sizes.split(",") if x]
    if sizes:
        say("\n## Peak memory of `thresher select` against input size\n")
        say(
            "| input MB | peak PSS MB (whole process tree) | peak RSS MB (largest process) | wall s |"
        )
        say("|---|---|---|---|")
    for mb in sizes:
        path = tmp / f"mem-{mb}.jsonl"
        if mb * 1e6 <= size:
            prefix_file(corpus, path, mb * 1_000_000)
        else:  # repeat the corpus to reach the size
            with open(path, "wb") as g:
                while g.tell() < mb * 1e6:
                    with open(corpus, "rb") as f:
                        shutil.copyfileobj(f, g)
        n = count_docs(path)
        m = run_measured(
            thresher_cmd(path, args.target, tmp / "t-mem", max(1, n // 10), args.workers),
            env=src_env(args.src),
        )
        say(f"| {path.stat().st_size / 1e6:.0f} | {m.pss:.0f} | {m.rss:.0f} | {m.wall:.1f} |")
        path.unlink()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        "\n".join(lines)
        + "\n\nCommand: `python bench/dsir_vs_reference.py "
        + " ".join(sys.argv[1:])
        + "`\n"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"results": str(args.results)}))


if __name__ == "__main__":
    main()
