"""fastText supervised-model inference (lid.176.ftz) in numba, over a whole Arrow string column.

Why hand-written: ``fasttext-predict`` (the fastText C++ code behind a pybind wrapper) costs
~170 ns per character on lid.176.ftz, and most of it is not arithmetic: each document is
copied from Python into a ``std::string`` and a ``stringstream``, tokenized through an
``istream``, and every word and every character n-gram of it becomes a heap-allocated
``std::string``; there is one Python -> C++ call per document, and no batch call returns
probabilities (``multilinePredict`` returns labels only). The model itself is tiny (16
dimensions, product-quantized input rows, a hierarchical softmax over 176 labels), so a kernel
that walks the UTF-8 bytes of an Arrow column in place, hashes n-grams incrementally and adds
the rows as it goes does the same work many times faster, with no allocation per document.

What it reproduces (fastText 0.9.2 as vendored in fasttext-predict 0.9.2.4: ``Dictionary::
readWord``/``getLine``/``computeSubwords``/``pushHash``, ``Model::computeHidden``,
``QuantMatrix``/``ProductQuantizer::addcode``/``mulcode``, ``HierarchicalSoftmaxLoss::
buildTree``/``dfs``, ``FastText::predictLine``), step by step and in float32, so the answer is
that of ``model.f.predict(text + "\\n", k, 0.0)`` up to float32 rounding (below):

* tokens are split at `` \\n\\r\\t\\v\\f\\0``; the line ends with the ``</s>`` token (the
  newline the caller appends; newlines inside the text count as spaces, as the language
  filter replaces them); a literal ``</s>`` token ends the line, as in fastText;
* a known word adds its own row and its n-gram rows; an unknown word adds the rows of the
  character n-grams (``minn``..``maxn`` UTF-8 characters) of ``<word>``, hashed with FNV-1a
  over sign-extended bytes (fastText's int8 quirk), ``% bucket``, mapped through the pruned
  index (n-grams the quantization dropped add nothing); ``__label__`` tokens add nothing;
* the hidden vector is the sum of the rows times ``float(1 / count)``;
* the hierarchical softmax is walked depth-first from the root (left before right),
  ``f = 1 / (1 + expf(-dot))``, scores summed as ``log(p + 1e-5)`` (exact ``log``, not the
  lookup table), branches below ``log(1e-5)`` (threshold 0) pruned; with ``k=1`` also the
  branches below the best leaf so far, exactly as fastText's heap does; the probability is
  ``expf(score)``.

The one departure: fastText adds a word's rows to the running hidden sum one by one (~3 rows
per character); the kernel adds ONE vector per word, the word's rows summed in float32 from
zero in fastText's order (known words: made at load; unknown words: made on first sight). The
float32 roundings differ, so the probabilities are not bit-identical: on the 16,541-document
bench pool the top label and the keep/drop decisions are fastText's for every document and
the largest probability difference is 2.2e-6 (tests/test_langid_kernel.py asserts <= 1e-5).

Where the time goes, and what changes no sum:

* word vectors are kept per thread from call to call in two direct-mapped caches keyed by the
  word's own bytes (up to 32): a near one of 4,096 slots (in the L2 cache) and a far one of
  262,144 (27 MB, once the thread has identified 16 MB; 4,096 slots until then); on real web text ~72% of words are found near, ~18% far, ~10% are made (a
  word's vector does not depend on what else was seen, so the answers are the same bytes for
  any batch split and any cache state);
* words are read 64 ahead of their lookup and their far slots prefetched (a word is ~100
  instructions: without it the CPU waits for each far line in turn); a word's end is found 8
  bytes at a time;
* an unknown word's n-gram buckets are hashed first, then mapped through the pruned index (a
  rank bitmap, 500 KB, over rows stored in bucket order: a pruned n-gram adds the zero row
  without a branch) and their rows summed in one vector register (``_sum_rows16``);
* the arrays are used through borrowed views: numba otherwise counts a reference (two atomic
  operations) each time an array enters an inlined helper, ~10% of the time.

Not supported (refused at load): unquantized ``.bin`` models, losses other than ``hs``,
``wordNgrams`` > 1.

Cost: ~10 ns per character from a cold start (9.9 on the bench pool, against fasttext-
predict's 129: 13x; 16-18 before the word caches, the read-ahead and the register sums),
bench/results/langid.md; compiling the kernels the first time after an install takes ~5 s (``cache=True``:
later processes load them in ~0.3 s), reading the model ~0.5 s per process.

bench/langid.py measures it against fasttext-predict (agreement per language and time per
document); tests/test_langid_kernel.py checks the answers against fastText on real and odd text.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numba as nb
import numpy as np
import pyarrow as pa
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from thresher._intrinsics import ctz as _ctz
from thresher._intrinsics import load_u64 as _load_u64
from thresher.text.ngrams import arrow_buffers

_MAGIC = 793712314
_LABEL_PREFIX = b"__label__"
_LABEL_PREFIX_ARRAY = np.frombuffer(_LABEL_PREFIX, dtype=np.uint8)
_EOS = b"</s>"
_LOSS_HS = 1
_MODEL_SUP = 3
_KSUB = 256  # ProductQuantizer: 8 bits per code

_LOCK = threading.Lock()
_CACHE: dict[str, FastTextModel] = {}


@dataclass(frozen=True)
class FastTextModel:
    """The arrays of a quantized supervised fastText model with a hierarchical softmax.

    ``input_rows`` is the input matrix dequantized row by row: ``norm * centroid`` products,
    the very float32 values fastText's ``addcode`` adds (so the sums are identical) - one
    cache line per row instead of a code lookup per 2 dimensions.
    """

    dim: int
    minn: int
    maxn: int
    bucket: int
    nwords: int
    labels: tuple[str, ...]  # without the __label__ prefix, in the model's label order
    vocab_bytes: np.ndarray  # uint8: the words, concatenated
    vocab_offsets: np.ndarray  # int64 [size + 1]
    vocab_is_label: np.ndarray  # bool [size]
    vocab_table: np.ndarray  # int32 open-addressing table of word ids by FNV hash, -1 empty
    subword_offsets: np.ndarray  # int64 [nwords + 1]: a known word's rows (itself + n-grams)
    subword_rows: np.ndarray  # int32
    word_vectors: np.ndarray  # float32 [nwords, dim]: the sum of each known word's rows
    word_counts: np.ndarray  # int64 [nwords]: how many rows that sum holds
    ngram_table: np.ndarray  # uint64 per 32 buckets: kept ones before << 32 | kept bitmap
    ngram_identity: bool  # an unpruned model: bucket b is input row nwords + b
    input_rows: np.ndarray  # float32 [rows + 1, dim]: the last row is zeros (a pruned n-gram)
    output: np.ndarray  # float32 [nlabels, dim]: the centroids when quantized (no norm)
    output_quantized: bool
    output_norms: np.ndarray  # float32 [nlabels]: mulcode multiplies the dot by it (1 if dense)
    tree_left: np.ndarray  # int32 [2 * nlabels - 1]
    tree_right: np.ndarray
    eos_id: int  # word id of </s>, -1 when not in the vocabulary

    @property
    def nlabels(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------- model file reader
class _Reader:
    def __init__(self, data: bytes, path: str):
        self.data, self.pos, self.path = data, 0, path

    def take(self, dtype: str, count: int = 1) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def scalar(self, dtype: str) -> int | float:
        return self.take(dtype)[0].item()


def _fnv1a(word: bytes) -> int:
    """fastText's ``Dictionary::hash``: FNV-1a over the bytes read as *signed* chars."""
    h = 2166136261
    for b in word:
        h = ((h ^ (b | 0xFFFFFF00 if b >= 0x80 else b)) * 16777619) & 0xFFFFFFFF
    return h


