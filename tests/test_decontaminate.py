"""Decontamination against eval sets, on the real sample: recall of pasted passages, no drop
for a short shared phrase, cross-script matches, excise mode, bad input, determinism."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import regex

import thresher
from thresher.errors import ConfigError
from thresher.filters.decontaminate import Decontaminator
from thresher.rundir import read_docs

from .conftest import tree_bytes, write_jsonl

WORD = regex.compile(r"[^\W\p{Pc}]+")
N = 13


def ref_words(text: str) -> list[str]:
    """An independent reference tokenization: NFKC, lowercase, runs of letters/digits
    (CJK characters one by one)."""
    out = []
    for w in WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("ς", "σ")):
        out.extend(
            regex.findall(
                r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\p{Han}\p{Hiragana}\p{Katakana}]+", w
            )
        )
    return out


CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")


def ref_windows(text: str, n: int = N) -> list[tuple[str, ...]]:
    """From each word, the shortest run of words holding n words' length, a Han/kana
    character counting as half a word."""
    w = ref_words(text)
    size = [1 if CJK.fullmatch(t) else 2 for t in w]
    out = []
    for i in range(len(w)):
        got, e = 0, i
        while e < len(w) and got < 2 * n:
            got += size[e]
            e += 1
        if got < 2 * n:
            break
        out.append(tuple(w[i:e]))
    return out


def ref_ngrams(text: str, n: int = N) -> set[tuple[str, ...]]:
    return set(ref_windows(text, n))


@pytest.fixture(scope="module")
def setup(tmp_path_factory, sample_dir: Path):
    """400 raw docs; 40 eval passages of 30 words from held-out docs. Passages are pasted
    into 40 raw docs; 8 words of 40 other passages into 40 other raw docs."""
    tmp = tmp_path_factory.mktemp("decon")
    raw = [
        json.loads(x)
        for x in gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes()).splitlines()
    ]
    raw = raw[::7][:400]
    held = [json.loads(x) for x in (sample_dir / "heldout.jsonl").read_bytes().splitlines()]
    raw_grams = set().union(*(ref_ngrams(r["text"]) for r in raw))
    passages = []
    for h in held:
        words = h["text"].split()
        for start in range(0, len(words) - 30, 40):
            p = " ".join(words[start : start + 30])
            if len(ref_words(p)) >= 20 and not (ref_ngrams(p) & raw_grams):
                passages.append(p)
                break
    passages = passages[:80]
    assert len(passages) == 80
    halves = [p.split(" ") for p in passages[:40]]
    evals = [{"question": " ".join(w[:15]), "answer": " ".join(w[15:])} for w in halves]
    pasted = list(range(0, 80, 2))  # raw positions holding a whole passage
    partial = list(range(1, 80, 2))  # raw positions holding 8 words of one
    for k, i in enumerate(pasted):
        w = raw[i]["text"].split(" ")
        raw[i] = {**raw[i], "text": " ".join(w[: len(w) // 2] + [passages[k]] + w[len(w) // 2 :])}
    for k, i in enumerate(partial):
        eight = " ".join(passages[k].split()[5:13])
        raw[i] = {**raw[i], "text": raw[i]["text"] + "\n" + eight}
    return {
        "raw": write_jsonl(tmp / "raw.jsonl", raw),
        "eval": write_jsonl(tmp / "eval.jsonl", evals),
        "records": raw,
        "pasted": pasted,
        "partial": partial,
        "tmp": tmp,
    }


def test_pasted_passages_caught_shared_phrases_kept(setup) -> None:
    out = setup["tmp"] / "run"
    m = thresher.decontaminate(
        raw=[str(setup["raw"])],
        out=str(out),
        eval=[str(setup["eval"])],
        eval_field="question,answer",
        workers=1,
        report=False,
    )
    docs = read_docs(out)
    rule = np.array(docs.column("rule").to_pylist(), dtype=object)
    rows = np.array(docs.column("row").to_pylist())
    dropped = set(rows[rule == "contaminated"].tolist())
    assert set(setup["pasted"]) <= dropped  # recall 100%
    assert not (set(setup["partial"]) & dropped)  # 8 shared words: kept
    # Every decision agrees with an independent reference on 13-grams (no false drop).
    ev = [json.loads(x) for x in setup["eval"].read_bytes().splitlines()]
    grams = set().union(*(ref_ngrams(e["question"] + " " + e["answer"]) for e in ev))
    ref = {i for i, r in enumerate(setup["records"]) if ref_ngrams(r["text"]) & grams}
    assert dropped == ref
    # The eval file and row of each drop; the value is the number of matched 13-grams.
    erow = docs.column("contaminated_row").to_pylist()
    for k, i in enumerate(setup["pasted"]):
        j = int(np.flatnonzero(rows == i)[0])
        assert erow[j] == k
        assert docs.column("contaminated_eval")[j].as_py() == str(setup["eval"])
        windows = sum(g in grams for g in ref_windows(setup["records"][i]["text"]))
        assert docs.column("value")[j].as_py() == windows >= 15
    c = m["counts"]
    assert c["filtered"] == len(dropped) and c["selected"] == len(setup["records"]) - len(dropped)
    assert (
        c["read"]
        == c["selected"] + c["not_selected"] + c["filtered"] + c["duplicate"] + c["rejected"]
    )
    dc = m["decontamination"]
    assert dc["dropped"] == len(dropped) and dc["per_eval_set"][0]["items"] == 40
    assert dc["top_items"][0]["documents"] >= 1 and dc["examples"]


def test_cross_script_and_short_items(raw_records) -> None:
    """Real Japanese and Chinese text of the sample, and Russian and Greek sentences, match
    eval items written in another case, width or normalization form; an item shorter than
    n words matches whole (and only as a contiguous sequence)."""
    docs = []
    for lang in ("ja", "zh"):
        docs.append(
            next(r["text"] for r in raw_records if r["lang"] == lang and len(r["text"]) > 400)
        )
    docs.append(
        "Введение. Debian — это свободная операционная система, разработанная тысячами "
        "добровольцев со всего мира, которые сотрудничают через Интернет. Конец."
    )
    docs.append(
        "Εισαγωγή: Το Debian είναι ένα ελεύθερο λειτουργικό σύστημα που αναπτύσσεται από "
        "χιλιάδες εθελοντές σε όλο τον κόσμο, οι οποίοι συνεργάζονται μέσω του Διαδικτύου."
    )
    items = [
        unicodedata.normalize("NFKD", docs[0][200:320]),  # decomposed kana: NFKC recomposes
        docs[1][200:320].translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),  # fullwidth
        docs[2][10:].upper(),
        unicodedata.normalize("NFD", docs[3][10:].upper()),
        "Σύντομη ερώτηση",  # two words: matched whole
    ]
    docs += ["ΣΎΝΤΟΜΗ ΕΡΏΤΗΣΗ; yes", "σύντομη και ερώτηση", "plain English text, nothing else here"]
    d = Decontaminator.from_texts(
        [pa.array(items, pa.large_string())], [np.arange(len(items))], ["eval.txt"], ngram=N
    )
    res = d.apply(pa.array(docs, pa.large_string()))
    assert res.keep.tolist() == [False] * 4 + [False, True, True]
    assert res.annotations["contaminated_row"].to_pylist()[:5] == [0, 1, 2, 3, 4]


def test_excise_mode(setup) -> None:
    out = setup["tmp"] / "excise"
    records = setup["records"]
    long_doc, short_doc = setup["pasted"][0], setup["pasted"][1]
    ev = [json.loads(x) for x in setup["eval"].read_bytes().splitlines()]
    passage = ev[0]["question"] + " " + ev[0]["answer"]
    # A raw doc that is (nearly) only passage 1: too little left -> dropped.
    recs = list(records)
    recs[short_doc] = {
        **recs[short_doc],
        "text": ev[1]["question"] + " " + ev[1]["answer"] + " end.",
    }
    raw = write_jsonl(setup["tmp"] / "raw_excise.jsonl", recs)
    m = thresher.decontaminate(
        raw=[str(raw)],
        out=str(out),
        eval=[str(setup["eval"])],
        eval_field=["question", "answer"],
        mode="excise",
        workers=1,
        report=False,
        format="jsonl",
    )
    sel = [
        json.loads(x)
        for p in sorted((out / "selected").glob("*.jsonl"))
        for x in p.read_bytes().splitlines()
    ]
    by_row = {r["thresher_row"]: r for r in sel}
    assert short_doc not in by_row  # dropped: less than half its words left
    kept = by_row[long_doc]
    assert kept["thresher_contaminated_row"] == 0
    assert not (ref_ngrams(kept["text"]) & ref_ngrams(passage))  # the passage is gone
    before = records[long_doc]["text"]
    assert before[:100] == kept["text"][:100]  # the rest is untouched
    assert len(kept["text"]) < len(before) - 100
    dc = m["decontamination"]
    assert dc["excised"] >= 39 and dc["dropped"] >= 1
    assert m["counts"]["filtered"] == dc["dropped"]


@pytest.mark.parametrize(
    ("make", "fields", "expect"),
    [
        (lambda t: t / "missing.jsonl", "text", "missing.jsonl"),
        (lambda t: _bytes(t / "empty.jsonl", b""), "text", "the eval set is empty"),
        (lambda t: _bytes(t / "bad.jsonl.gz", b"\x1f\x8b\x08garbage"), "text", "bad.jsonl.gz"),
        (
            lambda t: _bytes(t / "qa.jsonl", b'{"question": "a b c", "answer": "d"}\n'),
            "question,answr",
            "no row has the eval field 'answr'",
        ),
        (
            lambda t: _bytes(t / "qa2.jsonl", b'{"question": "a b c"}\n'),
            "text",
            "no row has the eval field 'text'",
        ),
    ],
)
def test_bad_eval_sets(tmp_path, setup, make, fields, expect) -> None:
    path = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as e:
        thresher.decontaminate(
            raw=[str(setup["raw"])], out=str(out), eval=[str(path)], eval_field=fields
        )
    msg = str(e.value)
    assert "\n" not in msg and expect in msg and path.name in msg
    assert not out.exists()  # nothing written


def test_index_cap(setup, tmp_path) -> None:
    with pytest.raises(ConfigError, match="more than 100 n-grams"):
        thresher.decontaminate(
            raw=[str(setup["raw"])],
            out=str(tmp_path / "o"),
            eval=[str(setup["eval"])],
            eval_field="question,answer",
            decontaminate_max_ngrams=100,
        )
    assert not (tmp_path / "o").exists()


def test_same_output_any_worker_count(setup) -> None:
    """Decontamination and redaction together, 1 vs 2 workers, several shards: same bytes."""
    runs = {}
    raw = write_jsonl(setup["tmp"] / "raw150.jsonl", setup["records"][:150])
    for w in (1, 2):
        out = setup["tmp"] / f"det{w}"
        thresher.filter(
            raw=[str(raw)],
            out=str(out),
            decontaminate=[str(setup["eval"])],
            eval_field="question,answer",
            redact="email,ip,phone",
            workers=w,
            shard_bytes=100_000,
            report=False,
            write_dropped=True,
        )
        runs[w] = {k: v for k, v in tree_bytes(out).items() if not k.startswith("_work")}
        runs[w].pop("manifest.json")
        runs[w].pop(".thresher-run")
    assert runs[1] == runs[2]
    assert len([k for k in runs[1] if k.startswith("docs/")]) > 1
    t = pq.read_table(next((setup["tmp"] / "det1" / "dropped").glob("*.parquet")))
    assert set(t.column("thresher_rule").to_pylist()) == {"contaminated"}


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_eval_formats_parquet_and_text(tmp_path, setup) -> None:
    """The same items as Parquet (two fields joined) and as a text file (one per line) give
    the same index as the JSONL eval set; rows are recorded per file."""
    from thresher.filters.decontaminate import read_eval_items

    ev = [json.loads(x) for x in setup["eval"].read_bytes().splitlines()]
    pq.write_table(pa.Table.from_pylist(ev), tmp_path / "eval.parquet")
    (tmp_path / "eval.txt").write_text(
        "".join(e["question"] + " " + e["answer"] + "\n" for e in ev), encoding="utf-8"
    )
    built = {}
    for name, fields in (
        ("eval.parquet", ["question", "answer"]),
        ("eval.txt", ["text"]),
    ):
        texts, rows, files = read_eval_items([str(tmp_path / name)], fields)
        assert files == [str(tmp_path / name)] and rows[0].tolist() == list(range(len(ev)))
        built[name] = Decontaminator.from_texts(texts, rows, files).index
    jt, jr, jf = read_eval_items([str(setup["eval"])], ["question", "answer"])
    ref = Decontaminator.from_texts(jt, jr, jf).index
    assert np.array_equal(built["eval.parquet"], ref) and np.array_equal(built["eval.txt"], ref)


def test_eval_set_on_s3(s3, setup) -> None:
    """An eval set on an object store (s3://) reads like a local one, through io/fs."""
    from thresher.filters.decontaminate import read_eval_items

    bucket, fs, _ = s3
    fs.put(str(setup["eval"]), f"{bucket}/evals/eval.jsonl")
    texts, rows, files = read_eval_items(
        [f"s3://{bucket}/evals/eval.jsonl"], ["question", "answer"]
    )
    assert files == [f"s3://{bucket}/evals/eval.jsonl"] and len(rows[0]) == 40
    local = read_eval_items([str(setup["eval"])], ["question", "answer"])[0]
    assert texts[0].to_pylist() == local[0].to_pylist()
    with pytest.raises(ConfigError, match=f"s3://{bucket}/evals/nope.jsonl"):
        read_eval_items([f"s3://{bucket}/evals/nope.jsonl"], ["text"])


def test_han_and_kana_count_half_a_word(raw_records) -> None:
    """A 13-gram spans 26 Han/kana characters: a shared run of 20 (a stock phrase, 6-10
    Japanese words) is no match, a run of 30 is; a mixed run counts words and characters."""
    ja = next(r["text"] for r in raw_records if r["lang"] == "ja" and len(r["text"]) > 400)
    runs = regex.findall(r"[\p{Han}\p{Hiragana}\p{Katakana}]{30,}", ja)
    assert runs, "the sample's Japanese text has a run of 30 Han/kana characters"
    run = runs[0][:30]
    item = "install the package " + run + " 後書き"
    d = Decontaminator.from_texts(
        [pa.array([item], pa.large_string())], [np.arange(1)], ["eval.txt"], ngram=N
    )
    filler = "This page explains how the package manager works. "
    docs = [
        filler + run[:20] + "。" + filler,  # 20 characters: kept
        filler + run + "。" + filler,  # 30 characters: dropped
        "Then install the package " + run[:20] + "。",  # 3 words + 20 characters: dropped
        "Then the package " + run[:20] + "。",  # 2 words + 20 characters: kept
    ]
    res = d.apply(pa.array(docs, pa.large_string()))
    assert res.keep.tolist() == [True, False, False, True]
    # Against the reference tokenization: the same decisions, from the same windows.
    grams = ref_ngrams(item)
    assert [not (ref_ngrams(t) & grams) for t in docs] == res.keep.tolist()
