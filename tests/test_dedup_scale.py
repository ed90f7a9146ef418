"""The dedup reduce at scale: one union-find over the exact and MinHash spills, read in
place, gives the clusters of the in-memory reference, whatever order the workers spilled in."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from thresher.dedup import BandSpill, MinHashParams, combine_clusters, dedup_texts
from thresher.dedup.evaluate import inject
from thresher.dedup.lsh import union_clusters
from thresher.dedup.stage import DedupSpec, resolve, spill_batch

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "raw.jsonl.gz"


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """1,000 real sample documents plus exact, edited and reordered copies of some."""
    with gzip.open(SAMPLE, "rb") as f:
        docs = [json.loads(line)["text"] for line in f.read().splitlines()[:1000]]
    return inject(docs, per_kind=25, seed=3).texts


def test_resolve_matches_in_memory_whatever_the_spill_order(tmp_path, texts):
    n = len(texts)
    arr = pa.array(texts, type=pa.large_string())
    bounds = [0, 300, 301, 700, n]  # four shards, one of a single document
    offsets = np.array(bounds[:-1], dtype=np.int64)
    spec = DedupSpec("minhash")
    # the workers finish shards out of order, and each shard spills in two batches
    for s in (2, 0, 3, 1):
        lo, hi = bounds[s], bounds[s + 1]
        mid = (lo + hi) // 2
        for a, b in ((lo, mid), (mid, hi)):
            pos = np.arange(a - lo, b - lo, dtype=np.int64)
            spill_batch(tmp_path, spec, s, pos, arr.slice(a, b - a))
    dup, cluster = resolve(tmp_path, spec, offsets, n)
    ref_dup, ref_cluster = dedup_texts(texts, MinHashParams())
    assert ref_dup.sum() >= 80  # the injected copies are found, so the test has teeth
    assert (dup == ref_dup).all()
    assert (cluster == ref_cluster).all()


def test_union_of_unordered_spills_equals_combined_clusters(tmp_path, texts):
    """Keys added out of order take the sort path (and the signature row index)."""
    from thresher.dedup import band_keys, exact_hashes, signatures

    p = MinHashParams()
    arr = pa.array(texts, type=pa.large_string())
    n = len(texts)
    keys = np.random.default_rng(1).permutation(n).astype(np.int64) * 3 + 5
    sigs = signatures(arr, p)
    bk, ex = band_keys(sigs, p), exact_hashes(arr)
    for w, idx in enumerate(np.array_split(np.arange(n), 3)):
        with BandSpill(tmp_path / "e", bands=1, partitions=4, key_words=2, writer=f"w{w}") as sp:
            sp.add(keys[idx], ex[idx])
        with BandSpill(tmp_path / "m", bands=p.bands, partitions=4, writer=f"w{w}") as sp:
            sp.add(keys[idx], bk[idx], sigs=sigs[idx])
    e = BandSpill(tmp_path / "e", bands=1, partitions=4, key_words=2)
    m = BandSpill(tmp_path / "m", bands=p.bands, partitions=4, max_records=3000)
    sorted_keys, roots, stats = union_clusters([(e, None), (m, p.threshold)])
    k1, c1 = e.clusters()
    k2, c2 = m.clusters(p.threshold)
    assert (k1 == sorted_keys).all() and (k2 == sorted_keys).all()
    _, ref = combine_clusters(sorted_keys, c1, c2)
    assert (sorted_keys[roots] == ref).all()
    assert stats["records"] == n * (1 + p.bands) and stats["edges"] > 0
    # spills of different documents are refused
    with BandSpill(tmp_path / "m", bands=p.bands, partitions=4, writer="extra") as sp:
        sp.add(np.array([10**9]), bk[:1], sigs=sigs[:1])
    with pytest.raises(RuntimeError, match="disagree"):
        union_clusters([(e, None), (m, p.threshold)])
