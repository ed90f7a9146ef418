"""Language id: the numba lid.176 kernel against fasttext-predict, and what ``--lang`` costs in
a run.

Two measurements, every measured configuration in its own fresh process (bench/_harness.py:
interleaved rounds, median with min and max, CPU of the process tree, load average):

``agreement``: on the multilingual labeled pool (bench/corpus.py labeled: en, de, fr, es, it,
ja, pt, ca, nb, id, zh), identify every whole document with fasttext-predict (the fastText C++
code, one ``predict(line + "\\n", 1, 0.0)`` call per document, the line being
``LanguageFilter._prepare(text)``) and with the kernel (``LanguageFilter.predict`` on the Arrow
column); per language, the share of identical top labels, of bit-identical probabilities, and
of identical kept/dropped decisions at the default min score (0.65) for ``--lang en``, ``--lang
auto`` with a target in the document's language, and "any language". Also the CPU time of the
identification alone per document and per character (median of ``--repeats`` processes).

``prefix``: what identifying only a bounded part would change (issue 15 proposed it to save
time): per language, the share of documents whose decisions (the three above) on at most each
of ``--caps`` characters equal those on the whole document, and the share of characters read.
The part is the first ``cap`` characters (``--slices 1``) or ``k`` windows of ``cap / k``
characters spread evenly over a longer document, each from a word start to a word end
(``--slices k``). The issue's bar is >= 99.5% identical decisions in every language. One
process (the decisions do not depend on timing).

``speed``: ``thresher select --method classifier`` with and without ``--lang auto``, and
``--method dsir`` (the cheapest scorer, the yardstick of the --lang auto goal) (and
optionally ``--lang auto`` with the code of ``--before-src``), ``--workers 2``, interleaved,
``--repeats`` rounds: wall and CPU seconds of the process tree, and the ratios.

    python bench/langid.py agreement --pool /work/bench-data/pool.jsonl
    python bench/langid.py prefix --pool /work/bench-data/pool.jsonl --caps 1000,2000,4000
    python bench/langid.py prefix --caps 2000,4000,8000 --slices 1,2,4,8
    python bench/langid.py speed --raw raw-200mb.jsonl --workers 2 --before-src OLD/src
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    Config,
    commands_block,
    emit,
    md_table,
    ratio_table,
    report_header,
    run_interleaved,
    stat,
    summary_table,
)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MIN_SCORE = 0.65  # thresher's default --lang-min-score
BACKENDS = ("fasttext-predict", "kernel")


def _predict_child(pool: str, backend: str, out: str) -> None:
    """In a fresh process: identify every pool document whole; save labels, scores, CPU time."""
    import pyarrow as pa

    from thresher.filters.langid import LanguageFilter, default_model_path

    texts = [json.loads(line)["text"] for line in Path(pool).read_bytes().splitlines()]
    filt = LanguageFilter(None, min_score=MIN_SCORE)
    if backend == "kernel":
        arr = pa.array(texts, type=pa.string())
        filt.predict(arr[:1])  # load the model and the compiled kernel (measured below)
        t0 = time.process_time()
        langs, scores = filt.predict(arr)
        seconds = time.process_time() - t0
    else:
        import fasttext  # fasttext-predict

        ft = fasttext.load_model(default_model_path()).f
        langs = np.empty(len(texts), dtype=object)
        scores = np.zeros(len(texts), dtype=np.float32)
        t0 = time.process_time()
        for i, text in enumerate(texts):
            found = ft.predict(filt._prepare(text) + "\n", 1, 0.0, "strict")
            prob, label = found[0] if found else (0.0, "")
            langs[i] = label.removeprefix("__label__")
            scores[i] = min(float(prob), 1.0)
        seconds = time.process_time() - t0
    np.savez(out, langs=langs.astype(str), scores=scores)
    emit(seconds=seconds)


def _first_call_child() -> None:
    """In a fresh process: the first kernel call (compiled code from numba's cache)."""
    import pyarrow as pa

    from thresher.filters.langid import LanguageFilter

    filt = LanguageFilter(None)
    t0 = time.perf_counter()
    filt.model  # noqa: B018 - read the model file
    t1 = time.perf_counter()
    filt.predict(pa.array(["warm up"]))
    emit(model_seconds=t1 - t0, first_call_seconds=time.perf_counter() - t1)


def _decisions(langs: np.ndarray, scores: np.ndarray, gold: np.ndarray) -> dict[str, np.ndarray]:
    ok = scores > np.float32(MIN_SCORE)
    return {"en": ok & (langs == "en"), "own": ok & (langs == gold), "any": ok}


def agreement(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in Path(args.pool).read_bytes().splitlines()]
    gold = np.array([r["lang"] for r in rows])
    chars = int(sum(len(r["text"]) for r in rows))
    codes = sorted(set(gold), key=lambda g: (-int((gold == g).sum()), g))
    env = {"PYTHONPATH": str(SRC)}
    tmp = Path(tempfile.mkdtemp(prefix="langid-bench-"))
    preds: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def keep(backend: str):
        def after(run) -> None:
            z = np.load(tmp / f"{backend}.npz")
            preds[backend] = (z["langs"], z["scores"])

        return after

    configs = [
        Config(
            name=b,
            argv=[sys.executable, __file__, "_predict", args.pool, b, str(tmp / f"{b}.npz")],
            env=env,
            after=keep(b),
        )
        for b in BACKENDS
    ]
    configs.append(Config("kernel first call", [sys.executable, __file__, "_first_call"], env=env))
    res = run_interleaved(configs, repeats=args.repeats)
    shutil.rmtree(tmp)
    (ref_l, ref_s), (got_l, got_s) = preds["fasttext-predict"], preds["kernel"]
    base, dec = _decisions(ref_l, ref_s, gold), _decisions(got_l, got_s, gold)
    print(f"pool: {args.pool}: {len(rows):,} docs, {chars / 1e6:.1f} M chars\n")
    print(report_header(res) + "\n")
    timing = []
    for b in BACKENDS:
        sec = [r.metrics["seconds"] for r in res.runs[b]]
        timing.append(
            [
                b,
                stat([1e6 * s / len(rows) for s in sec]).fmt(".1f"),
                stat([1e9 * s / chars for s in sec]).fmt(".1f"),
                res.stat(b, "cpu").fmt(".1f"),
            ]
        )
    print(md_table(["backend", "µs/doc", "ns/char", "process CPU s"], timing, align="lrrr"))
    print()
    print(ratio_table(res, [("fasttext-predict", "kernel")], key="metrics.seconds"))
    first = res.runs["kernel first call"]
    print(
        f"\nkernel start-up per process: model file "
        f"{stat([r.metrics['model_seconds'] for r in first]).fmt('.2f')} s, first call "
        f"(numba cache load) {stat([r.metrics['first_call_seconds'] for r in first]).fmt('.2f')} s"
    )
    print("\nper language, kernel against fasttext-predict (% of documents)\n")
    table = []
    for g in [*codes, "all"]:
        m = np.ones(len(gold), bool) if g == "all" else gold == g
        cells = [f"{100 * float((dec[f][m] == base[f][m]).mean()):.2f}" for f in dec]
        same_label = 100 * float((got_l[m] == ref_l[m]).mean())
        same_bits = 100 * float((got_s[m] == ref_s[m]).mean())
        table.append([g, f"{int(m.sum()):,}", f"{same_label:.2f}", f"{same_bits:.2f}", *cells])
    print(
        md_table(
            [
                "language",
                "docs",
                "top label",
                "probability bit-identical",
                "--lang en",
                "--lang auto (own)",
                "any language",
            ],  # fmt: skip
            table,
            align="lrrrrrr",
        )
    )
    diff = np.abs(got_s.astype(np.float64) - ref_s.astype(np.float64))
    print(f"\nmax |probability difference|: {diff.max():.3g} over {len(rows):,} documents")
    print("\n" + commands_block(res))


def _slices(text: str, cap: int, k: int) -> str:
    """``k`` windows of ``cap // k`` characters spread evenly over ``text`` (the whole text when
    it is at most ``cap``), each starting after a space and ending at one, joined by spaces."""
    if len(text) <= cap:
        return text
    width, parts = cap // k, []
    for i in range(k):
        start = int(i * (len(text) - width) / (k - 1)) if k > 1 else 0
        if start > 0:
            sp = text.find(" ", start, start + 50)
            start = sp + 1 if sp >= 0 else start
        end = start + width
        sp = text.rfind(" ", start, end)
        parts.append(text[start : sp if sp > start + width // 2 else end])
    return " ".join(parts)


def prefix(args: argparse.Namespace) -> None:
    import pyarrow as pa

    sys.path.insert(0, str(SRC))
    from thresher.filters.langid import LanguageFilter

    rows = [json.loads(line) for line in Path(args.pool).read_bytes().splitlines()]
    gold = np.array([r["lang"] for r in rows])
    texts = [r["text"] for r in rows]
    lens = np.array([len(t) for t in texts])
    codes = sorted(set(gold), key=lambda g: (-int((gold == g).sum()), g))
    whole_filter = LanguageFilter(None, max_chars=None)
    whole = _decisions(*whole_filter.predict(pa.array(texts, type=pa.large_string())), gold)
    caps = [int(c) for c in args.caps.split(",")]
    table = []
    worst = []
    for k in [int(x) for x in args.slices.split(",")]:
        for cap in caps:
            if k == 1:  # the filter's own cut: max_chars, at the last space past half of it
                got = LanguageFilter(None, max_chars=cap).predict(pa.array(texts))
            else:
                part = [_slices(t, cap, k) for t in texts]
                got = whole_filter.predict(pa.array(part, type=pa.large_string()))
            dec = _decisions(*got, gold)
            same = np.logical_and.reduce([dec[f] == whole[f] for f in dec])
            per = {g: 100 * float(same[gold == g].mean()) for g in codes}
            low = min(per, key=per.get)
            worst.append((cap, k, low, per[low]))
            read = 100 * float(np.minimum(lens, cap).sum() / lens.sum())
            table.append(
                [f"{cap:,}", str(k), f"{read:.1f}", f"{100 * float(same.mean()):.2f}"]
                + [f"{per[g]:.2f}" for g in codes]
            )
    print(f"pool: {args.pool}: {len(rows):,} docs, {lens.sum() / 1e6:.1f} M chars\n")
    print(
        "documents whose three decisions (--lang en, --lang auto, any language) on a bounded "
        "part equal those on the whole document (%)\n"
    )
    heads = ["chars", "slices", "% chars read", "all", *codes]
    print(md_table(heads, table, align="r" * len(heads)))
    print()
    for cap, k, low, pct in worst:
        verdict = "meets" if pct >= 99.5 else "misses"
        print(f"- {cap:,} chars in {k} slice(s): lowest {low} {pct:.2f}%: {verdict} the 99.5% bar")


def speed(args: argparse.Namespace) -> None:
    out = Path(args.scratch) / "langid-bench-run"

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)

    def select(name: str, src: str, extra: list[str], method: str = "classifier") -> Config:
        argv = [sys.executable, "-m", "thresher.cli", "select", "--target", args.target]
        argv += ["--raw", args.raw, "--out", str(out), "--fraction", "0.1"]
        argv += ["--workers", str(args.workers), "--method", method, *extra]
        return Config(name, argv, env={"PYTHONPATH": src}, before=clean, after=lambda r: clean())

    configs = [
        select("classifier", str(SRC), []),
        select("classifier --lang auto", str(SRC), ["--lang", "auto"]),
        select("dsir", str(SRC), [], method="dsir"),
    ]
    pairs = [("classifier --lang auto", "classifier"), ("classifier --lang auto", "dsir")]
    if args.before_src:
        configs.append(
            select("classifier --lang auto (before)", args.before_src, ["--lang", "auto"])
        )
        pairs += [
            ("classifier --lang auto (before)", "classifier"),
            ("classifier --lang auto (before)", "classifier --lang auto"),
        ]
    res = run_interleaved(configs, repeats=args.repeats, sample_memory=False)
    mb = Path(args.raw).stat().st_size / 1e6
    print(f"raw: {args.raw} ({mb:,.0f} MB), {args.workers} workers, {args.repeats} rounds\n")
    print(report_header(res) + "\n")
    print(summary_table(res, mb=mb) + "\n")
    print(ratio_table(res, pairs, key="cpu") + "\n")
    print(ratio_table(res, pairs, key="wall") + "\n")
    print(commands_block(res))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_predict":
        _predict_child(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_first_call":
        _first_call_child()
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("agreement")
    a.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    a.add_argument("--repeats", type=int, default=3)
    c = sub.add_parser("prefix")
    c.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    c.add_argument("--caps", default="1000,2000,4000,8000")
    c.add_argument("--slices", default="1", help="windows per document, e.g. 1,2,4,8")
    s = sub.add_parser("speed")
    s.add_argument("--raw", default="/work/bench-data/raw-1gb.jsonl")
    s.add_argument("--target", default=str(ROOT / "data" / "sample" / "target.jsonl"))
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--before-src", default=None, help="src/ of thresher before the change")
    s.add_argument("--scratch", default=tempfile.gettempdir())
    args = ap.parse_args()
    {"agreement": agreement, "prefix": prefix, "speed": speed}[args.cmd](args)


if __name__ == "__main__":
    main()
