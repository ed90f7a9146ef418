"""Matplotlib figures rendered as inline SVG strings (no files, no network)."""

from __future__ import annotations

import io
import re

import numpy as np

SELECTED = "#2b6cb0"
OTHER = "#a0aec0"
RANDOM = "#dd6b20"
DROPPED = "#c53030"

_counter = [0]


def reset_ids() -> None:
    """Number figure ids from 1 again (same input, same page)."""
    _counter[0] = 0


class _Figures:
    """The bit of pyplot used here, without importing pyplot (slow) or touching its state."""

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, figsize=(6, 3), squeeze: bool = True):
        from matplotlib.figure import Figure

        with _style():
            fig = Figure(figsize=figsize)
            axes = fig.subplots(nrows, ncols, squeeze=squeeze)
        return fig, axes

    @staticmethod
    def close(fig) -> None:
        pass


def _style():
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "thresher",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 10,
            "figure.dpi": 72,
        }
    )


def _plt() -> type[_Figures]:
    return _Figures


def to_svg(fig) -> str:
    """The figure as an SVG element with ids made unique in the page."""
    plt = _plt()
    buf = io.StringIO()
    with _style():
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    _counter[0] += 1
    prefix = f"f{_counter[0]}-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    # Natural size, shrunk to fit narrow pages (height follows the viewBox).
    svg = svg.replace("<svg ", '<svg class="plot" ', 1)
    return svg


def funnel(counts: dict) -> str:
    plt = _plt()
    steps = [
        ("read", counts.get("read", 0), OTHER),
        ("rejected", counts.get("rejected", 0), DROPPED),
        ("filtered", counts.get("filtered", 0), DROPPED),
        ("duplicate", counts.get("duplicate", 0), DROPPED),
        ("not selected", counts.get("not_selected", 0), OTHER),
        ("selected", counts.get("selected", 0), SELECTED),
    ]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    names = [s[0] for s in steps][::-1]
    vals = [s[1] for s in steps][::-1]
    cols = [s[2] for s in steps][::-1]
    ax.barh(names, vals, color=cols)
    top = max(vals) or 1
    for i, v in enumerate(vals):
        pct = f" ({100 * v / counts['read']:.1f}%)" if counts.get("read") else ""
        ax.text(v + top * 0.01, i, f"{v:,}{pct}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.25)
    ax.set_xlabel("documents")
    ax.set_title("Where the documents went")
    return to_svg(fig)


def binned_score_histogram(
    bins: np.ndarray | None,
    other: np.ndarray | None,
    sel: np.ndarray | None,
    sizes: tuple[int, int],
    cut: float | None,
    mode: str,
) -> str:
    """The score histogram from counts per bin (not selected, selected), which the report
    counts batch by batch; ``sizes``: (selected, not selected) documents; no bins: no scores."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    if bins is None or other is None or sel is None:
        ax.text(0.5, 0.5, "no scores", ha="center", transform=ax.transAxes)
        return to_svg(fig)
    mid = (bins[:-1] + bins[1:]) / 2  # one point per bin, weighted by its count
    ax.hist(
        [mid, mid],
        bins=bins,
        weights=[other, sel],
        stacked=True,
        color=[OTHER, SELECTED],
        label=[f"not selected ({sizes[1]:,})", f"selected ({sizes[0]:,})"],
    )
    if cut is not None and np.isfinite(cut):
        ax.axvline(cut, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"lowest selected score {cut:.3g}",
            (cut, ax.get_ylim()[1] * 0.95),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            va="top",
        )
    ax.set_xlabel("score (eligible documents; ends clipped at the 0.5/99.5 percentiles)")
    ax.set_ylabel("documents")
    ax.set_title(f"Score distribution (selection mode: {mode})")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return to_svg(fig)


def composition_order(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Values by total count, ties by name: a set's order would follow Python's per-process
    string hash seed, and the same run would draw a different chart in another process."""
    return sorted(
        set(before) | set(after), key=lambda k: (-(before.get(k, 0) + after.get(k, 0)), k)
    )


def composition(
    title: str, before: dict[str, float], after: dict[str, float], top: int = 12
) -> str:
    """Side-by-side shares (in %) of each value before and after selection."""
    plt = _plt()
    keys = composition_order(before, after)
    if len(keys) > top:
        rest = keys[top - 1 :]
        keys = keys[: top - 1]
        before = {
            **{k: before.get(k, 0) for k in keys},
            "(other)": sum(before.get(k, 0) for k in rest),
        }
        after = {
            **{k: after.get(k, 0) for k in keys},
            "(other)": sum(after.get(k, 0) for k in rest),
        }
        keys.append("(other)")
    tb = sum(before.values()) or 1
    ta = sum(after.values()) or 1
    b = np.array([100 * before.get(k, 0) / tb for k in keys])
    a = np.array([100 * after.get(k, 0) / ta for k in keys])
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.34 * len(keys)))
    y = np.arange(len(keys))[::-1]
    ax.barh(y + 0.2, b, height=0.4, color=OTHER, label="before (raw)")
    ax.barh(y - 0.2, a, height=0.4, color=SELECTED, label="after (selected)")
    ax.set_yticks(y)
    ax.set_yticklabels([_short(k) for k in keys])
    for yi, bv, av in zip(y, b, a, strict=True) if len(keys) <= 6 else ():
        ax.text(bv + 0.5, yi + 0.2, f"{bv:.1f}%", va="center", fontsize=7)
        ax.text(av + 0.5, yi - 0.2, f"{av:.1f}%", va="center", fontsize=7)
    ax.set_xlim(0, max(float(b.max(initial=0)), float(a.max(initial=0))) * 1.2 + 1)
    ax.set_xlabel("share of documents (%)")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="lower right", bbox_to_anchor=(1, 1.0), ncol=2)
    return to_svg(fig)


