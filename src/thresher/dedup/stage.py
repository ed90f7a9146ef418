"""Dedup as a pipeline stage: workers spill keys per shard, the driver clusters once.

A document's key is ``shard_index << 32 | position in the shard``: global,
deterministic, and ordered like the input, so the survivor of a cluster (its
smallest key) is the document that comes first in the input, whatever the
engine or worker count. ``minhash`` also runs exact hashing and unions both
clusterings, so exact copies too short for n-gram shingles are caught.

``minhash`` verifies (the default, :class:`MinHashParams`): the workers also spill each
document's signature, and the reduce links an LSH candidate pair only if the signatures
agree on ``>= threshold`` of their values (read through a memory map, i.e. page cache).
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from thresher.dedup.exact import exact_hashes
from thresher.dedup.lsh import BandSpill, union_clusters
from thresher.dedup.minhash import MinHashParams, band_keys, signatures
from thresher.spill import release_freed_memory

PARTITIONS = 16


@dataclass(frozen=True)
class DedupSpec:
    mode: str  # "exact" or "minhash"
    threshold: float = MinHashParams.threshold
    ngram: int = MinHashParams.ngram
    num_perm: int = MinHashParams.num_perm
    verify: bool = MinHashParams.verify

    @property
    def params(self) -> MinHashParams:
        return MinHashParams(
            threshold=self.threshold, ngram=self.ngram, num_perm=self.num_perm, verify=self.verify
        )


def _writer(shard_index: int) -> str:
    return f"shard{shard_index:05d}"


def doc_keys(shard_index: int, positions: np.ndarray) -> np.ndarray:
    return (np.int64(shard_index) << np.int64(32)) | positions.astype(np.int64)


def reset_shard(root: Path, shard_index: int) -> None:
    """Remove a shard's spill files (a resumed shard is spilled again from scratch)."""
    for f in glob.glob(str(root / "*" / f"*.{_writer(shard_index)}.*")):
        os.remove(f)


def spill_batch(
    root: Path, spec: DedupSpec, shard_index: int, positions: np.ndarray, texts: pa.Array
) -> None:
    """Map side: spill the keys of one batch's eligible documents."""
    if len(positions) == 0:
        return
    keys = doc_keys(shard_index, positions)
    with BandSpill(
        root / "exact", bands=1, partitions=PARTITIONS, key_words=2, writer=_writer(shard_index)
    ) as sp:
        sp.add(keys, exact_hashes(texts))
    if spec.mode == "minhash":
        p = spec.params
        with BandSpill(
            root / "minhash", bands=p.bands, partitions=PARTITIONS, writer=_writer(shard_index)
        ) as sp:
            sigs = signatures(texts, p)
            sp.add(keys, band_keys(sigs, p), sigs=sigs if p.verify else None)


def resolve(
    root: Path, spec: DedupSpec, shard_offsets: np.ndarray, n_docs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce side: (is_duplicate, cluster) per global document position.

    ``cluster`` is the global position of the cluster's survivor (-1 for documents that
    were not deduplicated, e.g. filtered out before).  Exact and MinHash links go into one
    union-find (:func:`union_clusters`): besides the two results (9 B per document) the
    reduce holds ~12 B per spilled document, plus one 8 B temporary here.
    """
    dup = np.zeros(n_docs, dtype=bool)
    cluster = np.full(n_docs, -1, dtype=np.int64)
    if not (root / "exact").exists():
        return dup, cluster
    spills: list[tuple[BandSpill, float | None]] = [
        (BandSpill(root / "exact", bands=1, partitions=PARTITIONS, key_words=2), None)
    ]
    if spec.mode == "minhash":
        p = spec.params
        spills.append(
            (
                BandSpill(root / "minhash", bands=p.bands, partitions=PARTITIONS),
                p.threshold if p.verify else None,
            )
        )
    keys, roots, _ = union_clusters(spills)
    # global position = offset of the shard + position in it, computed in place
    shard = keys >> np.int64(32)
    keys &= np.int64(0xFFFFFFFF)
    keys += shard_offsets[shard]
    del shard
    dup[keys] = roots != np.arange(len(roots), dtype=roots.dtype)
    cluster[keys] = keys[roots]
    del keys, roots
    release_freed_memory()
    return dup, cluster
