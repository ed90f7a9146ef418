"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", App. A).

Thresholds and computations follow datatrove's ``GopherQualityFilter`` and
``GopherRepetitionFilter`` (``pipeline/filters/gopher_*_filter.py``), with words from
:func:`thresher.filters.words.split_words` (datatrove's default English word tokenizer).
Each threshold is a keyword option; ``None`` disables that rule. Unlike datatrove, ``0`` is a
threshold, not "disabled".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from thresher.filters._punctuation import ALNUM_PUNCTUATION, PUNCTUATION_CHARS
from thresher.filters._rules import RuleFilter, find_duplicates
from thresher.filters.words import split_words

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


def _has_alnum_punctuation(word: str) -> bool:
    return any(c in word for c in ALNUM_PUNCTUATION)


def _has_alpha(word: str) -> bool:
    return word.isalpha() or any(c.isalpha() for c in word)


class GopherQualityFilter(RuleFilter):
    """Gopher's quality rules; drop rule ``gopher_quality.<rule>`` with its measured value.

    Rules, in order (``doc_words`` and the mean word length count only "non-symbol" words,
    i.e. words with at least one character outside datatrove's punctuation set):

    - ``doc_words``: fewer than ``min_doc_words`` (50) or more than ``max_doc_words`` (100k);
    - ``mean_word_length``: outside [``min_avg_word_length``, ``max_avg_word_length``] (3, 10);
    - ``hash_word_ratio`` / ``ellipsis_word_ratio``: ``#`` or ``...``/``…`` occurrences per
      word above ``max_symbol_word_ratio`` (0.1);
    - ``bullet_lines_ratio``: lines starting with ``•`` or ``-`` above 0.9;
    - ``ellipsis_lines_ratio``: lines ending with ``...`` or ``…`` above 0.3;
    - ``alpha_words_ratio``: words with an alphabetic character below ``min_alpha_words_ratio``
      (0.8; datatrove calls it ``max_non_alpha_words_ratio``);
    - ``stop_words``: fewer than ``min_stop_words`` (2) distinct stop words.
    """

    name = "gopher_quality"

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        min_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        stop_words: Iterable[str] | None = None,
    ):
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(STOP_WORDS if stop_words is None else stop_words)

    def check(self, text: str) -> tuple[str, float] | None:
        words = split_words(text)
        n_words = len(words)
        # statistics over word types (Zipf: far fewer types than tokens)
        counts = Counter(words)
        n_content = 0
        content_chars = 0
        n_alpha = 0
        for w, c in counts.items():
            # datatrove: a word with a character outside its punctuation set; "１" (U+FF11,
            # FULLWIDTH DIGIT ONE) is alphanumeric *and* in that set, so isalnum() alone is
            # not enough
            if (w.isalnum() and not _has_alnum_punctuation(w)) or w.strip(PUNCTUATION_CHARS):
                n_content += c
                content_chars += len(w) * c
            if _has_alpha(w):
                n_alpha += c

        if self.min_doc_words is not None and n_content < self.min_doc_words:
            return "doc_words", n_content
        if self.max_doc_words is not None and n_content > self.max_doc_words:
            return "doc_words", n_content

        if n_content:  # datatrove: mean of an empty list is nan, which fails no comparison
            mean_len = content_chars / n_content
            if self.min_avg_word_length is not None and mean_len < self.min_avg_word_length:
                return "mean_word_length", mean_len
            if self.max_avg_word_length is not None and mean_len > self.max_avg_word_length:
                return "mean_word_length", mean_len

        denom = max(n_words, 1)
        if self.max_symbol_word_ratio is not None:
            ratio = text.count("#") / denom
            if ratio > self.max_symbol_word_ratio:
                return "hash_word_ratio", ratio
            ratio = (text.count("...") + text.count("…")) / denom
            if ratio > self.max_symbol_word_ratio:
                return "ellipsis_word_ratio", ratio

        if self.max_bullet_lines_ratio is not None or self.max_ellipsis_lines_ratio is not None:
            lines = text.splitlines()
            n_lines = max(len(lines), 1)
            if self.max_bullet_lines_ratio is not None:
                ratio = sum(s.lstrip().startswith(("•", "-")) for s in lines) / n_lines
                if ratio > self.max_bullet_lines_ratio:
                    return "bullet_lines_ratio", ratio
            if self.max_ellipsis_lines_ratio is not None:
                ratio = sum(s.rstrip().endswith(("...", "…")) for s in lines) / n_lines
                if ratio > self.max_ellipsis_lines_ratio:
                    return "ellipsis_lines_ratio", ratio

        if self.min_alpha_words_ratio is not None:
            ratio = n_alpha / denom
            if ratio < self.min_alpha_words_ratio:
                return "alpha_words_ratio", ratio

        if self.min_stop_words is not None:
            n_stop = sum(1 for w in self.stop_words if w in counts)
            if n_stop < self.min_stop_words:
                return "stop_words", n_stop
        return None


