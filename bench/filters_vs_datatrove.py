"""thresher's rule filters and language id against datatrove's, on real text.

Runs thresher's and datatrove's Gopher quality, Gopher repetition, C4 (document-level drop
decision) and FineWeb filters, their word tokenizers and their language id with the same
(default) thresholds on the same documents and prints, per rule set: documents, agreement on
keep/drop, agreement on the first failing rule, docs/s on each side, and the disagreements (a
few shown, with both sides' reasons), then a language-id accuracy table on documents with a
``lang`` field.

How it measures (bench/_harness.py): every (side, rule set) pair runs in its own fresh
process, so no side profits from a cache another rule set warmed (thresher's word-split
cache, spaCy's tokenizer cache); the two sides alternate (thresher:gopher_quality,
datatrove:gopher_quality, thresher:gopher_repetition, ...) and the whole round repeats
(``--repeats``, default 3); docs/s is the filter loop alone, timed inside the process after one
warm-up document (model loading and imports excluded on both sides); the report gives median
(min-max), ratios of medians with the min-max of per-repeat ratios, and the load average.

datatrove (with spaCy, for its English word tokenizer) is not a thresher dependency: its side
runs in another interpreter (``--datatrove-python``, default ``.venv-datatrove/bin/python``,
made with ``make bench-venv``). Its language id runs datatrove's ``LanguageFilter`` with its
fastText model pointed at thresher's lid.176.ftz (datatrove would download lid.176.bin).

Usage (from the repository root)::

    .venv/bin/python bench/filters_vs_datatrove.py --out bench/results/filters.md
    .venv/bin/python bench/filters_vs_datatrove.py --input my.jsonl.gz --debian-docs 0 --repeats 1
    .venv/bin/python bench/filters_vs_datatrove.py --only c4,fineweb
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Config, md_table, report_header, run_interleaved, stat, summary_table  # noqa: E402

RULE_SETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")
CONFIGS = (*RULE_SETS, "words", "langid")

# datatrove's drop reasons -> thresher's rule names
DT_REASON = {
    "gopher_short_doc": "doc_words",
    "gopher_long_doc": "doc_words",
    "gopher_below_avg_threshold": "mean_word_length",
    "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_word_ratio",
    "gopher_too_many_ellipsis": "ellipsis_word_ratio",
    "gopher_too_many_bullets": "bullet_lines_ratio",
    "gopher_too_many_end_ellipsis": "ellipsis_lines_ratio",
    "gopher_below_alpha_threshold": "alpha_words_ratio",
    "gopher_enough_stop_words": "stop_words",
}
for _n in range(5, 11):
    DT_REASON[f"duplicated_{_n}_n_grams"] = f"dup_{_n}_gram"


# --------------------------------------------------------------------------------------------
# input
def open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.endswith(".zst"):
        import io

        import zstandard

        return io.TextIOWrapper(
            zstandard.ZstdDecompressor().stream_reader(open(path, "rb")), encoding="utf-8"
        )
    return open(path, encoding="utf-8")


def load_jsonl(path: str) -> list[dict]:
    docs = []
    with open_text(path) as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            rec = json.loads(line)
            docs.append(
                {
                    "id": str(rec.get("id", f"{Path(path).name}:{i + 1}")),
                    "text": rec["text"],
                    "lang": rec.get("lang"),
                }
            )
    return docs


def load_debian_docs(limit: int, max_chars: int = 50_000) -> list[dict]:
    """Plain-text files of /usr/share/doc and /usr/share/common-licenses (sorted, first ``limit``)."""
    paths = sorted(Path("/usr/share/common-licenses").glob("*"))
    for p in sorted(Path("/usr/share/doc").rglob("*")):
        name = p.name
        if p.is_symlink() or not p.is_file():
            continue
        if name in ("copyright", "changelog.Debian.gz", "NEWS.Debian.gz") or name.endswith(
            (".txt", ".txt.gz", ".md", ".md.gz", ".rst", "README", "README.gz")
        ):
            paths.append(p)
    docs = []
    for p in paths:
        if len(docs) >= limit:
            break
        try:
            raw = gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
        if text.strip() and "\x00" not in text:
            docs.append({"id": str(p), "text": text[:max_chars], "lang": None})
    return docs


# --------------------------------------------------------------------------------------------
# one measured configuration, in its own process (``--measure SIDE NAME IN OUT``)
WARMUP = "Warm-up text, not from the corpus: it loads models and imports before the clock. " * 8


_CPU0 = _CPU = 0.0


def _start() -> float:
    """Start the clocks of the measured loop: wall (returned) and this process's CPU time."""
    global _CPU0
    _CPU0 = time.process_time()
    return time.perf_counter()


