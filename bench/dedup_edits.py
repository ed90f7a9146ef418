"""Near-duplicate recall per edit level and false merges of distinct documents.

Real text: the labeled bench pool (``/work/bench-data/pool.jsonl``, 16,541 Debian
documentation docs, each with its own ``id``).  ``--per-level`` originals per level (drawn
without replacement, each original used by one level only, from the docs with at least
``--min-words`` words) get one copy each, appended after the pool:

* ``exact``: the same text; ``reflow``: the same words re-wrapped, some double spaces/tabs;
* ``boilerplate``: a web page header and footer added (~33 words);
* ``edit02`` / ``edit05`` / ``edit10``: 2%, 5%, 10% of the words substituted, deleted or
  inserted (:func:`thresher.dedup.evaluate.edit_level_copy`).

Recall of a level = the fraction of its copies that end up in their original's cluster.
False merges: pool documents (distinct ``id``) that end up in one cluster with another pool
document (a copy counts as its original).  The pool holds real near-identical documents
(the same man page section in two commands, the same chapter in two GNU manuals), so each
merged pool document is reported with its largest exact word-3-gram Jaccard to the other
pool documents of its cluster: ``< 0.5`` (distinct text: translations, sibling pages, a
true false merge), ``0.5-0.6``, ``0.6-0.8`` and ``>= 0.8`` (the pool's own near duplicates).

thresher settings run in process (``thresher.dedup.dedup_texts``: exact + MinHash unioned,
as ``thresher dedup`` does); ``--datatrove`` also runs datatrove's default MinHash
(``MinhashConfig()``: 5-grams, 14 buckets x 8 hashes, 64-bit) in ``--dt-python``.

    .venv/bin/python bench/dedup_edits.py --datatrove --dt-python .venv-datatrove/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_POOL = "/work/bench-data/pool.jsonl"
J_BINS = (0.5, 0.6, 0.8)


def load_pool(path: str) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with open(path, "rb") as f:
        for line in f.read().splitlines():
            if line.strip():
                r = json.loads(line)
                ids.append(r["id"])
                texts.append(r["text"])
    return ids, texts


def build(texts: list[str], per_level: int, min_words: int, seed: int):
    """(all texts, origin index per row (-1 for pool rows), level per row)."""
    from thresher.dedup.evaluate import LEVELS, edit_level_copy

    rng = np.random.default_rng(seed)
    vocab = sorted({w for t in texts[::7] for w in t.split() if w.isalpha()})
    eligible = np.asarray([i for i, t in enumerate(texts) if len(t.split()) >= min_words])
    picks = rng.choice(eligible, size=per_level * len(LEVELS), replace=False)
    rows = list(texts)
    origin = [-1] * len(texts)
    level = ["pool"] * len(texts)
    for k, lv in enumerate(LEVELS):
        for i in picks[k * per_level : (k + 1) * per_level]:
            rows.append(edit_level_copy(texts[i], lv, rng, vocab))
            origin.append(int(i))
            level.append(lv)
    return rows, np.asarray(origin), np.asarray(level)


def evaluate(cid: np.ndarray, origin: np.ndarray, level: np.ndarray, pool_sh: list) -> dict:
    """Recall per level and merged pool documents by their Jaccard to the cluster."""
    from thresher.dedup.evaluate import LEVELS
    from thresher.dedup.minhash import jaccard

    n_pool = len(pool_sh)
    out: dict = {}
    for lv in LEVELS:
        m = level == lv
        out[lv] = float(np.mean(cid[m] == cid[origin[m]]))
    fam = np.where(origin >= 0, origin, np.arange(len(cid)))
    members: dict[int, set[int]] = {}
    for c, f in zip(cid.tolist(), fam.tolist(), strict=True):
        members.setdefault(c, set()).add(f)
    bins = [0] * (len(J_BINS) + 1)
    examples = []
    for fams in members.values():
        if len(fams) < 2:
            continue
        fl = sorted(fams)[:300]
        for a in fl:
            best = max(jaccard(pool_sh[a], pool_sh[b]) for b in fl if b != a)
            bins[int(np.searchsorted(J_BINS, best, side="right"))] += 1
            if best < J_BINS[0] and len(examples) < 5:
                examples.append((round(best, 3), a, [b for b in fl if b != a][:3]))
    assert all(f < n_pool for fams in members.values() for f in fams)
    out["merged"] = bins
    out["examples"] = examples
    return out


def s_curve(bands: int, rows: int, js=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> str:
    return " ".join(f"{j}:{1 - (1 - j**rows) ** bands:.3f}" for j in js)


def measured_s_curve(texts: list[str], n: int, seed: int, setting: dict) -> list[str]:
    """Markdown rows: copies binned by their exact word-3-gram Jaccard to the original, the
    fraction that ``setting`` links to it, beside the LSH's P(candidate) and the
    probability that a candidate also passes the signature check (binomial, num_perm
    values, >= ceil(threshold * num_perm) equal)."""
    from math import ceil, comb

    from thresher.dedup import MinHashParams, dedup_texts
    from thresher.dedup.evaluate import edit_words
    from thresher.dedup.minhash import jaccard, shingle_hashes

    p = MinHashParams(**setting)
    rng = np.random.default_rng(seed)
    vocab = sorted({w for t in texts[::7] for w in t.split() if w.isalpha()})
    eligible = [i for i, t in enumerate(texts) if len(t.split()) >= 100]
    picks = rng.choice(eligible, size=n, replace=False)
    fracs = rng.uniform(0.0, 0.25, size=n)
    copies = [edit_words(texts[i], f, rng, vocab) for i, f in zip(picks, fracs, strict=True)]
    origs = [texts[i] for i in picks]
    sh_o, sh_c = shingle_hashes(origs, 3), shingle_hashes(copies, 3)
    js = np.asarray([jaccard(a, b) for a, b in zip(sh_o, sh_c, strict=True)])
    _, cid = dedup_texts(texts + copies, p)
    linked = cid[len(texts) :] == cid[picks]
    need = ceil(p.threshold * p.num_perm - 1e-9)
    rows = []
    for lo in np.arange(0.3, 1.0, 0.05):
        m = (js >= lo) & (js < lo + 0.05)
        if not m.any():
            continue
        j = lo + 0.025
        cand = 1 - (1 - j**p.rows) ** p.bands
        ver = sum(comb(p.num_perm, k) * j**k * (1 - j) ** (p.num_perm - k)
                  for k in range(need, p.num_perm + 1)) if p.verify else 1.0  # fmt: skip
        rows.append(
            f"{lo:.2f}-{lo + 0.05:.2f} | {int(m.sum())} | {linked[m].mean():.3f} | "
            f"{cand:.3f} | {cand * ver:.3f}"
        )
    return rows


def parse_settings(spec: str) -> list[dict]:
    """``ngram:threshold[:bands:rows][:v]`` items, comma separated."""
    out = []
    for item in filter(None, spec.split(",")):
        parts = item.split(":")
        d = {"ngram": int(parts[0]), "threshold": float(parts[1]), "verify": parts[-1] == "v"}
        nums = [p for p in parts[2:] if p != "v"]
        if nums:
            d["bands"], d["rows"] = int(nums[0]), int(nums[1])
        out.append(d)
    return out


def run_thresher(rows: list[str], setting: dict):
    from thresher.dedup import MinHashParams, dedup_texts

    p = MinHashParams(**setting)
    t = time.perf_counter()
    _, cid = dedup_texts(rows, p)
    return cid, time.perf_counter() - t, p


def run_datatrove(dt_python: str, rows: list[str], work: str) -> tuple[np.ndarray, float]:
    """datatrove's default MinhashConfig() over ``rows``: cluster label per row."""
    sys.path.insert(0, HERE)
    from dedup_vs_datatrove import DT_SCRIPT

    corpus = os.path.join(work, "corpus")
    os.makedirs(corpus, exist_ok=True)
    with open(os.path.join(corpus, "data.jsonl"), "w", encoding="utf-8") as f:
        for i, t in enumerate(rows):
            f.write(json.dumps({"id": str(i), "text": t}) + "\n")
    script = os.path.join(work, "dt_run.py")
    with open(script, "w") as f:
        f.write(DT_SCRIPT)
    out = os.path.join(work, "dt")
    t = time.perf_counter()
    cmd = [dt_python, script, corpus, out + "-work", out, "14", "8", str(len(rows)), "5"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr[-4000:])
        raise SystemExit("datatrove failed")
    cid, _removed = np.load(out + ".npy")
    return cid, time.perf_counter() - t


