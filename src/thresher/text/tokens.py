"""Tokens per document: a Hugging Face ``tokenizer.json``, or a fast built-in estimate.

Token budgets (``--tokens N``) need every document's length in tokens, and selection must not
need the text: so the scan counts them, beside the scores, with a :class:`TokenCounter`.

* :class:`TokenizerCounter` runs a real tokenizer (the ``tokenizers`` library's native code,
  ``encode_batch_fast``), content tokens only: no special tokens (BOS/EOS) are added.
* :class:`EstimateCounter` needs no tokenizer: one numba pass over the UTF-8 bytes of a whole
  Arrow string array counts, per document, what makes a byte-level BPE spend tokens (word
  runs and their length beyond 4 and 8 letters, letters outside ASCII, digit runs and digits,
  punctuation runs and characters, newlines, extra spaces) and weighs them with coefficients
  fitted once by non-negative least squares against a 32k-vocabulary byte-level BPE trained by
  ``tokenizers`` on the benchmark pool (``python bench/tokens.py --fit`` prints them). Its error
  against real tokenizers is measured by ``bench/tokens.py`` and stated in the README.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numba as nb
import numpy as np
import pyarrow as pa

from thresher.errors import ConfigError
from thresher.text.ngrams import PUNCT, SPACE, _decode, arrow_buffers, unicode_tables

ESTIMATE = "estimate"  # the name of the built-in counter (the manifest's "tokens.counter")

# The estimate's features, in the order of ESTIMATE_WEIGHTS (see _features_kernel).
FEATURES = (
    "words",  # runs of letters (``\\w`` but digits and ``_``)
    "letters_over_4",  # letters beyond the 4th of each run: long words split
    "letters_over_8",  # ... beyond the 8th
    "letters_2byte",  # letters of 2 UTF-8 bytes (Latin accents, Greek, Cyrillic, ...)
    "letters_3byte",  # letters of 3-4 UTF-8 bytes (CJK, ...): byte-level BPE splits them
    "digit_runs",
    "digits",
    "punct_runs",  # runs of other non-space characters
    "punct",
    "newlines",
    "extra_spaces",  # spaces and tabs beyond the first of a run (indentation)
)
# Fitted by ``python bench/tokens.py --corpus POOL --vocab 32000 --fit`` on the bench/corpus.py
# labeled pool (16,541 docs, 54 MB, 8 languages): tokens per feature.
ESTIMATE_WEIGHTS = np.array(
    [1.2153, 0.0219, 0.0, 0.8569, 0.4618, 0.0, 0.9450, 0.3004, 0.2226, 1.7478, 0.0287],
    dtype=np.float64,
)

_ASCII_0, _ASCII_9, _UNDERSCORE, _NEWLINE = 48, 57, 95, 10
_LETTER, _DIGIT, _OTHER, _SPACE = 0, 1, 2, 3


class TokenCounter(Protocol):
    """Counts the tokens of each document of a string array (picklable: shipped to workers)."""

    name: str  # "estimate", or the tokenizer file's name

    def count(self, texts: pa.Array) -> np.ndarray:
        """Tokens per document, int64, one per element of ``texts``."""
        ...

    def describe(self) -> dict:
        """What the manifest records about the counter."""
        ...


@nb.njit(cache=True, nogil=True)
def _features_kernel(offsets, data, cls):
    """Per document, the counts named in FEATURES, in one pass over the UTF-8 bytes.

    Counters live in locals and are stored once per document; ASCII bytes skip the decoder.
    """
    n = len(offsets) - 1
    out = np.zeros((n, 11), dtype=np.float64)
    for d in range(n):
        i = offsets[d]
        end = offsets[d + 1]
        words = over4 = over8 = l2 = l3 = druns = digits = pruns = punct = nl = extra = 0
        prev = -1  # class of the previous code point
        run = 0  # length of the current run
        while i < end:
            b = data[i]
            if b < 0x80:
                cp = np.int32(b)
                j = i + 1
            else:
                cp, j = _decode(data, i)
            c = cls[cp]
            if c == SPACE:
                k = _SPACE
            elif c == PUNCT or cp == _UNDERSCORE:
                k = _OTHER
            elif _ASCII_0 <= cp <= _ASCII_9:
                k = _DIGIT
            else:
                k = _LETTER
            run = run + 1 if k == prev else 1
            if k == _LETTER:
                if run == 1:
                    words += 1
                elif run > 4:
                    over4 += 1
                    if run > 8:
                        over8 += 1
                if j - i == 2:
                    l2 += 1
                elif j - i > 2:
                    l3 += 1
            elif k == _DIGIT:
                if run == 1:
                    druns += 1
                digits += 1
            elif k == _OTHER:
                if run == 1:
                    pruns += 1
                punct += 1
            elif cp == _NEWLINE:
                nl += 1
                k = -1  # the next space starts a new run (indentation after a newline)
            elif run > 1:
                extra += 1
            prev = k
            i = j
        out[d, 0] = words
        out[d, 1] = over4
        out[d, 2] = over8
        out[d, 3] = l2
        out[d, 4] = l3
        out[d, 5] = druns
        out[d, 6] = digits
        out[d, 7] = pruns
        out[d, 8] = punct
        out[d, 9] = nl
        out[d, 10] = extra
    return out


def estimate_features(texts: pa.Array) -> np.ndarray:
    """The estimate's features per document, float64 of shape ``(len(texts), len(FEATURES))``."""
    cls, _ = unicode_tables()
    offsets, data = arrow_buffers(texts)
    return _features_kernel(offsets, data, cls)


