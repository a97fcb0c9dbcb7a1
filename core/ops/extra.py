"""More torch functions built from the op table (composites): the long tail of torch's API.

``METHODS`` maps Tensor method names to these functions; ``INPLACE`` lists the ones that also get
an in-place ``name_`` variant. core/methods.py binds both.

Everything here is written in ember ops, so every backend runs it and autograd follows its
primitives; the special functions (lgamma, digamma, polygamma) record one node each so that their
gradient is the next function of the family, as torch's is.
"""
from __future__ import annotations

import math

from .. import amp as _amp, dtypes as _dt, return_types as _return_types
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, _norm_dim
from . import creation as C, elementwise as E, indexing as I, linalg as L, reduction as R
from . import shape as S
from .registry import _state, defop, record

__all__ = [
    # elementwise
    "acosh", "asinh", "atanh", "arccosh", "arcsinh", "arctanh", "logaddexp2", "isneginf",
    "isposinf", "isreal", "gcd", "lcm", "ldexp", "frexp", "bitwise_left_shift",
    "bitwise_right_shift", "fmax", "fmin", "rsub", "lgamma", "digamma", "polygamma", "mvlgamma",
    "i0", "greater", "greater_equal", "less", "less_equal", "not_equal", "multiply", "sgn",
    # scans and reductions
    "logcumsumexp", "cummin", "cummax", "nanmedian", "cov", "corrcoef", "dist", "trapezoid",
    "trapz", "cumulative_trapezoid", "histogram", "isin",
    # shape and scatter
    "cross", "renorm", "rot90", "diagflat", "diagonal_scatter", "select_scatter",
    "slice_scatter", "hsplit", "vsplit", "dsplit", "narrow_copy", "block_diag", "vander",
    "split_with_sizes", "unsafe_split", "unsafe_chunk", "adjoint", "detach", "fill",
    "is_same_size", "is_inference", "is_signed", "get_device", "unravel_index", "combinations",
    "scalar_tensor", "view_copy", "permute_copy", "t_copy", "transpose_copy", "unsqueeze_copy",
    "squeeze_copy", "expand_copy", "diagonal_copy", "select_copy", "slice_copy", "detach_copy",
    "alias_copy", "unbind_copy", "split_copy",
    # linear algebra
    "matrix_power", "pinverse", "svd", "qr", "cholesky", "cholesky_inverse", "cholesky_solve",
]

_LN2 = math.log(2.0)


def _float(x):
    """x itself when floating point, else x in the default float dtype (torch's unary rule)."""
    if not isinstance(x, Tensor):
        x = C.tensor(x)
    return x if x._dtype.is_floating_point else x.to(_dt.get_default_dtype())


def _both_float(a, b):
    dt = _dt.result_type(a, b)
    if not dt.is_floating_point:
        dt = _dt.get_default_dtype()
    a = a.to(dt) if isinstance(a, Tensor) else a
    b = b.to(dt) if isinstance(b, Tensor) else b
    return a, b


from ..tensor import _dt_name as _dt_title  # noqa: E402  (torch's "Float", "Long" ...)


# ---- inverse hyperbolic functions -----------------------------------------------------------

def acosh(input: Tensor) -> Tensor:
    """Inverse hyperbolic cosine; NaN below 1.

    >>> import ember
    >>> ember.acosh(ember.tensor([1.0, 2.0]))
    tensor([0.0000, 1.3170])
    """
    x = _float(input)
    # NOTE: (x - 1) * (x + 1) instead of x*x - 1 keeps the digits near x = 1
    return E.log(x + E.sqrt((x - 1) * (x + 1)))


def asinh(input: Tensor) -> Tensor:
    """Inverse hyperbolic sine, accurate near 0 (log1p form).

    >>> import ember
    >>> ember.asinh(ember.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8814])
    """
    x = _float(input)
    a = E.abs(x)
    r = E.log1p(a + a * a / (1 + E.sqrt(1 + a * a)))
    # NOTE: very large |x| overflows a*a; asinh(x) = log(2|x|) there
    r = E.where(a > 1e15, E.log(a) + _LN2, r)
    return E.copysign(r, x)


def atanh(input: Tensor) -> Tensor:
    """Inverse hyperbolic tangent; +-inf at +-1, NaN outside [-1, 1].

    >>> import ember
    >>> ember.atanh(ember.tensor([0.0, 0.5]))
    tensor([0.0000, 0.5493])
    """
    x = _float(input)
    return 0.5 * E.log1p(2 * x / (1 - x))


arccosh, arcsinh, arctanh = acosh, asinh, atanh


# ---- log-space sums --------------------------------------------------------------------------

def _logaddexp_base(a, b, exp_fn, log_fn):
    # the shift is detached: the sum does not depend on it, and it keeps exp from overflowing
    m = E.maximum(a, b).detach()
    m = E.where(E.isinf(m), 0.0, m)
    return m + log_fn(exp_fn(a - m) + exp_fn(b - m))


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """log2(2**input + 2**other), without overflow.

    >>> import ember
    >>> ember.logaddexp2(ember.tensor([1.0]), ember.tensor([1.0]))
    tensor([2.])
    """
    a, b = _both_float(input, other)
    return _logaddexp_base(a, b, E.exp2, E.log2)


def _logaddexp(a, b):
    return _logaddexp_base(a, b, E.exp, E.log)


