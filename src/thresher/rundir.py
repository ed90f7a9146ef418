"""The run directory: where every output goes, what its tables hold, and what may touch it.

Layout of OUT (the one place these names are written)::

    .thresher-run         marker: thresher made this directory (JSON: version, started, pid)
    .thresher-lock        flock'ed while a run (or report, eval) writes here; holds its pid
    selected/part-NNNNN.{parquet,jsonl}  selected records + thresher_* columns
    dropped/part-NNNNN.{parquet,jsonl}   (--write-dropped) dropped records + status, rule, value
    docs/part-NNNNN.parquet              decision table: one row per valid raw document
    rejects/part-NNNNN.jsonl             raw rows that could not be read, with the reason
    rejects/target.jsonl                 the same for the target files
    _work/inputs.json     identity of every input file (a resume must see the same bytes)
    _work/config.json     the options the run started with (a resume must match them)
    _work/fit.pkl, scan-NNNNN.pkl, write-NNNNN.pkl   checkpoints of finished work
    _work/dedup/          the dedup stage's spill
    manifest.json, report.html, eval.json

Safety: :meth:`RunDir.prepare` checks everything (where OUT lies relative to the inputs
and the run file, what OUT holds, the resume stamp, the inputs' identity) before it
changes anything; ``--overwrite`` removes only thresher's own entries of a directory
holding the marker; one run at a time holds the lock.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import glob
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from thresher._version import __version__
from thresher.errors import ConfigError, InputError, OutputError
from thresher.io.sources import InputFile, Shard, discover, shard_shares
from thresher.io.sources import input_identity as file_identity
from thresher.io.writers import (
    OUTPUT_FORMATS,
    atomic_write_bytes,
    iter_part_records,
    part_columns,
    read_part,
)

# -- layout -------------------------------------------------------------------------------
MARKER = ".thresher-run"
LOCK = ".thresher-lock"
SELECTED, DROPPED, DOCS, REJECTS, WORK = "selected", "dropped", "docs", "rejects", "_work"
MANIFEST, REPORT, EVAL = "manifest.json", "report.html", "eval.json"
TARGET_REJECTS = "target.jsonl"  # in rejects/, beside the raw shards' part-NNNNN.jsonl
# Everything --overwrite may remove (the lock file stays: the run replacing them holds it).
OWN_ENTRIES = (SELECTED, DROPPED, DOCS, REJECTS, WORK, MANIFEST, REPORT, EVAL, MARKER)
_SUFFIX = OUTPUT_FORMATS  # output format -> part suffix (io.writers)

# -- the decision table (docs/) -----------------------------------------------------------
ELIGIBLE, FILTERED, DUPLICATE = 0, 1, 2
STATUS_NAMES = {ELIGIBLE: "eligible", FILTERED: "filtered", DUPLICATE: "duplicate"}
DOCS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("row", pa.int64()),
        ("status", pa.string()),
        ("rule", pa.string()),  # the filter rule that dropped it ("" if kept; "duplicate")
        ("value", pa.float64()),  # the value that rule measured (null if none)
        ("score", pa.float32()),
        ("selected", pa.bool_()),
    ]
)
CLUSTER_FIELD = pa.field("cluster", pa.int64())  # only when dedup ran; then filter annotations
DOC_COLUMNS = (*DOCS_SCHEMA.names, CLUSTER_FIELD.name)  # what the report and inspect read

# -- thresher's columns on the records of selected/ and dropped/ --------------------------
COLUMN_PREFIX = "thresher_"
SCORE_COLUMN = "thresher_score"
SOURCE_COLUMN = "thresher_source"
ROW_COLUMN = "thresher_row"
CLUSTER_COLUMN = "thresher_cluster"
STATUS_COLUMN = "thresher_status"
RULE_COLUMN = "thresher_rule"
VALUE_COLUMN = "thresher_value"
DUPLICATE_RULE = "duplicate"  # the drop rule of a duplicate (its cluster: what it duplicates)


def annotation_column(name: str) -> str:
    """The record column of a filter annotation (e.g. ``lang`` -> ``thresher_lang``)."""
    return f"{COLUMN_PREFIX}{name}"


def decision_table(
    *,
    source: str,
    rows: np.ndarray,
    status: np.ndarray,
    rules: np.ndarray,
    values: np.ndarray,
    scores: np.ndarray,
    selected: np.ndarray,
    cluster: np.ndarray | None = None,
    annotations: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """One shard's decision table: a row per valid document of ``source``."""
    n = len(rows)
    cols = [
        pa.array([source] * n, type=pa.string()),
        pa.array(rows, type=pa.int64()),
        pa.array([STATUS_NAMES[int(s)] for s in status], type=pa.string()),
        pa.array(rules, type=pa.string()),
        pa.array(values, type=pa.float64(), from_pandas=True),  # NaN -> null
        pa.array(scores, type=pa.float32()),
        pa.array(selected, type=pa.bool_()),
    ]
    fields = list(DOCS_SCHEMA)
    if cluster is not None:
        cols.append(pa.array(cluster, type=pa.int64()))
        fields.append(CLUSTER_FIELD)
    for name, values in (annotations or {}).items():
        cols.append(values)
        fields.append(pa.field(name, values.type))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