def weigh(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Token counts from features: rounded, and at least 1 for a document with any feature."""
    est = np.rint(features @ weights).astype(np.int64)
    return np.where(features.any(axis=1), np.maximum(est, 1), 0)


class EstimateCounter:
    """The built-in estimate: no tokenizer, one numba pass (hundreds of MB/s per core)."""

    name = ESTIMATE

    def count(self, texts: pa.Array) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros(0, dtype=np.int64)
        return weigh(estimate_features(texts), ESTIMATE_WEIGHTS)

    def describe(self) -> dict:
        return {"counter": ESTIMATE}


class TokenizerCounter:
    """A Hugging Face ``tokenizer.json`` (BPE, WordPiece, Unigram, ...), run in native code.

    Pickled as the file's JSON text, so workers need not see the file. Counts content tokens:
    ``add_special_tokens=False``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"--tokenizer {path}: file not found") from None
        except OSError as e:
            raise ConfigError(f"--tokenizer {path}: cannot read ({e.strerror or e})") from None
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.name = p.name
        try:
            self._json = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                f"--tokenizer {path}: not a Hugging Face tokenizer.json (not UTF-8 text)"
            ) from None
        self._tok = _load(self._json, self.path)

    def __getstate__(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "name": self.name, "_json": self._json}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        # Every task brings the counter again: parse each tokenizer once per worker process.
        tok = _LOADED.get(self.sha256)
        if tok is None:
            tok = _LOADED[self.sha256] = _load(self._json, self.path)
        self._tok = tok

    def count(self, texts: pa.Array) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros(0, dtype=np.int64)
        enc = self._tok.encode_batch_fast(texts.to_pylist(), add_special_tokens=False)
        return np.fromiter((len(e) for e in enc), dtype=np.int64, count=len(enc))

    def describe(self) -> dict:
        return {"counter": "tokenizer", "tokenizer": self.path, "sha256": self.sha256}


_LOADED: dict[str, object] = {}  # sha256 -> tokenizers.Tokenizer, per process


def _load(text: str, path: str):
    """A ``tokenizers.Tokenizer`` from tokenizer.json text; a bad file is one line naming it."""
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_str(text)
    except Exception as e:  # the library raises bare Exceptions on malformed JSON or models
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(
            f"--tokenizer {path}: not a Hugging Face tokenizer.json ({first})"
        ) from None
    tok.no_truncation()
    tok.no_padding()
    return tok


def make_counter(tokenizer: str | None) -> TokenCounter:
    """The tokenizer file's counter, or the built-in estimate (``None`` or ``"estimate"``)."""
    if tokenizer is None or tokenizer == ESTIMATE:
        return EstimateCounter()
    return TokenizerCounter(tokenizer)


__all__ = [
    "ESTIMATE",
    "ESTIMATE_WEIGHTS",
    "FEATURES",
    "EstimateCounter",
    "TokenCounter",
    "TokenizerCounter",
    "estimate_features",
    "make_counter",
    "weigh",
]
