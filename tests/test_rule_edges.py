"""Rule edge cases where thresher used to part from datatrove 0.10.1 (issue 14, item 5).

Each expected value is datatrove's own decision on the same text.  They were checked by
running datatrove itself: this file doubles as the script that does it, with no thresher
import at module level, so that

    /work/main/.venv-datatrove/bin/python tests/test_rule_edges.py

(datatrove 0.10.1 + spaCy, ``make bench-venv``) runs datatrove's ``GopherRepetitionFilter``,
``GopherQualityFilter`` and ``C4QualityFilter`` (default options) on every case below and
fails unless each decision equals the ``datatrove`` column.  The tests then require
thresher's filters to make the same keep/drop decision, with the matching rule.
"""

from __future__ import annotations

# Forty-nine words of plain English prose (two stop words, mean length 4-5): a Gopher
# ``doc_words`` boundary case once one more word is added.
_PROSE_49 = (
    "The package manager keeps a list of every installed program and the files that each "
    "one owns so that an upgrade can replace versions without leaving copies "
    "behind and a removal can clean up everything it put on the disk while the "
    "configuration files stay where you left them"
)
_C4_LINES = (
    "The first line of this page is a sentence.\n"
    "The second line of this page is a sentence.\n"
    "The third line of this page is a sentence.\n"
)

# (name, filter, text, datatrove's decision: "keep" or its drop reason, thresher's rule)
CASES = [
    # datatrove: `if not text: return False, "empty"` (not a division by zero)
    ("empty text", "gopher_repetition", "", "empty", "gopher_repetition.empty"),
    # "１" (U+FF11) is in datatrove's PUNCTUATION_SET: a symbol, not a word -> 49 words
    ("fullwidth one", "gopher_quality", _PROSE_49 + " \uff11", "gopher_short_doc",
     "gopher_quality.doc_words"),
    ("fullwidth ones", "gopher_quality", _PROSE_49 + " \uff11\uff11", "gopher_short_doc",
     "gopher_quality.doc_words"),
    # "２" and "1" are not in the set: 50 words, kept
    ("fullwidth two", "gopher_quality", _PROSE_49 + " \uff12", "keep", ""),
    ("ascii one", "gopher_quality", _PROSE_49 + " 1", "keep", ""),
    # spaCy's sentencizer starts a sentence at the whitespace token after "." (a tab, or a
    # second space): 3 + 2 = 5 sentences, kept; with one space "!" joins the sentence: 4
    ("c4 tab after period", "c4", _C4_LINES + "It ends here.\t!", "keep", ""),
    ("c4 two spaces after period", "c4", _C4_LINES + "It ends here.  !", "keep", ""),
    ("c4 one space after period", "c4", _C4_LINES + "It ends here. !", "too_few_sentences",
     "c4.too_few_sentences"),
]  # fmt: skip


def _datatrove_decision(kind: str, text: str) -> str:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    f = {
        "gopher_repetition": GopherRepetitionFilter,
        "gopher_quality": GopherQualityFilter,
        "c4": C4QualityFilter,
    }[kind]()
    res = f.filter(Document(text=text, id="0"))
    if res is True or (isinstance(res, tuple) and res[0]):
        return "keep"
    return res[1] if isinstance(res, tuple) else "drop"


def _thresher_rule(kind: str, text: str) -> str:
    import pyarrow as pa

    from thresher.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter

    f = {
        "gopher_repetition": GopherRepetitionFilter,
        "gopher_quality": GopherQualityFilter,
        "c4": C4QualityFilter,
    }[kind]()
    res = f.apply(pa.array([text], type=pa.string()))
    assert bool(res.keep[0]) == (res.rule[0] == "")
    return str(res.rule[0])


def test_each_case_matches_datatrove():
    for name, kind, text, dt, rule in CASES:
        got = _thresher_rule(kind, text)
        assert got == rule, (name, got)
        assert (dt == "keep") == (got == ""), name


def test_count_sentences_whitespace_tokens():
    from thresher.filters.c4 import count_sentences

    # spaCy (datatrove 0.10.1's split_into_sentences) counts, per the script above:
    # "One. \t!" 2, "Stop.  !" 2, "One two.  )" 2, "One. !" 1, "One.\tTwo." 2
    assert count_sentences("One. \t!") == 2
    assert count_sentences("Stop.  !") == 2
    assert count_sentences("One two.  )") == 2
    assert count_sentences("One. !") == 1
    assert count_sentences("One.\tTwo.") == 2


def test_fullwidth_one_is_not_a_word_but_counts_as_a_token():
    from thresher.filters import GopherQualityFilter

    # the symbol "word" still counts in the alpha-words ratio's denominator, as in datatrove
    f = GopherQualityFilter(min_doc_words=None)
    assert f.check(_PROSE_49 + " \uff11") is None
    assert GopherQualityFilter().check(_PROSE_49 + " \uff11") == ("doc_words", 49)


if __name__ == "__main__":  # pragma: no cover - run datatrove (see the module docstring)
    from datatrove.utils.text import split_into_sentences

    bad = 0
    for name, kind, text, dt, _ in CASES:
        got = _datatrove_decision(kind, text)
        bad += got != dt
        print(f"{'ok ' if got == dt else 'BAD'} {name}: datatrove {got!r}, expected {dt!r}")
    for line, n in (("One. \t!", 2), ("Stop.  !", 2), ("One two.  )", 2), ("One. !", 1),
                    ("One.\tTwo.", 2)):  # fmt: skip
        got = len(split_into_sentences(line))
        bad += got != n
        print(f"{'ok ' if got == n else 'BAD'} sentences in {line!r}: spaCy {got}, expected {n}")
    raise SystemExit(bad)
