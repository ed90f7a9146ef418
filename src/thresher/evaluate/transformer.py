"""A tiny byte-level causal transformer in torch, trained from scratch as a proxy LM."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from thresher.errors import InputError
from thresher.evaluate.ngram import BASE


@dataclass
class TransformerConfig:
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    context: int = 128
    batch_size: int = 32
    steps: int = 1500
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.01
    eval_every: int = 100
    eval_tokens: int = 32_768  # held-out tokens scored at each evaluation
    threads: int | None = None  # torch intra-op threads (None: torch default)
    device: str | None = None  # None: $THRESHER_DEVICE, else cuda when available, else cpu

    def to_dict(self) -> dict:
        return asdict(self)


TINY = TransformerConfig(
    d_model=48,
    n_layers=1,
    n_heads=2,
    context=64,
    batch_size=16,
    steps=150,
    eval_every=50,
    eval_tokens=8192,
    lr=5e-3,
)


def _model(cfg: TransformerConfig):
    import torch
    from torch import nn

    class TinyLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(BASE, cfg.d_model)
            self.pos = nn.Embedding(cfg.context, cfg.d_model)
            layer = nn.TransformerEncoderLayer(
                cfg.d_model,
                cfg.n_heads,
                4 * cfg.d_model,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
                activation="gelu",
            )
            self.blocks = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.d_model)
            self.head = nn.Linear(cfg.d_model, BASE, bias=False)
            self.head.weight = self.tok.weight  # tied
            nn.init.normal_(self.tok.weight, std=0.02)
            nn.init.normal_(self.pos.weight, std=0.02)
            mask = torch.triu(torch.full((cfg.context, cfg.context), float("-inf")), diagonal=1)
            self.register_buffer("mask", mask, persistent=False)

        def forward(self, x):
            t = x.shape[1]
            h = self.tok(x) + self.pos(torch.arange(t, device=x.device))
            h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
            return self.head(self.norm(h))

    return TinyLM()


def train_step(model, opt, data, ctx: int, batch_size: int, gen, device: str):
    """One AdamW step on ``batch_size`` random windows of ``data`` (drawn with ``gen``):
    next-byte cross-entropy, gradients clipped at norm 1. Returns the loss tensor."""
    import torch
    import torch.nn.functional as F

    from thresher.evaluate.ngram import BASE

    starts = torch.randint(0, len(data) - ctx - 1, (batch_size,), generator=gen)
    chunk = data[starts[:, None] + torch.arange(ctx + 1)]
    x, y = chunk[:, :-1].to(device), chunk[:, 1:].to(device)
    loss = F.cross_entropy(model(x).reshape(-1, BASE), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def train_and_eval(
    train: np.ndarray,
    heldout: np.ndarray,
    cfg: TransformerConfig,
    seed: int = 0,
    on_step: Callable[[int, float, float | None], None] | None = None,
) -> dict:
    """Train on the token stream ``train``; return held-out CE (nats/token) and its curve.

    ``on_step(step, train_loss, heldout_ce)`` is called after every step (``heldout_ce`` at
    the evaluation steps, else None): a long training shows its steps, loss and time left.
    """
    import torch
    import torch.nn.functional as F

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from thresher.device import batch_size, pick_device

    device = pick_device(cfg.device)
    eval_batch = batch_size("eval", device)  # held-out windows per forward pass
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = _model(cfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    data = torch.from_numpy(train.astype(np.int64))
    ctx = cfg.context
    if len(data) < ctx + 2:
        raise InputError(f"training data too small: {len(data)} tokens for a context of {ctx}")
    # Held-out windows: non-overlapping, the same for every model.
    held = torch.from_numpy(heldout[: cfg.eval_tokens + 1].astype(np.int64))
    n_win = max(1, (len(held) - 1) // ctx)
    hx = torch.stack([held[i * ctx : i * ctx + ctx] for i in range(n_win)])
    hy = torch.stack([held[i * ctx + 1 : i * ctx + ctx + 1] for i in range(n_win)])

    @torch.no_grad()
    def evaluate() -> float:
        model.eval()
        total, count = 0.0, 0
        for i in range(0, n_win, eval_batch):
            x, y = hx[i : i + eval_batch].to(device), hy[i : i + eval_batch].to(device)
            logits = model(x)
            total += F.cross_entropy(
                logits.reshape(-1, BASE), y.reshape(-1), reduction="sum"
            ).item()
            count += y.numel()
        model.train()
        return total / count

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    t0 = time.perf_counter()
    curve = [[0, evaluate()]]
    model.train()
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = train_step(model, opt, data, ctx, cfg.batch_size, gen, device)
        held_ce = None
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            held_ce = evaluate()
            curve.append([step + 1, held_ce])
        if on_step is not None:
            on_step(step + 1, float(loss.item()), held_ce)
    final = curve[-1][1]
    return {
        "ce": final,
        "best_ce": min(c[1] for c in curve),
        "curve": [[int(s), round(float(v), 5)] for s, v in curve],
        "heldout_tokens": int(hy.numel()),
        "train_seconds": round(time.perf_counter() - t0, 2),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "device": device,
    }