def _read_quant_matrix(r: _Reader, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``QuantMatrix::load``; returns (rows as addcode adds them, codes, centroids per subq)."""
    qnorm = bool(r.scalar("u1"))
    m, n = int(r.scalar("<i8")), int(r.scalar("<i8"))
    codesize = int(r.scalar("<i4"))
    codes = r.take("u1", codesize)
    pq_dim, nsubq, dsub, lastdsub = (int(r.scalar("<i4")) for _ in range(4))
    centroids = r.take("<f4", pq_dim * _KSUB)
    if n != dim or pq_dim != dim or codesize != m * nsubq:
        raise ValueError(f"{r.path}: inconsistent quantized matrix ({m}x{n}, {nsubq} subq)")
    norms = np.ones(m, dtype=np.float32)
    if qnorm:
        norm_codes = r.take("u1", m)
        _npq_dim, _npq_nsubq, _npq_dsub, _npq_last = (int(r.scalar("<i4")) for _ in range(4))
        norm_centroids = r.take("<f4", _npq_dim * _KSUB)
        norms = norm_centroids[norm_codes.astype(np.int64) * _npq_last].astype(np.float32)
    # get_centroids(m, i): (m * ksub + i) * dsub, the last subquantizer m * ksub * dsub + i * last
    dense = np.empty((m, dim), dtype=np.float32)
    codes2 = codes.reshape(m, nsubq).astype(np.int64)
    for q in range(nsubq):
        d = lastdsub if q == nsubq - 1 else dsub
        base = q * _KSUB * dsub
        idx = base + codes2[:, q : q + 1] * d + np.arange(d)
        dense[:, q * dsub : q * dsub + d] = centroids[idx]
    # addcode adds alpha * c[n] with alpha = norm: the same float32 product, made once here
    rows = (norms[:, None] * dense).astype(np.float32)
    return rows, dense, norms


def _build_tree(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``HierarchicalSoftmaxLoss::buildTree`` (a Huffman tree over the label counts)."""
    osz = len(counts)
    size = 2 * osz - 1
    left = np.full(size, -1, dtype=np.int32)
    right = np.full(size, -1, dtype=np.int32)
    count = [10**15] * size  # fastText's 1e15 sentinel, as int64
    for i in range(osz):
        count[i] = int(counts[i])
    leaf, node = osz - 1, osz
    for i in range(osz, size):
        mini = [0, 0]
        for j in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini[j] = leaf
                leaf -= 1
            else:
                mini[j] = node
                node += 1
        left[i], right[i] = mini
        count[i] = count[mini[0]] + count[mini[1]]
    return left, right


def _ngram_bitmap(buckets: np.ndarray, nbuckets: int) -> np.ndarray:
    """Which n-gram buckets the pruning kept, as a rank bitmap: per 32 buckets one uint64, the
    number of kept buckets before them << 32 | a bit per kept bucket. A kept bucket's row is
    ``nwords + rank`` (the rows are stored in bucket order); 8 bytes per 32 buckets keep the
    table in the L2 cache, and a pruned n-gram costs no branch.
    """
    bits = np.zeros((nbuckets + 31) // 32, dtype=np.uint64)
    np.bitwise_or.at(bits, buckets >> 5, np.uint64(1) << (buckets & 31).astype(np.uint64))
    counts = np.bitwise_count(bits) if hasattr(np, "bitwise_count") else None
    if counts is None:
        counts = np.array([int(x).bit_count() for x in bits.tolist()], dtype=np.uint64)
    before = np.concatenate([[0], np.cumsum(counts.astype(np.uint64))[:-1]]).astype(np.uint64)
    return (before << np.uint64(32)) | bits


def load_model(path: str) -> FastTextModel:
    """Read a quantized supervised fastText model file (``.ftz``) such as lid.176.ftz.

    Only what lid.176 uses is supported (supervised, hierarchical softmax, word n-grams 1,
    quantized input): anything else is refused with the reason, not mispredicted.
    """
    with open(path, "rb") as f:
        r = _Reader(f.read(), path)
    magic, version = int(r.scalar("<i4")), int(r.scalar("<i4"))
    if magic != _MAGIC or version > 12:
        raise ValueError(f"{path}: not a fastText model file (magic {magic}, version {version})")
    dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr = (
        int(x) for x in r.take("<i4", 12)
    )
    r.take("<f8", 1)  # t (sampling threshold): training only
    if model != _MODEL_SUP or loss != _LOSS_HS or word_ngrams != 1 or version < 12:
        raise ValueError(
            f"{path}: unsupported fastText model (model {model}, loss {loss}, wordNgrams "
            f"{word_ngrams}, version {version}): only supervised hs models with wordNgrams 1"
        )
    size, nwords, nlabels = (int(r.scalar("<i4")) for _ in range(3))
    _ntokens, pruneidx_size = int(r.scalar("<i8")), int(r.scalar("<i8"))
    data = r.data
    words: list[bytes] = []
    counts = np.empty(size, dtype=np.int64)
    is_label = np.empty(size, dtype=np.bool_)
    pos = r.pos
    for i in range(size):
        end = data.index(b"\0", pos)
        words.append(data[pos:end])
        counts[i] = int.from_bytes(data[end + 1 : end + 9], "little", signed=True)
        is_label[i] = data[end + 9] == 1
        pos = end + 10
    r.pos = pos
    prune = r.take("<i4", 2 * max(pruneidx_size, 0)).reshape(-1, 2)
    quant_input = bool(r.scalar("u1"))
    if not quant_input:
        raise ValueError(f"{path}: the input matrix is not quantized (a .bin model): use .ftz")
    input_rows, _, _ = _read_quant_matrix(r, dim)
    qout = bool(r.scalar("u1"))
    if qout:
        _, output_dense, output_norms = _read_quant_matrix(r, dim)
    else:
        m, n = int(r.scalar("<i8")), int(r.scalar("<i8"))
        output_dense = r.take("<f4", m * n).reshape(m, n).copy()
        output_norms = np.ones(m, dtype=np.float32)
    if r.pos != len(data):
        raise ValueError(f"{path}: {len(data) - r.pos} unread bytes at the end of the model")

    # n-gram bucket -> input row (pushHash): every bucket when unpruned; when pruned, the kept
    # rows are moved into bucket order, so a kept bucket's rank in the bitmap is its row
    order = np.argsort(prune[:, 0], kind="stable")
    if pruneidx_size >= 0:
        if len(np.unique(prune[:, 0])) != len(prune) or not np.array_equal(
            np.sort(prune[:, 1]), np.arange(len(prune))
        ):
            raise ValueError(f"{path}: the pruned n-gram index is not a permutation")
        moved = input_rows[nwords + prune[order, 1]]
        input_rows = np.vstack([input_rows[:nwords], moved, input_rows[nwords + len(prune) :]])
    ngram_table = _ngram_bitmap(prune[order, 0].astype(np.int64), bucket)

    # the vocabulary: an open-addressing table over fastText's own word hash
    nslots = 1 << max(4, (2 * size).bit_length())
    table = np.full(nslots, -1, dtype=np.int32)
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=offsets[1:])
    for i, w in enumerate(words):
        slot = _fnv1a(w) & (nslots - 1)
        while table[slot] != -1:
            slot = (slot + 1) & (nslots - 1)
        table[slot] = i
    # a known word's rows (initNgrams): itself, then its n-grams; </s> has no n-grams
    vocab_bytes = np.frombuffer(b"".join(words), dtype=np.uint8)
    eos_id = words.index(_EOS) if _EOS in words[:nwords] else -1
    input_rows = np.vstack([input_rows, np.zeros((1, dim), dtype=np.float32)])
    sub_offsets, sub_rows = _known_word_rows(
        vocab_bytes, offsets, nwords, eos_id, minn, maxn, bucket, ngram_table,
        pruneidx_size < 0, len(input_rows) - 1,
    )  # fmt: skip
    word_vectors = _word_vectors(sub_offsets, sub_rows, input_rows)
    left, right = _build_tree(counts[nwords:size])
    labels = tuple(
        w.decode("utf-8").removeprefix(_LABEL_PREFIX.decode()) for w in words[nwords:size]
    )
    return FastTextModel(
        dim=dim,
        minn=minn,
        maxn=maxn,
        bucket=bucket,
        nwords=nwords,
        labels=labels,
        vocab_bytes=vocab_bytes,
        vocab_offsets=offsets,
        vocab_is_label=is_label,
        vocab_table=table,
        subword_offsets=sub_offsets,
        subword_rows=sub_rows,
        word_vectors=word_vectors,
        word_counts=np.diff(sub_offsets),
        ngram_table=ngram_table,
        ngram_identity=pruneidx_size < 0,
        input_rows=input_rows,
        output=np.ascontiguousarray(output_dense, dtype=np.float32),
        output_quantized=qout,
        output_norms=np.ascontiguousarray(output_norms, dtype=np.float32),
        tree_left=left,
        tree_right=right,
        eos_id=eos_id,
    )


def cached_model(path: str) -> FastTextModel:
    """``load_model`` once per process and path (the arrays are read-only, shared by threads)."""
    model = _CACHE.get(path)
    if model is None:
        with _LOCK:
            model = _CACHE.get(path)
            if model is None:
                model = _CACHE[path] = load_model(path)
    return model


# --------------------------------------------------------------------------------- the kernels
_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_LT, _GT = 0x3C, 0x3E  # "<" and ">", fastText's BOW and EOW
_SPACES = np.uint64((1 << 32) | (0b11111 << 9) | 1)  # the bytes readWord splits at
_CACHED_WORD_BYTES = 32  # words up to this long are kept in the word cache
_NEAR_BITS = 12  # the near word cache: 4,096 slots of 104 bytes, in the L2 cache
_FAR_BITS = 18  # the far one: 2**18 slots, 27 MB per thread ...
_FAR_AFTER_BYTES = 16 << 20  # ... once the thread has identified 16 MB
_WORDS_AHEAD = 64  # words tokenized (and their cache slots prefetched) ahead of their lookup


@nb.njit(cache=True, nogil=True, inline="always")
def _fnv_step(h: int, b: int) -> int:
    # fastText hashes ``uint32_t(int8_t(c))``: a byte >= 0x80 is sign-extended
    x = np.uint64(b) if b < 0x80 else np.uint64(b) | np.uint64(0xFFFFFF00)
    return ((h ^ x) * np.uint64(_FNV_PRIME)) & np.uint64(0xFFFFFFFF)


@nb.njit(cache=True, nogil=True, inline="always")
def _is_space(b: int) -> bool:
    # Dictionary::readWord's separators; "\n" too (the filter reads newlines as spaces)
    # one shift and mask instead of seven comparisons: bits 0, 9-13 and 32 of _SPACES
    return b <= 32 and (_SPACES >> np.uint64(b)) & np.uint64(1) != 0


@nb.njit(cache=True, nogil=True, inline="always")
def _add_row(hidden: np.ndarray, rows: np.ndarray, r: int) -> None:
    for d in range(hidden.shape[0]):
        hidden[d] += rows[r, d]


@nb.njit(cache=True, nogil=True, inline="always")
def _find_word(data, a, b, h, vocab_bytes, vocab_offsets, table) -> int:
    """The word id of ``data[a:b]`` (hash ``h``), or -1."""
    mask = table.shape[0] - 1
    slot = np.int64(h) & mask
    n = b - a
    while table[slot] != -1:
        w = table[slot]
        s = vocab_offsets[w]
        if vocab_offsets[w + 1] - s == n:
            same = True
            for t in range(n):
                if vocab_bytes[s + t] != data[a + t]:
                    same = False
                    break
            if same:
                return w
        slot = (slot + 1) & mask
    return -1


@nb.njit(cache=True, nogil=True, inline="always")
def _mod(h: int, d: int, inv_d: float) -> int:
    """``h % d`` for 0 <= h < 2**32 without a 64-bit division (tens of cycles, three times per
    character): the quotient from a float64 reciprocal is off by at most one, then fixed."""
    r = h - np.int64(np.float64(h) * inv_d) * d
    if r < 0:
        r += d
    elif r >= d:
        r -= d
    return r


@intrinsic
def _popcount(typingctx, x):
    """The number of set bits of an integer: LLVM's ``ctpop`` (one instruction), which numba
    does not expose."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        llty = context.get_value_type(sig.args[0])
        fn = builder.module.declare_intrinsic("llvm.ctpop", [llty])
        return builder.call(fn, [args[0]])

    return x(x), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _ngram_row(b: int, table: np.ndarray, identity: bool, nwords: int, none: int):
    """The input row of n-gram bucket ``b`` (pushHash), or ``none`` when pruned away."""
    if identity:
        return nwords + b
    v = np.int64(table[b >> 5])
    bit = b & 31
    bits = v & 0xFFFFFFFF
    rank = (v >> 32) + _popcount(bits & ((np.int64(1) << bit) - 1))
    return nwords + rank if (bits >> bit) & 1 else none


@intrinsic
def _sum_rows16(typingctx, rows, idx, k, hidden):
    """``hidden += rows[idx[0]]``, then ``rows[idx[1]]``, ... ``rows[idx[k - 1]]``: the sums of
    16-float rows held in one vector register (numba's loop goes through memory, a store and
    a load per row on the critical path: 3.8 ns against 0.8 ns a row, measured). Each lane
    is summed in the same order as the plain loop, so the float32 results are identical."""
    ok = isinstance(rows, types.Array) and rows.ndim == 2 and rows.layout == "C"
    if not (ok and rows.dtype == types.float32 and hidden.dtype == types.float32):
        return None

    def codegen(context, builder, sig, args):
        rows_t, idx_t, k_t, hid_t = sig.args
        rows_a = context.make_array(rows_t)(context, builder, args[0])
        idx_a = context.make_array(idx_t)(context, builder, args[1])
        hid_a = context.make_array(hid_t)(context, builder, args[3])
        n = context.cast(builder, args[2], k_t, types.int64)
        i64 = ir.IntType(64)
        vty = ir.VectorType(ir.FloatType(), 16)
        hptr = builder.bitcast(hid_a.data, vty.as_pointer())
        acc0 = builder.load(hptr, align=4)
        pre = builder.basic_block
        loop = builder.append_basic_block("sum_rows.loop")
        body = builder.append_basic_block("sum_rows.body")
        done = builder.append_basic_block("sum_rows.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        i = builder.phi(i64)
        acc = builder.phi(vty)
        i.add_incoming(ir.Constant(i64, 0), pre)
        acc.add_incoming(acc0, pre)
        builder.cbranch(builder.icmp_signed("<", i, n), body, done)
        builder.position_at_end(body)
        r = builder.load(builder.gep(idx_a.data, [i]))
        r = builder.sext(r, i64) if r.type.width < 64 else r
        at = builder.gep(rows_a.data, [builder.mul(r, ir.Constant(i64, 16))])
        added = builder.fadd(acc, builder.load(builder.bitcast(at, vty.as_pointer()), align=4))
        i.add_incoming(builder.add(i, ir.Constant(i64, 1)), body)
        acc.add_incoming(added, body)
        builder.branch(loop)
        builder.position_at_end(done)
        builder.store(acc, hptr, align=4)
        return context.get_dummy_value()

    return types.void(rows, idx, k, hidden), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _flush_rows(buf, k, ngrams, identity, nwords, none, rows, hidden) -> int:
    """Add the rows of the n-gram buckets ``buf[:k]`` in order; return how many were kept.

    Apart from the hashing loop: its branches (UTF-8 lengths, word ends) no longer sit
    between the table and row loads, so the CPU overlaps the cache misses of many n-grams.
    """
    kept = 0
    for t in range(k):
        buf[t] = _ngram_row(buf[t], ngrams, identity, nwords, none)
        _prefetch_row(rows, buf[t])
        kept += buf[t] != none
    if rows.shape[1] == 16 and hidden.shape[0] == 16:  # lid.176
        _sum_rows16(rows, buf, k, hidden)
    else:
        for t in range(k):
            _add_row(hidden, rows, buf[t])
    return kept


@nb.njit(cache=True, nogil=True, inline="always")
def _add_subwords(data, a, b, minn, maxn, bucket, ngrams, identity, nwords, rows, hidden,
                  buf, wbuf):  # fmt: skip
    """Add the rows of the n-grams of ``<data[a:b]>`` (computeSubwords); return how many.

    The buckets are hashed into ``buf`` first and their rows added in batches, in order."""
    length = b - a + 2
    added = 0
    k = 0
    inv_bucket = 1.0 / bucket
    none = rows.shape[0] - 1  # the zero row: adding it changes nothing, and needs no branch
    high = 0
    for t in range(a, b):
        high |= data[t]
    if high < 0x80 and length <= wbuf.shape[0]:
        # ASCII (most words): a character is a byte and no byte is sign-extended; "<word>"
        # is copied once, so the n-gram loops read it without selecting "<" or ">" (the
        # general loop below gives the same buckets; this one makes the kernel ~4% faster)
        wbuf[0] = _LT
        for t in range(a, b):
            wbuf[t - a + 1] = data[t]
        wbuf[length - 1] = _GT
        for i in range(length):
            if k + maxn > buf.shape[0]:
                added += _flush_rows(buf, k, ngrams, identity, nwords, none, rows, hidden)
                k = 0
            h = np.uint64(_FNV_OFFSET)
            for j in range(i, min(length, i + maxn)):
                h = ((h ^ np.uint64(wbuf[j])) * np.uint64(_FNV_PRIME)) & np.uint64(0xFFFFFFFF)
                n = j - i + 1
                if n >= minn and not (n == 1 and (i == 0 or j == length - 1)):
                    buf[k] = _mod(np.int64(h), bucket, inv_bucket)
                    k += 1
        return added + _flush_rows(buf, k, ngrams, identity, nwords, none, rows, hidden)
    for i in range(length):
        c = _LT if i == 0 else (_GT if i == length - 1 else data[a + i - 1])
        if (c & 0xC0) == 0x80:
            continue
        if k + maxn > buf.shape[0]:
            added += _flush_rows(buf, k, ngrams, identity, nwords, none, rows, hidden)
            k = 0
        h = np.uint64(_FNV_OFFSET)
        j = i
        n = 1
        while j < length and n <= maxn:
            c = _LT if j == 0 else (_GT if j == length - 1 else data[a + j - 1])
            h = _fnv_step(h, c)
            j += 1
            while j < length:
                c = _GT if j == length - 1 else data[a + j - 1]
                if (c & 0xC0) != 0x80:
                    break
                h = _fnv_step(h, c)
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == length)):
                buf[k] = _mod(np.int64(h), bucket, inv_bucket)
                k += 1
            n += 1
    return added + _flush_rows(buf, k, ngrams, identity, nwords, none, rows, hidden)


@nb.njit(cache=True, nogil=True, inline="always")
def _subword_rows(data, a, b, minn, maxn, bucket, ngrams, identity, nwords, none, out, at):
    """Write the input rows of the n-grams of ``<data[a:b]>`` to ``out[at:]`` in
    computeSubwords' order, pruned ones left out (pushHash); return how many."""
    length = b - a + 2
    k = at
    inv_bucket = 1.0 / bucket
    for i in range(length):
        c = _LT if i == 0 else (_GT if i == length - 1 else data[a + i - 1])
        if (c & 0xC0) == 0x80:
            continue
        h = np.uint64(_FNV_OFFSET)
        j = i
        n = 1
        while j < length and n <= maxn:
            c = _LT if j == 0 else (_GT if j == length - 1 else data[a + j - 1])
            h = _fnv_step(h, c)
            j += 1
            while j < length:
                c = _GT if j == length - 1 else data[a + j - 1]
                if (c & 0xC0) != 0x80:
                    break
                h = _fnv_step(h, c)
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == length)):
                b_id = _mod(np.int64(h), bucket, inv_bucket)
                out[k] = _ngram_row(b_id, ngrams, identity, nwords, none)
                k += out[k] != none
            n += 1
    return k - at


