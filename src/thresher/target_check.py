"""Target diagnostics, before any scorer is fitted: is the target what the user thinks it is?

A target is labelled data, and labelled data has slips: a few documents of another language
or kind pasted in, the same document twice, or raw documents that *are* target documents
(selecting toward a task's training data then leaks it into the selection). Checked here:

* **outliers**, documents unlike the rest of the target, by three tests:
  - *similarity*: cosine of the document's hashed word profile (log1p counts, IDF of the
    target, L2 rows) to the centroid of the target's core (see :func:`loo_similarity`), as a
    robust z-score (median and MAD over the target); below ``-Z_SIMILARITY`` is an outlier
    (2.5: 20% German quotations in a French guide target sit at -2.9 to -3.3; of the 220
    clean Python API docs of data/sample 5 fall below -2.5, dropping 2% of an honest target);
  - *language*: the document's language (lid.176) is one that under ``MIN_LANG_SHARE`` of the
    target is in, while the target has a main language;
  - *length*: ``|robust z|`` of log characters above ``Z_LENGTH`` (reported, not dropped
    alone: length differs in honest targets too);
* **duplicates** inside the target (exact after normalization, or MinHash near-duplicates);
* **raw copies**: raw documents of the fit sample that are (near-)copies of target documents
  (exact Jaccard >= 0.8 of word 3-gram shingle sets, screened in one pass: see
  :func:`find_raw_copies`);
* **too few documents** for a held-out measurement or a classifier.

``--target-outliers drop`` (the default, see bench/results/auto.md) fits on the target
without the similarity/language outliers; ``keep`` only reports; ``error`` stops with one line
naming them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa

Z_SIMILARITY = 2.5
Z_LENGTH = 5.0
MIN_LANG_SHARE = 0.05
MIN_DOCS_CHECK = 8  # fewer documents: no statistics of the target's own spread
MIN_DOCS_HELD_OUT = 10  # auto / hybrid hold documents out: below this they cannot
MIN_DOCS_GOOD = 50  # below this a held-out measurement is noisy (auto k-folds)
COPY_JACCARD = 0.8
COPY_NGRAM = 3  # word 3-gram shingles, as the dedup stage's default
SCREEN_SHARE = 0.75  # below this share of shingles in the target, Jaccard < 0.8 for sure
EXAMPLES = 5


@dataclass
class TargetCheck:
    """What the diagnostics found; ``as_dict`` is the manifest's ``target_check``."""

    n_docs: int
    languages: dict[str, int] = field(default_factory=dict)
    outliers: list[dict] = field(default_factory=list)  # index, where, reasons, values
    long_short: list[dict] = field(default_factory=list)  # length-only: reported
    duplicates: list[list[int]] = field(default_factory=list)  # groups of target indices
    raw_copies: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    action: str = "keep"
    dropped: int = 0

    def outlier_indices(self) -> np.ndarray:
        return np.array([o["index"] for o in self.outliers], dtype=np.int64)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_docs": self.n_docs,
            "languages": self.languages,
            "outliers": self.outliers,
            "length_outliers": self.long_short,
            "duplicate_groups": len(self.duplicates),
            "duplicate_docs": sum(len(g) - 1 for g in self.duplicates),
            "duplicate_examples": self.duplicates[:EXAMPLES],
            "raw_copies": self.raw_copies,
            "notes": self.notes,
            "outlier_action": self.action,
            "outliers_dropped": self.dropped,
        }

    def summary(self) -> list[str]:
        """A few lines for the console."""
        langs = ", ".join(f"{k} {v}" for k, v in self.languages.items())
        lines = [f"target check: {self.n_docs} docs ({langs})"]
        if self.outliers:
            ex = "; ".join(
                f"{o['where']} ({', '.join(o['reasons'])})" for o in self.outliers[:EXAMPLES]
            )
            more = (
                f" and {len(self.outliers) - EXAMPLES} more"
                if len(self.outliers) > EXAMPLES
                else ""
            )
            verb = {"drop": "dropped", "keep": "kept", "error": "found"}[self.action]
            lines.append(f"target check: {len(self.outliers)} outliers {verb}: {ex}{more}")
        if self.long_short:
            lines.append(
                f"target check: {len(self.long_short)} docs of unusual length (kept): "
                + "; ".join(o["where"] for o in self.long_short[:EXAMPLES])
            )
        if self.duplicates:
            n = sum(len(g) - 1 for g in self.duplicates)
            lines.append(f"target check: {n} duplicate docs in {len(self.duplicates)} groups")
        rc = self.raw_copies
        if rc and rc["copies"]:
            ex = "; ".join(f"raw {e['raw']} ~ {e['target']}" for e in rc["examples"][:3])
            lines.append(
                f"target check: {rc['copies']} of {rc['sample_docs']:,} sampled raw docs are "
                f"(near-)copies of {rc['target_docs_copied']} target docs (leak): {ex}"
            )
        lines += [f"target check: {n}" for n in self.notes]
        return lines


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * 1.4826
    if mad <= 1e-12:
        mad = max(float(np.std(x)), 1e-12)
    return (x - med) / mad


