"""CoLoR-Filter: conditional loss reduction (Brandfonbrener et al., 2024).

``score(x) = (loss_prior(x) - loss_adapted(x)) / |x|``: how much better a document is
predicted by a language model adapted to the target than by the prior it was adapted from,
per token (UTF-8 byte), so length does not dominate. Higher means more target-like. The
prior is fitted on the raw fit sample (what the corpus looks like), the adapted model is the
prior conditioned on the target.

``model="ngram"`` (default, CPU, no extra dependency): byte-level interpolated Kneser-Ney of
``order`` (thresher's ``eval`` proxy model, :class:`thresher.text.byte_lm.ByteLM`), scored
per document in numba. The adapted model is chosen by ``adapt``:

* ``"mix"`` (default): ``P_adapted = (1 - weight) * P_prior + weight * P_target``, token by
  token, with a Kneser-Ney model ``P_target`` fitted on the target alone. The score is then
  ``mean_t log(1 - weight + weight * P_target / P_prior)``: a smoothed, context-dependent
  likelihood ratio that never rewards a byte by more than ``-log(1 - weight)`` when the
  prior already predicts it, and only the target model has to be shipped beside the prior.
* ``"counts"``: one Kneser-Ney model fitted on the prior's text plus the target repeated
  ``target_repeats`` times (count merging: the n-gram analogue of continued training).

On the bench pools (bench/results/color.md) order 3 with "mix" ranked best (higher orders
over-fit a target of a few hundred documents, and cost a hash lookup per order per byte);
"counts" was close on two targets but collapsed on the hard one.

``model="transformer"`` (needs torch; CUDA when present): the tiny byte-level transformer of
:mod:`thresher.evaluate.transformer`, trained ``steps`` steps on the raw sample, then a copy
fine-tuned ``finetune_steps`` steps on the target, as in the paper; documents are scored in
batches of non-overlapping windows of the model's context, up to ``max_doc_bytes`` bytes
(``threads``: torch's CPU threads, 0 = its default; ``tiny``: the small test config).
"""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thresher.scorers.base import BaseScorer, as_string_array
from thresher.text.byte_lm import ByteLM


def _spread_sample(texts: pa.Array, max_bytes: int, seed: int = 0) -> pa.Array:
    """Documents of ``texts`` in a seeded order until ``max_bytes``: the prior sees the
    whole sample's spread (the fit sample is the first documents of each shard)."""
    if texts.nbytes <= max_bytes:
        return texts
    order = np.random.default_rng(seed).permutation(len(texts))
    lengths = np.asarray(pc.binary_length(texts.take(pa.array(order))).fill_null(0))
    n = max(1, int(np.searchsorted(np.cumsum(lengths), max_bytes, side="right")))
    return texts.take(pa.array(np.sort(order[:n])))


