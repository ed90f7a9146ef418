"""Benchmark thresher's exact + MinHash dedup against datatrove's MinHash pipeline.

On real text (``--input`` jsonl/jsonl.gz with a "text" field; by default
data/sample/raw.jsonl.gz if present, else README/copyright/licence/documentation files
found on this machine) with injected exact copies, 5/10/20% word edits and reordered
paragraphs (:mod:`thresher.dedup.evaluate`).  The base corpus is first cleaned of its own
near duplicates (exact shingle Jaccard >= 0.3) so that every other merge is a false
positive.  Each system runs in its own subprocess with 1 worker (peak RSS from
``getrusage``); datatrove runs in the interpreter given by ``--dt-python`` (a separate
venv, since it pins other numpy/pyarrow versions).

    .venv/bin/python bench/dedup_vs_datatrove.py --dt-python .venv-datatrove/bin/python

Both use word 5-grams, the same bands x rows (thresher's optimum for ``--threshold``,
9 x 13 for 0.8), 64-bit hashes.  datatrove's normalization is richer (punctuation removed,
numbers and diacritics folded); thresher's is ASCII-lowercase + word split (see
thresher.dedup.minhash).  thresher also runs exact dedup (datatrove's MinHash pipeline
does not) and both time reading the jsonl and writing the kept documents.

Then (results in bench/results/dedup.md):

* a threshold sweep (``--sweep``, ``threshold[:ngram]`` list, default 0.5, 0.6, 0.7, 0.8 with
  5-grams and 0.7 with 3-grams): thresher's exact + MinHash dedup as ``thresher dedup`` runs
  it, recall per edit kind, precision, false merges, lost originals; datatrove at the main
  ``--threshold`` and at ``--dt-sweep`` (default 0.7; its signature stage is slow);
* peak memory against input size (``--mem-sizes`` MB, default 100, 300, 600) of the
  ``thresher dedup`` CLI end to end with ``--workers`` 1 and 2 (``--mem-workers``): the base
  corpus repeated with unique ids, every copy with 1% of its words replaced (near duplicates);
  PSS summed over the process tree (``/proc/<pid>/smaps_rollup`` every 50 ms) and the largest
  single RSS; ``--mem-repeats`` runs per point, medians reported; ``--skip-memory`` skips it.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_INPUT = os.path.join(ROOT, "data", "sample", "raw.jsonl.gz")


# --------------------------------------------------------------------------- corpus


def _read_any(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, EOFError):
        return ""


def machine_corpus(max_docs: int) -> list[str]:
    """Real human text shipped on this machine: docs, licences, package descriptions."""
    pats = [
        "/usr/share/common-licenses/*",
        "/usr/share/doc/*/README*",
        "/usr/share/doc/*/copyright",
        "/usr/share/doc/*/*.md",
        "/usr/share/doc/*/*.txt*",
        "/usr/share/doc/*/*/*.txt*",
        "/usr/share/doc/*/*/*.md",
        "/usr/share/doc/*/NEWS*",
        "/usr/share/doc/*/changelog.gz",
        "/usr/share/doc/*/changelog.Debian.gz",
        f"{sys.prefix}/lib/python3*/site-packages/*.dist-info/METADATA",
        f"{sys.prefix}/lib/python3*/site-packages/*/*.md",
        f"{sys.prefix}/lib/python3*/site-packages/*/*.rst",
        "/usr/lib/python3*/*.txt",
    ]
    files = sorted({p for pat in pats for p in glob.glob(pat) if os.path.isfile(p)})
    docs = []
    for p in files:
        t = _read_any(p)
        if p.endswith("METADATA"):  # the long description after the header
            t = t.split("\n\n", 1)[1] if "\n\n" in t else ""
        if 100 <= len(t.split()) <= 50_000:
            docs.append(t)
        if len(docs) >= max_docs:
            break
    return docs


def load_input(path: str, max_docs: int) -> list[str]:
    import orjson

    docs = []
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        for line in f:
            if line.strip():
                t = orjson.loads(line).get("text")
                if isinstance(t, str) and len(t.split()) >= 20:
                    docs.append(t)
                    if len(docs) >= max_docs:
                        break
    return docs


# --------------------------------------------------------------------------- workers


def _rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM; ru_maxrss would include the
    parent's peak inherited through fork)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def worker_thresher(corpus: str, out: str, threshold: float, verify: bool, shard: int) -> None:
    import orjson
    import pyarrow as pa
    import pyarrow.json as pj

    from thresher.dedup import (
        BandSpill,
        MinHashParams,
        band_keys,
        clusters_in_memory,
        combine_clusters,
        exact_hashes,
        signatures,
    )

    params = MinHashParams(threshold=threshold, verify=verify)
    t0 = time.perf_counter()
    warm = pa.array(["warm up the numba kernels once"])
    wk = np.arange(1, dtype=np.int64)
    clusters_in_memory(wk, band_keys(signatures(warm, params), params))
    combine_clusters(wk, wk)
    exact_hashes(warm)
    t_jit = time.perf_counter() - t0

    times: dict[str, float] = {}
    cpu0 = _cpu()
    t = time.perf_counter()
    table = pj.read_json(corpus, read_options=pj.ReadOptions(block_size=1 << 26))
    texts = table.column("text").combine_chunks()
    times["read"] = time.perf_counter() - t
    work = tempfile.mkdtemp(prefix="thresher-bench-")
    t_exact = t_mh = t_add = 0.0
    with (
        BandSpill(os.path.join(work, "mh"), params.bands, partitions=16) as mh,
        BandSpill(os.path.join(work, "ex"), 1, partitions=4, key_words=2) as ex,
    ):
        for start in range(0, len(texts), shard):
            batch = texts.slice(start, shard)
            keys = np.arange(start, start + len(batch), dtype=np.int64)
            t = time.perf_counter()
            h = exact_hashes(batch)
            t_exact += time.perf_counter() - t
            t = time.perf_counter()
            sigs = signatures(batch, params)
            bk = band_keys(sigs, params)
            t_mh += time.perf_counter() - t
            t = time.perf_counter()
            ex.add(keys, h)
            mh.add(keys, bk, sigs=sigs if verify else None)
            t_add += time.perf_counter() - t
    times.update({"exact_hash": t_exact, "minhash": t_mh, "spill": t_add})
    t = time.perf_counter()
    keys, c_ex = BandSpill(os.path.join(work, "ex"), 1, partitions=4, key_words=2).clusters()
    _, c_mh, stats = BandSpill(os.path.join(work, "mh"), params.bands, partitions=16).clusters(
        threshold=params.threshold if verify else None, return_stats=True
    )
    _, cid = combine_clusters(keys, c_ex, c_mh)
    times["cluster"] = time.perf_counter() - t
    t = time.perf_counter()
    keep = cid == keys
    kept = table.filter(pa.array(keep))
    with open(os.path.join(work, "kept.jsonl"), "wb") as f:
        for row in kept.to_pylist():
            f.write(orjson.dumps(row) + b"\n")
    times["filter_write"] = time.perf_counter() - t
    np.save(out + ".npy", cid)
    with open(out + ".json", "w") as f:
        json.dump(
            {
                "times": times,
                "cpu": _cpu() - cpu0,
                "jit": t_jit,
                "rss_mb": _rss_mb(),
                "stats": stats,
                "exact_dups": int((c_ex != keys).sum()),
            },
            f,
        )


DT_SCRIPT = r"""
import json, os, resource, struct, sys, time
import numpy as np
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets,
    MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter
