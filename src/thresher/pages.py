"""4 KB pages for numpy arrays in thresher's own processes (the CLI and its workers).

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every
array of 4 MB or more. Where THP's defrag setting is ``madvise`` (a common default) and
memory is fragmented, as on a machine whose page cache is full of the corpus it streams,
the first touch of such an array waits while the kernel compacts memory to find 2 MB
pages. On the bench machine the first 800 MB of new arrays in a process took 1.7 s that
way and 0.4 s with 4 KB pages; the classifier's fit (its ~50M-non-zero feature matrix)
took 0.8 s less and the whole 1 GB classifier run 4-5% less time
(bench/results/classifier_speed.md). Arrays allocated again after the first ones come
back fast either way, so the loss is at most a few TLB misses.

A library call does not change the caller's process: :func:`use_small_pages` runs in the
CLI and in the worker processes the engines start, not on ``import thresher``.
"""

from __future__ import annotations

import os


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
