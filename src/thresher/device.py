"""Where torch work runs (CPU or a CUDA GPU) and how big its batches are.

One place decides for the dense scorer (and so the BETR teacher, which is a dense scorer
by default) and the transformer proxy eval: an explicit ``device=`` option wins, then the
``THRESHER_DEVICE`` environment variable (``cpu``, ``cuda``, ``cuda:1``, ``mps``), then
CUDA when ``torch.cuda.is_available()``, else the CPU. Asking for a device that is not
there is an error (a silent CPU run of a job sized for a GPU would take hours); only the
automatic choice falls back to the CPU.

Batch sizes differ by device: a GPU is fed whole batches of hundreds of documents, a CPU
gains nothing past a few dozen (and holds the padding of a long batch in cache). The
defaults below are the measured sweet spots (README, "GPU"); a ``batch_size=`` option or
``THRESHER_BATCH_SIZE`` overrides them.
"""

from __future__ import annotations

import os
import re

from thresher.errors import ConfigError

ENV_DEVICE = "THRESHER_DEVICE"
ENV_BATCH = "THRESHER_BATCH_SIZE"

# Per kind of work, documents (or sequences) per batch on each device type.
BATCH_SIZES: dict[str, dict[str, int]] = {
    "dense": {"cpu": 32, "cuda": 256, "mps": 64},  # MiniLM sentence embeddings
    "eval": {"cpu": 64, "cuda": 512, "mps": 128},  # held-out windows of the proxy LM
}

_VALID = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pick_device(requested: str | None = None) -> str:
    """The torch device to use: ``requested``, else ``$THRESHER_DEVICE``, else cuda if
    available, else cpu. A named device that does not exist is a ConfigError (a
    ValueError; one line at the CLI's error boundary)."""
    source = "device"
    if not requested:
        requested = os.environ.get(ENV_DEVICE) or None
        source = ENV_DEVICE
    if not requested:
        return "cuda" if _cuda_available() else "cpu"
    dev = requested.strip().lower()
    if not _VALID.match(dev):
        raise ConfigError(f"{source}={requested!r}: expected cpu, cuda, cuda:N or mps")
    if dev.startswith("cuda"):
        if not _cuda_available():
            raise ConfigError(
                f"{source}={requested!r}: CUDA is not available here "
                "(torch.cuda.is_available() is False); use cpu or unset it"
            )
        import torch

        index = int(dev.split(":")[1]) if ":" in dev else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"{source}={requested!r}: only {torch.cuda.device_count()} CUDA device(s)"
            )
    if dev == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise ConfigError(f"{source}={requested!r}: MPS is not available here")
    return dev


def device_type(device: str) -> str:
    """``cuda:1`` -> ``cuda``."""
    return device.split(":")[0]


def batch_size(kind: str, device: str, requested: int | None = None) -> int:
    """Documents per batch for ``kind`` of work on ``device``: ``requested``, else
    ``$THRESHER_BATCH_SIZE``, else the device's default from :data:`BATCH_SIZES`."""
    if requested is not None:
        if int(requested) < 1:
            raise ConfigError(f"batch_size={requested!r}: must be >= 1")
        return int(requested)
    env = os.environ.get(ENV_BATCH)
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ConfigError(f"{ENV_BATCH}={env!r}: expected a positive integer") from None
        if value < 1:
            raise ConfigError(f"{ENV_BATCH}={env!r}: expected a positive integer")
        return value
    sizes = BATCH_SIZES[kind]
    return sizes.get(device_type(device), sizes["cpu"])