@nb.njit(cache=True, nogil=True)
def _known_word_rows(vocab_bytes, offsets, nwords, eos_id, minn, maxn, bucket, ngrams,
                     identity, none):  # fmt: skip
    """Dictionary::initNgrams for the words: (offsets, rows) of each word's own row and its
    n-gram rows, in fastText's order (``</s>`` has no n-grams)."""
    total = 0
    for i in range(nwords):
        total += 1 + (offsets[i + 1] - offsets[i] + 2) * maxn
    out = np.empty(total, dtype=np.int32)
    sub_offsets = np.zeros(nwords + 1, dtype=np.int64)
    k = 0
    for i in range(nwords):
        out[k] = i
        k += 1
        if i != eos_id:
            k += _subword_rows(
                vocab_bytes, offsets[i], offsets[i + 1], minn, maxn, bucket, ngrams,
                identity, nwords, none, out, k,
            )  # fmt: skip
        sub_offsets[i + 1] = k
    return sub_offsets, out[:k].copy()


@nb.njit(cache=True, nogil=True)
def _word_vectors(sub_offsets, sub_rows, rows):
    """Each known word's rows summed in float32 from zero in fastText's order: the one vector
    the kernel adds per occurrence (as it does for an unknown word's n-grams)."""
    n = sub_offsets.shape[0] - 1
    out = np.zeros((n, rows.shape[1]), dtype=np.float32)
    for i in range(n):
        for t in range(sub_offsets[i], sub_offsets[i + 1]):
            for d in range(rows.shape[1]):
                out[i, d] += rows[sub_rows[t], d]
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _std_log(x) -> np.float32:
    # loss.cc: std_log(real x) = std::log(x + 1e-5), in double, returned as float
    return np.float32(math.log(np.float64(x) + 1e-5))


