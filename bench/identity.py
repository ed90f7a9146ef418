#!/usr/bin/env python3
"""Output identity: the sha256 of every output of every method, filter, dedup and the demo.

A refactor must not change what thresher writes. Record the outputs before, record them
after, compare:

    git worktree add /tmp/base 5aae4bc
    python bench/identity.py --python /work/main/.venv/bin/python --src /tmp/base/src \\
        --save bench/results/identity-base.json
    python bench/identity.py --save /tmp/identity-now.json          # this checkout
    python bench/identity.py --compare bench/results/identity-base.json /tmp/identity-now.json

Every run is a fresh process (``PYTHON -m thresher.cli ...`` with ``PYTHONPATH=SRC``) on
this checkout's data/sample, so two source trees see the same inputs:

* ``select`` with each method: dsir, bm25, zipfit, classifier, hybrid (dsir, bm25,
  classifier), dense (on the first 200 raw documents: it is slow on CPU);
* ``filter --lang en --rules gopher_quality,c4 --write-dropped``;
* ``dedup --write-dropped``;
* the demo: the ``thresher`` command of the Makefile's ``demo`` target, its ``--out``
  redirected.

Recorded per run: exit code, manifest counts, the sha256 of every file under selected/,
docs/, dropped/ and rejects/, and, for each Parquet directory, the sha256 of each
column's values (read with pyarrow), so a renamed column shows as exactly that and a
change of Parquet metadata alone shows as files differing with every column the same.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
OUTPUT_DIRS = ("selected", "docs", "dropped", "rejects")
DENSE_DOCS = 200


def _select(*extra: str, raw: str | None = None) -> list[str]:
    return [
        "select",
        "--target",
        str(SAMPLE / "target.jsonl"),
        "--raw",
        raw or str(SAMPLE / "raw.jsonl.gz"),
        "--k",
        "250",
        "--seed",
        "0",
        "--no-report",
        *extra,
    ]


def runs(work: Path) -> dict[str, list[str]]:
    """name -> thresher arguments (without --out)."""
    # A fixed path (not the temp work dir): it is recorded in thresher_source and docs/source.
    small = ROOT / "bench" / "_cache" / f"raw-first-{DENSE_DOCS}.jsonl"
    small.parent.mkdir(parents=True, exist_ok=True)
    if not small.exists():
        with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
            small.write_bytes(b"".join(next(f) for _ in range(DENSE_DOCS)))
    raw = str(SAMPLE / "raw.jsonl.gz")
    return {
        "select-dsir": _select("--method", "dsir"),
        "select-bm25": _select("--method", "bm25"),
        "select-zipfit": _select("--method", "zipfit"),
        "select-classifier": _select("--method", "classifier"),
        "select-hybrid": _select("--method", "hybrid", "--combine", "dsir,bm25,classifier"),
        "select-dense": _select("--method", "dense", raw=str(small)),
        "filter": [
            "filter", "--raw", raw, "--lang", "en", "--rules", "gopher_quality,c4",
            "--write-dropped",
        ],
        "dedup": ["dedup", "--raw", raw, "--write-dropped"],
        "demo": demo_args(),
    }  # fmt: skip


def demo_args() -> list[str]:
    """The arguments of the ``thresher`` line of the Makefile's demo recipe, without --out."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(x for x in lines if x.startswith("demo:")))
    recipe = ""
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe += line.strip().removesuffix("\\") + " "
    words = shlex.split(recipe)
    at = next(i for i, w in enumerate(words) if w.endswith("/thresher"))
    args = words[at + 1 :]
    args = [str(ROOT / a) if (ROOT / a).is_file() else a for a in args]
    i = args.index("--out")
    del args[i : i + 2]
    return args


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def column_hashes(folder: Path) -> dict[str, str]:
    """sha256 of each column's values over the folder's Parquet parts, in part order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted(folder.glob("*.parquet"))
    if not parts:
        return {}
    table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    out = {}
    for name in table.column_names:
        values = table.column(name).to_pylist()
        out[name] = sha256(json.dumps(values, default=repr, ensure_ascii=False).encode())
    return out


def record(python: str, src: Path, workers: int, work: Path, only: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    result: dict = {
        "python": python,
        "src": str(src),
        "commit": _commit(src),
        "workers": workers,
        "runs": {},
    }
    for name, args in runs(work).items():
        if only and name not in only:
            continue
        out = work / name
        cmd = [python, "-m", "thresher.cli", *args, "--out", str(out), "--workers", str(workers)]
        if "--overwrite" not in cmd:
            cmd.append("--overwrite")
        t0 = time.time()
        p = subprocess.run(cmd, env=env, cwd=src.parent, capture_output=True, text=True)
        seconds = round(time.time() - t0, 1)
        entry: dict = {
            "command": ["thresher", *cmd[3:]],
            "exit": p.returncode,
            "seconds": seconds,
        }
        if p.returncode != 0:
            entry["stderr"] = p.stderr[-2000:]
        else:
            m = json.loads((out / "manifest.json").read_text())
            entry["counts"] = m.get("counts")
            entry["files"] = {
                str(f.relative_to(out)): sha256(f.read_bytes())
                for d in OUTPUT_DIRS
                for f in sorted((out / d).rglob("*"))
                if f.is_file()
            }
            entry["columns"] = {d: column_hashes(out / d) for d in ("selected", "docs", "dropped")}
        result["runs"][name] = entry
        print(f"{name:<18} exit {p.returncode}  {seconds:>6.1f} s", file=sys.stderr)
    return result


def _commit(src: Path) -> str | None:
    p = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return p.stdout.strip() + ("+dirty" if dirty else "")


def compare(a: dict, b: dict) -> list[tuple[str, str, str]]:
    """(run, item, what differs) for every difference between two records."""
    rows: list[tuple[str, str, str]] = []
    for run in sorted(set(a["runs"]) | set(b["runs"])):
        ra, rb = a["runs"].get(run), b["runs"].get(run)
        if ra is None or rb is None:
            rows.append((run, "-", "only in " + ("B" if ra is None else "A")))
            continue
        if ra["exit"] != rb["exit"]:
            rows.append((run, "exit", f"{ra['exit']} -> {rb['exit']}"))
        if ra["exit"] or rb["exit"]:
            continue
        for key in sorted(set(ra["counts"] or {}) | set(rb["counts"] or {})):
            va, vb = (ra["counts"] or {}).get(key), (rb["counts"] or {}).get(key)
            if va != vb:
                rows.append((run, f"counts.{key}", f"{va} -> {vb}"))
        fa, fb = ra["files"], rb["files"]
        for f in sorted(set(fa) | set(fb)):
            if f not in fa:
                rows.append((run, f, "new file"))
            elif f not in fb:
                rows.append((run, f, "file gone"))
            elif fa[f] != fb[f]:
                rows.append((run, f, "bytes differ"))
        for d in sorted(set(ra["columns"]) | set(rb["columns"])):
            ca, cb = ra["columns"].get(d, {}), rb["columns"].get(d, {})
            gone = {c: h for c, h in ca.items() if c not in cb}
            new = {c: h for c, h in cb.items() if c not in ca}
            for c, h in list(gone.items()):
                twin = next((n for n, hn in new.items() if hn == h), None)
                if twin is not None:
                    rows.append((run, f"{d}/{c}", f"renamed to {twin}, values identical"))
                    del gone[c], new[twin]
            rows += [(run, f"{d}/{c}", "column gone") for c in sorted(gone)]
            rows += [(run, f"{d}/{c}", "new column") for c in sorted(new)]
            rows += [
                (run, f"{d}/{c}", "values differ")
                for c in sorted(set(ca) & set(cb))
                if ca[c] != cb[c]
            ]
    return rows


def print_compare(path_a: str, path_b: str) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (path_a, path_b))
    rows = compare(a, b)
    print(f"A: {path_a} ({a.get('commit')})\nB: {path_b} ({b.get('commit')})\n")
    same = sorted(set(a["runs"]) & set(b["runs"]) - {r for r, _, _ in rows})
    if rows:
        w0 = max(len(r) for r, _, _ in rows)
        w1 = max(len(i) for _, i, _ in rows)
        print(f"{'run':<{w0}}  {'item':<{w1}}  difference")
        for run, item, what in rows:
            print(f"{run:<{w0}}  {item:<{w1}}  {what}")
        print()
    print(f"identical: {', '.join(same) if same else 'none'}")
    return 1 if rows else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter to run thresher with")
    ap.add_argument("--src", default=str(ROOT / "src"), help="source tree (PYTHONPATH)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=[], help="run only these (e.g. dedup demo)")
    ap.add_argument("--work", help="keep the run directories here (default: a temp dir)")
    ap.add_argument("--save", help="write the JSON here as well as to stdout")
    ap.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"))
    args = ap.parse_args()
    if args.compare:
        return print_compare(*args.compare)
    with tempfile.TemporaryDirectory(prefix="identity-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = record(args.python, Path(args.src).resolve(), args.workers, work, args.only)
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if args.save:
        Path(args.save).write_text(text)
    sys.stdout.write(text)
    return 0 if all(r["exit"] == 0 for r in result["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
