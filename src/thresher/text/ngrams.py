"""Hashed n-gram features over Arrow string buffers, in numba.

Tokenization is DSIR's: ``text.lower()`` split by nltk's WordPunctTokenizer
(``\\w+|[^\\w\\s]+``, compiled with the ``regex`` engine). Instead of running that regex and hashing each token
with sha256 in Python (what the reference does, ~1 MB/s), the kernels walk the
UTF-8 bytes of a whole Arrow string array once, classify each code point with
a table built from Python's own ``str.isalnum``/``str.isspace``/``str.lower``
(so ``\\w``/``\\s`` mean exactly what they mean in ``regex``), hash tokens with
FNV-1a and a one-multiply finaliser, and chain n-grams with one multiply per token
(``WORD_HASH_VERSION`` 2; version 1 used splitmix64 and a per-token branchy walk at
half the speed). Nothing is per-token Python. ``hashing="sha256"`` in
:mod:`thresher.scorers.dsir` keeps a slow, bucket-for-bucket copy of the reference
for equivalence checks.

Why hand-written rather than a library: scikit-learn's HashingVectorizer and
similar take Python strings, tokenise with ``re`` and build per-document
Python lists (~5-10 MB/s per core here, see the kernel line of
``bench/dsir_vs_reference.py``); the fused
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
# Bumped whenever a token, n-gram or bucket hash changes: models fitted on these features
# (the classifier's word mode) record it and refuse to score under another.
WORD_HASH_VERSION = 2


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


@functools.cache
def kernel_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, lowercase, ASCII) tables, the n-gram kernels' arguments."""
    cls, lower = unicode_tables()
    return cls, lower, ascii_table(cls, lower)


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
    u = np.uint64(i)
    b0 = np.int32(data[u])
    if b0 < 0x80:
        return b0, i + 1
    b1 = np.int32(data[u + np.uint64(1)]) & 0x3F
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | b1, i + 2
    b2 = np.int32(data[u + np.uint64(2)]) & 0x3F
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | (b1 << 6) | b2, i + 3
    b3 = np.int32(data[u + np.uint64(3)]) & 0x3F
    return ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3, i + 4