def _stop(t0: float) -> float:
    """Stop the clocks: wall seconds since ``t0`` (returned); the loop's CPU time is kept."""
    global _CPU
    wall = time.perf_counter() - t0
    _CPU = time.process_time() - _CPU0
    return wall


def tokens_digest(tokens: list[str]) -> str:
    return hashlib.sha1("\x1f".join(tokens).encode()).hexdigest()[:16]


def measure_datatrove(name: str, texts: list[str], lid_model: str) -> tuple[list, float]:
    """datatrove's filter ``name`` over ``texts``, one ``Document`` at a time (as its pipeline)."""
    from datatrove.data import Document

    if name == "words":
        from datatrove.utils.text import split_into_words

        split_into_words(WARMUP)
        t0 = _start()
        toks = [split_into_words(t) for t in texts]
        return [[len(t), tokens_digest(t)] for t in toks], _stop(t0)

    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )

    if name == "langid":
        # datatrove's LanguageFilter (backend ft176) on the same model file as thresher's
        # (lid.176.ftz): datatrove would download lid.176.bin, and a different model would
        # not compare the code paths
        from fasttext.FastText import _FastText

        f = LanguageFilter()
        f.model._model = _FastText(lid_model)
    else:
        f = {
            "gopher_quality": GopherQualityFilter,
            "gopher_repetition": GopherRepetitionFilter,
            "c4": C4QualityFilter,
            "fineweb": FineWebQualityFilter,
        }[name]()
    f.filter(Document(text=WARMUP, id="warmup"))
    res = []
    t0 = _start()
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        try:
            r = f.filter(doc)
        except Exception as e:  # datatrove divides by zero on some degenerate docs
            res.append([False, f"error:{type(e).__name__}"])
            continue
        if name == "langid":
            res.append([bool(r), doc.metadata["language"], doc.metadata["language_score"]])
        elif isinstance(r, tuple):
            res.append([bool(r[0]), r[1] or ""])
        else:
            res.append([bool(r), ""])
    return res, _stop(t0)


def measure_thresher(name: str, texts: list[str]) -> tuple[list, float]:
    """thresher's filter ``name`` over ``texts`` as one Arrow batch (as its workers do)."""
    import pyarrow as pa

    from thresher.filters import LanguageFilter, build_filters
    from thresher.filters.words import split_words

    if name == "words":
        split_words(WARMUP)
        t0 = _start()
        toks = [split_words(t) for t in texts]
        return [[len(t), tokens_digest(t)] for t in toks], _stop(t0)
    f = LanguageFilter() if name == "langid" else build_filters([name])[0]
    f.apply(pa.array([WARMUP], type=pa.string()))
    arr = pa.array(texts, type=pa.string())
    t0 = _start()
    res = f.apply(arr)
    dt = _stop(t0)
    if name == "langid":
        langs = res.annotations["language"].to_pylist()
        scores = res.annotations["language_score"].to_pylist()
        return [
            [bool(k), lang, score] for k, lang, score in zip(res.keep, langs, scores, strict=True)
        ], dt
    return [
        [bool(k), r.split(".", 1)[1] if r else ""] for k, r in zip(res.keep, res.rule, strict=True)
    ], dt


def measure(side: str, name: str, inp: str, outp: str, lid_model: str) -> None:
    with open(inp) as fh:
        texts = json.load(fh)
    if side == "thresher":
        res, seconds = measure_thresher(name, texts)
    else:
        res, seconds = measure_datatrove(name, texts, lid_model)
    cpu_seconds = _CPU
    with open(outp, "w") as fh:
        json.dump(res, fh)
    from _harness import emit

    emit(seconds=seconds, cpu_seconds=cpu_seconds, docs=len(texts))


def snippet(text: str, n: int = 110) -> str:
    s = " ".join(text.split())
    return s[:n] + ("..." if len(s) > n else "")


def _speed(res, side: str, name: str, n: int, key: str = "cpu_seconds") -> str:
    return stat([n / r.metrics[key] for r in res.runs[f"{side}:{name}"]]).fmt(",.0f")


def _ratio(res, name: str, key: str = "cpu_seconds") -> str:
    # thresher's speed over datatrove's = datatrove's time over thresher's
    return res.ratio(f"datatrove:{name}", f"thresher:{name}", f"metrics.{key}").fmt(".1f", "x")


