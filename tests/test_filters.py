"""Language id and heuristic rule filters, on real human-written text.

Text comes from the licence texts every Debian system ships (/usr/share/common-licenses) and
from the multi-language Debian documentation sample in data/sample/raw.jsonl.gz (see
data/sample/SOURCES.md). The "bad" documents are the kinds of breakage the rules exist for,
made from real lines: a line repeated many times, lines cut off with an ellipsis, a bulleted
list, a directory listing, a cookie / JavaScript notice.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from thresher.filters import (
    C4QualityFilter,
    Filter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
    apply_filters,
    build_filters,
)
from thresher.filters.c4 import count_sentences
from thresher.filters.words import split_words

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "raw.jsonl.gz"
LICENSES = Path("/usr/share/common-licenses")


def _gpl() -> str:
    path = LICENSES / "GPL-3"
    assert path.exists(), "Debian's base-files ships /usr/share/common-licenses/GPL-3"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def gpl() -> str:
    return _gpl()


@pytest.fixture(scope="module")
def preamble(gpl: str) -> str:
    """The GPL-3 preamble: nine paragraphs of ordinary English prose."""
    start = gpl.index("  The GNU General Public License is a free")
    end = gpl.index("TERMS AND CONDITIONS")
    return gpl[start:end].strip()


@pytest.fixture(scope="module")
def gpl_lines(gpl: str) -> list[str]:
    return [line.strip() for line in gpl.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    assert SAMPLE.exists(), f"{SAMPLE} ships with the repo"
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _docs(sample: list[dict], lang: str, domains: tuple[str, ...]) -> list[str]:
    return [d["text"] for d in sample if d["lang"] == lang and d["domain"] in domains]


def reason_of(f, text: str) -> str:
    """``""`` if ``f`` keeps ``text``, else ``"<rule>:<value>"`` (value to 4 digits)."""
    res = f.apply(pa.array([text], type=pa.string()))
    assert res.keep.dtype == bool and res.rule.dtype == object and res.value.dtype == np.float64
    assert bool(res.keep[0]) == (res.rule[0] == "")
    return f"{res.rule[0]}:{res.value[0]:.4g}" if res.rule[0] else ""


def drops(f, texts: list[str]):
    """(keep, rule, language of each document) of a language filter."""
    res = f.apply(pa.array(texts, type=pa.string()))
    return res.keep, res.rule, res.annotations["language"].to_pylist()


# --------------------------------------------------------------------------------- language id
PROSE = ("handbook", "guide", "faq")


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_language_identified_on_real_docs(sample, lang):
    texts = _docs(sample, lang, PROSE)
    assert len(texts) >= 30
    langs, scores = LanguageFilter().predict(pa.array(texts, type=pa.string()))
    assert scores.dtype == np.float32
    assert np.mean(langs == lang) >= 0.97
    assert np.median(scores[langs == lang]) > 0.8


def test_language_filter_keeps_wanted_languages(sample):
    de = _docs(sample, "de", PROSE)[:20]
    en = _docs(sample, "en", PROSE)[:20]
    fr = _docs(sample, "fr", PROSE)[:20]
    texts = pa.array(de + en + fr, type=pa.string())

    res = LanguageFilter(["de"]).apply(texts)
    assert res.keep[:20].mean() >= 0.95
    assert not res.keep[20:].any()
    langs = res.annotations["language"].to_pylist()
    # the rule says why (another language, or unsure), the annotation which language
    for i in range(20, 60):
        assert res.rule[i] == ("language_score" if langs[i] == "de" else "language")
        assert res.value[i] == pytest.approx(res.annotations["language_score"][i].as_py())
    assert langs[20:40].count("en") >= 19 and langs[40:].count("fr") >= 19
    assert np.isnan(res.value[res.keep]).all()

    assert LanguageFilter(["de", "fr"]).apply(texts).keep[:20].mean() >= 0.95
    keep = LanguageFilter(["de", "fr"]).apply(texts).keep
    assert keep[40:].mean() >= 0.95 and not keep[20:40].any()

    # languages=None keeps any confidently identified language
    assert LanguageFilter(None).apply(texts).keep.mean() >= 0.9


def test_language_auto_takes_the_targets_languages(sample):
    """languages='auto': the target's languages, and a floor low enough for the target's own docs."""
    de = _docs(sample, "de", PROSE)
    en = _docs(sample, "en", PROSE)
    fr = _docs(sample, "fr", PROSE)[:20]
    f = LanguageFilter("auto")
    assert f.needs_target and f.report() == {}
    with pytest.raises(ValueError, match="auto"):  # unresolved: no target yet
        f.apply(pa.array(en[:2], type=pa.string()))
    info = f.fit_target(pa.array(en[:30] + de[:10], type=pa.string()))
    assert info["languages"] == ["en", "de"]  # most frequent first
    assert info["target_counts"]["en"] >= 29 and info["target_docs"] == 40
    assert f.report() == {"target_languages": info}  # what the manifest records
    keep, rule, langs = drops(f, en[30:50] + de[10:30] + fr)
    assert keep[:40].mean() >= 0.95 and not keep[40:].any()
    assert all(r == "language" or lang in ("en", "de") for r, lang in zip(rule, langs, strict=True))
    assert langs[40:].count("fr") >= 19

    # a language that tops under min_share of the target adds nothing
    one = LanguageFilter("auto")
    assert one.fit_target(pa.array(en[:40] + de[:1], type=pa.string()))["languages"] == ["en"]

    # the floor: every target document in the chosen languages but the least sure 5% passes
    mixed = [t for t in sample if t["domain"] in ("apidoc", "manpage") and t["lang"] == "en"]
    texts = pa.array([t["text"] for t in mixed[:60]], type=pa.string())
    g = LanguageFilter("auto")
    g.fit_target(texts)
    assert g.min_score <= 0.65
    assert g.apply(texts).keep.mean() >= 0.9
    assert not LanguageFilter(["en"]).needs_target
    with pytest.raises(ValueError, match="alone"):
        LanguageFilter(["auto", "en"])


def test_language_min_score(sample):
    fr = _docs(sample, "fr", PROSE)[:10]
    f = LanguageFilter(["fr"], min_score=0.999999)
    res = f.apply(pa.array(fr, type=pa.string()))
    dropped = ~res.keep
    assert dropped.any() and set(res.rule[dropped]) == {"language_score"}
    assert (res.value[dropped] < 0.999999).all() and (res.value[dropped] > 0.5).all()
    # a line mixing two languages is unsure: dropped at the default threshold with its score
    mixed = (
        "The GNU General Public License is a free, copyleft license. "
        "Die GNU General Public License ist eine freie Copyleft-Lizenz."
    )
    r = reason_of(LanguageFilter(["en"], min_score=0.9), mixed)
    assert r.startswith(("language_score:", "language:"))


def test_language_threshold_below_half_uses_runner_up():
    # two languages can both score above a threshold < 0.5: like datatrove, a wanted runner-up
    # passes even when it is not the top language
    text = (
        "The GNU General Public License is a free, copyleft license for software and other "
        "kinds of works. Die GNU General Public License ist eine freie Lizenz."
    )
    langs, scores = LanguageFilter().predict([text])
    assert langs[0] == "de" and scores[0] < 0.9  # English is the runner-up, above 5%
    loose = LanguageFilter(["en"], min_score=0.05).apply(pa.array([text]))
    assert loose.keep[0] and loose.rule[0] == "" and np.isnan(loose.value[0])
    strict = LanguageFilter(["en"], min_score=0.65).apply(pa.array([text]))
    assert not strict.keep[0] and strict.rule[0] == "language"
    assert strict.value[0] == pytest.approx(float(scores[0]))  # the top language's score


def test_language_annotate(sample):
    texts = pa.array(_docs(sample, "fr", PROSE)[:5] + _docs(sample, "en", PROSE)[:5])
    f = LanguageFilter(["en"])
    assert isinstance(f, Filter)
    ann = f.apply(texts).annotations
    assert ann["language"].type == pa.string() and ann["language_score"].type == pa.float32()
    assert ann["language"].to_pylist() == ["fr"] * 5 + ["en"] * 5
    scores = ann["language_score"].to_numpy()
    assert ((scores > 0) & (scores <= 1)).all()


def test_language_newlines_and_long_docs(gpl):
    # multi-line text is predicted as one line; a very long document is cut (max_chars)
    f = LanguageFilter(["en"], max_chars=5_000)
    long = gpl * 5
    langs, scores = f.predict([long, "\n\n" + gpl[:2000] + "\n"])
    assert list(langs) == ["en", "en"]
    assert f._prepare(long).count(" ") > 0 and len(f._prepare(long)) <= 5_000
    assert "\n" not in f._prepare(gpl)


def test_language_filter_pickles_without_model(sample):
    f = LanguageFilter(["de"], min_score=0.7)
    texts = pa.array(_docs(sample, "de", PROSE)[:5] + _docs(sample, "en", PROSE)[:5])
    before = f.apply(texts)
    blob = pickle.dumps(f)
    assert len(blob) < 2_000  # the model (~1 MB) is not shipped
    g = pickle.loads(blob)
    assert g._model is None
    after = g.apply(texts)
    assert (before.keep == after.keep).all() and list(before.rule) == list(after.rule)


# ------------------------------------------------------------------------------ word tokenizer
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("You don't need it.", ["You", "do", "n't", "need", "it", "."]),
        (
            "a well-known program, e.g. grep",
            ["a", "well", "-", "known", "program", ",", "e.g.", "grep"],
        ),
        ("see https://www.debian.org/doc/ now", ["see", "https://www.debian.org/doc/", "now"]),
        (
            "bantime = 10m (see nice(2)):",
            ["bantime", "=", "10", "m", "(", "see", "nice(2", ")", "):"],
        ),
        ("wie z.B. Fehlermeldungen", ["wie", "z.", "B.", "Fehlermeldungen"]),
        ("The U.S. and the USA.", ["The", "U.S.", "and", "the", "USA", "."]),
    ],
)
def test_split_words_matches_spacy_english(text, words):
    # expected tokens are spaCy 3.8's (spacy.blank("en")), datatrove's default word tokenizer
    assert split_words(text) == words


def test_count_sentences():
    assert count_sentences("One sentence only.") == 1
    assert count_sentences("First one. Second one! Third one? Yes.") == 4
    assert count_sentences("Version 3.11 is out, see e.g. the notes.") == 1


# ------------------------------------------------------------------------------ rule filters
RULE_FILTERS = [GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter, FineWebQualityFilter]


@pytest.mark.parametrize("cls", RULE_FILTERS)
def test_rule_filters_keep_real_prose(cls, preamble, gpl):
    f = cls()
    assert isinstance(f, Filter)
    assert reason_of(f, preamble) == ""
    assert reason_of(f, gpl) == ""


@pytest.mark.parametrize("cls", RULE_FILTERS)
def test_rule_filters_keep_most_english_handbook_docs(cls, sample):
    # the Debian handbook is edited prose: nearly all of it passes C4 and FineWeb (Gopher
    # drops some technical sections: commands and paths lower its alphabetic-word ratio)
    texts = _docs(sample, "en", ("handbook",))
    keep = cls().apply(pa.array(texts)).keep
    assert keep.mean() >= (0.3 if cls is GopherQualityFilter else 0.6)


def test_gopher_quality_rules(preamble, gpl_lines, sample):
    f = GopherQualityFilter()
    assert (
        reason_of(f, "Everyone is permitted to copy this license.") == "gopher_quality.doc_words:7"
    )
    bullets = "\n".join("• " + line for line in gpl_lines[:60])
    assert reason_of(f, bullets) == "gopher_quality.bullet_lines_ratio:1"
    cut = "\n".join(line + "..." for line in gpl_lines[:60])
    assert reason_of(f, cut).startswith("gopher_quality.ellipsis_lines_ratio:")
    listing = " ".join(sorted(os.listdir("/usr/share/doc"))[:300])
    assert reason_of(f, listing).startswith("gopher_quality.alpha_words_ratio:")
    # German prose has none of Gopher's (English) stop words
    # (the sample's German handbook keeps some untranslated English lines: keep the German ones)
    lines = [
        line
        for t in _docs(sample, "de", ("handbook",))[:10]
        for line in t.splitlines()
        if len(line.split()) >= 8 and line.endswith(".")
    ]
    langs, scores = LanguageFilter().predict(lines)
    german = "\n".join(
        x for x, lang, p in zip(lines, langs, scores, strict=True) if lang == "de" and p > 0.9
    )
    assert len(german.split()) > 200
    assert reason_of(f, german) in ("gopher_quality.stop_words:0", "gopher_quality.stop_words:1")
    # options: None disables a rule, thresholds are respected
    assert (
        reason_of(GopherQualityFilter(min_stop_words=None, min_alpha_words_ratio=None), german)
        == ""
    )
    assert reason_of(GopherQualityFilter(min_doc_words=10_000), preamble).startswith(
        "gopher_quality.doc_words:"
    )


def test_gopher_repetition_rules(preamble, gpl_lines):
    f = GopherRepetitionFilter()
    repeated_line = "\n".join([gpl_lines[10]] * 40)
    assert reason_of(f, repeated_line) == "gopher_repetition.dup_line_frac:0.975"
    first_para = preamble.split("\n\n")[0]
    repeated_para = "\n\n".join([first_para] * 3 + preamble.split("\n\n")[1:3])
    assert reason_of(f, repeated_para).startswith("gopher_repetition.dup_para_frac:")
    # the same sentence repeated inside one paragraph: caught by the n-gram rules
    sentence = "the GNU General Public License is intended to guarantee your freedom "
    one_para = preamble.replace("\n\n", " ") + " " + sentence * 12
    assert reason_of(f, one_para).startswith(("gopher_repetition.top_", "gopher_repetition.dup_"))
    off = GopherRepetitionFilter(
        dup_line_frac=None, dup_line_char_frac=None, dup_para_frac=None, dup_para_char_frac=None,
        top_n_grams=None, dup_n_grams=None,
    )  # fmt: skip
    assert reason_of(off, repeated_line) == ""


def test_c4_rules(preamble, gpl_lines, sample):
    f = C4QualityFilter()
    lorem = preamble + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
    assert reason_of(f, lorem).startswith("c4.lorem_ipsum:")
    code = next(
        t
        for t in _docs(sample, "en", ("apidoc",))
        if any("{" in line and line.rstrip().endswith(".") for line in t.splitlines())
    )
    assert reason_of(f, code).startswith("c4.curly_bracket:")
    # lines without terminal punctuation are removed, leaving too few sentences
    no_punct = "\n".join(line.rstrip(".,;:") for line in gpl_lines[:80])
    assert reason_of(f, no_punct) == "c4.too_few_sentences:0"
    # JavaScript / cookie notice lines are removed too (C4 edits them out of a page)
    notices = "\n".join(
        [
            "Please enable JavaScript in your browser to view this page.",
            "This website uses cookies to improve your experience.",
            "By using this site you agree to our Terms of Use.",
            gpl_lines[6],
            "Everyone is permitted to copy and distribute verbatim copies of this license.",
        ]
    )
    assert reason_of(f, notices) == "c4.too_few_sentences:1"
    assert reason_of(C4QualityFilter(min_num_sentences=1), notices) == ""
    assert reason_of(C4QualityFilter(filter_lorem_ipsum=False), lorem) == ""


def test_fineweb_rules(preamble, gpl_lines, sample):
    f = FineWebQualityFilter()
    listing = "\n".join(sorted(os.listdir("/usr/share/doc"))[:300])
    assert reason_of(f, listing) == "fineweb.line_punct_ratio:0"
    doubled = preamble + "\n" + "\n".join(preamble.splitlines()[:3])
    assert reason_of(f, doubled).startswith("fineweb.char_dup_ratio:")
    short = "\n".join(w + "." for w in preamble.split()[:200])
    assert reason_of(f, short).startswith(("fineweb.short_line_ratio:", "fineweb.char_dup_ratio:"))
    assert reason_of(FineWebQualityFilter(char_duplicates_ratio=None), short).startswith(
        "fineweb.short_line_ratio:"
    )
    assert reason_of(f, "\n \n") == "fineweb.empty:0"


# ----------------------------------------------------------------------------- registry / apply
def test_build_filters():
    fs = build_filters(["lang", "gopher_quality", "c4"], languages=["en"], min_doc_words=20)
    assert [f.name for f in fs] == ["lang", "gopher_quality", "c4"]
    assert fs[0].languages == ["en"] and fs[1].min_doc_words == 20
    fs = build_filters(["c4", "fineweb"], c4={"min_num_sentences": 3})
    assert fs[0].min_num_sentences == 3
    with pytest.raises(ValueError, match="unknown filter"):
        build_filters(["gopher"])
    with pytest.raises(TypeError, match="not accepted"):
        build_filters(["c4"], min_doc_words=10)


def test_apply_filters_order_and_reasons(sample, preamble, gpl_lines):
    fr = _docs(sample, "fr", PROSE)[0]
    repeated = "\n".join([gpl_lines[10]] * 40)
    texts = pa.array([preamble, fr, repeated, preamble + "\nLorem ipsum dolor sit."])
    fs = build_filters(["lang", "gopher_repetition", "c4"], languages=["en"])
    res = apply_filters(fs, texts)
    assert res.keep.tolist() == [True, False, False, False]
    assert res.rule.tolist() == [
        "",
        "language",
        "gopher_repetition.dup_line_frac",
        "c4.lorem_ipsum",
    ]
    assert np.isnan(res.value[0]) and 0.5 < res.value[1] <= 1.0
    assert res.value[2] == pytest.approx(39 / 40)
    assert res.value[3] == preamble.count("\n") + 2  # the lorem line, 1-based
    assert res.annotations["language"].to_pylist() == ["en", "fr", "en", "en"]
    assert res.annotations["language_score"].type == pa.float32()
    # a document dropped before the language filter ran has no language
    res2 = apply_filters(build_filters(["c4", "lang"]), texts)
    assert res2.rule[3] == "c4.lorem_ipsum" and res2.annotations["language"][3].as_py() is None
    assert res2.annotations["language"].type == pa.string() and res2.keep[0]
    # a filter after everything was dropped still runs, so its columns exist in every batch
    res3 = apply_filters(build_filters(["c4", "lang"]), pa.array([texts[3].as_py()]))
    assert res3.annotations["language"].to_pylist() == [None]
