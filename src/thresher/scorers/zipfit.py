"""Compression alignment to the target (ZIP-FIT, Obbad et al., 2024).

``variant="gzip"``: normalized compression distance
``NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y))`` between a raw
document ``x`` and a few target *chunks* ``y`` (target documents concatenated
in a deterministic spread order, ``chunk_bytes`` each), with DEFLATE (zlib,
the compressor inside gzip) at ``level`` 9 -- a level that actually compresses
(level 0 only stores). The chunks are compressed once at fit time; for each
document the compressor state after the chunk is ``copy()``-ed and only the
document is fed in, so ``C(xy)`` costs one compression of ``x``, not of
``y + x``. DEFLATE can only reference the last 32 KiB, so chunks are at most
``chunk_bytes`` (24 KB) and documents are truncated to ``max_doc_bytes``
(8 KB): the whole chunk stays visible while ``x`` is compressed. Score =
``-mean`` (or ``-min``) NCD over the chunks; higher is closer.

``variant="zstd"``: a zstd dictionary trained on the target
(``zstandard.train_dictionary``); score = ``1 - C_dict(x) / C(x)``, the share
of a document's compressed size the target dictionary saves. Both compressions
run in zstd's C code over the whole batch (``multi_compress_to_buffer``).

Both are per-document functions of the text and the fitted target material,
so scores never depend on batch boundaries.

Default ``variant="zstd"``: on bench/scorers.py (bench/results/scorers.md)
precision@k was gzip-NCD 0.21/0.22/0.25, gzip ``measure="gain"``
(``C(x|y)/C(x)``) 0.41/0.49/0.43, zstd 0.36/0.39/0.47 on the easy/hard/small
targets, with zstd ~24x faster (~24k vs ~1k docs/s). NCD against large chunks
favours long documents (the absolute saving grows with length), hence its low
figures; ``measure="gain"`` removes that bias.
"""

from __future__ import annotations

import zlib
from typing import Literal

import numpy as np
import pyarrow as pa

from thresher.scorers.base import BaseScorer, as_string_array


def _spread(n: int, m: int) -> np.ndarray:
    """m indices spread evenly over range(n) (deterministic)."""
    if m >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, m).round().astype(np.int64))


