"""Complex tensors: their parts, conjugation, polar form and real views, and torch's autograd
convention for them.

NOTE (the convention): for a real loss L of z = x + iy, ``z.grad`` is dL/dx + i dL/dy (torch's
conjugate Wirtinger gradient, scaled by 2). A holomorphic op f then passes back
``grad * conj(f'(z))``. The real backward rules of holomorphic ops compute ``grad * f'(z)``;
``conjugate_rule`` turns such a rule into the complex one, conj(rule(conj(grad))), so each
derivative stays written once. A real input of a complex op keeps the real part of its gradient
(the autograd engine's cast).
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from ..tensor import Tensor, _dt_name
from .registry import OPS, _state, defop, record

_wrap = Tensor._wrap


def _kernel(x, name):
    k = x._device._backend.kernels.get(name)
    if k is None:
        raise RuntimeError(f"{name}: the {x._device.type} backend has no kernel for complex "
                           f"tensors (dtype {x._dtype})")
    return k


def _check_tensor(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")


def _unary(op, x, kernel, out_dtype):
    """Run ``kernel`` on x's buffer, wrap the result as ``out_dtype``, record ``op``."""
    res = _wrap(_kernel(x, kernel)(x._data), out_dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(op, (x,), res)
    return res


def _view(x, data, view_fn, op, dtype):
    from .shape import _make_view
    return _make_view(x, data, view_fn, op, dtype=dtype)


# ---- the autograd convention -----------------------------------------------------------------

def conjugate_rule(rule):
    """The backward rule of a holomorphic op from its real one (see the module's NOTE), for the
    nodes of complex results (``OpDef.complex_node_cls``); real results keep ``rule`` itself."""
    def complex_aware(ctx, *grads):
        g = grads[0]
        if g is None or not g._dtype.is_complex:  # (a real gradient: the engine's cast)
            return rule(ctx, *grads)
        res = rule(ctx, *[conj(x) if x is not None else None for x in grads])
        if isinstance(res, Tensor):
            return conj(res)
        return tuple([conj(r) if isinstance(r, Tensor) else r for r in res])
    complex_aware.__name__ = getattr(rule, "__name__", "rule")
    complex_aware.__wrapped__ = rule
    return complex_aware


# the ops whose backward rule is grad * f'(z) (or a sum of such terms), f holomorphic
HOLOMORPHIC = ("mul", "div", "pow", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos",
               "tan", "tanh", "sigmoid", "asin", "acos", "atan", "sinh", "cosh", "log2", "exp2",
               "reciprocal", "matmul", "prod", "cumprod", "linear", "linear_nobias")


def _install_conjugate_rules():
    for name in HOLOMORPHIC:
        op = OPS.get(name)
        if op is None or op.backward is None or op.complex_node_cls is not op.node_cls:
            continue
        real_cls = op.node_cls
        # (a subclass of the same name: grad_fn reads MulBackward0 for complex results too)
        op.complex_node_cls = type(real_cls.__name__, (real_cls,), {
            "__slots__": (), "_backward": conjugate_rule(real_cls._backward)})


# ---- parts and conjugation -------------------------------------------------------------------

def _g_real(ctx, g):
    return (g.to(ctx.params["dtype"]),)


def _g_imag(ctx, g):
    return (g.to(ctx.params["dtype"]) * 1j,)


_real_op = defop("real", _g_real, node_name="RealBackward0")
_imag_op = defop("imag", _g_imag, node_name="ImagBackward0")


def real(input):
    """The real part of a complex tensor, as a view (writable); a real tensor itself.

    >>> ember.real(ember.tensor([1 + 2j]))
    tensor([1.])
    """
    _check_tensor(input, "real")
    if not input._dtype.is_complex:
        return input
    return _part_view(input, "real_view", real, _real_op)


def imag(input):
    """The imaginary part of a complex tensor, as a view (writable).

    >>> ember.imag(ember.tensor([1 + 2j]))
    tensor([2.])
    """
    _check_tensor(input, "imag")
    if not input._dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _part_view(input, "imag_view", imag, _imag_op)


def _part_view(x, kernel, view_fn, op):
    from .shape import _make_view
    return _make_view(x, _kernel(x, kernel)(x._data), view_fn, op, {"dtype": x._dtype},
                      dtype=x._dtype.to_real())


def _g_conj(ctx, g):
    return (conj(g),)


_conj_op = defop("conj", _g_conj, node_name="ConjBackward0")


def conj(input):
    """The complex conjugate; a real tensor itself.

    NOTE: torch returns a lazy conjugate view (``is_conj()`` True); Ember computes the values
    (``conj_physical``), so writes to the result do not reach ``input``.

    >>> ember.conj(ember.tensor([1 + 2j]))
    tensor([1.-2.j])
    """
    _check_tensor(input, "conj")
    if not input._dtype.is_complex:
        return input
    return _unary(_conj_op, input, "conj", input._dtype)


def conj_physical(input):
    """The complex conjugate, computed (a real tensor: a copy)."""
    _check_tensor(input, "conj_physical")
    if not input._dtype.is_complex:
        return input.clone()
    return conj(input)


def resolve_conj(input):
    """``input`` itself: Ember's conjugates are never lazy views."""
    return input


def resolve_neg(input):
    """``input`` itself: Ember has no lazy negative views."""
    return input


def is_conj(input) -> bool:
    """False: Ember's conjugates are computed, never lazy views."""
    return False


def is_neg(input) -> bool:
    return False


def is_complex(input) -> bool:
    """Whether ``input`` has a complex dtype (torch.is_complex)."""
    return input._dtype.is_complex


# ---- magnitude, phase, polar form -------------------------------------------------------------

def sgn(input):
    """z / |z| (0 at 0) for complex tensors; sign(x) for real ones (torch.sgn).

    >>> ember.sgn(ember.tensor([3 + 4j]))
    tensor([0.6000+0.8000j])
    """
    from .elementwise import abs as abs_, sign, where
    if not input._dtype.is_complex:
        return sign(input)
    a = abs_(input)
    return where(a == 0, 0.0, input / where(a == 0, 1.0, a))


def _g_abs(ctx, g):
    # NOTE: torch's abs gradient for complex z is grad * z / |z|, and 0 at z == 0
    return (g * sgn(ctx.inputs[0]),)


_abs_op = defop("abs_complex", _g_abs, inputs=True, node_name="AbsBackward0")


def complex_abs(input):
    """|z| of a complex tensor, in its parts' dtype (the complex case of ember.abs)."""
    return _unary(_abs_op, input, "abs", input._dtype.to_real())


def _g_angle(ctx, g):
    (z,) = ctx.inputs
    from .elementwise import where
    a = complex_abs(z)
    return (where(a == 0, 0.0, g * z * 1j / where(a == 0, 1.0, a * a)),)


_angle_op = defop("angle", _g_angle, inputs=True, node_name="AngleBackward0")


def angle(input):
    """The phase of each element, in radians (atan2(imag, real)); for a real tensor pi where
    it is negative, else 0 (NaN kept), as torch.

    >>> ember.angle(ember.tensor([-1.0, 2.0]))
    tensor([3.1416, 0.0000])
    """
    _check_tensor(input, "angle")
    if input._dtype.is_complex:
        return _unary(_angle_op, input, "angle", input._dtype.to_real())
    from .elementwise import isnan, where
    x = input if input._dtype.is_floating_point else input.to(_dt.get_default_dtype())
    r = where(x < 0, math.pi, 0.0).to(x._dtype)
    return where(isnan(x), x, r) if x._dtype.is_floating_point else r


def _g_complex(ctx, g):
    return real(g), imag(g)


_complex_op = defop("complex", _g_complex, node_name="ComplexBackward0")


def complex(real, imag, *, out=None):
    """The complex tensor real + i imag (float or double parts of one dtype; broadcasting).

    >>> ember.complex(ember.tensor([1.0]), ember.tensor([2.0]))
    tensor([1.+2.j])
    """
    for t in (real, imag):
        _check_tensor(t, "complex")
    a, b = real._dtype, imag._dtype
    if a not in (_dt.float32, _dt.float64, _dt.float16) or \
            b not in (_dt.float32, _dt.float64, _dt.float16):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{_dt_name(a)} and {_dt_name(b)}")
    if a is not b:
        raise RuntimeError(f"Expected object of scalar type {_dt_name(a)} but got scalar type "
                           f"{_dt_name(b)} for second argument")
    if real._device is not imag._device:
        from .registry import device_mismatch
        raise RuntimeError(device_mismatch("complex", real, imag))
    from .elementwise import broadcast_shapes
    broadcast_shapes("complex", real._data.shape, imag._data.shape)
    dt = a.to_complex()
    k = real._device._backend.kernels
    re, im = real._data, imag._data
    if a is _dt.float16:
        re, im = k["cast"](re, _dt.float32), k["cast"](im, _dt.float32)
    res = _wrap(_kernel(real, "complex")(re, im), dt, real._device)
    if _state.enabled and (real._requires_grad or imag._requires_grad):
        record(_complex_op, (real, imag), res)
    if out is not None:
        from .elementwise import _out
        return _out(res, out)
    return res


def polar(abs, angle, *, out=None):
    """abs * (cos(angle) + i sin(angle)) (torch.polar).

    >>> ember.polar(ember.tensor([2.0]), ember.tensor([0.0]))
    tensor([2.+0.j])
    """
    from .elementwise import cos, sin
    r = complex(abs * cos(angle), abs * sin(angle))
    if out is not None:
        from .elementwise import _out
        return _out(r, out)
    return r


# ---- real views of complex tensors ------------------------------------------------------------

def _g_view_as_real(ctx, g):
    return (view_as_complex(g.contiguous()),)


def _g_view_as_complex(ctx, g):
    return (view_as_real(g),)


_view_as_real_op = defop("view_as_real", _g_view_as_real, node_name="ViewAsRealBackward0")
_view_as_complex_op = defop("view_as_complex", _g_view_as_complex,
                            node_name="ViewAsComplexBackward0")


def view_as_real(input):
    """A real view of a complex tensor, its parts in a new last dim of size 2.

    >>> ember.view_as_real(ember.tensor([1 + 2j]))
    tensor([[1., 2.]])
    """
    _check_tensor(input, "view_as_real")
    if not input._dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return _view(input, _kernel(input, "view_as_real")(input._data), view_as_real,
                 _view_as_real_op, input._dtype.to_real())


def view_as_complex(input):
    """A complex view of a float or double tensor whose last dim (of size 2, stride 1) holds
    the real and imaginary parts.

    >>> ember.view_as_complex(ember.tensor([[1.0, 2.0]]))
    tensor([1.+2.j])
    """
    _check_tensor(input, "view_as_complex")
    dt = input._dtype
    if dt not in (_dt.float32, _dt.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, "
                           f"but got a tensor of scalar type: {_dt_name(dt)}")
    shape = input._data.shape
    if not shape or shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    data = _kernel(input, "view_as_complex")(input._data)
    if data is None:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return _view(input, data, view_as_complex, _view_as_complex_op, dt.to_complex())


def copy_slices_backward(view_fn, shape, g):
    """The CopySlices gradients of a complex base whose ``view_fn`` view (a region, or the real
    or imaginary parts of one) was overwritten: the base's gradient loses exactly the
    overwritten parts; the written values get the view of the gradient."""
    from ..autograd import grad_mode
    from .creation import zeros
    with grad_mode.no_grad():
        mask = zeros(shape, dtype=g._dtype, device=g._device)
        v = view_fn(mask)
        v.fill_(1 + 1j if v._dtype.is_complex else 1.0)
    g_base = complex(real(g) * (1 - real(mask)), imag(g) * (1 - imag(mask)))
    return g_base, view_fn(g)


def real_to_complex_grad(g, dtype):
    """The gradient ``g`` of a complex tensor, cast to ``dtype``: a real input keeps its real
    part (torch's engine, which drops the imaginary part silently)."""
    if g._dtype.is_complex and not dtype.is_complex:
        g = real(g).contiguous()
    return g.to(dtype)


# ---- complex-aware Tensor methods and properties ------------------------------------------------

def _tensor_real_get(self):
    return real(self)


def _tensor_real_set(self, value):
    real(self).copy_(value)


def _tensor_imag_get(self):
    return imag(self)


def _tensor_imag_set(self, value):
    imag(self).copy_(value)


def _bind_methods():
    Tensor.real = property(_tensor_real_get, _tensor_real_set)
    Tensor.imag = property(_tensor_imag_get, _tensor_imag_set)
    for f in (conj, conj_physical, resolve_conj, resolve_neg, is_conj, is_neg, angle, sgn):
        setattr(Tensor, f.__name__, f)
    Tensor.is_complex = is_complex

    def conj_physical_(self):
        if self._dtype.is_complex:
            self.copy_(conj(self))
        return self

    Tensor.conj_physical_ = conj_physical_
    # the conjugate transposes (the plain transposes, for real tensors)
    transpose, mtranspose = Tensor.T, Tensor.mT
    Tensor.H = property(lambda self: conj(transpose.fget(self)))
    Tensor.mH = property(lambda self: conj(mtranspose.fget(self)))
    real_abs_ = Tensor.abs_

    def abs_(self):
        if self._dtype.is_complex:  # (|z| is real: it cannot be written into z, as torch says)
            raise RuntimeError("In-place abs is not supported for complex tensors.")
        return real_abs_(self)

    Tensor.abs_ = Tensor.absolute_ = abs_
    Tensor.cfloat = lambda self, memory_format=None: self.to(_dt.complex64)
    Tensor.cdouble = lambda self, memory_format=None: self.to(_dt.complex128)


def conj_physical_(input):
    """Conjugate ``input`` in place (a real tensor is left as it is)."""
    return input.conj_physical_()


def view_as_real_copy(input):
    return view_as_real(input).clone()


def view_as_complex_copy(input):
    return view_as_complex(input).clone()


_install_conjugate_rules()
_bind_methods()
