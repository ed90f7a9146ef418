#!/usr/bin/env python3
"""Scaling benchmark: `thresher select` on >= 1 GB of real text, local vs Ray, 1 vs 2 workers.

    python bench/scale.py                       # builds ~1 GB, 3 repeats, writes bench/results/scale.md
    python bench/scale.py --bytes 300000000 --repeats 1
    python bench/scale.py --input big.jsonl     # an existing JSONL corpus
    python bench/scale.py --ray-address auto    # Ray runs join a running cluster (no startup cost)

The corpus comes from ``bench/corpus.py large`` (Debian documentation: guides, man
pages, API docs, ... repeated to size). If that cannot run here, a fallback builds it
from real text already on this machine (licences, package copyright files, Python
stdlib docstrings), repeated.

Every run is a separate ``thresher select`` process (``python -m thresher.cli``),
timed wall-clock from start to exit: Python start-up, Ray start-up (for ``--engine
ray`` without an address) and all three passes over the data are included. Runs are
interleaved (each repeat runs every configuration once) and the median is
reported. The selected output of every run must be byte-identical; the benchmark
fails if it is not.

Reported: throughput (MB/s of input file, docs/s), the speed-up of 2 workers over 1
for each engine (goal >= 1.8), and Ray's overhead over the local engine at the same
worker count (goal <= 15%).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Config, Run, report_header, run_interleaved, stat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scale.md"


def _size(s: str) -> int:
    s = s.strip().upper().replace("_", "")
    for suffix, mult in (
        ("GB", 10**9),
        ("MB", 10**6),
        ("KB", 10**3),
        ("G", 10**9),
        ("M", 10**6),
        ("K", 10**3),
    ):
        if s.endswith(suffix):
            return int(float(s[: -len(suffix)]) * mult)
    return int(s)


# ----------------------------------------------------------------------------- corpus


def _fallback_texts() -> list[str]:
    """Real text on this machine: licences, package copyright files, stdlib docstrings."""
    import glob
    import importlib
    import inspect
    import pkgutil
    import re

    docs: list[str] = []
    files = sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(
        glob.glob("/usr/share/doc/*/copyright")
    )
    for p in files:
        try:
            text = Path(p).read_text(encoding="utf-8", errors="replace")
        except (IsADirectoryError, PermissionError):
            continue
        for chunk in re.split(r"\n\s*\n\s*\n", text):
            if len(chunk) > 300:
                docs.append(chunk.strip())
    for mod in sorted(m.name for m in pkgutil.iter_modules() if not m.name.startswith("_"))[:400]:
        try:
            m = importlib.import_module(mod)
        except BaseException:  # noqa: BLE001 - any stdlib module may refuse to import here
            continue
        for _, obj in inspect.getmembers(m):
            d = inspect.getdoc(obj)
            if d and len(d) > 300:
                docs.append(d)
    return list(dict.fromkeys(docs))


def build_fallback(out: Path, nbytes: int) -> None:
    texts = _fallback_texts()
    if not texts:
        raise SystemExit("no real text found on this machine for the fallback corpus")
    written, rep, n = 0, 0, 0
    with open(out, "w", encoding="utf-8") as f:
        while written < nbytes:
            for i, t in enumerate(texts):
                line = json.dumps({"id": f"{i}@r{rep}", "text": t}, ensure_ascii=False) + "\n"
                f.write(line)
                written += len(line.encode("utf-8"))
                n += 1
                if written >= nbytes:
                    break
            rep += 1
    print(
        f"fallback corpus -> {out}: {n} docs, {written / 1e6:.1f} MB, {len(texts)} distinct texts",
        flush=True,
    )


def ensure_corpus(args) -> tuple[Path, str]:
    if args.input:
        p = Path(args.input)
        if not p.exists():
            raise SystemExit(f"{p}: no such file")
        return p, f"given: {p}"
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"large-{args.bytes}.jsonl"
    how = f"`python bench/corpus.py large {out} --bytes {args.bytes}`"
    if out.exists() and out.stat().st_size >= args.bytes:
        return out, how + " (cached)"
    tmp = out.with_suffix(".tmp.jsonl")
    corpus = ROOT / "bench" / "corpus.py"
    ok = False
    if corpus.exists():
        r = subprocess.run(
            [sys.executable, str(corpus), "large", str(tmp), "--bytes", str(args.bytes)]
        )
        ok = r.returncode == 0 and tmp.exists() and tmp.stat().st_size >= args.bytes
    if not ok:
        print("bench/corpus.py large did not run here: using the fallback corpus", file=sys.stderr)
        build_fallback(tmp, args.bytes)
        how = "fallback (licences, copyright files, stdlib docstrings, repeated)"
    tmp.rename(out)
    return out, how


# ----------------------------------------------------------------------------- runs


def _tree_digest(root: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    for sub in ("selected", "docs"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(root)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def make_config(args, corpus: Path, engine: str, workers: int, out: Path) -> Config:
    """One measured configuration: a ``thresher select`` process (see bench/_harness.py)."""
    cmd = [
        sys.executable, "-m", "thresher.cli", "select",
        "--raw", str(corpus),
        "--target", args.target,
        "--out", str(out),
        "--method", args.method,
        "--k", str(args.k),
        "--seed", "0",
        "--engine", engine,
        "--workers", str(workers),
        "--shard-mb", str(args.shard_mb),
        "--raw-sample", str(args.raw_sample),
        "--no-report",
        "--overwrite",
    ]  # fmt: skip
    if engine == "ray" and args.ray_address:
        cmd += ["--ray-address", args.ray_address]

    def after(run: Run) -> None:
        m = json.loads((out / "manifest.json").read_text())
        run.extra.update(
            pipeline=m["throughput"]["seconds"],
            docs=m["counts"]["read"],
            shards=m["shards"],
            timings=m["timings"],
            digest=_tree_digest(out),
        )

    return Config(
        name=f"{engine} {workers}w",
        argv=cmd,
        env={"RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT / "src")},
        after=after,
    )


def _versions() -> str:
    out = []
    for mod in ("thresher", "ray", "numpy", "pyarrow", "numba"):
        with contextlib.suppress(ImportError):
            out.append(f"{mod} {__import__(mod).__version__}")
    return ", ".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--input", help="existing JSONL corpus (default: build one of --bytes)")
    ap.add_argument(
        "--bytes",
        type=_size,
        default=10**9,
        help="corpus size to build: 1GB, 300MB, ... (default 1GB)",
    )
    ap.add_argument(
        "--workdir", default=str(ROOT / "bench" / "_scale"), help="corpus and run directories"
    )
    ap.add_argument("--target", default=str(ROOT / "data" / "sample" / "target.jsonl"))
    ap.add_argument("--method", default="dsir")
    ap.add_argument("--k", type=int, default=10_000)
    ap.add_argument(
        "--shard-mb", type=int, default=32, help="shard size (enough shards to keep 2 workers busy)"
    )
    ap.add_argument(
        "--raw-sample",
        type=int,
        default=0,
        help="0 = fit DSIR on a parallel full pass (counts only travel); N = ship N raw docs to the driver",
    )
    ap.add_argument(
        "--repeats", type=int, default=3, help="runs per configuration (median reported)"
    )
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument(
        "--ray-address", default=None, help="Ray runs join this cluster instead of starting one"
    )
    ap.add_argument("--results", default=str(RESULTS), help="markdown file to write")
    args = ap.parse_args(argv)

    corpus, how = ensure_corpus(args)
    size = corpus.stat().st_size
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    workers = [int(w) for w in args.workers.split(",")]
    configs = [(e, w) for e in engines for w in workers]
    print(
        f"corpus {corpus} ({size / 1e6:,.0f} MB); {len(configs)} configurations x {args.repeats} repeats",
        flush=True,
    )

    res = run_interleaved(
        [make_config(args, corpus, e, w, Path(args.workdir) / f"run-{e}-{w}") for e, w in configs],
        args.repeats,
    )
    runs = {(e, w): res.runs[f"{e} {w}w"] for e, w in configs}
    digests = {r.extra["digest"] for rs in runs.values() for r in rs}
    identical = len(digests) == 1

    med = {c: res.stat(f"{c[0]} {c[1]}w").median for c in configs}
    first = next(iter(runs.values()))[0].extra
    rows = []
    for (e, w), rs in runs.items():
        name = f"{e} {w}w"
        rows.append(
            f"| {e} | {w} | {res.stat(name).fmt('.1f')} | {res.stat(name, 'cpu').fmt('.1f')} | "
            f"{res.stat(name, 'extra.pipeline').fmt('.1f')} | "
            f"{stat([size / 1e6 / r.wall for r in rs]).fmt('.1f')} | "
            f"{first['docs'] / med[(e, w)]:,.0f} | {res.stat(name, 'tree_pss_mb').fmt('.0f')} |"
        )
    checks = []
    for e in engines:
        if (e, 1) in med and (e, 2) in med:
            s = res.ratio(f"{e} 1w", f"{e} 2w")
            checks.append(
                f"- {e}: 2 workers / 1 worker speed-up **{s.fmt('.2f', 'x')}** (goal >= 1.8) "
                f"{'✓' if s.median >= 1.8 else '✗'}"
            )
    if "local" in engines and "ray" in engines:
        for w in workers:
            if ("local", w) in med and ("ray", w) in med:
                o = res.ratio(f"ray {w}w", f"local {w}w")
                checks.append(
                    f"- Ray overhead vs local, {w} worker(s): **{(o.median - 1) * 100:+.1f}%** "
                    f"(per repeat {(o.min - 1) * 100:+.1f}% – {(o.max - 1) * 100:+.1f}%; goal <= 15%) "
                    f"{'✓' if o.median - 1 <= 0.15 else '✗'}"
                )
    cmd = "python bench/scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = "\n".join(
        [
            "# Scaling: local vs Ray, 1 vs 2 workers",
            "",
            f"Command: `{cmd.strip()}`  ",
            report_header(res),
            f"Versions: {_versions()}  ",
            f"Corpus: {corpus.name}, {size / 1e6:,.0f} MB, {first['docs']:,} documents, "
            f"{first['shards']} shards of {args.shard_mb} MB; built with {how}  ",
            f"Run: `thresher select --method {args.method} --k {args.k} --target {Path(args.target).name} "
            f"--shard-mb {args.shard_mb} --raw-sample {args.raw_sample} --no-report`; Ray {'at ' + args.ray_address if args.ray_address else 'started by each run (start-up included)'}  ",
            "",
            "| engine | workers | wall s | CPU s | pipeline s | MB/s | docs/s | tree PSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            *checks,
            f"- selected + docs outputs byte-identical across all {sum(len(r) for r in runs.values())} runs: "
            f"**{'yes' if identical else 'NO'}**",
            "",
            "*wall* is the whole `thresher select` process; *pipeline* is the sum of its stage timings "
            "(manifest `throughput.seconds`, which excludes interpreter start-up). MB/s are of the input "
            "file, docs/s of documents read. Figures: median (min–max) over the repeats; ratios: "
            "ratio of medians (min–max of the per-repeat ratios).",
            "",
        ]
    )
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md, encoding="utf-8")
    print("\n" + md)
    print(f"written: {out}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
