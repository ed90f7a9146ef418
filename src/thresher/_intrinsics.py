"""LLVM operations numba does not expose, for the byte-scanning kernels.

numba reads and writes a uint8 array one byte at a time and has no count-trailing-zeros;
the kernels that look at 8 bytes per step (the language-id tokenizer, the JSONL text
scanner) need an unaligned 8-byte load and store and ``cttz``.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def _is_bytes(data: object) -> bool:
    return isinstance(data, types.Array) and data.dtype == types.uint8 and data.ndim == 1


@intrinsic
def load_u64(typingctx, data, p):
    """The 8 bytes ``data[p:p + 8]`` of a uint8 array as a little-endian uint64: one unaligned
    load. The caller checks that they are inside the array."""
    if not _is_bytes(data):
        return None

    def codegen(context, builder, sig, args):
        arr = context.make_array(sig.args[0])(context, builder, args[0])
        at = builder.gep(arr.data, [context.cast(builder, args[1], sig.args[1], types.intp)])
        i64 = ir.IntType(64)
        return builder.load(builder.bitcast(at, i64.as_pointer()), align=1)

    return types.uint64(data, p), codegen


@intrinsic
def store_u64(typingctx, data, p, x):
    """Write ``x`` (a uint64) little-endian into ``data[p:p + 8]`` of a uint8 array: one
    unaligned store. The caller checks that they are inside the array."""
    if not _is_bytes(data) or x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        arr = context.make_array(sig.args[0])(context, builder, args[0])
        at = builder.gep(arr.data, [context.cast(builder, args[1], sig.args[1], types.intp)])
        i64 = ir.IntType(64)
        builder.store(args[2], builder.bitcast(at, i64.as_pointer()), align=1)
        return context.get_dummy_value()

    return types.none(data, p, x), codegen


@intrinsic
def ctz(typingctx, x):
    """The number of trailing zero bits of a nonzero uint64: LLVM's ``cttz``."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        i64, i1 = ir.IntType(64), ir.IntType(1)
        fnty = ir.FunctionType(i64, [i64, i1])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(i1, 1)])

    return types.uint64(x), codegen
