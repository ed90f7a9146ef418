"""Exact deduplication keys: a 128-bit hash of each document's normalized text.

Normalization (:func:`normalize`): Unicode NFKC (optional, on by default: folds
full-width forms, ligatures, compatibility spaces), then ``str.casefold`` (full Unicode
case folding: ``ß``/``SS`` -> ``ss``, final sigma), then every run of
whitespace (``str.split``'s definition, which includes NBSP and the Unicode spaces)
becomes one space, and leading/trailing whitespace is dropped.  Punctuation is kept: two
documents are exact duplicates when they differ only in case and spacing.

The hash is BLAKE2b with a 16-byte digest of the UTF-8 bytes, returned as two ``uint64``
columns (``[:, 0]`` high word, ``[:, 1]`` low word).  128 bits make accidental collisions
irrelevant at any corpus size (a 64-bit key would collide with probability ~3% among 1e9
documents).  The loop is Python per *document* (not per token): normalization and hashing
are C calls on the whole string.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from ._arrow import as_string_array

__all__ = ["normalize", "exact_hashes"]


def normalize(text: str, nfkc: bool = True) -> str:
    """Case-fold, collapse whitespace, strip (after NFKC when ``nfkc``)."""
    if nfkc and not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def exact_hashes(
    texts: pa.Array | pa.ChunkedArray | Sequence[str | None], nfkc: bool = True
) -> np.ndarray:
    """128-bit hashes of normalized texts: ``uint64`` array of shape ``(n, 2)``.

    Nulls hash like the empty string.
    """
    arr = as_string_array(texts)
    n = len(arr)
    buf = bytearray(16 * n)
    blake = hashlib.blake2b
    norm = unicodedata.normalize
    is_norm = unicodedata.is_normalized
    pos = 0
    for s in arr.to_pylist():
        if s is None:
            s = ""
        elif nfkc and not s.isascii() and not is_norm("NFKC", s):
            s = norm("NFKC", s)
        buf[pos : pos + 16] = blake(
            " ".join(s.casefold().split()).encode(), digest_size=16
        ).digest()
        pos += 16
    return np.frombuffer(bytes(buf), dtype=">u8").astype(np.uint64).reshape(n, 2)
