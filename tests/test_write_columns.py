"""The write pass's per-row columns (decision table, provenance) are built by vectorised
Arrow calls; they hold exactly what a Python value per row would."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import numpy as np
import pyarrow as pa
import pytest

from thresher.rundir import (
    DUPLICATE,
    DUPLICATE_RULE,
    ELIGIBLE,
    FILTERED,
    STATUS_NAMES,
    decision_table,
    repeated,
    status_names,
)
from thresher.tasks import WriteTask, _drop_rules


def test_status_names_and_repeated_equal_a_value_per_row() -> None:
    status = np.random.default_rng(0).integers(0, 3, 1000).astype(np.uint8)
    assert status_names(status).equals(
        pa.array([STATUS_NAMES[int(s)] for s in status], type=pa.string())
    )
    assert len(status_names(status[:0])) == 0
    assert repeated("a/b.jsonl", 5).equals(pa.array(["a/b.jsonl"] * 5, type=pa.string()))
    assert repeated("x", 0).equals(pa.array([], type=pa.string()))


def test_drop_rules_and_decision_table_hold_each_rows_rule_and_value() -> None:
    status = np.array([ELIGIBLE, FILTERED, DUPLICATE, FILTERED, ELIGIBLE, FILTERED], np.uint8)
    reasons = {1: ("c4", 0.5), 3: ("gopher_quality", 2.0), 5: ("c4", 0.25)}
    task = cast(WriteTask, SimpleNamespace(rows=np.arange(10, 16), status=status, reasons=reasons))
    rule, value = _drop_rules(task)
    want = ["", "c4", DUPLICATE_RULE, "gopher_quality", "", "c4"]
    assert rule.equals(pa.array(want, type=pa.string()))
    np.testing.assert_array_equal(value, [np.nan, 0.5, np.nan, 2.0, np.nan, 0.25])
    scores = np.linspace(0, 1, 6, dtype=np.float32)
    selected = np.array([True, False, False, False, False, False])
    table = decision_table(
        source="raw.jsonl",
        rows=task.rows,
        status=status,
        rules=rule,
        values=value,
        scores=scores,
        selected=selected,
    )
    assert table.to_pylist()[:3] == [
        {
            "source": "raw.jsonl",
            "row": 10,
            "status": "eligible",
            "rule": "",
            "value": None,
            "score": 0.0,
            "selected": True,
        },
        {
            "source": "raw.jsonl",
            "row": 11,
            "status": "filtered",
            "rule": "c4",
            "value": 0.5,
            "score": pytest.approx(0.2),
            "selected": False,
        },
        {
            "source": "raw.jsonl",
            "row": 12,
            "status": "duplicate",
            "rule": DUPLICATE_RULE,
            "value": None,
            "score": pytest.approx(0.4),
            "selected": False,
        },
    ]
