"""Proxy training: does the selection model the target better than random data?

:func:`evaluate` trains the same small language model twice, once on the
selected documents and once on a random sample of the eligible raw documents
with the same number of tokens (UTF-8 bytes), and scores both on held-out
target documents. Results and learning curves go to ``RUN_DIR/eval.json``
(the report shows them).

Models: ``transformer`` (a tiny byte-level causal transformer in torch, CPU or
CUDA) or ``ngram`` (interpolated Kneser-Ney on bytes, numpy only; the default
when torch is missing).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import numpy as np

from thresher.errors import ConfigError, InputError
from thresher.evaluate.ngram import KneserNeyLM, encode
from thresher.evaluate.transformer import TINY, TransformerConfig
from thresher.io.fs import out_path
from thresher.io.writers import atomic_write_bytes
from thresher.report.rundata import fetch_records, text_field
from thresher.rundir import RunDir, iter_selected, load_manifest, read_docs, writing

DEFAULT_MAX_TOKENS = 8_000_000


def has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def selection_texts(run_dir: str | os.PathLike, max_tokens: int = DEFAULT_MAX_TOKENS) -> list[str]:
    """Selected texts in output order, up to about ``max_tokens`` UTF-8 bytes."""
    tf = text_field(load_manifest(run_dir))
    out, n = [], 0
    for rec in iter_selected(run_dir, [tf]):
        t = rec.get(tf) or ""
        out.append(t)
        n += len(t.encode("utf-8", "replace")) + 1
        if n >= max_tokens:
            break
    return out


def random_texts(run_dir: str | os.PathLike, n_tokens: int, seed: int = 0) -> list[str]:
    """Eligible raw documents in a seeded random order until ``n_tokens`` bytes (+ separators)."""
    run = out_path(run_dir)  # a local Path, or a RemotePath on a store
    manifest = load_manifest(run)
    tf = text_field(manifest)
    docs = read_docs(run)
    status = np.asarray(docs.column("status").to_pylist(), dtype=object)
    idx = np.flatnonzero(status == "eligible")
    if len(idx) == 0:
        raise InputError(f"{run}: no eligible documents to draw a random baseline from")
    order = idx[np.random.default_rng(seed).permutation(len(idx))]
    sources = docs.column("source").to_pylist()
    rows = docs.column("row").to_numpy()
    n_sel = max(1, int((docs.column("selected").to_numpy(zero_copy_only=False)).sum()))
    out: list[str] = []
    got, start, chunk = 0, 0, int(n_sel * 1.3) + 16
    while got < n_tokens and start < len(order):
        part = order[start : start + chunk]
        keys = [(sources[i], int(rows[i])) for i in part]
        recs = fetch_records(keys, [tf], manifest.get("cwd"), run=run)
        for key in keys:
            rec = recs.get(key)
            if rec is None:
                continue
            t = rec.get(tf) or ""
            out.append(t)
            got += len(t.encode("utf-8", "replace")) + 1
            if got >= n_tokens:
                break
        start += chunk
        chunk *= 2
    return out


def evaluate(
    run_dir: str | os.PathLike,
    target_heldout: list[str],
    model: str = "transformer",
    config: TransformerConfig | dict | None = None,
    order: int = 5,
    seed: int = 0,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    write: bool = True,
    progress: Any | None = None,
) -> dict:
    """Train ``model`` on the selection and on random data of equal size; score on held-out target.

    Returns this model's result (also merged into ``RUN_DIR/eval.json`` under
    ``runs[model]`` when ``write``). Cross-entropies are in nats per byte. ``progress``: a
    :class:`~thresher.console.Reporter` (the CLI's shows steps, loss and time left).
    """
    from thresher.console import as_reporter

    say = as_reporter(progress)
    if model not in ("transformer", "ngram"):
        raise ConfigError(f"model must be 'transformer' or 'ngram', not {model!r}")
    if model == "transformer" and not has_torch():
        model = "ngram"
    if not target_heldout:
        raise InputError("no held-out target documents")
    run = out_path(run_dir)  # a local Path, or a RemotePath on a store
    t0 = time.perf_counter()
    sel = selection_texts(run, max_tokens)
    if not sel:
        raise InputError(f"{run}: the selection is empty")
    sel_stream = encode(sel)
    rnd = random_texts(run, len(sel_stream), seed)
    rnd_stream = encode(rnd, len(sel_stream))
    held_stream = encode(target_heldout)
    data = {
        "selection": (sel_stream, len(sel)),
        "random": (rnd_stream, len(rnd)),
    }
    results: dict[str, dict] = {}
    if model == "ngram":
        description = f"byte {order}-gram, interpolated Kneser-Ney"
        cfg_dict: dict[str, Any] = {"order": order}
        for name, (stream, ndocs) in data.items():
            curve = []
            with say.activity(f"eval {name}", total=4, unit="fits") as act:
                for frac in (0.125, 0.25, 0.5, 1.0):
                    n = max(1, int(len(stream) * frac))
                    ce = KneserNeyLM(order).fit(stream[:n]).cross_entropy(held_stream)
                    curve.append([n, round(ce, 5)])
                    act.update(advance=1, info=f"held-out CE {ce:.4f}")
            ce = curve[-1][1]
            results[name] = {
                "docs": ndocs,
                "tokens": int(len(stream)),
                "ce": ce,
                "best_ce": min(c[1] for c in curve),
                "curve": curve,
            }
        x_label = "training tokens"
    else:
        from thresher.evaluate.transformer import train_and_eval

        if config is None:
            cfg = TransformerConfig()
        elif isinstance(config, dict):
            cfg = TransformerConfig(**config)
        else:
            cfg = config
        cfg_dict = cfg.to_dict()
        description = f"byte-level transformer, {cfg.n_layers} layers x {cfg.d_model} dims, context {cfg.context}, {cfg.steps} steps of {cfg.batch_size} sequences"
        for name, (stream, ndocs) in data.items():
            with say.activity(f"eval {name}", total=cfg.steps, unit="steps") as act:
                r = train_and_eval(stream, held_stream, cfg, seed=seed, on_step=_shows_steps(act))
            results[name] = {"docs": ndocs, "tokens": int(len(stream)), **r}
        x_label = "training step"
    for r in results.values():
        r["ppl"] = math.exp(r["ce"])
        r["bits_per_byte"] = r["ce"] / math.log(2)
    out = {
        "model": model,
        "description": description,
        "config": cfg_dict,
        "seed": seed,
        "unit": "byte",
        "x_label": x_label,
        "heldout": {"docs": len(target_heldout), "tokens": int(len(held_stream))},
        "results": results,
        "delta_ce": results["random"]["ce"] - results["selection"]["ce"],
        "selection_better": results["selection"]["ce"] < results["random"]["ce"],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if write:
        run_dir = RunDir(run)
        path = run_dir.eval
        with run_dir.lock():  # read-modify-write: one writer at a time
            try:
                existing = json.loads(path.read_text()) if path.exists() else {}
            except ValueError:
                existing = {}
            existing.setdefault("runs", {})[model] = out
            with writing(path):
                atomic_write_bytes(path, (json.dumps(existing, indent=2) + "\n").encode())
    return out


def _shows_steps(act: Any) -> Any:
    """A training step callback that puts step, loss and the last held-out CE on ``act``."""
    last: list[float] = []

    def on_step(step: int, loss: float, heldout_ce: float | None) -> None:
        if heldout_ce is not None:
            last[:] = [heldout_ce]
        shown = f", held-out CE {last[0]:.4f}" if last else ""
        act.update(done=step, info=f"loss {loss:.4f}{shown}")

    return on_step


__all__ = ["TINY", "KneserNeyLM", "TransformerConfig", "evaluate", "has_torch"]