@nb.njit(cache=True, nogil=True, inline="always")
def _load8(data, a: int, b: int) -> np.uint64:
    """The bytes ``data[a:min(a + 8, b)]`` as a little-endian uint64 (0 when ``a >= b``)."""
    x = np.uint64(0)
    for t in range(a, min(a + 8, b)):
        x |= np.uint64(data[t]) << np.uint64(8 * (t - a))
    return x


@intrinsic
def _borrowed(typingctx, arr):
    """``arr`` without its reference count: the same array with no meminfo, so numba's
    reference counting skips it. numba counts a reference (an atomic increment and decrement)
    each time an array enters an inlined helper; with a dozen arrays per unknown word that
    was ~10% of the kernel's time (measured). Safe only while the caller keeps ``arr``
    alive, as ``predict`` does for the whole call."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(sig.args[0])(context, builder, args[0])
        out = context.make_array(sig.return_type)(context, builder)
        for name in ("parent", "nitems", "itemsize", "data", "shape", "strides"):
            setattr(out, name, getattr(src, name))
        return out._getvalue()

    return arr(arr), codegen


_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)


@nb.njit(cache=True, nogil=True, inline="always")
def _word_end(data, p, e) -> int:
    """The first separator at or after ``p`` (or ``e``): eight bytes at a time. A byte below
    0x21 is found without a branch per byte (its high bit in ``x - 0x21..21 & ~x``; the
    lowest one flagged is exact); the rare one that is not a separator (a control byte) is
    stepped over."""
    while p + 8 <= e:
        x = _load_u64(data, p)
        low = (x - _ONES * np.uint64(0x21)) & ~x & _HIGHS
        if low == 0:
            p += 8
            continue
        q = p + np.int64(_ctz(low) >> np.uint64(3))
        if _is_space(data[q]):
            return q
        p = q + 1
    while p < e and not _is_space(data[p]):
        p += 1
    return p


@nb.njit(cache=True, nogil=True, inline="always")
def _key(data, a, b, i) -> np.uint64:
    """Bytes ``8i .. 8i + 7`` of the word ``data[a:b]`` as a uint64, zeros past its end."""
    at = a + 8 * i
    n = b - at
    if n <= 0:
        return np.uint64(0)
    if at + 8 <= data.shape[0]:
        x = _load_u64(data, at)
        if n >= 8:
            return x
        return x & ((np.uint64(1) << np.uint64(8 * n)) - np.uint64(1))
    return _load8(data, at, b)


@nb.njit(cache=True, nogil=True, inline="always")
def _cache_hash(k0, k1, k2, k3, length) -> np.uint64:
    """A 64-bit hash of a word of up to 32 bytes (its bytes ``k0..k3``); slots take top bits."""
    h = k0 * np.uint64(0x9E3779B97F4A7C15)
    h ^= (k1 + np.uint64(length)) * np.uint64(0xC2B2AE3D27D4EB4F)
    h ^= k2 * np.uint64(0x165667B19E3779F9)
    h ^= k3 * np.uint64(0xD6E8FEB86659FD93)
    h ^= h >> np.uint64(32)
    return h * np.uint64(0x9E3779B97F4A7C15)


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """Prefetch the first cache line of ``arr[row]`` (a 2-D array) into every cache level:
    LLVM's ``llvm.prefetch``, which numba does not expose."""
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        r = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer2(
            context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
            cgutils.unpack_tuple(builder, ary.strides), aryty.layout, [r, zero],
            wraparound=False, boundscheck=False,
        )  # fmt: skip
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, row), codegen


