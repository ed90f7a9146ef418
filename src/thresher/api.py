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

``raw`` and ``target`` take paths, or data in memory: a ``datasets.Dataset`` /
``IterableDataset``, a pyarrow ``Table``, ``RecordBatch``, ``Dataset`` or string array, or
``thresher.Texts([...])`` (see :mod:`thresher.io.memory`); outputs name such an input
``<memory:raw>`` / ``<memory:target>``.

Scripts need no ``if __name__ == "__main__":`` guard: the local engine's worker processes
do not re-run the calling script (see :mod:`thresher.engine.local`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from thresher.config import SelectConfig, default
from thresher.errors import ConfigError
from thresher.filters.langid import language_spec
from thresher.io.memory import MemoryInput, Texts, memory_inputs
from thresher.pipeline import run_select
from thresher.rundir import read_selected as _read_selected

# What ``raw`` / ``target`` take: paths, in-memory data, or a list mixing both.
Inputs = Any


def select(progress: Any | None = None, **options: Any) -> dict:
    """Select documents of ``raw`` most like ``target``; write the run directory ``out``.

    Options are the fields of :class:`thresher.config.SelectConfig` (``target``,
    ``raw``, ``out``, ``method``, ``k`` or ``fraction``, ``mode``, ``seed``,
    ``workers``, ``format``, ...). ``raw`` and ``target`` may also be data in memory
    (see the module doc). Returns the manifest (also in ``out/manifest.json``).
    """
    text_field = options.get("text_field") or default("text_field")
    memory: dict[str, MemoryInput] = {}
    for role in ("raw", "target"):
        if role in options:
            options[role], found = memory_inputs(role, options[role], text_field)
            memory.update(found)
    return run_select(
        SelectConfig(**options), progress=progress, command=list(sys.argv), memory=memory
    )


# Named like the CLI command (it shadows the builtin only inside this module).
def filter(
    raw: Inputs,
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
    if not filters and not (options.get("decontaminate") or options.get("redact")):
        raise ConfigError("give languages and/or rules (or decontaminate, redact)")
    filter_options = {**lang_options, **(options.pop("filter_options", None) or {})}
    return select(
        progress=progress,
        raw=raw,
        out=out,
        method="none",
        filters=filters,
        filter_options=filter_options,
        **options,
    )


def deduplicate(
    raw: Inputs,
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
        raw=raw,
        out=out,
        method="none",
        dedup=method,
        dedup_threshold=threshold,
        dedup_ngram=ngram,
        **options,
    )


def decontaminate(
    raw: Inputs,
    out: str,
    eval: Sequence[str] | str,
    eval_field: Sequence[str] | str = ("text",),
    ngram: int = default("decontaminate_ngram"),
    mode: str = default("decontaminate_mode"),
    min_left: float = default("decontaminate_min_left"),
    progress: Any | None = None,
    **options: Any,
) -> dict:
    """Drop the documents of ``raw`` that share a word ``ngram`` with an item of the eval
    sets ``eval`` (rule ``contaminated``; ``mode="excise"`` cuts the matches out and drops
    a document left with less than ``min_left`` of its words). ``eval_field``: the eval
    records' field(s), joined. Other options: :class:`SelectConfig` fields (``redact``, ...).
    """
    return select(
        progress=progress,
        raw=raw,
        out=out,
        method="none",
        decontaminate=eval,
        eval_field=eval_field,
        decontaminate_ngram=ngram,
        decontaminate_mode=mode,
        decontaminate_min_left=min_left,
        **options,
    )


def read_selected(
    run: str | os.PathLike, as_: Literal["arrow", "datasets", "pandas"] = "arrow"
) -> Any:
    """The selected documents of a run directory, whatever its output format.

    ``as_="arrow"`` (default): one pyarrow Table; ``"datasets"``: a ``datasets.Dataset``
    (in memory, no cache files); ``"pandas"``: a DataFrame. The last two need their
    package installed.
    """
    table = _read_selected(run)
    if as_ == "arrow":
        return table
    if as_ == "datasets":
        try:
            import datasets
        except ImportError:
            raise ConfigError("read_selected(as_='datasets') needs: pip install datasets") from None
        return datasets.Dataset(datasets.table.InMemoryTable(table))
    if as_ == "pandas":
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise ConfigError("read_selected(as_='pandas') needs: pip install pandas") from None
        return table.to_pandas()
    raise ConfigError(f"read_selected: as_={as_!r} (expected arrow, datasets or pandas)")


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
    "Texts",
    "decontaminate",
    "deduplicate",
    "filter",
    "read_selected",
    "score",
    "select",
    "write_report",
]
