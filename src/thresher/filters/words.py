"""Word tokenization for the rule filters, matching datatrove's default English word tokenizer.

datatrove's Gopher and FineWeb filters count words with ``split_into_words(text, "eng")``,
which is ``spacy.blank("en").tokenizer`` followed by dropping whitespace tokens. Word counts,
mean word length, stop words and n-gram repetition all depend on where that tokenizer splits
(``don't`` -> ``do n't``, ``well-known`` -> ``well - known``, ``e.g.`` stays whole, URLs stay
whole, trailing ``.`` split after a lowercase letter but not in ``U.S``...). Rather than pull
in spaCy (and its model machinery) we re-implement spaCy's tokenizer algorithm (whitespace
split, special cases, prefix / suffix stripping, URL match, infix split) in plain Python on
spaCy's own English tables, copied into :mod:`thresher.filters._spacy_en_rules`.

Speed: most whitespace-separated chunks are plain words, which take a fast path
(``str.isalpha``); every other chunk's split is memoised in a per-process dictionary (word
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


def _split_affixes(string: str, specials: dict) -> tuple[list[str], str, list[str]]:
    """spaCy's ``Tokenizer._split_affixes`` (token_match is None for English)."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = 0
    while string and len(string) != last_size:
        if string in specials:
            break
        last_size = len(string)
        m = _PREFIX_SEARCH(string)
        pre_len = m.end() - m.start() if m else 0
        if pre_len:
            prefix = string[:pre_len]
            minus_pre = string[pre_len:]
            if minus_pre and minus_pre in specials:
                string = minus_pre
                prefixes.append(prefix)
                break
        m = _SUFFIX_SEARCH(string[pre_len:])
        suf_len = m.end() - m.start() if m else 0
        if suf_len:
            suffix = string[-suf_len:]
            minus_suf = string[:-suf_len]
            if minus_suf and minus_suf in specials:
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


def _tokenize_affixes(chunk: str, specials: dict) -> list[str]:
    """spaCy's ``_tokenize`` + ``_attach_tokens`` for one whitespace-free chunk."""
    special = specials.get(chunk)
    if special is not None:
        return list(special)
    prefixes, string, suffixes = _split_affixes(chunk, specials)
    out = prefixes
    if string:
        special = specials.get(string)
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
    return out


def _build_special_patterns() -> dict[str, list[tuple[str, ...]]]:
    """spaCy's special-case *matcher*: special cases that its affix rules would split.

    spaCy tokenizes such a string (say ``z.`` or ``):``) without special cases (``z`` ``.``)
    and, after tokenizing a text, merges any run of adjacent tokens equal to that split back
    into the special case. Patterns are indexed by their first token.
    """
    patterns: dict[str, list[tuple[str, ...]]] = {}
    for string in _SPECIALS:
        if _PREFIX_SEARCH(string) or _SUFFIX_SEARCH(string) or any(_INFIX_FINDITER(string)):
            toks = tuple(_tokenize_affixes(string, {}))
            if toks:
                patterns.setdefault(toks[0], []).append(toks)
    return patterns


_PATTERNS = _build_special_patterns()


def _apply_special_cases(tokens: list[str]) -> list[str]:
    """spaCy's ``_apply_special_cases`` on the tokens of one chunk (matches never span spaces)."""
    matches = []
    for i, tok in enumerate(tokens):
        for pat in _PATTERNS.get(tok, ()):
            n = len(pat)
            if tuple(tokens[i : i + n]) == pat:
                matches.append((i, i + n))
    if not matches:
        return tokens
    # _filter_special_spans: longest first (then the earlier start), skipping overlaps
    matches.sort(key=lambda se: (se[1] - se[0], -se[0]))
    seen: set[int] = set()
    kept = []
    for start, end in reversed(matches):
        if start not in seen and end - 1 not in seen:
            kept.append((start, end))
        seen.update(range(start, end))
    kept.sort()
    out: list[str] = []
    pos = 0
    for start, end in kept:
        out.extend(tokens[pos:start])
        out.extend(_SPECIALS["".join(tokens[start:end])])
        pos = end
    out.extend(tokens[pos:])
    return out


def _tokenize_chunk(chunk: str) -> tuple[str, ...]:
    """Tokens of one whitespace-free chunk, as spaCy's tokenizer."""
    tokens = _tokenize_affixes(chunk, _SPECIALS)
    if len(tokens) > 1:
        tokens = _apply_special_cases(tokens)
    return tuple(tokens)


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
        # letters only or digits only: no affix rule applies (digits+letters may: "10m", "1GB")
        if (chunk.isalpha() or chunk.isdecimal()) and chunk not in specials:
            append(chunk)
            continue
        toks = cache.get(chunk)
        if toks is None:
            toks = _tokenize_chunk(chunk)
            if len(cache) < _CACHE_MAX:
                cache[chunk] = toks
        extend(toks)
    return out