from datatrove.utils.hashing import HashConfig

corpus_dir, work, out, bands, rows, n = sys.argv[1:7]
bands, rows, n = int(bands), int(rows), int(n)
ngram = int(sys.argv[7]) if len(sys.argv) > 7 else 5
cfg = MinhashConfig(n_grams=ngram, num_buckets=bands, hashes_per_bucket=rows, seed=1,
                    hash_config=HashConfig(precision=64))
def ex(pipeline, tasks, name):
    return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                                 logging_dir=f"{work}/logs/{name}")
stages = [
    ("signatures", ex([JsonlReader(corpus_dir), MinhashDedupSignature(f"{work}/sigs", config=cfg)], 1, "s1")),
    ("buckets", ex([MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)], bands, "s2")),
    ("cluster", ex([MinhashDedupCluster(f"{work}/buckets", f"{work}/ids", config=cfg, save_cluster_id=True)], 1, "s3")),
    ("filter_write", ex([JsonlReader(corpus_dir), MinhashDedupFilter(f"{work}/ids"), JsonlWriter(f"{work}/kept")], 1, "s4")),
]
def cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
times = {}
cpu0 = cpu()
for name, stage in stages:
    t = time.perf_counter()
    stage.run()
    times[name] = time.perf_counter() - t
removed = np.zeros(n, dtype=bool)
cid = np.arange(n, dtype=np.int64)
p = f"{work}/ids/000000.remove"
if os.path.exists(p):
    removed[np.fromfile(p, dtype="<u4").astype(np.int64)] = True
