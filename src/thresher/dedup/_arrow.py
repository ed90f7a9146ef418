"""Zero-copy access to the offsets and bytes of an Arrow string array, for numba kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def as_string_array(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array:
    """Return ``texts`` as one contiguous ``pa.large_string`` or ``pa.string`` array."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), type=pa.large_string())
    if pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type):
        return texts
    if pa.types.is_string_view(texts.type):
        return texts.cast(pa.large_string())
    raise TypeError(f"expected a string array, got {texts.type}")


def string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts int64 (n,), ends int64 (n,), data uint8)`` of a string array.

    ``data[starts[i]:ends[i]]`` are the UTF-8 bytes of row ``i``; nulls read as empty
    strings; slices of arrays are handled; the text bytes are not copied.
    """
    arr = as_string_array(texts)
    n = len(arr)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0, dtype=np.uint8)
    bufs = arr.buffers()
    off_dtype = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_dtype)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts, ends = offsets[:-1].copy(), offsets[1:]
    if arr.null_count:
        invalid = ~np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        starts[invalid] = ends[invalid]
    return starts, ends, data