class ColorScorer(BaseScorer):
    """Conditional loss reduction of each document (prior LM minus target-adapted LM)."""

    name = "color"
    slow_fit = True  # it trains two language models
    # The prior is fitted on ``prior_bytes`` (4 MB) spread over the sample: 20k documents
    # (~70 MB of the bench corpus) leave room for that spread, 100k were read for nothing.
    fit_sample_docs = 20_000

    def __init__(
        self,
        model: Literal["ngram", "transformer"] = "ngram",
        order: int = 3,
        adapt: Literal["mix", "counts"] = "mix",
        weight: float = 0.5,
        target_repeats: int = 4,
        prior_bytes: int = 4_000_000,
        target_bytes: int = 8_000_000,
        steps: int = 600,
        finetune_steps: int = 200,
        max_doc_bytes: int = 2048,
        batch_windows: int = 256,
        tiny: bool = False,
        device: str | None = None,
        threads: int = 0,
        seed: int = 0,
    ) -> None:
        if model not in ("ngram", "transformer"):
            raise ValueError("model must be 'ngram' or 'transformer'")
        if adapt not in ("mix", "counts"):
            raise ValueError("adapt must be 'mix' or 'counts'")
        if not 1 <= order <= 7:
            raise ValueError("order must be between 1 and 7")
        if not 0.0 < weight < 1.0:
            raise ValueError("weight must be in (0, 1)")
        for key, value in (
            ("target_repeats", target_repeats),
            ("prior_bytes", prior_bytes),
            ("target_bytes", target_bytes),
            ("steps", steps),
            ("finetune_steps", finetune_steps),
            ("max_doc_bytes", max_doc_bytes),
            ("batch_windows", batch_windows),
        ):
            if int(value) < 1:
                raise ValueError(f"{key} must be >= 1")
        if model == "transformer":
            try:
                import torch  # noqa: F401
            except ImportError:
                raise ValueError("model 'transformer' needs torch (pip install torch)") from None
        self.model = model
        self.order = int(order)
        self.adapt = adapt
        self.weight = float(weight)
        self.target_repeats = int(target_repeats)
        self.prior_bytes = int(prior_bytes)
        self.target_bytes = int(target_bytes)
        self.steps = int(steps)
        self.finetune_steps = int(finetune_steps)
        self.max_doc_bytes = int(max_doc_bytes)
        self.batch_windows = int(batch_windows)
        self.tiny = bool(tiny)
        self.device = device
        self.threads = int(threads)
        self.seed = int(seed)
        self.prior: ByteLM | None = None
        self.adapted: ByteLM | None = None  # the target model (mix) or the merged one (counts)
        self._torch: dict[str, Any] | None = None  # transformer: config and state dicts
        self._report: dict[str, Any] = {}

    # --------------------------------------------------------------------------- fit
    def fit(self, target: pa.Array, sample: pa.Array) -> ColorScorer:
        target, sample = as_string_array(target), as_string_array(sample)
        if len(target) == 0 or pc.sum(pc.binary_length(target)).as_py() in (
            0,
            None,
        ):
            raise ValueError("the target has no text")
        if len(sample) == 0:
            raise ValueError("the raw sample is empty")
        prior_texts = _spread_sample(sample, self.prior_bytes, self.seed)
        if self.model == "transformer":
            return self._fit_transformer(target, prior_texts)
        self.prior = ByteLM.fit(prior_texts, self.order)
        if self.adapt == "mix":
            self.adapted = ByteLM.fit(target, self.order, self.target_bytes)
        else:
            from thresher.evaluate.ngram import KneserNeyLM
            from thresher.text.byte_lm import training_stream

            stream = np.concatenate(
                [training_stream(prior_texts, self.order)]
                + [training_stream(target, self.order, self.target_bytes)] * self.target_repeats
            )
            self.adapted = ByteLM(KneserNeyLM(self.order).fit(stream))
        self._report = {
            "color": {
                "model": f"byte {self.order}-gram Kneser-Ney",
                "adapt": self.adapt,
                "prior_docs": len(prior_texts),
                "prior_bytes": int(prior_texts.nbytes),
                "table_mb": round((self.prior.nbytes + self.adapted.nbytes) / 1e6, 1),
            }
        }
        return self

    # --------------------------------------------------------------------------- score
    def score(self, texts: pa.Array) -> np.ndarray:
        texts = as_string_array(texts)
        if self.model == "transformer":
            return self._score_transformer(texts)
        if self.prior is None or self.adapted is None:
            raise RuntimeError("ColorScorer.score called before fit")
        if self.adapt == "mix":
            base, adapted, n = self.prior.mix_logprob(self.adapted, self.weight, texts)
        else:
            base, n = self.prior.doc_logprob(texts)
            adapted, _ = self.adapted.doc_logprob(texts)
        out = np.zeros(len(n), np.float64)
        has = n > 0
        out[has] = (adapted[has] - base[has]) / n[has]  # loss_prior - loss_adapted, per byte
        return out.astype(np.float32)

    def report(self) -> dict[str, Any]:
        return self._report

    # --------------------------------------------------------------------------- transformer
    def _config(self):
        from thresher.evaluate.transformer import TINY, TransformerConfig

        cfg = TINY if self.tiny else TransformerConfig()
        return cfg

    def _device(self) -> str:
        import torch

        if self.threads > 0:  # e.g. 1 per worker process: no OpenMP spinning across workers
            torch.set_num_threads(self.threads)
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def _fit_transformer(self, target: pa.Array, prior_texts: pa.Array) -> ColorScorer:
        import copy
        import time

        import torch

        from thresher.evaluate.transformer import _model
        from thresher.text.byte_lm import training_stream

        cfg = self._config()
        device = self._device()
        torch.manual_seed(self.seed)
        model = _model(cfg).to(device)
        t0 = time.perf_counter()
        _train(model, training_stream(prior_texts, 2), cfg, self.steps, cfg.lr, self.seed, device)
        tuned = copy.deepcopy(model)
        target_stream = training_stream(target, 2, self.target_bytes)
        _train(tuned, target_stream, cfg, self.finetune_steps, cfg.lr / 3, self.seed + 1, device)
        self._torch = {
            "config": cfg.to_dict(),
            "prior": _state_bytes(model),
            "adapted": _state_bytes(tuned),
        }
        self._models = None
        self._report = {
            "color": {
                "model": f"byte transformer {cfg.n_layers}x{cfg.d_model}, context {cfg.context}",
                "steps": self.steps,
                "finetune_steps": self.finetune_steps,
                "prior_docs": len(prior_texts),
                "device": device,
                "train_seconds": round(time.perf_counter() - t0, 2),
            }
        }
        return self

    def _score_transformer(self, texts: pa.Array) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from thresher.evaluate.ngram import BASE, SEP
        from thresher.text.ngrams import arrow_buffers

        if self._torch is None:
            raise RuntimeError("ColorScorer.score called before fit")
        device = self._device()
        models = getattr(self, "_models", None)
        if models is None:
            models = self._models = tuple(
                _load_model(self._torch["config"], self._torch[k], device)
                for k in ("prior", "adapted")
            )
        ctx = int(self._torch["config"]["context"])
        offsets, data = arrow_buffers(texts)
        lengths = np.minimum(np.diff(offsets), self.max_doc_bytes)
        # non-overlapping windows: each starts with SEP and holds ctx - 1 bytes of one document
        per = ctx - 1
        n_win = np.maximum(1, -(-lengths // per))
        doc_of = np.repeat(np.arange(len(lengths)), n_win)
        first = np.concatenate([[0], np.cumsum(n_win)[:-1]])
        w_in_doc = np.arange(len(doc_of)) - np.repeat(first, n_win)
        start = offsets[:-1][doc_of] + w_in_doc * per
        wlen = np.clip(lengths[doc_of] - w_in_doc * per, 0, per)
        x = np.full((len(doc_of), ctx), SEP, np.int64)
        y = np.full((len(doc_of), ctx), -100, np.int64)
        cols = np.arange(per)
        valid = cols[None, :] < wlen[:, None]
        src = start[:, None] + cols[None, :]
        tok = np.where(valid, data[np.minimum(src, max(len(data) - 1, 0))] if len(data) else 0, 0)
        x[:, 1:] = np.where(valid, tok, SEP)
        y[:, :-1] = np.where(valid, tok, -100)
        diff = np.zeros(len(doc_of), np.float64)
        with torch.no_grad():
            for a in range(0, len(doc_of), self.batch_windows):
                xb = torch.from_numpy(x[a : a + self.batch_windows]).to(device)
                yb = torch.from_numpy(y[a : a + self.batch_windows]).to(device)
                losses = []
                for m in models:
                    logits = m(xb).float()
                    nll = F.cross_entropy(
                        logits.reshape(-1, BASE),
                        yb.reshape(-1),
                        reduction="none",
                        ignore_index=-100,
                    ).reshape(yb.shape)
                    losses.append(nll.sum(dim=1).double().cpu().numpy())
                diff[a : a + len(losses[0])] = losses[0] - losses[1]
        total = np.bincount(doc_of, weights=diff, minlength=len(lengths))
        out = np.zeros(len(lengths), np.float64)
        has = lengths > 0
        out[has] = total[has] / lengths[has]
        return out.astype(np.float32)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"] = None  # rebuilt from the state dicts where it is unpickled
        return state


def _state_bytes(model) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def _load_model(config: dict, state: bytes, device: str):
    import torch

    from thresher.evaluate.transformer import TransformerConfig, _model

    model = _model(TransformerConfig(**config))
    model.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
    return model.to(device).eval()


def _train(model, stream: np.ndarray, cfg, steps: int, lr: float, seed: int, device: str) -> None:
    """``steps`` AdamW steps on random windows of ``stream`` (seeded), cosine schedule."""
    import math

    import torch

    from thresher.evaluate.transformer import train_step

    ctx = cfg.context
    if len(stream) < ctx + 2:
        stream = np.resize(stream, ctx + 2)  # a tiny text: repeat it
    data = torch.from_numpy(stream.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    model.train()
    for step in range(steps):
        frac = step / max(1, steps - 1)
        warm = min(1.0, (step + 1) / max(1, cfg.warmup))
        for g in opt.param_groups:
            g["lr"] = lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        train_step(model, opt, data, ctx, cfg.batch_size, gen, device)
    model.eval()
