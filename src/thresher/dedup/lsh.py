"""The global reduce of deduplication: documents sharing a bucket become one cluster.

Map (per shard, in any worker, in any order)::

    sigs = signatures(texts, params)                  # (n, num_perm) uint64
    spill = BandSpill(dir, bands=params.bands, partitions=64, num_perm=params.num_perm)
    spill.add(doc_keys, band_keys(sigs, params), sigs=sigs if params.verify else None)
    spill.close()

Reduce (once, in one process)::

    keys, cluster = BandSpill(dir, bands=params.bands, partitions=64).clusters(
        threshold=params.threshold if params.verify else None)
    duplicate = cluster != keys     # the survivor of a cluster is its smallest doc_key

Exact dedup is the same with one "band" of 128-bit keys::

    spill = BandSpill(dir2, bands=1, key_words=2); spill.add(doc_keys, exact_hashes(texts))

``doc_key`` is a global, deterministic ``int64`` chosen by the caller (e.g. a running row
number over the sorted input files).  Cluster ids and survivors depend only on the set of
``(doc_key, band, key)`` records, never on the order of ``add`` calls, the number of
writers or of partitions.

Files
    ``dir/meta.json``                                    bands, partitions, key_words
    ``dir/docs.<writer>.bin``                            doc keys, int64, in add order
    ``dir/sigs.<writer>.bin``                            signatures (optional), same order
    ``dir/part-<p>.<writer>.bin``                        records ``[band, key..., doc]`` uint64
Each ``BandSpill`` instance writes only its own ``<writer>`` files, so many processes may
add to one directory at once (give each a distinct ``writer`` name, or let it default to
pid + random suffix).  A bucket ``(band, key)`` goes to partition ``key[0] % partitions``.

Memory model of :meth:`BandSpill.clusters` and :func:`union_clusters`
    * over all documents: the sorted doc keys (8 B/doc) and the union-find parent array
      (4 B/doc below 2^31 documents, else 8), read straight into place.  Keys added in
      ascending order (the pipeline's: one writer per shard, named in shard order) need
      no sort and no signature row index; otherwise +8 B/doc transiently for the sort
      and 8 B/doc for the row index when verifying.  :func:`union_clusters` links several
      spills of the same documents (exact and MinHash) into that one parent array.
    * one partition at a time: its records (``(2 + key_words) * 8`` B each, ``bands``
      records per document) and a sort permutation (8 B/record).  A partition of more
      than ``max_records`` records (default 500k, ~12 MB) is split into sub-partitions on
      disk first, so this term does not grow with the corpus.
    * verification reads signature rows through a memory map (page cache, not heap).
"""

from __future__ import annotations

import glob
import json
import os
import uuid
from collections.abc import Sequence

import numba as nb
import numpy as np
import pyarrow as pa

from thresher.spill import release_freed_memory

__all__ = [
    "BandSpill",
    "clusters_in_memory",
    "combine_clusters",
    "dedup_texts",
    "union_clusters",
]


#: records read at a time when a large partition is split (see BandSpill._partition_chunks)
SPLIT_CHUNK = 1 << 18

# --------------------------------------------------------------------------- kernels