def main() -> None:
    from thresher.dedup.evaluate import LEVELS
    from thresher.dedup.minhash import shingle_hashes

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pool", default=DEFAULT_POOL)
    ap.add_argument("--per-level", type=int, default=300)
    ap.add_argument("--min-words", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--sweep",
        default="5:0.8,3:0.7,3:0.6,3:0.5,3:0.5:v,3:0.6:v,3:0.55:v",
        help="ngram:threshold[:bands:rows][:v(erify)], comma separated",
    )
    ap.add_argument("--datatrove", action="store_true")
    ap.add_argument("--dt-python", default="/work/main/.venv-datatrove/bin/python")
    ap.add_argument("--work", default=None)
    ap.add_argument(
        "--originals-only",
        action="store_true",
        help="drop the pool docs that have no copy (a smaller run, e.g. for datatrove)",
    )
    ap.add_argument(
        "--s-curve",
        default=None,
        help="only measure the S-curve of one setting (ngram:threshold[:bands:rows][:v]) "
        "on 3,000 copies with 0-25%% of their words edited",
    )
    a = ap.parse_args()
    if a.s_curve:
        _, texts = load_pool(a.pool)
        print("3-gram J | copies | measured linked | P(candidate) | P(candidate and verified)")
        print("--- | --- | --- | --- | ---")
        print("\n".join(measured_s_curve(texts, 3000, a.seed, parse_settings(a.s_curve)[0])))
        return
    print(f"load average at start: {os.getloadavg()}")
    ids, texts = load_pool(a.pool)
    rows, origin, level = build(texts, a.per_level, a.min_words, a.seed)
    if a.originals_only:  # the pool shrunk to the originals of the copies (same copies)
        keep = sorted(set(origin[origin >= 0].tolist()))
        new_of = {old: k for k, old in enumerate(keep)}
        n_pool = len(texts)
        ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
        rows = texts + rows[n_pool:]
        origin = np.concatenate(
            [np.full(len(keep), -1), [new_of[int(o)] for o in origin[n_pool:]]]
        ).astype(np.int64)
        level = np.concatenate([np.full(len(keep), "pool"), level[n_pool:]])
    pool_sh = shingle_hashes(texts, 3)
    print(
        f"pool {len(texts)} docs, {len(rows) - len(texts)} copies ({a.per_level} per level, "
        f"originals with >= {a.min_words} words), seed {a.seed}"
    )
    head = ["system", "ngram", "threshold", "bands x rows", "verify", *LEVELS]
    head += ["merged J<0.5", "merged 0.5-0.6", "merged 0.6-0.8", "merged J>=0.8", "sec"]
    print("\n" + " | ".join(head))
    print(" | ".join(["---"] * len(head)))
    curves = []
    for s in parse_settings(a.sweep):
        cid, sec, p = run_thresher(rows, s)
        ev = evaluate(cid, origin, level, pool_sh)
        cells = ["thresher", p.ngram, p.threshold, f"{p.bands} x {p.rows}", p.verify]
        cells += [f"{ev[lv]:.3f}" for lv in LEVELS]
        cells += [*ev["merged"], f"{sec:.1f}"]
        print(" | ".join(map(str, cells)), flush=True)
        curves.append((f"{p.bands} x {p.rows}", s_curve(p.bands, p.rows)))
        for j, x, others in ev["examples"]:
            print(f"    J<0.5 merge: J={j} {ids[x]} with {[ids[o] for o in others]}")
    if a.datatrove:
        work = a.work or tempfile.mkdtemp(prefix="dedup-edits-")
        cid, sec = run_datatrove(a.dt_python, rows, work)
        ev = evaluate(cid, origin, level, pool_sh)
        cells = ["datatrove default", 5, "-", "14 x 8", False]
        cells += [f"{ev[lv]:.3f}" for lv in LEVELS]
        cells += [*ev["merged"], f"{sec:.1f}"]
        print(" | ".join(map(str, cells)), flush=True)
        curves.append(("14 x 8", s_curve(14, 8)))
        for j, x, others in ev["examples"]:
            print(f"    J<0.5 merge: J={j} {ids[x]} with {[ids[o] for o in others]}")
    print("\nS-curves, P(candidate) at Jaccard:")
    for name, c in dict(curves).items():
        print(f"  {name}: {c}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
