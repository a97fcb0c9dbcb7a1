"""Elementwise ops: their dtype rules, broadcasting checks and backward rules, defined once."""
from __future__ import annotations

import math
from builtins import abs as builtins_abs

from .. import amp as _amp, dtypes as _dt
from ..tensor import Tensor
from .registry import (_state, composite, defop, device_mismatch, out_rule, record,
                       record_elementwise, unrecorded)

_wrap = Tensor._wrap
_SCALARS = (bool, int, float)


def broadcast_shapes(op, a, b):
    """NumPy/torch broadcasting of two shapes, with torch's error."""
    if a == b:
        return a
    na, nb = len(a), len(b)
    n = max(na, nb)
    out = []
    for i in range(n - 1, -1, -1):  # (from the last dim, as torch reports the first mismatch)
        x = a[i - n + na] if i - n + na >= 0 else 1
        y = b[i - n + nb] if i - n + nb >= 0 else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            # (torch's message names no op)
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {i}")
    out.reverse()
    return tuple(out)


def _to_tensor_like(v, like):
    from .creation import tensor
    return tensor(v, device=like._device)


def _scalar_category(v):
    t = type(v)
    if t is float:
        return 2
    if t is int:
        return 1
    if t is bool:
        return 0
    if t is complex:
        return 3
    if isinstance(v, float):
        return 2
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, complex):
        return 3
    if hasattr(v, "dtype") and hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return None  # a NumPy scalar: treated as a 0-d tensor
    raise TypeError(f"unsupported operand type: expected a Tensor or a number, got "
                    f"{type(v).__name__}")


def _cast(x, dt):
    if x._dtype is dt:
        return x._data
    return x._device._backend.kernels["cast"](x._data, dt)


def _scalar_for(v, dt):
    if dt.is_floating_point:
        return float(v)
    if dt is _dt.bool_:
        return bool(v)
    if dt.is_complex:
        return complex(v)
    return _int_in(int(v), dt)


# integer dtype -> (lowest, 2**bits): a Python int beyond the range wraps, as torch casts it
_INT_RANGE = {d: (-(1 << (8 * d.itemsize - 1)) if d.is_signed else 0, 1 << (8 * d.itemsize))
              for d in _dt.ALL if d.is_integer}


def _int_in(v, dt):
    """``v`` as dt holds it: torch casts an out-of-range Python int to the tensor's integer
    dtype with wraparound (int8 + 300 adds 44); NumPy would raise."""
    lo, span = _INT_RANGE[dt]
    if lo <= v < lo + span:
        return v
    return (v - lo) % span + lo


# ---- binary ---------------------------------------------------------------------------------

_FLOATS = frozenset(d for d in _dt.ALL if d.is_floating_point)
_INEXACT = frozenset(d for d in _dt.ALL if d.is_inexact)
_NOT_BOOL = frozenset(d for d in _dt.ALL if d is not _dt.bool_)
_INTEGRAL = frozenset(d for d in _dt.ALL if d.category < 2)
_COMPLEX = frozenset(_dt.COMPLEX)

# binary ops without complex kernels in torch: name -> (error class, message); {dev} and {dt}
# are filled in ("lt_cpu" not implemented for 'ComplexFloat')
_REAL_ONLY = {
    **{n: (NotImplementedError, f'"{n}_{{dev}}" not implemented for \'{{dt}}\'')
       for n in ("lt", "le", "gt", "ge", "remainder", "atan2", "bitwise_and", "bitwise_or",
                 "bitwise_xor")},
    "floor_divide": (NotImplementedError, '"div_floor_{dev}" not implemented for \'{dt}\''),
    "maximum": (RuntimeError, "maximum not implemented for complex tensors."),
    "minimum": (RuntimeError, "minimum not implemented for complex tensors."),
}


def _complex_unsupported(name, dt, dev):
    cls, msg = _REAL_ONLY[name]
    return cls(msg.format(dev=dev.type, dt=_dt_title(dt)))


def _binary_rule(name, kind, dt):
    """(compute dtype, output dtype) of binary op ``name`` for promoted dtype ``dt``."""
    if kind == "div" or kind == "float":
        if dt.category < 2:
            dt = _dt.get_default_dtype()
        return dt, dt
    if kind == "compare" or kind == "logical":
        return dt, _dt.bool_
    if kind == "bitwise":
        if dt.is_floating_point:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt_title(dt)}': "
                                      "bitwise ops need integer or bool tensors")
        return dt, dt
    if dt is _dt.bool_ and name in ("sub", "pow", "remainder", "floor_divide"):
        if name == "sub":
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        return _dt.int64, _dt.int64
    return dt, dt