@nb.njit(cache=True, nogil=True, inline="always")
def _holds(keys, slot, k0, k1, k2, k3, length) -> bool:
    """Whether the cache slot holds the word ``k0..k3`` of ``length`` bytes."""
    return (
        (keys[slot, 4] & np.uint64(0xFF)) == np.uint64(length)
        and keys[slot, 0] == k0
        and keys[slot, 1] == k1
        and keys[slot, 2] == k2
        and keys[slot, 3] == k3
    )


@nb.njit(cache=True, nogil=True, inline="always")
def _put(keys, vecs, slot, key, meta, vec) -> None:
    """Keep ``vec`` for the word ``key`` (4 uint64) with ``meta`` in the cache slot."""
    for t in range(4):
        keys[slot, t] = key[t]
    keys[slot, 4] = meta
    for d in range(vec.shape[0]):
        vecs[slot, d] = vec[d]


@nb.njit(cache=True, nogil=True, inline="always")
def _log2(n: int) -> int:
    k = 0
    while (1 << k) < n:
        k += 1
    return k


@nb.njit(cache=True, nogil=True, inline="always")
def _word_vector(data, a, b, out, minn, maxn, bucket, nwords, vocab_bytes, vocab_offsets, table,
                 word_vectors, word_counts, ngrams, identity, rows, ngram_buf, wbuf,
                 label_prefix):  # fmt: skip
    """Write the vector of the word ``data[a:b]`` (its rows summed from zero in fastText's
    order) to ``out``; return how many rows it holds. A known word's is made at load; a
    ``__label__`` token adds nothing; any other word adds its character n-grams."""
    h = np.uint64(_FNV_OFFSET)
    for p in range(a, b):
        h = _fnv_step(h, data[p])
    out[:] = 0
    wid = _find_word(data, a, b, h, vocab_bytes, vocab_offsets, table)
    if wid >= 0:
        if wid >= nwords:  # a label
            return 0
        out[:] = word_vectors[wid]
        return word_counts[wid]
    if b - a >= 9:
        is_label = True
        for t in range(9):
            if data[a + t] != label_prefix[t]:
                is_label = False
                break
        if is_label:
            return 0
    return _add_subwords(
        data, a, b, minn, maxn, bucket, ngrams, identity, nwords, rows, out, ngram_buf, wbuf
    )


