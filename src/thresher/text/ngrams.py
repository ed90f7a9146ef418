"""Hashed n-gram features over Arrow string buffers, in numba.

Tokenization is DSIR's: ``text.lower()`` split by nltk's WordPunctTokenizer
(``\\w+|[^\\w\\s]+``, compiled with the ``regex`` engine). Instead of running that regex and hashing each token
with sha256 in Python (what the reference does, ~1 MB/s), the kernels walk the
UTF-8 bytes of a whole Arrow string array once, classify each code point with
a table built from Python's own ``str.isalnum``/``str.isspace``/``str.lower``
(so ``\\w``/``\\s`` mean exactly what they mean in ``re``), hash tokens with
FNV-1a + a splitmix64 finaliser and n-grams by mixing token hashes. Nothing is
per-token Python. ``hashing="sha256"`` in :mod:`thresher.scorers.dsir` keeps a
slow, bucket-for-bucket copy of the reference for equivalence checks.

Why hand-written rather than a library: scikit-learn's HashingVectorizer and
similar take Python strings, tokenise with ``re`` and build per-document
Python lists (~5-10 MB/s per core here, see ``bench/featurize.py``); the fused
kernel reads Arrow's buffers directly and never materialises tokens.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import unicodedata
from pathlib import Path

import numba as nb
import numpy as np
import pyarrow as pa
import regex

# Code point classes.
SPACE, WORD, PUNCT = 0, 1, 2
_MAX_CP = sys.maxunicode + 1

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    key = f"{sys.version_info.major}.{sys.version_info.minor}-{unicodedata.unidata_version}-regex{regex.__version__}"
    return Path(base) / "thresher" / f"unicode-tables-{key}.npz"


@functools.cache
def unicode_tables() -> tuple[np.ndarray, np.ndarray]:
    """(class, lowercase) tables, cached on disk: building them takes ~1 s per process."""
    path = _cache_path()
    try:
        with np.load(path) as z:
            return z["cls"], z["lower"]
    except (OSError, KeyError, ValueError):
        pass
    cls, lower = _build_unicode_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.npz")
        np.savez(tmp, cls=cls, lower=lower)
        os.replace(tmp, path)
    except OSError:  # read-only home: just rebuild next time
        pass
    return cls, lower


def _build_unicode_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per-code-point class (space/word/punct) and lowercase mapping, from Python itself.

    Built with the ``regex`` engine over every code point, so ``\\w`` and ``\\s``
    agree by construction with nltk's WordPunctTokenizer, which compiles its pattern
    with ``regex`` (Unicode's definition of a word character: letters, marks, decimal
    digits, connector punctuation; ``½`` or ``²`` are not word characters there, as
    they are for the stdlib ``re``). Multi-character lowercasings
    (only U+0130, capital I with dot) map to themselves. Surrogates are
    punctuation (they cannot occur in valid UTF-8).
    """
    everything = "".join(map(chr, range(_MAX_CP)))
    cls = np.full(_MAX_CP, PUNCT, dtype=np.uint8)
    cls[[m.start() for m in regex.finditer(r"\w", everything)]] = WORD
    cls[[m.start() for m in regex.finditer(r"\s", everything)]] = SPACE
    lower = np.arange(_MAX_CP, dtype=np.int32)
    for m in re.finditer(r"[^\W\d_]", everything):  # only letters have a lowercase
        ch = m.group()
        lo = ch.lower()
        if len(lo) == 1 and lo != ch:
            lower[m.start()] = ord(lo)
    # Classify by the lowercased character, as the reference tokenises text.lower().
    return cls[lower], lower


def arrow_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64, data uint8) views of a pyarrow (large_)string array, slice-aware."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if pa.types.is_string(texts.type):
        off_dtype = np.int32
    elif pa.types.is_large_string(texts.type):
        off_dtype = np.int64
    else:
        raise TypeError(f"expected a string array, got {texts.type}")
    n = len(texts)
    bufs = texts.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_dtype, count=texts.offset + n + 1)[texts.offset :]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets.astype(np.int64, copy=False), data


