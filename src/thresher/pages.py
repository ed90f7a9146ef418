"""Memory settings for thresher's own processes (the CLI and its workers).

**4 KB pages for numpy arrays.**

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every
array of 4 MB or more. Where THP's defrag setting is ``madvise`` (a common default) and
memory is fragmented, as on a machine whose page cache is full of the corpus it streams,
the first touch of such an array waits while the kernel compacts memory to find 2 MB
pages. On the bench machine the first 800 MB of new arrays in a process took 1.7 s that
way and 0.4 s with 4 KB pages; the classifier's fit (its ~50M-non-zero feature matrix)
took 0.8 s less and the whole 1 GB classifier run 4-5% less time
(bench/results/classifier_speed.md). Arrays allocated again after the first ones come
back fast either way, so the loss is at most a few TLB misses.

**Freed blocks kept for reuse.** The scan allocates a few buffers of ~8 MB per block of
input (the bytes read, the texts, their offsets) and frees them a moment later. glibc
hands blocks that large back to the kernel (munmap, or a trim of the heap's top) and the
next allocation faults every 4 KB page in again, zeroed: on the 1 GB bench corpus, DSIR at
1 worker took 559,000 page faults and 1.9 s of system time. With blocks under 64 MB kept
in the heap and up to 256 MB of free memory left untrimmed: 63,000 faults, 0.9 s, and a
peak RSS 26 MB higher (426 -> 452 MB; ``/usr/bin/time``, bench/results/speed.md).

A library call does not change the caller's process: :func:`tune_process` runs in the CLI
and in the worker processes the engines start, not on ``import thresher``.
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20


def tune_process() -> None:
    """Everything a process that is thresher's own sets up: the settings of this module and
    no garbage collection at exit (:mod:`thresher.collector`)."""
    from thresher.collector import skip_exit_collection

    use_small_pages()
    keep_freed_memory()
    skip_exit_collection()


def keep_freed_memory() -> None:
    """Keep freed blocks under 64 MB in the heap, and up to 256 MB of free heap, for reuse
    (glibc; elsewhere nothing changes)."""
    if not sys.platform.startswith("linux"):  # pragma: no cover - macOS, Windows
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - a libc without mallopt
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def use_small_pages() -> None:
    """No huge-page advice for numpy arrays here, nor in processes started from here."""
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"  # read by numpy at import: child processes
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)
