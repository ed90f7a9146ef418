"""thresher's own processes (the CLI, the local engine's workers) keep the garbage collector
off what lives as long as they do (thresher.collector); importing thresher as a library
leaves the caller's collector as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _in_fresh_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_import_leaves_the_collector_as_it_was():
    code = (
        "import gc, sys; import thresher, thresher.pipeline; "
        "c = sys.modules.get('thresher.collector'); "
        "print(gc.get_freeze_count() == 0 and (c is None or not c._registered))"
    )
    assert _in_fresh_python(code) == "True"


def test_the_cli_skips_the_exit_collection_once():
    code = (
        "import atexit; from typer.testing import CliRunner; from thresher.cli import app; "
        "r = CliRunner().invoke(app, ['select', '--help']); assert r.exit_code == 0; "
        "n = atexit._ncallbacks(); r = CliRunner().invoke(app, ['select', '--help']); "
        "from thresher import collector; print(collector._registered and atexit._ncallbacks() == n)"
    )
    assert _in_fresh_python(code) == "True"


def test_a_workers_warm_up_runs_and_freezes_what_it_loaded():
    code = (
        "import gc; from thresher.collector import warm_up_frozen; "
        "before = gc.get_freeze_count(); "
        "r = warm_up_frozen(lambda i: [object() for _ in range(10)] and i + 1, 41); "
        "print(r == 42 and gc.get_freeze_count() > before)"
    )
    assert _in_fresh_python(code) == "True"


def test_a_file_left_open_is_still_flushed_at_exit(tmp_path: Path):
    out = tmp_path / "left-open.txt"
    code = (
        "from thresher.collector import skip_exit_collection; skip_exit_collection(); "
        f"f = open({str(out)!r}, 'w'); f.write('x' * 100_000); print('ok')"
    )
    assert _in_fresh_python(code) == "ok"
    assert out.read_text() == "x" * 100_000