def Binary(name, backward=None, kind="arith", inputs=True, out=False):
    """Make the binary op ``name``: torch's promotion of tensors and Python scalars, a
    broadcasting check, one kernel call, and (when needed) a graph node.

    ``inputs``: what the backward rule needs saved (True: both inputs, False: none, or a function
    choosing)."""
    op = defop(name, backward, inputs=inputs, out=out) if backward else None
    # dtypes for which the op computes and returns the input dtype (or bool): the fast path
    if kind == "arith":
        fast = _NOT_BOOL
    elif kind == "div":
        fast = _INEXACT
    elif kind == "float":
        fast = _FLOATS
    elif kind == "bitwise":
        fast = _INTEGRAL
    else:
        fast = frozenset(_dt.ALL)
    if name in _REAL_ONLY:
        fast = fast - _COMPLEX  # (complex operands reach _binary_general's error)
    bool_out = kind in ("compare", "logical")
    bool_ = _dt.bool_
    recorded = op is not None and not bool_out  # (a bool result is never differentiable)

    def binary(a, b):
        if isinstance(a, Tensor):  # (isinstance: Parameters take the fast path too)
            dt = a._dtype
            dev = a._device
            tb = type(b)
            if tb is Tensor or isinstance(b, Tensor):
                if b._dtype is dt and b._device is dev and dt in fast:
                    xa, xb = a._data, b._data
                    same = xa.shape == xb.shape
                    if not same:
                        broadcast_shapes(name, xa.shape, xb.shape)
                    res = _wrap(dev._backend.kernels[name](xa, xb), bool_ if bool_out else dt,
                                dev)
                    if recorded and _state.enabled and (a._requires_grad or b._requires_grad):
                        if same:
                            record_elementwise(op, (a, b), res)
                        else:
                            record(op, (a, b), res)
                    return res
            elif (tb is float and dt.is_floating_point and dt in fast) or (
                    tb is int and dt in fast and dt is not bool_):
                if tb is int and dt.category < 2:
                    b = _int_in(b, dt)
                res = _wrap(dev._backend.kernels[name](a._data, b), bool_ if bool_out else dt,
                            dev)
                if recorded and _state.enabled and a._requires_grad:
                    record_elementwise(op, (a, b), res)
                return res
        return _binary_general(name, kind, op, binary, a, b)

    binary.__name__ = binary.__qualname__ = name
    binary.op = op
    return binary


def _bool_sub_check(a, b):
    # torch refuses `-` when either side is bool (a Python bool counts), not only when both are
    isb = [x._dtype is _dt.bool_ if isinstance(x, Tensor) else type(x) is bool for x in (a, b)]
    if isb[0] and isb[1]:
        _binary_rule("sub", "arith", _dt.bool_)
    if isb[0] or isb[1]:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


