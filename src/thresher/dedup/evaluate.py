"""Inject known duplicates into real text and score a deduplication against them.

Used by the tests and by ``bench/dedup_vs_datatrove.py``.  Edits are word-level on the
whitespace tokens of a real document:

* ``exact``: a copy, with changed case/spacing only half the time (still an exact dup
  after :func:`thresher.dedup.normalize`);
* ``edit05`` / ``edit10`` / ``edit20``: that fraction of the words edited, each edit a
  random substitution (by a word drawn from the corpus), deletion or insertion;
* ``reorder``: the paragraphs (blank-line separated) shuffled into a different order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "KINDS",
    "LEVELS",
    "add_boilerplate",
    "edit_level_copy",
    "reflow",
    "Injected",
    "drop_near_duplicates",
    "edit_words",
    "inject",
    "reorder_paragraphs",
    "score",
]

KINDS = ("exact", "edit05", "edit10", "edit20", "reorder")
_EDIT_FRAC = {"edit05": 0.05, "edit10": 0.10, "edit20": 0.20}
_PARA = re.compile(r"\n[ \t]*\n")


def edit_words(text: str, frac: float, rng: np.random.Generator, vocab: list[str]) -> str:
    """Edit ``round(frac * words)`` (at least 1) random words: substitute, delete or insert."""
    parts = re.split(r"(\s+)", text)
    words = [i for i in range(0, len(parts), 2) if parts[i]]
    if not words:
        return text
    k = max(1, round(frac * len(words)))
    for i in rng.choice(words, size=min(k, len(words)), replace=False):
        op = rng.integers(3)
        w = vocab[rng.integers(len(vocab))]
        if op == 0:
            parts[i] = w
        elif op == 1:
            parts[i] = ""
        else:
            parts[i] = f"{parts[i]} {w}"
    return "".join(parts)


def paragraphs(text: str) -> list[str]:
    return [p for p in _PARA.split(text) if p.strip()]


def reorder_paragraphs(text: str, rng: np.random.Generator) -> str | None:
    """The paragraphs in a different order, or None if the text has fewer than 3."""
    paras = paragraphs(text)
    if len(paras) < 3:
        return None
    for _ in range(10):
        perm = rng.permutation(len(paras))
        if np.any(perm != np.arange(len(paras))):
            break
    return "\n\n".join(paras[i] for i in perm)


@dataclass
class Injected:
    """A corpus with injected duplicates.

    ``texts[i]`` is an original when ``source[i] == -1`` (``kind[i] == "original"``), else
    a ``kind[i]`` duplicate of ``texts[source[i]]``.  ``family[i]`` is the index of the
    original the row derives from (itself for originals).
    """

    texts: list[str]
    source: np.ndarray
    kind: np.ndarray
    family: np.ndarray


def inject(
    originals: list[str],
    per_kind: int,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
    shuffle: bool = True,
) -> Injected:
    """Add ``per_kind`` duplicates of each kind, each from a distinct random original.

    With ``shuffle`` the rows are put in a random order (so a copy can come before its
    original), else the originals come first.
    """
    rng = np.random.default_rng(seed)
    vocab = sorted({w for t in originals[:2000] for w in t.split() if w.isalpha()})[:50000]
    vocab = vocab or ["word"]
    texts = list(originals)
    source = [-1] * len(texts)
    kind = ["original"] * len(texts)
    multi_para = [i for i, t in enumerate(originals) if len(paragraphs(t)) >= 3]
    for kd in kinds:
        pool = multi_para if kd == "reorder" else range(len(originals))
        picks = rng.choice(np.asarray(pool), size=min(per_kind, len(pool)), replace=False)
        for i in picks:
            t = originals[i]
            if kd == "exact":
                new = t.upper() if rng.integers(2) else "  " + t.replace(" ", "  ") + "\n"
            elif kd == "reorder":
                new = reorder_paragraphs(t, rng)
            else:
                new = edit_words(t, _EDIT_FRAC[kd], rng, vocab)
            if new is None or new == t and kd != "exact":
                continue
            texts.append(new)
            source.append(int(i))
            kind.append(kd)
    src = np.asarray(source, dtype=np.int64)
    knd = np.asarray(kind, dtype=object)
    order = rng.permutation(len(texts)) if shuffle else np.arange(len(texts))
    # remap indices to the new order
    new_pos = np.empty(len(texts), dtype=np.int64)
    new_pos[order] = np.arange(len(texts))
    src = src[order]
    src = np.where(src >= 0, new_pos[np.maximum(src, 0)], -1)
    family = np.where(src >= 0, src, np.arange(len(texts)))
    return Injected([texts[i] for i in order], src, knd[order], family)


def score(inj: Injected, cluster_id: np.ndarray, is_dup: np.ndarray | None = None) -> dict:
    """Precision/recall of a clustering against the injected truth.

    ``cluster_id[i]``: any label, equal within a cluster (docs not in any cluster may
    have their own label).  ``is_dup[i]``: the row was dropped (default: it is not the
    smallest index of its cluster).

    * recall per kind: the fraction of duplicates of that kind in their original's cluster;
    * precision per kind: of the duplicates of that kind that were dropped, the fraction
      whose cluster holds another member of their family (a drop for a good reason);
      ``all``: the same over every dropped row, originals included;
    * ``lost_families``: families (an original and its copies) of which no row survives;
    * ``false_merges``: rows dropped although no other member of their family is in
      their cluster (= dropped for an unrelated document).
    """
    cluster_id = np.asarray(cluster_id)
    n = len(cluster_id)
    if is_dup is None:
        _, first = np.unique(cluster_id, return_index=True)
        is_dup = np.ones(n, dtype=bool)
        is_dup[first] = False
    is_dup = np.asarray(is_dup, dtype=bool)
    fam = inj.family
    # does the row's cluster hold another member of its family?
    pair = np.stack([cluster_id.astype(np.int64), fam.astype(np.int64)], axis=1)
    _, inv, counts = np.unique(pair, axis=0, return_inverse=True, return_counts=True)
    has_family = counts[inv.reshape(-1)] > 1
    out: dict = {"n": n, "dropped": int(is_dup.sum())}
    for kd in KINDS:
        m = inj.kind == kd
        if not m.any():
            continue
        linked = cluster_id[m] == cluster_id[inj.source[m]]
        dropped = is_dup & m
        out[kd] = {
            "n": int(m.sum()),
            "recall": float(linked.mean()),
            "precision": float(has_family[dropped].mean()) if dropped.any() else float("nan"),
        }
    out["precision_all"] = float(has_family[is_dup].mean()) if is_dup.any() else float("nan")
    out["false_merges"] = int((is_dup & ~has_family).sum())
    survives = np.zeros(n, dtype=bool)
    np.logical_or.at(survives, fam, ~is_dup)
    fams = np.unique(fam)
    out["lost_families"] = int((~survives[fams]).sum())
    return out


def drop_near_duplicates(
    texts: list[str], max_jaccard: float = 0.3, ngram: int = 5, seed: int = 0
) -> list[str]:
    """``texts`` without the rows whose exact shingle Jaccard with an earlier kept row is
    ``>= max_jaccard``: a base corpus in which every later merge is a false positive.

    Candidates come from a MinHash-LSH tuned for a low threshold (all pairs inside a
    bucket, up to 64 members); each candidate pair is then checked with exact Jaccard.
    """
    from .minhash import MinHashParams, band_keys, jaccard, shingle_hashes, signatures

    p = MinHashParams(threshold=max(0.05, max_jaccard - 0.1), num_perm=128, seed=seed)
    bk = band_keys(signatures(texts, p), p)
    sh = shingle_hashes(texts, ngram)
    pairs: set[tuple[int, int]] = set()
    for b in range(bk.shape[1]):
        order = np.argsort(bk[:, b], kind="stable")
        keys = bk[order, b]
        bounds = np.flatnonzero(np.diff(keys)) + 1
        for run in np.split(order, bounds):
            if len(run) > 1:
                run = np.sort(run)[:64]
                pairs.update((int(x), int(y)) for k, x in enumerate(run) for y in run[k + 1 :])
    dropped = np.zeros(len(texts), dtype=bool)
    for i, j in sorted(pairs):
        if not dropped[i] and not dropped[j] and jaccard(sh[i], sh[j]) >= max_jaccard:
            dropped[j] = True
    return [t for t, d in zip(texts, dropped, strict=True) if not d]


# --------------------------------------------------------------------------- edit levels

#: The copy kinds of :func:`edit_level_copy` in the order the README reports them.
LEVELS = ("exact", "reflow", "boilerplate", "edit02", "edit05", "edit10")
_LEVEL_FRAC = {"edit02": 0.02, "edit05": 0.05, "edit10": 0.10}

# Typical web page chrome (about 14 words above, 19 below): the kind of header and footer
# that a crawler keeps around a copied article.
_HEADERS = (
    "Skip to main content | Home | Docs | Blog | Forum | Contact | Sign in | Register",
    "Menu Search this site Home > Documentation > Articles > Current page",
    "Posted by admin on March 3, 2021 in Uncategorized | 4 comments | Print this page",
)
_FOOTERS = (
    "Share this: Twitter Facebook LinkedIn Email. Copyright 2023 Example Media Ltd. "
    "All rights reserved. Privacy policy | Terms of use | Cookies",
    "Was this page helpful? Yes No. Last updated: 12 January 2024. Powered by WordPress. "
    "Back to top. Subscribe to our newsletter",
    "Related posts: Getting started, Installation guide, FAQ. Leave a reply. Your email "
    "address will not be published. Required fields are marked",
)


def reflow(text: str, rng: np.random.Generator) -> str:
    """The same words with the whitespace redone: lines re-wrapped at a random width
    (40..100 characters), some double spaces and tabs, paragraphs kept."""
    width = int(rng.integers(40, 101))
    out_paras = []
    for para in paragraphs(text):
        lines, cur = [], ""
        for w in para.split():
            sep = "  " if rng.random() < 0.05 else ("\t" if rng.random() < 0.01 else " ")
            if cur and len(cur) + 1 + len(w) > width:
                lines.append(cur)
                cur = w
            else:
                cur = f"{cur}{sep}{w}" if cur else w
        if cur:
            lines.append(cur)
        out_paras.append("\n".join(lines))
    return "\n\n".join(out_paras)


def add_boilerplate(text: str, rng: np.random.Generator) -> str:
    """``text`` between a web page header and footer (about 33 words together)."""
    head = _HEADERS[int(rng.integers(len(_HEADERS)))]
    foot = _FOOTERS[int(rng.integers(len(_FOOTERS)))]
    return f"{head}\n\n{text}\n\n{foot}"


def edit_level_copy(text: str, level: str, rng: np.random.Generator, vocab: list[str]) -> str:
    """A copy of ``text`` at one of :data:`LEVELS` (``edit02`` = 2% of the words edited)."""
    if level == "exact":
        return text
    if level == "reflow":
        return reflow(text, rng)
    if level == "boilerplate":
        return add_boilerplate(text, rng)
    return edit_words(text, _LEVEL_FRAC[level], rng, vocab)
