"""The numba lid.176 kernel against fastText itself (fasttext-predict, the C++ code): the same
top label, a probability within 1e-5, and the same keep/drop decision at the default min score
on every real document of the sample (Debian documentation in en, de, es, fr, it, pt, ja, zh,
...) and on odd input. Not bit for bit: the kernel adds one summed vector per word where
fastText adds the word's rows one by one, so the float32 roundings differ (~1e-6)."""

from __future__ import annotations

import fasttext  # fasttext-predict: the reference
import numpy as np
import pyarrow as pa
import pytest

from thresher.filters import fasttext_lid
from thresher.filters.langid import LanguageFilter, default_model_path, known_languages


@pytest.fixture(scope="module")
def reference():
    """fastText's answer for ``text`` as the language filter asks it: [(prob, label), ...]."""
    ft = fasttext.load_model(default_model_path()).f

    def predict(texts: list[str], k: int, max_chars: int | None = 100_000) -> list[list]:
        line = LanguageFilter(None, max_chars=max_chars)._prepare
        out = []
        for t in texts:
            found = ft.predict(line(t or "") + "\n", k, 0.0, "strict")
            out.append([(min(float(p), 1.0), lab.removeprefix("__label__")) for p, lab in found])
        return out

    return predict


def _top(found: list[list]) -> tuple[list[str], np.ndarray]:
    labels = [f[0][1] if f else "" for f in found]
    return labels, np.array([f[0][0] if f else 0.0 for f in found], dtype=np.float32)


TOLERANCE = 1e-5  # the largest |probability difference| allowed against fastText
MIN_SCORE = np.float32(0.65)  # the default --lang-min-score


def _assert_as_fasttext(got: np.ndarray, ref: np.ndarray) -> None:
    """Within the tolerance, and on the same side of the default min score."""
    got, ref = np.asarray(got, np.float32), np.asarray(ref, np.float32)
    assert np.abs(got.astype(np.float64) - ref).max(initial=0.0) <= TOLERANCE
    assert np.array_equal(got > MIN_SCORE, ref > MIN_SCORE)


def test_every_sample_document_is_identified_as_fasttext(raw_records, target_records, reference):
    texts = [r["text"] for r in raw_records] + [r["text"] for r in target_records]
    assert len({r["lang"] for r in raw_records}) >= 8
    langs, scores = LanguageFilter(None).predict(pa.array(texts, type=pa.string()))
    ref_langs, ref_scores = _top(reference(texts, 1))
    assert list(langs) == ref_langs
    _assert_as_fasttext(scores, ref_scores)
    assert not np.array_equal(scores, ref_scores)  # (the roundings do differ: not vacuous)


def test_wanted_runner_up_scores_are_fasttexts_k_all(raw_records, reference):
    """min_score < 0.5: the wanted languages' best probability among all labels (k=-1)."""
    texts = [r["text"] for r in raw_records[::9]]
    f = LanguageFilter(["en", "de"], min_score=0.3)
    langs, scores, wanted = f._predict(texts)
    found = reference(texts, -1)
    ref_langs, ref_scores = _top(found)
    ref_wanted = np.array(
        [max([p for p, lab in x if lab in ("en", "de")], default=0.0) for x in found],
        dtype=np.float32,
    )
    assert list(langs) == ref_langs
    _assert_as_fasttext(scores, ref_scores)
    _assert_as_fasttext(wanted, ref_wanted)
    assert np.array_equal(wanted == 0, ref_wanted == 0)
    assert 0 < (wanted != scores).sum() < len(texts)  # runner-ups do occur here


