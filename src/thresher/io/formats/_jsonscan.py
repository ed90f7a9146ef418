"""The text field of JSONL lines, read by one strict JSON pass in numba (the scan's fast path).

Each line is checked against JSON's grammar as it is walked, and the top-level text field's
string is decoded (escapes, surrogate pairs) straight into one output buffer: the texts of
a block come out as one Arrow string array without a Python object per row. A line is
*clean* when it is one JSON object whose text field is a string and nothing in it could
make orjson (the definition of a valid row, :func:`.jsonl.parse_row`) read it differently.
Every other line is sent to orjson, which reads it or says why not: invalid JSON, a
non-string text, no text field, a key written with escapes, a lone surrogate, a number
that might overflow a double, nesting near orjson's limit, a blank line. Sending a valid
line there costs speed only, so the checks lean that way.

Why not a library: Arrow's JSON reader parses every field into columns and accepts what
JSON does not (NaN, Infinity, two objects on one line), so it needed a separate pass of
byte checks to find the lines it reads differently; simdjson's Python bindings build a
Python object per document. On the first 256 MB of the bench corpus, one core, 8 MB
blocks (bench/jsonl_scan.py, bench/results/jsonl_scan.md): 1,323 MB/s against 689 for
pyarrow.json on the text column alone (1.9x, before its byte checks) and 349 for orjson
per line (3.8x); every line was clean and read as orjson reads it (tests/test_jsonscan.py
checks that property on random JSON too).

Inside strings, which hold almost all the bytes, the loop takes 8 bytes a step: it finds
the first quote, backslash or control byte of the word with the usual bit tricks, and
copies the word to the output unconditionally (the output is 8 bytes longer than the
input, and text never decodes longer than its JSON).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

from thresher._intrinsics import ctz, load_u64, store_u64

MAX_DEPTH = 1000  # deeper lines go to orjson, whose own limit is 1024
MAX_NUMBER = 24  # longer numbers go to orjson (with 2 exponent digits, never an overflow)

_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_QUOTES = np.uint64(0x2222222222222222)
_SLASHES = np.uint64(0x5C5C5C5C5C5C5C5C)
_SPACES = np.uint64(0x2020202020202020)

# What the scanner expects next inside a line.
_KEY_OR_END = 0  # just after '{'
_KEY = 1  # after ',' in an object
_VALUE = 2  # after ':' or ',' in an array
_VALUE_OR_END = 3  # just after '['
_AFTER = 4  # after a value: ',' or the container's end

# String results.
_BAD = -1
_PLAIN = 0
_ESCAPED = 1


@nb.njit(cache=True, nogil=True, inline="always")
def _special(x: np.uint64) -> np.uint64:
    """High bit set in the lowest byte of ``x`` that is '"', '\\' or below 0x20 (bits above
    it may be set too: the borrow of the subtraction; only the lowest is exact)."""
    q = x ^ _QUOTES
    s = x ^ _SLASHES
    return (((q - _ONES) & ~q) | ((s - _ONES) & ~s) | ((x - _SPACES) & ~x)) & _HIGHS


@nb.njit(cache=True, nogil=True)
def _hex4(a: np.ndarray, i: int, e: int) -> int:
    """The value of 4 hex digits at ``a[i:i + 4]``, or -1."""
    if i + 4 > e:
        return -1
    v = 0
    for j in range(i, i + 4):
        c = a[j]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = v * 16 + d
    return v


@nb.njit(cache=True, nogil=True)
def _put_utf8(out: np.ndarray, pos: int, cp: int) -> int:
    if cp < 0x80:
        out[pos] = cp
        return pos + 1
    if cp < 0x800:
        out[pos] = 0xC0 | (cp >> 6)
        out[pos + 1] = 0x80 | (cp & 0x3F)
        return pos + 2
    if cp < 0x10000:
        out[pos] = 0xE0 | (cp >> 12)
        out[pos + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[pos + 2] = 0x80 | (cp & 0x3F)
        return pos + 3
    out[pos] = 0xF0 | (cp >> 18)
    out[pos + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[pos + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[pos + 3] = 0x80 | (cp & 0x3F)
    return pos + 4


@nb.njit(cache=True, nogil=True, inline="always")
def _string(
    a: np.ndarray, i: int, e: int, out: np.ndarray, pos: int, copy: bool
) -> tuple[int, int, int, np.uint64]:
    """Walk the string whose opening quote is ``a[i - 1]``, up to the line's end ``e``.

    Returns (index after the closing quote, output position, _PLAIN / _ESCAPED / _BAD, OR of
    the bytes read). With ``copy`` the decoded string is written at ``out[pos:]``."""
    n = a.size
    seen = np.uint64(0)
    kind = _PLAIN
    while True:
        if i + 8 <= n:
            x = load_u64(a, i)
            m = _special(x)
            if copy:
                store_u64(out, pos, x)
            if m == 0:
                seen |= x
                i += 8
                pos += 8
                continue
            t = np.int64(ctz(m) >> np.uint64(3))
            seen |= x & ((np.uint64(1) << np.uint64(8 * t)) - np.uint64(1))
            i += t
            pos += t
        if i >= e:
            return i, pos, _BAD, seen
        c = a[i]
        if c == 34:  # '"'
            return i + 1, pos, kind, seen
        if c < 32:  # a raw control character: invalid JSON
            return i, pos, _BAD, seen
        if c != 92:  # an ordinary byte (only near the array's end, past the 8-byte steps)
            seen |= np.uint64(c)
            if copy:
                out[pos] = c
            i += 1
            pos += 1
            continue
        kind = _ESCAPED
        if i + 1 >= e:
            return i, pos, _BAD, seen
        c = a[i + 1]
        i += 2
        if c == 117:  # \uXXXX
            cp = _hex4(a, i, e)
            if cp < 0:
                return i, pos, _BAD, seen
            i += 4
            if 0xDC00 <= cp <= 0xDFFF:  # a low surrogate alone
                return i, pos, _BAD, seen
            if 0xD800 <= cp <= 0xDBFF:  # must be followed by its low half
                if i + 1 >= e or a[i] != 92 or a[i + 1] != 117:
                    return i, pos, _BAD, seen
                lo = _hex4(a, i + 2, e)
                if lo < 0xDC00 or lo > 0xDFFF:
                    return i, pos, _BAD, seen
                i += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            if copy:
                pos = _put_utf8(out, pos, cp)
            continue
        if c == 34 or c == 92 or c == 47:
            d = c
        elif c == 110:
            d = 10
        elif c == 116:
            d = 9
        elif c == 114:
            d = 13
        elif c == 98:
            d = 8
        elif c == 102:
            d = 12
        else:
            return i, pos, _BAD, seen
        if copy:
            out[pos] = d
        pos += 1


@nb.njit(cache=True, nogil=True)
def _blank(a: np.ndarray, i: int, e: int) -> int:
    """Index of the first byte at or after ``i`` that is not JSON whitespace (space, tab, CR:
    a line holds no LF)."""
    while i < e:
        c = a[i]
        if c != 32 and c != 9 and c != 13:
            return i
        i += 1
    return i


@nb.njit(cache=True, nogil=True)
def _number(a: np.ndarray, i: int, e: int) -> int:
    """Index after the JSON number at ``i``, or -1 (not JSON, or long enough that orjson
    might read it as infinity)."""
    s = i
    if i < e and a[i] == 45:  # '-'
        i += 1
    if i >= e:
        return -1
    if a[i] == 48:  # '0': no digits may follow
        i += 1
    elif 49 <= a[i] <= 57:
        while i < e and 48 <= a[i] <= 57:
            i += 1
    else:
        return -1
    if i < e and a[i] == 46:  # '.'
        i += 1
        d = i
        while i < e and 48 <= a[i] <= 57:
            i += 1
        if i == d:
            return -1
    if i < e and (a[i] == 101 or a[i] == 69):  # 'e' / 'E'
        i += 1
        if i < e and (a[i] == 43 or a[i] == 45):
            i += 1
        d = i
        while i < e and 48 <= a[i] <= 57:
            i += 1
        if i == d or i - d > 2:
            return -1
    if i - s > MAX_NUMBER:
        return -1
    return i


@nb.njit(cache=True, nogil=True)
def _literal(a: np.ndarray, i: int, e: int) -> int:
    """Index after ``true``, ``false`` or ``null`` at ``i``, or -1."""
    c = a[i]
    if c == 116:  # true
        if i + 4 <= e and a[i + 1] == 114 and a[i + 2] == 117 and a[i + 3] == 101:
            return i + 4
    elif c == 102:  # false
        if (
            i + 5 <= e
            and a[i + 1] == 97
            and a[i + 2] == 108
            and a[i + 3] == 115
            and a[i + 4] == 101
        ):
            return i + 5
    elif c == 110 and i + 4 <= e and a[i + 1] == 117 and a[i + 2] == 108 and a[i + 3] == 108:
        return i + 4  # null
    return -1


@nb.njit(cache=True, nogil=True)
def _is_key(a: np.ndarray, s: int, e: int, key: np.ndarray) -> bool:
    if e - s != key.size:
        return False
    same = True
    for j in range(key.size):
        same &= a[s + j] == key[j]
    return same


@nb.njit(cache=True, nogil=True)
def _line(
    a: np.ndarray,
    s: int,
    e: int,
    key: np.ndarray,
    out: np.ndarray,
    pos: int,
    stack: np.ndarray,
) -> tuple[bool, int, np.uint64]:
    """Check the line ``a[s:e]`` and write its text field's string at ``out[pos:]``.

    Returns (clean, output position after the text, OR of the string bytes read)."""
    seen = np.uint64(0)
    i = _blank(a, s, e)
    if i >= e or a[i] != 123:  # '{'
        return False, pos, seen
    i += 1
    depth = 1
    stack[0] = 123
    expect = _KEY_OR_END
    is_text = False  # the value about to be read is the top-level text field's
    start = pos  # where this line's text goes (a repeated key writes it again: last wins)
    end = -1
    while True:
        i = _blank(a, i, e)
        if i >= e:
            return False, pos, seen
        c = a[i]
        if expect == _AFTER:
            top = stack[depth - 1]
            if c == 44:  # ','
                i += 1
                expect = _KEY if top == 123 else _VALUE
                continue
            if not ((c == 125 and top == 123) or (c == 93 and top == 91)):
                return False, pos, seen
            i += 1
            depth -= 1
            if depth == 0:  # the line's object is closed: only blanks may follow
                if _blank(a, i, e) < e or end < 0:
                    return False, pos, seen
                return True, end, seen
        elif is_text:  # the top-level text field's value: a string, copied out
            if c != 34:  # not a string: orjson says why
                return False, pos, seen
            i, end, kind, bits = _string(a, i + 1, e, out, start, True)
            seen |= bits
            if kind == _BAD:
                return False, pos, seen
            is_text = False
            expect = _AFTER
        elif c == 34:  # a key, or a string value not copied
            k0 = i + 1
            i, _, kind, bits = _string(a, k0, e, out, pos, False)
            seen |= bits
            if kind == _BAD:
                return False, pos, seen
            if expect >= _VALUE:
                expect = _AFTER
                continue
            if depth == 1:
                if kind == _ESCAPED:  # a key spelled with escapes: orjson compares it
                    return False, pos, seen
                is_text = _is_key(a, k0, i - 1, key)
            i = _blank(a, i, e)
            if i >= e or a[i] != 58:  # ':'
                return False, pos, seen
            i += 1
            expect = _VALUE
        elif (c == 125 and expect == _KEY_OR_END) or (c == 93 and expect == _VALUE_OR_END):
            i += 1  # the end of an empty object or array (not the line's: that has a key)
            depth -= 1
            expect = _AFTER
        elif expect <= _KEY:  # a key must be a string
            return False, pos, seen
        elif c == 123 or c == 91:  # '{' '['
            if depth >= MAX_DEPTH:
                return False, pos, seen
            stack[depth] = c
            depth += 1
            i += 1
            expect = _KEY_OR_END if c == 123 else _VALUE_OR_END
        else:
            i = _number(a, i, e) if c == 45 or 48 <= c <= 57 else _literal(a, i, e)
            if i < 0:
                return False, pos, seen
            expect = _AFTER


@nb.njit(cache=True, nogil=True)
def scan_texts(
    a: np.ndarray, nl: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """The text field of every line of ``a`` (lines end at the offsets ``nl``).

    Returns (clean: bool per line, offsets: int64 per clean line + 1 into ``data``, data:
    the clean lines' texts as UTF-8 back to back, whether any string byte is non-ASCII:
    then the caller validates the block's UTF-8 before trusting the texts)."""
    n = nl.size
    clean = np.zeros(n, np.bool_)
    offsets = np.zeros(n + 1, np.int64)
    data = np.empty(a.size + 8, np.uint8)
    stack = np.empty(MAX_DEPTH + 1, np.uint8)
    seen = np.uint64(0)
    pos = 0
    j = 0
    s = 0
    for k in range(n):
        e = nl[k]
        ok, end, bits = _line(a, s, e, key, data, pos, stack)
        seen |= bits
        if ok:
            clean[k] = True
            pos = end
            j += 1
            offsets[j] = pos
        s = e + 1
    return clean, offsets[: j + 1], data[:pos], (seen & _HIGHS) != 0


def texts_array(offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    """The scanner's output as an Arrow large_string array, without copying."""
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )


def block_texts(data: bytes, nl: np.ndarray, field: str) -> tuple[np.ndarray, pa.Array] | None:
    """The text field of the lines of ``data`` (ending at the offsets ``nl``) the scanner
    reads: (clean: bool per line, their texts); None when the block is not valid UTF-8
    (the scanner checks JSON, not UTF-8: then every line is for orjson)."""
    key = np.frombuffer(field.encode("utf-8"), dtype=np.uint8)
    clean, offsets, out, non_ascii = scan_texts(np.frombuffer(data, dtype=np.uint8), nl, key)
    if non_ascii and not valid_utf8(data):
        return None
    return clean, texts_array(offsets, out)


def valid_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (Arrow's SIMD validator: ~4 GB/s)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    arr = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True
