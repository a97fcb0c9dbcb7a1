"""Complex parameters in every optimizer, and complex ldl_factor / ldl_factor_ex / ldl_solve,
against torch: complex64 and complex128 on every available device that claims them; a device
that claims no complex dtype (opencl) must refuse complex tensors with torch's TypeError."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip(
    "torch", reason="torch is the reference for these parity tests (pip install torch==2.13.0 "
                    "--index-url https://download.pytorch.org/whl/cpu)")

pytestmark = pytest.mark.filterwarnings("ignore:ember.*has no .* kernel:UserWarning")

DEVICES = ember.backends.available()
COMPLEX = ["complex64", "complex128"]
REAL_OF = {"complex64": "float32", "complex128": "float64"}
# (relative, absolute) tolerance per dtype: rounding only; a wrong complex rule is off by O(1)
TOL = {"complex64": (2e-4, 2e-5), "complex128": (1e-10, 1e-12)}


def _claims(device, dtype):
    return dtype in ember.backends.capabilities(device)["dtypes"]


def _refuses_complex(device, dtype):
    """torch's refusal of a dtype the device does not support: a TypeError naming both."""
    with pytest.raises(TypeError, match=f"{dtype}.*{device}|{device}.*{dtype}"):
        ember.tensor([1 + 2j], dtype=getattr(ember, dtype), device=device)
    with pytest.raises(TypeError, match=f"{dtype}.*{device}|{device}.*{dtype}"):
        ember.tensor([1 + 2j], dtype=getattr(ember, dtype)).to(device)


def _np(t):
    t = t.detach()
    return (t.cpu() if isinstance(t, ember.Tensor) else t).numpy()


def _close(ours, ref, dtype, msg="", scale=1.0):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(ours, ref, rtol=rtol * scale, atol=atol * scale, err_msg=msg)


# ---- optimizers ---------------------------------------------------------------------------------

OPTIM_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, foreach=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.05, foreach=True)),
    ("AdamW", dict(lr=0.05, amsgrad=True, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True, foreach=True)),
    ("Adadelta", dict(lr=0.5)),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True, foreach=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2,
                     maximize=True)),
    ("Adagrad", dict(lr=0.1, foreach=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01, maximize=True)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, foreach=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, foreach=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, foreach=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.02, etas=(0.4, 1.5), step_sizes=(1e-4, 0.05), maximize=True)),
    ("Rprop", dict(lr=0.01, foreach=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, weight_decay=0.1, t0=2, maximize=True)),
    ("ASGD", dict(lr=0.05, t0=1, foreach=True)),
    ("LBFGS", dict(lr=0.5, max_iter=4)),
    ("LBFGS", dict(lr=1, max_iter=6, history_size=3, line_search_fn="strong_wolfe")),
]
STEPS = 8


def _problem(dtype):
    """Start values (a complex matrix, a real vector, a complex vector that gets no gradient)
    and a target for the complex matrix."""
    rng = np.random.default_rng(0)
    cdt, rdt = np.dtype(dtype), np.dtype(REAL_OF[dtype])
    p0 = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(cdt)
    r0 = rng.standard_normal(4).astype(rdt)
    z0 = (rng.standard_normal(2) + 1j * rng.standard_normal(2)).astype(cdt)
    target = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(cdt)
    return [p0, r0, z0], target


def _loss_and_grads(p, r, target, wobble):
    """L = sum(c/2 |p - t|^2 + 0.05 |p - t|^4) + sum(r^2 / 2 + r^4 / 4) and torch's gradient
    of a real loss in a complex variable: dL/dRe + i dL/dIm. ``wobble`` adds a step-dependent
    term (sign flips for Rprop, momentum changes) to the gradients."""
    d = p - target
    curv = 0.5 + np.arange(d.size).reshape(d.shape) / d.size
    loss = float(np.sum(curv / 2 * np.abs(d) ** 2 + 0.05 * np.abs(d) ** 4)
                 + np.sum(r ** 2 / 2 + r ** 4 / 4))
    gp = curv * d + 0.2 * np.abs(d) ** 2 * d + wobble * (1 - 0.5j)
    gr = r + r ** 3 + wobble
    return loss, gp.astype(p.dtype), gr.astype(r.dtype)