ODD = [
    "",
    " ",
    "\n\n\t\r\x0b\x0c  ",
    "__label__en",
    "__label__xx Guten Tag, wie geht es dir heute?",
    "hello __label__de world, this is an English sentence",
    "__label__",
    "</s>",
    "Das ist ein deutscher Satz </s> and the rest is English text that fastText never reads",
    "word</s> Ceci est une phrase en français.",
    "a" * 20_000,
    "é" * 7_000 + " und noch ein paar deutsche Wörter",
    "日本語のテキストはスペースなしで書かれています。" * 40,
    "中文文本没有空格，这是一个测试句子。" * 60,
    "\u200b\u200d👨\u200d👩\u200d👧 \ufeffBOM\u00a0nbsp\u3000ideographic e\u0301 \U0001f600\U00010348",
    "null\x00byte inside\x00 the text, still English words",
    "line\u2028separator and\u2029paragraph separator are not spaces for fastText",
    "Ω≈ç√∫˜µ≤≥÷ åß∂ƒ©˙∆˚¬… œ∑´®†¥¨ˆøπ“‘ ¡™£¢∞§¶•ªº–≠",
    "\ufffd\ufffd replacement chars \ufffd and \U0010ffff the last code point",
    "1234 5678 ++ -- == ** // \\\\ || && $$ ## @@",
]


def test_odd_text_is_identified_as_fasttext(reference):
    model = fasttext_lid.cached_model(default_model_path())
    for max_chars in (100_000, 1000, 37):
        idx, scores, _ = fasttext_lid.predict(model, pa.array(ODD), max_chars=max_chars)
        ref_langs, ref_scores = _top(reference(ODD, 1, max_chars))
        got = [model.labels[i] if i >= 0 else "" for i in idx]
        assert got == ref_langs, max_chars
        _assert_as_fasttext(scores, ref_scores)
    # fastText always reads the closing </s>, so even an empty text gets an answer
    assert (idx >= 0).all() and len(set(idx.tolist())) > 3


def test_max_chars_counts_characters_and_cuts_at_a_space(reference):
    """A German document followed by English: the cap decides which part is read; the limit
    counts characters (3-byte CJK, 2-byte accents), not bytes."""
    de = "Über die Brücke gehen wir täglich zur Arbeit und zurück. " * 20  # 1,140 chars
    en = "The quick brown fox jumps over the lazy dog again and again. " * 40
    zh = "中文文本没有空格这是一个测试句子" * 100  # no space at all: cut where it falls
    texts = [de + en, zh + en, en]
    model = fasttext_lid.cached_model(default_model_path())
    for max_chars in (1000, 1200, 1600, None):
        idx, scores, _ = fasttext_lid.predict(model, pa.array(texts), max_chars=max_chars)
        ref_langs, ref_scores = _top(reference(texts, 1, max_chars))
        assert [model.labels[i] for i in idx] == ref_langs
        _assert_as_fasttext(scores, ref_scores)
    idx, _, _ = fasttext_lid.predict(model, pa.array(texts), max_chars=1000)
    assert [model.labels[i] for i in idx[:2]] == ["de", "zh"]


def test_any_arrow_layout_gives_the_same_answers(raw_records):
    """Sliced arrays, nulls (an empty text), large_string and chunked columns."""
    texts = [r["text"] for r in raw_records[:60]]
    model = fasttext_lid.cached_model(default_model_path())
    plain = fasttext_lid.predict(model, pa.array(texts), max_chars=100_000)
    with_nulls = [None, *texts[:30], None, *texts[30:]]
    sliced = pa.array(["x" * 50, *with_nulls, "y"]).slice(1, len(with_nulls))
    layouts = [
        sliced,
        pa.array(with_nulls, type=pa.large_string()),
        pa.chunked_array([with_nulls[:17], with_nulls[17:40], [], with_nulls[40:]]),
    ]
    empty = fasttext_lid.predict(model, pa.array([""]), max_chars=100_000)
    for arr in layouts:
        idx, scores, wanted = fasttext_lid.predict(model, arr, max_chars=100_000)
        keep = np.ones(len(with_nulls), bool)
        keep[[0, 31]] = False
        assert np.array_equal(idx[keep], plain[0]) and np.array_equal(scores[keep], plain[1])
        assert idx[0] == idx[31] == empty[0][0] and scores[0] == empty[1][0]
        assert np.array_equal(wanted, scores)  # wanted=None: every label is wanted
    assert fasttext_lid.predict(model, pa.array([], pa.string()))[0].shape == (0,)


def _cold() -> None:
    """Forget this thread's word caches: the next call starts as a fresh process does."""
    fasttext_lid.forget_words()


