"""The Python API: what the CLI calls, and what users import.

>>> import thresher
>>> manifest = thresher.select(target=["target.jsonl"], raw=["raw/"], out="run", k=1000)
>>> manifest["counts"]["selected"]
1000
>>> thresher.filter(raw=["raw/"], out="clean", languages=["en"], rules=["gopher_quality"])
>>> thresher.deduplicate(raw=["clean/selected"], out="dedup", threshold=0.8)
>>> thresher.write_report("run")  # (re)write run/report.html

``filter`` and ``deduplicate`` are ``select`` with ``method="none"`` and one hygiene
stage: the same run directory, manifest and counts. (Not ``dedup`` / ``report``: those
names are thresher's subpackages.)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from thresher.config import SelectConfig, default
from thresher.errors import ConfigError
from thresher.filters.langid import language_spec
from thresher.pipeline import read_selected, run_select


def select(progress: Any | None = None, **options: Any) -> dict:
    """Select documents of ``raw`` most like ``target``; write the run directory ``out``.

    Options are the fields of :class:`thresher.config.SelectConfig` (``target``,
    ``raw``, ``out``, ``method``, ``k`` or ``fraction``, ``mode``, ``seed``,
    ``workers``, ``format``, ...). Returns the manifest (also in ``out/manifest.json``).
    """
    return run_select(SelectConfig(**options), progress=progress, command=list(sys.argv))


# Named like the CLI command (it shadows the builtin only inside this module).
def filter(
    raw: Sequence[str],
    out: str,
    languages: Sequence[str] | str | None = None,
    rules: Sequence[str] = (),
    min_score: float | None = None,
    progress: Any | None = None,
    **options: Any,
) -> dict:
    """Keep the documents of ``raw`` in ``languages`` that pass the quality ``rules``.

    ``rules``: ``gopher_quality``, ``gopher_repetition``, ``c4``, ``fineweb``. ``min_score``
    is the language-id floor; rule settings go in ``filter_options``; every other
    option is a :class:`SelectConfig` field (``workers``, ``write_dropped``, ...).
    """
    filters, lang_options = language_spec(list(rules), languages, min_score)
    if not filters:
        raise ConfigError("give languages and/or rules")
    filter_options = {**lang_options, **(options.pop("filter_options", None) or {})}
    return select(
        progress=progress,
        raw=list(raw),
        out=out,
        method="none",
        filters=filters,
        filter_options=filter_options,
        **options,
    )


def deduplicate(
    raw: Sequence[str],
    out: str,
    method: str = "minhash",
    threshold: float = default("dedup_threshold"),
    ngram: int = default("dedup_ngram"),
    progress: Any | None = None,
    **options: Any,
) -> dict:
    """Drop exact (``method="exact"``) or exact and near duplicates (``"minhash"``, Jaccard
    ``threshold`` on word ``ngram`` shingles); the first document of each cluster survives."""
    return select(
        progress=progress,
        raw=list(raw),
        out=out,
        method="none",
        dedup=method,
        dedup_threshold=threshold,
        dedup_ngram=ngram,
        **options,
    )


def write_report(run: str | Path) -> Path:
    """(Re)write ``run/report.html`` from a run directory; return its path."""
    from thresher.report import write_report as _write

    return _write(run)


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


__all__ = [
    "SelectConfig",
    "deduplicate",
    "filter",
    "read_selected",
    "score",
    "select",
    "write_report",
]