def _scan(x, d, combine):
    """Inclusive scan of ``combine(earlier, later)`` along d in log2(n) steps (Hillis-Steele)."""
    n = x.shape[d]
    k = 1
    while k < n:
        head = S.narrow(x, d, 0, k)
        tail = combine(S.narrow(x, d, 0, n - k), S.narrow(x, d, k, n - k))
        x = S.cat([head, tail], d)
        k *= 2
    return x


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(input), dim)), stable for any spread of values.

    >>> import ember
    >>> ember.logcumsumexp(ember.tensor([0.0, 0.0]), 0)
    tensor([0.0000, 0.6931])
    """
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{_dt_title(input._dtype)}'")
    x = input
    if x.ndim == 0:
        return S.clone(x)
    d = _norm_dim(dim, x.ndim, "logcumsumexp")
    return _scan(x, d, _logaddexp)


cummin_ret = _return_types.make("cummin", ["values", "indices"])
cummax_ret = _return_types.make("cummax", ["values", "indices"])


def cummin(input: Tensor, dim: int):
    """Running minimum along dim and where it was reached (the last index on ties; NaN
    propagates, as torch).

    >>> import ember
    >>> ember.cummin(ember.tensor([3, 1, 2]), 0).values
    tensor([3, 1, 1])
    """
    return _cum_extreme(input, dim, "cummin", E.le, cummin_ret)


def cummax(input: Tensor, dim: int):
    """Running maximum along dim and where it was reached (the last index on ties; NaN
    propagates, as torch).

    >>> import ember
    >>> ember.cummax(ember.tensor([1, 3, 2]), 0).values
    tensor([1, 3, 3])
    """
    return _cum_extreme(input, dim, "cummax", E.ge, cummax_ret)


def _cum_extreme(input, dim, name, better_or_equal, ret):
    if input.ndim == 0:
        return ret(S.clone(input), C.zeros((), dtype=_dt.int64, device=input.device))
    d = _norm_dim(dim, input.ndim, name)
    n = input.shape[d]
    shape = [1] * input.ndim
    shape[d] = n
    with no_grad():
        v = input.detach()
        i = S.expand(S.reshape(C.arange(n, device=input.device), shape), input.shape)

        def combine(early, late):
            (v1, i1), (v2, i2) = early, late
            take = E.isnan(v2) | (~E.isnan(v1) & better_or_equal(v2, v1))
            return E.where(take, v2, v1), E.where(take, i2, i1)

        # scan over (value, index) pairs
        k = 1
        while k < n:
            v2, i2 = combine((S.narrow(v, d, 0, n - k), S.narrow(i, d, 0, n - k)),
                             (S.narrow(v, d, k, n - k), S.narrow(i, d, k, n - k)))
            v = S.cat([S.narrow(v, d, 0, k), v2], d)
            i = S.cat([S.narrow(i, d, 0, k), i2], d)
            k *= 2
        i = S.contiguous(i)
    return ret(I.gather(input, d, i), i)


# ---- predicates ------------------------------------------------------------------------------

def isneginf(input: Tensor) -> Tensor:
    """True where input is -inf.

    >>> import ember
    >>> ember.isneginf(ember.tensor([-float("inf"), 1.0]))
    tensor([ True, False])
    """
    if not input._dtype.is_floating_point:
        return E.ne(input, input)
    return E.eq(input, float("-inf"))


def isposinf(input: Tensor) -> Tensor:
    """True where input is +inf.

    >>> import ember
    >>> ember.isposinf(ember.tensor([float("inf"), 1.0]))
    tensor([ True, False])
    """
    if not input._dtype.is_floating_point:
        return E.ne(input, input)
    return E.eq(input, float("inf"))


def isreal(input: Tensor) -> Tensor:
    """True everywhere: Ember's tensors are real.

    >>> import ember
    >>> ember.isreal(ember.tensor([1.0]))
    tensor([True])
    """
    return E.eq(input, input) | E.isnan(input)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape.

    >>> import ember
    >>> ember.is_same_size(ember.zeros(2), ember.ones(2))
    True
    """
    return tuple(input.shape) == tuple(other.shape)


def is_inference(input: Tensor) -> bool:
    """False: Ember tensors made under inference_mode are ordinary tensors.

    >>> import ember
    >>> ember.is_inference(ember.zeros(1))
    False
    """
    return False


def is_signed(input: Tensor) -> bool:
    """True for signed dtypes (floating point included).

    >>> import ember
    >>> ember.is_signed(ember.zeros(1, dtype=ember.uint8))
    False
    """
    return input._dtype.is_signed


def get_device(input: Tensor) -> int:
    """The device index, -1 on cpu (Tensor.get_device)."""
    return -1 if input._device.type == "cpu" else (input._device.index or 0)


# ---- integer arithmetic ----------------------------------------------------------------------

def _int_pair(name, a, b):
    dt = _dt.result_type(a, b)
    if dt.is_floating_point or dt is _dt.bool_:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt_title(dt)}'")
    a = a.to(dt) if isinstance(a, Tensor) else C.tensor(a, dtype=dt)
    b = b.to(dt) if isinstance(b, Tensor) else C.tensor(b, dtype=dt, device=a.device)
    return a, b, dt


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Greatest common divisor, elementwise, of integer tensors (non-negative; gcd(0, 0) = 0).

    >>> import ember
    >>> ember.gcd(ember.tensor([12, 7]), ember.tensor([18, 21]))
    tensor([6, 7])
    """
    a, b, dt = _int_pair("gcd", input, other)
    a, b = S.broadcast_tensors(E.abs(a), E.abs(b))
    # NOTE: Euclid needs at most ~1.44 * bits steps (Fibonacci worst case); a fixed count keeps
    # the op free of host syncs
    for _ in range(int(dt.itemsize * 8 * 1.45) + 2):
        nz = b != 0
        safe = E.where(nz, b, 1)
        a, b = E.where(nz, b, a), E.where(nz, E.remainder(a, safe), 0)
    return a


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Least common multiple, elementwise, of integer tensors (0 when either is 0).

    >>> import ember
    >>> ember.lcm(ember.tensor([4, 0]), ember.tensor([6, 3]))
    tensor([12,  0])
    """
    a, b, dt = _int_pair("lcm", input, other)
    g = gcd(a, b)
    # NOTE: torch computes a / g * b in C++'s int (at least 32 bits) and takes abs before
    # narrowing back, so an overflowing int8 lcm wraps to the same value as torch's
    wide = _dt.int64 if dt.itemsize < 4 else dt
    q = E.floor_divide(a, E.where(g == 0, 1, g)).to(wide) * b.to(wide)
    return E.abs(E.where(g == 0, 0, q)).to(dt)


def bitwise_left_shift(input, other) -> Tensor:
    """input << other for integer tensors (0 when shifting by the width or more, as torch).

    >>> import ember
    >>> ember.bitwise_left_shift(ember.tensor([1, 3]), 2)
    tensor([ 4, 12])
    """
    return _shift(input, other, left=True)


def bitwise_right_shift(input, other) -> Tensor:
    """input >> other (arithmetic for signed dtypes) for integer tensors.

    >>> import ember
    >>> ember.bitwise_right_shift(ember.tensor([-8, 9]), 1)
    tensor([-4,  4])
    """
    return _shift(input, other, left=False)


