#!/usr/bin/env python3
"""Before/after speed table of the main paths (issue 15): two revisions side by side.

For each configuration (``dsir``, ``classifier``, ``classifier`` + ``--lang auto``, ``hybrid``
and ``thresher dedup``), each worker count (1 and 2) and each revision (``--before``,
``--after``), one ``thresher`` run in its own fresh process on the same corpus; the runs are
interleaved (config, workers, before, after, next ...) and the round repeats (``--repeats``,
default 3), so before and after see the same background load. Printed: wall, CPU (user+sys of
the process tree), peak RSS of the largest process, peak PSS of the whole tree, MB/s of input
per wall second, the after/before ratio of each, and the 2-vs-1-worker scaling of each
revision; every figure a median (min-max). See bench/_harness.py.

A revision is a checkout directory (its ``src/`` goes on PYTHONPATH) or a git revision of
this repository (``git archive`` into a temporary directory). Both run with the same Python
(``--python``, default this one), so they share the installed dependencies. Before the
measured rounds, each (configuration, revision) runs once untimed on the first 2 MB of the
corpus to fill numba's on-disk cache of its own source tree (``--no-warmup`` skips it).

The corpus: ``/work/bench-data/raw-1gb.jsonl``, made with

    python bench/corpus.py large /work/bench-data/raw-1gb.jsonl --bytes 1000000000

(the labeled Debian pool of ``bench/corpus.py labeled``, repeated to ~1 GB). ``--bytes N``
runs on its first N bytes (whole lines), copied into ``--scratch``.

    python bench/speed.py --before d45fb5a --after HEAD --out bench/results/speed.md
    python bench/speed.py --before ../main --after . --bytes 200000000 --repeats 1
    python bench/speed.py --before main --after HEAD --configs dsir,dedup --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    Config,
    Run,
    commands_block,
    git_rev,
    md_table,
    report_header,
    run_interleaved,
    stat,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path("/work/bench-data/raw-1gb.jsonl")

# name -> thresher arguments after the subcommand's --raw/--out
CONFIGS: dict[str, list[str]] = {
    "dsir": ["select", "--method", "dsir"],
    "classifier": ["select", "--method", "classifier"],
    "classifier+lang": ["select", "--method", "classifier", "--lang", "auto"],
    "hybrid": ["select", "--method", "hybrid"],
    "dedup": ["dedup"],
}


# ----------------------------------------------------------------------------- revisions
def materialize(spec: str, label: str, tmp: Path) -> tuple[Path, str]:
    """``spec`` (checkout dir or git rev) -> (the dir to put on PYTHONPATH, a description)."""
    p = Path(spec)
    if p.is_dir():
        src = p / "src" if (p / "src" / "thresher").is_dir() else p
        if not (src / "thresher").is_dir():
            sys.exit(f"--{label} {spec}: no thresher package in {src}")
        return src.resolve(), f"checkout {p.resolve()} at {git_rev(p)}"
    r = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", "--short", f"{spec}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        sys.exit(f"--{label} {spec}: neither a directory nor a git revision of {ROOT}")
    rev = r.stdout.strip()
    dest = tmp / f"{label}-{rev}"
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src", f"git {spec} = {rev} (git archive)"


# ----------------------------------------------------------------------------- corpus
def slice_corpus(src: Path, nbytes: int, scratch: Path) -> Path:
    """The first ``nbytes`` of ``src`` cut at a line end (reused if already made)."""
    dest = scratch / f"{src.stem}-first{nbytes}.jsonl"
    if dest.exists():
        return dest
    scratch.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    done = 0
    with open(src, "rb") as fi, open(part, "wb") as fo:
        for line in fi:
            if done + len(line) > nbytes:
                break
            fo.write(line)
            done += len(line)
    part.rename(dest)
    return dest


# ----------------------------------------------------------------------------- runs
def thresher_argv(
    python: str, name: str, raw: Path, target: Path, out: Path, workers: int
) -> list[str]:
    argv = [python, "-m", "thresher.cli", *CONFIGS[name], "--raw", str(raw), "--out", str(out)]
    argv += ["--workers", str(workers)]
    if name != "dedup":
        argv += ["--target", str(target), "--fraction", "0.1", "--seed", "0", "--no-report"]
    return argv


def _digest(out: Path) -> str:
    """Hash of the selected documents (file names and bytes), to compare revisions."""
    h = hashlib.sha256()
    folder = out / "selected"
    for p in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _after(out: Path):
    def check(run: Run) -> None:
        m = json.loads((out / "manifest.json").read_text())
        counts = m.get("counts", {})
        run.extra.update(
            digest=_digest(out),
            read=counts.get("read", 0),
            selected=counts.get("selected", 0),
        )
        shutil.rmtree(out)

    return check


def _before(out: Path):
    def clear() -> None:
        if out.exists():
            shutil.rmtree(out)

    return clear


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", required=True, help="checkout dir or git revision")
    ap.add_argument("--after", required=True, help="checkout dir or git revision")
    ap.add_argument("--input", type=Path, default=DEFAULT_CORPUS, help="raw JSONL corpus")
    ap.add_argument("--bytes", type=int, help="use only the first N bytes of --input")
    ap.add_argument("--target", type=Path, default=ROOT / "data" / "sample" / "target.jsonl")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"subset of {','.join(CONFIGS)}")
    ap.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds (default 3; 1 = quick look)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for both revisions")
    ap.add_argument("--scratch", type=Path, default=Path("/work/scratch-bench"))
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed numba warm-up")
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    args = ap.parse_args(argv)

    names = [c for c in args.configs.split(",") if c]
    bad = sorted(set(names) - set(CONFIGS))
    if bad:
        sys.exit(f"--configs: unknown {bad}; choose from {list(CONFIGS)}")
    workers = [int(w) for w in args.workers.split(",") if w]
    if not args.input.is_file():
        sys.exit(
            f"--input {args.input} does not exist: build it with "
            f"python bench/corpus.py large {args.input} --bytes 1000000000"
        )
    raw = slice_corpus(args.input, args.bytes, args.scratch) if args.bytes else args.input
    mb = raw.stat().st_size / 1e6

    with tempfile.TemporaryDirectory(prefix="speed-", dir=args.scratch) as tmpd:
        tmp = Path(tmpd)
        revs = {}
        for label, spec in (("before", args.before), ("after", args.after)):
            revs[label] = materialize(spec, label, tmp)
        env = {
            lab: {"PYTHONPATH": str(src), "RAY_USAGE_STATS_ENABLED": "0"}
            for lab, (src, _) in revs.items()
        }

        if not args.no_warmup:
            sample = slice_corpus(args.input, 2_000_000, args.scratch)  # numba compiles alike
            for name in names:
                for lab in revs:
                    out = tmp / f"warmup-{name}-{lab}"
                    cmd = thresher_argv(args.python, name, sample, args.target, out, 1)
                    print(f"warm-up {name} {lab}", file=sys.stderr, flush=True)
                    subprocess.run(
                        cmd, env={**os.environ, **env[lab]}, check=True, capture_output=True
                    )
                    shutil.rmtree(out)

        configs = []
        for name in names:
            for w in workers:
                for lab in revs:
                    out = tmp / f"out-{name}-{w}-{lab}"
                    configs.append(
                        Config(
                            name=f"{name} w{w} {lab}",
                            argv=thresher_argv(args.python, name, raw, args.target, out, w),
                            env=env[lab],
                            before=_before(out),
                            after=_after(out),
                            info={"config": name, "workers": w, "rev": lab},
                        )
                    )
        res = run_interleaved(configs, args.repeats)

    def key(name: str, w: int, lab: str) -> str:
        return f"{name} w{w} {lab}"

    rows = []
    for name in names:
        for w in workers:
            for lab in revs:
                k = key(name, w, lab)
                runs = res.runs[k]
                rows.append(
                    [
                        name,
                        w,
                        lab,
                        res.stat(k, "wall").fmt(".1f"),
                        stat([mb / r.wall for r in runs]).fmt(".1f"),
                        res.stat(k, "cpu").fmt(".1f"),
                        res.stat(k, "maxrss_mb").fmt(".0f"),
                        res.stat(k, "tree_pss_mb").fmt(".0f"),
                        f"{runs[0].extra['read']:,} / {runs[0].extra['selected']:,}",
                    ]
                )
    runs_table = md_table(
        [
            "config",
            "workers",
            "rev",
            "wall s",
            "MB/s",
            "CPU s",
            "peak RSS MB",
            "tree PSS MB",
            "docs read / selected",
        ],
        rows,
        align="lrlrrrrrr",
    )
    cmp_rows = []
    for name in names:
        for w in workers:
            b, a = key(name, w, "before"), key(name, w, "after")
            digests = {r.extra["digest"] for r in res.runs[a] + res.runs[b]}
            cmp_rows.append(
                [
                    name,
                    w,
                    res.ratio(a, b, "wall").fmt(".2f", "x"),
                    res.ratio(a, b, "cpu").fmt(".2f", "x"),
                    res.ratio(a, b, "tree_pss_mb").fmt(".2f", "x"),
                    "yes" if len(digests) == 1 else "no",
                ]
            )
    cmp_table = md_table(
        [
            "config",
            "workers",
            "after/before wall",
            "after/before CPU",
            "after/before tree PSS",
            "same selected output",
        ],
        cmp_rows,
        align="lrrrrl",
    )
    scale_table = ""
    if 1 in workers and 2 in workers:
        srows = []
        for name in names:
            row = [name]
            for lab in revs:
                row.append(res.ratio(key(name, 1, lab), key(name, 2, lab), "wall").fmt(".2f", "x"))
            for lab in revs:
                runs = res.runs[key(name, 1, lab)] + res.runs[key(name, 2, lab)]
                row.append("yes" if len({r.extra["digest"] for r in runs}) == 1 else "NO")
            srows.append(row)
        scale_table = md_table(
            [
                "config",
                "2 vs 1 worker, before (wall 1w / wall 2w)",
                "2 vs 1 worker, after",
                "before: same output at 1 and 2 workers",
                "after: same output at 1 and 2 workers",
            ],
            srows,
            align="lrrll",
        )

    cmd = "python " + " ".join(["bench/speed.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [
        "# Speed before/after: dsir, classifier, classifier + --lang auto, hybrid, dedup",
        "",
        "Command (from the repository root):",
        "",
        "```",
        cmd,
        "```",
        "",
        report_header(res, rev=f"before = {revs['before'][1]}; after = {revs['after'][1]}"),
        f"- corpus: {raw} ({mb:,.0f} MB); target {args.target.relative_to(ROOT) if args.target.is_relative_to(ROOT) else args.target}; "
        f"select runs take --fraction 0.1 --seed 0 --no-report; dedup is `thresher dedup` (MinHash)",
        f"- MB/s = input file MB / wall s; ratios: ratio of medians (min–max of the per-round "
        f"ratios); {'numba caches warmed by one untimed run per (config, rev) on the first 2 MB' if not args.no_warmup else 'no warm-up'}",
        "",
        "## Every configuration",
        "",
        runs_table,
        "",
        "## After / before (below 1.00x: after is faster / smaller)",
        "",
        cmp_table,
    ]
    if scale_table:
        lines += [
            "",
            "## Scaling: 2 workers over 1 (above 1: 2 workers faster; ideal 2.00x)",
            "",
            scale_table,
        ]
    lines += ["", "## Command lines", "", commands_block(res)]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
