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

OUT on an object store (``s3://``, ``gs://``, ...; a :class:`~thresher.io.fs.RemotePath`):
there is no atomic rename, so parts are written under their final names (an object
appears whole or not at all) and ``manifest.json`` last: the manifest is the commit mark,
and a run that writes (fresh, overwrite, resume) first removes an old one. ``_work/``
(checkpoints, stamps, the dedup spill) stays on local disk, in a folder keyed by the URL
(:func:`remote_work_dir`), bound to the run by the run id in the marker. The lock is an
object ``OUT/.thresher-lock`` naming its owner (pid, host), refreshed while the run lasts;
see :class:`RemoteLock` for what it can and cannot guarantee.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import glob
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from thresher._version import __version__
from thresher.errors import ConfigError, InputError, OutputError
from thresher.io.fs import RemotePath, filesystem, has_magic, is_url, out_path
from thresher.io.sources import InputFile, Shard, discover, shard_shares
from thresher.io.sources import input_identity as file_identity
from thresher.io.storage import describe, protocol_name
from thresher.io.writers import (
    OUTPUT_FORMATS,
    AnyPath,
    atomic_write_bytes,
    iter_part_records,
    part_columns,
    read_part,
    readable,
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
# Annotations of decontamination and PII redaction (thresher.hygiene), when those ran.
HYGIENE_COLUMNS = (
    "contaminated_eval",
    "contaminated_row",
    "contaminated_ngrams",
    "redacted_email",
    "redacted_ip",
    "redacted_phone",
)
DOC_COLUMNS = (*DOCS_SCHEMA.names, CLUSTER_FIELD.name, *HYGIENE_COLUMNS)  # report/inspect read

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


def status_names(status: np.ndarray) -> pa.Array:
    """The name of each status code (``eligible``...), by one take: a Python lookup per row
    took 30 ms of the write pass on 286,095 rows, this 1.3 ms."""
    names = pa.array([STATUS_NAMES[c] for c in range(len(STATUS_NAMES))], type=pa.string())
    return names.take(pa.array(status))


def repeated(value: str, n: int) -> pa.Array:
    """``value`` ``n`` times, as a string array (made in C: 0.7 ms for 286,095 rows against
    8.9 ms from a list of them)."""
    return pa.repeat(pa.scalar(value, type=pa.string()), n)


def decision_table(
    *,
    source: str,
    rows: np.ndarray,
    status: np.ndarray,
    rules: pa.Array,
    values: np.ndarray,
    scores: np.ndarray,
    selected: np.ndarray,
    cluster: np.ndarray | None = None,
    annotations: dict[str, pa.Array] | None = None,
) -> pa.Table:
    """One shard's decision table: a row per valid document of ``source``."""
    cols = [
        repeated(source, len(rows)),
        pa.array(rows, type=pa.int64()),
        status_names(status),
        rules,
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
    if any(is_url(f.path) for f in files):  # a request each: ask the store in parallel
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            idents = list(pool.map(file_identity, [f.path for f in files]))
    else:
        idents = [file_identity(f.path) for f in files]
    for f, ident in zip(files, idents, strict=True):
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
_HELD: dict[str, list] = {}  # real path (or URL) of OUT -> [lock fd, depth, RemoteLock | None]


class RunDir:
    """A run directory: a path with its layout. Picklable and cheap to make anywhere; the
    lock it may hold belongs to the process (see :meth:`lock`), not to the object."""

    def __init__(self, root: str | os.PathLike | RemotePath) -> None:
        self.root: AnyPath = out_path(root)
        self._depth_on_enter = 0

    @property
    def remote(self) -> bool:
        """OUT is on an object store (its ``_work/`` then is local: :func:`remote_work_dir`)."""
        return isinstance(self.root, RemotePath)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    # -- paths ----------------------------------------------------------------------------
    @property
    def selected(self) -> AnyPath:
        return self.root / SELECTED

    @property
    def dropped(self) -> AnyPath:
        return self.root / DROPPED

    @property
    def docs(self) -> AnyPath:
        return self.root / DOCS

    @property
    def rejects(self) -> AnyPath:
        return self.root / REJECTS

    @property
    def work(self) -> Path:
        if isinstance(self.root, RemotePath):
            return remote_work_dir(self.root.url) / WORK
        return self.root / WORK

    @property
    def dedup(self) -> Path:
        """The dedup stage's spill directory."""
        return self.work / "dedup"

    @property
    def manifest(self) -> AnyPath:
        return self.root / MANIFEST

    @property
    def report(self) -> AnyPath:
        return self.root / REPORT

    @property
    def eval(self) -> AnyPath:
        return self.root / EVAL

    @property
    def marker(self) -> AnyPath:
        return self.root / MARKER

    @property
    def lock_file(self) -> AnyPath:
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

    @property
    def prefilter_stop(self) -> Path:
        """Present once the driver's fit has ended: the prefilter's tasks stop at their next
        batch (thresher.tasks.prefilter_task). In ``_work/``, local, as workers on this
        machine see it; a worker that does not just finishes its shard."""
        return self.work / "prefilter.stop"

    def scan_checkpoint(self, shard_name: str) -> Path:
        return self.work / f"scan-{shard_name}.pkl"

    def write_checkpoint(self, shard_name: str) -> Path:
        return self.work / f"write-{shard_name}.pkl"

    def part(self, kind: str, shard_name: str, fmt: str = "parquet") -> AnyPath:
        """A shard's part file in ``kind`` (selected, dropped, docs, rejects)."""
        return self.root / kind / f"part-{shard_name}{_SUFFIX[fmt]}"

    @property
    def target_rejects(self) -> AnyPath:
        return self.rejects / TARGET_REJECTS

    # -- lookup ---------------------------------------------------------------------------
    def selected_parts(self) -> list[AnyPath]:
        """The selected parts in shard order, in the run's output format (any of _SUFFIX)."""
        for suffix in _SUFFIX.values():
            if parts := sorted(self.selected.glob(f"part-*{suffix}")):
                return parts
        return []

    def docs_parts(self) -> list[AnyPath]:
        return sorted(self.docs.glob("part-*.parquet"))

    def rejects_files(self) -> list[AnyPath]:
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
        if isinstance(self.root, RemotePath):
            return _canon_url(self.root.url)
        return os.path.realpath(self.root)

    def _acquire(self) -> None:
        key = self._key()
        if key in _HELD:
            _HELD[key][1] += 1
            return
        # A remote OUT: this machine's runs meet at a flock beside its local _work/ (exact);
        # runs elsewhere at the lock object (best effort: see RemoteLock).
        local_lock = self.work.parent / LOCK if self.remote else self.lock_file
        if self.remote:
            with writing(local_lock):
                local_lock.parent.mkdir(parents=True, exist_ok=True)
        with writing(local_lock):
            fd = os.open(local_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
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
        remote_lock = None
        if isinstance(self.root, RemotePath):
            remote_lock = RemoteLock(self.root / LOCK)
            try:
                remote_lock.acquire()
            except BaseException:
                os.close(fd)
                raise
        _HELD[key] = [fd, 1, remote_lock]

    def _release(self) -> None:
        held = _HELD.get(self._key())
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self._key()]
            try:
                if held[2] is not None:
                    held[2].release()
            finally:
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
        had_lock_file = self.remote or self.lock_file.exists()  # a lock object is RemoteLock's
        try:
            self._acquire()
            try:
                mode = self._mode(stamp, overwrite, resume)  # again, now that OUT is ours
                if mode == "resume" and self.remote:
                    self._check_same_run()
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
        if self.remote:
            with writing(self.manifest):  # the commit mark goes first: the run is open again
                self.manifest.unlink(missing_ok=True)
        if mode == "overwrite":
            self._clear()
        if mode == "resume":
            self._remove_temp_files()
            return identity
        if self.remote and self.work.exists():  # a stale local _work/ of an earlier run here
            with writing(self.work):
                shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        marker = {"thresher": __version__, "started": time.time(), "pid": os.getpid()}
        if isinstance(self.root, RemotePath):
            marker.update(host=socket.gethostname(), run=uuid.uuid4().hex, work=str(self.work))
            with writing(self.work.parent / "out.txt"):  # names the OUT this work is of
                (self.work.parent / "out.txt").write_text(_canon_url(self.root.url) + "\n")
            with writing(self.run_id_file):
                atomic_write_bytes(self.run_id_file, json.dumps({"run": marker["run"]}).encode())
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
        if isinstance(self.root, RemotePath):
            return self._remote_entries()
        if not self.root.exists():
            return []
        if not self.root.is_dir():
            raise ConfigError(f"{self.root}: --out exists and is not a directory")
        return sorted(e for e in os.listdir(self.root) if e != LOCK)

    def _remote_entries(self) -> list[str]:
        """What OUT on a store holds; an unusable OUT (no bucket, no access, no store, a
        read-only protocol) is one line naming it."""
        assert isinstance(self.root, RemotePath)
        url = self.root.url
        proto = protocol_name(url.split("://", 1)[0])
        if proto in READ_ONLY_PROTOCOLS:
            raise ConfigError(
                f"{url}: --out cannot be on {proto}:// ({READ_ONLY_PROTOCOLS[proto]}); "
                "write to a local directory, s3:// or gs://"
            )
        fs = self.root.fs
        try:
            info = fs.info(url)
            if info is not None and info.get("type") != "directory":
                raise ConfigError(f"{url}: --out exists and is not a directory")
            return sorted(e for e in fs.ls(url) if e != LOCK)
        except InputError as e:
            why = describe(e.__cause__) if e.__cause__ is not None else str(e)
            raise OutputError(f"{url}: cannot use as --out: {why}") from None

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
        if isinstance(self.root, RemotePath):
            self._check_remote_paths(inputs, files)
            return
        outs = _variants(str(self.root))
        for given in (p for paths in inputs.values() for p in paths):
            if is_url(given):
                continue  # on a store: cannot hold or lie inside a local OUT
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
            if is_url(f.path):
                continue
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
        if isinstance(self.root, RemotePath):
            return []  # a store's folder exists once an object lies in it
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
        if isinstance(self.root, RemotePath):
            self._clear_remote()
            return
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
        if isinstance(self.root, RemotePath):  # a store has no temp files: only local _work/
            for tmp in self.work.rglob(".*.tmp-*"):
                tmp.unlink()
            return
        for name in OWN_ENTRIES:
            p = self.root / name
            if p.is_dir() and not p.is_symlink():
                for tmp in p.rglob(".*.tmp-*"):
                    tmp.unlink()
        for tmp in self.root.glob(".*.tmp-*"):
            tmp.unlink()

    # -- OUT on an object store ------------------------------------------------------------
    @property
    def run_id_file(self) -> Path:
        """The run id of the run whose local ``_work/`` this is (a remote OUT's marker says
        the same id: a resume checks both are one run)."""
        return self.work / "run.json"

    def _check_same_run(self) -> None:
        """The local _work/ belongs to the run now at OUT, or the checkpoints are not its."""
        try:
            theirs = json.loads(self.marker.read_text()).get("run")
        except (InputError, ValueError):
            theirs = None
        try:
            ours = json.loads(self.run_id_file.read_text()).get("run")
        except (OSError, ValueError):
            ours = None
        if theirs is None or theirs != ours:
            raise ConfigError(
                f"{self.root}: cannot resume, its local work ({self.work}) is not of the run "
                "now there (started on another machine, or replaced since); use --overwrite"
            )

    def _check_remote_paths(
        self, inputs: dict[str, list[str]], files: dict[str, list[InputFile]]
    ) -> None:
        """OUT on a store must not be, hold or lie inside an input on the same store."""
        assert isinstance(self.root, RemotePath)
        out = _canon_url(self.root.url)
        for given in (p for paths in inputs.values() for p in paths):
            if not is_url(given):
                continue
            g = _canon_url(given)
            if has_magic(g):
                parts = g.split("/")
                root = "/".join(parts[: next(i for i, p in enumerate(parts) if has_magic(p))])
                if _inside_url(out, root) and any(
                    _glob_matches(parts, f.split("/")) for f in _url_outputs_of(out)
                ):
                    raise ConfigError(
                        f"{self.root}: --out lies inside input {given}: "
                        "its outputs would be read as input"
                    )
                continue
            if g == out:
                raise ConfigError(f"{self.root}: --out is the input {given}")
            if _inside_url(g, out):
                raise ConfigError(
                    f"{self.root}: --out holds the input {given}: "
                    "choose a directory of its own for the run"
                )
            if _inside_url(out, g) and filesystem(given).isdir(given):
                raise ConfigError(
                    f"{self.root}: --out lies inside input {given}: "
                    "its outputs would be read as input"
                )
        for f in (f for fs in files.values() for f in fs):
            if is_url(f.path) and _inside_url(_canon_url(f.path), out):
                raise ConfigError(
                    f"{self.root}: --out holds the input {f.path}: "
                    "choose a directory of its own for the run"
                )

    def _clear_remote(self) -> None:
        """Remove thresher's own entries of OUT on a store (the commit marks first, the
        marker last) and this machine's _work/ of it; nothing else."""
        assert isinstance(self.root, RemotePath)
        present = set(self.root.fs.ls(self.root.url))
        marks = (MANIFEST, REPORT, EVAL)
        order = [*marks, *(e for e in OWN_ENTRIES if e not in (*marks, MARKER)), MARKER]
        for name in order:
            if name not in present:
                continue
            p = self.root / name
            with writing(p):
                if name in (SELECTED, DROPPED, DOCS, REJECTS, WORK):
                    p.rmtree()
                else:
                    p.unlink(missing_ok=True)
        if self.work.exists():
            with writing(self.work):
                shutil.rmtree(self.work)


# Protocols a run directory cannot be written to, and why.
READ_ONLY_PROTOCOLS = {
    "http": "a web server is read only",
    "hf": "each file written to the Hub is a commit, and a run writes many: write the run "
    "elsewhere, then upload it",
}


def remote_work_dir(url: str) -> Path:
    """Where a remote OUT keeps its ``_work/`` on this machine: ``$THRESHER_WORK_DIR`` or
    ``~/.cache/thresher/work``, one folder per OUT URL (its hash; ``out.txt`` names it)."""
    base = os.environ.get("THRESHER_WORK_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "thresher", "work"
    )
    canon = _canon_url(url)
    return Path(base) / hashlib.sha256(canon.encode()).hexdigest()[:20]


def _canon_url(url: str) -> str:
    """``S3A://b/x/`` -> ``s3://b/x``: one spelling per location, to compare them."""
    proto, rest = str(url).split("://", 1)
    return f"{protocol_name(proto)}://{rest.strip('/')}"


def _inside_url(url: str, folder: str) -> bool:
    return url == folder or url.startswith(folder.rstrip("/") + "/")


def _url_outputs_of(out: str) -> list[str]:
    names = [f"{d}/part-00000{s}" for d in (SELECTED, DROPPED, DOCS) for s in _SUFFIX.values()]
    names += [f"{REJECTS}/part-00000.jsonl", f"{REJECTS}/{TARGET_REJECTS}", MANIFEST, EVAL]
    return [f"{out}/{n}" for n in names]


class RemoteLock:
    """One writer per run directory on an object store, as far as a store allows.

    The lock is an object naming its owner (pid, host, a random token), rewritten every
    ``HEARTBEAT`` seconds while the run lasts and removed at its end. Another run is
    refused while the lock is fresh (rewritten less than ``TTL`` seconds ago), or while
    its owner is a live process of this machine; a lock whose owner died on this machine
    is taken over at once (so ``--resume`` right after a crash works), one from another
    machine after ``TTL``.

    Limits: object stores have no atomic create-if-absent here, so two runs started on two
    machines within the same second can both pass (each rereads the lock after writing
    it, which narrows the window but cannot close it); freshness compares the store's
    clock to this machine's, so clocks skewed by more than ``TTL`` defeat it; a run
    stalled for longer than ``TTL`` (suspended laptop) can lose its lock. Runs on one
    machine also meet at a local ``flock``, which is exact.
    """

    TTL = 300.0
    HEARTBEAT = 60.0

    def __init__(self, path: RemotePath) -> None:
        self.path = path
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _record(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "token": self.token,
            "time": time.time(),
        }

    def _read(self) -> tuple[dict, float] | None:
        info = self.path.fs.info(self.path.url)
        if info is None:
            return None
        try:
            data = json.loads(self.path.read_bytes())
        except (InputError, ValueError):
            return None  # gone meanwhile, or not ours to read: treat as absent
        written = max(filter(None, [_store_time(info), float(data.get("time") or 0)]), default=0)
        return data, written

    def acquire(self) -> None:
        held = self._read()
        if held is not None:
            owner, written = held
            if owner.get("token") != self.token and self._is_live(owner, written):
                age = max(0.0, time.time() - written)
                raise ConfigError(
                    f"{self.path.parent} is in use by another thresher run (pid "
                    f"{owner.get('pid', '?')} on {owner.get('host', '?')}, lock refreshed "
                    f"{age:.0f} s ago); if that run is gone, wait {self.TTL:.0f} s or remove "
                    f"{self.path}"
                )
        with writing(self.path):
            self.path.write_bytes(json.dumps(self._record()).encode())
        time.sleep(0.05)
        now = self._read()
        if now is None or now[0].get("token") != self.token:  # another run wrote after us
            raise ConfigError(f"{self.path.parent} is in use by another thresher run (lost a race)")
        self._thread = threading.Thread(target=self._beat, name="thresher-lock", daemon=True)
        self._thread.start()

    def _is_live(self, owner: dict, written: float) -> bool:
        if owner.get("host") == socket.gethostname():
            return _pid_alive(owner.get("pid"))
        return time.time() - written < self.TTL

    def _beat(self) -> None:
        while not self._stop.wait(self.HEARTBEAT):
            with suppress(Exception):  # a missed beat: the next one tries again
                self.path.write_bytes(json.dumps(self._record()).encode())

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            held = self._read()
            if held is not None and held[0].get("token") == self.token:
                self.path.unlink(missing_ok=True)
        except (InputError, OutputError):
            pass  # the store is unreachable now: the lock goes stale after TTL


def _store_time(info: dict) -> float | None:
    for k in ("LastModified", "updated", "mtime", "last_modified"):
        v = info.get(k)
        if v is None:
            continue
        if hasattr(v, "timestamp"):
            return float(v.timestamp())
        try:
            return float(v)
        except (TypeError, ValueError):
            continue
    return None


def _pid_alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


# -- reading a run back -------------------------------------------------------------------
def load_manifest(run_dir: str | os.PathLike) -> dict:
    return RunDir(run_dir).load_manifest()


def read_docs(run_dir: str | os.PathLike, dictionary: bool = False) -> pa.Table:
    """The decision table (one row per valid raw document), all parts concatenated.

    ``dictionary``: the string columns (source, status, rule) as dictionary arrays, ~4 B
    per document instead of their text (the report of a many-million-document run)."""
    parts = RunDir(run_dir).docs_parts()
    if not parts:
        return DOCS_SCHEMA.empty_table()
    tables = []
    as_dict = ["source", "status", "rule"] if dictionary else None
    for p in parts:
        with readable(p) as src:
            pf = pq.ParquetFile(src, read_dictionary=as_dict)
            names = pf.schema_arrow.names
            table = pf.read(columns=[c for c in (*DOC_COLUMNS, "reason") if c in names])
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