def ascii_table(cls: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``class << 8 | lowercase`` of the 128 ASCII bytes: one L1-resident lookup per byte."""
    b = np.arange(128)
    return ((cls[b].astype(np.int32) << 8) | lower[b]).astype(np.int32)


# Token buffer: tokens are hashed into it, then its n-grams are bucketed in a second,
# branch-free-friendly loop. 4,096 tokens (32 KB) stay in L1 whatever the document's length.
_CHUNK = 4096
_CTX = 8  # slots before the chunk for the previous chunk's last n-1 token hashes (n <= 8)
_GRAM = np.uint64(0x9E3779B97F4A7C15)
_FIN = np.uint64(0xFF51AFD7ED558CCD)


@nb.njit(cache=True, nogil=True)  # not inlined: see the end of this docstring
def _tokens(data, i, end, atab, cls, lower, prevc, h, ts, m, hbuf, sbuf, ebuf, track):
    """Hash WordPunct tokens of data[i:end] into hbuf[m:], as many bytes as it has room for.

    A token is a maximal run of word code points or of non-word non-space code points,
    exactly as ``\\w+|[^\\w\\s]+`` matches. The loop has no branch on token boundaries
    (a boundary is a select and an unconditional store whose index advances or not): they
    are unpredictable, and mispredicting one per ~5 bytes cost more than the hashing
    (with the hashes below: 239 -> 437 MB/s scoring, bench/dsir_vs_reference.py). The in-progress token carries over (``prevc``, ``h``,
    ``ts``); when ``i`` reaches ``end`` the last token is emitted and ``prevc`` reset.
    ``track`` (False in the scoring kernels: a branch predicted every time) also records
    each token's byte span in sbuf/ebuf. Returns (m, i, prevc, h, ts).

    A function of its own, called once per buffer fill (up to 4,096 tokens): inlined in the
    kernels (whose other loops keep many values live) its loop reloaded three pointers from
    the stack per byte (seen in the disassembly); on its own it scored 527-564 MB/s against
    482-492 inlined (3 rounds in one process, the same scores).
    """
    stop = min(end, i + len(hbuf) - 1 - m)  # a byte ends at most one token: no check on m
    while i < stop:
        b = data[np.uint64(i)]  # unsigned indexes: numba adds no negative-index wraparound
        p = i
        if b < 128:
            t = atab[np.uint64(b)]
            c = t >> 8
            cp = t & 255
            i += 1
        else:
            cp, i = _decode(data, i)
            c = np.int32(cls[np.uint64(cp)])
            cp = lower[np.uint64(cp)]
        brk = c != prevc
        hbuf[np.uint64(m)] = h
        if track:
            sbuf[m] = ts
            ebuf[m] = p
            ts = p if brk else ts
        m += np.int64(brk & (prevc != SPACE))
        h = FNV_OFFSET if brk else h
        h = (h ^ np.uint64(cp)) * FNV_PRIME
        prevc = c
    if i >= end:
        hbuf[np.uint64(m)] = h
        if track:
            sbuf[m] = ts
            ebuf[m] = end
        m += np.int64(prevc != SPACE)
        prevc = SPACE
    return m, i, prevc, h, ts


@nb.njit(inline="always", cache=True)
def _finish(h):
    # One multiply: the buckets read the top bits, which a multiply mixes from all bits.
    h ^= h >> np.uint64(29)
    h *= _FIN
    h ^= h >> np.uint64(32)
    return h


@nb.njit(inline="always", cache=True)
def _bucket(h, num_buckets):
    # Lemire's multiply-shift range reduction: a uniform bucket without a 64-bit division.
    # Unsigned, as an index: numba adds no negative-index wraparound (with the unsigned
    # indexes of _tokens and _chunk_ngrams: 434 -> 509 MB/s scoring, the same buckets).
    return ((h >> np.uint64(32)) * num_buckets) >> np.uint64(32)


@nb.njit(inline="always", cache=True)
def _keep_context(hbuf, lo, m, ngrams):
    """Move the last n-1 token hashes of hbuf[lo:m] (the previous context and this chunk's
    tokens: a chunk inside a long token adds none) before the chunk's start; return where
    they start now."""
    keep = min(ngrams - 1, m - lo)
    for q in range(keep):  # forward: the destination never runs ahead of the source
        hbuf[_CTX - keep + q] = hbuf[m - keep + q]
    return _CTX - keep


_SUM, _COUNT, _LIST = 0, 1, 2  # what _chunk_ngrams does with each bucket


@nb.njit(inline="always", cache=True)
def _put(sink, kind, c, b, s):
    # kind is a literal at every call site: LLVM keeps one branch (a buffer of buckets
    # between hashing and summing cost the fused score 15%).
    if kind == _SUM:
        s += sink[b]
    elif kind == _COUNT:
        sink[b] += 1
    else:
        sink[c] = np.int64(b)
    return c + 1, s


@nb.njit(inline="always", cache=True)
def _chunk_ngrams(hbuf, lo, m, ngrams, nb_, sink, kind, c):
    """Finish the chunk's new token hashes hbuf[_CTX:m] in place and put the bucket of each
    of their 1..n-grams into ``sink`` (``kind``: sum its weights, count, or list at ``c``).
    hbuf[lo:_CTX] holds the previous chunk's last tokens. The n-gram ending at token k
    hashes as g_1 = h_k, g_j = g_(j-1) * GRAM + h_(k-j+1): order-dependent, one multiply
    per token. Returns (c + buckets put, sum of weights)."""
    s = 0.0
    for k in range(np.uint64(_CTX), np.uint64(m)):
        g = _finish(hbuf[k])
        hbuf[k] = g
        c, s = _put(sink, kind, c, _bucket(g, nb_), s)
    if ngrams == 2:  # the default, without the inner loop: 1.15x faster
        for k in range(np.uint64(max(_CTX, lo + 1)), np.uint64(m)):
            g = hbuf[k] * _GRAM + hbuf[k - np.uint64(1)]
            c, s = _put(sink, kind, c, _bucket(g, nb_), s)
        return c, s
    for k in range(_CTX, m):
        g = hbuf[k]
        for j in range(1, min(ngrams, k - lo + 1)):
            g = g * _GRAM + hbuf[k - j]
            c, s = _put(sink, kind, c, _bucket(g, nb_), s)
    return c, s


@nb.njit(inline="always", cache=True)
def _doc_ngrams(data, start, end, atab, cls, lower, hbuf, none, ngrams, nb_, sink, kind, c):
    """Put the buckets of one document's 1..n-grams into ``sink`` (see _chunk_ngrams):
    _tokens fills the buffer, _chunk_ngrams buckets what it added, and the last n-1 tokens
    stay before the next fill. Returns (c + buckets put, sum of weights)."""
    i, prevc, h, lo = start, SPACE, FNV_OFFSET, _CTX
    total = 0.0
    while True:
        m, i, prevc, h, _ = _tokens(
            data, i, end, atab, cls, lower, prevc, h, 0, _CTX, hbuf, none, none, False
        )
        c, s = _chunk_ngrams(hbuf, lo, m, ngrams, nb_, sink, kind, c)
        total += s
        if i >= end:
            return c, total
        lo = _keep_context(hbuf, lo, m, ngrams)


@nb.njit(cache=True, nogil=True)
def _score_kernel(offsets, data, cls, lower, atab, weights, ngrams):
    n = len(offsets) - 1
    scores = np.empty(n, dtype=np.float64)
    ntoks = np.empty(n, dtype=np.int64)
    nb_ = np.uint64(len(weights))
    hbuf = np.empty(_CTX + _CHUNK, dtype=np.uint64)
    none = np.empty(0, dtype=np.int64)
    for d in range(n):
        ntoks[d], scores[d] = _doc_ngrams(
            data,
            offsets[d],
            offsets[d + 1],
            atab,
            cls,
            lower,
            hbuf,
            none,
            ngrams,
            nb_,
            weights,
            _SUM,
            0,
        )
    return scores, ntoks


@nb.njit(cache=True, nogil=True)
def _count_kernel(offsets, data, cls, lower, atab, num_buckets, ngrams):
    counts = np.zeros(num_buckets, dtype=np.int64)
    nb_ = np.uint64(num_buckets)
    hbuf = np.empty(_CTX + _CHUNK, dtype=np.uint64)
    none = np.empty(0, dtype=np.int64)
    for d in range(len(offsets) - 1):
        _doc_ngrams(
            data,
            offsets[d],
            offsets[d + 1],
            atab,
            cls,
            lower,
            hbuf,
            none,
            ngrams,
            nb_,
            counts,
            _COUNT,
            0,
        )
    return counts


@nb.njit(cache=True, nogil=True)
def _csr_kernel(offsets, data, cls, lower, atab, num_buckets, ngrams):
    n = len(offsets) - 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    total = 0
    for d in range(n):
        total += (offsets[d + 1] - offsets[d]) * ngrams
    indices = np.empty(total, dtype=np.int64)
    nb_ = np.uint64(num_buckets)
    hbuf = np.empty(_CTX + _CHUNK, dtype=np.uint64)
    none = np.empty(0, dtype=np.int64)
    for d in range(n):
        indptr[d + 1], _ = _doc_ngrams(
            data,
            offsets[d],
            offsets[d + 1],
            atab,
            cls,
            lower,
            hbuf,
            none,
            ngrams,
            nb_,
            indices,
            _LIST,
            indptr[d],
        )
    return indptr, indices[: indptr[n]]


@nb.njit(cache=True)
def _span_kernel(offsets, data, cls, lower, atab, chunk):
    """Every token's (doc, start, end): the scoring kernels' own tokenizer, with spans kept."""
    n = len(offsets) - 1
    total = offsets[n] - offsets[0]
    docs = np.empty(total + n, dtype=np.int64)
    starts = np.empty(total + n, dtype=np.int64)
    ends = np.empty(total + n, dtype=np.int64)
    hbuf = np.empty(chunk + 1, dtype=np.uint64)
    sbuf = np.empty(chunk + 1, dtype=np.int64)
    ebuf = np.empty(chunk + 1, dtype=np.int64)
    out = 0
    for d in range(n):
        i, end = offsets[d], offsets[d + 1]
        prevc, h, ts = SPACE, FNV_OFFSET, i
        while True:
            m, i, prevc, h, ts = _tokens(
                data, i, end, atab, cls, lower, prevc, h, ts, 0, hbuf, sbuf, ebuf, True
            )
            for k in range(m):
                docs[out], starts[out], ends[out] = d, sbuf[k], ebuf[k]
                out += 1
            if i >= end:
                break
    return docs[:out], starts[:out], ends[:out]


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
        offsets, data = arrow_buffers(texts)
        if len(offsets) <= 1:
            return np.zeros(self.num_buckets, dtype=np.int64)
        return _count_kernel(offsets, data, *kernel_tables(), self.num_buckets, self.ngrams)

    def dot(self, texts: pa.Array, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per document: sum of weights over its n-gram buckets (float64) and its n-gram count."""
        offsets, data = arrow_buffers(texts)
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if len(w) != self.num_buckets:
            raise ValueError(f"weights has {len(w)} entries, expected {self.num_buckets}")
        return _score_kernel(offsets, data, *kernel_tables(), w, self.ngrams)

    def csr(self, texts: pa.Array):
        """Per-document bucket counts as a scipy CSR matrix (float32), for linear models."""
        import scipy.sparse as sp

        offsets, data = arrow_buffers(texts)
        n = len(offsets) - 1
        indptr, indices = _csr_kernel(
            offsets, data, *kernel_tables(), self.num_buckets, self.ngrams
        )
        vals = np.ones(len(indices), dtype=np.float32)
        mat = sp.csr_matrix((vals, indices, indptr), shape=(n, self.num_buckets))
        mat.sum_duplicates()
        return mat


def token_spans(texts: pa.Array, chunk: int = _CHUNK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc index, byte start, byte end) of every token, as the kernels split them: to check
    the tokenisation against ``regex`` (``chunk``: tokens per buffer fill, to test refills)."""
    offsets, data = arrow_buffers(texts)
    return _span_kernel(offsets, data, *kernel_tables(), max(1, chunk))