@nb.njit(inline="always", cache=True)
def _mix(h):
    # splitmix64 finaliser: spreads FNV's low-entropy high bits before the modulo.
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@nb.njit(inline="always", cache=True)
def _decode(data, i):
    """Decode one UTF-8 code point at byte i; return (code point, next byte index)."""
    b0 = np.int32(data[i])
    if b0 < 0x80:
        return b0, i + 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int32(data[i + 1]) & 0x3F), i + 2
    if b0 < 0xF0:
        return (
            ((b0 & 0x0F) << 12)
            | ((np.int32(data[i + 1]) & 0x3F) << 6)
            | (np.int32(data[i + 2]) & 0x3F),
            i + 3,
        )
    return (
        ((b0 & 0x07) << 18)
        | ((np.int32(data[i + 1]) & 0x3F) << 12)
        | ((np.int32(data[i + 2]) & 0x3F) << 6)
        | (np.int32(data[i + 3]) & 0x3F),
        i + 4,
    )


@nb.njit(cache=True)
def _next_token(data, pos, end, cls, lower):
    """Find the next WordPunct token in data[pos:end].

    Returns (hash, token_start, token_end); token_start == -1 when none is left.
    A token is a maximal run of word code points or a maximal run of
    non-word non-space code points, exactly as ``\\w+|[^\\w\\s]+`` matches.
    """
    i = pos
    while i < end:
        cp, j = _decode(data, i)
        c = cls[cp]
        if c != SPACE:
            h = FNV_OFFSET
            start = i
            while True:
                h = (h ^ np.uint64(lower[cp])) * FNV_PRIME
                i = j
                if i >= end:
                    break
                cp, j = _decode(data, i)
                if cls[cp] != c:
                    break
            return _mix(h), start, i
        i = j
    return np.uint64(0), -1, end


@nb.njit(inline="always", cache=True)
def _bucket(h, num_buckets):
    # Lemire's multiply-shift range reduction: a uniform bucket without a 64-bit division.
    return np.int64(((h >> np.uint64(32)) * num_buckets) >> np.uint64(32))


@nb.njit(inline="always", cache=True)
def _ngram_hash(prev, h, k):
    # Order-dependent mix of the previous n-gram hash and the next token hash.
    return _mix(prev * np.uint64(0x9E3779B97F4A7C15) + h + np.uint64(k))


@nb.njit(cache=True)
def _doc_buckets(data, start, end, cls, lower, num_buckets, ngrams, out):
    """Write the bucket of every 1..n-gram of one document into out; return how many."""
    ring = np.zeros(8, dtype=np.uint64)  # last n-1 token hashes (n <= 8)
    m = 0
    ntok = 0
    pos = start
    nb_ = np.uint64(num_buckets)
    while True:
        h, s, pos = _next_token(data, pos, end, cls, lower)
        if s < 0:
            break
        out[m] = _bucket(h, nb_)
        m += 1
        g = h
        for k in range(1, ngrams):
            if ntok - k < 0:
                break
            g = _ngram_hash(ring[(ntok - k) % 8], g, k)
            out[m] = _bucket(g, nb_)
            m += 1
        ring[ntok % 8] = h
        ntok += 1
    return m


@nb.njit(cache=True, nogil=True)
def _count_kernel(offsets, data, cls, lower, num_buckets, ngrams):
    # Fused like _score_kernel: each bucket is counted as it is produced (11% faster than
    # writing a document's buckets to a buffer first); the same buckets as _doc_buckets.
    counts = np.zeros(num_buckets, dtype=np.int64)
    nb_ = np.uint64(num_buckets)
    ring = np.zeros(8, dtype=np.uint64)
    for d in range(len(offsets) - 1):
        pos = offsets[d]
        end = offsets[d + 1]
        ntok = 0
        while True:
            h, st, pos = _next_token(data, pos, end, cls, lower)
            if st < 0:
                break
            counts[_bucket(h, nb_)] += 1
            g = h
            for k in range(1, ngrams):
                if ntok - k < 0:
                    break
                g = _ngram_hash(ring[(ntok - k) % 8], g, k)
                counts[_bucket(g, nb_)] += 1
            ring[ntok % 8] = h
            ntok += 1
    return counts


