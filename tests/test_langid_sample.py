"""Language id on a sample of each long document: the decisions of whole-document identification,
on real multilingual documents (data/sample: en, de, es, fr, it, pt, ja, zh)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from thresher.filters.langid import LanguageFilter


@pytest.fixture(scope="module")
def long_docs(raw_records) -> tuple[list[str], np.ndarray]:
    """Up to 25 documents of each language, longer than the sample (so they are sampled)."""
    texts, langs = [], []
    seen: dict[str, int] = {}
    for r in raw_records:
        if len(r["text"]) > 1500 and seen.get(r["lang"], 0) < 25:
            seen[r["lang"]] = seen.get(r["lang"], 0) + 1
            texts.append(r["text"])
            langs.append(r["lang"])
    return texts, np.array(langs)


def test_sampled_decisions_are_the_whole_documents_per_language(long_docs):
    texts, gold = long_docs
    arr = pa.array(texts, type=pa.string())
    for wanted in (["en"], None):
        sampled = LanguageFilter(wanted).apply(arr)
        whole = LanguageFilter(wanted, sample_chars=None).apply(arr)
        for lang in sorted(set(gold)):
            m = gold == lang
            assert (sampled.keep[m] == whole.keep[m]).all(), (wanted, lang)
        assert sampled.annotations["language"].equals(whole.annotations["language"])
    # The sample did the work for most documents: their scores are the sample's, not the
    # whole document's (the language_score column changes slightly; the decisions do not).
    s1 = LanguageFilter(None).predict(arr)[1]
    s0 = LanguageFilter(None, sample_chars=None).predict(arr)[1]
    assert np.mean(s1 != s0) > 0.5


def test_unsure_sample_falls_back_to_the_whole_document(long_docs):
    texts, _ = long_docs
    f = LanguageFilter(None)
    whole = LanguageFilter(None, sample_chars=None)
    only_sample = LanguageFilter(None, confident=0.0)  # the sample's answer, always
    langs, scores = f.predict(texts)
    s_langs, s_scores = only_sample.predict(texts)
    w_langs, w_scores = whole.predict(texts)
    sure = s_scores >= f.confident
    assert 0 < sure.sum() < len(texts)  # both paths are exercised on real documents
    assert (scores[sure] == s_scores[sure]).all() and (langs[sure] == s_langs[sure]).all()
    assert (scores[~sure] == w_scores[~sure]).all() and (langs[~sure] == w_langs[~sure]).all()


def test_a_document_is_identified_by_its_body_not_its_opening(raw_records):
    """A page that opens in English and goes on in German (a partly translated page): evenly
    spread slices see the German body, as the whole document does; a prefix would not."""
    en = next(r["text"] for r in raw_records if r["lang"] == "en" and 1200 < len(r["text"]) < 2000)
    de = [r["text"] for r in raw_records if r["lang"] == "de" and len(r["text"]) > 1500][:4]
    doc = en + "\n\n" + "\n\n".join(de)
    assert len(doc) > 5 * len(en)
    whole = LanguageFilter(None, sample_chars=None).predict([doc])[0][0]
    prefix = LanguageFilter(None, sample_slices=1, confident=0.0).predict([doc])[0][0]
    sampled = LanguageFilter(None, confident=0.0).predict([doc])[0][0]
    assert (whole, prefix, sampled) == ("de", "en", "de")


def test_sample_is_whole_words_spread_over_the_text():
    f = LanguageFilter(None, sample_chars=100, sample_slices=4)
    words = [f"w{i:04d}" for i in range(2000)]
    text = " ".join(words)
    sample = f._sample(text)
    assert sample is not None and len(sample) <= 100
    got = sample.split(" ")
    assert set(got) <= set(words)  # no cut word
    assert got[0] == words[0] and got[-1] == words[-1]  # from the start to the end
    assert f._sample("short text") is None  # short texts are identified whole
