"""The fused elementwise kernel of ``ember.jit`` on CUDA: one ``cupy.ElementwiseKernel`` per
program (see ``ember.core.jit._fuse.ElementwiseProgram``), named ``ember_fused_<key>``, built on
first use and cached by the program's key (CuPy caches the compiled code per device).

CuPy broadcasts the arrays and walks any strides; each step is a block that typedefs ``T`` to
its operands' type and rounds its value to its dtype, as the separate kernels would. The
expressions follow the NumPy semantics of the CuPy ufuncs that the unfused ops call (NaN
propagates through maximum/minimum, integer arithmetic wraps, sigmoid saturates without NaN).
half, bfloat16 and complex programs are declined (the jit then runs the ops one by one).

The program's structure also travels, as JSON in a comment of the kernel's preamble, so that the
NumPy stand-in of CuPy (fakecupy) can run it on the host.
"""
from __future__ import annotations

import json

import numpy as np

from ember.plugins.api import DeclineProgram, ProgramCache

#: dtype name -> the C++ type CuPy gives it in kernels
CTYPE = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short",
         "int32": "int", "int64": "long long", "float32": "float", "float64": "double"}
UTYPE = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}
F, I, U, B = "f", "i", "u", "b"
INTS = (I, U, B)
ALL = (F, I, U, B)
PROGRAM_TAG = "// ember-fused-program: "


def _each(kinds, expr):
    return {k: expr for k in kinds}


_WRAP = "(T)((UT)a {} (UT)b)"  # (signed overflow is undefined in C++: wrap in unsigned)
UNARY: dict[str, dict[str, str]] = {
    n: {F: f"{n}(x)"} for n in ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan",
                                "tanh", "erf", "asin", "acos", "atan", "sinh", "cosh", "log2",
                                "exp2")
}
UNARY.update({
    "sigmoid": {F: "(T)1 / ((T)1 + exp(-x))"},  # exp(-x) = inf gives 0, never NaN
    "reciprocal": {F: "(T)1 / x"},
    "neg": {F: "-x", I: "(T)((UT)0 - (UT)x)", U: "(T)((UT)0 - (UT)x)"},
    "abs": {F: "fabs(x)", I: "x < 0 ? (T)((UT)0 - (UT)x) : x", U: "x", B: "x"},
    "sign": {F: "x > (T)0 ? (T)1 : (x < (T)0 ? (T)-1 : x)", I: "(x > 0) - (x < 0)",
             U: "x > 0", B: "x"},
    "floor": {F: "floor(x)", **_each(INTS, "x")},
    "ceil": {F: "ceil(x)", **_each(INTS, "x")},
    "round": {F: "rint(x)", **_each(INTS, "x")},  # (half to even, as NumPy's)
    "trunc": {F: "trunc(x)", **_each(INTS, "x")},
    "isnan": {F: "isnan(x)", **_each(INTS, "false")},
    "isinf": {F: "isinf(x)", **_each(INTS, "false")},
    "isfinite": {F: "isfinite(x)", **_each(INTS, "true")},
    "logical_not": _each(ALL, "x == (T)0"),
    "bitwise_not": {I: "~x", U: "~x", B: "!x"},
})
PREDICATES = {"isnan", "isinf", "isfinite", "logical_not"}
BINARY: dict[str, dict[str, str]] = {
    "add": {F: "a + b", I: _WRAP.format("+"), U: "a + b", B: "a | b"},
    "sub": {F: "a - b", I: _WRAP.format("-"), U: "a - b"},
    "mul": {F: "a * b", I: _WRAP.format("*"), U: "a * b", B: "a & b"},
    "div": {F: "a / b"},
    "pow": {F: "pow(a, b)"},
    # NaN propagates: a NaN on the right fails a > b and is returned
    "maximum": {F: "(isnan(a) || a > b) ? a : b", I: "a > b ? a : b", U: "a > b ? a : b",
                B: "a | b"},
    "minimum": {F: "(isnan(a) || a < b) ? a : b", I: "a < b ? a : b", U: "a < b ? a : b",
                B: "a & b"},
    "atan2": {F: "atan2(a, b)"},
    "logical_and": _each(ALL, "(a != (T)0) && (b != (T)0)"),
    "logical_or": _each(ALL, "(a != (T)0) || (b != (T)0)"),
    "logical_xor": _each(ALL, "(a != (T)0) != (b != (T)0)"),
    "bitwise_and": _each(INTS, "a & b"),
    "bitwise_or": _each(INTS, "a | b"),
    "bitwise_xor": _each(INTS, "a ^ b"),
}
for _n, _op in {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}.items():
    BINARY[_n] = _each(ALL, f"a {_op} b")