def _shift(input, other, left):
    name = "lshift" if left else "rshift"
    if isinstance(input, Tensor) and not isinstance(other, Tensor):
        dt = input._dtype if not isinstance(other, float) else _dt.result_type(input, other)
    else:
        dt = _dt.result_type(input, other)
    if dt.is_floating_point:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt_title(dt)}'")
    if dt is _dt.bool_:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")
    ref = input if isinstance(input, Tensor) else other
    a = input.to(dt) if isinstance(input, Tensor) else C.full((), input, dtype=dt,
                                                               device=ref.device)
    s = other.to(dt) if isinstance(other, Tensor) else C.full((), other, dtype=dt,
                                                               device=ref.device)
    bits = dt.itemsize * 8
    # largest shift whose power of two the dtype holds: 2**(bits-1) wraps to the sign bit,
    # which is still right for multiplication modulo 2**bits, but not for division
    top = bits if left or not dt.is_signed else bits - 1
    ok = (s >= 0) & (s < top)
    p = E.pow(2, E.where(ok, s, 0).to(dt)).to(dt)
    if left:
        return E.where(ok, a * p, 0).to(dt)
    sign_fill = E.where(a < 0, -1, 0).to(dt) if dt.is_signed else C.zeros((), dtype=dt,
                                                                            device=a.device)
    return E.where(ok, E.floor_divide(a, p), sign_fill).to(dt)


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """input * 2**other, in floating point.

    >>> import ember
    >>> ember.ldexp(ember.tensor([1.0]), ember.tensor([3]))
    tensor([8.])
    """
    x = _float(input) if isinstance(input, Tensor) else input
    return E.mul(x, E.exp2(other if isinstance(other, Tensor) else C.tensor(float(other))))


frexp_ret = _return_types.make("frexp", ["mantissa", "exponent"])


def frexp(input: Tensor):
    """Mantissa in [0.5, 1) and int32 exponent with input = mantissa * 2**exponent.

    >>> import ember
    >>> ember.frexp(ember.tensor([8.0])).exponent
    tensor([4], dtype=ember.int32)
    """
    if not input._dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    with no_grad():
        x = input.detach()
        a = E.abs(x)
        special = (a == 0) | E.isinf(x) | E.isnan(x)
        a_safe = E.where(special, 1.0, a)
        # float64 exponent arithmetic keeps subnormals and the float16 range exact
        e = E.floor(E.log2(a_safe.to(_dt.float64))) + 1
        m = a_safe.to(_dt.float64) / E.exp2(e)
        # log2 can round across a power of two: fix the exponent by one where it did
        e = E.where(m >= 1, e + 1, E.where(m < 0.5, e - 1, e))
        e = E.where(special, 0.0, e)
    mant = input / E.exp2(e).to(input._dtype)
    mant = E.where(special, input, mant)
    return frexp_ret(mant, e.to(_dt.int32))


# ---- NaN-aware max/min, rsub -----------------------------------------------------------------

def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN).

    >>> import ember
    >>> ember.fmax(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    if not isinstance(other, Tensor):
        other = C.tensor(other, device=input.device)
    return E.where((input >= other) | E.isnan(other), input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that ignores NaN.

    >>> import ember
    >>> ember.fmin(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    if not isinstance(other, Tensor):
        other = C.tensor(other, device=input.device)
    return E.where((input <= other) | E.isnan(other), input, other)


def rsub(input, other, *, alpha=1) -> Tensor:
    """other - alpha * input.

    >>> import ember
    >>> ember.rsub(ember.tensor([1.0]), 5)
    tensor([4.])
    """
    return E.sub(other, input, alpha=alpha)


# ---- gamma family ----------------------------------------------------------------------------
# NOTE: series in ember ops. The recurrence Gamma(x + 1) = x Gamma(x) moves every point to
# x + _SHIFT, where the asymptotic (Stirling / de Moivre) series has converged to double
# precision; x < 0.5 uses the reflection formula. Each function records one node whose backward
# is the next member of the family (lgamma' = digamma, digamma' = polygamma(1), ...).

_SHIFT = 10
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)


def _sinpi_abs(x):
    r = x - E.round(x)  # exact reduction to [-0.5, 0.5]
    return E.abs(E.sin(math.pi * r))


def _nonpos_int(x):
    return (x <= 0) & (x == E.floor(x))


def _lgamma_pos(x):
    acc = 0.0
    for k in range(_SHIFT):
        acc = acc + E.log(E.abs(x + k))
    y = x + _SHIFT
    inv = 1 / y
    inv2 = inv * inv
    series = 0.0
    for c in reversed(_STIRLING):
        series = series * inv2 + c
    return (y - 0.5) * E.log(y) - y + 0.5 * math.log(2 * math.pi) + series * inv - acc


def _lgamma_impl(x):
    small = x < 0.5
    xr = E.where(small, 1 - x, x)
    base = _lgamma_pos(xr)
    refl = math.log(math.pi) - E.log(_sinpi_abs(x)) - base
    r = E.where(small, refl, base)
    r = E.where(_nonpos_int(x) | E.isinf(x), float("inf"), r)
    # lgamma's two roots, exactly (the series is ~1e-15 off there, a wrong float32 value)
    return E.where((x == 1) | (x == 2), 0.0, r)


def _digamma_pos(x):
    acc = 0.0
    for k in range(_SHIFT):
        acc = acc + 1 / (x + k)
    y = x + _SHIFT
    inv2 = 1 / (y * y)
    series = 0.0
    for k in reversed(range(1, len(_BERNOULLI) + 1)):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k)
    return E.log(y) - 0.5 / y - series * inv2 - acc


def _digamma_impl(x):
    small = x < 0.5
    xr = E.where(small, 1 - x, x)
    base = _digamma_pos(xr)
    # psi(1 - x) - psi(x) = pi / tan(pi x)
    r = E.where(small, base - math.pi / E.tan(math.pi * (x - E.round(x))), base)
    r = E.where(_nonpos_int(x), float("nan"), r)
    r = E.where(x == 0, E.where(E.signbit(x), float("inf"), float("-inf")), r)
    return E.where(x == float("inf"), float("inf"), r)


def _polygamma_pos(n, x):
    # psi^(n)(x) = (-1)^(n+1) n! [sum_k 1/(x+k)^(n+1) + tail(x + SHIFT)]
    acc = 0.0
    for k in range(_SHIFT):
        acc = acc + E.pow(x + k, -(n + 1))
    y = x + _SHIFT
    tail = math.factorial(n - 1) / math.factorial(n) * E.pow(y, -n) + 0.5 * E.pow(y, -(n + 1))
    for k, b in enumerate(_BERNOULLI, 1):
        coef = b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * math.factorial(n))
        tail = tail + coef * E.pow(y, -(2 * k + n))
    return (-1) ** (n + 1) * math.factorial(n) * (acc + tail)


def _polygamma_impl(n, x):
    if n == 0:
        return _digamma_impl(x)
    if n == 1:
        small = x < 0.5
        xr = E.where(small, 1 - x, x)
        base = _polygamma_pos(1, xr)
        s = E.sin(math.pi * (x - E.round(x)))
        r = E.where(small, (math.pi ** 2) / (s * s) - base, base)
        return E.where(_nonpos_int(x), float("inf"), r)
    # NOTE: no reflection for n >= 2: the recurrence alone is accurate for x > 0.5 - SHIFT / 2
    r = _polygamma_pos(n, x)
    return E.where(_nonpos_int(x), float("inf") if n % 2 else float("-inf"), r)