class ZipFitScorer(BaseScorer):
    """Compression-based alignment to the target; higher means closer."""

    name = "zipfit"

    def __init__(
        self,
        variant: Literal["gzip", "zstd"] = "zstd",
        n_chunks: int = 4,
        chunk_bytes: int = 24_000,
        max_doc_bytes: int = 8_000,
        level: int = 9,
        aggregate: Literal["mean", "min"] = "mean",
        measure: Literal["ncd", "gain"] = "ncd",
        dict_size: int = 112_640,
        zstd_level: int = 3,
    ) -> None:
        if variant not in ("gzip", "zstd"):
            raise ValueError("variant must be 'gzip' or 'zstd'")
        if aggregate not in ("mean", "min"):
            raise ValueError("aggregate must be 'mean' or 'min'")
        if not 1 <= level <= 9:
            raise ValueError("level must be between 1 and 9 (0 does not compress)")
        if chunk_bytes + max_doc_bytes > 32_000:
            raise ValueError("chunk_bytes + max_doc_bytes must fit DEFLATE's 32 KiB window")
        self.variant = variant
        self.n_chunks = int(n_chunks)
        self.chunk_bytes = int(chunk_bytes)
        self.max_doc_bytes = int(max_doc_bytes)
        self.level = int(level)
        if measure not in ("ncd", "gain"):
            raise ValueError("measure must be 'ncd' or 'gain'")
        self.aggregate = aggregate
        self.measure = measure
        self.dict_size = int(dict_size)
        self.zstd_level = int(zstd_level)
        self.chunks: list[bytes] | None = None
        self.chunk_sizes: np.ndarray | None = None
        self.dict_bytes: bytes | None = None
        self._cache: dict = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}  # compressor objects are rebuilt per process
        return state

    # ------------------------------------------------------------------ fit
    def fit(self, target: pa.Array, sample: pa.Array) -> ZipFitScorer:
        docs = [t.encode("utf-8") for t in as_string_array(target).to_pylist() if t]
        if not docs:
            raise ValueError("the target has no documents")
        if self.variant == "gzip":
            self._fit_gzip(docs)
        else:
            self._fit_zstd(docs)
        return self

    def _fit_gzip(self, docs: list[bytes]) -> None:
        # Interleave documents over the chunks so each chunk covers the whole target.
        order = _spread(len(docs), len(docs))
        chunks = [bytearray() for _ in range(self.n_chunks)]
        for j, i in enumerate(order):
            c = chunks[j % self.n_chunks]
            if len(c) < self.chunk_bytes:
                c += docs[i][: self.chunk_bytes - len(c)] + b"\n"
        self.chunks = [bytes(c[: self.chunk_bytes]) for c in chunks if len(c)]
        self.chunk_sizes = np.array(
            [len(zlib.compress(c, self.level)) for c in self.chunks], dtype=np.float64
        )

    def _fit_zstd(self, docs: list[bytes]) -> None:
        import zstandard

        # Training wants many samples: cut documents into ~1 KB pieces.
        samples = [d[i : i + 1024] for d in docs for i in range(0, len(d), 1024)]
        total = sum(map(len, samples))
        size = int(min(self.dict_size, max(4096, total // 4)))
        try:
            d = zstandard.train_dictionary(size, samples, level=self.zstd_level)
        except zstandard.ZstdError:
            # Too little material for the trainer: a raw-content dictionary of the target.
            d = zstandard.ZstdCompressionDict(
                b"".join(samples)[-size:], dict_type=zstandard.DICT_TYPE_RAWCONTENT
            )
        self.dict_bytes = d.as_bytes()
        self.dict_type = "raw" if d.dict_id() == 0 else "full"

    # ---------------------------------------------------------------- score
    def score(self, texts: pa.Array) -> np.ndarray:
        texts = as_string_array(texts)
        docs = [(t or "").encode("utf-8")[: self.max_doc_bytes] for t in texts.to_pylist()]
        if not docs:
            return np.zeros(0, dtype=np.float32)
        if self.variant == "gzip":
            if self.chunks is None:
                raise RuntimeError("ZipFitScorer.score called before fit")
            return self._score_gzip(docs)
        if self.dict_bytes is None:
            raise RuntimeError("ZipFitScorer.score called before fit")
        return self._score_zstd(docs)

    def _chunk_states(self):
        states = self._cache.get("gzip")
        if states is None:
            states = []
            for c in self.chunks or []:
                co = zlib.compressobj(self.level, zlib.DEFLATED, -15)  # raw deflate
                head = co.compress(c)
                states.append((co, len(head)))
            self._cache["gzip"] = states
        return states

    def _score_gzip(self, docs: list[bytes]) -> np.ndarray:
        states = self._chunk_states()
        cy = self.chunk_sizes
        assert cy is not None
        n, m = len(docs), len(states)
        cx = np.empty(n, dtype=np.float64)
        cxy = np.empty((n, m), dtype=np.float64)
        level = self.level
        for i, d in enumerate(docs):
            co = zlib.compressobj(level, zlib.DEFLATED, -15)
            cx[i] = len(co.compress(d)) + len(co.flush())
            for j, (base, head) in enumerate(states):
                c = base.copy()
                cxy[i, j] = head + len(c.compress(d)) + len(c.flush())
        # zlib.compress adds a 6-byte zlib wrapper to the chunk sizes; raw deflate has none.
        cyr = cy[None, :] - 6.0
        if self.measure == "ncd":
            big = np.maximum(np.maximum(cx[:, None], cyr), 1.0)
            dist = (cxy - np.minimum(cx[:, None], cyr)) / big
        else:  # conditional size relative to the document's own: C(x|y) / C(x)
            dist = (cxy - cyr) / np.maximum(cx[:, None], 1.0)
        agg = dist.mean(axis=1) if self.aggregate == "mean" else dist.min(axis=1)
        return (-agg).astype(np.float32)

    def _compressors(self):
        pair = self._cache.get("zstd")
        if pair is None:
            import zstandard

            dtype = (
                zstandard.DICT_TYPE_RAWCONTENT
                if getattr(self, "dict_type", "full") == "raw"
                else zstandard.DICT_TYPE_FULLDICT
            )
            d = zstandard.ZstdCompressionDict(self.dict_bytes, dict_type=dtype)
            params = dict(level=self.zstd_level, write_checksum=False, write_content_size=False)
            pair = (
                zstandard.ZstdCompressor(**params),
                zstandard.ZstdCompressor(dict_data=d, write_dict_id=False, **params),
            )
            self._cache["zstd"] = pair
        return pair

    def _score_zstd(self, docs: list[bytes]) -> np.ndarray:
        plain, withdict = self._compressors()
        try:  # C backend: whole batch in native code
            a = plain.multi_compress_to_buffer(docs, threads=1)
            b = withdict.multi_compress_to_buffer(docs, threads=1)
            c0 = np.array([len(a[i]) for i in range(len(docs))], dtype=np.float64)
            c1 = np.array([len(b[i]) for i in range(len(docs))], dtype=np.float64)
        except (AttributeError, NotImplementedError):
            c0 = np.array([len(plain.compress(d)) for d in docs], dtype=np.float64)
            c1 = np.array([len(withdict.compress(d)) for d in docs], dtype=np.float64)
        return (1.0 - c1 / np.maximum(c0, 1.0)).astype(np.float32)