def compare(docs: list[dict], mine: dict, ref: dict, res, show: int) -> tuple[list[str], bool]:
    n = len(docs)
    ok_all = True
    out = [
        f"## Rule filters: thresher vs datatrove ({n} docs, default thresholds)",
        "",
        "docs/s: documents over the CPU time (all threads of the process) of the filter loop "
        "alone (after a warm-up document), median (min–max) over the repeats, each "
        "rule set in its own fresh process on each side. Speed-up: thresher's speed over "
        "datatrove's, ratio of medians (min–max of the per-repeat ratios), by the loop's CPU "
        "time and by its wall time. On a quiet machine the two agree; on a loaded one wall "
        "time counts the waits for a core, so the CPU-time ratio is the one to quote.",
        "",
    ]
    rows = []
    disagreements: dict[str, list[int]] = {}
    names = [x for x in RULE_SETS if x in mine]
    for name in names:
        a, b = mine[name], ref[name]
        same = sum(x[0] == y[0] for x, y in zip(a, b, strict=True))
        same_rule = sum(
            x[1].split(":")[0] == DT_REASON.get(y[1], y[1]) for x, y in zip(a, b, strict=True)
        )
        disagreements[name] = [i for i in range(n) if a[i][0] != b[i][0]]
        agree = 100.0 * same / n
        ok_all &= agree >= 99.0
        rows.append(
            [
                name,
                n,
                f"{sum(x[0] for x in a)} / {sum(y[0] for y in b)}",
                f"{agree:.2f}%",
                f"{100.0 * same_rule / n:.2f}%",
                _speed(res, "thresher", name, n),
                _speed(res, "datatrove", name, n),
                _ratio(res, name),
                _ratio(res, name, "seconds"),
            ]
        )
    out.append(
        md_table(
            [
                "rule set",
                "docs",
                "kept (thresher / datatrove)",
                "decision agreement",
                "same first rule",
                "thresher docs/s",
                "datatrove docs/s",
                "speed-up (CPU)",
                "speed-up (wall)",
            ],
            rows,
            align="lrrrrrrrr",
        )
    )
    if "words" in mine:
        tok_same = sum(x == y for x, y in zip(mine["words"], ref["words"], strict=True))
        out += [
            "",
            f"Word tokenizer (thresher `split_words` vs datatrove `split_into_words`, English): "
            f"identical token lists on {tok_same}/{n} docs ({100.0 * tok_same / n:.2f}%); "
            f"{_speed(res, 'thresher', 'words', n)} vs {_speed(res, 'datatrove', 'words', n)} "
            f"docs/s ({_ratio(res, 'words')}).",
        ]
    for name in names:
        idx = disagreements[name]
        if not idx:
            continue
        out += ["", f"### {name}: {len(idx)} disagreement(s)"]
        pairs = Counter(
            (mine[name][i][1].split(":")[0] or "keep", ref[name][i][1] or "keep") for i in idx
        )
        for (x, y), c in pairs.most_common():
            out.append(f"- thresher `{x}` vs datatrove `{y}`: {c}")
        for i in idx[:show]:
            tok = ""
            if "words" in mine:
                same_tok = mine["words"][i] == ref["words"][i]
                tok = f" ({'same tokens' if same_tok else 'tokens differ'})"
            out.append(
                f"  - {docs[i]['id']}: thresher={mine[name][i][1] or 'keep'} "
                f"datatrove={ref[name][i][1] or 'keep'}{tok}: {snippet(docs[i]['text'])!r}"
            )
    return out, ok_all