# -- writing: a failed write is one line naming the file ----------------------------------
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _write_failure(path: object, e: OSError) -> OutputError:
    why = os.strerror(e.errno) if e.errno else str(e)
    return OutputError(f"{path}: cannot write: {why}")


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError raised while writing ``path`` (disk full, quota, permissions) into
    one line naming it. Wrap writes only: a read error inside would be misnamed."""
    try:
        yield
    except OutputError:
        raise
    except OSError as e:
        raise _write_failure(path, e) from e


@contextmanager
def disk_full_guard(out: str | os.PathLike) -> Iterator[None]:
    """The last resort around a whole run: a full disk anywhere (a spill, a rewrite) is one
    line naming the file (or OUT), never a traceback. Other OSErrors pass untouched."""
    try:
        yield
    except OSError as e:
        if e.errno not in _FULL:
            raise
        raise _write_failure(e.filename or out, e) from e


# -- inputs -------------------------------------------------------------------------------
def input_identity(files: list[InputFile]) -> list[dict]:
    """What a resume must find unchanged: each file's path, format, size, mtime, content hash."""
    out = []
    for f in files:
        ident = file_identity(f.path)
        out.append(
            {
                "path": f.path,
                "format": f.format,
                "bytes": ident["size"],
                "mtime_ns": ident["mtime_ns"],
                "hash": ident["hash"],
            }
        )
    return out