_PARAGRAPH_SPLIT = re.compile(r"\n{2,}").split
_LINE_SPLIT = re.compile(r"\n+").split


def _top_ngram_chars(words: list[str], n: int) -> int:
    """Characters covered by the most frequent word n-gram: datatrove's ``find_top_duplicate``.

    The n-gram's length is that of its words joined by single spaces; among equally frequent
    n-grams the first seen wins (as ``Counter.most_common(1)``).
    """
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, count = counts.most_common(1)[0]
    return (sum(map(len, gram)) + n - 1) * count


def _dup_ngram_chars(words: list[str], n: int, n_chars: int, frac: float) -> int:
    """Characters in repeated word n-grams: datatrove's ``find_all_duplicate``.

    Scans left to right; an n-gram (words concatenated without separator, as datatrove does)
    seen before counts its characters and the scan jumps past it. Stops early once the count
    over ``n_chars`` exceeds ``frac`` (the result is then only known to be above it).
    """
    n_grams = len(words) - n + 1
    if n_grams <= 0:
        return 0
    grams = ["".join(words[i : i + n]) for i in range(n_grams)]
    if len(set(grams)) == n_grams:  # no repeats at all: the common case for good text
        return 0
    seen: set[str] = set()
    repeated, idx = 0, 0
    while idx < n_grams:
        g = grams[idx]
        if g in seen:
            repeated += len(g)
            if repeated / n_chars > frac:
                return repeated
            idx += n
        else:
            seen.add(g)
            idx += 1
    return repeated


class GopherRepetitionFilter(RuleFilter):
    """Gopher's repetition rules (Table A1); drop rule ``gopher_repetition.<rule>``, value.

    An empty text is dropped as ``empty`` (value 0), as datatrove does. Then, in order:
    ``dup_para_frac`` / ``dup_para_char_frac`` (paragraphs split on blank
    lines), ``dup_line_frac`` / ``dup_line_char_frac``, ``top_<n>_gram`` (characters of the
    most frequent n-gram over the text's length, n = 2, 3, 4), ``dup_<n>_gram`` (characters in
    repeated n-grams, n = 5..10).
    """

    name = "gopher_repetition"

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: Sequence[tuple[int, float]] | None = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: Sequence[tuple[int, float]] | None = (
            (5, 0.15),
            (6, 0.14),
            (7, 0.13),
            (8, 0.12),
            (9, 0.11),
            (10, 0.10),
        ),
    ):
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = tuple((int(n), float(f)) for n, f in (top_n_grams or ()))
        self.dup_n_grams = tuple((int(n), float(f)) for n, f in (dup_n_grams or ()))

    def check(self, text: str) -> tuple[str, float] | None:
        n_chars = len(text)
        if n_chars == 0:
            return "empty", 0.0  # datatrove 0.10.1 drops an empty text as "empty"

        paragraphs = _PARAGRAPH_SPLIT(text.strip())
        n_dup, dup_chars = find_duplicates(paragraphs)
        if self.dup_para_frac is not None and n_dup / len(paragraphs) > self.dup_para_frac:
            return "dup_para_frac", n_dup / len(paragraphs)
        if self.dup_para_char_frac is not None and dup_chars / n_chars > self.dup_para_char_frac:
            return "dup_para_char_frac", dup_chars / n_chars

        lines = _LINE_SPLIT(text)
        n_dup, dup_chars = find_duplicates(lines)
        if self.dup_line_frac is not None and n_dup / len(lines) > self.dup_line_frac:
            return "dup_line_frac", n_dup / len(lines)
        if self.dup_line_char_frac is not None and dup_chars / n_chars > self.dup_line_char_frac:
            return "dup_line_char_frac", dup_chars / n_chars

        if not self.top_n_grams and not self.dup_n_grams:
            return None
        words = split_words(text)
        for n, frac in self.top_n_grams:
            if len(words) < n:
                continue
            ratio = _top_ngram_chars(words, n) / n_chars
            if ratio > frac:
                return f"top_{n}_gram", ratio
        for n, frac in self.dup_n_grams:
            ratio = _dup_ngram_chars(words, n, n_chars, frac) / n_chars
            if ratio > frac:
                return f"dup_{n}_gram", ratio
        return None
