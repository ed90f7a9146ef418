"""C4's heuristic rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning", §2.2).

Follows datatrove's ``C4QualityFilter`` (``pipeline/filters/c4_filters.py``, itself after
``tensorflow_datasets/text/c4_utils.py``) with its default options. That filter is partly a
*line editor*: it deletes lines without terminal punctuation, with fewer than 3 words, with a
word over 1000 characters, mentioning "javascript", or containing a cookie / terms-of-use
phrase, and rewrites the document from the lines it kept (after removing Wikipedia-style
citation marks). thresher filters only keep or drop documents and never edit text, so:

- the line deletions are *emulated*, not applied: they are run to decide which lines a C4
  document would keep, and the document-level rules below see only those lines, exactly as in
  datatrove; the kept document's text is left unchanged (use a text normalization stage if you
  want C4's edited text);
- the document-level drop decisions are identical to datatrove's: ``lorem_ipsum`` (a kept
  line contains "lorem ipsum"), ``curly_bracket`` (a kept line contains ``{``) and
  ``too_few_sentences`` (the kept lines hold fewer than ``min_num_sentences`` sentences,
  counted per line with spaCy's rule-based sentencizer on datatrove's English tokens).

Not implemented: C4's bad-words list (datatrove's separate ``C4BadWordsFilter``, which needs
a download) and sentence mode (``split_paragraph=False``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from thresher.filters._rules import RuleFilter
from thresher.filters._spacy_en_rules import SENT_PUNCT_CHARS
from thresher.filters.words import split_words

CITATION_REGEX = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_WS_RUNS = re.compile(r"(\s+)").split
_EXTRA_WS = re.compile(r"[^\S ]| {2}").search  # whitespace spaCy makes a token of
_SENT_PUNCT_RE = re.compile("|".join(re.escape(c) for c in sorted(SENT_PUNCT_CHARS)))


@lru_cache(maxsize=65_536)
def _is_punct(token: str) -> bool:
    """spaCy's ``is_punct`` lexical attribute: every character is Unicode punctuation (P*)."""
    return all(unicodedata.category(c).startswith("P") for c in token)


def count_sentences(line: str) -> int:
    """Sentences in one stripped line as spaCy's ``Sentencizer`` splits datatrove's tokens.

    A new sentence starts at the first token that is neither punctuation nor a sentence-final
    character after a sentence-final character (``.``, ``!``, ``?``, ``。``...); whitespace
    beyond one space between words is such a token, as in spaCy.
    """
    m = _SENT_PUNCT_RE.search(line)
    if m is None or m.end() == len(line):  # no sentence-final character, or only at the end
        return 1
    n = 1
    seen_period = False
    # only single spaces between words (the common case): the words are all the tokens
    parts = [line] if _EXTRA_WS(line) is None else _WS_RUNS(line)
    for i, part in enumerate(parts):
        if i % 2:
            # spaCy's tokenizer attaches one leading " " of a whitespace run to the token
            # before it; the rest of the run ("\t", a second space...) is a token of its own,
            # which is neither punctuation nor sentence-final: after a "." it starts a
            # sentence ("One.  !" is 2 sentences; datatrove 0.10.1 + spaCy agree)
            if part == " ":
                continue
            toks: tuple[str, ...] | list[str] = (part[1:] if part[0] == " " else part,)
        else:
            toks = split_words(part) if part else ()
        for tok in toks:
            in_punct = tok in SENT_PUNCT_CHARS
            if seen_period and not in_punct and not _is_punct(tok):
                n += 1
                seen_period = False
            elif in_punct:
                seen_period = True
    return n


class C4QualityFilter(RuleFilter):
    """C4's document-level rules; drop rule ``c4.<rule>`` with its measured value.

    Options (datatrove's names and defaults): ``remove_citations``,
    ``filter_no_terminal_punct``, ``min_num_sentences`` (5; ``None`` disables),
    ``min_words_per_line`` (3), ``max_word_length`` (1000), ``filter_lorem_ipsum``,
    ``filter_javascript``, ``filter_curly_bracket``, ``filter_policy``.
    Rules: ``c4.lorem_ipsum``, ``c4.curly_bracket`` (value: the 1-based line number),
    ``c4.too_few_sentences`` (value: the sentences in the kept lines).
    """

    name = "c4"

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int | None = 5,
        min_words_per_line: int | None = 3,
        max_word_length: int | None = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
    ):
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = None if min_num_sentences == -1 else min_num_sentences
        self.min_words_per_line = None if min_words_per_line == -1 else min_words_per_line
        self.max_word_length = None if max_word_length == -1 else max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy

    def check(self, text: str) -> tuple[str, float] | None:
        need = self.min_num_sentences
        num_sentences = 0
        for lineno, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            words = line.split()
            if (
                self.max_word_length is not None
                and len(line) > self.max_word_length
                and any(len(w) > self.max_word_length for w in words)
            ):
                continue
            if self.remove_citations and "[" in line:
                line = CITATION_REGEX.sub("", line)
            if self.filter_no_terminal_punct and (
                not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)
            ):
                continue
            if self.min_words_per_line is not None and len(words) < self.min_words_per_line:
                continue
            line_l = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in line_l:
                return "lorem_ipsum", lineno
            if self.filter_javascript and "javascript" in line_l:
                continue
            if self.filter_curly_bracket and "{" in line:
                return "curly_bracket", lineno
            if self.filter_policy and any(p in line_l for p in POLICY_SUBSTRINGS):
                continue
            if need is not None and num_sentences < need:
                num_sentences += count_sentences(line)
        if need is not None and num_sentences < need:
            return "too_few_sentences", num_sentences
        return None
