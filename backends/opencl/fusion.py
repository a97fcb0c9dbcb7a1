"""The fused elementwise kernel of ``ember.jit``: one OpenCL kernel per program (see
``ember.core.jit._fuse.ElementwiseProgram``), built on first use and cached by the program's key.

Each step is written with the expression tables of the unfused kernels (elementwise.UNARY,
BINARY and the cast rule), in a block of its own that typedefs ``T`` to its operands' type, so a
step computes what its primitive kernel would and every intermediate is rounded to its dtype;
contraction into fused multiply-adds is off, as it is for separate kernels. Only the values
the program returns are written to memory. half is declined (OpenCL needs cl_khr_fp16 for its
arithmetic), and so are steps without a table entry (the jit then runs the ops one by one).
"""
from __future__ import annotations

import math

import numpy as np
import pyopencl as cl

from ember.plugins.api import DeclineProgram, ProgramCache

from . import elementwise as ew
from .array import CLArray, broadcast_to, c_strides, empty
from .runtime import CTYPE, ELEMENTWISE_WG, STRIDED_RUN, UTYPE, kind

_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"}

#: Steps that call a math library function (sqrt and arithmetic aside).
_MATH = frozenset(ew.UNARY) - {"sqrt", "reciprocal", "neg", "abs", "sign", "floor", "ceil",
                               "round", "trunc", "isnan", "isinf", "isfinite", "logical_not",
                               "bitwise_not"} | {"pow", "atan2"}
#: NOTE: on a CPU device (PoCL) a kernel that calls two or more math functions is compiled to
#: much slower code than a kernel per function (measured on 512x512 float32: tanh then exp in
#: one kernel 11.8 ms, as two kernels 2.0 + 1.7 ms; most pairs lose 1.1-3.8x), while each
#: kernel launch saved is worth ~15 us. So such programs run fused only up to this many
#: elements, and as separate kernels (the jit's unfused ops) above it.
CPU_MATH_LIMIT = 8192


class _Plan:
    """A program checked for this backend: its kernel's name and argument dtypes."""

    __slots__ = ("name", "program", "in_dtypes", "sc_dtypes", "out_dtypes", "needs_fp64",
                 "math_calls")

    def __init__(self, program):
        self.program = program
        self.name = f"ember_fused_{program.key}"
        names = set(program.inputs) | {d for d, _ in program.scalars} | {
            dt for _, dt, _ in program.steps}
        if not names <= _DTYPES:
            raise DeclineProgram
        self.needs_fp64 = "float64" in names
        self.in_dtypes = tuple(np.dtype(d) for d in program.inputs)
        self.sc_dtypes = tuple(np.dtype(d) for d, _ in program.scalars)
        self.out_dtypes = tuple(np.dtype(program.steps[j][1]) for j in program.outputs)
        self.math_calls = sum(op in _MATH for op, _, _ in program.steps)
        source(program, True)  # (declines a step without an expression before any build)


def _step(j: int, op: str, dt: str, operands, dtype_of, ref) -> str:
    out_c = CTYPE[dt]
    if op == "where":
        c, a, b = (ref(o) for o in operands)
        return f"        const {out_c} v{j} = {c} ? {a} : {b};\n"
    src = np.dtype(dtype_of(operands[0]))
    if op == "cast":
        expr = ew._cast_expr(src, np.dtype(dt))
        return (f"        {out_c} v{j};\n        {{ typedef {CTYPE[src.name]} S; "
                f"const S x = {ref(operands[0])}; v{j} = ({out_c})({expr}); }}\n")
    table = ew.UNARY if len(operands) == 1 else ew.BINARY
    expr = table.get(op, {}).get(kind(src))
    if expr is None or "ember_" in expr:  # (no entry, or one that needs a helper function)
        raise DeclineProgram
    names = ("x",) if len(operands) == 1 else ("a", "b")
    decl = ", ".join(f"{n} = {ref(o)}" for n, o in zip(names, operands))
    return (f"        {out_c} v{j};\n        {{ typedef {CTYPE[src.name]} T; "
            f"typedef {UTYPE[src.itemsize]} UT; const T {decl}; v{j} = ({out_c})({expr}); }}\n")


