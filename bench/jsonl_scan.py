"""The scan's JSONL text reader (thresher's numba scanner) against the libraries it replaced.

Every configuration reads the text field of every line of the first ``--mb`` MB of a JSONL
corpus, in blocks of 8 MB of whole lines as the scan does, in its own fresh process
(bench/_harness.py), repeated and interleaved; the child reports the time of its loop
alone (``loop MB/s``, start-up excluded):

* ``thresher scan``: ``block_texts`` (the scanner, the block's UTF-8 check, the Arrow
  array), as ``JsonlFormat._fast`` does;
* ``pyarrow.json``: Arrow's JSON reader with the text column alone in its schema (what
  the scan used before, which also needed a pass of byte checks for the lines Arrow reads
  differently from orjson, not counted here);
* ``orjson``: one ``orjson.loads`` per line and ``pa.array`` of the texts (the exact path).

Then, in this process, the agreement: the share of lines the scanner reads itself and
whether each of their texts equals orjson's.

    python bench/jsonl_scan.py --corpus /work/bench-data/raw-1gb.jsonl --mb 256 --repeats 3
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
BLOCK = 8 << 20

CHILD = r"""
import sys, time
sys.path.insert(0, {src!r}); sys.path.insert(0, {bench!r})
import numpy as np, orjson, pyarrow as pa, pyarrow.json as pj
from _harness import emit
from thresher.io.formats._jsonscan import block_texts

data = open({corpus!r}, "rb").read({nbytes})
blocks, s = [], 0
while s < len(data):
    e = data.rfind(b"\n", s, s + {block}) + 1
    if e <= s:
        break
    blocks.append(data[s:e])
    s = e

def thresher(b):
    return block_texts(b, np.flatnonzero(np.frombuffer(b, np.uint8) == 10), "text")[1]

def arrow(b):
    return pj.read_json(
        pa.BufferReader(b),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(b) + 1),
        parse_options=pj.ParseOptions(
            explicit_schema=pa.schema([("text", pa.large_string())]),
            unexpected_field_behavior="ignore",
            newlines_in_values=False,
        ),
    ).column("text")

def exact(b):
    return pa.array([orjson.loads(x)["text"] for x in b.split(b"\n")[:-1]], pa.large_string())

fn = {{"thresher scan": thresher, "pyarrow.json": arrow, "orjson": exact}}[{name!r}]
fn(blocks[0])  # numba's cached kernel loaded, Arrow's reader set up
t = time.perf_counter()
n = sum(len(fn(b)) for b in blocks)
dt = time.perf_counter() - t
emit(loop_mb_s=sum(map(len, blocks)) / 1e6 / dt, rows=n)
"""

NAMES = ("thresher scan", "pyarrow.json", "orjson")


def agreement(corpus: Path, nbytes: int) -> tuple[int, int, bool]:
    """(lines, lines the scanner reads itself, whether all their texts equal orjson's)."""
    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import orjson

    from thresher.io.formats._jsonscan import block_texts

    with open(corpus, "rb") as f:
        data = f.read(nbytes)
    data = data[: data.rfind(b"\n") + 1]
    lines = data.split(b"\n")[:-1]
    scanned = block_texts(data, np.flatnonzero(np.frombuffer(data, np.uint8) == 10), "text")
    if scanned is None:  # not valid UTF-8: the scan would read it all with orjson
        return len(lines), 0, True
    clean, texts = scanned
    want = [orjson.loads(x)["text"] for x, c in zip(lines, clean, strict=True) if c]
    return len(lines), int(clean.sum()), texts.to_pylist() == want


def main() -> None:
    args = corpus_loop_args(__doc__)
    res = corpus_loop_run(CHILD, NAMES, args, ROOT, block=BLOCK)
    title = f"JSONL text reading: {args.corpus.name}, first {args.mb} MB, 8 MB blocks"
    pairs = [("thresher scan", "pyarrow.json"), ("thresher scan", "orjson")]
    print(corpus_loop_report(res, title, pairs))
    lines, clean, same = agreement(args.corpus, args.mb * 1_000_000)
    print()
    print(
        md_table(
            ["lines", "read by the scanner", "texts equal to orjson's"],
            [[f"{lines:,}", f"{clean:,} ({clean / lines:.2%})", "all" if same else "NOT ALL"]],
        )
    )
    print()
    print(commands_block(res).replace(str(ROOT), "."))


if __name__ == "__main__":
    main()