def kl_bars(metrics: dict) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 2))
    vals = [metrics.get("kl_reduction") or 0.0, metrics.get("kl_reduction_random") or 0.0]
    names = ["selection", "random (same size)"]
    ax.barh(names[::-1], vals[::-1], color=[RANDOM, SELECTED])
    ax.axvline(0, color="black", linewidth=0.8)
    span = max(abs(v) for v in vals) or 1
    for i, v in enumerate(vals[::-1]):
        ax.text(
            v + (span * 0.02 if v >= 0 else -span * 0.02),
            i,
            f"{v:.4f}",
            va="center",
            ha="left" if v >= 0 else "right",
            fontsize=8,
        )
    ax.set_xlim(min(0, min(vals)) - span * 0.3, max(0, max(vals)) + span * 0.3)
    ax.set_xlabel("KL reduction (higher = closer to the target than the raw corpus)")
    ax.set_title("KL reduction vs random")
    return to_svg(fig)


def learning_curves(runs: dict) -> str:
    """Held-out target loss over training steps for each (model, data) pair."""
    plt = _plt()
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n + 0.5, 2.8), squeeze=False)
    for ax, (model, run) in zip(axes[0], runs.items(), strict=True):
        for name, color in (("selection", SELECTED), ("random", RANDOM)):
            res = (run.get("results") or {}).get(name) or {}
            curve = res.get("curve") or []
            if len(curve) > 1:
                xs, ys = zip(*curve, strict=True)
                ax.plot(
                    xs, ys, color=color, label=f"{name} (final {res.get('ce', float('nan')):.3f})"
                )
            elif res.get("ce") is not None:
                ax.axhline(res["ce"], color=color, label=f"{name} ({res['ce']:.3f})")
        from matplotlib.ticker import EngFormatter, MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(5))
        if run.get("x_label") == "training tokens":
            ax.xaxis.set_major_formatter(EngFormatter())
        unit = run.get("unit", "token")
        ax.set_xlabel(run.get("x_label") or "training step")
        ax.set_ylabel(f"held-out CE (nats/{unit})")
        ax.set_title(f"{model}")
        ax.legend(frameon=False, fontsize=8)
    return to_svg(fig)


def _short(s: str, n: int = 40) -> str:
    s = str(s)
    return s if len(s) <= n else "…" + s[-(n - 1) :]