def manifest_inputs(identity: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The manifest's ``inputs``: the identity without the mtime (bytes and hash say it all)."""
    keep = ("path", "format", "bytes", "hash")
    return {role: [{k: e[k] for k in keep} for e in entries] for role, entries in identity.items()}


def fit_sample_limits(shards: list[Shard], files: list[InputFile], want: int) -> list[int]:
    """Documents each shard gives to a sample of about ``want``, in proportion to its bytes.

    The scorer's raw fit sample and the report's "before" sample are drawn the same way;
    what a shard stands for is its format's to say (:func:`thresher.io.sources.shard_shares`).
    """
    shares = shard_shares(shards, files)
    total = sum(f.size for f in files) or 1
    return [max(1, int(np.ceil(want * b / total))) for b in shares]


# -- paths relative to the inputs ---------------------------------------------------------
def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or lies below it (both absolute, normalized)."""
    return path == folder or os.path.commonpath([path, folder]) == folder


def _variants(path: str) -> set[str]:
    """The lexical absolute path and the resolved real path (symlinks either way)."""
    return {os.path.abspath(path), os.path.realpath(path)}


def _glob_root(pattern: str) -> str:
    parts = Path(pattern).parts
    keep = []
    for p in parts:
        if glob.has_magic(p):
            break
        keep.append(p)
    return os.path.join(*keep) if keep else "."


def _glob_matches(pattern: list[str], path: list[str]) -> bool:
    """Path components against glob components (``*`` stays within one, ``**`` spans any)."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_matches(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _glob_matches(rest, path[1:])


def _outputs_of(out: str) -> list[str]:
    """One path of every kind of file a run writes under ``out`` (to test globs against)."""
    names = [f"{d}/part-00000{s}" for d in (SELECTED, DROPPED, DOCS) for s in _SUFFIX.values()]
    names += [f"{REJECTS}/part-00000.jsonl", f"{REJECTS}/{TARGET_REJECTS}", MANIFEST, EVAL]
    names += [f"{WORK}/config.json", f"{WORK}/inputs.json"]
    return [os.path.join(out, n) for n in names]


# -- the lock: one writer per run directory, re-entrant within a process -------------------
_HELD: dict[str, list[int]] = {}  # real path of OUT -> [lock fd, depth]


class RunDir:
    """A run directory: a path with its layout. Picklable and cheap to make anywhere; the
    lock it may hold belongs to the process (see :meth:`lock`), not to the object."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._depth_on_enter = 0

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    # -- paths ----------------------------------------------------------------------------
    @property
    def selected(self) -> Path:
        return self.root / SELECTED

    @property
    def dropped(self) -> Path:
        return self.root / DROPPED

    @property
    def docs(self) -> Path:
        return self.root / DOCS

    @property
    def rejects(self) -> Path:
        return self.root / REJECTS

    @property
    def work(self) -> Path:
        return self.root / WORK

    @property
    def dedup(self) -> Path:
        """The dedup stage's spill directory."""
        return self.work / "dedup"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def eval(self) -> Path:
        return self.root / EVAL

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK

    @property
    def config_stamp(self) -> Path:
        return self.work / "config.json"

    @property
    def inputs_stamp(self) -> Path:
        return self.work / "inputs.json"

    @property
    def fit_checkpoint(self) -> Path:
        return self.work / "fit.pkl"

    def scan_checkpoint(self, shard_name: str) -> Path:
        return self.work / f"scan-{shard_name}.pkl"

    def write_checkpoint(self, shard_name: str) -> Path:
        return self.work / f"write-{shard_name}.pkl"

    def part(self, kind: str, shard_name: str, fmt: str = "parquet") -> Path:
        """A shard's part file in ``kind`` (selected, dropped, docs, rejects)."""
        return self.root / kind / f"part-{shard_name}{_SUFFIX[fmt]}"

    @property
    def target_rejects(self) -> Path:
        return self.rejects / TARGET_REJECTS

    # -- lookup ---------------------------------------------------------------------------
    def selected_parts(self) -> list[Path]:
        """The selected parts in shard order, in the run's output format (any of _SUFFIX)."""
        for suffix in _SUFFIX.values():
            if parts := sorted(self.selected.glob(f"part-*{suffix}")):
                return parts
        return []

    def docs_parts(self) -> list[Path]:
        return sorted(self.docs.glob("part-*.parquet"))

    def rejects_files(self) -> list[Path]:
        return sorted(self.rejects.glob("*.jsonl"))

    # -- manifest -------------------------------------------------------------------------
    def load_manifest(self) -> dict:
        if not self.manifest.exists():
            raise InputError(f"{self.root}: not a run directory (no {MANIFEST})")
        return json.loads(self.manifest.read_text())

    def write_manifest(self, manifest: dict) -> None:
        with writing(self.manifest):
            atomic_write_bytes(self.manifest, json.dumps(manifest, indent=2).encode() + b"\n")

    # -- the lock -------------------------------------------------------------------------
    def _key(self) -> str:
        return os.path.realpath(self.root)

    def _acquire(self) -> None:
        key = self._key()
        if key in _HELD:
            _HELD[key][1] += 1
            return
        with writing(self.lock_file):
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"{self.root} is in use by another thresher run (pid {pid})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]

    def _release(self) -> None:
        held = _HELD.get(self._key())
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self._key()]
            os.close(held[0])  # closing the descriptor drops the flock

    def holds_lock(self) -> bool:
        return self._key() in _HELD

    @contextmanager
    def lock(self) -> Iterator[RunDir]:
        """Hold the run directory's lock (for report, eval: writers into an existing run)."""
        if not self.root.is_dir():
            raise InputError(f"{self.root}: no such run directory")
        self._acquire()
        try:
            yield self
        finally:
            self._release()

    def __enter__(self) -> RunDir:
        """``with RunDir(out):`` around a run: the lock :meth:`prepare` takes is released
        however the run ends."""
        held = _HELD.get(self._key())
        self._depth_on_enter = held[1] if held else 0
        return self

    def __exit__(self, *exc: object) -> None:
        while (held := _HELD.get(self._key())) is not None and held[1] > self._depth_on_enter:
            self._release()

    # -- preparing a run ------------------------------------------------------------------
    def prepare(
        self,
        *,
        stamp: dict,
        inputs: dict[str, list[str]],
        run_file: str | os.PathLike | None = None,
        overwrite: bool = False,
        resume: bool = False,
    ) -> dict[str, list[dict]]:
        """Make OUT ready for a run; return the inputs' identity by role (raw, target).

        Checks first, writes after: OUT must not be, hold or lie inside an input or the
        run file; a non-empty OUT needs --resume (same options, same input bytes) or
        --overwrite (only of a thresher run directory, and only thresher's entries go).
        The lock is taken before the inputs are hashed, so a second run fails at once;
        it is held until :meth:`__exit__` (or the process ends).
        """
        files = self.check(
            stamp=stamp, inputs=inputs, run_file=run_file, overwrite=overwrite, resume=resume
        )
        made = self._make_root()
        had_lock_file = self.lock_file.exists()
        try:
            self._acquire()
            try:
                mode = self._mode(stamp, overwrite, resume)  # again, now that OUT is ours
                identity = {role: input_identity(fs) for role, fs in files.items()}
                if mode == "resume":
                    self._check_same_inputs(identity)
            except BaseException:
                self._release()
                raise
        except BaseException:
            if not had_lock_file:
                self.lock_file.unlink(missing_ok=True)
            self._unmake_root(made)
            raise
        if mode == "overwrite":
            self._clear()
        if mode == "resume":
            self._remove_temp_files()
            return identity
        self.work.mkdir(parents=True, exist_ok=True)
        marker = {"thresher": __version__, "started": time.time(), "pid": os.getpid()}
        for path, data in (
            (self.marker, marker),
            (self.inputs_stamp, identity),
            (self.config_stamp, stamp),  # last: its presence means "resumable"
        ):
            with writing(path):
                atomic_write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())
        return identity

    def check(
        self,
        *,
        stamp: dict,
        inputs: dict[str, list[str]],
        run_file: str | os.PathLike | None = None,
        overwrite: bool = False,
        resume: bool = False,
    ) -> dict[str, list[InputFile]]:
        """Everything :meth:`prepare` checks that needs no hashing, touching nothing: for a
        planner to fail early. Returns the input files by role."""
        files = {role: discover(paths) if paths else [] for role, paths in inputs.items()}
        self._check_paths(inputs, files, run_file)
        self._mode(stamp, overwrite, resume)
        return files

    def _entries(self) -> list[str]:
        if not self.root.exists():
            return []
        if not self.root.is_dir():
            raise ConfigError(f"{self.root}: --out exists and is not a directory")
        return sorted(e for e in os.listdir(self.root) if e != LOCK)

    def _mode(self, stamp: dict, overwrite: bool, resume: bool) -> str:
        """fresh, resume or overwrite; or a one-line refusal."""
        entries = self._entries()
        if resume and self.config_stamp.exists():
            theirs = json.loads(self.config_stamp.read_text())
            if theirs != stamp:
                diff = sorted(k for k in set(stamp) | set(theirs) if stamp.get(k) != theirs.get(k))
                raise ConfigError(
                    f"{self.root}: cannot resume, the run was started with other options "
                    f"({', '.join(diff)})"
                )
            if not self.inputs_stamp.exists():
                raise ConfigError(
                    f"{self.root}: cannot resume, the run recorded no input identity "
                    f"({WORK}/inputs.json); use --overwrite"
                )
            return "resume"
        if not entries:
            return "fresh"
        if overwrite:
            if MARKER not in entries:
                raise ConfigError(
                    f"{self.root}: not a thresher run directory (no {MARKER}): --overwrite only "
                    "replaces thresher's own runs; remove it yourself or choose another --out"
                )
            return "overwrite"
        if resume:
            hint = "use --overwrite" if MARKER in entries else "not a thresher run directory"
            raise ConfigError(
                f"{self.root}: nothing to resume here (no {WORK}/config.json); {hint}"
            )
        raise ConfigError(
            f"{self.root}: output directory exists and is not empty (use --overwrite or --resume)"
        )

    def _check_paths(
        self,
        inputs: dict[str, list[str]],
        files: dict[str, list[InputFile]],
        run_file: str | os.PathLike | None,
    ) -> None:
        """OUT must not be, hold, or lie inside an input (file, folder, glob) or the run file."""
        outs = _variants(str(self.root))
        for given in (p for paths in inputs.values() for p in paths):
            if glob.has_magic(given):
                root = _glob_root(given)
                for o in outs:
                    for r in _variants(root):
                        if not _inside(o, r):
                            continue
                        pat = Path(os.path.join(r, os.path.relpath(given, root))).parts
                        if any(
                            _glob_matches(list(pat), list(Path(f).parts)) for f in _outputs_of(o)
                        ):
                            raise ConfigError(
                                f"{self.root}: --out lies inside input {given}: "
                                "its outputs would be read as input"
                            )
                continue
            for g in _variants(given):
                for o in outs:
                    if g == o:
                        raise ConfigError(f"{self.root}: --out is the input {given}")
                    if _inside(g, o):
                        raise ConfigError(
                            f"{self.root}: --out holds the input {given}: "
                            "choose a directory of its own for the run"
                        )
                    if os.path.isdir(g) and _inside(o, g):
                        raise ConfigError(
                            f"{self.root}: --out lies inside input {given}: "
                            "its outputs would be read as input"
                        )
        for f in (f for fs in files.values() for f in fs):
            for g in _variants(f.path):
                if any(_inside(g, o) for o in outs):
                    raise ConfigError(
                        f"{self.root}: --out holds the input {f.path}: "
                        "choose a directory of its own for the run"
                    )
        if run_file is not None:
            for g in _variants(str(run_file)):
                if any(_inside(g, o) for o in outs):
                    raise ConfigError(
                        f"{self.root}: --out holds the run file {run_file}: "
                        "choose a directory of its own for the run"
                    )

    def _check_same_inputs(self, identity: dict[str, list[dict]]) -> None:
        """A resume reads the same bytes the checkpoints were made from, or stops."""
        then = json.loads(self.inputs_stamp.read_text())
        hint = f"cannot resume the run in {self.root}; rerun with --overwrite"
        for role in sorted(set(then) | set(identity)):
            old = {e["path"]: e for e in then.get(role, [])}
            new = {e["path"]: e for e in identity.get(role, [])}
            for path in sorted(set(old) | set(new)):
                a, b = old.get(path), new.get(path)
                if a is None:
                    raise ConfigError(f"{path}: new {role} input since the run started; {hint}")
                if b is None:
                    raise ConfigError(f"{path}: {role} input gone since the run started; {hint}")
                if a["bytes"] != b["bytes"]:
                    raise ConfigError(
                        f"{path}: changed since the run started ({a['bytes']:,} -> "
                        f"{b['bytes']:,} bytes); {hint}"
                    )
                if a["hash"] != b["hash"]:
                    raise ConfigError(
                        f"{path}: changed since the run started (content differs); {hint}"
                    )

    def _make_root(self) -> list[Path]:
        """Create OUT (and missing parents); return what was created, to undo on refusal."""
        made = []
        p = self.root.absolute()
        while not p.exists():
            made.append(p)
            p = p.parent
        with writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
        return made

    def _unmake_root(self, made: list[Path]) -> None:
        for p in made:  # deepest first
            try:
                p.rmdir()
            except OSError:
                break

    def _clear(self) -> None:
        """Remove thresher's own entries (never unknown files; a symlink, not its target)."""
        for name in os.listdir(self.root):
            own = name in OWN_ENTRIES or any(
                name.startswith(f".{e}.tmp") for e in OWN_ENTRIES if "." in e
            )
            if not own:
                continue
            p = self.root / name
            with writing(p):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()

    def _remove_temp_files(self) -> None:
        """A killed run can leave a half-written ``.name.tmp-PID`` (named after the writing
        process, so the resumed run's writes do not replace it): remove them."""
        for name in OWN_ENTRIES:
            p = self.root / name
            if p.is_dir() and not p.is_symlink():
                for tmp in p.rglob(".*.tmp-*"):
                    tmp.unlink()
        for tmp in self.root.glob(".*.tmp-*"):
            tmp.unlink()