def loo_similarity(texts: pa.Array, num_buckets: int = 2**18) -> np.ndarray:
    """Cosine of each document's word profile to the centroid of the target's core.

    Profile: hashed words, log1p counts times the target's own IDF, L2 rows (words rare in
    the target weigh most, so a pasted-in document shares little). Core: the half of the
    documents most like all the others (leave-one-out, first pass); the second pass measures
    every document against the core's centroid (itself left out), so 20% junk cannot pull
    the centroid toward itself.
    """
    from scipy.sparse import diags

    from thresher.text.ngrams import NgramHasher

    x = NgramHasher(num_buckets, 1).csr(texts).astype(np.float64)
    x.data = np.log1p(x.data)
    df = np.bincount(x.indices, minlength=x.shape[1])
    x = x @ diags(np.log((x.shape[0] + 1) / (df + 1)) + 1.0)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x = (diags(1.0 / norms) @ x).tocsr()
    self_dot = np.asarray(x.multiply(x).sum(axis=1)).ravel()

    def against(core: np.ndarray) -> np.ndarray:
        total = np.asarray(x[core].sum(axis=0)).ravel()
        xs = x @ total
        own = self_dot * core  # a core document leaves itself out
        rest_sq = total @ total - 2 * xs * core + own
        return (xs - own) / np.sqrt(np.maximum(rest_sq, 1e-12))

    first = against(np.ones(x.shape[0], dtype=bool))
    return against(first >= np.median(first))


def check_target(
    texts: pa.Array, where: list[str] | None = None, action: str = "keep"
) -> TargetCheck:
    """Outliers, duplicates and size of the target (raw copies: :func:`find_raw_copies`).

    ``where``: a name per document for the messages (``target.jsonl line 12``).
    """
    from thresher.filters.langid import LanguageFilter

    n = len(texts)
    names = where or [f"target doc {i + 1}" for i in range(n)]
    chk = TargetCheck(n_docs=n, action=action)
    if n == 0:
        return chk
    langs, _ = LanguageFilter().predict(texts)
    langs = langs.astype(str)
    u, c = np.unique(langs, return_counts=True)
    order = np.lexsort((u, -c))
    chk.languages = {str(u[i]): int(c[i]) for i in order}
    if n < MIN_DOCS_HELD_OUT:
        chk.notes.append(
            f"{n} target docs: too few to hold any out (auto uses its default method, "
            "hybrid equal weights); 50 or more measure well"
        )
    elif n < MIN_DOCS_GOOD:
        chk.notes.append(f"{n} target docs: auto measures by 5-fold (50 or more measure well)")
    chk.duplicates = _duplicate_groups(texts)
    if n < MIN_DOCS_CHECK:
        return chk
    z_sim = _robust_z(loo_similarity(texts))
    chars = np.array([len(t) for t in texts.to_pylist()], dtype=np.float64)
    z_len = _robust_z(np.log1p(chars))
    share = {k: v / n for k, v in chk.languages.items()}
    main_share = max(share.values())
    for i in range(n):
        reasons = []
        if z_sim[i] < -Z_SIMILARITY:
            reasons.append(f"similarity z {z_sim[i]:.1f}")
        if share[langs[i]] < MIN_LANG_SHARE and main_share >= 0.5:
            reasons.append(f"language {langs[i]}")
        entry = {
            "index": i,
            "where": names[i],
            "reasons": reasons,
            "similarity_z": round(float(z_sim[i]), 3),
            "language": str(langs[i]),
            "chars": int(chars[i]),
        }
        if reasons:
            chk.outliers.append(entry)
        elif abs(z_len[i]) > Z_LENGTH:
            chk.long_short.append({**entry, "reasons": [f"length z {z_len[i]:.1f}"]})
    return chk