def _run_optimizer(lib, device, name, kwargs, dtype):
    arrays, target = _problem(dtype)
    kw = dict(device=device) if lib is ember else {}
    params = [lib.tensor(a.copy(), **kw).requires_grad_() for a in arrays]
    opt = getattr(lib.optim, name)(params, **kwargs)
    step = [0]

    def closure():
        # (LBFGS evaluates several times per step: its objective must not change within one)
        wobble = 0.0 if name == "LBFGS" else 0.3 * math.sin(2.0 * step[0])
        loss, gp, gr = _loss_and_grads(_np(params[0]), _np(params[1]), target, wobble)
        params[0].grad = lib.tensor(gp, **kw)
        params[1].grad = lib.tensor(gr, **kw)
        return loss

    trajectory = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(STEPS):
            step[0] = k
            if name == "LBFGS":
                opt.step(closure)
            else:
                closure()
                opt.step()
            trajectory.append([_np(p).copy() for p in params])
    return trajectory, opt, params


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", OPTIM_CASES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIM_CASES)])
def test_optimizer_complex_params_match_torch(name, kwargs, device, dtype):
    if not _claims(device, dtype):
        _refuses_complex(device, dtype)
        return
    ours, opt, params = _run_optimizer(ember, device, name, kwargs, dtype)
    ref, topt, tparams = _run_optimizer(torch, None, name, kwargs, dtype)
    # NOTE: torch's foreach ASGD reorders its update (p - eta * (g + lambd * p)); ember runs the
    # single-tensor rule, so the two differ by more than one rounding in float64
    scale = 1e3 if name == "ASGD" and kwargs.get("foreach") else 1.0
    for k, (a, b) in enumerate(zip(ours, ref)):
        for i, (pa, pb) in enumerate(zip(a, b)):
            assert pa.dtype == pb.dtype
            _close(pa, pb, dtype, f"{name} {kwargs}: step {k}, parameter {i}", scale)
    assert np.all(np.isfinite(ours[-1][0])) and not np.allclose(ours[-1][0], ours[0][0])
    # the state buffers: complex where torch keeps them complex, with torch's values
    for p, tp in zip(params, tparams):
        state, tstate = opt.state.get(p, {}), topt.state.get(tp, {})
        assert sorted(state) == sorted(tstate)
        for key, tv in tstate.items():
            if isinstance(tv, torch.Tensor) and tv.ndim > 0:
                v = state[key]
                assert str(v.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], key
                _close(_np(v), tv.numpy(), dtype, f"{name} state {key}", scale * 10)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs,error", [
    ("SparseAdam", dict(lr=0.1), ValueError),
    ("Adafactor", dict(lr=0.1), RuntimeError),
])
def test_optimizers_without_complex_refuse_as_torch(name, kwargs, error, device):
    if not _claims(device, "complex64"):
        _refuses_complex(device, "complex64")
        return
    messages = []
    for lib, kw in ((torch, {}), (ember, dict(device=device))):
        p = lib.tensor([1 + 2j, 3 - 1j], **kw).requires_grad_()
        with pytest.raises(error) as info:
            opt = getattr(lib.optim, name)([p], **kwargs)
            p.grad = lib.tensor([0.5 - 1j, 1 + 1j], **kw)
            opt.step()
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# ---- ldl_factor / ldl_factor_ex / ldl_solve -----------------------------------------------------

