"""thresher's PII redaction beside datatrove's ``PIIFormatter``, on real text with injected PII.

Data: ``--docs`` documents of the labelled pool (``/work/bench-data/pool.jsonl``: Debian
documentation in several languages, man pages, quotes, Python docs). Into each, at random
word boundaries, 1-3 labelled items are injected: e-mail addresses, public IPv4 and IPv6
addresses, phone numbers in national formats (US/NANP, UK, DE, FR, IT, NL, JP, AU, ES),
and hard negatives that careless patterns redact (version strings such as ``1.2.3.4``,
section numbers at the start of a line, dates, times, ISBNs, C++ scopes). Each item sits
between two sentinel words (``Zq17a ITEM Zq17b``), so what each tool made of it is read
back exactly: a positive counts as found only if the whole item became one placeholder
(thresher) or one replacement value (datatrove); a negative is a false positive if it
changed at all. Deterministic (``random.Random(seed)``).

Detections in the original text (not injected) are counted per kind and a sample is
printed for reading: the pool holds real addresses (Debian maintainers' e-mails, IPs in
network examples), so those are not labelled either way.

datatrove's formatter covers e-mails and public IPv4 only (no phones, no IPv6); its
replacements are fake addresses (``email@example.com``, ``22.214.171.124``, ...).

Usage (from the repository root)::

    .venv/bin/python bench/pii_vs_datatrove.py --datatrove-python .venv-datatrove/bin/python
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

FIRST = ["maria", "john", "li", "anna", "pierre", "olga", "kenji", "fatima", "lukas", "sofia"]
LAST = ["gonzalez", "smith", "wang", "muller", "dupont", "ivanova", "tanaka", "khan", "novak"]
DOMAINS = ["example.com", "uni-heidelberg.de", "orange.fr", "mail.debian.org", "gmail.com",
           "company.co.uk", "posteo.net", "startup.io", "univ-lyon1.fr", "yahoo.co.jp"]  # fmt: skip


def _d(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def email(rng: random.Random) -> str:
    f, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}{rng.randrange(99)}",
                        f"{f}+news", f"{last}.{f}"])  # fmt: skip
    return f"{local}@{rng.choice(DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    while True:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global:
            return str(ip)


def ipv6(rng: random.Random) -> str:
    while True:
        ip = ipaddress.IPv6Address((0x2001 << 112) | rng.getrandbits(112))
        if ip.is_global:
            break
    return ip.exploded if rng.random() < 0.3 else str(ip)  # full or compressed


def nanp(rng: random.Random) -> str:
    a, b, c = f"{rng.randint(2, 9)}{_d(rng, 2)}", f"{rng.randint(2, 9)}{_d(rng, 2)}", _d(rng, 4)
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}",
                       f"+1-{a}-{b}-{c}"])  # fmt: skip


PHONES = {
    "US": nanp,
    "UK": lambda r: r.choice(
        [f"+44 20 {_d(r, 4)} {_d(r, 4)}", f"020 {_d(r, 4)} {_d(r, 4)}", f"07{_d(r, 3)} {_d(r, 6)}"]
    ),
    "DE": lambda r: r.choice(
        [
            f"+49 30 {_d(r, 8)}",
            f"030 {_d(r, 8)}",
            f"(030) {_d(r, 7)}",
            f"0171 {_d(r, 7)}",
            f"+49 (0)89 {_d(r, 6)}",
        ]  # fmt: skip
    ),
    "FR": lambda r: r.choice(
        [
            f"0{r.randint(1, 9)} " + " ".join(_d(r, 2) for _ in range(4)),
            f"+33 {r.randint(1, 9)} " + " ".join(_d(r, 2) for _ in range(4)),
            f"0{r.randint(1, 9)}." + ".".join(_d(r, 2) for _ in range(4)),
        ]
    ),
    "IT": lambda r: f"+39 06 {_d(r, 4)} {_d(r, 4)}",
    "NL": lambda r: f"+31 20 {_d(r, 3)} {_d(r, 4)}",
    "JP": lambda r: f"+81 3-{_d(r, 4)}-{_d(r, 4)}",
    "AU": lambda r: f"+61 2 {_d(r, 4)} {_d(r, 4)}",
    "ES": lambda r: f"+34 91{_d(r, 1)} {_d(r, 3)} {_d(r, 3)}",
}


def negative(rng: random.Random) -> tuple[str, str, bool]:
    """(kind, text, at line start)."""
    v = ".".join(str(rng.randint(0, 20)) for _ in range(4))
    big = f"{rng.randint(90, 130)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
    choices = [
        ("version", f"version {v}", False),
        ("package", f"linux-image-{v}-amd64", False),
        ("product", f"Firefox {big}", False),
        ("section", f"{v}. Configuration", True),
        ("date", f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", False),
        ("date", f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2030)}", False),
        ("time", f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}", False),
        ("isbn", f"ISBN 978-{rng.randint(0, 9)}-{_d(rng, 2)}-{_d(rng, 6)}-{rng.randint(0, 9)}", False),
        ("code", "std::vector<int>", False),
        ("number", f"{rng.randint(1, 999)},{_d(rng, 3)},{_d(rng, 3)}.{_d(rng, 2)}", False),
    ]  # fmt: skip
    return rng.choice(choices)


def make_set(pool: str, n_docs: int, seed: int) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    docs = [json.loads(x) for x in Path(pool).read_bytes().splitlines() if x.strip()]
    docs = rng.sample(docs, n_docs)
    texts, labels = [], []
    k = 0
    for d in docs:
        words = d["text"].split(" ")
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.2:
                kind, sub, item = "email", "email", email(rng)
            elif r < 0.32:
                kind, sub, item = "ip", "ipv4", ipv4(rng)
            elif r < 0.42:
                kind, sub, item = "ip", "ipv6", ipv6(rng)
            elif r < 0.72:
                sub = rng.choice(sorted(PHONES))
                kind, item = "phone", PHONES[sub](rng)
            else:
                sub, item, line = negative(rng)
                kind = "negative"
            at = rng.randrange(len(words) + 1)
            sa, sb = f"Zq{k}a", f"Zq{k}b"
            piece = f"{sa} {item} {sb}"
            if kind == "negative" and line:
                piece = f"\n{sa}\n{item} {sb}"
            words.insert(at, piece)
            labels.append({"doc": len(texts), "id": k, "kind": kind, "sub": sub, "item": item})
            k += 1
        texts.append(" ".join(words))
    return texts, labels


# --------------------------------------------------------------------------------------------
# the two tools
def run_thresher(texts: list[str]) -> tuple[list[str], float]:
    import pyarrow as pa

    from thresher.text.pii import Redactor

    r = Redactor(["email", "ip", "phone"])
    r.redact(pa.array(texts[:5], pa.large_string()))  # compile the patterns
    t0 = time.perf_counter()
    out = r.redact(pa.array(texts, pa.large_string()))[0].to_pylist()
    return out, time.perf_counter() - t0


def datatrove_worker(inp: str, outp: str) -> None:
    from datatrove.pipeline.formatters import PIIFormatter

    texts = json.loads(Path(inp).read_bytes())
    f = PIIFormatter()
    t0 = time.perf_counter()
    out = [f.format(t) for t in texts]
    Path(outp).write_text(json.dumps({"out": out, "seconds": time.perf_counter() - t0}))


DT_REPLACEMENTS = {"email@example.com", "firstname.lastname@example.org", "22.214.171.124",
                   "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11",
                   "18.104.22.168"}  # fmt: skip
PLACEHOLDERS = {"email": "<EMAIL>", "ip": "<IP>", "phone": "<PHONE>"}


def between(text: str, k: int) -> str | None:
    m = re.search(rf"Zq{k}a\s(.*?)\sZq{k}b", text, re.S)
    return m.group(1) if m else None


def score(out: list[str], labels: list[dict], tool: str) -> dict:
    res: dict = defaultdict(lambda: [0, 0])  # sub -> [hits, n]
    for lab in labels:
        got = between(out[lab["doc"]], lab["id"])
        if lab["kind"] == "negative":
            changed = got != lab["item"]
            res[("negative", lab["sub"])][0] += changed
            res[("negative", lab["sub"])][1] += 1
            continue
        ok = got == PLACEHOLDERS[lab["kind"]] if tool == "thresher" else got in DT_REPLACEMENTS
        res[(lab["kind"], lab["sub"])][0] += ok
        res[(lab["kind"], lab["sub"])][1] += 1
    return dict(res)


def base_detections(texts_clean: list[str], out: list[str], tool: str) -> Counter:
    """Detections outside the injected items: placeholders/replacements in the output of the
    document with the injected items cut out."""
    c: Counter = Counter()
    for t in out:
        t = re.sub(r"Zq\d+a\s.*?\sZq\d+b", " ", t, flags=re.S)
        if tool == "thresher":
            for kind, ph in PLACEHOLDERS.items():
                c[kind] += t.count(ph)
        else:
            for rep in DT_REPLACEMENTS:
                c["email" if "@" in rep else "ip"] += t.count(rep)
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datatrove-python", default=".venv-datatrove/bin/python")
    ap.add_argument("--work", default="/tmp/thresher-bench-pii")
    ap.add_argument("--show", type=int, default=12, help="base-text detections to print per kind")
    a = ap.parse_args()
    if a.worker:
        datatrove_worker(*a.worker)
        return
    load0 = os.getloadavg()
    texts, labels = make_set(a.pool, a.docs, a.seed)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "in.json").write_text(json.dumps(texts))
    subprocess.run(
        [a.datatrove_python, __file__, "--worker", str(work / "in.json"), str(work / "dt.json")],
        check=True,
        env={**os.environ, "LOGURU_LEVEL": "WARNING"},
    )
    dt = json.loads((work / "dt.json").read_bytes())
    mine, secs = run_thresher(texts)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    sm, sd = score(mine, labels, "thresher"), score(dt["out"], labels, "datatrove")
    print(f"{a.docs:,} pool documents ({mb:.1f} MB), {len(labels):,} injected items")
    print("\n| kind | format | items | thresher recall | datatrove recall |")
    print("|---|---|---:|---:|---:|")
    totals: dict = defaultdict(lambda: [0, 0, 0])
    for key in sorted(k for k in sm if k[0] != "negative"):
        h, n = sm[key]
        hd = sd.get(key, [0, n])[0]
        print(f"| {key[0]} | {key[1]} | {n} | {h / n:.1%} | {hd / n:.1%} |")
        t = totals[key[0]]
        t[0] += h
        t[1] += hd
        t[2] += n
    print("\n| kind | items | thresher recall | datatrove recall |")
    print("|---|---:|---:|---:|")
    for kind, (h, hd, n) in sorted(totals.items()):
        print(f"| {kind} | {n} | {h / n:.1%} ({h}) | {hd / n:.1%} ({hd}) |")
    print("\nHard negatives (changed = false positive):\n")
    print("| negative | items | thresher changed | datatrove changed |")
    print("|---|---:|---:|---:|")
    fp_m = fp_d = 0
    for key in sorted(k for k in sm if k[0] == "negative"):
        h, n = sm[key]
        hd = sd[key][0]
        fp_m += h
        fp_d += hd
        print(f"| {key[1]} | {n} | {h} | {hd} |")
    print("\nPrecision on the labelled items (found / (found + negatives changed)):\n")
    print("| kind | thresher | datatrove |")
    print("|---|---:|---:|")
    fp_kind_m: Counter = Counter()
    fp_kind_d: Counter = Counter()
    for lab in labels:
        if lab["kind"] != "negative":
            continue
        for out, c in ((mine, fp_kind_m), (dt["out"], fp_kind_d)):
            got = between(out[lab["doc"]], lab["id"]) or ""
            for kind, ph in PLACEHOLDERS.items():
                if ph in got:
                    c[kind] += 1
            if any(r in got for r in DT_REPLACEMENTS):
                c["email" if "@" in got else "ip"] += 1
    for kind, (h, hd, _) in sorted(totals.items()):
        pm = h / (h + fp_kind_m[kind]) if h + fp_kind_m[kind] else float("nan")
        pd = hd / (hd + fp_kind_d[kind]) if hd + fp_kind_d[kind] else float("nan")
        print(f"| {kind} | {pm:.1%} | {pd:.1%} |")
    bm, bd = (
        base_detections(texts, mine, "thresher"),
        base_detections(texts, dt["out"], "datatrove"),
    )
    print(
        f"\nDetections in the original text (unlabelled): thresher {dict(bm)}, datatrove {dict(bd)}"
    )
    from thresher.text.pii import _patterns

    rng = random.Random(1)
    clean = [re.sub(r"Zq\d+a\s.*?\sZq\d+b", " ", t, flags=re.S) for t in texts]
    for _kind, name, pat, check in _patterns():
        found = [
            t[max(0, m.start() - 30) : m.end() + 10].replace("\n", " ")
            for t in clean
            for m in pat.finditer(t)
            if check is None or check(t, m)
        ]
        print(f"\n{name}: {len(found)} in the original text; a sample:")
        for x in rng.sample(found, min(a.show, len(found))):
            print(f"    {x!r}")
    print(f"\nspeed: thresher {mb / secs:.1f} MB/s (email, ip, phone), datatrove "
          f"{mb / dt['seconds']:.1f} MB/s (email, ipv4); one process each")  # fmt: skip
    load1 = os.getloadavg()
    print(f"load average: start {load0[0]:.2f}, end {load1[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
