"""A linear model on hashed n-grams: target-vs-raw classifier, or BETR student.

Features (``features=``):

* ``"char"`` (default): hashed character 3-4-grams (``char_ngrams``) of the
  lowercased text, whitespace runs folded to one space, ``num_buckets``
  (``2**18``) buckets (fastText-style subwords). They see spelling, script and morphology, which
  word n-grams miss: a whole run of Japanese or Chinese is one "word" to the
  DSIR tokenizer, so word features cannot learn that a partly translated
  document is not the English target.
* ``"word"``: :class:`~thresher.text.ngrams.NgramHasher` 1-``ngrams``-grams
  (DSIR's tokenizer), ``num_buckets`` buckets (``2**18``).

Either way: counts -> ``log1p`` -> times an IDF fitted on the raw sample (the
distribution being scored) -> rows L2-normalized. Scoring is one fused numba
pass per batch (char) or one sparse matrix-vector product (word); the fitted
scorer keeps only the IDF and the weight vector (no scikit-learn object at
score time), so it is small, picklable and batch-independent.

Measured on bench/scorers.py (precision@k easy/hard/small, C=1): word 1-2-grams
with target+raw IDF 0.980/0.807/0.720; word with raw IDF 0.980/0.815/0.727;
char 3-4-grams 0.980/0.844/0.793 (0.980/0.859/0.793 with the one-multiply hash, see
``CHAR_HASH_VERSION``; ``2**18`` buckets; ``2**20``: 0.980/0.844/0.787
and slower, the scratch counts no longer fit in cache); char 2-4-grams
0.973/0.859/0.787 (slower); C=0.3 or 10 no better on average; word
1-3-grams, ``2**20`` word buckets, and a positive-unlabeled second round
(dropping the raw documents scored most target-like from the negatives) did
not help (see bench/results/scorers.md).

Without a teacher: logistic regression, target documents positive, raw sample
negative (balanced class weights); score = decision function. At most
``max_negatives`` (20,000) raw documents are used, a seeded random subset of the
sample: char n-gram features take ~2,400 non-zeros per document, so the
pipeline's default 100k-document sample meant a 9 GB, 115 s fit on a 1 GB
corpus (20k: 15 s, 2.9 GB; the benchmark pools are smaller than 20k, so their
figures are unchanged).

With ``teacher=dense|bm25|zipfit|dsir|...`` (BETR, "Benchmark-targeted
ranking"): the teacher is fitted on (target, sample) and scores a subsample of
``teacher_sample`` raw documents; a linear model then learns to reproduce the
teacher on the n-gram features, so only the cheap model scores the corpus.

``teacher_mode="classify"`` (default): logistic regression of the teacher's top
``teacher_top`` fraction vs the rest. The student's job is the teacher's
*selection*, so by default (``teacher_top=None``) that fraction is the share of
the corpus the run selects, which the pipeline passes in through
:meth:`expect_fraction` (``--fraction``, or ``--k`` over the documents the
sample saw when it read the whole corpus), else 0.05; at least 20 positives.
On bench/scorers.py (2,000 teacher-scored docs) student minus dense-teacher
precision@k was +0.007/+0.007/+0.047 easy/hard/small with the selected
fraction, against -0.233/+0.015/-0.027 with a fixed top 10%: a top wider than
the selection teaches the student the teacher's near misses.
``teacher_mode="regress"``: ridge regression on the teacher's standardized
scores (clipped at 5 standard deviations), +0.040/+0.000/-0.087 (ranks as the
regression target instead: -0.213/-0.015/-0.193, ranks flatten the teacher's
confident tail).

The fitted scorer records the teacher's fit time and scoring speed
(``teacher_stats``, and the run's manifest through :meth:`report`) so
benchmarks can report the speed-up.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numba as nb
import numpy as np
import pyarrow as pa

from thresher.scorers.base import BaseScorer, as_string_array
from thresher.text.ngrams import (
    SPACE,
    WORD_HASH_VERSION,
    NgramHasher,
    _bucket,
    _decode,
    arrow_buffers,
    unicode_tables,
)

# ------------------------------------------------------- char n-gram kernels
# Speed (bench/results/classifier_speed.md): the scan is this module's score kernel. What
# made it 2x faster, with bit-identical scores: the 3- and 4-gram hashes are computed from
# the last characters held in registers (not re-read from a ring buffer); a document's
# per-bucket counts live in a uint16 scratch (half the cache footprint of int32; only a
# document of more than 65,535 bytes could overflow it, and it gets an int32 scratch);
# IDF and weight sit side by side (one cache line per bucket, not two); log1p of small
# counts comes from a table filled with the very same ``np.log1p``.
CHAR_HASH_VERSION = 2  # 1: FNV-1a + splitmix64; 2: multiply-shift of packed code points
U16_MAX_DOC_BYTES = 65_535  # a bucket's count never exceeds the document's characters
LOG1P_TABLE = 1024


# The n-gram hash: the last three code points (21 bits each) packed into one 64-bit key,
# the older ones of a longer n-gram folded into a polynomial ``m``, then ONE multiply-shift
# (Dietzfelbinger's universal family: the top bits of ``key * A``):
#     bucket = top bits of ((key3 + (m + n) * B) * A)
# ``+ n * B`` keeps the n-gram lengths apart. It replaced FNV-1a over the characters plus a
# splitmix64 finaliser (up to 6 dependent multiplies per n-gram, 4 ns of the kernel's 14 per
# byte); measured in bench/results/classifier_speed.md, precision on the bench pools beside.
_MS_A = np.uint64(0x9E3779B97F4A7C15)  # odd: multiply-shift's multiplier
_MS_B = np.uint64(0xC2B2AE3D27D4EB4F)  # odd: spreads (m + n) over the key's 64 bits
_MS_P = np.uint64(0x100000001B3)  # the fold of characters older than the last three
_KEY_MASK = np.uint64((1 << 63) - 1)  # three 21-bit code points
_MASK1 = np.uint64((1 << 21) - 1)
_MASK2 = np.uint64((1 << 42) - 1)


@nb.njit(inline="always", cache=True)
def _last(key, n):
    """The last ``min(n, 3)`` code points of the packed key."""
    if n == 1:
        return key & _MASK1
    if n == 2:
        return key & _MASK2
    return key


@nb.njit(inline="always", cache=True)
def _gram_bucket(key3, m, n, num_buckets):
    """Bucket of an n-gram whose last (up to) three code points are packed in ``key3``."""
    return _bucket((key3 + (m + np.uint64(n)) * _MS_B) * _MS_A, num_buckets)


@nb.njit(cache=True, nogil=True)
def _char_doc(data, i, end, cls, lower, num_buckets, nmin, nmax, ring, scratch, touched):
    """Count one document's hashed char n-grams into ``scratch``; return how many distinct
    buckets were touched (listed in ``touched``). The caller resets ``scratch``.

    A bucket is listed by an unconditional store whose index advances only on a bucket's
    first count: "is it new?" is an unpredictable branch (the scan's kernel without it: 89.1
    -> 99.5 MB/s, bench/classifier_speed.py). ``touched`` has room for every n-gram.

    Any ``nmax`` up to 8 (a ring of the last 8 characters); the same buckets as
    :func:`_char_doc4` for n <= 4."""
    k = 0  # characters emitted (a run of whitespace is one space)
    t = 0
    prev_space = True  # leading whitespace is dropped
    key = np.uint64(0)
    nb_ = np.uint64(num_buckets)
    while i < end:
        cp, i = _decode(data, i)
        if cls[np.uint64(cp)] == SPACE:  # unsigned indexes: no negative-index wraparound
            if prev_space:
                continue
            prev_space = True
            c = np.uint64(32)
        else:
            prev_space = False
            c = np.uint64(lower[np.uint64(cp)])
        ring[k & 7] = c
        key = ((key << np.uint64(21)) | c) & _KEY_MASK
        k += 1
        for g in range(nmin, nmax + 1):
            if k < g:
                break
            key3 = _last(key, g)
            m = np.uint64(0)
            for j in range(k - g, k - 3):
                m = m * _MS_P + ring[j & 7]
            q = _gram_bucket(key3, m, g, nb_)
            v = scratch[q]
            touched[np.uint64(t)] = q
            t += v == 0
            scratch[q] = v + 1
    return t


@nb.njit(cache=True, nogil=True)
def _char_doc4(data, i, end, cls, lower, num_buckets, nmin, nmax, scratch, touched):
    """:func:`_char_doc` for ``nmax <= 4``, the same buckets: the last three characters
    are the packed key, the fourth is kept in a register instead of a ring. Indexes are
    unsigned, so numba adds no negative-index wraparound: the score kernel 72-79 -> 78-86
    MB/s (1 core, 9 rounds in 3 processes, the same scores)."""
    k = 0
    t = 0
    prev_space = True
    key = np.uint64(0)
    nb_ = np.uint64(num_buckets)
    while i < end:
        cp, i = _decode(data, i)
        if cls[np.uint64(cp)] == SPACE:  # unsigned indexes: no negative-index wraparound
            if prev_space:
                continue
            prev_space = True
            c = np.uint64(32)
        else:
            prev_space = False
            c = np.uint64(lower[np.uint64(cp)])
        p4 = key >> np.uint64(42)  # the character four back, once ``c`` is in
        key = ((key << np.uint64(21)) | c) & _KEY_MASK
        k += 1
        # unrolled over n = 1..4 (predictable branches; a loop over n cost 15% of the kernel)
        for g in range(1, 5):
            if g < nmin or g > nmax or k < g:
                continue
            if g == 4:
                q = _gram_bucket(key, p4, 4, nb_)
            else:
                q = _gram_bucket(_last(key, g), np.uint64(0), g, nb_)
            v = scratch[q]
            touched[np.uint64(t)] = q
            t += v == 0
            scratch[q] = v + 1
    return t


@nb.njit(inline="always", cache=True)
def _count_doc(data, i, end, cls, lower, num_buckets, nmin, nmax, ring, s16, s32, touched):
    """One document's distinct buckets into ``touched``; returns (how many, wide) where
    ``wide`` says the counts are in ``s32`` (a long document) rather than ``s16``."""
    wide = end - i > U16_MAX_DOC_BYTES
    if nmax <= 4:
        if wide:
            return _char_doc4(data, i, end, cls, lower, num_buckets, nmin, nmax, s32, touched), wide
        return _char_doc4(data, i, end, cls, lower, num_buckets, nmin, nmax, s16, touched), wide
    if wide:
        return _char_doc(
            data, i, end, cls, lower, num_buckets, nmin, nmax, ring, s32, touched
        ), wide
    return _char_doc(data, i, end, cls, lower, num_buckets, nmin, nmax, ring, s16, touched), wide


@nb.njit(cache=True, nogil=True)
def _scratch(offsets, num_buckets, span):
    maxlen = 0
    for d in range(len(offsets) - 1):
        maxlen = max(maxlen, offsets[d + 1] - offsets[d])
    return _scratch_for(maxlen, num_buckets, span)


@nb.njit(cache=True, nogil=True)
def _scratch_for(maxlen, num_buckets, span):
    s16 = np.zeros(num_buckets, dtype=np.uint16)
    s32 = np.zeros(num_buckets if maxlen > U16_MAX_DOC_BYTES else 1, dtype=np.int32)
    touched = np.empty(maxlen * span + 1, dtype=np.int32)
    return s16, s32, touched


# A row's buckets come out sorted without a comparison sort: a bitmap of the buckets
# (2**18 bits = 32 KB, in L1/L2) read back word by word, the set bits found with a de Bruijn
# multiply. np.sort of ~2,400 buckets per document was 60% of the kernel (1.8 of 2.9 CPU s on
# 20k documents); scipy and scikit-learn need sorted rows (unsorted, ``np.max(X)`` in
# LogisticRegression sorts the whole matrix in place: 1.9 s).
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_BIT = np.zeros(64, dtype=np.int64)
for _b in range(64):
    _DEBRUIJN_BIT[((1 << _b) * 0x03F79D71B4CB0A89 % 2**64) >> 58] = _b
SORT_BITMAP_MIN = 256  # fewer buckets than this: np.sort is as fast


@nb.njit(inline="always", cache=True)
def _lowest_bit(w, table):
    """Index of the lowest set bit of ``w`` (non-zero)."""
    low = w & (~w + np.uint64(1))
    return table[(low * _DEBRUIJN) >> np.uint64(58)]


@nb.njit(cache=True, nogil=True)
def _sort_touched(touched, t, bits, table):
    """Sort ``touched[:t]`` (distinct buckets) in place; ``bits`` is all zero again after."""
    if t < SORT_BITMAP_MIN:
        touched[:t].sort()
        return
    lo = bits.shape[0]
    hi = 0
    for j in range(t):
        q = touched[j]
        w = q >> 6
        bits[w] |= np.uint64(1) << np.uint64(q & 63)
        lo = min(lo, w)
        hi = max(hi, w)
    m = 0
    for w in range(lo, hi + 1):
        word = bits[w]
        if word == 0:
            continue
        bits[w] = 0
        while word != 0:
            touched[m] = (w << 6) + _lowest_bit(word, table)
            m += 1
            word &= word - np.uint64(1)


@nb.njit(cache=True, nogil=True)
def _char_csr_kernel(starts, ends, data, cls, lower, num_buckets, nmin, nmax, table):
    """Per-document (sorted) bucket indices and counts, CSR arrays; document ``d`` is
    ``data[starts[d]:ends[d]]`` (any rows of a column, in any order, without copying them)."""
    n = len(starts)
    indptr = np.zeros(n + 1, dtype=np.int64)
    span = nmax - nmin + 1
    total = 0
    maxlen = 0
    for d in range(n):
        total += (ends[d] - starts[d]) * span
        maxlen = max(maxlen, ends[d] - starts[d])
    indices = np.empty(total, dtype=np.int32)  # buckets < 2**31; halves the peak memory
    counts = np.empty(total, dtype=np.float32)
    ring = np.zeros(8, dtype=np.uint64)
    s16, s32, touched = _scratch_for(maxlen, num_buckets, span)
    bits = np.zeros((num_buckets + 63) // 64, dtype=np.uint64)
    m = 0
    for d in range(n):
        t, wide = _count_doc(
            data,
            starts[d],
            ends[d],
            cls,
            lower,
            num_buckets,
            nmin,
            nmax,
            ring,
            s16,
            s32,
            touched,
        )
        _sort_touched(touched, t, bits, table)
        for j in range(t):
            q = touched[j]
            indices[m] = q
            if wide:
                counts[m] = s32[q]
                s32[q] = 0
            else:
                counts[m] = s16[q]
                s16[q] = 0
            m += 1
        indptr[d + 1] = m
    return indptr, indices[:m], counts[:m]


@nb.njit(cache=True, nogil=True)
def _char_score_kernel(offsets, data, cls, lower, iw, nmin, nmax):
    """Per document: sum_q w_q * x_q with x = log1p(count) * idf, L2-normalized (fused).

    ``iw[q] = (idf_q, w_q * idf_q)``."""
    n = len(offsets) - 1
    num_buckets = iw.shape[0]
    span = nmax - nmin + 1
    table = np.empty(LOG1P_TABLE, dtype=np.float64)
    for c in range(LOG1P_TABLE):
        table[c] = np.log1p(np.float64(c))
    out = np.zeros(n, dtype=np.float64)
    ring = np.zeros(8, dtype=np.uint64)
    s16, s32, touched = _scratch(offsets, num_buckets, span)
    for d in range(n):
        t, wide = _count_doc(
            data,
            offsets[d],
            offsets[d + 1],
            cls,
            lower,
            num_buckets,
            nmin,
            nmax,
            ring,
            s16,
            s32,
            touched,
        )
        dot = 0.0
        sq = 0.0
        for j in range(t):
            q = touched[j]
            if wide:
                c = np.int64(s32[q])
                s32[q] = 0
            else:
                c = np.int64(s16[q])
                s16[q] = 0
            lc = table[c] if c < LOG1P_TABLE else np.log1p(np.float64(c))
            v = lc * iw[q, 0]
            sq += v * v
            dot += lc * iw[q, 1]
        if sq > 0:
            out[d] = dot / np.sqrt(sq)
    return out


@nb.njit(cache=True, nogil=True)
def _tfidf_rows(indptr, indices, counts, idf):
    """``log1p(count) * idf`` per non-zero, each row scaled to unit L2 norm (float64).

    log1p of small counts from a table of the same ``np.log1p`` values (the score kernel's):
    3x faster on the 48M non-zeros of a 20k-document fit."""
    table = np.empty(LOG1P_TABLE, dtype=np.float64)
    for c in range(LOG1P_TABLE):
        table[c] = np.log1p(np.float64(c))
    out = np.empty(counts.shape[0], dtype=np.float64)
    for r in range(indptr.shape[0] - 1):
        ss = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            c = counts[p]
            lc = table[np.int64(c)] if c < LOG1P_TABLE else np.log1p(np.float64(c))
            v = lc * idf[indices[p]]
            out[p] = v
            ss += v * v
        if ss > 0.0:
            inv = 1.0 / np.sqrt(ss)
            for p in range(indptr[r], indptr[r + 1]):
                out[p] *= inv
    return out


@nb.njit(cache=True, nogil=True)
def _document_frequency(indices, num_buckets):
    """Rows each bucket occurs in (a bucket occurs once per row): ``np.bincount`` without its
    int32 -> int64 copy of the 48M indices, 5x faster."""
    df = np.zeros(num_buckets, dtype=np.float64)
    for i in range(indices.shape[0]):
        df[indices[i]] += 1.0
    return df


def _row_ranges(offsets: np.ndarray, k: int, min_bytes: int = 4 << 20) -> list[tuple[int, int]]:
    """Up to ``k`` consecutive row ranges ``(start, stop)`` of about equal bytes (one range
    below ``min_bytes`` per part: threads would cost more than they save)."""
    n = len(offsets) - 1
    total = int(offsets[-1] - offsets[0])
    k = max(1, min(k, n, total // min_bytes))
    bounds = np.searchsorted(offsets, offsets[0] + np.arange(1, k) * (total / k))
    edges = [0, *sorted({int(min(max(b, 1), n - 1)) for b in bounds}), n] if k > 1 else [0, n]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a] or [(0, n)]


def char_csr(texts: pa.Array, num_buckets: int, lo: int, hi: int):
    """Per-document hashed char ``lo``-``hi``-gram counts as a scipy CSR matrix (float32)."""
    return char_csr_rows([(texts, None)], num_buckets, lo, hi)


def char_csr_rows(
    pieces: list[tuple[pa.Array, np.ndarray | None]], num_buckets: int, lo: int, hi: int
):
    """:func:`char_csr` of the rows of several arrays stacked: ``(texts, rows)`` pieces, in
    order, ``rows`` (sorted) or None for all. The rows are read where they are: a seeded
    subset and the target-plus-sample stack of the fit cost no copy of the text (taking
    20,000 of 20,011 sampled documents copied 70 MB: 0.29 s)."""
    import scipy.sparse as sp

    from thresher.engine.local import driver_threads

    cls, lower = unicode_tables()
    # The fit runs in the driver while the workers wait: the kernel releases the GIL, so
    # row ranges of about equal bytes go to one thread per core (20k documents of the bench
    # corpus: 2.7 s of CPU on one core).
    jobs = []
    for texts, rows in pieces:
        offsets, data = arrow_buffers(texts)
        if rows is None:
            starts, ends = offsets[:-1], offsets[1:]
        else:
            rows = np.asarray(rows, dtype=np.int64)
            starts, ends = offsets[rows], offsets[rows + 1]
        cum = np.concatenate([[0], np.cumsum(ends - starts)])
        for a, b in _row_ranges(cum, driver_threads()):
            jobs.append((starts[a:b], ends[a:b], data))
    with ThreadPoolExecutor(max(1, min(len(jobs), driver_threads()))) as pool:
        parts = list(
            pool.map(
                lambda j: _char_csr_kernel(
                    j[0], j[1], j[2], cls, lower, num_buckets, lo, hi, _DEBRUIJN_BIT
                ),
                jobs,
            )
        )
    ptrs, shift = [parts[0][0]], parts[0][0][-1]
    for p in parts[1:]:
        ptrs.append(p[0][1:] + shift)
        shift += p[0][-1]
    indptr = np.concatenate(ptrs)
    ind = np.concatenate([p[1] for p in parts])
    cnt = np.concatenate([p[2] for p in parts])
    if indptr[-1] < 2**31:  # int32 index arrays throughout: scipy would copy mixed dtypes
        indptr = indptr.astype(np.int32)
    else:
        ind = ind.astype(np.int64)
    mat = sp.csr_matrix((cnt, ind, indptr), shape=(len(indptr) - 1, num_buckets))
    mat.has_sorted_indices = True  # the kernel sorts each row
    return mat


def _seeded_rows(n: int, k: int, seed: int) -> np.ndarray | None:
    """A seeded random ``k`` of ``n`` rows, sorted; None (all of them) when ``n <= k``."""
    if n <= k:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def _seeded_subset(texts: pa.Array, k: int, seed: int) -> pa.Array:
    """At most ``k`` of ``texts``: all of them, or a seeded random subset in their order."""
    rows = _seeded_rows(len(texts), k, seed)
    return texts if rows is None else texts.take(pa.array(rows))


class ClassifierScorer(BaseScorer):
    """Linear model on hashed n-gram features; higher means more target-like."""

    name = "classifier"
    fit_imports = ("sklearn.linear_model",)
    slow_fit = True  # liblinear on one core, ~3 s on 20k documents (and a BETR teacher's fit)

    def __init__(
        self,
        num_buckets: int | None = None,
        ngrams: int = 2,
        C: float = 1.0,
        features: Literal["char", "word"] = "char",
        char_ngrams: tuple[int, int] = (3, 4),
        teacher: Any = None,
        teacher_sample: int = 20_000,
        teacher_mode: Literal["regress", "classify"] = "classify",
        teacher_top: float | None = None,
        teacher_options: dict | None = None,
        alpha: float = 1.0,
        max_negatives: int = 20_000,
        seed: int = 0,
    ) -> None:
        if teacher_mode not in ("regress", "classify"):
            raise ValueError("teacher_mode must be 'regress' or 'classify'")
        if features not in ("char", "word"):
            raise ValueError("features must be 'char' or 'word'")
        lo, hi = (int(v) for v in char_ngrams)
        if not 1 <= lo <= hi <= 8:
            raise ValueError("char_ngrams must be (lo, hi) with 1 <= lo <= hi <= 8")
        self.features = features
        self.char_ngrams = (lo, hi)
        if num_buckets is None:
            num_buckets = 2**18
        self.num_buckets = int(num_buckets)
        self.hasher = NgramHasher(self.num_buckets, ngrams)
        self.C = float(C)
        self.teacher = teacher
        self.teacher_sample = int(teacher_sample)
        self.teacher_mode = teacher_mode
        if teacher_top is not None and not 0.0 < float(teacher_top) < 1.0:
            raise ValueError("teacher_top must be a fraction in (0, 1)")
        self.teacher_top = None if teacher_top is None else float(teacher_top)
        self.expected_fraction: float | None = None  # set by the pipeline, see expect_fraction
        self.teacher_options = dict(teacher_options or {})
        self.alpha = float(alpha)
        if int(max_negatives) < 1:
            raise ValueError("max_negatives must be >= 1")
        self.max_negatives = int(max_negatives)
        self.seed = int(seed)
        self.idf: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: float = 0.0
        self.teacher_stats: dict | None = None
        self._w_idf: np.ndarray | None = None  # (idf, coef * idf) rows, for scoring (not pickled)
        # The n-gram hashes a fitted model's weights belong to (a checkpoint of an older
        # thresher, taken up by --resume, must not be scored with another hash).
        self.char_hash = CHAR_HASH_VERSION
        self.word_hash = WORD_HASH_VERSION

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_w_idf"] = None
        if not isinstance(state["teacher"], str | type(None)):
            state["teacher"] = getattr(state["teacher"], "name", "teacher")  # keep only the name
        return state

    @property
    def fit_sample_docs(self) -> int | None:  # type: ignore[override]
        """A classifier uses ``max_negatives`` raw documents; a student leaves it to the teacher."""
        return self.max_negatives if self.teacher is None else None

    def expect_fraction(self, fraction: float) -> None:
        """The share of the corpus the run will select: the student's default ``teacher_top``."""
        self.expected_fraction = float(fraction)

    def report(self) -> dict[str, Any]:
        """A BETR student's teacher: its fit time, scoring speed and top share (``teacher``)."""
        return {"teacher": self.teacher_stats} if self.teacher_stats else {}

    def resolved_teacher_top(self, n_scored: int) -> float:
        """``teacher_top``, else the expected selected fraction, else 0.05; >= 20 positives."""
        top = self.teacher_top
        if top is None:
            top = self.expected_fraction if self.expected_fraction else 0.05
        return float(np.clip(top, min(20 / max(n_scored, 1), 0.5), 0.5))

    # ------------------------------------------------------------- features
    def _counts(self, texts: pa.Array):
        texts = as_string_array(texts)
        if self.features == "word":
            return self.hasher.csr(texts)
        return char_csr(texts, self.num_buckets, *self.char_ngrams)

    def _transform(self, x):
        """log1p counts * idf, rows L2-normalized (on a fresh CSR; one numba pass: the
        scipy expression took 2 s for the 45M non-zeros of 20k documents)."""
        assert self.idf is not None
        x.data = _tfidf_rows(x.indptr, x.indices, x.data, self.idf)
        return x

    def _fit_idf(self, x, first: int = 0) -> None:
        """IDF of the raw sample (rows ``first:`` of ``x``): what is common in the corpus being
        scored weighs little."""
        df = _document_frequency(x.indices[x.indptr[first] :], self.num_buckets)
        self.idf = np.log((1.0 + x.shape[0] - first) / (1.0 + df)) + 1.0

    # ------------------------------------------------------------------ fit
    def fit(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        target = as_string_array(target)
        sample = as_string_array(sample)
        if len(target) == 0:
            raise ValueError("the target has no documents")
        if len(sample) == 0:
            raise ValueError("the raw sample has no documents")
        self._w_idf = None
        if self.teacher is None:
            return self._fit_classifier(target, sample)
        return self._fit_student(target, sample)

    def _fit_classifier(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        rows = _seeded_rows(len(sample), self.max_negatives, self.seed)
        nt = len(target)
        # One matrix, target rows first, the sample's chosen rows read where they are.
        if self.features == "char":
            x = char_csr_rows([(target, None), (sample, rows)], self.num_buckets, *self.char_ngrams)
        else:
            sub = sample if rows is None else sample.take(pa.array(rows))
            large = pa.large_string()
            x = self._counts(pa.concat_arrays([target.cast(large), sub.cast(large)]))
        self._fit_idf(x, first=nt)
        x = self._transform(x)
        y = np.r_[np.ones(nt), np.zeros(x.shape[0] - nt)]
        clf = self._logistic(x)
        clf.fit(x, y)
        self.coef = clf.coef_.ravel().astype(np.float32)
        self.intercept = float(clf.intercept_[0])
        return self

    def _logistic(self, x):
        """L2 logistic regression, balanced classes, at ``C`` (liblinear).

        With fewer documents than features (20k negatives, 2**18 buckets) liblinear's dual
        coordinate descent reaches the same weights as its primal Newton solver in a third
        of the time (on 20k docs of the 1 GB bench corpus: 3.1 s against 9.5 s of CPU,
        correlation of the scores 1 - 1e-11, the same top 10%); sklearn's advice too.
        (Averaged SGD was faster still but lost up to 0.085 precision@k on the bench pools.)

        Stopping tolerance 1e-2 (scikit-learn's default is 1e-4, liblinear's own for this
        solver 0.1): on the same 20k documents the fit takes 2.6 s less CPU with the same top
        10% of 30k held-out documents, and the bench pools' precision@k is the same on all
        five targets (at 0.1 one target moves by 0.008).
        """
        from sklearn.linear_model import LogisticRegression

        dual = x.shape[0] < x.shape[1]
        return LogisticRegression(
            C=self.C,
            class_weight="balanced",
            solver="liblinear",
            dual=dual,
            max_iter=1000,
            tol=1e-2,
            random_state=self.seed,  # the dual visits the documents in a seeded random order
        )

    def _fit_student(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        from sklearn.linear_model import Ridge

        from thresher.scorers import make_scorer

        teacher = self.teacher
        if isinstance(teacher, str):
            teacher = make_scorer(teacher, **self.teacher_options)
        t0 = time.perf_counter()
        teacher = teacher.fit(target, sample)
        fit_s = time.perf_counter() - t0
        sub = _seeded_subset(sample, self.teacher_sample, self.seed)
        t0 = time.perf_counter()
        ts = np.asarray(teacher.score(sub), dtype=np.float64)
        score_s = time.perf_counter() - t0
        self.teacher_stats = {
            "teacher": getattr(teacher, "name", str(self.teacher)),
            "fit_seconds": fit_s,
            "scored_docs": len(sub),
            "score_seconds": score_s,
            "docs_per_s": len(sub) / score_s if score_s > 0 else None,  # JSON has no inf
        }
        xs = self._counts(sub)
        self._fit_idf(xs)
        x = self._transform(xs)
        if self.teacher_mode == "regress":
            z = (ts - ts.mean()) / (ts.std() or 1.0)
            model = Ridge(alpha=self.alpha, solver="sparse_cg", random_state=self.seed)
            model.fit(x, np.clip(z, -5.0, 5.0))
            self.coef = model.coef_.ravel().astype(np.float32)
            self.intercept = float(model.intercept_)
        else:
            top = self.resolved_teacher_top(len(ts))
            self.teacher_stats["teacher_top"] = top
            # The teacher's top ``top`` fraction (ties broken by position, deterministically).
            order = np.argsort(-ts, kind="stable")
            y = np.zeros(len(ts), dtype=bool)
            y[order[: max(1, int(round(top * len(ts))))]] = True
            if y.all() or not y.any():
                raise ValueError("teacher_top leaves one class empty")
            clf = self._logistic(x)
            clf.fit(x, y)
            self.coef = clf.coef_.ravel().astype(np.float32)
            self.intercept = float(clf.intercept_[0])
        return self

    # ---------------------------------------------------------------- score
    def _check_hash(self) -> None:
        """Refuse weights fitted on another hash of the features (pickled before a version
        was recorded: version 1)."""
        kind, now = (
            ("char", CHAR_HASH_VERSION) if self.features == "char" else ("word", WORD_HASH_VERSION)
        )
        fitted_with = getattr(self, f"{kind}_hash", 1)
        if fitted_with != now:
            raise RuntimeError(
                f"this classifier was fitted by another thresher version ({kind} n-gram hash "
                f"{fitted_with}, this one hashes with {now}): fit it again (run without "
                "--resume)"
            )

    def score(self, texts: pa.Array) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("ClassifierScorer.score called before fit")
        texts = as_string_array(texts)
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float32)
        self._check_hash()
        if self.features == "char":
            assert self.idf is not None
            offsets, data = arrow_buffers(texts)
            cls, lower = unicode_tables()
            if self._w_idf is None:
                w_idf = (self.coef.astype(np.float64) * self.idf).astype(np.float64)
                self._w_idf = np.ascontiguousarray(np.stack([self.idf, w_idf], axis=1))
            s = _char_score_kernel(offsets, data, cls, lower, self._w_idf, *self.char_ngrams)
            return (s + self.intercept).astype(np.float32)
        x = self._transform(self._counts(texts))
        return (x @ self.coef + self.intercept).astype(np.float32)
