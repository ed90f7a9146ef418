#!/usr/bin/env python3
"""Real, labeled, freely licensed text corpora built from Debian documentation packages.

Every document is human-written text shipped by Debian (guides, man pages, API
docs, quotes, ...) and carries its labels::

    {"id": "debian-reference-en/ch02.en.html#3", "text": "...", "domain": "guide",
     "lang": "en", "source": "debian-reference-en", "license": "GPL-2+"}

Subcommands (``python bench/corpus.py --help``)::

    python bench/corpus.py labeled OUT.jsonl[.gz|.zst]   # whole labeled pool
    python bench/corpus.py large OUT.jsonl --bytes N     # ~N bytes, pool repeated
    python bench/corpus.py sample data/sample            # small shipped sample

How it works
  * ``apt-get download PKG=VERSION`` into a cache dir (default
    ~/.cache/thresher-bench/debs; versions are pinned in PACKAGES, falling back
    to the candidate version with a warning), ``dpkg-deb -x`` into
    ~/.cache/thresher-bench/extract/.
  * HTML (DocBook, Sphinx, Texinfo) -> text with stdlib ``html.parser``;
    navigation, tables of contents, sidebars and footers are dropped.  Pages are
    cut into sections at headings h1-h4; consecutive short sections are merged
    up to MIN_DOC chars, long ones are cut at paragraph boundaries below MAX_DOC.
  * man pages: ``groff -k -Tutf8 -man`` (preconv for UTF-8, no hyphenation,
    left-adjusted, no SGR/overstrike); if groff is missing a small built-in
    macro stripper is used (output differs slightly; the renderer is printed).
    ``.so`` redirections and symlinks are skipped.  One page = one document
    (long pages cut at section headings).
  * fortunes: quotes (files split at ``%`` lines) are grouped in file order
    into documents of >= QUOTES_PER_DOC_CHARS chars.  Offensive collections
    (``off/`` dirs, ``-o`` files) and ASCII-art files are skipped.
  * Translations that were left partly in English (common in the Debian
    Administrator's Handbook and manpages-l10n) are detected with a stop-word
    ratio and dropped, so ``lang`` labels are trustworthy.
  * Licence: the ``License:`` of the ``Files: *`` stanza of the package's
    machine-readable /usr/share/doc/PKG/copyright, else a short name decided by
    hand from reading that file (LICENSE_OVERRIDES).

Everything is deterministic: sorted file lists, no randomness; the sample split
uses a SHA-1 of the page path (no RNG).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

CACHE = Path(os.environ.get("THRESHER_BENCH_CACHE", Path.home() / ".cache" / "thresher-bench"))
MIN_DOC = 1000  # merge consecutive sections until at least this many chars
MAX_DOC = 20000  # cut longer ones at paragraph boundaries
DROP_BELOW = 200  # drop documents shorter than this
QUOTES_PER_DOC_CHARS = 1500
POOL_VERSION = "3"  # bump when the conversion changes (invalidates the cached pool)

# --------------------------------------------------------------------------- packages


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str  # pinned bookworm version ("" = candidate)
    kind: str  # extractor name
    domain: str
    lang: str = "en"
    extra: tuple = ()


_DREF_LANGS = ("en", "de", "fr", "it", "es", "pt", "ja")

PACKAGES: list[Pkg] = [
    # the Debian Reference, same guide in 7 languages (the hardest confuser)
    *[Pkg(f"debian-reference-{lg}", "2.100", "dref", "guide", lg) for lg in _DREF_LANGS],
    # the Debian Administrator's Handbook, one package, many languages
    Pkg("debian-handbook", "11.20220922", "handbook", "handbook"),
    # Debian FAQ in 3 languages
    Pkg("debian-faq", "11.1", "faq", "faq", "en"),
    Pkg("debian-faq-de", "11.1", "faq", "faq", "de"),
    Pkg("debian-faq-fr", "11.1", "faq", "faq", "fr"),
    # packaging manuals
    Pkg("maint-guide", "1.2.53", "maint", "packaging", "en"),
    Pkg("developers-reference", "12.18", "devref", "packaging", "en"),
    Pkg("debian-policy", "4.6.2.0", "policy", "packaging", "en"),
    # GNU coding standards
    Pkg("gnu-standards", "2022.03.23-0.1", "gnustd", "standards", "en"),
    # man pages, 4 languages
    Pkg("manpages", "6.03-2", "man", "manpage", "en"),
    Pkg("manpages-dev", "6.03-2", "man", "manpage", "en"),
    Pkg("manpages-de", "4.18.1-1", "man", "manpage", "de"),
    Pkg("manpages-fr", "4.18.1-1", "man", "manpage", "fr"),
    Pkg("manpages-es", "4.18.1-1", "man", "manpage", "es"),
    # Python documentation: library + C API + language reference = "apidoc",
    # tutorial / howtos / FAQ / usage = "tutorial"
    Pkg("python3.11-doc", "3.11.2-6+deb12u9", "pydoc", "apidoc", "en"),
    # quotes, 4 languages
    Pkg("fortunes-min", "1:1.99.1-7.3", "fortune", "quotes", "en"),
    Pkg("fortunes", "1:1.99.1-7.3", "fortune", "quotes", "en"),
    Pkg("fortunes-de", "0.35-1", "fortune", "quotes", "de"),
    Pkg("fortunes-es", "1.36", "fortune", "quotes", "es"),
    Pkg("fortunes-it", "1.99-4.1", "fortune", "quotes", "it"),
]

# handbook translations that are (nearly) complete; the others are mostly English
HANDBOOK_LANGS = {
    "en-US": "en",
    "de-DE": "de",
    "fr-FR": "fr",
    "es-ES": "es",
    "it-IT": "it",
    "pt-BR": "pt",
    "ja-JP": "ja",
    "zh-CN": "zh",
    "ca-ES": "ca",
    "nb-NO": "nb",
    "id-ID": "id",
}

# packages whose copyright file is not machine-readable: short names chosen by reading it
LICENSE_OVERRIDES = {
    "debian-faq": "permissive-verbatim (SPI, GNU-manual style)",
    "debian-faq-de": "permissive-verbatim (SPI, GNU-manual style)",
    "debian-faq-fr": "permissive-verbatim (SPI, GNU-manual style)",
    "gnu-standards": "GFDL-1.3+ (no invariant sections)",
    "python3.11-doc": "PSF-2.0",
    "fortunes": "BSD-3-clause (UC Regents)",
    "fortunes-min": "BSD-3-clause (UC Regents)",
    # doc dir is a symlink to manpages' (same source package, same copyright file)
    "manpages-dev": "GPL-2+",
    "fortunes-it": "public-domain (uncopyrighted quotation collection)",
}


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- download


def _deb_path(pkg: Pkg, debs: Path) -> Path | None:
    hits = sorted(debs.glob(f"{pkg.name}_*.deb"))
    want = pkg.version.replace(":", "%3a")
    for h in hits:
        if h.name.startswith(f"{pkg.name}_{want}_"):
            return h
    return hits[-1] if hits else None


def fetch(pkg: Pkg, cache: Path = CACHE) -> tuple[Path, str]:
    """Download + extract one package; returns (extract root, exact version)."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = _deb_path(pkg, debs)
    if deb is None or (pkg.version and pkg.version.replace(":", "%3a") not in deb.name):
        spec = f"{pkg.name}={pkg.version}" if pkg.version else pkg.name
        r = subprocess.run(["apt-get", "download", spec], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            log(f"warning: {spec} not downloadable ({r.stderr.strip()[-200:]}); trying candidate")
            r = subprocess.run(
                ["apt-get", "download", pkg.name], cwd=debs, capture_output=True, text=True
            )
            if r.returncode != 0:
                raise RuntimeError(f"apt-get download {pkg.name} failed: {r.stderr.strip()}")
        deb = _deb_path(pkg, debs)
        assert deb is not None
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    root = cache / "extract" / f"{pkg.name}_{version.replace(':', '%3a')}"
    if not (root / ".ok").exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / ".ok").write_text(version)
    return root, version


