"""The default near-duplicate settings on real text: edited copies caught, distinct docs kept.

Copies of real documents of the shipped sample (``data/sample/raw.jsonl.gz``) at the edit
levels of ``bench/dedup_edits.py``: exact, re-flowed, a web header and footer added, 2% and
5% of the words edited.  ``thresher dedup`` at its defaults (word 3-grams, Jaccard 0.6,
signature-verified) must put >= 98% of them in their original's cluster, and must not merge
two sample documents whose own word-3-gram Jaccard is below 0.5 (translations, sibling man
pages: distinct documents).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

import thresher
from thresher.dedup import MinHashParams, dedup_texts, jaccard, shingle_hashes
from thresher.dedup.evaluate import edit_level_copy

CAUGHT = ("exact", "reflow", "boilerplate", "edit02", "edit05")


def _copies(texts: list[str], per_level: int, seed: int = 0):
    """(originals' indices, copies, levels): each original is used by one level only."""
    rng = np.random.default_rng(seed)
    vocab = sorted({w for t in texts[::5] for w in t.split() if w.isalpha()})
    eligible = [i for i, t in enumerate(texts) if len(t.split()) >= 100]
    picks = rng.choice(eligible, size=per_level * len(CAUGHT), replace=False)
    levels = [lv for lv in CAUGHT for _ in range(per_level)]
    copies = [
        edit_level_copy(texts[i], lv, rng, vocab) for i, lv in zip(picks, levels, strict=True)
    ]
    return picks, copies, np.asarray(levels)


def test_defaults_catch_edited_copies_and_keep_distinct_docs(raw_records):
    texts = [r["text"] for r in raw_records]
    picks, copies, levels = _copies(texts, per_level=60)
    p = MinHashParams()
    assert (p.ngram, p.threshold, p.verify, p.bands, p.rows) == (3, 0.6, True, 25, 5)
    _, cid = dedup_texts(pa.array(texts + copies), p)
    n = len(texts)
    caught = cid[n:] == cid[picks]
    for lv in CAUGHT:
        assert caught[levels == lv].mean() >= 0.98, lv
    # no two sample documents with word-3-gram Jaccard < 0.5 end up in one cluster
    sh = shingle_hashes(texts, 3)
    base = cid[:n]
    for c in np.unique(base[np.flatnonzero(base != np.arange(n))]):
        members = np.flatnonzero(base == c)
        for a in members:
            best = max(jaccard(sh[a], sh[b]) for b in members if b != a)
            assert best >= 0.5, (raw_records[a]["id"], [raw_records[b]["id"] for b in members])


def test_thresher_dedup_default_drops_edited_copies(raw_records, tmp_path):
    """The pipeline (signatures spilled per shard, verified in the reduce) at the defaults."""
    recs = raw_records[:600]
    texts = [r["text"] for r in recs]
    picks, copies, levels = _copies(texts, per_level=8, seed=1)
    raw = tmp_path / "raw.jsonl"
    with open(raw, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
        for k, t in enumerate(copies):
            f.write(json.dumps({"id": f"copy{k}", "text": t}, ensure_ascii=False) + "\n")
    m = thresher.deduplicate([str(raw)], str(tmp_path / "d"), workers=1, report=False)
    assert m["config"]["dedup_threshold"] == 0.6 and m["config"]["dedup_ngram"] == 3
    kept = set(thresher.read_selected(tmp_path / "d").column("id").to_pylist())
    # every copy is dropped and its original kept
    assert not any(f"copy{k}" in kept for k in range(len(copies)))
    assert all(recs[i]["id"] in kept for i in picks)
    # and the in-memory reference agrees on what else was dropped
    is_dup, _ = dedup_texts(pa.array(texts + copies))
    assert m["counts"]["duplicate"] == int(is_dup.sum())