@nb.njit(inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@nb.njit(inline="always")
def _union(parent, x, y):
    rx = _find(parent, x)
    ry = _find(parent, y)
    # the root is the smallest dense index, i.e. the smallest doc key: order independent
    if rx < ry:
        parent[ry] = rx
    elif ry < rx:
        parent[rx] = ry


@nb.njit(inline="always")
def _agree(sigs, ra, rb, need):
    m = sigs.shape[1]
    eq = 0
    for k in range(m):
        if sigs[ra, k] == sigs[rb, k]:
            eq += 1
    return eq >= need


@nb.njit(inline="always")
def _row(sig_row, i):
    # an empty row index means signature row i belongs to dense document i
    return i if sig_row.shape[0] == 0 else sig_row[i]


@nb.njit(cache=True, nogil=True)
def _link_runs(parent, rec, dense, verify, sigs, sig_row, need):
    """Union the documents of each run of equal ``rec[:, :-1]`` rows (rec sorted).

    Without verification every member joins the run's first (smallest) document.  With
    it, a member joins the first document if their signatures agree on ``>= need``
    values, else its predecessor in the run if they agree.  Returns (#edges, #rejected).
    """
    n, w = rec.shape
    edges = 0
    rejected = 0
    first = 0
    for j in range(1, n):
        same = True
        for c in range(w - 1):
            if rec[j, c] != rec[j - 1, c]:
                same = False
                break
        if not same:
            first = j
            continue
        a = dense[first]
        b = dense[j]
        if a == b:
            continue
        if not verify or _agree(sigs, _row(sig_row, a), _row(sig_row, b), need):
            _union(parent, a, b)
            edges += 1
        else:
            p = dense[j - 1]
            if p != a and p != b and _agree(sigs, _row(sig_row, p), _row(sig_row, b), need):
                _union(parent, p, b)
                edges += 1
            else:
                rejected += 1
    return edges, rejected


@nb.njit(cache=True, nogil=True)
def _roots(parent):
    out = np.empty(parent.shape[0], dtype=np.int64)
    for i in range(parent.shape[0]):
        out[i] = _find(parent, i)
    return out


@nb.njit(cache=True, nogil=True)
def _flatten(parent):
    """Every entry its root, in place: a root is its set's smallest index, so parent[i] <= i
    and one ascending pass finds parent[parent[i]] already flattened."""
    for i in range(parent.shape[0]):
        parent[i] = parent[parent[i]]


@nb.njit(cache=True, nogil=True)
def _union_pairs(parent, a, b):
    for i in range(a.shape[0]):
        _union(parent, a[i], b[i])


# --------------------------------------------------------------------------- helpers


def _records(doc_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``(n*bands, 2 + key_words)`` uint64 records ``[band, key..., doc]``."""
    n, bands, kw = keys.shape
    rec = np.empty((n, bands, kw + 2), dtype=np.uint64)
    rec[:, :, 0] = np.arange(bands, dtype=np.uint64)[None, :]
    rec[:, :, 1 : 1 + kw] = keys
    rec[:, :, -1] = doc_keys.view(np.uint64)[:, None]
    return rec.reshape(n * bands, kw + 2)


def _sort_records(rec: np.ndarray) -> np.ndarray:
    order = np.lexsort(tuple(rec[:, c] for c in range(rec.shape[1] - 1, -1, -1)))
    return rec[order]


def _check_keys(doc_keys: np.ndarray, keys: np.ndarray, bands: int, key_words: int):
    doc_keys = np.ascontiguousarray(doc_keys, dtype=np.int64)
    keys = np.asarray(keys)
    if keys.dtype.kind not in "iu":
        raise TypeError(f"band keys must be integers, got {keys.dtype}")
    if keys.dtype.kind == "i":
        keys = keys.astype(np.int64).view(np.uint64)
    keys = keys.astype(np.uint64, copy=False)
    n = doc_keys.shape[0]
    if keys.ndim == 1 and bands == 1 and key_words == 1:
        keys = keys[:, None]
    if keys.ndim == 2 and key_words > 1 and keys.shape[1] == bands * key_words:
        keys = keys.reshape(n, bands, key_words)
    if keys.ndim == 2:
        keys = keys[:, :, None]
    if keys.shape != (n, bands, key_words):
        raise ValueError(
            f"band keys of shape {keys.shape} do not match {n} docs x {bands} bands"
            f" x {key_words} key words"
        )
    return doc_keys, np.ascontiguousarray(keys)


def _dense_clusters(sorted_keys: np.ndarray, parent: np.ndarray) -> np.ndarray:
    return sorted_keys[_roots(parent)]


# --------------------------------------------------------------------------- in memory


def clusters_in_memory(
    doc_keys: np.ndarray,
    band_keys: np.ndarray,
    sigs: np.ndarray | None = None,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Same result as :class:`BandSpill` for data that fits in memory.

    ``band_keys``: ``(n, bands)`` uint64, or ``(n, bands, key_words)``.  Returns
    ``(doc_keys sorted ascending, cluster_id)`` where ``cluster_id`` is the smallest doc
    key of the document's cluster.  With ``sigs`` and ``threshold``, candidate pairs are
    kept only if their signatures agree on ``>= threshold`` of the values.
    """
    band_keys = np.asarray(band_keys)
    if band_keys.ndim == 1:
        band_keys = band_keys[:, None]
    bands = band_keys.shape[1]
    kw = band_keys.shape[2] if band_keys.ndim == 3 else 1
    doc_keys, keys = _check_keys(doc_keys, band_keys, bands, kw)
    order = np.argsort(doc_keys, kind="stable")
    sorted_keys = doc_keys[order]
    if len(sorted_keys) > 1 and np.any(sorted_keys[1:] == sorted_keys[:-1]):
        raise ValueError("duplicate doc_key")
    parent = np.arange(len(sorted_keys), dtype=np.int64)
    rec = _sort_records(_records(doc_keys, keys))
    dense = np.searchsorted(sorted_keys, rec[:, -1].view(np.int64))
    verify = sigs is not None and threshold is not None
    if verify:
        sigs = np.ascontiguousarray(sigs, dtype=np.uint64)
        sig_row = order.astype(np.int64)  # dense i -> row order[i] of sigs
        need = int(np.ceil(threshold * sigs.shape[1] - 1e-9))
    else:
        sigs = np.zeros((1, 1), dtype=np.uint64)
        sig_row = np.zeros(1, dtype=np.int64)
        need = 0
    _link_runs(parent, rec, dense, verify, sigs, sig_row, need)
    return sorted_keys, _dense_clusters(sorted_keys, parent)


def combine_clusters(
    doc_keys: np.ndarray, *cluster_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Union several clusterings of the same doc keys (e.g. exact and MinHash).

    Each ``cluster_ids[k][i]`` must be a doc key (the cluster's representative).
    Returns ``(doc_keys sorted, cluster_id)`` with ``cluster_id`` = smallest key.
    """
    doc_keys = np.asarray(doc_keys, dtype=np.int64)
    order = np.argsort(doc_keys, kind="stable")
    sorted_keys = doc_keys[order]
    parent = np.arange(len(sorted_keys), dtype=np.int64)
    for cid in cluster_ids:
        cid = np.asarray(cid, dtype=np.int64)[order]
        rep = np.searchsorted(sorted_keys, cid)
        if np.any(rep >= len(sorted_keys)) or np.any(sorted_keys[rep] != cid):
            raise ValueError("a cluster id is not one of the doc keys")
        _union_pairs(parent, np.arange(len(sorted_keys), dtype=np.int64), rep)
    return sorted_keys, _dense_clusters(sorted_keys, parent)


# --------------------------------------------------------------------------- on disk


class BandSpill:
    """Append ``(doc_key, band keys)`` of many shards to disk; cluster them partition-wise.

    ``BandSpill(dir, bands, partitions=P, key_words=1, writer=None)``; see the module
    docstring for the file layout and the memory model.  Usable as a context manager
    (closes its files).  Not thread-safe; use one instance per process / writer.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        bands: int,
        partitions: int = 16,
        key_words: int = 1,
        writer: str | None = None,
        max_records: int = 500_000,
    ) -> None:
        if bands < 1 or partitions < 1 or key_words < 1:
            raise ValueError("bands, partitions and key_words must be >= 1")
        self.dir = os.fspath(directory)
        self.bands = bands
        self.partitions = partitions
        self.max_records = max(1, max_records)  # per reduce step (see _partition_chunks)
        self.key_words = key_words
        self.writer = writer or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        if "." in self.writer or os.sep in self.writer:
            raise ValueError(f"writer name must not contain '.' or '{os.sep}'")
        os.makedirs(self.dir, exist_ok=True)
        meta = {"bands": bands, "partitions": partitions, "key_words": key_words}
        meta_path = os.path.join(self.dir, "meta.json")
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                old = json.load(f)
            if {k: old.get(k) for k in meta} != meta:
                raise ValueError(f"{meta_path} has {old}, this spill was opened with {meta}")
        else:
            tmp = f"{meta_path}.{self.writer}.tmp"
            with open(tmp, "w") as f:
                json.dump(meta, f)
            os.replace(tmp, meta_path)
        self._files: dict[str, object] = {}
        self._num_perm: int | None = None

    # -- map side -------------------------------------------------------------------

    def _file(self, name: str):
        f = self._files.get(name)
        if f is None:
            f = open(os.path.join(self.dir, f"{name}.{self.writer}.bin"), "ab")  # noqa: SIM115
            self._files[name] = f
        return f

    def add(
        self, doc_keys: np.ndarray, band_keys: np.ndarray, sigs: np.ndarray | None = None
    ) -> None:
        """Append one batch.  ``band_keys``: ``(n, bands)`` uint64 (or ``(n, bands,
        key_words)``, or ``(n, bands*key_words)``).  ``sigs`` (``(n, num_perm)`` uint64)
        are stored for verification in :meth:`clusters`; give them on every call or never.
        """
        doc_keys, keys = _check_keys(doc_keys, band_keys, self.bands, self.key_words)
        n = len(doc_keys)
        if n == 0:
            return
        if sigs is not None:
            sigs = np.ascontiguousarray(sigs, dtype=np.uint64)
            if sigs.ndim != 2 or sigs.shape[0] != n:
                raise ValueError(f"sigs of shape {sigs.shape} for {n} docs")
            if self._num_perm not in (None, sigs.shape[1]):
                raise ValueError("signature width changed between add() calls")
            self._num_perm = sigs.shape[1]
            self._write_sig_meta(sigs.shape[1])
        rec = _records(doc_keys, keys)
        part = rec[:, 1] % np.uint64(self.partitions)
        order = np.argsort(part, kind="stable")
        counts = np.bincount(part.astype(np.int64), minlength=self.partitions)
        rec = rec[order]
        pos = 0
        for p in range(self.partitions):
            c = int(counts[p])
            if c:
                rec[pos : pos + c].tofile(self._file(f"part-{p:05d}"))
                pos += c
        doc_keys.tofile(self._file("docs"))
        if sigs is not None:
            sigs.tofile(self._file("sigs"))

    def _write_sig_meta(self, num_perm: int) -> None:
        path = os.path.join(self.dir, f"sigs.{self.writer}.json")
        if not os.path.exists(path):
            with open(path, "w") as f:
                json.dump({"num_perm": num_perm}, f)

    def close(self) -> None:
        for f in self._files.values():
            f.close()  # type: ignore[attr-defined]
        self._files.clear()

    def __enter__(self) -> BandSpill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:  # picklable: ship to workers, files reopen lazily
        state = dict(self.__dict__)
        state["_files"] = {}
        return state

    # -- reduce side ----------------------------------------------------------------

    def _writers(self, kind: str) -> list[str]:
        return sorted(glob.glob(os.path.join(self.dir, f"{kind}.*.bin")))

    def clusters(
        self, threshold: float | None = None, return_stats: bool = False
    ) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, dict]:
        """``(doc_keys sorted ascending, cluster_id)``; cluster_id = smallest key.

        With ``threshold`` (and signatures added), a candidate pair is linked only if
        its signatures agree on ``>= threshold`` of their values.  Reads every writer's
        files in the directory.
        """
        sorted_keys, roots, stats = union_clusters([(self, threshold)])
        cid = sorted_keys[roots]
        if return_stats:
            stats["duplicates"] = int(np.count_nonzero(cid != sorted_keys))
            return sorted_keys, cid, stats
        return sorted_keys, cid

    def doc_keys(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(doc keys sorted ascending, order)``: ``order[i]`` is the add-order row of
        sorted key ``i``, or None when the keys were added in ascending order (then no
        sort and no copy: the files are read straight into one array)."""
        self.close()
        files = self._writers("docs")
        keys = np.empty(sum(os.path.getsize(f) for f in files) // 8, dtype=np.int64)
        pos = 0
        for f in files:
            with open(f, "rb") as fh:
                n = os.path.getsize(f) // 8
                fh.readinto(memoryview(keys[pos : pos + n]).cast("B"))
                pos += n
        if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
            return keys, None
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if np.any(keys[1:] == keys[:-1]):
            dup = keys[1:][keys[1:] == keys[:-1]][0]
            raise ValueError(f"doc_key {dup} was added more than once")
        return keys, order

    def link(
        self,
        parent: np.ndarray,
        sorted_keys: np.ndarray,
        order: np.ndarray | None,
        threshold: float | None = None,
    ) -> dict:
        """Union, in ``parent`` (dense indices into ``sorted_keys``), the documents that
        share a bucket (and, with ``threshold``, whose signatures agree); return counts."""
        self.close()
        verify = threshold is not None
        if verify:
            sigs, sig_row = self._signatures(self._writers("docs"), order, len(sorted_keys))
            need = int(np.ceil(threshold * sigs.shape[1] - 1e-9))
        else:
            sigs = np.zeros((1, 1), dtype=np.uint64)
            sig_row = np.zeros(0, dtype=np.int64)
            need = 0
        width = self.key_words + 2
        stats = {"docs": len(sorted_keys), "records": 0, "edges": 0, "rejected": 0}
        for rec in self._partition_chunks(width):
            rec = _sort_records(rec)
            dense = np.searchsorted(sorted_keys, rec[:, -1].view(np.int64))
            e, r = _link_runs(parent, rec, dense, verify, sigs, sig_row, need)
            stats["records"] += len(rec)
            stats["edges"] += int(e)
            stats["rejected"] += int(r)
            del rec, dense
            release_freed_memory()
        if verify:
            del sigs
            tmp = os.path.join(self.dir, "all-sigs.tmp")
            if os.path.exists(tmp):  # our own concatenation (see _signatures)
                os.remove(tmp)
        return stats

    def _partition_chunks(self, width: int):
        """Each partition's records, ``(m, width)`` uint64, at most ~``max_records`` at a time.

        A larger partition is first split on other bits of the bucket key (``key //
        partitions``) into sub-partition files, streamed in ``SPLIT_CHUNK`` records, so
        equal buckets stay together and the reduce's memory stays bounded whatever the
        corpus size; the clusters are the same as without the split.
        """
        for p in range(self.partitions):
            files = self._writers(f"part-{p:05d}")
            if not files:
                continue
            total = sum(os.path.getsize(f) for f in files) // (8 * width)
            if total <= self.max_records:
                yield np.concatenate([np.fromfile(f, dtype=np.uint64) for f in files]).reshape(
                    -1, width
                )
                continue
            n_sub = -(-total // self.max_records)
            tmp = [os.path.join(self.dir, f"split-{p:05d}-{k:05d}.tmp") for k in range(n_sub)]
            outs = [open(t, "wb") for t in tmp]  # noqa: SIM115
            try:
                for f in files:
                    with open(f, "rb") as src:
                        while True:
                            chunk = np.fromfile(src, dtype=np.uint64, count=SPLIT_CHUNK * width)
                            if chunk.size == 0:
                                break
                            rec = chunk.reshape(-1, width)
                            sub = (rec[:, 1] // np.uint64(self.partitions)) % np.uint64(n_sub)
                            order = np.argsort(sub, kind="stable")
                            counts = np.bincount(sub.astype(np.int64), minlength=n_sub)
                            rec = rec[order]
                            pos = 0
                            for k in range(n_sub):
                                c = int(counts[k])
                                if c:
                                    rec[pos : pos + c].tofile(outs[k])
                                    pos += c
            finally:
                for o in outs:
                    o.close()
            for t in tmp:
                rec = np.fromfile(t, dtype=np.uint64).reshape(-1, width)
                os.remove(t)
                yield rec

    def _signatures(self, doc_files: list[str], order: np.ndarray | None, n_docs: int):
        sig_files = [f.replace(os.sep + "docs.", os.sep + "sigs.") for f in doc_files]
        missing = [f for f in sig_files if not os.path.exists(f)]
        if missing:
            raise ValueError(f"verification needs signatures; none were added for {missing}")
        metas = {f: f[: -len(".bin")] + ".json" for f in sig_files}
        widths = set()
        for m in metas.values():
            with open(m) as fh:
                widths.add(json.load(fh)["num_perm"])
        if len(widths) != 1:
            raise ValueError(f"writers used different signature widths: {widths}")
        num_perm = widths.pop()
        if len(sig_files) == 1:
            sigs = np.memmap(sig_files[0], dtype=np.uint64, mode="r").reshape(-1, num_perm)
        else:  # one file so that the kernel can index rows globally
            path = os.path.join(self.dir, "all-sigs.tmp")
            with open(path, "wb") as out:
                for f in sig_files:
                    with open(f, "rb") as src:
                        while chunk := src.read(1 << 24):
                            out.write(chunk)
            sigs = np.memmap(path, dtype=np.uint64, mode="r").reshape(-1, num_perm)
        if sigs.shape[0] != n_docs:
            raise ValueError("signature rows and doc keys differ in number")
        # dense i -> global row order[i]; empty: row i (keys added in ascending order)
        sig_row = np.zeros(0, np.int64) if order is None else np.asarray(order, dtype=np.int64)
        return sigs, sig_row


def _same_docs(a: BandSpill, b: BandSpill) -> bool:
    """Whether two spills hold the same doc keys in the same files and order (compared in
    chunks: no per-document memory)."""
    fa, fb = a._writers("docs"), b._writers("docs")
    if [os.path.basename(f) for f in fa] != [os.path.basename(f) for f in fb]:
        return False
    for x, y in zip(fa, fb, strict=True):
        if os.path.getsize(x) != os.path.getsize(y):
            return False
        with open(x, "rb") as hx, open(y, "rb") as hy:
            while chunk := hx.read(1 << 22):
                if chunk != hy.read(len(chunk)):
                    return False
    return True


def union_clusters(
    spills: Sequence[tuple[BandSpill, float | None]],
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Clusters of the union of several spills' links: ``(doc keys sorted ascending,
    root, stats)``, ``root[i]`` the index in the keys of document i's cluster survivor
    (its smallest key).

    The spills (e.g. exact and MinHash of the same documents, each with its verification
    threshold or None) must hold the same doc keys, added in the same order.  One parent
    array serves them all, so the result equals :func:`combine_clusters` of each spill's
    :meth:`BandSpill.clusters` (links do not depend on the union-find state) at 12 B per
    document instead of ~100.
    """
    first = spills[0][0]
    for other, _ in spills[1:]:
        if not _same_docs(first, other):
            raise RuntimeError("dedup spills disagree on the documents they hold")
    sorted_keys, order = first.doc_keys()
    n = len(sorted_keys)
    parent = np.arange(n, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    stats = {"docs": n, "records": 0, "edges": 0, "rejected": 0}
    for spill, threshold in spills:
        for k, v in spill.link(parent, sorted_keys, order, threshold).items():
            if k != "docs":
                stats[k] += v
    del order
    _flatten(parent)
    return sorted_keys, parent, stats


# --------------------------------------------------------------------------- high level


def dedup_texts(
    texts: pa.Array | pa.ChunkedArray | Sequence[str],
    params=None,
    exact: bool = True,
    minhash: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """In-memory exact + MinHash dedup of a small corpus (tests, notebooks).

    Returns ``(is_duplicate bool (n,), cluster_id int64 (n,))`` in input order; the doc
    key of row ``i`` is ``i``, so the survivor of each cluster is its first row.
    """
    from .exact import exact_hashes
    from .minhash import MinHashParams, band_keys, signatures

    params = params or MinHashParams()
    n = len(texts)
    keys = np.arange(n, dtype=np.int64)
    cids = []
    if exact:
        cids.append(clusters_in_memory(keys, exact_hashes(texts)[:, None, :])[1])
    if minhash:
        sigs = signatures(texts, params)
        bk = band_keys(sigs, params)
        thr = params.threshold if params.verify else None
        cids.append(clusters_in_memory(keys, bk, sigs=sigs, threshold=thr)[1])
    _, cid = combine_clusters(keys, *cids) if cids else (keys, keys)
    return cid != keys, cid
