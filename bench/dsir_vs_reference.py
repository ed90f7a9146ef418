"""thresher's DSIR vs the reference implementation (PyPI data-selection 1.0.3), side by side.

Both select from the same real corpus (Debian documentation, see bench/corpus.py)
on the same cores. Prints docs/s and MB/s of each end to end and the ratio; the
featurize+score kernel alone in MB/s per core (against scikit-learn's
HashingVectorizer, the library the kernel passes over); and thresher's peak
memory at several input sizes.

    python bench/dsir_vs_reference.py                 # builds ~1 GB in bench/data
    python bench/dsir_vs_reference.py --corpus big.jsonl --ref-mb 200 --repeats 3

The reference is slow (~1 MB/s per core), so by default it runs on the first
``--ref-mb`` MB of the corpus and thresher runs on the same prefix *and* on the
whole corpus; ratios compare equal inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
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


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Run cmd; return (wall s, peak PSS of the whole process tree, peak single-process RSS) in MB."""
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
    stop.set()
    th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}"
        )
    return wall, peak, peak_rss


def count_docs(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def thresher_cmd(raw: Path, target: Path, out: Path, k: int, workers: int) -> list[str]:
    return [
        str(BIN / "thresher"),
        "select",
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
    ]


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


def reference_run(
    raw: Path, target: Path, k: int, workers: int, tmp: Path
) -> tuple[float, float, float]:
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
    ap.add_argument("--repeats", type=int, default=3, help="thresher runs per size (median quoted)")
    ap.add_argument("--memory-sizes", default="500,1000,2000", help="MB sizes for the memory curve")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument(
        "--ref-wall",
        type=float,
        help="reuse a measured reference wall time (s) instead of rerunning it",
    )
    ap.add_argument("--results", type=Path, default=HERE / "results" / "dsir_vs_reference.md")
    args = ap.parse_args()

    data_dir = HERE / "data"
    data_dir.mkdir(exist_ok=True)
    corpus = args.corpus
    if corpus is None:
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

    say(f"# DSIR: thresher vs data-selection 1.0.3 ({args.workers} workers each)\n")
    say(
        f"corpus: {corpus} ({size / 1e6:.0f} MB, {count_docs(corpus):,} docs); target: {args.target}\n"
    )
    ref_raw = prefix_file(corpus, tmp / "ref.jsonl", args.ref_mb * 1_000_000)
    ref_docs = count_docs(ref_raw)
    ref_mb = ref_raw.stat().st_size / 1e6
    k = max(1, ref_docs // 10)
    say(
        "| run | input MB | docs | wall s (median) | docs/s | MB/s | peak PSS MB (tree) | peak RSS MB (largest process) |"
    )
    say("|---|---|---|---|---|---|---|---|")
    rows = {}
    if args.ref_wall:
        rows["ref"] = args.ref_wall
        say(
            f"| data-selection (fit+weights+resample), earlier run | {ref_mb:.0f} | {ref_docs:,} | {args.ref_wall:.1f} | {ref_docs / args.ref_wall:,.0f} | {ref_mb / args.ref_wall:.2f} | | |"
        )
    elif not args.skip_reference:
        wall, pss, rss = reference_run(ref_raw, args.target, k, args.workers, tmp)
        rows["ref"] = wall
        say(
            f"| data-selection (fit+weights+resample) | {ref_mb:.0f} | {ref_docs:,} | {wall:.1f} | {ref_docs / wall:,.0f} | {ref_mb / wall:.2f} | {pss:.0f} | {rss:.0f} |"
        )
    walls, psss, rsss = [], [], []
    for _ in range(args.repeats):
        w, p, r = run_measured(thresher_cmd(ref_raw, args.target, tmp / "t-small", k, args.workers))
        walls.append(w)
        psss.append(p)
        rsss.append(r)
    small = statistics.median(walls)
    say(
        f"| thresher select | {ref_mb:.0f} | {ref_docs:,} | {small:.1f} | {ref_docs / small:,.0f} | {ref_mb / small:.1f} | {max(psss):.0f} | {max(rsss):.0f} |"
    )
    full_docs = count_docs(corpus)
    walls, psss, rsss = [], [], []
    for _ in range(args.repeats):
        w, p, r = run_measured(
            thresher_cmd(corpus, args.target, tmp / "t-full", max(1, full_docs // 10), args.workers)
        )
        walls.append(w)
        psss.append(p)
        rsss.append(r)
    full = statistics.median(walls)
    say(
        f"| thresher select | {size / 1e6:.0f} | {full_docs:,} | {full:.1f} | {full_docs / full:,.0f} | {size / 1e6 / full:.1f} | {max(psss):.0f} | {max(rsss):.0f} |"
    )
    if "ref" in rows:
        say(
            f"\nspeed-up on the same {ref_mb:.0f} MB: **{rows['ref'] / small:.0f}x**; "
            f"thresher on {size / 1e6:.0f} MB vs reference rate: **{(size / full) / (ref_mb * 1e6 / rows['ref']):.0f}x**"
        )
    kern = kernel_mb_per_core(corpus)
    say(
        f"\nfeaturize+score kernel, 1 core: {kern['thresher_kernel_mb_s']} MB/s "
        f"(scikit-learn HashingVectorizer + dot: {kern['sklearn_hashingvectorizer_mb_s']} MB/s, {kern['ratio']}x)"
    )
    say("\n## Peak memory of `thresher select` against input size\n")
    say("| input MB | peak PSS MB (whole process tree) | peak RSS MB (largest process) | wall s |")
    say("|---|---|---|---|")
    for mb in [int(x) for x in args.memory_sizes.split(",") if x]:
        src = corpus
        path = tmp / f"mem-{mb}.jsonl"
        if mb * 1e6 <= size:
            prefix_file(src, path, mb * 1_000_000)
        else:  # repeat the corpus to reach the size
            with open(path, "wb") as g:
                while g.tell() < mb * 1e6:
                    with open(src, "rb") as f:
                        shutil.copyfileobj(f, g)
        n = count_docs(path)
        w, p, r = run_measured(
            thresher_cmd(path, args.target, tmp / "t-mem", max(1, n // 10), args.workers)
        )
        say(f"| {path.stat().st_size / 1e6:.0f} | {p:.0f} | {r:.0f} | {w:.1f} |")
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