p = f"{work}/ids/000000.clusters"
if os.path.exists(p):
    pairs = np.fromfile(p, dtype="<u4").reshape(-1, 2).astype(np.int64)
    cid[pairs[:, 0]] = n + pairs[:, 1]
np.save(out + ".npy", np.stack([cid, removed.astype(np.int64)]))
cpu_total = cpu() - cpu0
rss = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
json.dump({"times": times, "cpu": cpu_total, "rss_mb": rss}, open(out + ".json", "w"))
"""


def _load_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def run_child(cmd: list[str], env: dict | None = None) -> None:
    e = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", **(env or {}))
    r = subprocess.run(cmd, env=e, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-5000:])
        raise SystemExit(f"child failed: {cmd[:3]}")


def run_datatrove(dt_python, corpus_dir, work, tag, params, n, inj) -> tuple[dict, dict]:
    """datatrove's 4-stage MinHash at ``params``' n-gram, bands x rows: (score, info)."""
    from thresher.dedup.evaluate import score

    out = os.path.join(work, tag)
    script = os.path.join(work, "dt_run.py")
    with open(script, "w") as f:
        f.write(DT_SCRIPT)
    dt_work = os.path.join(work, f"{tag}-work")
    run_child(
        [
            dt_python,
            script,
            corpus_dir,
            dt_work,
            out,
            str(params.bands),
            str(params.rows),
            str(n),
            str(params.ngram),
        ]
    )
    info = _load_json(out + ".json")
    cid, removed = np.load(out + ".npy")
    return score(inj, cid, removed.astype(bool)), info


# --------------------------------------------------------------------------- rensa


def rensa_comparison(inj, params) -> list[dict]:
    """Signature speed and quality: thresher's numba kernel vs rensa's RMinHash."""
    import pyarrow as pa

    from thresher.dedup import band_keys, clusters_in_memory, jaccard, signatures
    from thresher.dedup.evaluate import score
    from thresher.dedup.minhash import _shingles_kernel, shingle_hashes, string_buffers

    try:
        import rensa
    except ImportError:
        return []
    arr = pa.array(inj.texts, type=pa.large_string())
    mb = arr.nbytes / 1e6
    n = len(arr)
    signatures(arr.slice(0, 2), params)
    rows = []

    def run(name, fn):
        t = time.perf_counter()
        sigs = fn()
        dt = time.perf_counter() - t
        sh = shingle_hashes(inj.texts, params.ngram)
        err = []
        for i in np.flatnonzero(inj.source >= 0)[:400]:
            j = inj.source[i]
            err.append(np.mean(sigs[i] == sigs[j]) - jaccard(sh[i], sh[j]))
        keys = np.arange(n, dtype=np.int64)
        _, cid = clusters_in_memory(keys, band_keys(sigs, params))
        r = score(inj, cid)
        rows.append(
            {
                "name": name,
                "sec": dt,
                "docs_s": n / dt,
                "mb_s": mb / dt,
                "bias": float(np.mean(err)),
                "mae": float(np.mean(np.abs(err))),
                "recall_reorder": r["reorder"]["recall"],
                "recall_edit05": r["edit05"]["recall"],
                "false_merges": r["false_merges"],
            }
        )

    run("thresher numba (tokenize+hash+permute)", lambda: signatures(arr, params))

    def rensa_flat():
        starts, ends, data = string_buffers(arr)
        hashes, offs = _shingles_kernel(starts, ends, data, np.int64(params.ngram))
        m = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            hashes, offs.astype(np.uint64), params.num_perm, params.seed
        )
        return np.asarray(m.to_rows(), dtype=np.uint64)

    def rensa_py():
        import re

        word = re.compile(r"[a-z0-9\x80-\uffff]+")
        sets = []
        for t in inj.texts:
            w = word.findall(t.lower())
            sets.append([" ".join(w[k : k + 5]) for k in range(max(1, len(w) - 4))])
        m = rensa.RMinHash.digest_matrix_from_token_sets(sets, params.num_perm, params.seed)
        return np.asarray(m.to_rows(), dtype=np.uint64)

    run("rensa RMinHash on thresher's shingle hashes", rensa_flat)
    run("rensa RMinHash, Python regex 5-grams", rensa_py)
    return rows


# --------------------------------------------------------------------------- threshold sweep


def _parse_settings(spec: str) -> list[tuple[float, int]]:
    """``"0.5,0.6,0.7:3"`` -> [(0.5, 5), (0.6, 5), (0.7, 3)] (``threshold[:ngram]``)."""
    out = []
    for part in spec.split(","):
        if part.strip():
            t, _, ng = part.strip().partition(":")
            out.append((float(t), int(ng or 5)))
    return out


def sweep_thresher(inj, settings: list[tuple[float, int]]) -> list[dict]:
    """thresher's exact + MinHash dedup (what ``thresher dedup`` runs: no verify step) at
    each ``(threshold, ngram)``, in process; bands x rows are the optimum for the threshold."""
    import pyarrow as pa

    from thresher.dedup import MinHashParams, dedup_texts
    from thresher.dedup.evaluate import score

    arr = pa.array(inj.texts, type=pa.large_string())
    dedup_texts(arr.slice(0, 2))  # JIT / cache load outside the timing
    rows = []
    for thr, ng in settings:
        params = MinHashParams(threshold=thr, ngram=ng)
        c0, t0 = _cpu(), time.perf_counter()
        dup, cid = dedup_texts(arr, params)
        rows.append(
            {
                "system": "thresher",
                "threshold": thr,
                "ngram": ng,
                "bands": params.bands,
                "rows": params.rows,
                "mid": params.s_curve_midpoint,
                "score": score(inj, cid, dup),
                "cpu": _cpu() - c0,
                "wall": time.perf_counter() - t0,
            }
        )
    return rows


def print_sweep(rows: list[dict]) -> None:
    from thresher.dedup.evaluate import KINDS

    hdr = [
        "system",
        "threshold",
        "n-gram",
        "bands x rows",
        "S-curve 50%",
        *[f"R {k}" for k in KINDS],
        "P all",
        "dropped",
        "false merges",
        "lost originals",
        "CPU s",
    ]
    print(" | ".join(hdr))
    print(" | ".join("---" for _ in hdr))
    for r in rows:
        s = r["score"]
        cells = [
            r["system"],
            f"{r['threshold']:.1f}",
            str(r["ngram"]),
            f"{r['bands']} x {r['rows']}",
            f"{r['mid']:.2f}",
            *[f"{s[k]['recall']:.3f}" if k in s else "-" for k in KINDS],
            f"{s['precision_all']:.3f}",
            str(s["dropped"]),
            str(s["false_merges"]),
            str(s["lost_families"]),
            f"{r['cpu']:.2f}",
        ]
        print(" | ".join(cells))


# --------------------------------------------------------------------------- memory


def _read_kb(path: str, fields: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in fields:
                    out[k] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants (via /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                with open(task) as f:
                    todo.extend(int(c) for c in f.read().split())
            except (FileNotFoundError, ProcessLookupError):
                pass
    return out


def run_sampled(cmd: list[str], interval: float = 0.05) -> dict:
    """Run ``cmd``; every ``interval`` s sum PSS over its process tree (smaps_rollup) and
    note the largest single RSS.  CPU = the tree's user+sys seconds (RUSAGE_CHILDREN)."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak_pss = peak_rss = 0
    max_procs = 0
    samples = 0
    while proc.poll() is None:
        pids = _tree(proc.pid)
        pss = 0
        for p in pids:
            m = _read_kb(f"/proc/{p}/smaps_rollup", ("Pss", "Rss"))
            pss += m.get("Pss", 0)
            peak_rss = max(peak_rss, m.get("Rss", 0))
        peak_pss = max(peak_pss, pss)
        max_procs = max(max_procs, len(pids))
        samples += 1
        time.sleep(interval)
    wall = time.perf_counter() - t0
    log = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.stderr.write(log[-5000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    return {
        "wall": wall,
        "cpu": cpu,
        "pss_mb": peak_pss / 1024,
        "rss_mb": peak_rss / 1024,
        "procs": max_procs,
        "samples": samples,
    }


def build_repeated(base: list[str], target_mb: float, path: str, seed: int = 0) -> tuple[int, int]:
    """A jsonl of ~``target_mb`` MB: ``base`` repeated with unique ids; every copy after
    the first has 1% of its space-separated words (at least 1) replaced by a corpus word,
    so copies are near duplicates (5-gram Jaccard ~0.9) and never byte-identical."""
    import orjson

    rng = np.random.default_rng(seed)
    vocab = sorted({w for t in base[:2000] for w in t.split() if w.isalpha()})[:50000] or ["w"]
    split = [t.split(" ") for t in base]
    target = int(target_mb * 1e6)
    size = docs = rep = 0
    with open(path, "wb") as f:
        while size < target:
            for i, words in enumerate(split):
                if rep:
                    words = list(words)
                    k = max(1, len(words) // 100)
                    for j, v in zip(
                        rng.integers(len(words), size=k),
                        rng.integers(len(vocab), size=k),
                        strict=True,
                    ):
                        words[j] = vocab[v]
                line = orjson.dumps({"id": f"r{rep}-{i}", "text": " ".join(words)}) + b"\n"
                f.write(line)
                size += len(line)
                docs += 1
                if size >= target:
                    break
            rep += 1
    return docs, size


def _manifest_counts(out_dir: str) -> dict:
    """``counts`` of the ``thresher dedup`` run manifest (read, duplicate, selected...)."""
    try:
        with open(os.path.join(out_dir, "manifest.json")) as f:
            return json.load(f).get("counts", {})
    except (OSError, ValueError):
        return {}


def memory_bench(
    base: list[str],
    sizes: list[float],
    workers: list[int],
    work: str,
    threshold: float,
    repeats: int,
    keep_files: bool,
) -> list[dict]:
    rows = []
    for mb in sizes:
        path = os.path.join(work, f"repeated-{mb:g}MB.jsonl")
        t = time.perf_counter()
        docs, size = build_repeated(base, mb, path)
        print(
            f"built {path}: {docs:,} docs, {size / 1e6:.0f} MB [{time.perf_counter() - t:.0f}s]",
            flush=True,
        )
        for w in workers:
            runs = []
            for _ in range(repeats):
                out = os.path.join(work, f"out-{mb:g}-{w}")
                cmd = [
                    sys.executable,
                    "-m",
                    "thresher.cli",
                    "dedup",
                    "--raw",
                    path,
                    "--out",
                    out,
                    "--threshold",
                    str(threshold),
                    "--workers",
                    str(w),
                    "--overwrite",
                ]
                r = run_sampled(cmd)
                r["kept"] = _manifest_counts(out).get("selected")
                runs.append(r)
                shutil.rmtree(out, ignore_errors=True)
            med = {
                k: statistics.median(r[k] for r in runs)
                for k in ("wall", "cpu", "pss_mb", "rss_mb")
            }
            rows.append(
                {
                    "mb": size / 1e6,
                    "docs": docs,
                    "workers": w,
                    "repeats": repeats,
                    "kept": runs[0]["kept"],
                    "procs": max(r["procs"] for r in runs),
                    **med,
                    "wall_range": (min(r["wall"] for r in runs), max(r["wall"] for r in runs)),
                }
            )
            print(
                f"  workers {w}: wall {med['wall']:.1f}s, CPU {med['cpu']:.1f}s, "
                f"peak PSS {med['pss_mb']:.0f} MB",
                flush=True,
            )
        if not keep_files:
            os.remove(path)
    return rows


def print_memory(rows: list[dict]) -> None:
    hdr = [
        "input MB",
        "docs",
        "workers",
        "kept docs",
        "wall s",
        "CPU s",
        "docs/s (wall)",
        "MB/s (wall)",
        "MB/s per CPU s",
        "peak PSS MB (tree)",
        "largest RSS MB",
        "processes",
    ]
    print(" | ".join(hdr))
    print(" | ".join("---" for _ in hdr))
    for r in rows:
        print(
            " | ".join(
                [
                    f"{r['mb']:.0f}",
                    f"{r['docs']:,}",
                    str(r["workers"]),
                    f"{r['kept']:,}" if r["kept"] is not None else "?",
                    f"{r['wall']:.1f}",
                    f"{r['cpu']:.1f}",
                    f"{r['docs'] / r['wall']:,.0f}",
                    f"{r['mb'] / r['wall']:.1f}",
                    f"{r['mb'] / r['cpu']:.1f}",
                    f"{r['pss_mb']:.0f}",
                    f"{r['rss_mb']:.0f}",
                    str(r["procs"]),
                ]
            )
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", default=None, help="jsonl(.gz) with a 'text' field")
    ap.add_argument("--max-docs", type=int, default=20000)
    ap.add_argument("--per-kind", type=int, default=300, help="injected docs per kind")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--dt-python", default=".venv-datatrove/bin/python")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--skip-rensa", action="store_true")
    ap.add_argument("--shard", type=int, default=5000, help="thresher docs per map batch")
    ap.add_argument("--work", default=None)
    ap.add_argument(
        "--sweep",
        default="0.5,0.6,0.7,0.8,0.7:3",
        help="thresher threshold sweep, threshold[:ngram] comma-separated ('' to skip)",
    )
    ap.add_argument(
        "--dt-sweep",
        default="0.7",
        help="extra datatrove settings threshold[:ngram] (the main run is --threshold)",
    )
    ap.add_argument(
        "--mem-sizes",
        default="100,300,600",
        help="MB of repeated near-duplicate corpus for the `thresher dedup` memory runs",
    )
    ap.add_argument("--mem-workers", default="1,2")
    ap.add_argument("--mem-repeats", type=int, default=1, help="runs per size (median)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--keep-files", action="store_true", help="keep the built corpora")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker == "thresher":
        worker_thresher(a.corpus, a.out, a.threshold, a.verify, a.shard)
        return

    import orjson

    from thresher.dedup import MinHashParams
    from thresher.dedup.evaluate import KINDS, drop_near_duplicates, inject, score

    params = MinHashParams(threshold=a.threshold)
    work = a.work or tempfile.mkdtemp(prefix="dedup-bench-")
    os.makedirs(work, exist_ok=True)
    src = a.input or (DEFAULT_INPUT if os.path.exists(DEFAULT_INPUT) else None)
    t = time.perf_counter()
    base = load_input(src, a.max_docs) if src else machine_corpus(a.max_docs)
    n_raw = len(base)
    base = drop_near_duplicates(base, max_jaccard=0.3)
    inj = inject(base, per_kind=a.per_kind, seed=0)
    n = len(inj.texts)
    corpus_dir = os.path.join(work, "corpus")
    os.makedirs(corpus_dir, exist_ok=True)
    corpus = os.path.join(corpus_dir, "corpus.jsonl")
    with open(corpus, "wb") as f:
        for i, text in enumerate(inj.texts):
            f.write(orjson.dumps({"id": str(i), "text": text}) + b"\n")
    mb = sum(len(x.encode()) for x in inj.texts) / 1e6
    print(
        f"corpus: {src or 'real text files on this machine'}: {n_raw} docs -> {len(base)} after "
        f"dropping its own near-dups (J>=0.3) -> {n} docs with injected "
        f"{a.per_kind}/kind ({', '.join(KINDS)}), {mb:.1f} MB of text "
        f"[{time.perf_counter() - t:.0f}s to build]; bands x rows = {params.bands} x {params.rows}"
        f" (threshold {a.threshold}, S-curve 50% at J={params.s_curve_midpoint:.2f})"
    )

    results = {}
    for verify in (False, True):
        out = os.path.join(work, f"thresher{'_verify' if verify else ''}")
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            "thresher",
            "--corpus",
            corpus,
            "--out",
            out,
            "--threshold",
            str(a.threshold),
            "--shard",
            str(a.shard),
        ]
        run_child(cmd + (["--verify"] if verify else []))
        info = _load_json(out + ".json")
        cid = np.load(out + ".npy")
        name = "thresher exact+minhash" + (" +verify" if verify else "")
        results[name] = (score(inj, cid, cid != np.arange(n)), info)

    if not a.skip_datatrove:
        if not os.path.exists(a.dt_python):
            print(f"datatrove skipped: {a.dt_python} not found")
        else:
            results["datatrove minhash (4 stages)"] = run_datatrove(
                a.dt_python, corpus_dir, work, "datatrove", params, n, inj
            )
    print(
        "text-dedup: not run (pulls in the `datasets` stack and runs its own Spark/"
        "HF pipeline; left out of this bench)"
    )

    print()
    hdr = [
        "system",
        *[f"R {k}" for k in KINDS],
        "P all",
        "P edit05",
        "false merges",
        "lost families",
        "wall s",
        "CPU s",
        "docs/s/core",
        "MB/s/core",
        "peak RSS MB",
    ]
    print(" | ".join(hdr))
    print(" | ".join("---" for _ in hdr))
    for name, (r, info) in results.items():
        wall = sum(info["times"].values())
        total = info["cpu"]
        cells = [name]
        cells += [f"{r[k]['recall']:.3f}" if k in r else "-" for k in KINDS]
        cells += [
            f"{r['precision_all']:.3f}",
            f"{r['edit05']['precision']:.3f}",
            str(r["false_merges"]),
            str(r["lost_families"]),
            f"{wall:.2f}",
            f"{total:.2f}",
            f"{n / total:,.0f}",
            f"{mb / total:.2f}",
            f"{info['rss_mb']:.0f}",
        ]
        print(" | ".join(cells))
    print()
    for name, (_, info) in results.items():
        parts = ", ".join(f"{k} {v:.2f}s" for k, v in info["times"].items())
        extra = f"; numba JIT/cache load {info['jit']:.2f}s (not counted)" if "jit" in info else ""
        print(f"{name}: {parts}{extra}")
    names = list(results)
    dt = [k for k in names if k.startswith("datatrove")]
    if dt:
        tt = results[names[0]][1]["cpu"]
        td = results[dt[0]][1]["cpu"]
        print(f"speed-up thresher vs datatrove (1 worker, end to end, CPU seconds): {td / tt:.1f}x")

    if not a.skip_rensa:
        rows = rensa_comparison(inj, params)
        if rows:
            print(
                "\nsignature kernels (same corpus, 1 thread, 128 perms, quality on injected pairs):"
            )
            print(
                "kernel | sec | docs/s | MB/s | bias est-true J | MAE | R reorder | R edit05 | false merges"
            )
            print("--- | --- | --- | --- | --- | --- | --- | --- | ---")
            for r in rows:
                print(
                    f"{r['name']} | {r['sec']:.2f} | {r['docs_s']:,.0f} | {r['mb_s']:.1f} | "
                    f"{r['bias']:+.4f} | {r['mae']:.4f} | {r['recall_reorder']:.3f} | "
                    f"{r['recall_edit05']:.3f} | {r['false_merges']}"
                )
        else:
            print("rensa not installed: signature comparison skipped")

    settings = _parse_settings(a.sweep)
    if settings:
        print(
            f"\nthreshold sweep ({n} docs, {a.per_kind} injected per kind; exact + MinHash as "
            "`thresher dedup` runs it, no verify; bands x rows = optimum for the threshold; "
            "R = recall per edit kind, P all = precision over all dropped rows, lost "
            "originals = families with no surviving row; datatrove rows: same bands x rows, "
            "4-stage pipeline, CPU s end to end incl. reading/writing):"
        )
        rows = sweep_thresher(inj, settings)
        dt_name = "datatrove minhash (4 stages)"
        if dt_name in results:
            r, info = results[dt_name]
            rows.append(
                {
                    "system": "datatrove",
                    "threshold": a.threshold,
                    "ngram": params.ngram,
                    "bands": params.bands,
                    "rows": params.rows,
                    "mid": params.s_curve_midpoint,
                    "score": r,
                    "cpu": info["cpu"],
                }
            )
            for thr, ng in _parse_settings(a.dt_sweep):
                p = MinHashParams(threshold=thr, ngram=ng)
                r, info = run_datatrove(
                    a.dt_python, corpus_dir, work, f"datatrove-{thr}-{ng}", p, n, inj
                )
                rows.append(
                    {
                        "system": "datatrove",
                        "threshold": thr,
                        "ngram": ng,
                        "bands": p.bands,
                        "rows": p.rows,
                        "mid": p.s_curve_midpoint,
                        "score": r,
                        "cpu": info["cpu"],
                    }
                )
        print_sweep(rows)

    if not a.skip_memory:
        sizes = [float(x) for x in a.mem_sizes.split(",") if x.strip()]
        workers = [int(x) for x in a.mem_workers.split(",") if x.strip()]
        print(
            f"\nmemory vs input size: `thresher dedup --threshold {a.threshold} --workers W` "
            "end to end (subprocess; PSS summed over the process tree from "
            "/proc/<pid>/smaps_rollup every 50 ms; largest RSS of a single process; CPU s = "
            "user+sys of the tree); corpus = the base corpus repeated with unique ids, copies "
            "with 1% of words replaced (near duplicates):"
        )
        mem = memory_bench(base, sizes, workers, work, a.threshold, a.mem_repeats, a.keep_files)
        print()
        print_memory(mem)


if __name__ == "__main__":
    main()