def _special(op, impl, x, params=None):
    with no_grad():
        r = impl(x.detach())
    if _state.enabled and x._requires_grad:
        record(op, (x,), r, params)
    return r


_lgamma_op = defop("lgamma", lambda c, g: (g * digamma(c.inputs[0]),), inputs=True)
_digamma_op = defop("digamma", lambda c, g: (g * polygamma(1, c.inputs[0]),), inputs=True)
_polygamma_op = defop("polygamma", lambda c, g: (g * polygamma(c.params["n"] + 1,
                                                                c.inputs[0]),), inputs=True)


def lgamma(input: Tensor) -> Tensor:
    """log|Gamma(input)|; +inf at the poles.

    >>> import ember
    >>> ember.lgamma(ember.tensor([1.0, 3.0]))
    tensor([0.0000, 0.6931])
    """
    x = _float(input)
    return _special(_lgamma_op, _lgamma_wide if x._dtype is not _dt.float64 else _lgamma_impl, x)


def _lgamma_wide(x):
    # NOTE: torch's float32 lgamma is libm's lgammaf (within an ulp or so of the true value);
    # the series in float32 loses ~1e-6 to cancellation, so evaluate in float64 and round
    if "float64" not in x._device._backend.dtypes:
        return _lgamma_impl(x)
    return _lgamma_impl(x.to(_dt.float64)).to(x._dtype)


def digamma(input: Tensor) -> Tensor:
    """d/dx log Gamma(x); -inf at 0, NaN at negative integers (as torch).

    >>> import ember
    >>> ember.digamma(ember.tensor([1.0]))
    tensor([-0.5772])
    """
    return _special(_digamma_op, _digamma_impl, _float(input))


def polygamma(n: int, input: Tensor) -> Tensor:
    """The n-th derivative of digamma (n = 0 is digamma).

    >>> import ember
    >>> ember.polygamma(1, ember.tensor([1.0]))
    tensor([1.6449])
    """
    if not isinstance(n, int) or n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    x = _float(input)
    if n == 0:
        return digamma(x)
    return _special(_polygamma_op, lambda t: _polygamma_impl(n, t), x, {"n": n})


def _polygamma_method(input, n):
    return polygamma(n, input)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """Multivariate log-gamma of dimension p.

    >>> import ember
    >>> ember.mvlgamma(ember.tensor([2.0]), 2)
    tensor([0.4516])
    """
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _float(input)
    r = p * (p - 1) / 4 * math.log(math.pi)
    for i in range(p):
        r = r + lgamma(x - i / 2)
    return r


def i0(input: Tensor) -> Tensor:
    """Modified Bessel function of the first kind, order 0.

    >>> import ember
    >>> ember.i0(ember.tensor([0.0, 1.0]))
    tensor([1.0000, 1.2661])
    """
    x = _float(input)
    a = E.abs(x)
    small = a <= 15
    # power series for |x| <= 15: sum (x^2/4)^k / (k!)^2
    q = E.where(small, a, 0.0) ** 2 / 4
    term = q * 0 + 1
    s = term
    for k in range(1, 60):
        term = term * q / (k * k)
        s = s + term
    # asymptotic series above: e^x / sqrt(2 pi x) * sum prod (2j-1)^2 / (j 8x)
    b = E.where(small, 16.0, a)
    t = b * 0 + 1
    acc = t
    for j in range(1, 12):
        t = t * ((2 * j - 1) ** 2) / (j * 8 * b)
        acc = acc + t
    big = E.exp(b) / E.sqrt(2 * math.pi * b) * acc
    return E.where(small, s, big)


# ---- statistics ------------------------------------------------------------------------------

nanmedian_ret = _return_types.make("nanmedian", ["values", "indices"])


def nanmedian(input: Tensor, dim=None, keepdim=False):
    """Lower median ignoring NaN (NaN only where a row is all NaN), as torch.

    >>> import ember
    >>> ember.nanmedian(ember.tensor([1.0, float("nan"), 3.0, 2.0]))
    tensor(2.)
    """
    if dim is None:
        x, d = S.reshape(input, (-1,)), 0
    else:
        x = input if input.ndim else S.reshape(input, (1,))
        d = _norm_dim(dim, x.ndim, "nanmedian")
    v, i = R.sort(x, d)
    k = R.sum(~E.isnan(x), d, keepdim=True)
    pos = E.clamp(E.floor_divide(k - 1, 2), min=0)
    val, idx = I.gather(v, d, pos), I.gather(i, d, pos)
    if dim is None:
        return S.reshape(val, ())
    if not keepdim or input.ndim == 0:
        val, idx = S.squeeze(val, d), S.squeeze(idx, d)
    return nanmedian_ret(val, idx)


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the variables in the rows of input (observations in columns).

    >>> import ember
    >>> ember.cov(ember.tensor([[1.0, 2.0, 4.0]]))
    tensor(2.3333)
    """
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = S.reshape(input, (1, -1)) if input.ndim < 2 else input
    x = _float(x)
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights._dtype.is_floating_point:
            raise RuntimeError("cov(): expected fweights to have integral dtype but got "
                               f"fweights with {_dt_title(fweights._dtype)} dtype")
        w = fweights
    if aweights is not None:
        if not aweights._dtype.is_floating_point:
            raise RuntimeError("cov(): expected aweights to have floating point dtype but got "
                               f"aweights with {_dt_title(aweights._dtype)} dtype")
        w = aweights if w is None else w * aweights
    if w is None:
        avg = R.mean(x, 1)
        w_sum = n_obs
        norm = n_obs - correction
    else:
        w = w.to(x.dtype)
        w_sum = R.sum(w)
        avg = R.sum(x * w, 1) / w_sum
        if correction == 0:
            norm = w_sum
        elif aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * R.sum(w * aweights) / w_sum
    if isinstance(norm, Tensor):
        norm = E.clamp(norm, min=0)
    else:
        norm = max(norm, 0)
    xm = x - S.unsqueeze(avg, 1)
    xw = xm if w is None else xm * w
    c = L.matmul(xw, S.t(xm)) / norm
    return S.squeeze(c) if input.ndim < 2 or c.shape == (1, 1) else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of input, clipped to [-1, 1].

    >>> import ember
    >>> ember.corrcoef(ember.tensor([[1.0, 2.0], [2.0, 4.0]]))
    tensor([[1., 1.],
            [1., 1.]])
    """
    c = cov(input)
    if c.ndim == 0:
        return c / c
    sd = E.sqrt(S.diagonal(c))
    c = c / S.unsqueeze(sd, 1)
    c = c / S.unsqueeze(sd, 0)
    return E.clamp(c, -1, 1)


