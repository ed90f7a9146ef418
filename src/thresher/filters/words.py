"""Word tokenization for the rule filters, matching datatrove's default English word tokenizer.

datatrove's Gopher and FineWeb filters count words with ``split_into_words(text, "eng")``,
which is ``spacy.blank("en").tokenizer`` followed by dropping whitespace tokens. Word counts,
mean word length, stop words and n-gram repetition all depend on where that tokenizer splits
(``don't`` -> ``do n't``, ``well-known`` -> ``well - known``, ``e.g.`` stays whole, URLs stay
whole, trailing ``.`` split after a lowercase letter but not in ``U.S``...). Rather than pull
in spaCy (and its model machinery) we re-implement spaCy's tokenizer algorithm (whitespace
split, special cases, prefix / suffix stripping, URL match, infix split) in plain Python on
spaCy's own English tables, copied into :mod:`thresher.filters._spacy_en_rules`.

Speed: most whitespace-separated chunks are plain alphanumeric words, which take a fast path
(``str.isalnum``); every other chunk's split is memoised in a per-process dictionary (word
frequencies are Zipfian, so the cache hit rate on real text is high).
"""

from __future__ import annotations

import re

from thresher.filters import _spacy_en_rules as _rules

_PREFIX_SEARCH = re.compile(_rules.PREFIX).search
_SUFFIX_SEARCH = re.compile(_rules.SUFFIX).search
_INFIX_FINDITER = re.compile(_rules.INFIX).finditer
_URL_MATCH = re.compile(_rules.URL).match
_SPECIALS: dict[str, tuple[str, ...]] = _rules.SPECIALS

_WS_SPLIT = re.compile(r"\s+").split
_CACHE: dict[str, tuple[str, ...]] = {}
_CACHE_MAX = 200_000


def _split_affixes(string: str) -> tuple[list[str], str, list[str]]:
    """spaCy's ``Tokenizer._split_affixes`` (token_match is None for English)."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = 0
    while string and len(string) != last_size:
        if string in _SPECIALS:
            break
        last_size = len(string)
        m = _PREFIX_SEARCH(string)
        pre_len = m.end() - m.start() if m else 0
        if pre_len:
            prefix = string[:pre_len]
            minus_pre = string[pre_len:]
            if minus_pre and minus_pre in _SPECIALS:
                string = minus_pre
                prefixes.append(prefix)
                break
        m = _SUFFIX_SEARCH(string[pre_len:])
        suf_len = m.end() - m.start() if m else 0
        if suf_len:
            suffix = string[-suf_len:]
            minus_suf = string[:-suf_len]
            if minus_suf and minus_suf in _SPECIALS:
                string = minus_suf
                suffixes.append(suffix)
                break
        if pre_len and suf_len and (pre_len + suf_len) <= len(string):
            string = string[pre_len:-suf_len]
            prefixes.append(prefix)
            suffixes.append(suffix)
        elif pre_len:
            string = minus_pre
            prefixes.append(prefix)
        elif suf_len:
            string = minus_suf
            suffixes.append(suffix)
    return prefixes, string, suffixes


def _tokenize_chunk(chunk: str) -> tuple[str, ...]:
    """Tokens of one whitespace-free chunk, as spaCy's ``_tokenize`` + ``_attach_tokens``."""
    special = _SPECIALS.get(chunk)
    if special is not None:
        return special
    prefixes, string, suffixes = _split_affixes(chunk)
    out = prefixes
    if string:
        special = _SPECIALS.get(string)
        if special is not None:
            out.extend(special)
        elif _URL_MATCH(string):
            out.append(string)
        else:
            start = 0
            for m in _INFIX_FINDITER(string):
                infix_start, infix_end = m.start(), m.end()
                if infix_start == 0:
                    continue
                if infix_start != start:
                    out.append(string[start:infix_start])
                if infix_start != infix_end:
                    out.append(string[infix_start:infix_end])
                start = infix_end
            if start < len(string):
                out.append(string[start:])
    out.extend(reversed(suffixes))
    return tuple(out)


def split_words(text: str) -> list[str]:
    """Words of ``text`` as datatrove's default (English, spaCy) ``split_into_words``.

    Tokens are whitespace-free and non-empty; punctuation tokens are included (callers filter
    them as datatrove does).
    """
    out: list[str] = []
    append = out.append
    extend = out.extend
    cache = _CACHE
    specials = _SPECIALS
    for chunk in _WS_SPLIT(text):
        if not chunk:
            continue
        if chunk.isalnum() and chunk not in specials:
            append(chunk)
            continue
        toks = cache.get(chunk)
        if toks is None:
            toks = _tokenize_chunk(chunk)
            if len(cache) < _CACHE_MAX:
                cache[chunk] = toks
        extend(toks)
    return out
