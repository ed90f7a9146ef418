#!/usr/bin/env python3
"""CoLoR-Filter and the perplexity filter against dsir and the classifier on the bench pools.

    python bench/color.py [--pool /work/bench-data/pool.jsonl] [--repeats 3] [--transformer]
                          [--out bench/results/color.md]

Targets and pools are bench/scorers.py's (``make_split``: easy = quotes/en, hard = guide/en
among its translations and neighbours, small = packaging/en from 50 documents).

Part 1, ranking: every configuration is fitted on (target, pool) and scores the pool in its
own fresh process; ``--repeats`` rounds, configurations interleaved within a round. Reported:
precision@k (k = positives in the pool), KL reduction of the top k (hashed 1-2-grams), fit
seconds and scoring speed (MB/s of text, median [min-max] over the rounds). The perplexity
filter's row ranks by perplexity under a byte 5-gram model of the target (its reference):
keeping the k lowest is ``--perplexity-quantile k/N``.

Part 2, through the CLI: ``thresher select --method M --k K --workers 1`` on the pool as a
JSONL file with 80% of the target (the other 20% held out), then ``thresher eval RUN
--heldout H --model ngram``: held-out target loss (nats/byte) of a byte 5-gram model trained
on the selection vs on random pool documents of the same size; and the scan speed (MB/s of
text, from the manifest). The perplexity filter runs as ``thresher filter --reference
TARGET --perplexity-quantile k/N``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from scorers import TARGETS, make_split  # noqa: E402  (bench/scorers.py)

CONFIGS: list[tuple[str, str, dict, bool]] = [  # label, method, options, repeated
    ("dsir resample", "dsir", {"mode": "resample"}, True),
    ("classifier", "classifier", {}, True),
    ("color (byte 3-gram, mix 0.5; default)", "color", {}, True),
    ("perplexity filter (byte 5-gram of the target)", "perplexity", {}, True),
    ("color order 4", "color", {"order": 4}, False),
    ("color order 5", "color", {"order": 5}, False),
    ("color mix weight 0.8", "color", {"weight": 0.8}, False),
    ("color adapt=counts (order 3)", "color", {"adapt": "counts"}, False),
    ("color adapt=counts (order 4)", "color", {"adapt": "counts", "order": 4}, False),
]
TRANSFORMER = (
    "color transformer (2x128, 600+200 steps, CPU, 1 thread)",
    "color",
    {"model": "transformer", "max_doc_bytes": 1024, "threads": 1, "device": "cpu"},
    False,
)


def load(pool_path: str) -> list[dict]:
    with open(pool_path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def one(args) -> None:
    """Child process: fit and score one configuration on one target; print a JSON line."""
    import pyarrow as pa
    from scorers import evaluate

    from thresher.metrics.kl import kl_reduction
    from thresher.scorers import make_scorer
    from thresher.text.ngrams import NgramHasher

    label, domain, lang, n_target = next(t for t in TARGETS if t[0] == args.target)
    target, pool, y = make_split(load(args.pool), domain, lang, n_target, 150, 200)
    tgt, raw = pa.array(target), pa.array(pool)
    opts = json.loads(args.options)
    mode = opts.pop("mode", "topk")
    t0 = time.perf_counter()
    if args.method == "perplexity":
        from thresher.filters.perplexity import PerplexityFilter

        f = PerplexityFilter(perplexity_order=5)
        f.fit_target(tgt)
        t1 = time.perf_counter()
        scores = -f.perplexity(raw)
    else:
        s = make_scorer(args.method, **opts).fit(tgt, raw)
        t1 = time.perf_counter()
        scores = s.score(raw)
    t2 = time.perf_counter()
    prec, sel = evaluate(np.nan_to_num(scores, nan=-np.inf), y, mode)
    h = NgramHasher(10_000, 2)
    klr = kl_reduction(h.counts(tgt), h.counts(raw), h.counts(raw.take(pa.array(sel))))
    print(
        json.dumps(
            {
                "prec": prec,
                "klr": klr,
                "fit_s": t1 - t0,
                "mbps": raw.nbytes / 1e6 / (t2 - t1),
                "dps": len(pool) / (t2 - t1),
            }
        )
    )


def child(pool: str, target: str, method: str, options: dict) -> dict:
    cmd = [sys.executable, __file__, "--one", "--pool", pool, "--target", target]
    cmd += ["--method", method, "--options", json.dumps(options)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ranking(args, configs) -> list[dict]:
    rows: dict[tuple[str, str], list[dict]] = {}
    for rnd in range(args.repeats):
        for label, *_ in TARGETS:
            for name, method, opts, repeated in configs:
                if rnd > 0 and not repeated:
                    continue
                r = child(args.pool, label, method, opts)
                rows.setdefault((label, name), []).append(r)
                print(
                    f"round {rnd} {label:5s} {name:48s} p@k {r['prec']:.3f} KLred {r['klr']:.3f} "
                    f"fit {r['fit_s']:.1f}s {r['mbps']:.2f} MB/s",
                    flush=True,
                )
    out = []
    for (label, name), rs in rows.items():
        mb = [r["mbps"] for r in rs]
        out.append(
            dict(
                target=label,
                method=name,
                prec=rs[0]["prec"],
                klr=rs[0]["klr"],
                fit_s=statistics.median(r["fit_s"] for r in rs),
                mbps=statistics.median(mb),
                lo=min(mb),
                hi=max(mb),
                n=len(rs),
            )
        )
    return out


def thresher_cli(*argv: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run(
        [sys.executable, "-m", "thresher.cli", *argv],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def pipeline(args) -> list[dict]:
    rows = []
    recs = load(args.pool)
    for label, domain, lang, n_target in TARGETS:
        target, pool, y = make_split(recs, domain, lang, n_target, 150, 200)
        held = target[::5]
        fit_target = [t for i, t in enumerate(target) if i % 5]
        k = int(y.sum())
        with tempfile.TemporaryDirectory(dir=args.scratch) as d:
            d = Path(d)
            for name, texts in (("pool", pool), ("target", fit_target), ("heldout", held)):
                with open(d / f"{name}.jsonl", "w", encoding="utf-8") as fh:
                    for i, t in enumerate(texts):
                        row = {"id": i, "text": t}
                        if name == "pool":
                            row["positive"] = bool(y[i])
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            runs = [
                ("dsir resample", ["select", "--method", "dsir", "--k", str(k)]),
                ("classifier", ["select", "--method", "classifier", "--k", str(k)]),
                ("color", ["select", "--method", "color", "--k", str(k)]),
                (
                    "perplexity filter",
                    [
                        "filter",
                        "--reference",
                        str(d / "target.jsonl"),
                        "--perplexity-quantile",
                        f"{k / len(pool):.6f}",
                    ],
                ),
            ]
            for name, argv in runs:
                out = d / name.split()[0]
                extra = ["--target", str(d / "target.jsonl")] if argv[0] == "select" else []
                t0 = time.perf_counter()
                thresher_cli(
                    *argv,
                    *extra,
                    "--raw",
                    str(d / "pool.jsonl"),
                    "--out",
                    str(out),
                    "--workers",
                    "1",
                    "--format",
                    "jsonl",
                    *(["--no-report"] if argv[0] == "select" else []),
                )
                wall = time.perf_counter() - t0
                m = json.loads((out / "manifest.json").read_text())
                sel = [
                    json.loads(x)
                    for p in sorted((out / "selected").glob("*.jsonl"))
                    for x in p.read_bytes().splitlines()
                ]
                prec = sum(r["positive"] for r in sel) / k
                thresher_cli(
                    "eval", str(out), "--heldout", str(d / "heldout.jsonl"), "--model", "ngram"
                )
                ev = json.loads((out / "eval.json").read_text())["runs"]["ngram"]
                scan = m["timings"].get("scan", float("nan"))
                rows.append(
                    dict(
                        target=label,
                        method=name,
                        selected=len(sel),
                        prec=prec,
                        ce_sel=ev["results"]["selection"]["ce"],
                        ce_rnd=ev["results"]["random"]["ce"],
                        scan_mbps=(d / "pool.jsonl").stat().st_size / 1e6 / scan,
                        wall=wall,
                    )
                )
                r = rows[-1]
                print(
                    f"{label:5s} {name:18s} selected {r['selected']} p@k {prec:.3f} "
                    f"eval ce {r['ce_sel']:.4f} vs random {r['ce_rnd']:.4f} "
                    f"scan {r['scan_mbps']:.2f} MB/s wall {wall:.1f}s",
                    flush=True,
                )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--transformer", action="store_true", help="add the transformer row")
    ap.add_argument("--only", default="", help="ranking: only configurations whose label has this")
    ap.add_argument("--skip-ranking", action="store_true")
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--scratch", default=None, help="folder for the pipeline runs")
    ap.add_argument("--out", default=str(HERE / "results" / "color.md"))
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    ap.add_argument("--method", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return one(a)
    t0 = time.time()
    load_start = os.getloadavg()
    print(f"load average at start: {load_start}", flush=True)
    configs = CONFIGS + ([TRANSFORMER] if a.transformer else [])
    configs = [c for c in configs if a.only in c[0]]
    rank = [] if a.skip_ranking else ranking(a, configs)
    pipe = [] if a.skip_pipeline else pipeline(a)
    load_end = os.getloadavg()
    lines = [
        "# CoLoR-Filter and the perplexity filter",
        "",
        f"Command: `python bench/color.py {' '.join(sys.argv[1:])}` ({time.time() - t0:.0f} s; "
        f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end, on 2 cores shared "
        "with other engineers: absolute speeds are low, compare rows).",
        "",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
    ]
    if rank:
        lines += [
            "## Ranking (scorer fitted on target + pool, scores the pool)",
            "",
            "| target | method | precision@k | KL reduction | fit s | score MB/s median [min-max] | runs |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in rank:
            lines.append(
                f"| {r['target']} | {r['method']} | {r['prec']:.3f} | {r['klr']:.3f} | "
                f"{r['fit_s']:.1f} | {r['mbps']:.2f} [{r['lo']:.2f}-{r['hi']:.2f}] | {r['n']} |"
            )
        lines.append("")
    if pipe:
        lines += [
            "## Through the CLI: select / filter, then `thresher eval --model ngram`",
            "",
            "| target | method | selected | precision@k | held-out CE selection | held-out CE random | "
            "scan MB/s | wall s |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in pipe:
            # a filter run selects every document it keeps: its "random" baseline is the
            # selection itself; compare with the select runs' random row instead
            rnd = "—" if r["method"] == "perplexity filter" else f"{r['ce_rnd']:.4f}"
            lines.append(
                f"| {r['target']} | {r['method']} | {r['selected']} | {r['prec']:.3f} | "
                f"{r['ce_sel']:.4f} | {rnd} | {r['scan_mbps']:.2f} | {r['wall']:.1f} |"
            )
        lines.append("")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
