"""The JSONL text scanner: on every line it calls clean, its text is orjson's; it leaves to
orjson what orjson might read differently; and real lines are clean."""

from __future__ import annotations

import gzip
import json

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from thresher.io.formats._jsonscan import MAX_DEPTH, block_texts, valid_utf8

from .conftest import SAMPLE


def scan(lines: list[bytes], field: str = "text") -> list[str | None]:
    """Per line: the scanner's text, or None when it leaves the line to orjson (as the scan
    reads a block: :func:`block_texts`)."""
    data = b"".join(line + b"\n" for line in lines)
    scanned = block_texts(data, np.flatnonzero(np.frombuffer(data, np.uint8) == 10), field)
    if scanned is None:  # not valid UTF-8: every line is for orjson
        return [None] * len(lines)
    clean, texts = scanned
    it = iter(texts.to_pylist())
    return [next(it) if c else None for c in clean]


def orjson_text(line: bytes, field: str = "text") -> str | None:
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(rec, dict) and isinstance(rec.get(field), str):
        return rec[field]
    return None


def real_lines() -> list[bytes]:
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        return f.read().splitlines()


def test_real_lines_are_clean_and_read_as_orjson_reads_them():
    lines = real_lines()
    # The same records as Python's json writes them by default (non-ASCII as \u escapes),
    # and with non-ASCII kept and other fields around the text.
    recs = [json.loads(x) for x in lines[:300]]
    lines += [json.dumps(r).encode() for r in recs]
    lines += [
        json.dumps(
            {"id": i, "meta": {"n": [1, -2.5e-3, None, True]}, **r},
            ensure_ascii=False,
            separators=(",\t", " : "),
        ).encode()
        for i, r in enumerate(recs)
    ]
    got = scan(lines)
    assert got == [orjson_text(x) for x in lines]
    assert sum(t is None for t in got) == 0
    assert sum(b"\\u" in x for x in lines) > 100  # \u escapes were read


CLEAN = {
    b'{"text": "a"}': "a",
    b'  {"text":"a"}  \r': "a",
    b'{"text": "esc \\" \\\\ \\/ \\b \\f \\n \\r \\t end"}': 'esc " \\ / \b \f \n \r \t end',
    b'{"text": "\\u00e9\\u4e2d\\ud83d\\ude00\\u0000"}': "\u00e9\u4e2d\U0001f600\x00",
    b'{"text": "first", "text": "second"}': "second",
    b'{"a": {"text": 1}, "text": "top level only"}': "top level only",
    b'{"a": [], "b": {}, "c": [[{}]], "d": -0.5E+12, "e": 0, "text": "x"}': "x",
    b'{"texts": 1, "tex": 2, "text": ""}': "",
    b'{"text": "long ' + b"x" * 100 + b' \\n tail"}': "long " + "x" * 100 + " \n tail",
}

TO_ORJSON = [
    b"",
    b"   ",
    b"\x0c{}",
    b"[1, 2]",
    b'{"text": 7}',
    b'{"text": "a", "text": 7}',
    b'{"other": "a"}',
    b'{"te\\u0078t": "escaped key"}',
    b'{"text": "lone \\ud800 high"}',
    b'{"text": "lone \\udc00 low"}',
    b'{"text": "bad \\x escape"}',
    b'{"text": "raw \x01 control"}',
    b'{"text": "a"} {"text": "b"}',
    b'{"text": "a"}x',
    b'{"text": "a",}',
    b'{"a": [1,], "text": "a"}',
    b'{"a": NaN, "text": "a"}',
    b'{"a": -Infinity, "text": "a"}',
    b'{"a": 1e999, "text": "a"}',
    b'{"a": 01, "text": "a"}',
    b'{"a": 1., "text": "a"}',
    b'{"a": ' + b"1" * 30 + b', "text": "a"}',
    b'{"a": tru, "text": "a"}',
    b'{"a": [1}, "text": "a"}',
    b'{"text": "unterminated',
    b'{"a": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b', "text": "deep"}',
]


def test_clean_lines_and_what_is_left_to_orjson():
    assert scan(list(CLEAN)) == list(CLEAN.values())
    assert [orjson_text(x) for x in CLEAN] == list(CLEAN.values())
    assert scan(TO_ORJSON) == [None] * len(TO_ORJSON)
    # Deep but under the limit is read; another field name is read as that field.
    shallow = b'{"a": ' + b"[" * 50 + b"]" * 50 + b', "text": "ok"}'
    # Valid JSON with a string text, but invalid UTF-8 in another field (a byte of a 4-byte
    # character changed; found by the property test below): the block is left to orjson,
    # which rejects the line.
    bad_utf8 = b'{"id": {"\xf0\x90\x80\x80": {"00m\x80\xc2\x80": null}}, "text": ""}'
    assert scan([b'{"text": "fine"}', bad_utf8]) == [None, None]
    assert orjson_text(bad_utf8) is None
    assert scan([shallow]) == ["ok"]
    assert scan([b'{"body": "b", "text": "t"}'], field="body") == ["b"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(["text", "id", "meta", "tex"]), json_values),
            st.booleans(),
            st.integers(0, 10_000),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_json_line_is_read_as_orjson_reads_it_or_left_to_it(records):
    """Random records written by Python's json (ASCII or not), some cut short or with a
    byte changed: every line the scanner reads clean has orjson's text; and a record that
    is whole, has a string text and no number the scanner leaves to orjson, is read clean."""
    lines, whole = [], []
    for rec, ascii_only, k in records:
        line = json.dumps(rec, ensure_ascii=ascii_only).encode().replace(b"\n", b" ")
        if k % 5 == 0:
            line = line[: k % len(line)]
        elif k % 5 == 1:
            i = k % len(line)
            b = k % 128 if k % 128 != 10 else 13  # any ASCII byte but a newline
            line = line[:i] + bytes([b]) + line[i + 1 :]
        lines.append(line)
        whole.append(k % 5 > 1 and isinstance(rec.get("text"), str) and _plain(rec))
    for line, text, must in zip(lines, scan(lines), whole, strict=True):
        if text is not None or must:
            assert text == orjson_text(line), line


def _plain(v: object) -> bool:
    """No float and no integer of over 15 digits, at any depth."""
    if isinstance(v, float):
        return False
    if isinstance(v, int) and not isinstance(v, bool):
        return abs(v) < 10**15
    if isinstance(v, dict):
        return all(_plain(x) for x in v.values())
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    return True


def test_utf8_check_of_a_block():
    assert valid_utf8(b"\n".join(real_lines()))
    for bad in [b"\xed\xa0\x80", b"\xc0\xaf", b"\xff", b"\xf4\x90\x80\x80", b"caf\xe9"]:
        assert not valid_utf8(b'{"text": "a", "s": "' + bad + b'"}\n')
