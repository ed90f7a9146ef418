"""thresher's n-gram decontamination against datatrove's, on real text.

Data: the labelled pool (``/work/bench-data/pool.jsonl``, from ``bench/corpus.py labeled``).
Every ``--every``-th document is held out and cut into a question-like eval item (a
passage of 24-60 words at a fixed place: the first 60% is the ``question``, the rest the
``answer``); the other documents are the raw corpus. Into ``--pasted`` raw documents a
whole eval item is pasted, into ``--partial`` others 8 words of one. Everything is
deterministic (``random.Random(seed)``).

Settings, the same on both sides: 13-gram word matches over question + answer (datatrove:
``NGramsDecontConfig(n_grams=13, find_query_ngrams=True, find_overlap_ngrams=True)``, the
n-grams of the query, of the label and across the two, which are exactly the n-grams of
the joined item thresher indexes); normalization lowercase + punctuation removed, numbers
and diacritics kept (datatrove's ``norm_numbers`` and ``norm_unicode_diacritics`` off, as
thresher does not fold them). datatrove's index is built with its own
``NGramsDecontIndexer.compute_hashes`` (its ``run`` needs lighteval for benchmark tasks),
its filter is ``NGramsDecontFilter`` in a ``LocalPipelineExecutor`` (JsonlReader ->
filter -> JsonlWriter). thresher runs ``thresher decontaminate`` (CLI).

Prints: agreement of the drop decisions, the disagreements (classified), and the wall time
of each configuration in fresh processes, interleaved, ``--repeats`` times (median, min,
max), with the load average at start and end.

Usage (from the repository root)::

    .venv/bin/python bench/decon_vs_datatrove.py --datatrove-python .venv-datatrove/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

N = 13


# --------------------------------------------------------------------------------------------
# data
def make_data(
    pool: str,
    work: Path,
    every: int,
    pasted: int,
    partial: int,
    seed: int,
    limit: int,
    exclude: tuple[str, ...] = (),
) -> dict:
    rng = random.Random(seed)
    docs = [json.loads(x) for x in Path(pool).read_bytes().splitlines() if x.strip()]
    if limit:
        docs = docs[:limit]
    held = [d for i, d in enumerate(docs) if i % every == every - 1]
    raw = [d for i, d in enumerate(docs) if i % every != every - 1]
    items = []
    for d in held:
        words = d["text"].split()
        if len(words) < 40 or d.get("lang") in exclude:
            continue
        length = rng.randint(24, 60)
        start = rng.randrange(0, max(1, len(words) - length))
        w = words[start : start + length]
        cut = int(len(w) * 0.6)
        items.append(
            {
                "question": " ".join(w[:cut]),
                "answer": " ".join(w[cut:]),
                "source_id": d["id"],
                "lang": d.get("lang"),
            }
        )
    order = rng.sample(range(len(raw)), pasted + partial)
    truth = {"pasted": [], "partial": []}
    for k, i in enumerate(order):
        item = items[k % len(items)]
        text = item["question"] + " " + item["answer"]
        if k >= pasted:
            w = text.split()
            s = rng.randrange(0, len(w) - 8)
            text = " ".join(w[s : s + 8])
        words = raw[i]["text"].split(" ")
        at = rng.randrange(len(words) + 1)
        raw[i] = {**raw[i], "text": " ".join(words[:at] + [text] + words[at:])}
        truth["pasted" if k < pasted else "partial"].append(raw[i]["id"])
    work.mkdir(parents=True, exist_ok=True)
    with open(work / "raw.jsonl", "w", encoding="utf-8") as f:
        for d in raw:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(work / "eval.jsonl", "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    return {"raw": len(raw), "items": len(items), "truth": truth, "ids": [d["id"] for d in raw]}


# --------------------------------------------------------------------------------------------
# datatrove side (runs in the datatrove interpreter: this script with --worker)
def datatrove_worker(raw: str, eval_path: str, out: str, tasks: int) -> None:
    from types import SimpleNamespace

    import numpy as np
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.pipeline.decont.n_grams import NGramsDecontIndexer
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    t0 = time.perf_counter()
    config = NGramsDecontConfig(
        n_grams=N,
        find_query_ngrams=True,
        find_overlap_ngrams=True,
        norm_config=TextNormConfig(norm_numbers=False, norm_unicode_diacritics=False),
    )
    me = SimpleNamespace(
        config=config,
        tokenizer=load_word_tokenizer("en"),
        hash_func=create_hash_func(config.hash_config),
    )
    hashes: set[int] = set()
    for line in Path(eval_path).read_bytes().splitlines():
        it = json.loads(line)
        hashes.update(NGramsDecontIndexer.compute_hashes(me, it["answer"], it["question"]))
    index = Path(out) / "index"
    index.mkdir(parents=True, exist_ok=True)
    np.array(sorted(hashes), dtype=config.hash_config.np_dtype).tofile(index / "eval.index.hashes")
    raw_path = Path(raw)
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(str(raw_path.parent), glob_pattern=raw_path.name, id_key="id"),
            NGramsDecontFilter(
                index_folder=str(index),
                config=config,
                exclusion_writer=JsonlWriter(f"{out}/removed", compression=None),
            ),
            JsonlWriter(f"{out}/kept", compression=None),
        ],
        tasks=tasks,
        workers=tasks,
        logging_dir=f"{out}/logs",
    ).run()
    removed = {}
    for p in sorted((Path(out) / "removed").glob("*.jsonl")):
        for line in p.read_bytes().splitlines():
            r = json.loads(line)
            removed[r["id"]] = r["metadata"].get("contaminated_ngram", "")
    with open(Path(out) / "result.json", "w") as f:
        json.dump(
            {"removed": removed, "seconds": time.perf_counter() - t0, "ngrams": len(hashes)}, f
        )


# --------------------------------------------------------------------------------------------
# runs
def run_thresher(python: str, raw: Path, ev: Path, out: Path, workers: int) -> float:
    if out.exists():
        shutil.rmtree(out)
    cmd = [
        python, "-m", "thresher.cli", "decontaminate", "--raw", str(raw), "--eval", str(ev),
        "--eval-field", "question,answer", "--out", str(out), "--workers", str(workers),
        "--format", "jsonl", "--no-report",
    ]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def run_datatrove(python: str, raw: Path, ev: Path, out: Path, tasks: int) -> float:
    if out.exists():
        shutil.rmtree(out)
    cmd = [python, __file__, "--worker", str(raw), str(ev), str(out), str(tasks)]
    t0 = time.perf_counter()
    subprocess.run(
        cmd, check=True, capture_output=True, env={**os.environ, "LOGURU_LEVEL": "WARNING"}
    )
    return time.perf_counter() - t0


def thresher_removed(out: Path, ids: list[str]) -> dict[str, int]:
    import pyarrow.parquet as pq

    removed = {}
    for p in sorted((out / "docs").glob("*.parquet")):
        t = pq.read_table(p, columns=["row", "rule", "contaminated_row"]).to_pylist()
        for r in t:
            if r["rule"] == "contaminated":
                removed[ids[r["row"]]] = r["contaminated_row"]
    return removed


def odir(work: Path, name: str) -> Path:
    return work / ("out-" + name.replace(", ", "-").replace(" ", "_"))


def stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--pool", default="/work/bench-data/pool.jsonl")
    ap.add_argument("--work", default="/tmp/thresher-bench-decon")
    ap.add_argument("--docs", type=int, default=0, help="use the first N pool docs (0: all)")
    ap.add_argument("--every", type=int, default=30, help="hold out every N-th pool document")
    ap.add_argument("--pasted", type=int, default=300)
    ap.add_argument("--partial", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--datatrove-python", default=".venv-datatrove/bin/python")
    ap.add_argument(
        "--exclude-langs", default="", help="no eval items from these languages (e.g. ja,zh)"
    )
    ap.add_argument("--one-worker", action="store_true", help="only the 1-worker configurations")
    ap.add_argument("--show", type=int, default=8, help="disagreements to print")
    a = ap.parse_args()
    if a.worker:
        raw, ev, out, tasks = a.worker
        datatrove_worker(raw, ev, out, int(tasks))
        return
    work = Path(a.work)
    load0 = os.getloadavg()
    exclude = tuple(x for x in a.exclude_langs.split(",") if x)
    data = make_data(a.pool, work, a.every, a.pasted, a.partial, a.seed, a.docs, exclude)
    raw, ev = work / "raw.jsonl", work / "eval.jsonl"
    print(
        f"raw: {data['raw']:,} docs ({raw.stat().st_size / 1e6:.1f} MB), eval items: "
        f"{data['items']:,}, pasted: {a.pasted}, 8-word partial: {a.partial}"
    )
    configs = {
        "thresher, 1 worker": lambda o: run_thresher(sys.executable, raw, ev, o, 1),
        "datatrove, 1 task": lambda o: run_datatrove(a.datatrove_python, raw, ev, o, 1),
        "thresher, 2 workers": lambda o: run_thresher(sys.executable, raw, ev, o, 2),
        "datatrove, 2 tasks": lambda o: run_datatrove(a.datatrove_python, raw, ev, o, 2),
    }
    if a.one_worker:
        configs = {k: v for k, v in configs.items() if k.split(", ")[1].startswith("1 ")}
    times: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(a.repeats):
        for k, run in configs.items():
            times[k].append(run(odir(work, k)))
        print(f"  repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    load1 = os.getloadavg()
    mine = thresher_removed(odir(work, "thresher, 1 worker"), data["ids"])
    ref = json.loads((odir(work, "datatrove, 1 task") / "result.json").read_bytes())["removed"]
    ids = data["ids"]
    both = sum(1 for i in ids if (i in mine) and (i in ref))
    neither = sum(1 for i in ids if (i not in mine) and (i not in ref))
    only_mine = [i for i in ids if i in mine and i not in ref]
    only_ref = [i for i in ids if i in ref and i not in mine]
    agree = (both + neither) / len(ids)
    pasted, partial = set(data["truth"]["pasted"]), set(data["truth"]["partial"])
    print(f"\ndecisions on {len(ids):,} raw docs: agreement {agree:.4%}")
    print(f"  both drop {both:,}, both keep {neither:,}, only thresher drops {len(only_mine)}, "
          f"only datatrove drops {len(only_ref)}")  # fmt: skip
    print(f"  pasted items caught: thresher {len(pasted & set(mine))}/{len(pasted)}, "
          f"datatrove {len(pasted & set(ref))}/{len(pasted)}")  # fmt: skip
    print(f"  8-word partial pastes dropped: thresher {len(partial & set(mine))}/{len(partial)}, "
          f"datatrove {len(partial & set(ref))}/{len(partial)}")  # fmt: skip
    items = [json.loads(x) for x in ev.read_bytes().splitlines()]
    recs = {json.loads(x)["id"]: json.loads(x) for x in raw.read_bytes().splitlines()}
    for title, group in (("only thresher drops", only_mine), ("only datatrove drops", only_ref)):
        by_lang: dict[str, int] = {}
        for i in group:
            by_lang[recs[i].get("lang", "?")] = by_lang.get(recs[i].get("lang", "?"), 0) + 1
        print(f"\n{title}: {len(group)} (by raw doc language: {by_lang})")
        for i in group[: a.show]:
            if i in mine:
                it = items[mine[i]]
                why = f"eval item {mine[i]} ({it['lang']}): {(it['question'] + ' ' + it['answer'])[:100]!r}"
            else:
                why = f"datatrove n-gram: {ref[i][:100]!r}"
            print(f"  {i} [{recs[i].get('lang')}] {why}")
    print("\nwall time, fresh process each, interleaved (index build + scan + write):")
    for k, v in times.items():
        print(f"  {k:22s} {stats(v)}")
    for w in ("1",) if a.one_worker else ("1", "2"):
        t = statistics.median(times[f"thresher, {w} worker" + ("s" if w == "2" else "")])
        d = statistics.median(times[f"datatrove, {w} task" + ("s" if w == "2" else "")])
        print(f"  speed ratio at {w}: datatrove / thresher = {d / t:.2f}x")
    print(f"load average: start {load0[0]:.2f} {load0[1]:.2f}, end {load1[0]:.2f} {load1[1]:.2f}")


if __name__ == "__main__":
    main()