@_amp.float32_op
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """p-norm of input - other.

    >>> import ember
    >>> ember.dist(ember.tensor([0.0, 0.0]), ember.tensor([3.0, 4.0]))
    tensor(5.)
    """
    return R.norm(E.sub(input, other), p)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Integral of y along dim by the trapezoid rule (spacing x, or a constant dx).

    >>> import ember
    >>> ember.trapezoid(ember.tensor([1.0, 2.0, 4.0]))
    tensor(4.5000)
    """
    d = _norm_dim(dim, y.ndim, "trapezoid")
    n = y.shape[d]
    if n == 0:
        return R.sum(y, d)
    left, right = S.narrow(y, d, 0, n - 1), S.narrow(y, d, 1, n - 1)
    if isinstance(x, Tensor):
        if x.ndim == 1:
            shape = [1] * y.ndim
            shape[d] = n
            x = S.reshape(x, shape)
        xd = _norm_dim(dim, x.ndim, "trapezoid") if x.ndim == y.ndim else d
        spacing = R.diff(x, dim=xd)
        return R.sum(spacing * (left + right), d) / 2
    if x is not None and dx is not None:
        raise RuntimeError("trapezoid: received both x and dx")
    step = x if x is not None else (1 if dx is None else dx)
    r = R.sum(left + right, d) * step / 2
    return r if r._dtype.is_floating_point else r.to(_dt.get_default_dtype())


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Alias of trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoid-rule integral of y along dim (one element shorter than y).

    >>> import ember
    >>> ember.cumulative_trapezoid(ember.tensor([1.0, 2.0, 4.0]))
    tensor([1.5000, 4.5000])
    """
    d = _norm_dim(dim, y.ndim, "cumulative_trapezoid")
    n = y.shape[d]
    left, right = S.narrow(y, d, 0, max(n - 1, 0)), S.narrow(y, d, min(1, n), max(n - 1, 0))
    if isinstance(x, Tensor):
        if x.ndim == 1:
            shape = [1] * y.ndim
            shape[d] = n
            x = S.reshape(x, shape)
        spacing = R.diff(x, dim=d)
        return R.cumsum(spacing * (left + right) / 2, d)
    step = x if x is not None else (1 if dx is None else dx)
    r = R.cumsum((left + right) * step / 2, d)
    return r if r._dtype.is_floating_point else r.to(_dt.get_default_dtype())


histogram_ret = _return_types.make("histogram", ["hist", "bin_edges"])


def histogram(input: Tensor, bins=100, *, range=None, weight=None, density=False):
    """Histogram of input's values with equal-width bins (or given edges) and its bin edges.

    >>> import ember
    >>> ember.histogram(ember.tensor([1.0, 2.0, 1.0]), bins=2).hist
    tensor([2., 1.])
    """
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {_dt_title(input._dtype)} and bins "
                           f"{_dt_title(_dt.get_default_dtype())}")
    x = S.reshape(input.detach(), (-1,))
    if isinstance(bins, Tensor):
        edges = bins.to(input.dtype)
    else:
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif x.numel():
            # NOTE: a data-dependent range is a host sync in torch too
            lo, hi = float(R.amin(x).item()), float(R.amax(x).item())
        else:
            lo, hi = 0.0, 0.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # numpy's and torch's rule for an empty range
        edges = C.linspace(lo, hi, bins + 1, dtype=input.dtype, device=input.device)
    nb = edges.shape[0] - 1
    pos = R.searchsorted(edges, x, right=True) - 1
    last = x == edges[-1]
    pos = E.where(last, nb - 1, pos)
    inside = (pos >= 0) & (pos < nb)
    w = C.ones_like(x) if weight is None else S.reshape(weight, (-1,)).to(input.dtype)
    w = E.where(inside, w, 0.0)
    hist = I.scatter_add(C.zeros(nb, dtype=input.dtype, device=input.device), 0,
                         E.where(inside, pos, 0), w)
    if density:
        hist = hist / (R.sum(hist) * R.diff(edges))
    return histogram_ret(hist, edges)


def isin(elements, test_elements, *, assume_unique=False, invert=False) -> Tensor:
    """True where an element of ``elements`` occurs in ``test_elements``.

    >>> import ember
    >>> ember.isin(ember.tensor([1, 2, 3]), ember.tensor([2, 5]))
    tensor([False,  True, False])
    """
    if not isinstance(elements, Tensor):
        elements = C.tensor(elements, device=test_elements.device)
    if not isinstance(test_elements, Tensor):
        test_elements = C.tensor(test_elements, device=elements.device)
    dt = _dt.result_type(elements, test_elements)
    t, _ = R.sort(S.reshape(test_elements, (-1,)).to(dt))
    e = elements.to(dt)
    if t.numel() == 0:
        hit = C.zeros(e.shape, dtype=_dt.bool_, device=e.device)
    else:
        pos = E.clamp(R.searchsorted(t, S.reshape(e, (-1,))), max=t.shape[0] - 1)
        hit = S.reshape(I.gather(t, 0, pos) == S.reshape(e, (-1,)), e.shape)
    return ~hit if invert else hit


# ---- shapes ----------------------------------------------------------------------------------