@nb.njit(cache=True, nogil=True)
def _score_kernel(offsets, data, cls, lower, weights, ngrams):
    # Fused: buckets are summed as they are produced, never stored.
    n = len(offsets) - 1
    scores = np.empty(n, dtype=np.float64)
    ntoks = np.empty(n, dtype=np.int64)
    nb_ = np.uint64(len(weights))
    ring = np.zeros(8, dtype=np.uint64)
    for d in range(n):
        pos = offsets[d]
        end = offsets[d + 1]
        s = 0.0
        m = 0
        ntok = 0
        while True:
            h, st, pos = _next_token(data, pos, end, cls, lower)
            if st < 0:
                break
            s += weights[_bucket(h, nb_)]
            m += 1
            g = h
            for k in range(1, ngrams):
                if ntok - k < 0:
                    break
                g = _ngram_hash(ring[(ntok - k) % 8], g, k)
                s += weights[_bucket(g, nb_)]
                m += 1
            ring[ntok % 8] = h
            ntok += 1
        scores[d] = s
        ntoks[d] = m
    return scores, ntoks


@nb.njit(cache=True, nogil=True)
def _csr_kernel(offsets, data, cls, lower, num_buckets, ngrams):
    n = len(offsets) - 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    total = 0
    for d in range(n):
        total += (offsets[d + 1] - offsets[d]) * ngrams
    indices = np.empty(total, dtype=np.int64)
    m = 0
    for d in range(n):
        k = _doc_buckets(
            data, offsets[d], offsets[d + 1], cls, lower, num_buckets, ngrams, indices[m:]
        )
        m += k
        indptr[d + 1] = m
    return indptr, indices[:m]


@nb.njit(cache=True)
def _span_kernel(offsets, data, cls, lower):
    starts = []
    ends = []
    docs = []
    for d in range(len(offsets) - 1):
        pos = offsets[d]
        end = offsets[d + 1]
        while True:
            _, s, pos = _next_token(data, pos, end, cls, lower)
            if s < 0:
                break
            starts.append(s)
            ends.append(pos)
            docs.append(d)
    return (
        np.array(docs, dtype=np.int64),
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
    )


class NgramHasher:
    """Hashed 1..n-gram features of documents; picklable (tables are rebuilt per process)."""

    def __init__(self, num_buckets: int = 10_000, ngrams: int = 2) -> None:
        if not 1 <= ngrams <= 8:
            raise ValueError("ngrams must be between 1 and 8")
        if num_buckets < 1:
            raise ValueError("num_buckets must be positive")
        self.num_buckets = int(num_buckets)
        self.ngrams = int(ngrams)

    def __repr__(self) -> str:
        return f"NgramHasher(num_buckets={self.num_buckets}, ngrams={self.ngrams})"

    def counts(self, texts: pa.Array) -> np.ndarray:
        """Summed bucket counts over all documents (int64, length num_buckets)."""
        cls, lower = unicode_tables()
        offsets, data = arrow_buffers(texts)
        if len(offsets) <= 1:
            return np.zeros(self.num_buckets, dtype=np.int64)
        return _count_kernel(offsets, data, cls, lower, self.num_buckets, self.ngrams)

    def dot(self, texts: pa.Array, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per document: sum of weights over its n-gram buckets (float64) and its n-gram count."""
        cls, lower = unicode_tables()
        offsets, data = arrow_buffers(texts)
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if len(w) != self.num_buckets:
            raise ValueError(f"weights has {len(w)} entries, expected {self.num_buckets}")
        return _score_kernel(offsets, data, cls, lower, w, self.ngrams)

    def csr(self, texts: pa.Array):
        """Per-document bucket counts as a scipy CSR matrix (float32), for linear models."""
        import scipy.sparse as sp

        cls, lower = unicode_tables()
        offsets, data = arrow_buffers(texts)
        n = len(offsets) - 1
        indptr, indices = _csr_kernel(offsets, data, cls, lower, self.num_buckets, self.ngrams)
        vals = np.ones(len(indices), dtype=np.float32)
        mat = sp.csr_matrix((vals, indices, indptr), shape=(n, self.num_buckets))
        mat.sum_duplicates()
        return mat


def token_spans(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc index, byte start, byte end) of every token: to check tokenisation against ``re``."""
    cls, lower = unicode_tables()
    offsets, data = arrow_buffers(texts)
    return _span_kernel(offsets, data, cls, lower)