# -- reading a run back -------------------------------------------------------------------
def load_manifest(run_dir: str | os.PathLike) -> dict:
    return RunDir(run_dir).load_manifest()


def read_docs(run_dir: str | os.PathLike) -> pa.Table:
    """The decision table (one row per valid raw document), all parts concatenated."""
    parts = RunDir(run_dir).docs_parts()
    if not parts:
        return DOCS_SCHEMA.empty_table()
    tables = []
    for p in parts:
        names = pq.ParquetFile(p).schema_arrow.names
        table = pq.read_table(p, columns=[c for c in (*DOC_COLUMNS, "reason") if c in names])
        if "reason" in names and "rule" not in names:
            table = _rule_from_reason(table)
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive")


def _rule_from_reason(table: pa.Table) -> pa.Table:
    """A decision table written before drops had (rule, value) columns: its ``reason``
    (``"language:de=0.99"``, ``"duplicate_of:12"``) gives the rule; the value is unknown."""
    reasons = table.column("reason").to_pylist()
    rules = [(r or "").split(":")[0].replace("duplicate_of", "duplicate") for r in reasons]
    i = table.column_names.index("reason")
    table = table.set_column(i, "rule", pa.array(rules, pa.string()))
    return table.add_column(i + 1, "value", pa.nulls(len(rules), pa.float64()))