def _binary_general(name, kind, op, self, a, b):
    if name == "sub":
        _bool_sub_check(a, b)
    if isinstance(a, Tensor):
        dev = a._device
        if isinstance(b, Tensor):
            if b._device is not dev:
                a, b, dev = _common_device(name, a, b)
            dt = a._dtype if a._dtype is b._dtype else _dt.result_type(a, b)
        else:
            cat = _scalar_category(b)
            if cat is None:
                return self(a, _to_tensor_like(b, a))
            dt = a._dtype if cat <= a._dtype.category else _dt.result_type(a, b)
    elif isinstance(b, Tensor):
        dev = b._device
        cat = _scalar_category(a)
        if cat is None:
            return self(_to_tensor_like(a, b), b)
        dt = b._dtype if cat <= b._dtype.category else _dt.result_type(a, b)
    else:
        raise TypeError(f"{name}(): expected at least one Tensor argument, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    if dt.category == 3 and name in _REAL_ONLY:
        raise _complex_unsupported(name, dt, dev)
    dt, out_dt = _binary_rule(name, kind, dt)
    if isinstance(a, Tensor):
        xa = a._data if a._dtype is dt else _cast(a, dt)
        if isinstance(b, Tensor):
            xb = b._data if b._dtype is dt else _cast(b, dt)
            sa, sb = xa.shape, xb.shape
            if sa != sb:
                broadcast_shapes(name, sa, sb)
        else:
            xb = _scalar_for(b, dt)
    else:
        xa = _scalar_for(a, dt)
        xb = b._data if b._dtype is dt else _cast(b, dt)
    res = _wrap(dev._backend.kernels[name](xa, xb), out_dt, dev)
    if op is not None and _state.enabled and out_dt.is_inexact and (
            getattr(a, "_requires_grad", False) or getattr(b, "_requires_grad", False)):
        record(op, (a, b), res)
    return res


def _common_device(name, a, b):
    # torch lets a 0-d cpu tensor take part in an op on another device, like a scalar.
    if a._device.type == "cpu" and a.ndim == 0:
        return a.to(b._device), b, b._device
    if b._device.type == "cpu" and b.ndim == 0:
        return a, b.to(a._device), a._device
    raise RuntimeError(device_mismatch(name, a, b))


def _g_add(ctx, g):
    return g, g  # (the engine skips inputs without an edge)


def _g_sub(ctx, g):
    return g, (-g if ctx.next_functions[1] is not None else None)


def _scaled(g, s, name):
    """``g * s`` (name "mul") or ``g / s`` ("div") in a backward rule, for a Python number ``s``:
    without a recorded graph (grad mode off) the kernel on g's buffer, which is what the ember
    op's own fast path calls, without its checks; otherwise the ember op."""
    if not _state.enabled and type(g) is Tensor and g._dtype.is_inexact and (
            type(s) is float or type(s) is int):
        return _wrap(g._device._backend.kernels[name](g._data, s), g._dtype, g._device)
    return g * s if name == "mul" else g / s


def _g_mul(ctx, g):
    a, b = ctx.inputs
    nexts = ctx.next_functions
    if a is b and nexts[0] is not None:
        # x * x: both gradients go to x; one 2 * g * x instead of two products and their sum
        return _scaled(g * a, 2, "mul"), None
    if not isinstance(b, Tensor) and nexts[0] is not None:
        return _scaled(g, b, "mul"), None
    return (g * b if nexts[0] is not None else None), (g * a if nexts[1] is not None else None)


def _save_mul(a, b):
    # d(a*b)/da needs only b and vice versa; saving less avoids false in-place errors (a tensor
    # not needed is None, a scalar is kept: the rules read both)
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    return (a if not ta or (tb and b._requires_grad) else None,
            b if not tb or (ta and a._requires_grad) else None)


def _g_div(ctx, g):
    a, b = ctx.inputs
    nexts = ctx.next_functions
    if not isinstance(b, Tensor) and nexts[0] is not None:
        return _scaled(g, b, "div"), None
    ga = g / b if nexts[0] is not None else None
    gb = -g * a / (b * b) if nexts[1] is not None else None
    return ga, gb


def _save_div(a, b):
    return (a if not isinstance(a, Tensor) or _rg(b) else None, b)


def _g_pow(ctx, g):
    a, b = ctx.inputs
    ga = gb = None
    need_a, need_b = ctx.needs_input_grad
    if need_a:
        if isinstance(b, Tensor):
            ga = g * b * pow(a, b - 1)
            ga = where(b == 0, 0.0, ga)
        elif b == 0:
            ga = g * 0.0
        else:
            ga = g * b * pow(a, b - 1)
    if need_b:
        # NOTE: torch defines d(a**b)/db as 0 where a == 0 and b >= 0
        out = pow(a, b)
        la = log(a) if isinstance(a, Tensor) else math.log(a) if a > 0 else float("nan")
        gb = g * out * la
        if isinstance(a, Tensor):
            # (a complex exponent: its real part decides, as torch's)
            bb = b.real if isinstance(b, Tensor) and b._dtype.is_complex else b
            gb = where((a == 0) & (bb >= 0), 0.0, gb)
    return ga, gb


def _g_max_min(pick):
    def rule(ctx, g):
        a, b = ctx.inputs
        # NOTE: torch splits the gradient evenly between equal inputs
        na, nb = ctx.needs_input_grad
        if isinstance(b, Tensor):
            mask_a = pick(a, b).to(g.dtype) + (a == b).to(g.dtype) * 0.5
            mask_b = 1.0 - mask_a
            return (g * mask_a if na else None), (g * mask_b if nb else None)
        mask_a = pick(a, b).to(g.dtype) + (a == b).to(g.dtype) * 0.5
        return g * mask_a, None
    return rule


def _g_atan2(ctx, g):
    a, b = ctx.inputs
    na, nb = ctx.needs_input_grad
    d = a * a + b * b
    return (g * b / d if na else None), (-g * a / d if nb else None)


def _g_remainder(ctx, g):
    a, b = ctx.inputs
    gb = -g * floor_divide(a, b) if ctx.needs_input_grad[1] else None
    return g, gb


def _g_floor_divide(ctx, g):
    return g * 0.0, None


def _rg(x):
    return isinstance(x, Tensor) and x._requires_grad


add_ = Binary("add", _g_add, inputs=False)
sub_ = Binary("sub", _g_sub, inputs=False)
mul = Binary("mul", _g_mul, inputs=_save_mul)
div_true = Binary("div", _g_div, kind="div", inputs=_save_div)
_floor_divide = Binary("floor_divide", _g_floor_divide, inputs=False)
_remainder = Binary("remainder", _g_remainder)


def _check_integer_divisor(input, other):
    """torch's integer division (//, %, fmod, div with a rounding mode) raises on a zero
    divisor, where NumPy's gives 0; a float result divides by zero as IEEE says (inf, nan)."""
    if type(other) is int:
        if other == 0 and isinstance(input, Tensor) and not input._dtype.is_floating_point:
            raise RuntimeError("ZeroDivisionError")
    elif isinstance(other, Tensor) and not other._dtype.is_floating_point and not (
            isinstance(input, (Tensor, float)) and _dt.result_type(input, other)
            .is_floating_point):
        from .reduction import any as any_
        if bool(any_(eq(other, 0))):
            raise RuntimeError("ZeroDivisionError")


def floor_divide(input, other):
    """input // other, rounded toward -inf (torch.floor_divide)."""
    _check_integer_divisor(input, other)
    return _floor_divide(input, other)


floor_divide.op = _floor_divide.op


def remainder(input, other):
    """Python's modulus (torch.remainder): a nonzero result has the divisor's sign.

    >>> ember.remainder(ember.tensor([-3., 3.]), 2)
    tensor([1., 1.])
    """
    _check_integer_divisor(input, other)
    r = unrecorded(_remainder, input, other)
    if not r._dtype.is_floating_point:
        return r
    r = unrecorded(_zero_sign_of, r, input)
    if _state.enabled and (_rg(input) or _rg(other)):
        record(_remainder.op, (input, other), r)
    return r


def _zero_sign_of(r, dividend):
    """``r`` with its zeros signed as ``dividend``: torch's remainder and fmod give an exact
    multiple the dividend's sign (-2. % 2. is -0.), where Python's (the kernels') gives the
    divisor's. A zero result means a finite dividend, so ``dividend * 0.`` is that signed zero."""
    return where(r == 0, dividend * 0.0, r)
_pow = Binary("pow", _g_pow)


def pow_(input, exponent):
    """input ** exponent: a negative Python int exponent of an integer tensor is torch's error
    (a tensor of negative exponents gives torch's integer results: 1, -1 or 0)."""
    if type(exponent) is int and exponent < 0 and isinstance(input, Tensor) and \
            input._dtype.category < 2:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if _amp.active:
        input, exponent = _amp.widen("pow", input), _amp.widen("pow", exponent)
    return _pow(input, exponent)


pow_.op = _pow.op
maximum = Binary("maximum", _g_max_min(lambda a, b: a > b))
minimum = Binary("minimum", _g_max_min(lambda a, b: a < b))
atan2 = Binary("atan2", _g_atan2, kind="float")
eq = Binary("eq", kind="compare")
ne = Binary("ne", kind="compare")
lt = Binary("lt", kind="compare")
le = Binary("le", kind="compare")
gt = Binary("gt", kind="compare")
ge = Binary("ge", kind="compare")
logical_and = Binary("logical_and", kind="logical")
logical_or = Binary("logical_or", kind="logical")
logical_xor = Binary("logical_xor", kind="logical")
bitwise_and = Binary("bitwise_and", kind="bitwise")
bitwise_or = Binary("bitwise_or", kind="bitwise")
bitwise_xor = Binary("bitwise_xor", kind="bitwise")


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcasting (torch.add)."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _out(add_(input, other), out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other (torch.sub)."""
    if alpha != 1:
        _bool_sub_check(input, other)
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _out(sub_(input, other), out)


subtract = sub


def div(input, other, *, rounding_mode=None, out=None):
    """True division, or rounding_mode 'trunc' / 'floor' (torch.div)."""
    if rounding_mode is None:
        r = div_true(input, other)
    elif rounding_mode == "floor":
        r = floor_divide(input, other)
        if _is_float(r):
            r = floor(div_true(input, other))
    elif rounding_mode == "trunc":
        _check_integer_divisor(input, other)
        q = div_true(input, other)
        r = trunc(q)
        ref = input if isinstance(input, Tensor) else other
        rt = _dt.result_type(input, other)
        if not rt.is_floating_point:
            r = r.to(rt)
    else:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    return _out(r, out)


divide = true_divide = div


def _is_float(t):
    return t._dtype.is_floating_point


def pow(input, exponent, *, out=None):
    """input ** exponent (torch.pow)."""
    if _amp.active:
        input, exponent = _amp.widen("pow", input), _amp.widen("pow", exponent)
    return _out(pow_(input, exponent), out)


def square(x):
    return pow_(x, 2)


def float_power(input, exponent):
    a = input.to(_dt.float64) if isinstance(input, Tensor) else input
    b = exponent.to(_dt.float64) if isinstance(exponent, Tensor) else exponent
    return pow(a, b)


def _g_fmod(ctx, g):
    a, b = ctx.inputs
    gb = -g * div(a, b, rounding_mode="trunc") if ctx.needs_input_grad[1] else None
    return g, gb


_fmod_op = defop("fmod", _g_fmod, inputs=True)


def fmod(input, other):
    """C's remainder (torch.fmod): the result has the dividend's sign, zeros included.

    >>> ember.fmod(ember.tensor([-3., 3.]), 2)
    tensor([-1.,  1.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"fmod() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(other).__name__}), but expected "
                        f"(Tensor input, Tensor other) or (Tensor input, Number other)")
    _check_integer_divisor(input, other)
    r = unrecorded(_fmod, input, other)
    if _state.enabled and (_rg(input) or _rg(other)):
        record(_fmod_op, (input, other), r)
    return r


def _fmod(a, b):
    if not _dt.result_type(a, b).is_floating_point:
        # from Python's remainder (exact for integers, INT_MIN included): it differs from C's
        # by the divisor where the signs of a nonzero result and of the dividend differ
        r = _remainder(a, b)
        return where((r != 0) & ((a < 0) != (b < 0)), r - b, r)
    # the remainder of magnitudes is exact (NumPy's and OpenCL's come from C's fmod), and a
    # quotient a / b never enters: a - trunc(a / b) * b loses digits and gives NaN for b = inf
    m = _remainder(abs(a), abs(b))
    return _zero_sign_of(where(a < 0, -m, m), a)


def _out(result, out):
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"out must be a Tensor, got {type(out).__name__}")
    if out.shape != result.shape:
        out._resize_to(result)
    out.copy_(result)
    return out


# ---- unary ----------------------------------------------------------------------------------

def _no_complex(cls, msg):
    """A ``complex_fn`` raising torch's error for an op without complex kernels."""
    def refuse(x):
        raise cls(msg.format(dev=x._device.type, dt=_dt_title(x._dtype)))
    return refuse


def _complex_abs(x):
    from .complex import complex_abs
    return complex_abs(x)


def Unary(name, backward=None, *, to_float=False, inputs=False, out=False, out_dtype=None,
          complex_fn=None):
    """Make the unary op ``name``; ``to_float`` ops compute integer inputs in the default float
    dtype, ``out_dtype`` fixes the result dtype (predicates); ``complex_fn(x)`` replaces the op
    for complex inputs (abs, or torch's error where it has no complex kernel)."""
    op = defop(name, backward, inputs=inputs, out=out) if backward else None
    float32_listed = _amp.is_float32_listed(name)
    special = complex_fn is not None

    def unary(x, *, out=None):
        if type(x) is not Tensor:
            if isinstance(x, Tensor):
                pass
            elif isinstance(x, (int, float, bool)):
                from .creation import tensor
                x = tensor(x)
            else:
                raise TypeError(f"{name}(): argument 'input' must be Tensor, not "
                                f"{type(x).__name__}")
        if float32_listed and _amp.active:
            x = _amp.widen(name, x)
        dt = x._dtype
        if special and dt.category == 3:
            return complex_fn(x) if out is None else _out(complex_fn(x), out)
        data = x._data
        dev = x._device
        if to_float and dt.category < 2:
            dt = _dt.get_default_dtype()
            data = dev._backend.kernels["cast"](data, dt)
        res = _wrap(dev._backend.kernels[name](data), out_dtype or dt, dev)
        if op is not None and _state.enabled and x._requires_grad:
            record_elementwise(op, (x,), res)
        return _out(res, out) if out is not None else res

    unary.__name__ = unary.__qualname__ = name
    unary.op = op
    return unary


def _x(ctx):
    return ctx.inputs[0]


exp = Unary("exp", out_rule("mul", lambda g, out: g * out), to_float=True, out=True)
log = Unary("log", lambda c, g: g / _x(c), to_float=True, inputs=True)
log1p = Unary("log1p", lambda c, g: g / (_x(c) + 1), to_float=True, inputs=True)
expm1 = Unary("expm1", lambda c, g: g * (c.out + 1), to_float=True, out=True)
sqrt = Unary("sqrt", lambda c, g: g / (2 * c.out), to_float=True, out=True)
sin = Unary("sin", lambda c, g: g * cos(_x(c)), to_float=True, inputs=True)
cos = Unary("cos", lambda c, g: -g * sin(_x(c)), to_float=True, inputs=True)
tan = Unary("tan", lambda c, g: g * (1 + c.out * c.out), to_float=True, out=True)
@composite("tanh_backward")
def tanh_backward(grad, out):
    """d tanh: grad * (1 - out^2); a backend may fuse it (one kernel instead of three)."""
    return grad * (1 - out * out)


@composite("sigmoid_backward")
def sigmoid_backward(grad, out):
    """d sigmoid: grad * out * (1 - out); a backend may fuse it."""
    return grad * out * (1 - out)


@composite("threshold_backward")
def threshold_backward(grad, out):
    """d relu: 0 where out <= 0 (torch's zero gradient at 0), else grad (also where out is
    NaN, as torch's)."""
    return where(out <= 0, 0.0, grad)


tanh = Unary("tanh", out_rule("tanh_backward", lambda g, out: tanh_backward(g, out)),
             to_float=True, out=True)
sigmoid = Unary("sigmoid", out_rule("sigmoid_backward", lambda g, out: sigmoid_backward(g, out)),
                to_float=True, out=True)
erf = Unary("erf", lambda c, g: g * (2 / math.sqrt(math.pi)) * exp(-_x(c) * _x(c)),
            to_float=True, inputs=True, complex_fn=_no_complex(
                NotImplementedError, "\"erf_vml_{dev}\" not implemented for '{dt}'"))
asin = Unary("asin", lambda c, g: g / sqrt(1 - _x(c) * _x(c)), to_float=True, inputs=True)
acos = Unary("acos", lambda c, g: -g / sqrt(1 - _x(c) * _x(c)), to_float=True, inputs=True)
atan = Unary("atan", lambda c, g: g / (1 + _x(c) * _x(c)), to_float=True, inputs=True)
sinh = Unary("sinh", lambda c, g: g * cosh(_x(c)), to_float=True, inputs=True)
cosh = Unary("cosh", lambda c, g: g * sinh(_x(c)), to_float=True, inputs=True)
log2 = Unary("log2", lambda c, g: g / (_x(c) * math.log(2)), to_float=True, inputs=True)
exp2 = Unary("exp2", lambda c, g: g * c.out * math.log(2), to_float=True, out=True)
reciprocal = Unary("reciprocal", lambda c, g: -g * c.out * c.out, to_float=True, out=True)
neg_ = Unary("neg", lambda c, g: -g)
abs = Unary("abs", lambda c, g: g * sign(_x(c)), inputs=True, complex_fn=_complex_abs)
sign = Unary("sign", lambda c, g: g * 0.0, complex_fn=_no_complex(
    NotImplementedError, "Unlike NumPy, torch.sign is not intended to support complex numbers. "
    "Please use torch.sgn instead."))
floor = Unary("floor", lambda c, g: g * 0.0, complex_fn=_no_complex(
    NotImplementedError, "floor is not supported for complex inputs"))
ceil = Unary("ceil", lambda c, g: g * 0.0, complex_fn=_no_complex(
    NotImplementedError, "ceil is not supported for complex inputs"))
round_ = Unary("round", lambda c, g: g * 0.0, complex_fn=_no_complex(
    NotImplementedError, "\"round_vml_{dev}\" not implemented for '{dt}'"))
trunc = Unary("trunc", lambda c, g: g * 0.0, complex_fn=_no_complex(
    NotImplementedError, "trunc is not supported for complex inputs"))
isnan = Unary("isnan", out_dtype=_dt.bool_)
isinf = Unary("isinf", out_dtype=_dt.bool_)
isfinite = Unary("isfinite", out_dtype=_dt.bool_)
logical_not = Unary("logical_not", out_dtype=_dt.bool_)
bitwise_not_ = Unary("bitwise_not", complex_fn=_no_complex(
    NotImplementedError, "\"bitwise_not_{dev}\" not implemented for '{dt}'"))

fix = trunc
absolute = abs
arcsin, arccos, arctan = asin, acos, atan
arctan2 = atan2


def neg(x, *, out=None):
    if isinstance(x, Tensor) and x._dtype is _dt.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return neg_(x, out=out)


negative = neg


def bitwise_not(x):
    if x._dtype.is_floating_point:
        raise TypeError(f"bitwise_not: only integer and bool tensors are supported, got "
                        f"{x._dtype}")
    return bitwise_not_(x)


def round(x, *, decimals=0):
    if decimals == 0:
        return round_(x)
    scale = 10.0 ** decimals
    return round_(x * scale) / scale


@_amp.float32_op
def rsqrt(x):
    return reciprocal(sqrt(x))


@_amp.float32_op
def log10(x):
    return log(x) * (1 / math.log(10))


def frac(x):
    return x - trunc(x)


@composite("relu", out_rule("threshold_backward", lambda g, out: threshold_backward(g, out)),
           inputs=False, out=True)
def relu(x):
    """max(x, 0), NaN kept (torch's); the gradient at 0 is 0, as torch's."""
    return where(x <= 0, 0, x)


def where(condition, input=None, other=None):
    """Elements of input where condition, else other; broadcasting all three."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    return _where(condition, input, other)


def _g_where(ctx, g):
    cond, a, b = ctx.inputs
    _, na, nb = ctx.needs_input_grad
    zero = g * 0.0
    ga = _where(cond, g, zero) if na else None
    gb = _where(cond, zero, g) if nb else None
    return None, ga, gb


_where_op = defop("where", _g_where, inputs=lambda c, a, b: (c, None, None))


def _where(cond, a, b):
    if not isinstance(cond, Tensor):
        raise TypeError("where(): argument 'condition' must be a Tensor")
    if cond._dtype is not _dt.bool_:
        if cond._dtype is _dt.uint8:
            cond = cond.to(_dt.bool_)
        else:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {_dt_title(cond._dtype)}")
    dev = cond._device
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        dt = a._dtype if a._dtype is b._dtype else _dt.result_type(a, b)
    elif ta:
        dt = a._dtype if _scalar_category(b) <= a._dtype.category else _dt.result_type(a, b)
    elif tb:
        dt = b._dtype if _scalar_category(a) <= b._dtype.category else _dt.result_type(a, b)
    else:
        dt = _dt.result_type(a, b)
        from .creation import tensor
        a = tensor(a, dtype=dt, device=dev)
        ta = True
    for t in (a, b):
        if isinstance(t, Tensor) and t._device is not dev:
            if t.ndim == 0 and t._device.type == "cpu":
                continue
            raise RuntimeError(device_mismatch("where", cond, t))
    # (a scalar is a value where() stores: one that overflows dt is refused, as torch's)
    xa = (a if a._device is dev else a.to(dev))._data if ta else _dt.checked_scalar(a, dt)
    xb = (b if b._device is dev else b.to(dev))._data if tb else _dt.checked_scalar(b, dt)
    if ta and a._dtype is not dt:
        xa = dev._backend.kernels["cast"](xa, dt)
    if tb and b._dtype is not dt:
        xb = dev._backend.kernels["cast"](xb, dt)
    shape = cond._data.shape
    for x in (xa, xb):
        if hasattr(x, "shape"):
            shape = broadcast_shapes("where", shape, x.shape)
    res = _wrap(dev._backend.kernels["where"](cond._data, xa, xb), dt, dev)
    if _state.enabled and dt.is_inexact and (_rg(a) or _rg(b)):
        record(_where_op, (cond, a, b), res)
    return res


from ..tensor import _dt_name as _dt_title  # noqa: E402  (torch's "Float", "Long" ...)


def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]; the gradient passes where the value was inside (torch)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if input._dtype.is_complex:
        raise NotImplementedError("clamp is not supported for complex types")
    r = input
    for bound, above in ((min, False), (max, True)):
        if bound is None:
            continue
        if _isnan_scalar(bound):
            # a NaN bound makes every value NaN, with a zero gradient (as torch)
            from .creation import zeros_like
            r = where(zeros_like(r, dtype=_dt.bool_), r, bound)
            continue
        r = where(r > bound if above else r < bound, bound, r)
        if isinstance(bound, Tensor) and bound._dtype.is_floating_point:
            # NaN in a tensor bound propagates (the comparison above is False there)
            r = where(isnan(bound), bound.detach(), r)
    if _state.enabled and _rg(input) and input._dtype.is_floating_point:
        # NOTE: torch passes the gradient only where min <= x <= max, so none at a NaN input
        # (the comparisons above let a NaN through with a gradient of 1)
        r = where(isnan(input), input.detach(), r)
    if isinstance(input, Tensor) and r._dtype is not input._dtype and not isinstance(
            min, Tensor) and not isinstance(max, Tensor):
        r = r.to(_dt.result_type(input, *(v for v in (min, max) if v is not None)))
    return _out(r, out)


clip = clamp


def _isnan_scalar(v):
    return isinstance(v, float) and v != v


def clamp_min(x, min):
    return clamp(x, min=min)


def clamp_max(x, max):
    return clamp(x, max=max)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN, +inf and -inf with finite numbers (the dtype's extremes by default)."""
    if not x._dtype.is_floating_point:
        return x.clone()
    import numpy as np
    info = np.finfo(np.float32 if x._dtype.name == "bfloat16" else x._dtype.np)
    big = float(info.max) if x._dtype.name != "bfloat16" else 3.3895313892515355e38
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    # NOTE: torch casts the replacements to the dtype (1e6 in float16 is inf) where fill_ and
    # where() refuse an overflowing value: hand where() 0-d tensors, rounded as a cast does
    from .creation import tensor
    nan, posinf, neginf = (tensor(np.array(v, np.float64).astype(x._dtype.np), dtype=x._dtype,
                                  device=x._device) for v in (nan, posinf, neginf))
    # (each test on x itself: a NaN replaced by inf stays inf, as torch's)
    r = where(x == float("-inf"), neginf, x)
    r = where(x == float("inf"), posinf, r)
    return where(isnan(x), nan, r)


def lerp(input, end, weight):
    """input + weight * (end - input), in torch's form: from ``end`` when |weight| >= 0.5, so
    weight 1 gives ``end`` exactly."""
    diff = end - input
    if isinstance(weight, Tensor):
        return where(abs(weight) < 0.5, input + weight * diff, end - diff * (1 - weight))
    return input + weight * diff if builtins_abs(weight) < 0.5 else end - diff * (1 - weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 / tensor2


def hypot(a, b):
    return sqrt(a * a + b * b)


def logaddexp(a, b):
    """log(exp(a) + exp(b)), stable; -inf where both are -inf (as torch)."""
    m = maximum(a, b)
    safe = where(isinf(m), 0.0, m).detach() if isinstance(m, Tensor) else m
    return safe + log(exp(a - safe) + exp(b - safe))


def sinc(x):
    px = x * math.pi
    return where(x == 0, 1.0, sin(px) / where(x == 0, 1.0, px))


def deg2rad(x):
    return x * (math.pi / 180)


def rad2deg(x):
    return x * (180 / math.pi)


def signbit(x):
    if not x._dtype.is_floating_point:
        return x < 0
    return (x < 0) | ((x == 0) & (reciprocal(x) < 0))


def copysign(a, b):
    return abs(a) * where(signbit(b) if isinstance(b, Tensor) else
                          (b < 0 or (b == 0 and math.copysign(1, b) < 0)), -1.0, 1.0)


def heaviside(x, values):
    return where(x == 0, values, (x > 0).to(x.dtype))


def erfc(x):
    """1 - erf(x), accurate where erf(x) is close to 1 (torch.special's, defined there)."""
    from ..special import erfc as _erfc  # (special builds on this module)
    return _erfc(x)


@_amp.float32_op
def erfinv(x):
    """Inverse error function (torch.special's, defined there with its gradient)."""
    from ..special import erfinv as _erfinv  # (special builds on this module)
    return _erfinv(x)


def logit(x, eps=None):
    if eps is not None:
        x = clamp(x, eps, 1 - eps)
    return log(x / (1 - x))


@_amp.float32_op
def softplus(x, beta=1.0, threshold=20.0):
    bx = x * beta
    return where(bx > threshold, x, log1p(exp(-abs(bx))) / beta + relu(x))


def positive(x):
    return x


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise (NaNs equal when equal_nan)."""
    if not isinstance(other, Tensor):
        from .creation import tensor
        other = tensor(other, dtype=input.dtype, device=input.device)
    if input._dtype is _dt.bool_ or not (input._dtype.is_floating_point or
                                         other._dtype.is_floating_point):
        return eq(input, other)
    err = abs(sub_(input, other))
    # an infinite error (infinities of opposite sign) is never close
    close = logical_and(le(err, atol + rtol * abs(other)), isfinite(err))
    close = logical_or(close, eq(input, other))  # exact matches, infinities included
    if equal_nan:
        close = logical_or(close, logical_and(isnan(input), isnan(other)))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when every element of input is close to other (torch.allclose)."""
    from .reduction import all as _all
    return bool(_all(isclose(input, other, rtol, atol, equal_nan)).item())


def equal(input, other) -> bool:
    """True when both have the same shape and elements (torch.equal)."""
    if input.shape != other.shape:
        return False
    from .reduction import all as _all
    return bool(_all(eq(input, other)).item())