del _n, _op


def _kind(dt: np.dtype) -> str:
    return "b" if dt == np.bool_ else dt.kind


def _cast_expr(src: np.dtype, dst: np.dtype) -> str:
    if dst == np.bool_:
        return "x != (S)0"
    if src.kind == "f" and _kind(dst) in (I, U) and dst.itemsize < 4:
        return "(long long)x"  # truncate, then wrap into the narrow type (NumPy on x86)
    return "x"


def operation(program) -> str:
    """The kernel body of ``program``: in<k> are the arrays' elements, s<k> the scalars,
    out<j> the returned values."""
    def dtype_of(o):
        kind, k = o
        if kind == "in":
            return program.inputs[k]
        if kind == "sc":
            return program.scalars[k][0]
        return program.steps[k][1]

    def ref(o):
        return {"in": "in", "sc": "s", "st": "v"}[o[0]] + str(o[1])

    lines = []
    for j, (op, dt, operands) in enumerate(program.steps):
        out_c = CTYPE[dt]
        if op == "where":
            c, a, b = (ref(o) for o in operands)
            lines.append(f"const {out_c} v{j} = {c} ? {a} : {b};")
            continue
        src = np.dtype(dtype_of(operands[0]))
        if op == "cast":
            lines.append(f"{out_c} v{j}; {{ typedef {CTYPE[src.name]} S; "
                         f"const S x = {ref(operands[0])}; "
                         f"v{j} = ({out_c})({_cast_expr(src, np.dtype(dt))}); }}")
            continue
        table = UNARY if len(operands) == 1 else BINARY
        expr = table.get(op, {}).get(_kind(src))
        if expr is None:
            raise DeclineProgram
        names = ("x",) if len(operands) == 1 else ("a", "b")
        decl = ", ".join(f"{n} = {ref(o)}" for n, o in zip(names, operands))
        lines.append(f"{out_c} v{j}; {{ typedef {CTYPE[src.name]} T; "
                     f"typedef {UTYPE[src.itemsize]} UT; const T {decl}; "
                     f"v{j} = ({out_c})({expr}); }}")
    lines += [f"out{j} = v{j};" for j in program.outputs]
    return "\n".join(lines)


def _describe(program) -> str:
    return json.dumps({"inputs": list(program.inputs),
                       "scalars": [d for d, _ in program.scalars],
                       "steps": [[op, dt, [list(o) for o in ops]]
                                 for op, dt, ops in program.steps],
                       "outputs": list(program.outputs)}, separators=(",", ":"))


class _Plan:
    __slots__ = ("kernel", "in_dtypes", "sc_types", "single")

    def __init__(self, program):
        names = set(program.inputs) | {d for d, _ in program.scalars} | {
            dt for _, dt, _ in program.steps}
        if not names <= set(CTYPE):
            raise DeclineProgram
        params = [f"{d} in{k}" for k, d in enumerate(program.inputs)]
        params += [f"{d} s{k}" for k, (d, _) in enumerate(program.scalars)]
        outs = [f"{program.steps[j][1]} out{j}" for j in program.outputs]
        import cupy  # (here: operation() is usable without CuPy, to check the C++ on a host)
        self.kernel = cupy.ElementwiseKernel(
            ", ".join(params), ", ".join(outs), operation(program),
            f"ember_fused_{program.key}", preamble=PROGRAM_TAG + _describe(program) + "\n")
        self.in_dtypes = tuple(np.dtype(d) for d in program.inputs)
        self.sc_types = tuple(np.dtype(d).type for d, _ in program.scalars)
        self.single = len(program.outputs) == 1


_PLANS = ProgramCache(_Plan)


def fused_elementwise(program, *arrays):
    """One ElementwiseKernel launch computing ``program``; None when it is declined."""
    plan = _PLANS.get(program)
    if plan is None or len(arrays) != len(plan.in_dtypes):
        return None
    for a, dt in zip(arrays, plan.in_dtypes):
        if a.dtype != dt:
            return None
    scalars = [t(v) for t, (_, v) in zip(plan.sc_types, program.scalars)]
    out = plan.kernel(*arrays, *scalars)
    return (out,) if plan.single else tuple(out)
