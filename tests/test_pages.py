"""thresher's own processes (the CLI, the local engine's workers) give numpy arrays 4 KB
pages and keep freed memory for reuse; importing thresher as a library leaves the caller's
numpy and malloc as they were."""

from __future__ import annotations

import subprocess
import sys

from thresher.engine.local import LocalEngine


def _madvise() -> bool:
    from numpy._core.multiarray import _get_madvise_hugepage

    return bool(_get_madvise_hugepage())


def _in_fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


GET = "from numpy._core.multiarray import _get_madvise_hugepage as g; "


def test_import_leaves_numpy_as_it_was():
    code = GET + "before = g(); import thresher, thresher.pipeline; print(g() == before)"
    assert _in_fresh_python(code) == "True"


def test_the_cli_turns_huge_page_advice_off_for_itself_and_its_children():
    code = (
        GET
        + "import os; from numpy._core.multiarray import _set_madvise_hugepage as s; s(True); "
        + "from typer.testing import CliRunner; from thresher.cli import app; "
        + "r = CliRunner().invoke(app, ['select', '--help']); assert r.exit_code == 0; "
        + "print(f'{g()}/{os.environ.get(\"NUMPY_MADVISE_HUGEPAGE\")}')"
    )
    assert _in_fresh_python(code) == "False/0"


def _fault_count() -> int:
    """Page faults while allocating and freeing buffers of 1-40 MB, as the scan does."""
    import resource

    import numpy as np

    rng = np.random.default_rng(0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(60):
        a = np.ones(int(rng.integers(1, 40)) << 20, np.uint8)
        b = np.ones(int(rng.integers(1, 40)) << 20, np.uint8)
        del a
        c = bytes(8 << 20)
        del b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


FAULTS = "from tests.test_pages import _fault_count; from thresher import pages; "
SMALL = FAULTS + "pages.use_small_pages(); print(_fault_count())"  # 4 KB pages, glibc as it is


def test_freed_memory_is_reused_without_faulting_pages_in_again():
    plain = int(_in_fresh_python(SMALL))
    kept = int(_in_fresh_python(FAULTS + "pages.tune_process(); print(_fault_count())"))
    assert kept < plain / 2, (kept, plain)


def test_local_engine_workers_use_small_pages(monkeypatch):
    # The worker would inherit advice on from here: only its own set-up turns it off.
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    engine = LocalEngine(workers=2)
    try:
        assert engine.spawned == 1
        assert engine._executor().submit(_madvise).result(timeout=120) is False
        plain = int(_in_fresh_python(SMALL))
        in_worker = engine._executor().submit(_fault_count).result(timeout=120)
        assert in_worker < plain / 2, (in_worker, plain)
    finally:
        engine.close()
