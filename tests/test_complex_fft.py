"""Complex dtypes and ember.fft: forward values against a NumPy complex128 reference and torch,
gradients against torch and against finite differences (gradcheck on the real view), torch's
errors for ops without complex kernels, and the cuda backend (through the NumPy stand-in)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember

try:
    import torch
except ImportError:  # the NumPy-reference tests still run
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed: these compare with it as the reference "
                          "(pip install torch==2.13.0 --index-url https://download.pytorch.org/"
                          "whl/cpu)")

Z = [1 + 2j, 3 - 1j, -0.5 + 0.25j, -2 - 3j]
W = [0.5 - 1j, -1 + 0.5j, 2 + 2j, 0.25 + 1j]
X = [1.0, -2.0, 0.5, 3.0]


def _np(t):
    return t.detach().numpy()


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


# ---- dtypes and promotion ---------------------------------------------------------------------

def test_dtype_attributes():
    c64, c128 = ember.complex64, ember.complex128
    assert ember.cfloat is c64 and ember.cdouble is c128
    assert c64.is_complex and not c64.is_floating_point and c64.is_signed
    assert c64.itemsize == 8 and c128.itemsize == 16
    assert c64.to_real() is ember.float32 and c128.to_real() is ember.float64
    assert ember.float64.to_complex() is c128 and ember.float32.to_complex() is c64
    assert not ember.float32.is_complex
    assert ember.finfo(c64).eps == ember.finfo(ember.float32).eps


@pytest.mark.parametrize("a, b, want", [
    ("float32", "complex64", "complex64"), ("float64", "complex64", "complex128"),
    ("int64", "complex64", "complex64"), ("bool", "complex128", "complex128"),
    ("float16", "complex64", "complex64"), ("complex64", "complex128", "complex128"),
])
def test_promote_types(a, b, want):
    got = ember.promote_types(getattr(ember, a), getattr(ember, b))
    assert got is getattr(ember, want)
    if torch is not None:
        assert str(torch.promote_types(getattr(torch, a), getattr(torch, b))) == f"torch.{want}"


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1.0]) + 1j,
    lambda m: m.tensor([1.0], dtype=m.float64) + 1j,
    lambda m: m.tensor([1]) + 1j,
    lambda m: m.tensor([1j]) + m.tensor([1.0], dtype=m.float64),
    lambda m: m.tensor([1j]) + m.tensor(1.0, dtype=m.float64),
    lambda m: m.tensor([1.0]) + m.tensor(1j, dtype=m.complex128),
    lambda m: m.tensor([1]) + m.tensor(1j, dtype=m.complex128),
    lambda m: m.tensor([1 + 2j]),
    lambda m: m.tensor(2j),
    lambda m: m.tensor([[1, 2.5], [1j, 0]]),
    lambda m: m.zeros(2, dtype=m.cfloat),
    lambda m: m.ones(2, dtype=m.complex128) * 2,
])
def test_result_dtypes(make):
    got = make(ember).dtype
    assert got.is_complex
    if torch is not None:
        assert str(make(torch).dtype) == f"torch.{got.name}"


def test_default_complex_follows_default_dtype():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1j]).dtype is ember.complex128
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1j]).dtype is ember.complex64


@needs_torch
@pytest.mark.parametrize("values, dtype", [
    ([1 + 2j], None), ([1.5 + 2j], "complex128"), ([[1.25 + 2j, -3j], [0.5 + 0j, 10j]], None),
    ([-1.5 + 2j, 2.0 - 300j], None), ([1e-5 + 1j, 1 + 0j], None),
    ([complex(float("nan"), 1), complex(1, float("inf"))], None), ([0j], None), (2 + 1j, None),
    ([1.0, 2.0, -1.0, 0.5, 3.0], "fft"),
])
def test_repr_matches_torch(values, dtype):
    if dtype == "fft":
        e, t = ember.fft.fft(ember.tensor(values)), torch.fft.fft(torch.tensor(values))
    else:
        e = ember.tensor(values, dtype=getattr(ember, dtype) if dtype else None)
        t = torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)
    assert repr(e).replace("ember.", "torch.") == repr(t)


def test_item_tolist_complex():
    z = ember.tensor(Z)
    assert z[0].item() == 1 + 2j
    assert z.tolist() == Z[:2] + [complex(np.complex64(v)) for v in Z[2:]]
    assert complex(z[1]) == 3 - 1j


# ---- parts, views, conversions ----------------------------------------------------------------

def test_real_imag_views_are_writable():
    z = ember.tensor(Z)
    assert z.real.dtype is ember.float32
    _close(_np(z.real), np.real(Z))
    _close(_np(z.imag), np.imag(Z))
    z.real[0] = 5.0
    z.imag[1] = 7.0
    assert z[0].item() == 5 + 2j and z[1].item() == 3 + 7j
    z.imag = ember.zeros(4)
    _close(_np(z.imag), np.zeros(4))
    x = ember.tensor(X)
    assert ember.real(x) is x
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with "
                                           "non-complex dtypes"):
        ember.imag(x)


def test_view_as_real_and_complex():
    z = ember.tensor(Z)
    r = ember.view_as_real(z)
    assert r.shape == (4, 2) and r.dtype is ember.float32
    _close(_np(r), np.stack([np.real(Z), np.imag(Z)], -1))
    r[0, 1] = 9.0  # a view: writes reach z
    assert z[0].item() == 1 + 9j
    back = ember.view_as_complex(r)
    assert back.dtype is ember.complex64
    _close(_np(back), _np(z))
    with pytest.raises(RuntimeError, match="view_as_real is only supported for complex"):
        ember.view_as_real(ember.tensor(X))
    with pytest.raises(RuntimeError, match="Tensor must have a last dimension of size 2"):
        ember.view_as_complex(ember.ones(3))
    with pytest.raises(RuntimeError, match="last dimension with stride 1"):
        ember.view_as_complex(ember.ones(2, 3).t())


def test_complex_polar_conj_angle_abs():
    re, im = ember.tensor(X), ember.tensor([2.0, 0.0, -1.0, 0.5])
    c = ember.complex(re, im)
    _close(_np(c), np.array(X) + 1j * np.array([2.0, 0.0, -1.0, 0.5]))
    p = ember.polar(ember.tensor([2.0, 1.0]), ember.tensor([0.5, -2.0]))
    _close(_np(p), np.array([2.0, 1.0]) * np.exp(1j * np.array([0.5, -2.0])))
    z = ember.tensor(Z)
    _close(_np(ember.conj(z)), np.conj(Z))
    _close(_np(z.conj_physical()), np.conj(Z))
    assert ember.resolve_conj(z) is z and ember.resolve_neg(z) is z
    assert not ember.is_conj(z) and ember.is_complex(z) and z.is_complex()
    assert not ember.tensor(X).is_complex()
    assert ember.abs(z).dtype is ember.float32
    _close(_np(ember.abs(z)), np.abs(Z))
    _close(_np(ember.angle(z)), np.angle(Z))
    _close(_np(ember.angle(ember.tensor([-1.0, 2.0, 0.0]))), [np.pi, 0.0, 0.0])
    _close(_np(ember.sgn(z)), np.array(Z) / np.abs(Z))
    with pytest.raises(RuntimeError, match="Expected both inputs to be Half, Float or Double"):
        ember.complex(ember.tensor([1]), ember.tensor([2]))
    with pytest.raises(RuntimeError, match="Expected object of scalar type Float but got "
                                           "scalar type Double"):
        ember.complex(ember.tensor([1.0]), ember.tensor([2.0], dtype=ember.float64))


def test_casts():
    z = ember.tensor(Z)
    with pytest.warns(UserWarning, match="Casting complex values to real discards the "
                                         "imaginary part"):
        r = z.to(ember.float32)
    _close(_np(r), np.real(Z))
    assert ember.tensor([0j, 1j, 0.5 + 0j]).to(ember.bool).tolist() == [False, True, True]
    c = ember.tensor(X).to(ember.complex64)
    assert c.dtype is ember.complex64
    _close(_np(c), np.array(X, np.complex64))
    assert ember.tensor(X).to(complex).dtype is ember.complex64


# ---- arithmetic, reductions and shapes against NumPy complex128 -------------------------------

_UNARY = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "sinh", "cosh",
          "reciprocal", "neg", "log1p", "expm1", "asin", "acos", "atan", "log2", "exp2",
          "rsqrt", "log10", "square"]
_NP_UNARY = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "neg": np.negative,
             "reciprocal": lambda z: 1 / z, "asin": np.arcsin, "acos": np.arccos,
             "atan": np.arctan, "exp2": lambda z: 2.0 ** z, "rsqrt": lambda z: 1 / np.sqrt(z)}


@pytest.mark.parametrize("name", _UNARY)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_unary_against_numpy(name, dtype):
    z = ember.tensor(Z, dtype=getattr(ember, dtype))
    out = getattr(ember, name)(z)
    assert out.dtype.name == dtype
    ref = _NP_UNARY.get(name, getattr(np, name, None))(np.array(Z, np.complex128))
    tol = 1e-5 if dtype == "complex64" else 1e-12
    _close(_np(out), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_binary_against_numpy(op):
    a, b = ember.tensor(Z, dtype=ember.complex128), ember.tensor(W, dtype=ember.complex128)
    f = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
         "pow": np.power}[op]
    _close(_np(getattr(ember, op)(a, b)), f(np.array(Z), np.array(W)), 1e-12, 1e-12)
    # with a real tensor, a Python complex and a Python float
    x = ember.tensor(X, dtype=ember.float64)
    _close(_np(getattr(ember, op)(a, x)), f(np.array(Z), np.array(X)), 1e-12, 1e-12)
    _close(_np(getattr(ember, op)(x, 2 - 1j)), f(np.array(X), 2 - 1j), 1e-12, 1e-12)
    _close(_np(getattr(ember, op)(a, 1.5)), f(np.array(Z), 1.5), 1e-12, 1e-12)


def test_matmul_reductions_shapes():
    a = np.array(Z * 3, np.complex128).reshape(3, 4)
    b = np.array(W * 2, np.complex128).reshape(4, 2)
    ea, eb = ember.tensor(a), ember.tensor(b)
    _close(_np(ea @ eb), a @ b, 1e-12, 1e-12)
    _close(_np(ea.sum()), a.sum(), 1e-12, 1e-12)
    _close(_np(ea.sum(0)), a.sum(0), 1e-12, 1e-12)
    _close(_np(ea.mean(1)), a.mean(1), 1e-12, 1e-12)
    _close(_np(ea.prod(1)), a.prod(1), 1e-12, 1e-12)
    _close(_np(ember.cumsum(ea, 1)), np.cumsum(a, 1), 1e-12, 1e-12)
    _close(_np(ember.cat([ea, ea], 0)), np.concatenate([a, a]), 0, 0)
    _close(_np(ember.stack([ea, ea], 1)), np.stack([a, a], 1), 0, 0)
    _close(_np(ea.reshape(4, 3).t()), a.reshape(4, 3).T, 0, 0)
    _close(_np(ea[1:, ::2]), a[1:, ::2], 0, 0)
    _close(_np(ea[ember.tensor([2, 0])]), a[[2, 0]], 0, 0)
    _close(_np(ember.where(ember.tensor([True, False, True, False]), ea[0], 0.0)),
           np.where([True, False, True, False], a[0], 0), 0, 0)
    assert (ea == ea).all() and not (ea != ea).any()
    c = ember.zeros(2, dtype=ember.complex64)
    c[0] = 1 + 2j
    assert c[0].item() == 1 + 2j
    c.fill_(3j)
    assert c.tolist() == [3j, 3j]


# ---- ops without complex kernels ----------------------------------------------------------------

_REFUSED = [
    ("lt", lambda m, z: z < z), ("gt_scalar", lambda m, z: z > 1),
    ("le", lambda m, z: z <= z), ("ge", lambda m, z: m.ge(z, z)),
    ("maximum", lambda m, z: m.maximum(z, z)), ("minimum", lambda m, z: m.minimum(z, z)),
    ("clamp", lambda m, z: m.clamp(z, 0, 1)), ("relu", lambda m, z: m.relu(z)),
    ("floor", lambda m, z: m.floor(z)), ("ceil", lambda m, z: m.ceil(z)),
    ("trunc", lambda m, z: m.trunc(z)), ("round", lambda m, z: m.round(z)),
    ("sign", lambda m, z: m.sign(z)), ("remainder", lambda m, z: z % 2),
    ("floordiv", lambda m, z: z // 2), ("atan2", lambda m, z: m.atan2(z, z)),
    ("erf", lambda m, z: m.erf(z)), ("bitwise_and", lambda m, z: z & z),
    ("max", lambda m, z: z.max()), ("min", lambda m, z: m.min(z)),
    ("amax", lambda m, z: m.amax(z)), ("argmax", lambda m, z: m.argmax(z)),
    ("sort", lambda m, z: m.sort(z)), ("max_dim", lambda m, z: m.max(z, 0)),
    ("argmin", lambda m, z: m.argmin(z)), ("amin", lambda m, z: m.amin(z)),
    ("min_dim", lambda m, z: m.min(z, 0)), ("topk", lambda m, z: m.topk(z, 1)),
    ("median", lambda m, z: m.median(z)), ("kthvalue", lambda m, z: m.kthvalue(z, 1)),
    ("aminmax", lambda m, z: m.aminmax(z)), ("argsort", lambda m, z: m.argsort(z)),
    ("unique", lambda m, z: m.unique(z)), ("softmax", lambda m, z: m.softmax(z, 0)),
    ("bitwise_not", lambda m, z: m.bitwise_not(z)),
]


@pytest.mark.parametrize("name, fn", _REFUSED, ids=[n for n, _ in _REFUSED])
def test_refused_like_torch(name, fn):
    with pytest.raises((RuntimeError, NotImplementedError)) as e:
        fn(ember, ember.tensor(Z))
    if torch is not None:
        with pytest.raises((RuntimeError, NotImplementedError)) as t:
            fn(torch, torch.tensor(Z))
        assert type(e.value) is type(t.value)
        assert str(e.value).strip() == str(t.value).strip()


def test_complex_cannot_reach_opencl():
    if "opencl" not in ember.backends.available():
        pytest.skip("no opencl device here (pyopencl with PoCL is needed)")
    with pytest.raises(TypeError, match="complex64.*opencl|opencl.*complex64"):
        ember.tensor([1j], device="opencl")
    with pytest.raises(TypeError, match="complex64"):
        ember.tensor([1j]).to("opencl")


# ---- fft against NumPy --------------------------------------------------------------------------

SIG = np.array([1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 2.0], np.float64)
SIG2 = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, 3.0, 1.5, -2.0], [2.5, -0.5, 1.0, 1.0]])
CSIG = SIG2 + 1j * SIG2[::-1]


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("name, args, data", [
    ("fft", {}, CSIG), ("fft", {"n": 6, "dim": 0}, CSIG), ("fft", {"n": 3}, SIG),
    ("ifft", {}, CSIG), ("ifft", {"n": 9}, SIG),
    ("fft2", {}, CSIG), ("ifft2", {"s": (2, 5)}, CSIG), ("fftn", {}, CSIG),
    ("fftn", {"s": (4,), "dim": (0,)}, CSIG), ("ifftn", {"dim": (1, 0)}, CSIG),
    ("rfft", {}, SIG), ("rfft", {"n": 10}, SIG), ("rfft", {"dim": 0}, SIG2),
    ("irfft", {}, CSIG), ("irfft", {"n": 7}, CSIG), ("irfft", {"n": 3, "dim": 0}, CSIG),
    ("rfft2", {}, SIG2), ("irfft2", {}, CSIG), ("irfft2", {"s": (3, 5)}, CSIG),
    ("rfftn", {"s": (5, 6)}, SIG2), ("irfftn", {}, CSIG),
    ("hfft", {}, CSIG), ("hfft", {"n": 5}, CSIG), ("ihfft", {}, SIG), ("ihfft", {"n": 4}, SIG),
])
def test_fft_against_numpy(name, args, data, norm):
    f = getattr(np.fft, name)
    np_args = dict(args)
    if "dim" in np_args:
        d = np_args.pop("dim")
        np_args["axis" if isinstance(d, int) else "axes"] = d
    if "s" in np_args and "axes" not in np_args:
        np_args["axes"] = tuple(range(-len(np_args["s"]), 0))  # (torch's default dims)
    ref = f(data, norm=norm, **np_args)
    for dt, tol in ((ember.float64, 1e-12), (ember.float32, 2e-5)):
        x = ember.tensor(data, dtype=dt.to_complex() if np.iscomplexobj(data) else dt)
        out = getattr(ember.fft, name)(x, norm=norm, **args)
        want = ref.dtype.kind == "c"
        assert out.dtype is (dt.to_complex() if want else dt)
        _close(_np(out), ref, tol, tol * 10)


def test_fft_of_integers_and_halves():
    assert ember.fft.fft(ember.tensor([1, 2, 3])).dtype is ember.complex64
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        ember.fft.fft(ember.ones(4, dtype=ember.float16))
    with pytest.raises(RuntimeError, match="rfft expects a real input tensor, but got "
                                           "ComplexFloat"):
        ember.fft.rfft(ember.tensor(Z))
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        ember.fft.fft(ember.tensor(Z), n=0)
    with pytest.raises(RuntimeError, match='Invalid normalization mode: "bad"'):
        ember.fft.fft(ember.tensor(Z), norm="bad")
    with pytest.raises(RuntimeError, match="FFT dims must be unique"):
        ember.fft.fftn(ember.ones(2, 2), dim=(0, 0))


def test_fftfreq_and_shifts():
    _close(_np(ember.fft.fftfreq(5, 0.1)), np.fft.fftfreq(5, 0.1))
    _close(_np(ember.fft.fftfreq(6)), np.fft.fftfreq(6))
    _close(_np(ember.fft.rfftfreq(7, 2.0)), np.fft.rfftfreq(7, 2.0))
    a = np.arange(12).reshape(3, 4)
    assert ember.fft.fftshift(ember.tensor(a)).tolist() == np.fft.fftshift(a).tolist()
    assert ember.fft.ifftshift(ember.tensor(a)).tolist() == np.fft.ifftshift(a).tolist()
    assert ember.fft.fftshift(ember.tensor(a), dim=1).tolist() == \
        np.fft.fftshift(a, axes=1).tolist()


# ---- gradients: finite differences (gradcheck on the real view) ---------------------------------

def _c128(values, shape=None):
    t = ember.tensor(values, dtype=ember.complex128)
    return (t.reshape(shape) if shape else t).requires_grad_()


def _f64(values, shape=None):
    t = ember.tensor(values, dtype=ember.float64)
    return (t.reshape(shape) if shape else t).requires_grad_()


_GRAD_CASES = [
    ("mul", lambda a, b: a * b, "cc"), ("div", lambda a, b: a / b, "cc"),
    ("pow", lambda a, b: a ** b, "cc"), ("mul_real", lambda a, x: a * x, "cr"),
    ("add_real", lambda a, x: x - a, "cr"),
    ("exp", lambda a: ember.exp(a), "c"), ("log", lambda a: ember.log(a), "c"),
    ("sqrt", lambda a: ember.sqrt(a), "c"), ("sin", lambda a: ember.sin(a), "c"),
    ("cos", lambda a: ember.cos(a), "c"), ("tanh", lambda a: ember.tanh(a), "c"),
    ("sigmoid", lambda a: ember.sigmoid(a), "c"), ("reciprocal", lambda a: 1 / a, "c"),
    ("abs", lambda a: ember.abs(a), "c"), ("angle", lambda a: ember.angle(a), "c"),
    ("real", lambda a: a.real * 2, "c"), ("imag", lambda a: a.imag * 3, "c"),
    ("conj", lambda a: ember.conj(a) * a[0], "c"), ("sgn", lambda a: ember.sgn(a), "c"),
    ("view_as_real", lambda a: ember.view_as_real(a) ** 2, "c"),
    ("view_as_complex", lambda x: ember.view_as_complex(x.reshape(2, 2)) ** 2, "r"),
    ("complex", lambda x, y: ember.complex(x, y) ** 2, "rr"),
    ("polar", lambda x, y: ember.polar(x, y), "rr"),
    ("matmul", lambda a, b: a.reshape(2, 2) @ b.reshape(2, 2), "cc"),
    ("sum_mean_prod", lambda a: a.sum() * a.mean() + a.prod(), "c"),
    ("to_complex", lambda x: x.to(ember.complex128) * (1 + 2j), "r"),
    ("cat_index", lambda a, b: ember.cat([a[1:], b[:2]]) * a[0], "cc"),
]


@pytest.mark.parametrize("name, fn, kinds", _GRAD_CASES, ids=[c[0] for c in _GRAD_CASES])
def test_gradcheck(name, fn, kinds):
    pools = {"c": [Z, W], "r": [X, [0.5, 1.5, -0.25, 2.0]]}
    used = {"c": 0, "r": 0}
    args = []
    for k in kinds:
        vals = pools[k][used[k]]
        used[k] += 1
        args.append(_c128(vals) if k == "c" else _f64(vals))
    assert ember.autograd.gradcheck(fn, tuple(args), eps=1e-6, atol=1e-6, rtol=1e-4)


_FFT_GRADS = [
    ("fft", lambda a: ember.fft.fft(a, norm="ortho"), "c"),
    ("fft_n", lambda a: ember.fft.fft(a, n=6), "c"),
    ("ifft_n", lambda a: ember.fft.ifft(a, n=3), "c"),
    ("fft_real", lambda x: ember.fft.fft(x), "r"),
    ("fft2", lambda a: ember.fft.fft2(a.reshape(2, 2), norm="forward"), "c"),
    ("ifftn", lambda a: ember.fft.ifftn(a.reshape(2, 2), s=(3, 2)), "c"),
    ("rfft", lambda x: ember.fft.rfft(x), "r"), ("rfft_odd", lambda x: ember.fft.rfft(x, 5), "r"),
    ("rfft_ortho", lambda x: ember.fft.rfft(x, norm="ortho"), "r"),
    ("irfft", lambda a: ember.fft.irfft(a), "c"), ("irfft_odd", lambda a: ember.fft.irfft(a, 7),
                                                     "c"),
    ("irfft_fwd", lambda a: ember.fft.irfft(a, 5, norm="forward"), "c"),
    ("rfft2", lambda x: ember.fft.rfft2(x.reshape(2, 2)), "r"),
    ("irfft2", lambda a: ember.fft.irfft2(a.reshape(2, 2), s=(2, 3)), "c"),
    ("hfft", lambda a: ember.fft.hfft(a), "c"), ("ihfft", lambda x: ember.fft.ihfft(x), "r"),
    ("fftshift", lambda a: ember.fft.fftshift(ember.fft.fft(a)), "c"),
]


@pytest.mark.parametrize("name, fn, kind", _FFT_GRADS, ids=[c[0] for c in _FFT_GRADS])
def test_fft_gradcheck(name, fn, kind):
    arg = _c128(Z) if kind == "c" else _f64(X)
    assert ember.autograd.gradcheck(fn, (arg,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradcheck_catches_a_wrong_complex_rule():
    # a function whose analytical gradient is deliberately wrong: the check must fail
    class Wrong(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2j

    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        ember.autograd.gradcheck(Wrong.apply, (_c128(Z),), eps=1e-6, atol=1e-6, rtol=1e-4)


# ---- gradients against torch --------------------------------------------------------------------

_TORCH_GRADS = [
    ("abs_sum", lambda m, z: m.abs(z).sum()),
    ("mul_real", lambda m, z: (z * z).real.sum()),
    ("exp_imag", lambda m, z: m.exp(z).imag.sum()),
    ("log_abs", lambda m, z: m.log(z).abs().sum()),
    ("angle", lambda m, z: m.angle(z * (1 + 1j)).sum()),
    ("fft_abs", lambda m, z: m.fft.fft(z).abs().sum()),
    ("ifft_real", lambda m, z: (m.fft.ifft(z, n=6, norm="ortho").real ** 2).sum()),
    ("view_as_real", lambda m, z: (m.view_as_real(z) * m.tensor([1.0, -2.0])).sum()),
    ("div_pow", lambda m, z: ((z / (z + 2)) ** 2).abs().sum()),
]


@needs_torch
@pytest.mark.parametrize("name, fn", _TORCH_GRADS, ids=[c[0] for c in _TORCH_GRADS])
def test_grads_match_torch(name, fn):
    e = ember.tensor(Z, requires_grad=True)
    t = torch.tensor(Z, requires_grad=True)
    le, lt = fn(ember, e), fn(torch, t)
    _close(le.item(), lt.item(), 1e-5, 1e-5)
    le.backward()
    lt.backward()
    assert e.grad.dtype is ember.complex64
    _close(_np(e.grad), t.grad.numpy(), 1e-4, 1e-5)


_TORCH_REAL_GRADS = [
    ("rfft_abs", lambda m, x: m.fft.rfft(x).abs().sum()),
    ("rfft_n", lambda m, x: (m.fft.rfft(x, n=7).real * m.arange(4.0)).sum()),
    ("irfft_rfft", lambda m, x: (m.fft.irfft(m.fft.rfft(x) * (1 + 1j)) * x).sum()),
    ("irfft_n", lambda m, x: (m.fft.irfft(m.fft.fft(x)[:3], n=5) ** 2).sum()),
    ("rfft2", lambda m, x: m.fft.rfft2(x.reshape(2, 2)).abs().sum()),
    ("hfft", lambda m, x: (m.fft.hfft(x * (1 - 1j)) * m.arange(6.0)).sum()),
    ("ihfft", lambda m, x: m.fft.ihfft(x).imag.sum()),
    # (polar's abs must be >= 0: torch's rule uses sgn(result), which is wrong below 0)
    ("complex_polar", lambda m, x: (m.polar(x * x + 0.5, x * 2) * m.complex(x, x)).imag.sum()),
    ("real_times_complex", lambda m, x: (x * m.tensor(W)).imag.sum()),
]


@needs_torch
@pytest.mark.parametrize("name, fn", _TORCH_REAL_GRADS, ids=[c[0] for c in _TORCH_REAL_GRADS])
def test_real_input_grads_match_torch(name, fn):
    e = ember.tensor(X, requires_grad=True)
    t = torch.tensor(X, requires_grad=True)
    le, lt = fn(ember, e), fn(torch, t)
    _close(le.item(), lt.item(), 1e-5, 1e-5)
    le.backward()
    lt.backward()
    assert e.grad.dtype is ember.float32
    _close(_np(e.grad), t.grad.numpy(), 1e-4, 1e-5)


@needs_torch
def test_fft_forward_matches_torch_float32():
    x = [0.1 * i * (-1) ** i for i in range(10)]
    for name in ("fft", "rfft", "ihfft"):
        e = getattr(ember.fft, name)(ember.tensor(x))
        t = getattr(torch.fft, name)(torch.tensor(x))
        assert str(t.dtype) == f"torch.{e.dtype.name}"
        _close(_np(e), t.resolve_conj().numpy(), 1e-5, 1e-6)


def test_backward_leaves_no_warning():
    x = ember.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x * (1 + 2j)).abs().sum().backward()
    _close(_np(x.grad), np.sign(X) * np.sqrt(5.0))


# ---- the cuda backend, through the NumPy stand-in for CuPy --------------------------------------

_CUDA_SCRIPT = r"""
from ember.backends.cuda import fakecupy
fakecupy.install()
import numpy as np
import ember
z = ember.tensor([1 + 2j, 3 - 1j, 0.5j, -2.0], device="cuda")
assert z.dtype is ember.complex64 and z.device.type == "cuda"
f = ember.fft.fft(z)
np.testing.assert_allclose(f.cpu().numpy(), np.fft.fft(z.cpu().numpy()), rtol=1e-5, atol=1e-5)
assert f.dtype is ember.complex64
r = ember.fft.irfft(ember.fft.rfft(z.real), n=4)
np.testing.assert_allclose(r.cpu().numpy(), z.real.cpu().numpy(), rtol=1e-5, atol=1e-6)
w = z.clone().requires_grad_()
(ember.abs(w * w) + ember.fft.fft(w).real).sum().backward()
assert w.grad.device.type == "cuda" and w.grad.dtype is ember.complex64
print("ok")
"""


def test_cuda_complex_with_fakecupy(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if importlib.util.find_spec("ember") is None:
        pytest.skip("ember is not importable by a subprocess here")
    proc = subprocess.run([sys.executable, "-c", _CUDA_SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok"), (root, proc.stdout)


def test_factories_and_scalars():
    assert ember.full((2,), 1j).dtype is ember.complex64
    _close(_np(ember.linspace(0, 1, 3, dtype=ember.cfloat)), [0, 0.5, 1])
    z = ember.tensor(Z)
    _close(_np(ember.vdot(z, z)), np.vdot(Z, Z), 1e-5, 1e-5)
    _close(_np(ember.dot(z, z)), np.dot(Z, Z), 1e-5, 1e-5)
    assert float(ember.tensor(2 + 0j)) == 2.0 and int(ember.tensor(3 + 0j)) == 3
    with pytest.raises(RuntimeError, match="value cannot be converted to type double"):
        float(z[0])
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][ember.tensor(1 + 0j)]
    with pytest.raises(RuntimeError, match="In-place abs is not supported for complex"):
        z.clone().abs_()
    _close(_np(z.reshape(2, 2).mH), np.conj(np.array(Z).reshape(2, 2)).T)
    _close(_np(ember.adjoint(z.reshape(2, 2))), np.conj(np.array(Z).reshape(2, 2)).T)
    _close(_np(z.std()), np.std(np.array(Z, np.complex64), ddof=1), 1e-5, 1e-5)
    _close(_np(z.norm()), np.linalg.norm(Z), 1e-5, 1e-5)


def test_random_complex():
    ember.manual_seed(0)
    z = ember.randn(20000, dtype=ember.cfloat)
    assert z.dtype is ember.complex64 and z._base is None
    # torch's complex normal: each part has variance 1/2, so E|z|^2 = 1
    assert abs(float((z.abs() ** 2).mean()) - 1.0) < 0.05
    assert abs(float(z.real.std()) - 0.5 ** 0.5) < 0.02
    u = ember.rand(1000, dtype=ember.complex128)
    assert u.dtype is ember.complex128
    assert 0 <= float(u.real.min()) and float(u.imag.max()) < 1


@needs_torch
@pytest.mark.parametrize("name, kw", [("Adam", {}), ("AdamW", {"weight_decay": 0.1}),
                                      ("Adamax", {}), ("RAdam", {}),
                                      ("RMSprop", {"centered": True}), ("Adadelta", {}),
                                      ("SGD", {"momentum": 0.9})])
def test_optimizers_step_complex_params_like_torch(name, kw):
    got = []
    for m in (ember, torch):
        p = m.nn.Parameter(m.tensor([1 + 1j, 2j, -0.5 + 0.25j]))
        opt = getattr(m.optim, name)([p], lr=0.1, **kw)
        for _ in range(3):
            opt.zero_grad()
            ((p * m.tensor([1 - 2j, 0.5j, 2.0])).abs() ** 2).sum().backward()
            opt.step()
        got.append(m.view_as_real(p.detach()).numpy())
    _close(got[0], got[1], 1e-5, 1e-6)


@needs_torch
def test_inplace_writes_through_parts_keep_gradients():
    grads = []
    for m in (ember, torch):
        z = m.tensor([1 + 2j, 3 - 1j], requires_grad=True)
        w = z * 1
        w.real.mul_(3)
        w.imag[0] = 5.0
        (w * m.tensor([1 + 1j, 2 - 1j])).abs().sum().backward()
        grads.append(m.view_as_real(z.grad).numpy())
    _close(grads[0], grads[1], 1e-5, 1e-6)


def test_save_load_complex(tmp_path):
    z = ember.tensor(Z, dtype=ember.complex128)
    ember.save({"z": z}, tmp_path / "z.pt")
    back = ember.load(tmp_path / "z.pt")["z"]
    assert back.dtype is ember.complex128 and back.tolist() == z.tolist()


def test_legacy_type_names_cover_every_dtype():
    for d, name in [(ember.complex64, "ComplexFloatTensor"), (ember.complex128,
                    "ComplexDoubleTensor"), (ember.float32, "FloatTensor"),
                    (ember.int16, "ShortTensor"), (ember.bfloat16, "BFloat16Tensor")]:
        t = ember.zeros(2, dtype=d)
        assert t.type() == f"ember.{name}"
        assert ember.ones(2).type(f"torch.{name}").dtype is d