def _far_slots(model) -> int:
    return len(fasttext_lid._word_caches(model, 0)[2])


def test_neither_the_batch_split_nor_the_word_caches_change_a_byte(monkeypatch):
    """Word vectors are cached from call to call (a near and a far direct-mapped cache): a
    document's answer is the same bytes whatever came before it, cold or warm, with the far
    cache small or grown, and whatever else is in its call. 80,000 distinct words overflow
    both caches' slots many times."""
    monkeypatch.setattr(fasttext_lid, "_FAR_AFTER_BYTES", 1_000_000)
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzäöüéèñç"))
    chars = "".join(letters[rng.integers(0, len(letters), size=80_000 * 8)].tolist())
    words = [chars[i : i + 3 + i % 9] for i in range(0, 80_000 * 8, 8)]
    docs = [" ".join(words[i : i + 400] + words[: i % 50]) for i in range(0, 80_000, 400)]
    model = fasttext_lid.cached_model(default_model_path())
    _cold()
    whole = fasttext_lid.predict(model, pa.array(docs), max_chars=100_000)
    assert _far_slots(model) == 4096  # ~0.7 MB identified: still the small far cache
    warm = fasttext_lid.predict(model, pa.array(docs), max_chars=100_000)
    assert _far_slots(model) == 1 << 18  # grown (and empty) before this call
    one_by_one = fasttext_lid.predict(model, pa.chunked_array([[d] for d in docs]))
    _cold()
    backwards = [x[::-1] for x in fasttext_lid.predict(model, pa.array(docs[::-1]))]
    assert len(set(whole[0].tolist())) > 1
    for other in (warm, one_by_one, backwards):
        for a, b in zip(whole, other, strict=True):
            assert a.tobytes() == b.tobytes()


def test_words_at_the_cache_and_buffer_edges_are_identified_as_fasttext(reference):
    """Words of 31-33 bytes (32 is the longest cached), multi-byte ones, control bytes that
    are not separators inside words (the word-end scan reads 8 bytes at a time), and a text
    that ends at the very end of its Arrow buffer (no read past it), each repeated so the
    second sight comes from the cache."""
    words = [
        "a" * 31, "b" * 32, "c" * 33, "é" * 16, "ü" * 17, "日本" * 5 + "x",
        "ab\x01cd\x1fef", "x\x7fy", "Donaudampfschifffahrtsgesellschaftskapitän",
        "internationalisation\x01\x02suffix", "Internationalisierung", "word\x00null",
    ]  # fmt: skip
    texts = [" ".join(words * 3), "\t".join(reversed(words)) + " " + words[0]]
    texts += [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    model = fasttext_lid.cached_model(default_model_path())
    ref_langs, ref_scores = _top(reference(texts, 1))
    for cold in (True, False):
        if cold:
            _cold()
        for arr in (pa.array(texts), pa.array(["pad " * 3 + texts[0], *texts]).slice(1)):
            idx, scores, _ = fasttext_lid.predict(model, arr, max_chars=100_000)
            assert [model.labels[i] for i in idx] == ref_langs
            _assert_as_fasttext(scores, ref_scores)
    last = pa.array([words[2]])  # one word ending exactly where the data buffer ends
    assert len(last.buffers()[2]) == len(words[2].encode())
    idx, scores, _ = fasttext_lid.predict(model, last, max_chars=100_000)
    ref = _top(reference([words[2]], 1))
    assert [model.labels[i] for i in idx] == ref[0]
    _assert_as_fasttext(scores, ref[1])


def test_model_reader_knows_lid176():
    model = fasttext_lid.cached_model(default_model_path())
    assert (model.dim, model.minn, model.maxn, model.bucket, model.nlabels) == (
        16,
        2,
        4,
        2_000_000,
        176,
    )
    assert model.labels[:3] == ("en", "ru", "de")  # by training count, as fastText sorts them
    assert {"en", "de", "zh", "ja", "ceb"} <= known_languages()
    with pytest.raises(ValueError, match="not a fastText model file"):
        fasttext_lid.load_model(__file__)