@nb.njit(cache=True, nogil=True)
def _predict_column(
    offsets,
    data,
    is_null,
    max_chars,
    k_all,
    wanted,
    minn,
    maxn,
    bucket,
    nwords,
    vocab_bytes,
    vocab_offsets,
    vocab_is_label,
    table,
    word_vectors,
    word_counts,
    ngrams,
    identity,
    rows,
    output,
    output_norms,
    tree_left,
    tree_right,
    eos_id,
    near_keys,
    near_vecs,
    far_keys,
    far_vecs,
    hidden,
    word_vec,
    ngram_buf,
    word_buf,
    tok_start,
    tok_len,
    tok_key,
    tok_near,
    tok_far,
    label_prefix,
    out_label,
    out_prob,
    out_wanted,
):
    """Predict every document of one Arrow string column (offsets into data).

    The arrays are the caller's (it keeps them alive), used through borrowed views (see
    ``_borrowed``): no reference counting per word."""
    data = _borrowed(data)
    vocab_bytes = _borrowed(vocab_bytes)
    vocab_offsets = _borrowed(vocab_offsets)
    table = _borrowed(table)
    word_vectors = _borrowed(word_vectors)
    word_counts = _borrowed(word_counts)
    ngrams = _borrowed(ngrams)
    rows = _borrowed(rows)
    near_keys = _borrowed(near_keys)
    near_vecs = _borrowed(near_vecs)
    far_keys = _borrowed(far_keys)
    far_vecs = _borrowed(far_vecs)
    hidden = _borrowed(hidden)
    word_vec = _borrowed(word_vec)
    ngram_buf = _borrowed(ngram_buf)
    word_buf = _borrowed(word_buf)
    tok_start = _borrowed(tok_start)
    tok_len = _borrowed(tok_len)
    tok_key = _borrowed(tok_key)
    tok_near = _borrowed(tok_near)
    tok_far = _borrowed(tok_far)
    label_prefix = _borrowed(label_prefix)
    dim = rows.shape[1]
    osz = output.shape[0]
    root = 2 * osz - 2
    stack_node = np.empty(2 * osz + 2, dtype=np.int64)
    stack_score = np.empty(2 * osz + 2, dtype=np.float32)
    leaf_score = np.empty(osz, dtype=np.float32)
    thr = _std_log(np.float32(0.0))  # threshold 0.0, as the filter asks
    eos = np.array([60, 47, 115, 62], dtype=np.uint8)
    near_shift = np.uint64(64 - _log2(near_keys.shape[0]))
    far_shift = np.uint64(64 - _log2(far_keys.shape[0]))
    for i in range(offsets.shape[0] - 1):
        s = np.int64(offsets[i])
        e = np.int64(offsets[i + 1])
        if is_null[i]:
            e = s
        # max_chars: cut at the last space before the limit when it is past half of it
        if max_chars >= 0 and e - s > max_chars:
            nch = 0
            last_sp = np.int64(-1)
            last_sp_ch = -1
            cut = e
            for p in range(s, e):
                b = data[p]
                if (b & 0xC0) != 0x80:
                    if nch == max_chars:
                        cut = p
                        break
                    if b == 32:
                        last_sp = p
                        last_sp_ch = nch
                    nch += 1
            if cut < e:
                e = last_sp if last_sp_ch > max_chars // 2 else cut
        hidden[:] = 0
        count = 0
        p = s
        ended = False
        while p < e and not ended:
            # Pass 1: the next words' places and cache slots, the slots prefetched. A word
            # costs ~100 instructions, so without it the CPU has one or two words in flight
            # and waits for each far-cache line in turn (a quarter of the time, measured).
            nw = 0
            while nw < _WORDS_AHEAD and p < e:
                if _is_space(data[p]):
                    p += 1
                    continue
                a = p
                p = _word_end(data, p + 1, e)
                length = p - a
                if length == 4:
                    is_eos = True
                    for t in range(4):
                        if data[a + t] != eos[t]:
                            is_eos = False
                    if is_eos:  # a literal </s> ends fastText's line (its row is added below)
                        ended = True
                        break
                tok_start[nw] = a
                tok_len[nw] = length
                if length <= _CACHED_WORD_BYTES:
                    for t in range(4):
                        tok_key[nw, t] = _key(data, a, p, t)
                    k0 = tok_key[nw, 0]
                    k1 = tok_key[nw, 1]
                    k2 = tok_key[nw, 2]
                    k3 = tok_key[nw, 3]
                    h = _cache_hash(k0, k1, k2, k3, length)
                    near = np.int64(h >> near_shift)
                    far = np.int64(h >> far_shift)
                    tok_near[nw] = near
                    tok_far[nw] = far
                    _prefetch_row(far_keys, far)
                    _prefetch_row(far_vecs, far)
                nw += 1
            # Pass 2: every word adds ONE vector: its rows summed from zero in fastText's
            # order, from the near cache, else the far one, else made (_word_vector). The key
            # is the word itself (up to 32 bytes), so a hit reads no vocabulary and no text.
            for j in range(nw):
                a = tok_start[j]
                length = tok_len[j]
                cached = length <= _CACHED_WORD_BYTES
                if cached:
                    k0 = tok_key[j, 0]
                    k1 = tok_key[j, 1]
                    k2 = tok_key[j, 2]
                    k3 = tok_key[j, 3]
                    near = tok_near[j]
                    if _holds(near_keys, near, k0, k1, k2, k3, length):
                        _add_row(hidden, near_vecs, near)
                        count += np.int64(near_keys[near, 4] >> np.uint64(8))
                        continue
                    far = tok_far[j]
                    if _holds(far_keys, far, k0, k1, k2, k3, length):
                        near_keys[near] = far_keys[far]
                        near_vecs[near] = far_vecs[far]
                        _add_row(hidden, far_vecs, far)
                        count += np.int64(far_keys[far, 4] >> np.uint64(8))
                        continue
                k = _word_vector(
                    data, a, a + length, word_vec, minn, maxn, bucket, nwords, vocab_bytes,
                    vocab_offsets, table, word_vectors, word_counts, ngrams, identity, rows,
                    ngram_buf, word_buf, label_prefix,
                )  # fmt: skip
                for d in range(dim):
                    hidden[d] += word_vec[d]
                count += k
                if cached:  # the slots' words so far are replaced
                    meta = (np.uint64(k) << np.uint64(8)) | np.uint64(length)
                    _put(near_keys, near_vecs, near, tok_key[j], meta, word_vec)
                    _put(far_keys, far_vecs, far, tok_key[j], meta, word_vec)
        # the </s> that ends the line (the newline appended to the text, or the literal one)
        if eos_id >= 0:
            _add_row(hidden, word_vectors, eos_id)
            count += word_counts[eos_id]
        if count == 0:  # fastText predicts nothing for an empty input
            out_label[i] = -1
            out_prob[i] = 0.0
            out_wanted[i] = 0.0
            continue
        inv = np.float32(1.0 / count)
        for d in range(dim):
            hidden[d] = hidden[d] * inv
        # hierarchical softmax, depth first, left before right (HierarchicalSoftmaxLoss::dfs)
        best = np.float32(-np.inf)
        best_label = -1
        if k_all:
            leaf_score[:] = np.nan
        sp = 0
        stack_node[0] = root
        stack_score[0] = np.float32(0.0)
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack_node[sp]
            score = stack_score[sp]
            if score < thr:
                continue
            if not k_all and best_label >= 0 and score < best:
                continue
            if tree_left[node] == -1 and tree_right[node] == -1:
                if k_all:
                    leaf_score[node] = score
                    if best_label < 0 or score > best:
                        best = score
                        best_label = node
                else:  # the heap of one: a leaf at least as good replaces the best
                    best = score
                    best_label = node
                continue
            r = node - osz
            dot = np.float32(0.0)
            for d in range(dim):
                dot += hidden[d] * output[r, d]
            dot = dot * output_norms[r]
            f = np.float32(1.0 / np.float64(np.float32(1.0) + math.exp(-dot)))
            stack_node[sp] = tree_right[node]
            stack_score[sp] = score + _std_log(f)
            stack_node[sp + 1] = tree_left[node]
            stack_score[sp + 1] = score + _std_log(np.float32(1.0 - np.float64(f)))
            sp += 2
        prob = min(np.float32(math.exp(best)), np.float32(1.0))
        out_label[i] = best_label
        out_prob[i] = prob
        if not k_all:
            out_wanted[i] = prob if wanted[best_label] else np.float32(0.0)
        else:
            w = np.float32(0.0)
            for lab in range(osz):
                if wanted[lab] and not np.isnan(leaf_score[lab]):
                    w = max(w, min(np.float32(math.exp(leaf_score[lab])), np.float32(1.0)))
            out_wanted[i] = w


