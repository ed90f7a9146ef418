"""Proxy training on the shipped multi-domain sample: the selection beats random data."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest

import thresher
from thresher.evaluate import TINY, evaluate, random_texts, selection_texts
from thresher.evaluate.ngram import BASE, KneserNeyLM, encode

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def heldout() -> list[str]:
    return [
        json.loads(line)["text"]
        for line in (SAMPLE / "heldout.jsonl").read_bytes().splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    if not (SAMPLE / "raw.jsonl.gz").exists():
        pytest.fail(
            f"{SAMPLE} is missing: build it with `python bench/corpus.py sample data/sample`"
        )
    out = tmp_path_factory.mktemp("eval") / "run"
    thresher.select(
        method="dsir",
        target=[str(SAMPLE / "target.jsonl")],
        raw=[str(SAMPLE / "raw.jsonl.gz")],
        out=str(out),
        k=250,
        workers=1,
        report=False,
    )
    return out


def test_random_baseline_has_the_same_size_and_is_deterministic(run: Path) -> None:
    sel = encode(selection_texts(run))
    a = random_texts(run, len(sel), seed=3)
    b = random_texts(run, len(sel), seed=3)
    assert a == b
    assert len(encode(a, len(sel))) == len(sel)
    assert a != random_texts(run, len(sel), seed=4)


def test_ngram_selection_beats_random(run: Path) -> None:
    res = evaluate(run, heldout(), model="ngram", order=5)
    sel, rnd = res["results"]["selection"], res["results"]["random"]
    assert sel["tokens"] == rnd["tokens"] > 100_000
    assert sel["ce"] < rnd["ce"] - 0.05, res
    assert res["selection_better"] and res["unit"] == "byte"
    assert abs(sel["ppl"] - np.exp(sel["ce"])) < 1e-9
    again = evaluate(run, heldout(), model="ngram", order=5, write=False)
    assert again["results"]["selection"]["ce"] == sel["ce"]
    saved = json.loads((run / "eval.json").read_text())
    assert saved["runs"]["ngram"]["results"]["random"]["ce"] == rnd["ce"]


def test_tiny_transformer_selection_beats_random(run: Path) -> None:
    cfg = dataclasses.replace(TINY, steps=200, eval_every=50, threads=1, device="cpu")
    t0 = time.perf_counter()
    res = evaluate(run, heldout(), model="transformer", config=cfg, seed=0)
    assert time.perf_counter() - t0 < 90
    sel, rnd = res["results"]["selection"], res["results"]["random"]
    assert sel["ce"] < rnd["ce"], res
    assert [s for s, _ in sel["curve"]] == [0, 50, 100, 150, 200]
    assert sel["curve"][-1][1] < sel["curve"][0][1]  # it learned something
    saved = json.loads((run / "eval.json").read_text())
    assert set(saved["runs"]) >= {"transformer"}
    # The report shows the proxy evaluation when eval.json is there.
    from thresher.report import write_report

    page = write_report(run).read_text()
    assert "Proxy training: selection vs random" in page and "transformer" in page


def test_kneser_ney_is_a_distribution() -> None:
    lm = KneserNeyLM(4).fit(encode(["the quick brown fox jumps over the lazy dog"] * 3))
    ctx = encode(["the qu"])
    total = sum(np.exp(lm.log_probs(np.concatenate([ctx, [v]]))[-1]) for v in range(BASE))
    assert abs(total - 1.0) < 1e-9
    assert lm.cross_entropy(encode(["the quick brown fox"])) < lm.cross_entropy(
        encode(["zzqx vvjk"])
    )