def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:
    """Cross product along dim (default: the first dim of size 3), broadcasting.

    >>> import ember
    >>> ember.cross(ember.tensor([1.0, 0, 0]), ember.tensor([0.0, 1, 0]), dim=0)
    tensor([0., 0., 1.])
    """
    a, b = S.broadcast_tensors(input, other)
    if a.shape != input.shape or b.shape != other.shape:
        a, b = S.contiguous(a), S.contiguous(b)
    if dim is None:
        dim = next((i for i, s in enumerate(a.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = _norm_dim(dim, a.ndim, "cross")
    if a.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d] if input.ndim == a.ndim else a.shape[d]} and "
                           f"{other.shape[d] if other.ndim == a.ndim else b.shape[d]}")
    def comp(t, k):
        return S.select(t, d, k)
    a0, a1, a2 = comp(a, 0), comp(a, 1), comp(a, 2)
    b0, b1, b2 = comp(b, 0), comp(b, 1), comp(b, 2)
    return S.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@_amp.float32_op
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Rescale each slice along dim whose p-norm exceeds maxnorm to norm maxnorm.

    >>> import ember
    >>> ember.renorm(ember.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"renorm: Expected a floating point tensor as input. Got "
                           f"{_dt_title(input._dtype)}")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = _norm_dim(dim, input.ndim, "renorm")
    others = [i for i in range(input.ndim) if i != d]
    norms = R.norm(input, p, others, keepdim=True) if others else E.abs(input)
    factor = E.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return input * factor


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees k times in the plane of dims (from the first toward the second).

    >>> import ember
    >>> ember.rot90(ember.tensor([[1, 2], [3, 4]]))
    tensor([[2, 4],
            [1, 3]])
    """
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (_norm_dim(x, input.ndim, "rot90") for x in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return S.transpose(S.flip(input, (d1,)), d0, d1)
    if k == 2:
        return S.flip(input, (d0, d1))
    if k == 3:
        return S.transpose(S.flip(input, (d0,)), d0, d1)
    return S.clone(input)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """2-D tensor with the flattened input on diagonal offset.

    >>> import ember
    >>> ember.diagflat(ember.tensor([[1, 2]]))
    tensor([[1, 0],
            [0, 2]])
    """
    return C.diag(S.reshape(input, (-1,)), offset)


def _scatter_into_view(input, src, view_fn):
    """A copy of input with src written where ``view_fn(input)`` would look."""
    pos = view_fn(S.reshape(C.arange(input.numel(), device=input.device), input.shape))
    if tuple(src.shape) != tuple(pos.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(pos.shape)}")
    flat = S.reshape(input, (-1,))
    if pos.numel() == 0:
        return S.clone(input)
    out = I.scatter(flat, 0, S.reshape(pos, (-1,)), S.reshape(src.to(input.dtype), (-1,)))
    return S.reshape(out, input.shape)


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """A copy of input with src written on its diagonal (offset, dim1, dim2).

    >>> import ember
    >>> ember.diagonal_scatter(ember.zeros(2, 2), ember.ones(2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    return _scatter_into_view(input, src, lambda t: S.diagonal(t, offset, dim1, dim2))


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of input with src written at ``index`` along dim.

    >>> import ember
    >>> ember.select_scatter(ember.zeros(2, 2), ember.ones(2), 0, 0)
    tensor([[1., 1.],
            [0., 0.]])
    """
    return _scatter_into_view(input, src, lambda t: S.select(t, dim, index))


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None,
                  step: int = 1) -> Tensor:
    """A copy of input with src written into the slice start:end:step of dim.

    >>> import ember
    >>> ember.slice_scatter(ember.zeros(4), ember.ones(2), start=2)
    tensor([0., 0., 1., 1.])
    """
    d = _norm_dim(dim, input.ndim, "slice_scatter")
    idx = (slice(None),) * d + (slice(start, end, step),)
    return _scatter_into_view(input, src, lambda t: t[idx])


def _split_along(name, input, sections, dim, min_dims):
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension"
                           f"{'s' if min_dims > 1 else ''}, but got a tensor with {input.ndim} "
                           "dimensions!")
    if isinstance(sections, int):
        size = input.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the split_size "
                               f"{sections}!")
    return S.tensor_split(input, sections, dim)


def hsplit(input: Tensor, indices_or_sections):
    """Split along dim 1 (dim 0 for 1-D tensors) into equal sections or at indices.

    >>> import ember
    >>> [t.shape for t in ember.hsplit(ember.zeros(2, 4), 2)]
    [ember.Size([2, 2]), ember.Size([2, 2])]
    """
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input: Tensor, indices_or_sections):
    """Split along dim 0 (needs 2 dims or more)."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections):
    """Split along dim 2 (needs 3 dims or more)."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0):
    """Split into pieces of the given sizes along dim (they must add up to its size)."""
    d = _norm_dim(dim, input.ndim, "split_with_sizes")
    if sum(split_sizes) != input.shape[d]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[d]} (input tensor's size at dimension {dim}), but got "
                           f"split_sizes={list(split_sizes)}")
    return tuple(S.split(input, list(split_sizes), d))


def _unmark(views):
    # the unsafe_* variants exist to allow in-place changes of their outputs
    for t in views:
        if t._aux is not None:
            t._aux.pop("multi_output", None)
    return tuple(views)


def unsafe_split(input: Tensor, split_size, dim: int = 0):
    return _unmark(S.split(input, split_size, dim))


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0):
    return _unmark(S.chunk(input, chunks, dim))


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """narrow, but a fresh tensor rather than a view."""
    return S.clone_contiguous(S.narrow(input, dim, start, length))


def block_diag(*tensors) -> Tensor:
    """Block-diagonal matrix of the given (0-, 1- or 2-D) tensors, promoting their dtypes.

    >>> import ember
    >>> ember.block_diag(ember.tensor([[1]]), ember.tensor([[2, 3]]))
    tensor([[1, 0, 0],
            [0, 2, 3]])
    """
    mats = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {i} has {t.ndim} dimensions")
        mats.append(S.reshape(t, (1, -1) if t.ndim == 1 else (1, 1)) if t.ndim < 2 else t)
    if not mats:
        return C.empty(1, 0)
    dt = mats[0].dtype
    for m in mats[1:]:
        dt = _dt.promote_types(dt, m.dtype)
    dev = mats[0].device
    width = sum(m.shape[1] for m in mats)
    rows, col = [], 0
    for m in mats:
        r, c = m.shape
        parts = []
        if col:
            parts.append(C.zeros(r, col, dtype=dt, device=dev))
        parts.append(m.to(dt))
        if width - col - c:
            parts.append(C.zeros(r, width - col - c, dtype=dt, device=dev))
        rows.append(S.cat(parts, 1))
        col += c
    return S.cat(rows, 0)


def vander(x: Tensor, N=None, increasing: bool = False) -> Tensor:
    """Vandermonde matrix: columns are powers of x (decreasing unless increasing).

    >>> import ember
    >>> ember.vander(ember.tensor([1, 2, 3]), N=3)
    tensor([[1, 1, 1],
            [4, 2, 1],
            [9, 3, 1]])
    """
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    dt = x.dtype if x.dtype.is_floating_point else _dt.int64
    if n == 0:
        return C.empty(x.shape[0], 0, dtype=dt, device=x.device)
    ones = C.ones(x.shape[0], 1, dtype=dt, device=x.device)
    if n == 1:
        r = ones
    else:
        # torch builds it with cumprod; match its rounding and gradient
        reps = S.expand(S.unsqueeze(x.to(dt), 1), (x.shape[0], n - 1))
        r = R.cumprod(S.cat([ones, reps], 1), 1)
    return r if increasing else S.flip(r, (1,))


def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (a view for real tensors)."""
    from .complex import conj
    return conj(S.transpose(input, -2, -1))


def detach(input: Tensor) -> Tensor:
    return input.detach()


def fill(input: Tensor, value) -> Tensor:
    """A tensor like input filled with value (out-of-place torch.fill)."""
    return C.full(input.shape, value.item() if isinstance(value, Tensor) else value,
                  dtype=input.dtype, device=input.device)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding s (float32 by default, as torch)."""
    return C.full((), s, dtype=dtype or _dt.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def unravel_index(indices, shape):
    """Tuple of coordinate tensors of flat indices into shape.

    >>> import ember
    >>> ember.unravel_index(ember.tensor([5]), (2, 3))
    (tensor([1]), tensor([2]))
    """
    if not isinstance(indices, Tensor):
        indices = C.tensor(indices)
    if indices._dtype.is_floating_point or indices._dtype is _dt.bool_:
        raise TypeError("expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    total = math.prod(shape)
    flat = indices.to(_dt.int64)
    if not R.all((flat >= -total) & (flat < total)).item():
        raise RuntimeError("index out of bounds")
    flat = E.remainder(flat, max(total, 1))
    out = []
    for s in reversed(shape):
        out.append(E.remainder(flat, s))
        flat = E.floor_divide(flat, s)
    return tuple(reversed(out))


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Length-r combinations of a 1-D tensor's elements, one per row (itertools order)."""
    import itertools
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r == 0:
        return C.empty(0, dtype=input.dtype, device=input.device)
    gen = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = list(gen(range(input.shape[0]), r))
    if not idx:
        return C.empty(0, r, dtype=input.dtype, device=input.device)
    ix = C.tensor(idx, dtype=_dt.int64, device=input.device)
    return S.reshape(I.index_select(input, 0, S.reshape(ix, (-1,))), (len(idx), r))


def _copy_of(view):
    def fn(input, *args, **kwargs):
        return S.clone_contiguous(view(input, *args, **kwargs))
    fn.__name__ = view.__name__ + "_copy"
    fn.__doc__ = f"{view.__name__}, but a fresh tensor rather than a view."
    return fn


view_copy = _copy_of(S.view)
permute_copy = _copy_of(S.permute)
t_copy = _copy_of(S.t)
transpose_copy = _copy_of(S.transpose)
unsqueeze_copy = _copy_of(S.unsqueeze)
squeeze_copy = _copy_of(S.squeeze)
expand_copy = _copy_of(S.expand)
diagonal_copy = _copy_of(S.diagonal)
select_copy = _copy_of(S.select)
detach_copy = _copy_of(detach)

def alias_copy(input: Tensor) -> Tensor:
    """A fresh copy of input."""
    return S.clone_contiguous(input)


def slice_copy(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    d = _norm_dim(dim, input.ndim, "slice_copy")
    return S.clone_contiguous(input[(slice(None),) * d + (slice(start, end, step),)])


def unbind_copy(input: Tensor, dim: int = 0):
    return tuple(S.clone_contiguous(t) for t in S.unbind(input, dim))


def split_copy(input: Tensor, split_size, dim: int = 0):
    return tuple(S.clone_contiguous(t) for t in S.split(input, split_size, dim))


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum input down to the broadcast-compatible size (Tensor.sum_to_size)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    ok = len(size) <= input.ndim and all(
        s == 1 or s == n for s, n in zip(reversed(size), reversed(input.shape)))
    if not ok:
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size "
                           f"{{{list(input.shape)}}}.")
    return S.sum_to(input, tuple(size))


# ---- linear algebra --------------------------------------------------------------------------

def _la():
    from .. import linalg_api
    return linalg_api


def matrix_power(input: Tensor, n: int) -> Tensor:
    """input @ input @ ... (n times; n < 0 inverts first; n = 0 gives identities).

    >>> import ember
    >>> ember.matrix_power(ember.tensor([[1.0, 1.0], [0.0, 1.0]]), 3)
    tensor([[1., 3.],
            [0., 1.]])
    """
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they "
                           f"are {input.shape[-2] if input.ndim > 1 else input.shape[-1]} by "
                           f"{input.shape[-1]} matrices")
    if n == 0:
        return S.contiguous(S.expand(C.eye(input.shape[-1], dtype=input.dtype,
                                           device=input.device), input.shape))
    a = _la().inv(input) if n < 0 else input
    n = abs(n)
    # square-and-multiply: log2(n) products instead of n
    result = None
    while n:
        if n & 1:
            result = a if result is None else L.matmul(result, a)
        n >>= 1
        if n:
            a = L.matmul(a, a)
    return result


@_amp.float32_op
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Moore-Penrose pseudo-inverse via SVD, dropping singular values below rcond * max.

    >>> import ember
    >>> ember.pinverse(ember.tensor([[2.0, 0.0], [0.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]])
    """
    U, Sv, Vh = _la().svd(input, full_matrices=False)
    cut = rcond * R.amax(Sv, -1, keepdim=True)
    keep = Sv > cut
    sinv = E.where(keep, 1.0 / E.where(keep, Sv, 1.0), 0.0)
    return L.matmul(S.transpose(Vh, -2, -1) * S.unsqueeze(sinv, -2), S.transpose(U, -2, -1))


svd_ret = _return_types.make("svd", ["U", "S", "V"])
qr_ret = _return_types.make("qr", ["Q", "R"])


@_amp.float32_op
def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """The old torch.svd: U, S, V with input = U diag(S) V^T (V, not V^T)."""
    U, Sv, Vh = _la().svd(input, full_matrices=not some)
    V = S.transpose(Vh, -2, -1)
    if not compute_uv:
        return svd_ret(C.zeros_like(U), Sv, C.zeros_like(V))
    return svd_ret(U, Sv, V)


@_amp.float32_op
def qr(input: Tensor, some: bool = True):
    """The old torch.qr (reduced unless some=False)."""
    Q, Rm = _la().qr(input, mode="reduced" if some else "complete")
    return qr_ret(Q, Rm)


@_amp.float32_op
def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """The old torch.cholesky."""
    return _la().cholesky(input, upper=upper)


@_amp.float32_op
def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """Inverse of A from its Cholesky factor (A = L L^T, or U^T U when upper)."""
    f = input
    a = L.matmul(S.transpose(f, -2, -1), f) if upper else L.matmul(f, S.transpose(f, -2, -1))
    return _la().inv(a)


@_amp.float32_op
def cholesky_solve(B: Tensor, L_: Tensor, upper: bool = False) -> Tensor:
    """Solve A X = B given A's Cholesky factor."""
    a = L.matmul(S.transpose(L_, -2, -1), L_) if upper else L.matmul(L_, S.transpose(L_, -2, -1))
    return _la().solve(a, B)


# ---- random in-place fills -------------------------------------------------------------------

def _fill_random(self, vals):
    # NOTE: sampling is not differentiable: commit the values as constants
    with no_grad():
        return self._commit_inplace(vals.to(self._dtype))


def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None):
    """Fill with samples of the Cauchy distribution, in place."""
    if not self._dtype.is_floating_point:
        raise RuntimeError(f"cauchy_ expects a floating point tensor, got "
                           f"{_dt_title(self._dtype)}")
    with no_grad():
        u = C.rand(self.shape, generator=generator, dtype=self._dtype, device=self._device)
        vals = median + sigma * E.tan(math.pi * (u - 0.5))
    return _fill_random(self, vals)


def geometric_(self, p: float, *, generator=None):
    """Fill with samples of the geometric distribution on {1, 2, ...}, in place."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    with no_grad():
        u = C.rand(self.shape, generator=generator, dtype=_dt.float64, device=self._device)
        vals = E.ceil(E.log(1 - u) / math.log1p(-p))
        vals = E.clamp(vals, min=1)
    return _fill_random(self, vals)


def fill_diagonal_(self, fill_value, wrap: bool = False):
    """Fill the main diagonal (of a 2-D or all-equal-dims tensor) with fill_value, in place.

    >>> import ember
    >>> ember.zeros(2, 2).fill_diagonal_(3.0)
    tensor([[3., 0.],
            [0., 3.]])
    """
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    shape = tuple(self.shape)
    if self.ndim > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    step = sum(strides)
    size = min(shape[0], shape[1])
    pos = [k * step for k in range(size)]
    if wrap and self.ndim == 2 and shape[0] > shape[1] + 1:
        width = shape[1]
        wrap_size = (self.numel() + width) // (width + 1) - size
        offset = strides[0] * (width + 1)
        pos += [offset + k * step for k in range(wrap_size)]
    mask = C.zeros(self.numel(), dtype=_dt.bool_, device=self._device)
    if pos:
        mask = I.index_fill(mask, 0, C.tensor(pos, dtype=_dt.int64, device=self._device), True)
    mask = S.reshape(mask, shape)
    value = C.full((), fill_value, dtype=self._dtype, device=self._device)
    return self._commit_inplace(E.where(mask, value, self))


# ---- method table ----------------------------------------------------------------------------

METHODS: dict = {
    "acosh": acosh, "asinh": asinh, "atanh": atanh, "arccosh": acosh, "arcsinh": asinh,
    "arctanh": atanh, "logaddexp2": logaddexp2, "logcumsumexp": logcumsumexp, "cummin": cummin,
    "cummax": cummax,
    "isneginf": isneginf, "isposinf": isposinf, "isreal": isreal, "gcd": gcd, "lcm": lcm,
    "ldexp": ldexp, "frexp": frexp, "bitwise_left_shift": bitwise_left_shift,
    "bitwise_right_shift": bitwise_right_shift, "fmax": fmax, "fmin": fmin,
    "lgamma": lgamma, "digamma": digamma, "polygamma": _polygamma_method, "mvlgamma": mvlgamma,
    "i0": i0, "nanmedian": nanmedian, "cov": cov, "corrcoef": corrcoef, "dist": dist,
    "histogram": histogram, "cross": cross, "renorm": renorm, "rot90": rot90,
    "diagflat": diagflat, "diagonal_scatter": diagonal_scatter, "select_scatter": select_scatter,
    "slice_scatter": slice_scatter, "hsplit": hsplit, "vsplit": vsplit, "dsplit": dsplit,
    "narrow_copy": narrow_copy, "split_with_sizes": split_with_sizes,
    "unsafe_split": unsafe_split, "unsafe_chunk": unsafe_chunk, "adjoint": adjoint,
    "is_same_size": is_same_size, "is_inference": is_inference, "get_device": get_device,
    "sum_to_size": sum_to_size, "matrix_power": matrix_power, "pinverse": pinverse,
    "cholesky_inverse": cholesky_inverse, "cholesky_solve": cholesky_solve,
    "svd": svd, "qr": qr, "vdot": L.vdot, "slogdet": lambda self: _la().slogdet(self),
    "is_nonzero": lambda self: bool(self.item()) if self.numel() == 1 else _nonzero_error(self),
    "fill_diagonal_": fill_diagonal_, "cauchy_": cauchy_, "geometric_": geometric_,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rlshift__": lambda self, other: bitwise_left_shift(other, self),
    "__rrshift__": lambda self, other: bitwise_right_shift(other, self),
    "__ilshift__": lambda self, other: self._commit_inplace(bitwise_left_shift(self, other)),
    "__irshift__": lambda self, other: self._commit_inplace(bitwise_right_shift(self, other)),
    # existing ops that gain an in-place variant below
    "greater": E.gt, "greater_equal": E.ge, "less": E.lt, "less_equal": E.le,
    "not_equal": E.ne, "arccos": E.acos, "arcsin": E.asin, "arctan": E.atan,
    "arctan2": E.atan2, "erfc": E.erfc, "sinc": E.sinc, "heaviside": E.heaviside,
    "addbmm": L.addbmm, "addr": L.addr, "sign": E.sign, "logical_not": E.logical_not,
}


def _nonzero_error(self):
    if self.numel() == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")


INPLACE: set = {
    "acosh", "asinh", "atanh", "arccosh", "arcsinh", "arctanh", "gcd", "lcm", "ldexp",
    "bitwise_left_shift", "bitwise_right_shift", "lgamma", "digamma",
    "polygamma", "mvlgamma", "i0", "renorm", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "arccos", "arcsin", "arctan", "arctan2", "erfc", "sinc", "heaviside", "addbmm",
    "addr",
}

# torch-level names of existing Tensor ops that torch also exports as functions
greater, greater_equal, less, less_equal, not_equal = E.gt, E.ge, E.lt, E.le, E.ne
multiply = E.mul
sgn = E.sign


def _torch_inplace(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}(input, ...): the in-place Tensor.{name}."
    return fn


# torch also exports these in-place ops as functions (torch.relu_(x) is x.relu_())
_TORCH_INPLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
    "expm1_", "fix_", "floor_", "frac_", "gcd_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_",
    "log_", "logit_", "nan_to_num_", "negative_", "rad2deg_", "reciprocal_", "relu_", "rsqrt_",
    "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_",
    "xlogy_", "zero_", "fill_", "i0_", "addmv_", "detach_",
)
for _n in _TORCH_INPLACE:
    globals()[_n] = _torch_inplace(_n)
__all__ += list(_TORCH_INPLACE)
del _n
