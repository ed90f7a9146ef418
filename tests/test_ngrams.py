"""The hashed n-gram kernel tokenises exactly like DSIR's reference (nltk WordPunct + lower)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import regex

from thresher.text.ngrams import NgramHasher, arrow_buffers, token_spans

# The reference (nltk WordPunctTokenizer) compiles this pattern with `regex`.
WORDPUNCT = regex.compile(r"\w+|[^\w\s]+")


def test_tokens_match_reference_regex_on_real_multilingual_text(raw_records):
    texts = [r["text"] for r in raw_records[:: max(1, len(raw_records) // 400)]]
    langs = {r["lang"] for r in raw_records}
    assert len(langs) >= 3, "the sample should hold several languages"
    arr = pa.array(texts)
    docs, starts, ends = token_spans(arr)
    _, data = arrow_buffers(arr)
    buf = data.tobytes()
    for i, text in enumerate(texts):
        sel = docs == i
        mine = [buf[a:b].decode().lower() for a, b in zip(starts[sel], ends[sel], strict=True)]
        assert mine == WORDPUNCT.findall(text.lower()), f"doc {i} tokenised differently"


def test_counts_csr_and_dot_agree_and_do_not_depend_on_batching(raw_records):
    texts = pa.array([r["text"] for r in raw_records[:300]])
    h = NgramHasher(4096, 2)
    total = h.counts(texts)
    mat = h.csr(texts)
    assert np.array_equal(np.asarray(mat.sum(axis=0)).ravel().astype(np.int64), total)
    w = np.random.default_rng(0).normal(size=4096)
    scores, ntok = h.dot(texts, w)
    assert np.allclose(scores, mat @ w)
    assert np.array_equal(ntok, np.asarray(mat.sum(axis=1)).ravel().astype(np.int64))
    a, _ = h.dot(texts.slice(0, 100), w)
    b, _ = h.dot(texts.slice(100), w)
    assert np.array_equal(np.concatenate([a, b]), scores)


def test_tokens_match_nltk_on_tricky_unicode():
    from nltk.tokenize import WordPunctTokenizer

    text = "½mv² = E; café (NFD: cafe\u0301) ǅungla — İstanbul x_y 3.14 日本語テキスト"
    arr = pa.array([text])
    docs, starts, ends = token_spans(arr)
    _, data = arrow_buffers(arr)
    buf = data.tobytes()
    mine = [buf[a:b].decode().lower() for a, b in zip(starts, ends, strict=True)]
    ref = WordPunctTokenizer().tokenize(text.lower())
    # U+0130 lowercases to two code points; the kernel keeps one (documented).
    assert [t for t in mine if "i" not in t] == [t for t in ref if "i" not in t]


def test_bigrams_are_order_sensitive_and_unigrams_are_not():
    h = NgramHasher(1 << 20, 2)
    ab = h.counts(pa.array(["alpha beta"]))
    ba = h.counts(pa.array(["beta alpha"]))
    uni = NgramHasher(1 << 20, 1)
    assert np.array_equal(
        uni.counts(pa.array(["alpha beta"])), uni.counts(pa.array(["beta alpha"]))
    )
    assert not np.array_equal(ab, ba)
    assert ab.sum() == 3  # two unigrams + one bigram


M64 = (1 << 64) - 1


def _reference_counts(text: str, num_buckets: int, ngrams: int) -> np.ndarray:
    """The kernels' hashes in plain Python (WORD_HASH_VERSION 2): FNV-1a over a token's
    lowercased code points, one-multiply finish, n-grams chained g = g * GRAM + h_prev."""
    lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)

    def token_hash(tok: str) -> int:
        h = 0xCBF29CE484222325
        for ch in tok:
            h = ((h ^ ord(ch)) * 0x100000001B3) & M64
        h ^= h >> 29
        h = (h * 0xFF51AFD7ED558CCD) & M64
        return h ^ (h >> 32)

    def bucket(h: int) -> int:
        return ((h >> 32) * num_buckets) >> 32

    toks = [token_hash(t) for t in WORDPUNCT.findall(lowered)]
    counts = np.zeros(num_buckets, dtype=np.int64)
    for k, g in enumerate(toks):
        counts[bucket(g)] += 1
        for j in range(1, min(ngrams, k + 1)):
            g = (g * 0x9E3779B97F4A7C15 + toks[k - j]) & M64
            counts[bucket(g)] += 1
    return counts


@pytest.mark.parametrize("ngrams", [1, 2, 3])
def test_counts_equal_a_plain_python_copy_of_the_hash_across_buffer_refills(raw_records, ngrams):
    """Every bucket as the specification computes it, on real multilingual documents and on
    one document of over 20,000 tokens (the kernel refills its 4,096-token buffer, keeping
    the last n-1 tokens for the n-grams that cross a refill), and on tokens longer than a
    refill (one fill adds no token: the tokens before it are still the context)."""
    texts = [r["text"] for r in raw_records[:: max(1, len(raw_records) // 150)]]
    long_doc = " ".join(texts)
    assert len(WORDPUNCT.findall(long_doc)) > 20_000
    h = NgramHasher(5_003, ngrams)
    for text in [*texts, long_doc]:
        np.testing.assert_array_equal(
            h.counts(pa.array([text])), _reference_counts(text, 5_003, ngrams)
        )
    # Tokens longer than a buffer fill (a refill can add no token at all): the n-grams
    # across them still join the tokens before and after.
    text = texts[0]
    long_tokens = f"{text} {'x' * 9_000} alpha beta {'日本語' * 2_000} gamma, {'-' * 5_000} {text}"
    np.testing.assert_array_equal(
        h.counts(pa.array([long_tokens])), _reference_counts(long_tokens, 5_003, ngrams)
    )
    w = np.random.default_rng(1).normal(size=5_003)
    scores, ntok = h.dot(pa.array([long_doc]), w)
    ref = _reference_counts(long_doc, 5_003, ngrams)
    assert ntok[0] == ref.sum()
    assert np.isclose(scores[0], ref @ w)


def test_token_spans_hold_across_buffer_refills(raw_records):
    """The tokenizer's state (a token cut by a refill, the class it is in) carries over:
    spans with a 7-token buffer equal those with the default one."""
    arr = pa.array([r["text"] for r in raw_records[:200]])
    small, default = token_spans(arr, chunk=7), token_spans(arr)
    for a, b in zip(small, default, strict=True):
        np.testing.assert_array_equal(a, b)
