"""The write pass's reading of chosen JSONL rows: JsonLines against orjson dicts.

The write pass reads the selected rows (written whole, as Parquet by default) and the
random baseline's rows (only their texts: KL counts) of each shard. Every configuration
takes a seeded fifth of the lines of the first ``--mb`` MB of a JSONL corpus (dsir's
selected share and random baseline are about that) and, in its own fresh process
(bench/_harness.py), repeated and interleaved, times its second pass (the first loads
the kernels and grows the heap, as a worker's first shard does):

* ``table: JsonLines``: :meth:`JsonLines.table` (Arrow's JSON reader, its types checked);
* ``table: orjson``: ``orjson.loads`` per line, then ``records_to_table`` (the path before);
* ``texts: JsonLines``: :meth:`JsonLines.texts` (the scan's text scanner);
* ``texts: orjson``: ``orjson.loads`` per line, then ``pa.array`` of the texts.

Then, in this process: whether the tables and texts are equal.

    python bench/write_pass.py --corpus /work/bench-data/raw-1gb.jsonl --mb 256 --repeats 3
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    commands_block,
    corpus_loop_args,
    corpus_loop_report,
    corpus_loop_run,
    md_table,
)

ROOT = Path(__file__).resolve().parents[1]

SETUP = r"""
import sys, time
sys.path.insert(0, {src!r}); sys.path.insert(0, {bench!r})
import numpy as np, orjson, pyarrow as pa
from thresher.io.formats.jsonl import JsonLines
from thresher.io.writers import records_to_table

data = open({corpus!r}, "rb").read({nbytes})
lines = data[: data.rfind(b"\n")].split(b"\n")
rng = np.random.default_rng(0)
chosen = np.sort(rng.choice(len(lines), len(lines) // 5, replace=False))
wanted = [lines[i] for i in chosen.tolist()]
nbytes = sum(map(len, wanted))
"""

CHILD = (
    SETUP
    + r"""
from _harness import emit

def jl():
    return JsonLines("corpus", "text", chosen, wanted)

fns = {{
    "table: JsonLines": lambda: jl().table(),
    "table: orjson": lambda: records_to_table([orjson.loads(x) for x in wanted]),
    "texts: JsonLines": lambda: jl().texts(),
    "texts: orjson": lambda: pa.array(
        [orjson.loads(x)["text"] for x in wanted], type=pa.large_string()
    ),
}}
fn = fns[{name!r}]
fn()  # warm: numba's cached kernel loaded, the heap grown (a worker writes many shards)
t = time.perf_counter()
n = len(fn())
dt = time.perf_counter() - t
emit(loop_mb_s=nbytes / 1e6 / dt, rows=n)
"""
)

NAMES = ("table: JsonLines", "table: orjson", "texts: JsonLines", "texts: orjson")


def agreement(corpus: Path, nbytes: int) -> tuple[int, bool, bool]:
    """(rows, tables equal, texts equal) of the two ways, here."""
    sys.path.insert(0, str(ROOT / "src"))
    env: dict = {}
    exec(SETUP.format(src=str(ROOT / "src"), bench="", corpus=str(corpus), nbytes=nbytes), env)
    import orjson
    import pyarrow as pa

    jl = env["JsonLines"]("corpus", "text", env["chosen"], env["wanted"])
    dicts = [orjson.loads(x) for x in env["wanted"]]
    same_table = jl.table().equals(env["records_to_table"](dicts))
    same_texts = jl.texts().equals(pa.array([d["text"] for d in dicts], pa.large_string()))
    return len(dicts), same_table, same_texts


def main() -> None:
    args = corpus_loop_args(__doc__)
    res = corpus_loop_run(CHILD, NAMES, args, ROOT)
    title = f"Write pass: reading a fifth of the rows of {args.corpus.name}, first {args.mb} MB"
    pairs = [("table: JsonLines", "table: orjson"), ("texts: JsonLines", "texts: orjson")]
    print(corpus_loop_report(res, title, pairs))
    rows, same_table, same_texts = agreement(args.corpus, args.mb * 1_000_000)
    print()
    print(
        md_table(
            ["rows", "tables equal", "texts equal"],
            [[f"{rows:,}", "yes" if same_table else "NO", "yes" if same_texts else "NO"]],
        )
    )
    print()
    print(commands_block(res).replace(str(ROOT), "."))


if __name__ == "__main__":
    main()
