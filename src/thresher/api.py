"""The Python API: what the CLI calls, and what users import.

>>> import thresher
>>> manifest = thresher.select(target=["target.jsonl"], raw=["raw/"], out="run", k=1000)
>>> manifest["counts"]["selected"]
1000
"""

from __future__ import annotations

import sys
from typing import Any

import pyarrow as pa

from thresher.config import SelectConfig
from thresher.pipeline import read_selected, run_select


def select(progress: Any | None = None, **options: Any) -> dict:
    """Select documents of ``raw`` most like ``target``; write the run directory ``out``.

    Options are the fields of :class:`thresher.config.SelectConfig` (``target``,
    ``raw``, ``out``, ``method``, ``k`` or ``fraction``, ``mode``, ``seed``,
    ``workers``, ``format``, ...). Returns the manifest (also in ``out/manifest.json``).
    """
    return run_select(SelectConfig(**options), progress=progress, command=list(sys.argv))


def score(
    method: str,
    target: list[str] | pa.Array,
    texts: list[str] | pa.Array,
    sample: list[str] | pa.Array | None = None,
    **options: Any,
):
    """Score ``texts`` against ``target`` with one scorer, in memory (no run directory)."""
    from thresher.scorers import make_scorer
    from thresher.scorers.base import as_string_array

    t = as_string_array(target)
    x = as_string_array(texts)
    s = as_string_array(sample) if sample is not None else x
    return make_scorer(method, **options).fit(t, s).score(x)


__all__ = ["SelectConfig", "read_selected", "score", "select"]
