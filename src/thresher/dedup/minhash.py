"""MinHash signatures of word n-gram shingles, computed in numba over Arrow buffers.

Tokenization (inside the kernel, on the UTF-8 bytes, no Python per token):

* ASCII letters are lowercased; ASCII ``[a-z0-9]`` are word characters; every other ASCII
  byte (whitespace, punctuation, symbols, control characters) separates words.
* Non-ASCII bytes are word characters (so ``café``, ``naïve``, ``Straße``, CJK runs are
  kept whole; non-ASCII letters are *not* case-folded), except these common non-ASCII
  separators: U+0080..U+00BF (C2 xx: NBSP, ``« » ¿ ¡ ° §``...), the General Punctuation
  block U+2000..U+207F (E2 80/81 xx: typographic spaces, dashes, curly quotes, ellipsis,
  bullets) and CJK symbols and punctuation U+3000..U+303F (E3 80 xx).
* A shingle is ``ngram`` consecutive words; a document with ``1 <= words < ngram`` has one
  shingle (all its words); a document with no word has the all-``UINT64_MAX`` signature
  (so all such documents collide: they are empty for dedup purposes).

Hashing: a word is hashed with FNV-1a 64 over its (lowercased) bytes then murmur3's
``fmix64``; a shingle hash chains its words' hashes (order-sensitive) and ends with
``fmix64``.  Permutation ``k`` is ``v = fmix_lite(a_k * h + b_k mod 2**64)`` with ``a_k`` odd
(a bijection of 64-bit integers) and ``(a_k, b_k)`` drawn from ``numpy.random.default_rng(
seed)``: seedable and deterministic on every platform.  The signature is the per-permutation
minimum.  Band keys hash each band's ``rows`` values together with the band index, so equal
keys in different bands never mean anything.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numba as nb
import numpy as np
import pyarrow as pa

from ._arrow import string_buffers

__all__ = [
    "MinHashParams",
    "optimal_param",
    "signatures",
    "band_keys",
    "estimate_jaccard",
    "shingle_hashes",
]

_U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
#: With verification, the LSH S-curve is tuned this much below the threshold (see
#: :class:`MinHashParams`).
CANDIDATE_MARGIN = 0.1


def _collision_probability(s: np.ndarray, bands: int, rows: int) -> np.ndarray:
    return 1.0 - (1.0 - s**rows) ** bands


@functools.lru_cache(maxsize=64)  # ~35 ms of trapezoids per call; every stage build asks
def optimal_param(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimising the weighted error.

    As in datasketch's ``_optimal_param``: for a band/row split the probability that two
    documents of Jaccard similarity ``s`` share at least one bucket is
    ``P(s) = 1 - (1 - s**rows)**bands``.  The false-positive area is ``∫_0^t P(s) ds``
    and the false-negative area ``∫_t^1 (1 - P(s)) ds``; we pick the split minimising
    ``fp_weight * FP + fn_weight * FN`` (integrals by the trapezoid rule on 2001 points).
    Ties go to the split using fewer permutations, then to more rows (fewer buckets).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    best: tuple[float, int, int] | None = None
    lo = np.linspace(0.0, threshold, 2001)
    hi = np.linspace(threshold, 1.0, 2001)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(_collision_probability(lo, bands, rows), lo)
            fn = np.trapezoid(1.0 - _collision_probability(hi, bands, rows), hi)
            err = false_positive_weight * fp + false_negative_weight * fn
            key = (round(err, 12), bands * rows, bands)
            if best is None or key < best[0]:
                best = (key, bands, rows)  # type: ignore[assignment]
    assert best is not None
    return best[1], best[2]


@dataclass(frozen=True)
class MinHashParams:
    """MinHash/LSH settings; picklable, hashable, deterministic.

    ``verify`` asks the reduce step to keep only candidate pairs whose signature agreement
    is ``>= threshold``.  ``bands``/``rows`` default to :func:`optimal_param` for
    ``threshold`` and ``num_perm``, or, when verifying, for ``threshold - CANDIDATE_MARGIN``:
    the LSH then over-generates candidates (its S-curve sits 0.1 lower) and the signature
    check makes the decision, which is what lets the defaults catch 5%-edited copies
    (word 3-gram Jaccard ~0.7) without merging distinct documents (bench/dedup_edits.py).

    Defaults: threshold 0.6, word 3-grams, 128 permutations, verification on, 25 bands of
    5 rows (the S-curve of :func:`optimal_param` for 0.5: P(candidate) 0.55 at J 0.5,
    0.87 at 0.6, 0.99 at 0.7).
    """

    threshold: float = 0.6
    num_perm: int = 128
    ngram: int = 3
    seed: int = 1
    bands: int | None = None
    rows: int | None = None
    false_positive_weight: float = 0.5
    false_negative_weight: float = 0.5
    verify: bool = True
    _perm: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is None:
            lsh_threshold = self.threshold
            if self.verify:
                lsh_threshold = max(0.05, self.threshold - CANDIDATE_MARGIN)
            b, r = optimal_param(
                lsh_threshold,
                self.num_perm,
                self.false_positive_weight,
                self.false_negative_weight,
            )
            object.__setattr__(self, "bands", b)
            object.__setattr__(self, "rows", r)
        assert self.bands is not None and self.rows is not None
        if self.bands < 1 or self.rows < 1 or self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"need 1 <= bands*rows <= num_perm, got {self.bands}*{self.rows} > {self.num_perm}"
            )
        rng = np.random.default_rng(self.seed)
        a = rng.integers(0, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(
            1
        )
        b = rng.integers(0, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2)
        b |= rng.integers(0, 2, size=self.num_perm, dtype=np.uint64)
        object.__setattr__(self, "_perm", (a, b))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_perm", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    @property
    def s_curve_midpoint(self) -> float:
        """Similarity at which two documents share a bucket with probability ~50%."""
        assert self.bands and self.rows
        return (1.0 / self.bands) ** (1.0 / self.rows)

    def collision_probability(self, s: float | np.ndarray) -> float | np.ndarray:
        assert self.bands and self.rows
        return _collision_probability(np.asarray(s, dtype=np.float64), self.bands, self.rows)


# --------------------------------------------------------------------------- kernels

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S29 = np.uint64(29)
_S32 = np.uint64(32)
_S33 = np.uint64(33)


@nb.njit(inline="always")
def _fmix64(k):
    k ^= k >> _S33
    k *= _M1
    k ^= k >> _S33
    k *= _M2
    k ^= k >> _S33
    return k


@nb.njit(inline="always")
def _sep_len(data, p, end):
    """0 if data[p] starts a word character, else the byte length of the separator."""
    c = data[p]
    if c < 128:
        if (97 <= c <= 122) or (48 <= c <= 57) or (65 <= c <= 90):
            return 0
        return 1
    if c == 0xC2 and p + 1 < end and data[p + 1] >= 0x80 and data[p + 1] <= 0xBF:
        return 2
    if c == 0xE2 and p + 2 < end and (data[p + 1] == 0x80 or data[p + 1] == 0x81):
        return 3
    if c == 0xE3 and p + 2 < end and data[p + 1] == 0x80:
        return 3
    return 0


@nb.njit(inline="always")
def _shingle(ring, total, n):
    """Hash of the last ``n`` words (oldest first) held in ring buffer ``ring``."""
    k = ring.shape[0]
    s = _GOLD
    for j in range(n):
        s = (s ^ ring[(total - n + j) % k]) * _M1
        s ^= s >> _S29
    return _fmix64(s)


@nb.njit(inline="always")
def _apply(sig, i, s, a, b):
    for k in range(a.shape[0]):
        v = s * a[k] + b[k]
        v ^= v >> _S32
        v *= _M2
        if v < sig[i, k]:
            sig[i, k] = v


@nb.njit(cache=True, nogil=True)
def _signatures_kernel(starts, ends, data, ngram, a, b):
    n = starts.shape[0]
    sig = np.empty((n, a.shape[0]), dtype=np.uint64)
    sig[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
    ring = np.zeros(ngram, dtype=np.uint64)
    for i in range(n):
        p = starts[i]
        end = ends[i]
        total = 0
        in_word = False
        wh = _FNV_OFFSET
        while p <= end:
            # past the end: a virtual separator closes the last word
            sl = _sep_len(data, p, end) if p < end else 1
            if sl == 0:
                c = data[p]
                if 65 <= c <= 90:
                    c += 32
                wh = (wh ^ np.uint64(c)) * _FNV_PRIME
                in_word = True
                p += 1
            else:
                if in_word:
                    ring[total % ngram] = _fmix64(wh)
                    total += 1
                    if total >= ngram:
                        _apply(sig, i, _shingle(ring, total, ngram), a, b)
                    in_word = False
                    wh = _FNV_OFFSET
                p += sl
        if 0 < total < ngram:
            _apply(sig, i, _shingle(ring, total, total), a, b)
    return sig


@nb.njit(cache=True, nogil=True)
def _shingles_kernel(starts, ends, data, ngram):
    """All shingle hashes of every document (for tests/evaluation): (hashes, doc offsets)."""
    n = starts.shape[0]
    cap = 16
    out = np.empty(cap, dtype=np.uint64)
    offs = np.zeros(n + 1, dtype=np.int64)
    m = 0
    ring = np.zeros(ngram, dtype=np.uint64)
    for i in range(n):
        p = starts[i]
        end = ends[i]
        total = 0
        in_word = False
        wh = _FNV_OFFSET
        while p <= end:
            sl = _sep_len(data, p, end) if p < end else 1
            if sl == 0:
                c = data[p]
                if 65 <= c <= 90:
                    c += 32
                wh = (wh ^ np.uint64(c)) * _FNV_PRIME
                in_word = True
                p += 1
            else:
                if in_word:
                    ring[total % ngram] = _fmix64(wh)
                    total += 1
                    if total >= ngram:
                        if m == cap:
                            cap *= 2
                            new = np.empty(cap, dtype=np.uint64)
                            new[:m] = out[:m]
                            out = new
                        out[m] = _shingle(ring, total, ngram)
                        m += 1
                    in_word = False
                    wh = _FNV_OFFSET
                p += sl
        if 0 < total < ngram:
            if m == cap:
                cap *= 2
                new = np.empty(cap, dtype=np.uint64)
                new[:m] = out[:m]
                out = new
            out[m] = _shingle(ring, total, total)
            m += 1
        offs[i + 1] = m
    return out[:m], offs


@nb.njit(cache=True, nogil=True)
def _band_keys_kernel(sig, bands, rows, seed):
    n = sig.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for i in range(n):
        for bi in range(bands):
            s = _fmix64(seed ^ (np.uint64(bi + 1) * _GOLD))
            base = bi * rows
            for r in range(rows):
                s = _fmix64(s ^ sig[i, base + r]) + np.uint64(r)
            out[i, bi] = s
    return out


# --------------------------------------------------------------------------- API


def signatures(
    texts: pa.Array | pa.ChunkedArray | Sequence[str], params: MinHashParams | None = None
) -> np.ndarray:
    """MinHash signatures, ``uint64`` of shape ``(len(texts), params.num_perm)``."""
    params = params or MinHashParams()
    starts, ends, data = string_buffers(texts)
    a, b = params._perm
    return _signatures_kernel(starts, ends, data, np.int64(params.ngram), a, b)


def band_keys(sigs: np.ndarray, params: MinHashParams | None = None) -> np.ndarray:
    """LSH bucket keys, ``uint64`` of shape ``(n, params.bands)``: one hash per band's rows."""
    params = params or MinHashParams()
    sigs = np.ascontiguousarray(sigs, dtype=np.uint64)
    if sigs.ndim != 2 or sigs.shape[1] != params.num_perm:
        raise ValueError(f"expected signatures of shape (n, {params.num_perm}), got {sigs.shape}")
    return _band_keys_kernel(sigs, params.bands, params.rows, np.uint64(params.seed))


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Fraction of agreeing signature values (row-wise for 2-D inputs)."""
    eq = np.asarray(sig_a) == np.asarray(sig_b)
    return eq.mean(axis=-1)


def shingle_hashes(
    texts: pa.Array | pa.ChunkedArray | Sequence[str], ngram: int = 5
) -> list[np.ndarray]:
    """The (unique) shingle hashes of each document, as the kernel sees them.

    For tests and evaluation (exact Jaccard); not used on the fast path.
    """
    starts, ends, data = string_buffers(texts)
    hashes, offs = _shingles_kernel(starts, ends, data, np.int64(ngram))
    return [np.unique(hashes[offs[i] : offs[i + 1]]) for i in range(len(starts))]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique hash arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