# ------------------------------------------------------------------------------------ the API
def _column_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(int64 offsets, data, is_null) of a string / large_string array, honouring its slice
    (int64 offsets for both types: one kernel signature, a second compile costs ~2 s)."""
    offsets, data = arrow_buffers(arr)
    if arr.null_count:
        is_null = arr.is_null().to_numpy(zero_copy_only=False)
    else:
        is_null = np.zeros(len(arr), dtype=np.bool_)
    return offsets, data, is_null


_THREAD = threading.local()


def forget_words() -> None:
    """Empty this thread's word caches, as in a fresh process (for tests and benchmarks: the
    answers are the same either way)."""
    _THREAD.__dict__.pop("caches", None)


@dataclass
class _Caches:
    """One thread's word caches for one model, and how many bytes it has identified."""

    model: FastTextModel
    arrays: list[np.ndarray]
    seen: int = 0


def _word_caches(model: FastTextModel, nbytes: int) -> list[np.ndarray]:
    """This thread's word caches for ``model`` (keys and vectors of the near one, then of the
    far one, then the kernel's scratch), kept from call to call: a frequent word is looked up
    once per process, not once per batch. The far cache starts as small as the near one and
    grows to its 27 MB once the thread has identified ``_FAR_AFTER_BYTES`` (a target check
    or a test stays small). A cached vector is the very one a recomputation gives, so what
    the caches hold, or their size, never changes an answer."""
    caches = getattr(_THREAD, "caches", None)
    if caches is None:
        caches = _THREAD.caches = {}
    entry = caches.get(id(model))
    if entry is None or entry.model is not model:
        arrays = [*_cache_arrays(_NEAR_BITS, model.dim), *_cache_arrays(_NEAR_BITS, model.dim)]
        arrays += [  # the kernel's scratch: sums, a word's vector, its n-grams, words ahead
            np.zeros(model.dim, dtype=np.float32),
            np.zeros(model.dim, dtype=np.float32),
            np.zeros(1024, dtype=np.int64),
            np.zeros(1024, dtype=np.uint8),
            np.zeros(_WORDS_AHEAD, dtype=np.int64),
            np.zeros(_WORDS_AHEAD, dtype=np.int64),
            np.zeros((_WORDS_AHEAD, 4), dtype=np.uint64),
            np.zeros(_WORDS_AHEAD, dtype=np.int64),
            np.zeros(_WORDS_AHEAD, dtype=np.int64),
            _LABEL_PREFIX_ARRAY,
        ]
        entry = caches[id(model)] = _Caches(model, arrays)
    entry.seen += nbytes
    if len(entry.arrays[2]) < 1 << _FAR_BITS and entry.seen > _FAR_AFTER_BYTES:
        entry.arrays[2:4] = _cache_arrays(_FAR_BITS, model.dim)
    return entry.arrays


