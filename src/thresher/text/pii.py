"""PII redaction: e-mail addresses, IP addresses (v4 and v6) and phone numbers.

Each kind is one pattern of the ``regex`` library, compiled once per process; a match
is rewritten with a placeholder (``<EMAIL>``, ``<IP>``, ``<PHONE>``) and counted per
document. Precision is kept high by measurement on real documentation text (see
``bench/pii_vs_datatrove.py``): the classic false positive of an IPv4 pattern is a
version or section number (``4.2.13.5.``, ``Thunderbird 1.5.0.9``, ``linux-2.6.32.1``),
so a dotted quad glued to a word, preceded by a version word, opening a line as a
section number, or with its last three numbers all <= 25 and no IP word before it
(``Firefox 115.3.1.0``; not ``10.x`` or ``127.x``), is not an address. Word boundaries
are ASCII: an address glued to Chinese or Japanese text
(``列表debian-user@lists.debian.org邮件``) is still found. Phone numbers need the
grouping of a national format (US/NANP, E.164 ``+CC``, UK, DE, FR, ...): a bare run of
digits is never a phone number.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

KINDS = ("email", "ip", "phone")
PLACEHOLDERS = {"email": "<EMAIL>", "ip": "<IP>", "phone": "<PHONE>"}

_EMAIL = r"""
(?<![A-Za-z0-9_.%+-])
[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?   # local part
@
(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+      # domain labels
[A-Za-z]{2,24}                                            # top-level domain
(?![A-Za-z0-9_@-])
"""

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![A-Za-z0-9_.:-])(?P<v4>{_OCTET}(?:\.{_OCTET}){{3}})(?![A-Za-z0-9_-]|\.\d)"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6_BODY = rf"""(?:
    (?:{_H}:){{7}}{_H}
  | (?:{_H}:){{1,7}}:
  | (?:{_H}:){{1,6}}:{_H}
  | (?:{_H}:){{1,5}}(?::{_H}){{1,2}}
  | (?:{_H}:){{1,4}}(?::{_H}){{1,3}}
  | (?:{_H}:){{1,3}}(?::{_H}){{1,4}}
  | (?:{_H}:){{1,2}}(?::{_H}){{1,5}}
  | {_H}:(?::{_H}){{1,6}}
  | :(?::{_H}){{1,7}}
  | (?:{_H}:){{6}}{_OCTET}(?:\.{_OCTET}){{3}}
  | ::(?:ffff(?::0{{1,4}})?:)?{_OCTET}(?:\.{_OCTET}){{3}}
)"""
_IPV6 = rf"(?<![A-Za-z0-9_:.])(?P<v6>{_IPV6_BODY})(?![A-Za-z0-9_:]|\.\d)"

# Phone numbers: national formats with their grouping. Separators: space, dot, dash.
_S = r"[ .\-]"
_PHONE = rf"""
(?<![A-Za-z0-9_+/.:\-])
(?:
    \+[1-9]\d{{0,2}}(?:{_S}?\(0\))?(?:{_S}?\(?\d{{1,4}}\)?){{1,2}}(?:{_S}\d{{2,8}}){{1,4}}  # E.164 +CC ...
  | \+[1-9]\d{{7,14}}                                                    # E.164 compact
  | (?:1{_S})?\(\d{{3}}\){_S}?\d{{3}}[ .\-]\d{{4}}                       # US (555) 555-0123
  | (?:1{_S})?[2-9]\d{{2}}([.\-])[2-9]\d{{2}}\1\d{{4}}                    # US 555-555-0123
  | 0\d{{1,4}}[ /\-]\d{{3,4}}[ \-]?\d{{3,4}}(?![ ]\d)                     # UK 020 7946 0958, DE 030 1234567
  | \(0\d{{2,4}}\)[ ]?\d{{3,4}}[ \-]?\d{{3,4}}                           # UK/DE (030) 1234567
  | 0[1-9](?:([ .\-])\d{{2}})(?:\2\d{{2}}){{3}}                          # FR 01 23 45 67 89
)
(?![A-Za-z0-9_\-]|[.,]\d)
"""

# A dotted quad after one of these is a version number, not an address.
_VERSION_BEFORE = regex.compile(
    r"(?:\bv|\bversion|\bver\.?|\brelease|\brev\.?|\brevision|\bbuild|\bkernel|\bfirmware|"
    r"\bsection|\bsecci[oó]n|\bse[cç][aã]o|\bsezione|\babschnitt|\bchap(?:ter|itre)|\bkapitel|"
    r"\bexample|\bexemplo|\bejemplo|\bbeispiel|\besempio|第|例)\s*$",
    regex.IGNORECASE,
)
_IP_WORDS = regex.compile(
    r"(?:\bip|address|addr|nameserver|server|host|inet|gateway|dns|route|netmask|subnet|"
    r"ping|\bssh|adresse|dirección|indirizzo|endereço|アドレス|地址)\W{0,3}\S*\s*$",
    regex.IGNORECASE,
)


def _ipv4_ok(text: str, m: regex.Match) -> bool:
    """Is this dotted quad an address (not a version or section number)?"""
    start, end = m.span()
    before = text[max(0, start - 30) : start]
    if _VERSION_BEFORE.search(before):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip() == "" and text[end : end + 1] == ".":
        return False  # "4.2.13.5. Encrypted partitions": a section heading
    octets = [int(x) for x in m.group().split(".")]
    if max(octets[1:]) <= 25 and octets[0] not in (10, 127):
        # "1.5.0.9", "Firefox 115.3.1.0": an address only where one is named. (A random
        # address has three such small octets once in a thousand.)
        return bool(_IP_WORDS.search(before))
    return True


def _ipv6_ok(text: str, m: regex.Match) -> bool:
    """A real IPv6 address has at least two groups and a hex digit (``::``/``a::b`` in code
    are not addresses: require three groups, or ``::`` with a 3+ digit group)."""
    s = m.group()
    groups = [g for g in regex.split(r"[:.]", s) if g]
    if len(groups) >= 3:
        return True
    return "::" in s and any(len(g) >= 3 for g in groups) and not s.endswith("::")


class Redactor:
    """Rewrites PII in texts with placeholders; counts per document and kind.

    Picklable: the patterns are compiled once per process on first use.
    """

    def __init__(self, kinds: list[str] | tuple[str, ...]) -> None:
        kinds = list(dict.fromkeys(kinds))
        bad = [k for k in kinds if k not in KINDS]
        if bad or not kinds:
            raise ValueError(
                f"unknown PII kind(s) {bad or kinds!r}: expected some of {', '.join(KINDS)}"
            )
        self.kinds = tuple(k for k in KINDS if k in kinds)  # a fixed order: email before ip

    def __repr__(self) -> str:
        return f"Redactor({list(self.kinds)})"

    def redact_text(self, text: str, only: set[str] | None = None) -> tuple[str, dict[str, int]]:
        """``text`` with every PII match replaced, and the matches per kind (``only``: the
        patterns worth running, by the prefilter)."""
        counts = dict.fromkeys(self.kinds, 0)
        for kind, name, pattern, check in _patterns():
            if kind not in counts or (only is not None and name not in only):
                continue
            placeholder = PLACEHOLDERS[kind]

            def sub(
                m: regex.Match,
                check: Callable | None = check,
                t: str = text,
                kind: str = kind,
                placeholder: str = placeholder,
            ) -> str:
                if check is not None and not check(t, m):
                    return m.group()
                counts[kind] += 1
                return placeholder

            text = pattern.sub(sub, text)
        return text, counts

    def redact(self, texts: pa.Array) -> tuple[pa.Array, dict[str, np.ndarray]]:
        """Rewritten texts (large_string) and int32 counts per kind, aligned with ``texts``.

        Arrow's RE2 first marks, for the whole batch at once, the documents that can hold a
        match of each pattern (a looser pattern: ``@``, a dotted quad, ``::``, a digit group);
        the exact patterns then run only on those: most documents hold no PII at all.
        """
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        counts = {k: np.zeros(len(texts), np.int32) for k in self.kinds}
        names = [name for kind, name, _, _ in _patterns() if kind in self.kinds]
        flags = {
            name: np.asarray(
                pc.match_substring_regex(texts, PREFILTER[name]).fill_null(False), bool
            )
            for name in names
        }
        todo = np.flatnonzero(np.logical_or.reduce([flags[n] for n in names]))
        if len(todo) == 0:
            return texts.cast(pa.large_string()), counts
        values = texts.take(pa.array(todo, pa.int64())).to_pylist()
        out = []
        for j, i in enumerate(todo.tolist()):
            only = {n for n in names if flags[n][i]}
            new, c = self.redact_text(values[j], only)
            out.append(new)
            for k, v in c.items():
                counts[k][i] = v
        mask = np.zeros(len(texts), bool)
        mask[todo] = True
        new_texts = pc.replace_with_mask(
            texts.cast(pa.large_string()), pa.array(mask), pa.array(out, pa.large_string())
        )
        return new_texts, counts


# Looser RE2 patterns (Arrow): a document without a match of one cannot match its pattern.
PREFILTER = {
    "email": "@",
    "ipv6": r"::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}",
    "ipv4": r"\d\.\d{1,3}\.\d{1,3}\.\d",
    "phone": r"\+\d|\)\s?\d|\d{2,4}[ .\-/]\d{2}",
}


@functools.cache
def _patterns() -> list[tuple[str, str, regex.Pattern, Callable | None]]:
    """(kind, name, compiled pattern, match check), once per process; IPv6 before IPv4 (an
    IPv6 address may end in a dotted quad). A lookahead on the first character lets the
    engine skip most positions quickly."""
    flags = regex.VERBOSE | regex.V0
    return [
        ("email", "email", regex.compile(r"(?=[A-Za-z0-9])" + _EMAIL, flags), None),
        (
            "ip",
            "ipv6",
            regex.compile(r"(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:])" + _IPV6, flags),
            _ipv6_ok,
        ),
        ("ip", "ipv4", regex.compile(r"(?=\d)" + _IPV4, flags), _ipv4_ok),
        ("phone", "phone", regex.compile(r"(?=[+(\d])" + _PHONE, flags), None),
    ]