def read_license(pkg: Pkg, root: Path) -> str:
    cp = root / "usr/share/doc" / pkg.name / "copyright"
    if pkg.name in LICENSE_OVERRIDES:
        return LICENSE_OVERRIDES[pkg.name]
    if cp.is_file():
        text = cp.read_text("utf-8", "replace")
        for para in re.split(r"\n\s*\n", text):
            if re.search(r"^Files:\s*\*\s*$", para, re.M):
                m = re.search(r"^License:\s*(\S.*)$", para, re.M)
                if m:
                    return m.group(1).strip()
        m = re.search(r"^License:\s*(\S.*)$", text, re.M)
        if m:
            return m.group(1).strip()
    return "unknown"


# --------------------------------------------------------------------------- html -> text

_BLOCK = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "tr",
    "table",
    "section",
    "article",
    "blockquote",
    "pre",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "caption",
    "figure",
    "figcaption",
    "body",
    "main",
}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr", "source"}
_SKIP_TAGS = {"script", "style", "head", "title", "nav", "noscript", "svg", "button", "form"}
_SKIP_CLASSES = {
    "navheader",
    "navfooter",
    "toc",
    "list-of-tables",
    "list-of-figures",
    "list-of-examples",
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "related",
    "footer",
    "headerlink",
    "header",
    "nav-panel",
    "contents",
    "shortcontents",
    "section-toc",
    "mini-toc",
    "copyright",
    "legalnotice",
    "breadcrumbs",
    "mobile-nav",
    "clearer",
    "docnav",
    "indexterm",
}
_SKIP_IDS = {"banner", "title", "site_footer"}