def _ldl_matrices():
    rng = np.random.default_rng(7)

    def crandn(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    a = crandn(5, 5)
    small_diag = crandn(6, 6)
    small_diag[np.arange(6), np.arange(6)] *= 1e-3  # forces 2x2 pivot blocks and swaps
    return {"general": a, "two_by_two_pivots": small_diag, "batched": crandn(2, 3, 4, 4),
            "one_by_one": crandn(1, 1)}


LDL = _ldl_matrices()


def _symmetrize(a, hermitian):
    return a + (np.conj(np.swapaxes(a, -1, -2)) if hermitian else np.swapaxes(a, -1, -2))


@pytest.mark.parametrize("hermitian", [False, True])
@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", sorted(LDL))
def test_ldl_complex_matches_torch(case, device, dtype, hermitian):
    if not _claims(device, dtype):
        _refuses_complex(device, dtype)
        return
    A = _symmetrize(LDL[case], hermitian).astype(dtype)
    rng = np.random.default_rng(1)
    B = (rng.standard_normal(A.shape[-2:-1] + (3,))
         + 1j * rng.standard_normal(A.shape[-2:-1] + (3,))).astype(dtype)
    t = torch.linalg.ldl_factor_ex(torch.tensor(A), hermitian=hermitian)
    e = ember.linalg.ldl_factor_ex(ember.tensor(A, device=device), hermitian=hermitian)
    assert e.LD.dtype is getattr(ember, dtype) and e.LD.device.type == device
    np.testing.assert_array_equal(_np(e.pivots), t.pivots.numpy())
    np.testing.assert_array_equal(_np(e.info), t.info.numpy())
    _close(_np(e.LD), t.LD.numpy(), dtype, "LD", scale=10)
    LD, pivots = ember.linalg.ldl_factor(ember.tensor(A, device=device), hermitian=hermitian)
    np.testing.assert_array_equal(_np(LD), _np(e.LD))
    # (B broadcasts against a batch of factorizations)
    X = ember.linalg.ldl_solve(LD, pivots, ember.tensor(B, device=device), hermitian=hermitian)
    tX = torch.linalg.ldl_solve(t.LD, t.pivots, torch.tensor(B), hermitian=hermitian)
    assert tuple(X.shape) == tuple(tX.shape)
    _close(_np(X), tX.numpy(), dtype, "X", scale=100)


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_complex_reads_the_lower_triangle(hermitian):
    # a matrix that is neither symmetric nor Hermitian: torch (LAPACK) reads its lower triangle
    A = LDL["general"]
    t = torch.linalg.ldl_factor(torch.tensor(A), hermitian=hermitian)
    e = ember.linalg.ldl_factor(ember.tensor(A), hermitian=hermitian)
    np.testing.assert_array_equal(_np(e.pivots), t.pivots.numpy())
    _close(_np(e.LD), t.LD.numpy(), "complex128", scale=10)


def test_ldl_hermitian_takes_the_real_part_of_the_diagonal():
    A = _symmetrize(LDL["general"], True)
    A[2, 2] += 0.7j  # hetrf ignores the imaginary part of a diagonal entry; D stays real
    t = torch.linalg.ldl_factor(torch.tensor(A), hermitian=True)
    e = ember.linalg.ldl_factor(ember.tensor(A), hermitian=True)
    _close(_np(e.LD), t.LD.numpy(), "complex128", scale=10)
    assert np.all(np.diagonal(_np(e.LD)).imag == 0)


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_complex_singular_info_as_torch(hermitian):
    A = np.zeros((3, 3), dtype=np.complex128)
    A[0, 0] = 1 + 1j if not hermitian else 1
    t = torch.linalg.ldl_factor_ex(torch.tensor(A), hermitian=hermitian)
    e = ember.linalg.ldl_factor_ex(ember.tensor(A), hermitian=hermitian)
    assert int(e.info) == int(t.info) == 2
    np.testing.assert_array_equal(_np(e.pivots), t.pivots.numpy())
    with pytest.raises(RuntimeError, match="D\\[2,2\\] is zero"):
        ember.linalg.ldl_factor(ember.tensor(A), hermitian=hermitian)


def test_ldl_solve_complex_dtype_mismatch_as_torch():
    A = _symmetrize(LDL["general"], False)
    messages = []
    for lib in (torch, ember):
        LD, pivots = lib.linalg.ldl_factor(lib.tensor(A))
        with pytest.raises(RuntimeError) as info:
            lib.linalg.ldl_solve(LD, pivots, lib.ones(5, 1, dtype=lib.float32))
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_ldl_complex_is_not_differentiable_as_torch():
    A = ember.tensor(_symmetrize(LDL["general"], True)).requires_grad_()
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not"):
        ember.linalg.ldl_factor(A, hermitian=True).LD.abs().sum().backward()


@pytest.mark.parametrize("hermitian", [False, True])
@pytest.mark.parametrize("device", DEVICES)
def test_ldl_real_takes_hermitian_on_every_device(device, hermitian):
    # for real input hermitian= changes nothing; a device without the kernels runs cpu's
    a = np.random.default_rng(2).standard_normal((4, 4))
    A = a + a.T
    t = torch.linalg.ldl_factor(torch.tensor(A), hermitian=hermitian)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = ember.linalg.ldl_factor(ember.tensor(A, device=device), hermitian=hermitian)
        X = ember.linalg.ldl_solve(e.LD, e.pivots, ember.eye(4, dtype=ember.float64,
                                                             device=device),
                                   hermitian=hermitian)
    assert X.device.type == device
    np.testing.assert_array_equal(_np(e.pivots), t.pivots.numpy())
    np.testing.assert_allclose(_np(e.LD), t.LD.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(X), np.linalg.inv(A), rtol=1e-9, atol=1e-10)