def _cache_arrays(bits: int, dim: int) -> list[np.ndarray]:
    """A word cache of ``2**bits`` slots: per slot the word's bytes, then count << 8 | length
    (0: empty); and its vector."""
    return [np.zeros((1 << bits, 5), dtype=np.uint64), np.zeros((1 << bits, dim), np.float32)]


def predict(
    model: FastTextModel,
    texts: pa.Array | pa.ChunkedArray,
    *,
    max_chars: int | None = None,
    wanted: np.ndarray | None = None,
    all_labels: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fastText's prediction for each text, as ``model.f.predict(text + "\\n", k, 0.0)``.

    Each text is cut to ``max_chars`` characters (at the last space before the limit when it
    is past half of it) and its newlines read as spaces: the language filter's whole-document
    line. Null texts are empty texts.

    Returns the top label index (int32, -1 when fastText predicts nothing), its probability
    (float32, capped at 1) and the best probability among ``wanted`` labels (a bool mask over
    ``model.labels``; ``None``: every label). ``all_labels=False`` is fastText's ``k=1`` (the
    wanted probability is the top one when the top label is wanted, else 0); ``True`` is
    ``k=-1`` (every label above the threshold is scored, so a wanted runner-up counts).
    """
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    n = len(texts)
    labels = np.empty(n, dtype=np.int32)
    probs = np.empty(n, dtype=np.float32)
    wanted_probs = np.empty(n, dtype=np.float32)
    want = np.ones(model.nlabels, dtype=np.bool_) if wanted is None else np.asarray(wanted, bool)
    caches = _word_caches(model, texts.nbytes)
    start = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if pa.types.is_large_string(chunk.type) or pa.types.is_string(chunk.type):
            col = chunk
        else:
            col = chunk.cast(pa.string())
        offsets, data, is_null = _column_buffers(col)
        end = start + len(chunk)
        _predict_column(
            offsets,
            data,
            is_null,
            -1 if max_chars is None else int(max_chars),
            bool(all_labels),
            want,
            model.minn,
            model.maxn,
            model.bucket,
            model.nwords,
            model.vocab_bytes,
            model.vocab_offsets,
            model.vocab_is_label,
            model.vocab_table,
            model.word_vectors,
            model.word_counts,
            model.ngram_table,
            model.ngram_identity,
            model.input_rows,
            model.output,
            model.output_norms,
            model.tree_left,
            model.tree_right,
            model.eos_id,
            *caches,
            labels[start:end],
            probs[start:end],
            wanted_probs[start:end],
        )
        start = end
    return labels, probs, wanted_probs
