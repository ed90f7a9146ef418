"""Deduplication: exact (normalized-text hashes) and near-duplicate (MinHash-LSH).

Two phases, map/reduce over shards:

* map, per shard: :func:`exact_hashes` and :func:`signatures` -> :func:`band_keys`, then
  :meth:`BandSpill.add` with caller-assigned global ``doc_key`` values;
* reduce, once: :meth:`BandSpill.clusters` -> ``(doc_keys, cluster_id)``; a document is a
  duplicate iff ``cluster_id != doc_key`` (the survivor is the cluster's smallest key).

:func:`dedup_texts` does both in memory for small inputs.
"""

from .exact import exact_hashes, normalize
from .lsh import BandSpill, clusters_in_memory, combine_clusters, dedup_texts
from .minhash import (
    MinHashParams,
    band_keys,
    estimate_jaccard,
    jaccard,
    optimal_param,
    shingle_hashes,
    signatures,
)

__all__ = [
    "BandSpill",
    "MinHashParams",
    "band_keys",
    "clusters_in_memory",
    "combine_clusters",
    "dedup_texts",
    "estimate_jaccard",
    "exact_hashes",
    "jaccard",
    "normalize",
    "optimal_param",
    "shingle_hashes",
    "signatures",
]
