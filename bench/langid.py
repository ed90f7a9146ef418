"""Language id on a sample of each document: agreement with whole-document identification, and
what it costs in a run.

Two measurements (each measured configuration in its own fresh process):

``agreement``: on the multilingual labeled pool (bench/corpus.py labeled: en, de, fr, es, it,
ja, pt, ca, nb, id, zh), identify every document whole (the old behaviour) and with each
sampling configuration; per language, the share of documents whose kept/dropped decision is
the same, at the default min score (0.65), for three filters:

* ``en``: ``--lang en`` (keep English above the min score);
* ``own``: ``--lang auto`` with a target in the document's language (keep that language);
* ``any``: no language named (keep any language above the min score).

With a min score >= 0.5 only the top language can pass, so the three decisions follow from the
top language and its score, which one prediction gives. Also the time per document (median of
``--repeats`` fresh processes).

``speed``: ``thresher select`` on ~1 GB of real text with 2 workers: dsir, classifier and
classifier + ``--lang auto`` (optionally the same with the code before this change, from
``--before-src``), run interleaved, ``--repeats`` times each, median (min-max) wall seconds and
the load average at start and end.

    python bench/langid.py agreement --pool /work/bench-data/pool.jsonl
    python bench/langid.py speed --raw /work/bench-data/raw-1gb.jsonl --workers 2
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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MIN_SCORE = 0.65  # thresher's default --lang-min-score

# name -> LanguageFilter options; "whole" is the behaviour before sampling
CONFIGS: dict[str, dict] = {
    "whole": {"sample_chars": None},
    "prefix 1000 (no fallback)": {"sample_chars": 1000, "sample_slices": 1, "confident": 0.0},
    "16 slices 1000 (no fallback)": {"sample_chars": 1000, "sample_slices": 16, "confident": 0.0},
    "8 slices 600, whole if < 0.9": {"sample_chars": 600, "sample_slices": 8, "confident": 0.9},
    "16 slices 1000, whole if < 0.8": {
        "sample_chars": 1000,
        "sample_slices": 16,
        "confident": 0.8,
    },
    "16 slices 1000, whole if < 0.9 (default)": {
        "sample_chars": 1000,
        "sample_slices": 16,
        "confident": 0.9,
    },
}


def _predict_child(pool: str, options: str, out: str) -> None:
    """In a fresh process: identify every pool document with ``options``; save labels, time."""
    sys.path.insert(0, str(SRC))
    from thresher.filters.langid import LanguageFilter

    texts = [json.loads(line)["text"] for line in Path(pool).read_bytes().splitlines()]
    filt = LanguageFilter(None, min_score=MIN_SCORE, **json.loads(options))
    filt.predict(["warm up the model"])
    t0 = time.process_time()
    langs, scores = filt.predict(texts)
    seconds = time.process_time() - t0
    np.savez(out, langs=langs.astype(str), scores=scores, seconds=seconds)


def _run_child(pool: str, options: dict, tmp: Path) -> tuple[np.ndarray, np.ndarray, float]:
    out = tmp / "pred.npz"
    subprocess.run(
        [sys.executable, __file__, "_predict", pool, json.dumps(options), str(out)],
        check=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    z = np.load(out)
    return z["langs"], z["scores"], float(z["seconds"])


def _decisions(langs: np.ndarray, scores: np.ndarray, gold: np.ndarray) -> dict[str, np.ndarray]:
    ok = scores > np.float32(MIN_SCORE)
    return {"en": ok & (langs == "en"), "own": ok & (langs == gold), "any": ok}


def agreement(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.pool).read_bytes().splitlines()]
    gold = np.array([r["lang"] for r in rows])
    chars = np.array([len(r["text"]) for r in rows])
    codes = sorted(set(gold), key=lambda g: (-int((gold == g).sum()), g))
    load0 = os.getloadavg()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):  # interleaved: every configuration once per round
            for name, options in CONFIGS.items():
                if rep and name not in ("whole", args.default):
                    continue  # the sweep's other points: one timing is enough
                langs, scores, seconds = _run_child(args.pool, options, Path(tmp))
                r = results.setdefault(name, {"langs": langs, "scores": scores, "seconds": []})
                r["seconds"].append(seconds)
    load1 = os.getloadavg()
    whole = results["whole"]
    base = _decisions(whole["langs"], whole["scores"], gold)
    print(f"pool: {args.pool}: {len(rows):,} docs, {chars.sum() / 1e6:.1f} M chars")
    print(f"load average at start {load0[0]:.2f}, at end {load1[0]:.2f}\n")
    print("| configuration | us/doc (median, min-max) | speed-up | worst language |")
    print("|---|---|---|---|")
    t_whole = statistics.median(whole["seconds"])
    for name, r in results.items():
        dec = _decisions(r["langs"], r["scores"], gold)
        worst = min(
            float((dec[f][gold == g] == base[f][gold == g]).mean()) for g in codes for f in dec
        )
        sec = r["seconds"]
        med = statistics.median(sec)
        timing = f"{1e6 * med / len(rows):.0f} ({1e6 * min(sec) / len(rows):.0f}-"
        timing += f"{1e6 * max(sec) / len(rows):.0f})"
        print(f"| {name} | {timing} | {t_whole / med:.2f}x | {100 * worst:.2f}% |")
    for name in [args.default]:
        r = results[name]
        dec = _decisions(r["langs"], r["scores"], gold)
        same = (r["langs"] == whole["langs"]) & (np.abs(r["scores"] - whole["scores"]) < 1e-6)
        print(f"\n{name}: identical decisions per language (%), against the whole document\n")
        print(
            "| language | docs | --lang en | --lang auto (own) | any language | score unchanged |"
        )
        print("|---|---|---|---|---|---|")
        for g in codes:
            m = gold == g
            cells = [f"{100 * float((dec[f][m] == base[f][m]).mean()):.2f}" for f in dec]
            print(f"| {g} | {int(m.sum()):,} | {' | '.join(cells)} | {100 * same[m].mean():.1f} |")
        m = np.ones(len(gold), bool)
        cells = [f"{100 * float((dec[f] == base[f]).mean()):.2f}" for f in dec]
        print(f"| all | {len(gold):,} | {' | '.join(cells)} | {100 * same.mean():.1f} |")


def _select(src: str, raw: str, target: str, out: Path, extra: list[str], workers: int) -> float:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "thresher.cli", "select", "--target", target, "--raw", raw]
    cmd += ["--out", str(out), "--fraction", "0.1", "--workers", str(workers), *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": src}, capture_output=True)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out)
    return seconds


def speed(args: argparse.Namespace) -> None:
    runs = {
        "dsir": (str(SRC), ["--method", "dsir"]),
        "classifier": (str(SRC), ["--method", "classifier"]),
        "classifier --lang auto": (str(SRC), ["--method", "classifier", "--lang", "auto"]),
    }
    if args.before_src:
        runs["classifier --lang auto (before)"] = (
            args.before_src,
            ["--method", "classifier", "--lang", "auto"],
        )
    out = Path(args.scratch) / "langid-bench-run"
    load0 = os.getloadavg()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for rep in range(args.repeats):
        for name, (src, extra) in runs.items():
            t = _select(src, args.raw, args.target, out, extra, args.workers)
            times[name].append(t)
            print(f"round {rep + 1}: {name}: {t:.1f} s", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    mb = Path(args.raw).stat().st_size / 1e6
    print(f"raw: {args.raw} ({mb:,.0f} MB), {args.workers} workers, {args.repeats} rounds")
    print(f"load average at start {load0[0]:.2f}, at end {load1[0]:.2f}\n")
    print("| run | wall s, median (min-max) | vs classifier | vs dsir |")
    print("|---|---|---|---|")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(
            f"| {k} | {med[k]:.1f} ({min(v):.1f}-{max(v):.1f}) | "
            f"{med[k] / med['classifier']:.2f}x | {med[k] / med['dsir']:.2f}x |"
        )
    # Per-round ratios (the runs of one round ran side by side).
    ratios = [
        t / c for t, c in zip(times["classifier --lang auto"], times["classifier"], strict=True)
    ]
    print(
        f"\nper round, classifier --lang auto / classifier: {', '.join(f'{r:.2f}' for r in ratios)}"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_predict":
        _predict_child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("agreement")
    a.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--default", default="16 slices 1000, whole if < 0.9 (default)")
    s = sub.add_parser("speed")
    s.add_argument("--raw", default="/work/bench-data/raw-1gb.jsonl")
    s.add_argument("--target", default=str(ROOT / "data" / "sample" / "target.jsonl"))
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--before-src", default=None, help="src/ of thresher before the change")
    s.add_argument("--scratch", default=tempfile.gettempdir())
    args = ap.parse_args()
    agreement(args) if args.cmd == "agreement" else speed(args)


if __name__ == "__main__":
    main()
