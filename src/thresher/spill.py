"""The driver's per-document arrays as memory-mapped files in the run's ``_work/driver/``.

The driver holds a few arrays with one entry per document of the whole run (rows and
line offsets to re-read, scores, dedup clusters): ~37 B per document, 55 MB at 1.5M
documents, and more as freed heap that glibc keeps. They are written once and then read
a shard's slice at a time (a write task's payload) or whole by NumPy (selection), so they
live as ``.npy`` files mapped copy-on-write: their pages are page cache, which the kernel
drops and reads back as needed, not anonymous memory; a slice pickles as its own data.

The files are written with ordinary writes (a full disk is an ``OSError``, named by
:func:`thresher.rundir.writing`), never through the map (that would be a ``SIGBUS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thresher.rundir import writing

DRIVER_DIR = "driver"  # under _work/


def spill(path: Path, parts: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    """The concatenation of ``parts`` as ``dtype``, written to ``path`` (.npy) and mapped."""
    dtype = np.dtype(dtype)
    n = sum(len(p) for p in parts)
    if n == 0:  # nothing to map (mmap cannot map zero bytes)
        return np.zeros(0, dtype)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
            np.lib.format.write_array_header_1_0(f, {**header, "shape": (n,)})
            for p in parts:
                f.write(np.ascontiguousarray(p, dtype=dtype).tobytes())
        tmp.replace(path)
    return np.load(path, mmap_mode="c")  # copy-on-write: writable, the file never changes


def spill_scans(scans: Sequence[Any], folder: Path) -> None:
    """Each scan's ``rows``, ``starts`` and ``scores`` become slices of one mapped file each."""
    for name, dtype in (("rows", np.int64), ("starts", np.int64), ("scores", np.float32)):
        parts = [getattr(s, name) for s in scans if getattr(s, name) is not None]
        mapped = spill(folder / f"{name}.npy", parts, dtype)
        o = 0
        for s in scans:
            a = getattr(s, name)
            if a is not None:
                setattr(s, name, mapped[o : o + len(a)])
                o += len(a)


def _libc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to release
        return None


_MALLOC_TRIM = _libc_trim()


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``) after a phase freed
    per-document arrays (the driver's) or the dedup reduce's partitions.

    The reduce frees arrays of ~10 MB per partition; glibc raises its mmap threshold
    after such frees and then keeps later ones in the heap, where freed pages stay
    resident: ~35 B per document more at 750k documents, measured.  No-op elsewhere.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