class _HTMLText(HTMLParser):
    """HTML -> list of (heading level or 0, text block)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[int, str]] = []
        self.buf: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.pre = 0
        self.heading = 0

    def _flush(self) -> None:
        raw = "".join(self.buf)
        self.buf = []
        if self.pre:
            txt = raw.strip("\n")
            txt = "\n".join(ln.rstrip() for ln in txt.replace("\ue000", " ").split("\n"))
        else:
            txt = re.sub(r"\s+", " ", raw).strip()
            txt = re.sub(r"\s*\ue000\s*", " | ", txt).strip(" |")
        if txt.strip():
            self.blocks.append((self.heading, txt))

    def handle_starttag(self, tag, attrs):
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in _VOID:
                self.skip_depth += 1
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if (
            tag in _SKIP_TAGS
            or classes & _SKIP_CLASSES
            or a.get("role") == "navigation"
            or a.get("id") in _SKIP_IDS
        ):
            if tag not in _VOID:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag in _BLOCK:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.heading = int(tag[1])
            elif tag == "pre":
                self.pre += 1
        if tag in ("td", "th"):
            self.buf.append("\ue000")  # cell separator, becomes " | " in _flush

    def handle_endtag(self, tag):
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag in _BLOCK:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.heading = 0
            elif tag == "pre" and self.pre:
                self.pre -= 1

    def handle_data(self, data):
        if self.skip_tag is None:
            self.buf.append(data)

    def close(self):
        super().close()
        self._flush()


def html_blocks(raw: str) -> list[tuple[int, str]]:
    p = _HTMLText()
    p.feed(raw)
    p.close()
    return p.blocks


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("\u00b6", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _split_long(text: str, max_chars: int = MAX_DOC) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    paras = text.split("\n\n")
    n_parts = -(-len(text) // max_chars)
    target = len(text) / n_parts
    out, cur, cur_len = [], [], 0
    for p in paras:
        while len(p) > max_chars:  # a single giant paragraph: hard cut at a line/space
            cut = p.rfind("\n", 0, max_chars)
            if cut < max_chars // 2:
                cut = p.rfind(" ", 0, max_chars)
            if cut <= 0:
                cut = max_chars
            if cur:
                out.append("\n\n".join(cur))
                cur, cur_len = [], 0
            out.append(p[:cut])
            p = p[cut:].lstrip()
        if cur and cur_len + len(p) + 2 > min(target * 1.15, max_chars):
            out.append("\n\n".join(cur))
            cur, cur_len = [], 0
        cur.append(p)
        cur_len += len(p) + 2
    if cur:
        out.append("\n\n".join(cur))
    return out


def sections_to_docs(sections: list[str]) -> list[str]:
    """Merge consecutive short sections to >= MIN_DOC, cut long ones < MAX_DOC."""
    docs: list[str] = []
    cur = ""
    for s in sections:
        s = _clean(s)
        if not s:
            continue
        if cur and (len(cur) >= MIN_DOC or len(cur) + len(s) + 2 > MAX_DOC):
            docs.extend(_split_long(cur))
            cur = ""
        cur = f"{cur}\n\n{s}" if cur else s
    if cur:
        if docs and len(cur) < MIN_DOC // 2 and len(docs[-1]) + len(cur) + 2 <= MAX_DOC:
            docs[-1] = f"{docs[-1]}\n\n{cur}"
        else:
            docs.extend(_split_long(cur))
    return [d for d in docs if len(d) >= DROP_BELOW]


def html_to_sections(raw: str, max_level: int = 4) -> list[str]:
    sections: list[list[str]] = [[]]
    for level, txt in html_blocks(raw):
        if 0 < level <= max_level and any(sections[-1]):
            sections.append([])
        sections[-1].append(txt)
    return ["\n\n".join(s) for s in sections if s]


# --------------------------------------------------------------------------- man pages

_GROFF = shutil.which("groff")


def _read_maybe_gz(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _man_strip(src: str) -> str:
    """Minimal man(7) renderer used when groff is not available."""
    out: list[str] = []

    def inline(s: str) -> str:
        s = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", s)
        s = re.sub(
            r"\\\((..)",
            lambda m: {
                "em": "—",
                "en": "–",
                "bu": "•",
                "aq": "'",
                "dq": '"',
                "lq": "“",
                "rq": "”",
                "co": "©",
                "rg": "®",
            }.get(m.group(1), ""),
            s,
        )
        s = re.sub(r"\\\[([^\]]*)\]", "", s)
        s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\ ", " ")
        s = re.sub(r"\\[|^0:%c]", "", s)
        s = re.sub(r"\\s[-+]?\d", "", s)
        s = re.sub(r"\\\*(\(..|\[[^\]]*\]|.)", "", s)
        return s

    for line in src.split("\n"):
        if line.startswith(('.\\"', "'\\\"", ".\\}", "\\}")) or line.strip() == ".":
            continue
        if line.startswith((".", "'")):
            m = re.match(r"[.']\s*(\S+)\s*(.*)", line)
            if not m:
                continue
            req, args = m.group(1), m.group(2)
            words = [w.strip('"') for w in re.findall(r'"[^"]*"|\S+', args)]
            if req in ("SH", "SS"):
                out.extend(["", inline(" ".join(words)), ""])
            elif req in ("PP", "P", "LP", "TP", "IP", "sp", "br"):
                out.append("")
                if req == "IP" and words:
                    out.append(inline(words[0]))
            elif req in ("B", "I", "SM", "SB"):
                out.append(inline(" ".join(words)))
            elif req in ("BR", "BI", "IR", "IB", "RB", "RI"):
                out.append(inline("".join(words)))
            elif req == "TH" and words:
                out.append(f"{words[0]}({words[1] if len(words) > 1 else ''})")
            continue
        out.append(inline(line))
    txt = "\n".join(out)
    txt = re.sub(r"(?<=\S)\n(?=\S)", " ", txt)
    return txt


def render_man(path: Path) -> str | None:
    src = _decode(_read_maybe_gz(path))
    first = [ln for ln in src.split("\n") if ln.strip() and not ln.startswith(('.\\"', "'\\\""))]
    if not first or first[0].startswith(".so "):
        return None
    if _GROFF:
        r = subprocess.run(
            [_GROFF, "-k", "-Tutf8", "-man", "-rHY=0", "-dAD=l", "-P-c", "-P-b", "-P-o", "-P-u"],
            input=src.encode("utf-8"),
            capture_output=True,
            env={**os.environ, "LC_ALL": "C.UTF-8", "GROFF_NO_SGR": "1"},
        )
        txt = r.stdout.decode("utf-8", "replace")
        txt = re.sub(r".\x08", "", txt)
        lines = txt.split("\n")
        # drop the running header/footer lines (first and last non-empty lines)
        nz = [i for i, ln in enumerate(lines) if ln.strip()]
        if len(nz) > 2:
            lines = lines[nz[0] + 1 : nz[-1]]
        txt = "\n".join(lines)
    else:
        txt = _man_strip(src)
    return _clean(txt)


def _man_sections(txt: str) -> list[str]:
    parts = re.split(r"\n(?=[^\s].*\n)", txt)  # unindented line = section heading
    return parts


# --------------------------------------------------------------------------- english-leftover check

_EN_STOP = {
    "the",
    "and",
    "of",
    "to",
    "is",
    "in",
    "that",
    "for",
    "with",
    "this",
    "are",
    "you",
    "be",
    "it",
    "as",
    "on",
    "can",
    "or",
    "if",
    "by",
    "not",
    "which",
    "from",
    "will",
}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def looks_untranslated(text: str, lang: str) -> bool:
    if lang == "en":
        return False
    if lang in ("ja", "zh", "ko"):
        cjk = len(_CJK.findall(text))
        latin = len(re.findall(r"[A-Za-z]", text))
        return cjk < 0.15 * (cjk + latin)
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 20:
        return False
    return sum(w in _EN_STOP for w in words) / len(words) > 0.10


# --------------------------------------------------------------------------- extractors
# each yields (relpath, domain, lang, [doc texts]) in a deterministic order


def _files(root: Path, sub: str, pattern: str) -> list[Path]:
    base = root / sub
    return sorted(p for p in base.glob(pattern) if p.is_file() and not p.is_symlink())


def _html_pages(root, pkg, sub, pattern, domain, lang, skip=("index",), max_level=4):
    for f in _files(root, sub, pattern):
        if f.name.split(".")[0] in skip:
            continue
        raw = _decode(f.read_bytes())
        docs = sections_to_docs(html_to_sections(raw, max_level))
        yield str(f.relative_to(root / sub)), domain, lang, docs


def ex_dref(root, pkg):
    yield from _html_pages(
        root, pkg, "usr/share/debian-reference", f"*.{pkg.lang}.html", pkg.domain, pkg.lang
    )


def ex_handbook(root, pkg):
    base = root / "usr/share/doc/debian-handbook/html"
    for loc in sorted(HANDBOOK_LANGS):
        if (base / loc).is_dir():
            for rel, dom, _, docs in _html_pages(
                root,
                pkg,
                f"usr/share/doc/debian-handbook/html/{loc}",
                "*.html",
                pkg.domain,
                HANDBOOK_LANGS[loc],
                skip=("index", "pr01"),
            ):
                yield f"{loc}/{rel}", dom, HANDBOOK_LANGS[loc], docs


def ex_faq(root, pkg):
    sub = "usr/share/doc/debian/FAQ" + ("" if pkg.lang == "en" else f"/{pkg.lang}")
    pat = "*.en.html" if pkg.lang == "en" else "*.html"
    yield from _html_pages(root, pkg, sub, pat, pkg.domain, pkg.lang)


def ex_maint(root, pkg):
    yield from _html_pages(
        root, pkg, "usr/share/doc/maint-guide/html", "*.en.html", pkg.domain, "en"
    )


def ex_devref(root, pkg):
    yield from _html_pages(
        root,
        pkg,
        "usr/share/developers-reference",
        "*.html",
        pkg.domain,
        "en",
        skip=("index", "search", "genindex", "developers-reference"),
    )


def ex_policy(root, pkg):
    for sub in ("policy.html", "perl-policy.html"):
        yield from (
            (f"{sub}/{rel}", d, lg, docs)
            for rel, d, lg, docs in _html_pages(
                root,
                pkg,
                f"usr/share/doc/debian-policy/{sub}",
                "*.html",
                pkg.domain,
                "en",
                skip=("index", "search", "genindex"),
            )
        )


def ex_gnustd(root, pkg):
    yield from _html_pages(
        root, pkg, "usr/share/doc/gnu-standards", "*.html", pkg.domain, "en", skip=()
    )


_PY_APIDOC = ("library", "c-api", "reference")
_PY_TUTORIAL = ("tutorial", "howto", "faq", "using", "extending", "installing", "distributing")


def ex_pydoc(root, pkg):
    base = "usr/share/doc/python3.11/html"
    for sub in _PY_APIDOC + _PY_TUTORIAL:
        dom = "apidoc" if sub in _PY_APIDOC else "tutorial"
        for rel, d, lg, docs in _html_pages(
            root, pkg, f"{base}/{sub}", "*.html", dom, "en", skip=("index",)
        ):
            yield f"{sub}/{rel}", d, lg, docs


def ex_man(root, pkg):
    sub = "usr/share/man" + ("" if pkg.lang == "en" else f"/{pkg.lang}")
    files = [
        f
        for f in _files(root, sub, "man*/*")
        if f.parent.name[3:4].isdigit() or f.parent.name == "man"
    ]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as ex:
        rendered = list(ex.map(render_man, files))
    for f, txt in zip(files, rendered, strict=False):
        if not txt:
            continue
        docs = [txt] if len(txt) <= MAX_DOC else sections_to_docs(_man_sections(txt))
        yield (
            str(f.relative_to(root / sub)),
            pkg.domain,
            pkg.lang,
            [d for d in docs if len(d) >= DROP_BELOW],
        )


_FORTUNE_SKIP = {"ascii-art", "asciiart", "banner"}


def ex_fortune(root, pkg):
    base = root / "usr/share/games/fortunes"
    if pkg.lang != "en":
        base = base / pkg.lang
    seen: set[Path] = set()
    for f in sorted(base.rglob("*")):
        rel = f.relative_to(base)
        if (
            not f.is_file()
            or f.is_symlink()
            or f.suffix in (".dat", ".u8")
            or "off" in rel.parts
            or f.name.endswith("-o")
            or f.name in _FORTUNE_SKIP
        ):
            continue
        real = f.resolve()
        if real in seen:
            continue
        seen.add(real)
        u8 = f.with_name(f.name + ".u8")
        src = u8 if u8.is_file() and not u8.is_symlink() else f
        text = _decode(src.read_bytes()).replace("\r\n", "\n")
        quotes = [q.strip("\n") for q in re.split(r"^%\s*$", text, flags=re.M)]
        quotes = [q for q in quotes if q.strip()]
        docs, cur = [], []
        for q in quotes:
            cur.append(q)
            if sum(len(x) + 2 for x in cur) >= QUOTES_PER_DOC_CHARS:
                docs.append("\n\n".join(cur))
                cur = []
        if cur:
            docs.append("\n\n".join(cur))
        docs = [_clean(d) for d in docs]
        yield str(rel), pkg.domain, pkg.lang, [d for d in docs if len(d) >= DROP_BELOW]


EXTRACTORS: dict[str, Callable] = {
    "dref": ex_dref,
    "handbook": ex_handbook,
    "faq": ex_faq,
    "maint": ex_maint,
    "devref": ex_devref,
    "policy": ex_policy,
    "gnustd": ex_gnustd,
    "pydoc": ex_pydoc,
    "man": ex_man,
    "fortune": ex_fortune,
}

# --------------------------------------------------------------------------- pool


def iter_package(pkg: Pkg, cache: Path = CACHE, stats: Counter | None = None) -> Iterator[dict]:
    root, version = fetch(pkg, cache)
    lic = read_license(pkg, root)
    for rel, domain, lang, docs in EXTRACTORS[pkg.kind](root, pkg):
        for i, text in enumerate(docs):
            if looks_untranslated(text, lang):
                if stats is not None:
                    stats[(pkg.name, lang)] += 1
                continue
            yield {
                "id": f"{pkg.name}/{rel}#{i}",
                "text": text,
                "domain": domain,
                "lang": lang,
                "source": pkg.name,
                "license": lic,
            }


def package_versions(cache: Path = CACHE) -> dict[str, tuple[str, str]]:
    out = {}
    for pkg in PACKAGES:
        root, version = fetch(pkg, cache)
        out[pkg.name] = (version, read_license(pkg, root))
    return out


def _pool_cache_path(cache: Path) -> Path:
    key = json.dumps([POOL_VERSION, [(p.name, p.version) for p in PACKAGES], bool(_GROFF)])
    return cache / f"pool-{hashlib.sha1(key.encode()).hexdigest()[:12]}.jsonl"


def iter_labeled(cache: Path = CACHE) -> Iterator[dict]:
    """All labeled documents, in deterministic order (cached as JSONL after the first build)."""
    path = _pool_cache_path(cache)
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        dropped: Counter = Counter()
        seen: set[str] = set()
        with open(tmp, "w", encoding="utf-8") as fh:
            for pkg in PACKAGES:
                n = 0
                for rec in iter_package(pkg, cache, dropped):
                    h = hashlib.sha1(rec["text"].encode()).digest()
                    if h in seen:  # exact duplicate text (e.g. same quote file in two packages)
                        dropped[(pkg.name, "dup")] += 1
                        continue
                    seen.add(h)
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
                log(f"  {pkg.name:24s} {n:6d} docs")
        for k, v in sorted(dropped.items()):
            log(
                f"  dropped {v:5d} docs from {k[0]} ({'exact duplicate' if k[1] == 'dup' else 'left untranslated, lang=' + k[1]})"
            )
        os.replace(tmp, path)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def open_out(path: str | Path, mode: str = "wt"):
    path = str(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if path.endswith(".gz"):
        # mtime=0 -> byte-identical output for identical input
        return io.TextIOWrapper(
            gzip.GzipFile(path, "wb", compresslevel=9, mtime=0), encoding="utf-8"
        )
    if path.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(
            zstandard.ZstdCompressor(level=10).stream_writer(open(path, "wb")), encoding="utf-8"
        )
    return open(path, "w", encoding="utf-8")


def _dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False) + "\n"


def print_stats(recs: Iterable[dict], title: str) -> dict:
    n, b = Counter(), Counter()
    for r in recs:
        k = (r["domain"], r["lang"])
        n[k] += 1
        b[k] += len(r["text"].encode("utf-8"))
    print(f"{title}: {sum(n.values())} docs, {sum(b.values()) / 1e6:.1f} MB of text")
    print(f"  {'domain':10s} {'lang':5s} {'docs':>7s} {'MB':>7s}")
    for k in sorted(n):
        print(f"  {k[0]:10s} {k[1]:5s} {n[k]:7d} {b[k] / 1e6:7.2f}")
    return {f"{k[0]}/{k[1]}": n[k] for k in sorted(n)}


def build_labeled(out_path: str | Path, cache: Path = CACHE) -> dict:
    """Write the whole labeled multi-domain pool (.jsonl, .jsonl.gz or .jsonl.zst)."""
    recs = list(iter_labeled(cache))
    with open_out(out_path) as fh:
        for r in recs:
            fh.write(_dumps(r))
    return print_stats(recs, f"labeled pool -> {out_path}")


def _vary(text: str, rep: int) -> str:
    paras = text.split("\n\n")
    if len(paras) < 3:
        return text
    del paras[rep % len(paras)]
    return "\n\n".join(paras)


def build_large(
    out_path: str | Path, target_bytes: int = 1_000_000_000, vary: bool = False, cache: Path = CACHE
) -> int:
    """Write ~target_bytes of JSONL by repeating the labeled pool.

    Repetition r (r = 0, 1, ...) writes every pool record with id "<id>@r<r>" and,
    by default, the *identical* text (so the corpus is ~N exact copies of the pool:
    right for throughput benchmarks, and an exact-dedup stage should keep one copy).
    With vary=True, repetitions r >= 1 drop paragraph (r mod n_paragraphs) from
    documents with >= 3 paragraphs: near-duplicates rather than exact ones.
    Stops at the first record boundary at or after target_bytes.
    """
    pool = list(iter_labeled(cache))
    written, rep, n = 0, 0, 0
    with open_out(out_path) as fh:
        while written < target_bytes:
            for r in pool:
                rec = dict(r, id=f"{r['id']}@r{rep}")
                if vary and rep:
                    rec["text"] = _vary(r["text"], rep)
                line = _dumps(rec)
                fh.write(line)
                written += len(line.encode("utf-8"))
                n += 1
                if written >= target_bytes:
                    break
            rep += 1
    print(
        f"large corpus -> {out_path}: {n} docs, {written / 1e6:.1f} MB uncompressed, {rep} repetition(s)"
    )
    return written


# --------------------------------------------------------------------------- shipped sample

SAMPLE_TARGET = ("apidoc", "en")
# per (domain, lang) quota of documents in raw.jsonl.gz (capped at what exists)
SAMPLE_QUOTAS = {
    ("apidoc", "en"): 230,
    ("tutorial", "en"): 150,
    **{("guide", lg): 70 for lg in _DREF_LANGS},
    **{("handbook", lg): 45 for lg in ("en", "de", "fr", "es", "it", "pt", "ja", "zh")},
    ("faq", "en"): 40,
    ("faq", "de"): 30,
    ("faq", "fr"): 30,
    ("packaging", "en"): 220,
    ("standards", "en"): 80,
    ("manpage", "en"): 220,
    ("manpage", "de"): 140,
    ("manpage", "fr"): 120,
    ("manpage", "es"): 100,
    ("quotes", "en"): 220,
    ("quotes", "de"): 130,
    ("quotes", "es"): 110,
    ("quotes", "it"): 110,
}
SAMPLE_TARGET_N = 220
SAMPLE_HELDOUT_N = 100
SAMPLE_MAX_CHARS = 8000  # keep the sample small: skip very long documents


def _h(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def _page(doc_id: str) -> str:
    return doc_id.rsplit("#", 1)[0]


def build_sample(out_dir: str | Path, cache: Path = CACHE) -> None:
    """raw.jsonl.gz (multi-domain pool), target.jsonl + heldout.jsonl (English Python API
    docs from pages disjoint from each other and from raw's apidoc pages), SOURCES.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = [r for r in iter_labeled(cache) if len(r["text"]) <= SAMPLE_MAX_CHARS]

    # target-domain documents: split by *page* (hash of page path) into 3 disjoint groups
    tgt = [r for r in pool if (r["domain"], r["lang"]) == SAMPLE_TARGET]
    pages = sorted({_page(r["id"]) for r in tgt}, key=_h)
    group = {p: ("target", "heldout", "raw")[int(_h("group:" + p), 16) % 3] for p in pages}
    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in tgt:
        by_group[group[_page(r["id"])]].append(r)

    def pick(recs: list[dict], n: int) -> list[dict]:
        chosen = sorted(recs, key=lambda r: _h(r["id"]))[:n]
        return sorted(chosen, key=lambda r: r["id"])  # keep pool order (by id)

    target = pick(by_group["target"], SAMPLE_TARGET_N)
    heldout = pick(by_group["heldout"], SAMPLE_HELDOUT_N)

    cells: dict[tuple, list[dict]] = defaultdict(list)
    for r in pool:
        k = (r["domain"], r["lang"])
        if k == SAMPLE_TARGET:
            if group[_page(r["id"])] == "raw":
                cells[k].append(r)
        else:
            cells[k].append(r)
    raw: list[dict] = []
    for k in sorted(SAMPLE_QUOTAS):
        raw.extend(pick(cells.get(k, []), SAMPLE_QUOTAS[k]))
    # interleave deterministically (order by hash of id) so the file is not sorted by domain
    raw.sort(key=lambda r: _h("order:" + r["id"]))

    ids = [r["id"] for r in raw + target + heldout]
    assert len(ids) == len(set(ids)), "sample files overlap"
    texts = [r["text"] for r in raw + target + heldout]
    assert len(texts) == len(set(texts)), "duplicate texts across sample files"

    with open_out(out_dir / "raw.jsonl.gz") as fh:
        for r in raw:
            fh.write(_dumps(r))
    for name, recs in (("target.jsonl", target), ("heldout.jsonl", heldout)):
        with open_out(out_dir / name) as fh:
            for r in recs:
                fh.write(_dumps(r))

    counts = {}
    for name, recs in (("raw.jsonl.gz", raw), ("target.jsonl", target), ("heldout.jsonl", heldout)):
        counts[name] = print_stats(recs, f"{out_dir / name}")
        print(f"  file size: {(out_dir / name).stat().st_size / 1e6:.2f} MB")
    _write_sources(
        out_dir,
        counts,
        {"raw.jsonl.gz": raw, "target.jsonl": target, "heldout.jsonl": heldout},
        cache,
    )


def _write_sources(out_dir: Path, counts: dict, files: dict, cache: Path) -> None:
    versions = package_versions(cache)
    used = Counter(r["source"] for recs in files.values() for r in recs)
    L = [
        "# Sources of the sample corpus",
        "",
        "Real, human-written documentation shipped in Debian 12 (bookworm) `main`, converted",
        "to plain text by `bench/corpus.py` (read its module docstring for the conversion).",
        "",
        "Made with (from the repository root, with the project venv):",
        "",
        "```",
        "python bench/corpus.py sample data/sample",
        "```",
        "",
        f"Man pages rendered with: {'groff -k -Tutf8 -man (GNU groff)' if _GROFF else 'built-in macro stripper'}.",
        "Deterministic: sorted file lists; train/target/heldout split and per-cell sampling",
        "are by SHA-1 of page path / document id (no RNG).",
        "",
        "## Files",
        "",
        f"- `raw.jsonl.gz`: multi-domain, multi-language pool ({len(files['raw.jsonl.gz'])} docs). "
        f"Contains {counts['raw.jsonl.gz'].get('apidoc/en', 0)} English Python API docs (domain "
        "`apidoc`), the target domain, from pages not used in the two files below.",
        f"- `target.jsonl`: {len(files['target.jsonl'])} English Python API-doc sections "
        "(`python3.11-doc`: library/, c-api/, reference/) from pages held out of raw.",
        f"- `heldout.jsonl`: {len(files['heldout.jsonl'])} further English Python API-doc sections "
        "from pages disjoint from both (for evaluation).",
        "- Record fields: `id` (`package/path#n`), `text`, `domain`, `lang` (ISO 639-1), `source` "
        "(Debian package), `license` (short name from the package's copyright file).",
        "- Documents longer than "
        f"{SAMPLE_MAX_CHARS} characters are left out of the sample to keep it small.",
        "",
        "## Packages",
        "",
        "| package | version | licence | docs in sample |",
        "|---|---|---|---|",
    ]
    for pkg in PACKAGES:
        v, lic = versions[pkg.name]
        L.append(f"| {pkg.name} | {v} | {lic} | {used.get(pkg.name, 0)} |")
    L += ["", "## Counts per file (domain / lang: docs)", ""]
    for name, c in counts.items():
        L.append(f"### {name}")
        L.append("")
        L.append("| domain | lang | docs |")
        L.append("|---|---|---|")
        for k, v in c.items():
            d, lg = k.split("/")
            L.append(f"| {d} | {lg} | {v} |")
        L.append("")
    (out_dir / "SOURCES.md").write_text("\n".join(L), encoding="utf-8")


# --------------------------------------------------------------------------- cli


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="corpus.py",
        description="Labeled real-text corpora built from Debian documentation packages "
        "(guides, handbook, FAQ, packaging manuals, GNU standards, man pages, "
        "Python API docs, quotes) in several languages.",
    )
    ap.add_argument("--cache", type=Path, default=CACHE, help=f"cache dir (default {CACHE})")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser(
        "labeled", help="write the whole labeled pool (.jsonl / .jsonl.gz / .jsonl.zst)"
    )
    p.add_argument("out")
    p = sub.add_parser("large", help="write a ~N-byte corpus by repeating the labeled pool")
    p.add_argument("out")
    p.add_argument(
        "--bytes", type=int, default=1_000_000_000, help="target size (uncompressed bytes)"
    )
    p.add_argument(
        "--vary",
        action="store_true",
        help="repetitions >= 1 drop one paragraph per doc (near- instead of exact duplicates)",
    )
    p = sub.add_parser(
        "sample",
        help="write the small shipped sample (raw.jsonl.gz, target.jsonl, heldout.jsonl, SOURCES.md)",
    )
    p.add_argument("out_dir")
    sub.add_parser("stats", help="print per-domain/lang counts of the labeled pool")
    a = ap.parse_args(argv)
    if a.cmd == "labeled":
        build_labeled(a.out, a.cache)
    elif a.cmd == "large":
        build_large(a.out, a.bytes, a.vary, a.cache)
    elif a.cmd == "sample":
        build_sample(a.out_dir, a.cache)
    elif a.cmd == "stats":
        print_stats(iter_labeled(a.cache), "labeled pool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