def source(program, flat: bool) -> str:
    """The OpenCL C of ``program``: flat (contiguous same-shape arrays, element i) or strided
    (any strides and broadcasting, through the row offsets of the unfused kernels)."""
    def dtype_of(o):
        kind_, k = o
        if kind_ == "in":
            return program.inputs[k]
        if kind_ == "sc":
            return program.scalars[k][0]
        return program.steps[k][1]

    def ref(o):
        return {"in": "x", "sc": "c", "st": "v"}[o[0]] + str(o[1])

    args, setup, loads = [], [], []
    for j in program.outputs:
        args.append(f"global {CTYPE[program.steps[j][1]]}* out{j}")
    for k, dt in enumerate(program.inputs):
        t = CTYPE[dt]
        args.append(f"global const {t}* in{k}")
        if flat:
            args.append(f"const long o{k}")
            loads.append(f"        const {t} x{k} = in{k}[o{k} + i];\n")
        else:
            setup.append(f"    const long p{k} = ember_row_offset(r, nd, meta, {k + 1}), "
                         f"t{k} = ember_last_stride(nd, meta, {k + 1});\n")
            loads.append(f"        const {t} x{k} = in{k}[p{k} + j * t{k}];\n")
    for k, (dt, _) in enumerate(program.scalars):
        args.append(f"const {CTYPE[dt]} c{k}")
    body = "".join(loads) + "".join(
        _step(j, op, dt, ops, dtype_of, ref) for j, (op, dt, ops) in enumerate(program.steps))
    at = "i" if flat else "po + j * to"
    body += "".join(f"        out{j}[{at}] = v{j};\n" for j in program.outputs)
    name = f"ember_fused_{program.key}"
    head = "#pragma OPENCL FP_CONTRACT OFF\n"
    arglist = ", ".join(args)
    if flat:
        return (f"{head}kernel void {name}(long n, {arglist}) {{\n"
                "    const long i = get_global_id(0);\n    if (i >= n) return;\n"
                f"    {{\n{body}    }}\n}}\n")
    return (f"{head}kernel void {name}(long items, long runs, int nd, "
            f"global const long* meta, {arglist}) {{\n"
            "    const long g = get_global_id(0);\n    if (g >= items) return;\n"
            "    const long r = g / runs, j0 = (g - r * runs) * STRIDED_RUN;\n"
            "    const long j1 = min(meta[nd - 1], j0 + STRIDED_RUN);\n"
            "    const long po = ember_row_offset(r, nd, meta, 0), "
            "to = ember_last_stride(nd, meta, 0);\n"
            f"{''.join(setup)}    for (long j = j0; j < j1; ++j) {{\n{body}    }}\n}}\n")


_PLANS = ProgramCache(_Plan)
_CPU: dict = {}


def _is_cpu(dev) -> bool:
    hit = _CPU.get(dev.index)
    if hit is None:
        hit = _CPU[dev.index] = bool(dev.cl_device.type & cl.device_type.CPU)
    return hit


def fused_elementwise(program, *arrays):
    """One launch computing ``program`` over ``arrays``; None when it is declined."""
    plan = _PLANS.get(program)
    if plan is None or len(arrays) != len(plan.in_dtypes):
        return None
    first = arrays[0]
    dev = first.device
    same = True
    for a, dt in zip(arrays, plan.in_dtypes):
        if type(a) is not CLArray or a.dtype != dt or a.device is not dev:
            return None
        if a.shape != first.shape:
            same = False
    if plan.needs_fp64 and not dev.fp64:
        return None
    shape = first.shape if same else ew.out_shape(arrays)
    n = math.prod(shape)
    if plan.math_calls > 1 and n > CPU_MATH_LIMIT and _is_cpu(dev):
        return None
    outs = tuple(empty(shape, dt, dev) for dt in plan.out_dtypes)
    if n == 0:
        return outs
    flat = same and all(a.strides == c_strides(shape) for a in arrays)
    k = dev.kernel(("fused", program.key, flat), plan.name,
                   lambda: source(program, flat))
    scalars = [ew.scalar_arg(v, dt) for (_, v), dt in zip(program.scalars, plan.sc_dtypes)]
    if flat:
        ins = []
        for a in arrays:
            ins += (a.buffer, np.int64(a.offset))
        dev.launch(k, (ew.roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n),
                   *[o.buffer for o in outs], *ins, *scalars)
        return outs
    ops = [outs[0]] + [broadcast_to(a, shape) for a in arrays]
    nd, m, inner = ew.meta(dev, shape, ops)
    runs = -(-inner // STRIDED_RUN)
    items = n // inner * runs
    dev.launch(k, (ew.roundup(items, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(items),
               np.int64(runs), nd, m, *[o.buffer for o in outs],
               *[o.buffer for o in ops[1:]], *scalars)
    return outs