def read_rejects(run_dir: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """Rows of rejects/*.jsonl, each with ``file`` (``target.jsonl`` for the target's)."""
    out: list[dict] = []
    for p in RunDir(run_dir).rejects_files():
        for line in p.read_bytes().splitlines():
            if not line.strip():
                continue
            rec = orjson.loads(line)
            rec["file"] = p.name
            out.append(rec)
            if limit is not None and len(out) >= limit:
                return out
    return out


def read_selected(run_dir: str | os.PathLike) -> pa.Table:
    """The selected documents of a run directory as one table."""
    parts = RunDir(run_dir).selected_parts()
    if not parts:
        return pa.table({})
    return pa.concat_tables([read_part(p) for p in parts], promote_options="permissive")


def selected_columns(run_dir: str | os.PathLike) -> list[str]:
    parts = RunDir(run_dir).selected_parts()
    return part_columns(parts[0]) if parts else []


def iter_selected(
    run_dir: str | os.PathLike, columns: list[str], limit: int | None = None
) -> Iterator[dict]:
    """Selected records (only ``columns``), in part order, at most ``limit``."""
    n = 0
    for p in RunDir(run_dir).selected_parts():
        for rec in iter_part_records(p, columns):
            yield rec
            n += 1
            if limit is not None and n >= limit:
                return