def _duplicate_groups(texts: pa.Array) -> list[list[int]]:
    from thresher.dedup.lsh import dedup_texts
    from thresher.dedup.minhash import MinHashParams

    if len(texts) < 2:
        return []
    _, cid = dedup_texts(texts, params=MinHashParams(threshold=COPY_JACCARD, verify=True))
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(cid.tolist()):
        groups.setdefault(c, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


@nb.njit(cache=True, nogil=True)
def _table(keys: np.ndarray) -> np.ndarray:
    """Open-addressing set of shingle hashes (0 marks a free slot; a hash of 0 is stored as 1)."""
    size = 1
    while size < 2 * keys.shape[0] + 2:
        size *= 2
    table = np.zeros(size, dtype=np.uint64)
    mask = np.uint64(size - 1)
    for k in keys:
        k = k if k != 0 else np.uint64(1)
        j = k & mask
        while table[j] != 0 and table[j] != k:
            j = (j + np.uint64(1)) & mask
        table[j] = k
    return table


@nb.njit(cache=True, nogil=True)
def _hits(hashes: np.ndarray, offs: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Per document: how many of its shingles are in ``table`` (one probe each, typically)."""
    n = offs.shape[0] - 1
    mask = np.uint64(table.shape[0] - 1)
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        c = 0
        for p in range(offs[i], offs[i + 1]):
            k = hashes[p] if hashes[p] != 0 else np.uint64(1)
            j = k & mask
            while table[j] != 0:
                if table[j] == k:
                    c += 1
                    break
                j = (j + np.uint64(1)) & mask
        out[i] = c
    return out


def find_raw_copies(
    target: pa.Array,
    sample: pa.Array,
    target_where: list[str] | None = None,
    sample_where: list[str] | None = None,
) -> dict[str, Any]:
    """Raw documents of ``sample`` that are (near-)copies of target documents.

    A copy is a raw document whose word-shingle set has exact Jaccard >= ``COPY_JACCARD``
    with some target document's (an exact copy, after the shingler's normalization, has 1).
    One streaming pass screens the sample: each raw document's share of shingles found in
    the target's (a hash set, one probe per shingle); only documents with at least
    ``SCREEN_SHARE`` of them (a share of all shingle occurrences: repeats move it a little,
    hence the margin below 0.8) get the exact Jaccard against the target documents they share
    the most shingles with. Jaccard >= 0.8 implies the share is >= 0.8, so the screen loses
    nothing, and the cost is one hash and one probe per word: the MinHash signatures and
    clustering of every sampled document it replaces took 11 s on a 100k-document sample
    of the 1 GB bench corpus.
    """
    from thresher.dedup._arrow import string_buffers
    from thresher.dedup.minhash import _shingles_kernel

    nt, ns = len(target), len(sample)
    out: dict[str, Any] = {"sample_docs": ns, "copies": 0, "target_docs_copied": 0, "examples": []}
    if nt == 0 or ns == 0:
        return out
    ngram = np.int64(COPY_NGRAM)
    t_hashes, t_offs = _shingles_kernel(*string_buffers(target), ngram)
    t_sets = [np.unique(t_hashes[t_offs[i] : t_offs[i + 1]]) for i in range(nt)]
    pair_hash = np.concatenate(t_sets) if t_sets else np.zeros(0, np.uint64)
    pair_doc = np.repeat(np.arange(nt), [len(s) for s in t_sets])
    order = np.argsort(pair_hash, kind="stable")
    pair_hash, pair_doc = pair_hash[order], pair_doc[order]
    table = _table(np.unique(pair_hash))
    found: dict[int, int] = {}  # raw sample index -> target index

    def screen(lo: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """A chunk's shingles and its candidates (the kernels release the GIL)."""
        hashes, offs = _shingles_kernel(*string_buffers(sample[lo : lo + step]), ngram)
        hits = _hits(hashes, offs, table)
        sizes = np.diff(offs)
        return lo, hashes, offs, np.flatnonzero((sizes > 0) & (hits >= SCREEN_SHARE * sizes))

    from thresher.engine.local import driver_threads

    # The driver runs this while the workers wait: chunks on one thread per core, the
    # candidates verified in chunk order (the same result as one thread).
    step, threads = 4096, driver_threads()
    starts = list(range(0, ns, step))
    with ThreadPoolExecutor(threads) as pool:
        for at in range(0, len(starts), threads):  # a bounded number of chunks in memory
            for lo, hashes, offs, candidates in pool.map(screen, starts[at : at + threads]):
                found.update(_verify(candidates, lo, hashes, offs, pair_hash, pair_doc, t_sets))
    hit = np.array(sorted(found), dtype=np.int64)

    out["copies"] = len(hit)
    out["target_docs_copied"] = len(set(found.values()))
    tw = target_where or [f"target doc {i + 1}" for i in range(nt)]
    sw = sample_where or [f"sample doc {i + 1}" for i in range(ns)]
    out["examples"] = [
        {"raw": sw[j], "target": tw[found[j]], "text": _snippet(sample[int(j)].as_py())}
        for j in hit[:EXAMPLES].tolist()
    ]
    return out


def _verify(
    candidates: np.ndarray,
    lo: int,
    hashes: np.ndarray,
    offs: np.ndarray,
    pair_hash: np.ndarray,
    pair_doc: np.ndarray,
    t_sets: list[np.ndarray],
) -> dict[int, int]:
    """Exact Jaccard of each screened candidate (chunk row ``i``, sample row ``lo + i``)
    against the three target documents it shares the most shingles with."""
    found: dict[int, int] = {}
    nt = len(t_sets)
    for i in candidates:
        mine = np.unique(hashes[offs[i] : offs[i + 1]])
        left = np.searchsorted(pair_hash, mine, "left")
        cnt = np.searchsorted(pair_hash, mine, "right") - left
        at = np.repeat(left - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        shared = np.bincount(pair_doc[at], minlength=nt)  # shingles shared per target doc
        for t in np.argsort(-shared, kind="stable")[:3]:
            inter = int(shared[t])
            if inter and inter / (len(mine) + len(t_sets[t]) - inter) >= COPY_JACCARD:
                found[lo + int(i)] = int(t)
                break
    return found


def _snippet(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"