def language_table(docs: list[dict], mine: list, ref: list | None, res) -> list[str]:
    """Accuracy of thresher's language id on labeled docs; agreement with datatrove's."""
    n = len(docs)
    out = ["", f"## Language id (lid.176.ftz), {n} docs", ""]
    if ref is not None:
        same = sum(a[1] == b[1] for a, b in zip(mine, ref, strict=True))
        keep = sum(a[0] == b[0] for a, b in zip(mine, ref, strict=True))
        out.append(
            f"thresher `LanguageFilter` (one Arrow batch; predicts on the first 100k characters) "
            f"vs datatrove `LanguageFilter` (ft176 backend pointed at the same lid.176.ftz file; "
            f"one `Document` at a time): same top language on {same}/{n} docs, same keep "
            f"decision (min score 0.65) on {keep}/{n}; "
            f"{_speed(res, 'thresher', 'langid', n)} vs {_speed(res, 'datatrove', 'langid', n)} "
            f"docs/s ({_ratio(res, 'langid')})."
        )
    by = defaultdict(list)
    for d, r in zip(docs, mine, strict=True):
        if d.get("lang"):
            by[d["lang"]].append((r[1], float(r[2])))
    if not by:
        return out + ["", "(no documents with a `lang` field: no accuracy table)"]
    labeled = sum(len(v) for v in by.values())
    out += [
        "",
        f"Accuracy on the {labeled} docs with a `lang` label (the language of the Debian "
        f"package the text comes from):",
        "",
    ]
    rows = []
    tot_ok = 0
    for lang in sorted(by, key=lambda k: -len(by[k])):
        preds = by[lang]
        ok = sum(p == lang for p, _ in preds)
        tot_ok += ok
        kept = sum(p == lang and s > 0.65 for p, s in preds)
        med = sorted(s for _, s in preds)[len(preds) // 2]
        conf = Counter(p for p, _ in preds if p != lang).most_common(3)
        conf_s = ", ".join(f"{p} ({c})" for p, c in conf) or "-"
        rows.append(
            [
                lang,
                len(preds),
                f"{100.0 * ok / len(preds):.1f}%",
                f"{100.0 * kept / len(preds):.1f}%",
                f"{med:.2f}",
                conf_s,
            ]
        )
    rows.append(["all", labeled, f"{100.0 * tot_ok / labeled:.1f}%", "", "", ""])
    out.append(
        md_table(
            [
                "lang",
                "docs",
                "accuracy",
                "kept at min_score 0.65 (right lang)",
                "median score",
                "top confusions",
            ],
            rows,
            align="lrrrrl",
        )
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--input", action="append", help="jsonl(.gz/.zst) with a text field (repeatable)"
    )
    ap.add_argument(
        "--debian-docs",
        type=int,
        default=1000,
        help="also use up to N plain-text files from /usr/share/doc (default 1000; 0: none)",
    )
    ap.add_argument("--datatrove-python", default=".venv-datatrove/bin/python")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration (default 3)")
    ap.add_argument(
        "--only",
        default=",".join(CONFIGS),
        help=f"comma-separated subset of {','.join(CONFIGS)} (default all)",
    )
    ap.add_argument("--show", type=int, default=5, help="disagreements shown per rule set")
    ap.add_argument("--out", help="also write the markdown report to this file")
    ap.add_argument("--measure", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.measure:
        side, name, inp, outp, lid_model = args.measure
        measure(side, name, inp, outp, lid_model)
        return

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "src"))
    only = [x for x in args.only.split(",") if x]
    unknown = sorted(set(only) - set(CONFIGS))
    if unknown:
        sys.exit(f"--only: unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    if not Path(args.datatrove_python).exists():
        sys.exit(f"{args.datatrove_python} does not exist: make bench-venv (see --help)")
    inputs = args.input
    if not inputs:
        default = root / "data/sample/raw.jsonl.gz"
        inputs = [str(default)] if default.exists() else []
    docs = [d for p in inputs for d in load_jsonl(p)]
    if args.debian_docs:
        docs += load_debian_docs(args.debian_docs)
    if not docs:
        sys.exit("no input documents (use --input)")
    from thresher.filters.langid import default_model_path

    lid_model = default_model_path()
    here = str(Path(__file__).resolve())
    env_thr = {"PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "bench")])}
    env_dt = {"PYTHONPATH": str(root / "bench"), "LOGURU_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="filters-bench-") as tmp:
        inp = os.path.join(tmp, "texts.json")
        with open(inp, "w") as fh:
            json.dump([d["text"] for d in docs], fh)
        configs = []
        for name in only:
            for side, python, env in (
                ("thresher", sys.executable, env_thr),
                ("datatrove", args.datatrove_python, env_dt),
            ):
                outp = os.path.join(tmp, f"{side}-{name}.json")
                configs.append(
                    Config(
                        name=f"{side}:{name}",
                        argv=[python, here, "--measure", side, name, inp, outp, lid_model],
                        env=env,
                    )
                )
        res = run_interleaved(configs, args.repeats)
        results = {}
        for c in configs:
            side, name = c.name.split(":")
            with open(os.path.join(tmp, f"{side}-{name}.json")) as fh:
                results.setdefault(side, {})[name] = json.load(fh)
    mine, ref = results["thresher"], results["datatrove"]

    lines = [
        "# Rule filters and language id: thresher vs datatrove",
        "",
        "Command (from the repository root):",
        "",
        "```",
        "python " + " ".join(["bench/filters_vs_datatrove.py", *sys.argv[1:]]),
        "```",
        "",
        report_header(res),
        f"- inputs: {', '.join(inputs) or '-'} + {args.debian_docs} plain-text files of "
        f"/usr/share/doc and /usr/share/common-licenses = {len(docs)} docs",
        "",
    ]
    body, ok = compare(docs, mine, ref, res, args.show)
    lines += body
    if "langid" in mine:
        lines += language_table(docs, mine["langid"], ref.get("langid"), res)
    lines += [
        "",
        "## Every run (process wall and CPU include start-up, imports and loading the texts)",
        "",
        summary_table(res, inner="metrics.cpu_seconds"),
        "",
        f"all rule sets >= 99% agreement: {ok}",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
