"""ember.linalg on complex64/complex128 (and eig/eigvals, complex for real input too), and
ember.stft/istft: values against torch (gauge-invariant quantities where a decomposition fixes
its vectors only up to phase), gradients against torch with its complex convention, and
against finite differences (gradcheck on the real view); the cuda backend through the NumPy
stand-in; real linalg on opencl unchanged."""
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
except ImportError:  # the NumPy-reference and gradcheck tests still run
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed: these compare with it as the reference "
                          "(pip install torch==2.13.0 --index-url https://download.pytorch.org/"
                          "whl/cpu)")

pytestmark = pytest.mark.filterwarnings("ignore:A window was not provided:UserWarning",
                                        "ignore:ember.*has no .* kernel:UserWarning")

RNG = np.random.default_rng(11)


def _crandn(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


A3 = _crandn(3, 3)            # a general complex matrix
B3 = _crandn(3, 2)
TALL = _crandn(4, 3)
WIDE = _crandn(3, 4)
BATCH = _crandn(2, 3, 3)
REAL3 = RNG.standard_normal((3, 3))
SIG = RNG.standard_normal(40)
SIG_B = RNG.standard_normal((2, 33))
CSIG = _crandn(24)


def _np(t):
    return np.asarray(t.detach().to("cpu").numpy())


def _close(a, b, rtol=1e-8, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _herm(m, a):
    """A Hermitian positive-definite matrix made of a (differentiably)."""
    return a @ a.mH + 3 * m.eye(a.shape[-1], dtype=a.dtype)


def _ember(a, dtype=None):
    return ember.tensor(a, dtype=dtype or ember.complex128)


def _torch(a, dtype=None):
    return torch.tensor(a, dtype=dtype or torch.complex128)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


# ---- forward values against torch ---------------------------------------------------------------

_VALUES = [
    ("vector_norm", lambda m, a: m.linalg.vector_norm(a), A3),
    ("vector_norm_ord1_dim", lambda m, a: m.linalg.vector_norm(a, 1, dim=0), A3),
    ("vector_norm_inf", lambda m, a: m.linalg.vector_norm(a, float("inf")), A3),
    ("norm", lambda m, a: m.linalg.norm(a), BATCH),
    ("matrix_norm_fro", lambda m, a: m.linalg.matrix_norm(a), BATCH),
    ("matrix_norm_nuc", lambda m, a: m.linalg.matrix_norm(a, "nuc"), TALL),
    ("matrix_norm_1", lambda m, a: m.linalg.matrix_norm(a, 1), WIDE),
    ("matrix_norm_-inf", lambda m, a: m.linalg.matrix_norm(a, float("-inf")), WIDE),
    ("matrix_norm_2", lambda m, a: m.linalg.matrix_norm(a, 2), TALL),
    ("matrix_norm_-2", lambda m, a: m.linalg.matrix_norm(a, -2), TALL),
    ("det", lambda m, a: m.linalg.det(a), BATCH),
    ("slogdet", lambda m, a: tuple(m.linalg.slogdet(a)), BATCH),
    ("logdet", lambda m, a: m.logdet(a), A3),
    ("inv", lambda m, a: m.linalg.inv(a), BATCH),
    ("inv_ex", lambda m, a: tuple(m.linalg.inv_ex(a)), A3),
    ("solve", lambda m, a: m.linalg.solve(a, a[..., :2].conj()), BATCH),
    ("solve_vector", lambda m, a: m.linalg.solve(a, a[:, 0] * 1j), A3),
    ("solve_right", lambda m, a: m.linalg.solve(a, a.mH, left=False), A3),
    ("solve_triangular", lambda m, a: m.linalg.solve_triangular(a, a.mH, upper=True), BATCH),
    ("solve_triangular_right",
     lambda m, a: m.linalg.solve_triangular(a, a.mH, upper=False, left=False), A3),
    ("cholesky", lambda m, a: m.linalg.cholesky(_herm(m, a)), BATCH),
    ("cholesky_upper", lambda m, a: m.linalg.cholesky(_herm(m, a), upper=True), A3),
    ("cholesky_ex", lambda m, a: tuple(m.linalg.cholesky_ex(_herm(m, a))), A3),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), TALL),
    ("eigvalsh", lambda m, a: m.linalg.eigvalsh(_herm(m, a)), BATCH),
    # (the upper triangle is read: the lower one is garbage on purpose)
    ("eigvalsh_U", lambda m, a: m.linalg.eigvalsh(_herm(m, a).triu() + a.tril(-1), "U"), A3),
    ("pinv_tall", lambda m, a: m.linalg.pinv(a), TALL),
    ("pinv_wide", lambda m, a: m.linalg.pinv(a), WIDE),
    ("pinv_hermitian", lambda m, a: m.linalg.pinv(_herm(m, a), hermitian=True), A3),
    ("lstsq", lambda m, a: m.linalg.lstsq(a, a[:, :2] * 1j + 1).solution, TALL),
    ("lstsq_gelsd", lambda m, a: tuple(m.linalg.lstsq(a, a[:, :2] + 1, driver="gelsd")), TALL),
    ("lstsq_gels", lambda m, a: tuple(m.linalg.lstsq(a, a[:, 0] + 1j, driver="gels")), TALL),
    ("matrix_exp", lambda m, a: m.linalg.matrix_exp(a), BATCH),
    ("matrix_exp_top", lambda m, a: m.matrix_exp(a * 0.1), A3),
    ("matrix_power_3", lambda m, a: m.linalg.matrix_power(a, 3), A3),
    ("matrix_power_-2", lambda m, a: m.linalg.matrix_power(a, -2), BATCH),
    ("lu_factor", lambda m, a: tuple(m.linalg.lu_factor(a)), BATCH),
    ("lu", lambda m, a: tuple(m.linalg.lu(a)), WIDE),
    ("lu_solve", lambda m, a: m.linalg.lu_solve(*m.linalg.lu_factor(a), a.mH), A3),
    ("lu_solve_adjoint",
     lambda m, a: m.linalg.lu_solve(*m.linalg.lu_factor(a), a.mH, adjoint=True), A3),
    ("lu_solve_right",
     lambda m, a: m.linalg.lu_solve(*m.linalg.lu_factor(a), a.mH, left=False), A3),
    ("lu_solve_right_adjoint",
     lambda m, a: m.linalg.lu_solve(*m.linalg.lu_factor(a), a.mH, left=False, adjoint=True),
     A3),
    ("matrix_rank", lambda m, a: m.linalg.matrix_rank(a), TALL),
    ("cond", lambda m, a: m.linalg.cond(a), BATCH),
    ("cond_fro", lambda m, a: m.linalg.cond(a, "fro"), A3),
    ("vecdot", lambda m, a: m.linalg.vecdot(a, a * 1j + 2), A3),
    ("householder_product",
     lambda m, a: m.linalg.householder_product(a, a[:3, 0] * 0.3), TALL),
    ("tensorinv", lambda m, a: m.linalg.tensorinv(a, 1), A3),
    ("tensorsolve", lambda m, a: m.linalg.tensorsolve(a, a[0]), A3),
    ("multi_dot", lambda m, a: m.linalg.multi_dot([a, a.mH, a]), A3),
    ("eigvals_sorted_by_real", lambda m, a: m.sort(m.linalg.eigvals(a).real)[0], BATCH),
]


@needs_torch
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@pytest.mark.parametrize("name, fn, arg", _VALUES, ids=[c[0] for c in _VALUES])
def test_values_match_torch(name, fn, arg, dtype):
    e = fn(ember, _ember(arg, getattr(ember, dtype)))
    t = fn(torch, _torch(arg, getattr(torch, dtype)))
    es, ts = (e, t) if isinstance(e, tuple) else ((e,), (t,))
    tol = 1e-9 if dtype == "complex128" else 2e-4
    for a, b in zip(es, ts):
        assert a.dtype.name == _dtype_name(b), (a.dtype, b.dtype)
        assert tuple(a.shape) == tuple(b.shape)
        _close(_np(a), b.resolve_conj().numpy(), tol, tol)


@needs_torch
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_qr_svd_eigh_gauge_invariant(dtype):
    edt, tdt = getattr(ember, dtype), getattr(torch, dtype)
    tol = 1e-9 if dtype == "complex128" else 2e-4
    for arg in (TALL, WIDE):
        a = _ember(arg, edt)
        for mode in ("reduced", "complete"):
            Q, R = ember.linalg.qr(a, mode=mode)
            tQ, tR = torch.linalg.qr(_torch(arg, tdt), mode=mode)
            assert tuple(Q.shape) == tuple(tQ.shape) and tuple(R.shape) == tuple(tR.shape)
            _close(_np(Q @ R), arg, tol, tol)
            _close(_np(Q.mH @ Q), np.eye(Q.shape[-1]), tol, tol)
            _close(_np(R), np.triu(_np(R)), 0, 0)
            _close(np.abs(_np(R)), np.abs(tR.numpy()), tol, tol)   # rows up to a phase
        U, S, Vh = ember.linalg.svd(a, full_matrices=False)
        tS = torch.linalg.svdvals(_torch(arg, tdt))
        assert S.dtype is edt.to_real()
        _close(_np(S), tS.numpy(), tol, tol)
        _close(_np((U * S.to(edt).unsqueeze(-2)) @ Vh), arg, tol, tol)
        Uf, _, Vhf = ember.linalg.svd(a)
        k = min(arg.shape)
        _close(_np(Uf.mH @ Uf), np.eye(arg.shape[0]), tol, tol)
        _close(_np(Vhf @ Vhf.mH), np.eye(arg.shape[1]), tol, tol)
        _close(_np((Uf[:, :k] * S.to(edt).unsqueeze(-2)) @ Vhf[:k]), arg, tol, tol)
    H = _herm(ember, _ember(BATCH, edt))
    w, V = ember.linalg.eigh(H)
    tw = torch.linalg.eigvalsh(_herm(torch, _torch(BATCH, tdt)))
    assert w.dtype is edt.to_real() and V.dtype is edt
    _close(_np(w), tw.numpy(), tol, tol)
    _close(_np((V * w.to(edt).unsqueeze(-2)) @ V.mH), _np(H), tol * 10, tol * 10)


def _check_eig(A, w, V, tol):
    A, w, V = _np(A), _np(w), _np(V)
    _close(A.astype(V.dtype) @ V, V * w[..., None, :], tol, tol)
    _close(np.linalg.norm(V, axis=-2), np.ones(w.shape), tol, tol)   # unit columns (geev's)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_eig_eigvals(dtype):
    dt = getattr(ember, dtype)
    arg = BATCH if dt.is_complex else RNG.standard_normal((2, 4, 4))
    a = ember.tensor(arg, dtype=dt)
    w, V = ember.linalg.eig(a)
    want = dt if dt.is_complex else dt.to_complex()
    assert w.dtype is want and V.dtype is want
    tol = 1e-9 if dtype in ("float64", "complex128") else 1e-4
    _check_eig(a, w, V, tol)
    ref = np.linalg.eigvals(arg.astype(np.complex128))
    got = _np(ember.linalg.eigvals(a))
    assert got.dtype == w.numpy().dtype
    for g, r in zip(got, ref):   # (the same multiset of eigenvalues)
        order = [int(np.argmin(np.abs(r - x))) for x in g]
        assert sorted(order) == list(range(len(r)))
        _close(g, r[order], tol, tol)


def test_eig_of_rotation_is_complex_and_deprecated_eig_refuses():
    r = ember.linalg.eig(ember.tensor([[0.0, -1.0], [1.0, 0.0]]))
    _close(np.sort_complex(_np(r.eigenvalues)), [-1j, 1j], 1e-6, 1e-6)
    with pytest.raises(RuntimeError, match="deprecated"):
        ember.eig(ember.eye(2))
    with pytest.raises(RuntimeError, match="infs or NaNs"):
        ember.linalg.eigvals(ember.tensor([[float("nan"), 0.0], [0.0, 1.0]]))


@needs_torch
def test_eig_matches_torch_gauge_invariant():
    for arg in (A3, REAL3):
        e = ember.linalg.eig(ember.tensor(arg))
        t = torch.linalg.eig(torch.tensor(arg))
        # pair the eigenvalues up (LAPACK builds may order them differently), then compare
        # the eigenvectors up to a phase: |<v_e, v_t>| = 1
        we, wt = _np(e.eigenvalues), t.eigenvalues.numpy()
        order = [int(np.argmin(np.abs(wt - x))) for x in we]
        _close(we, wt[order], 1e-10, 1e-10)
        overlap = np.abs(np.sum(_np(e.eigenvectors).conj() * t.eigenvectors.numpy()[:, order],
                                axis=0))
        _close(overlap, np.ones(3), 1e-9, 1e-9)


def test_ldl_takes_complex():
    # (compared with torch, both hermitian= settings, in tests/test_complex_gaps.py)
    H = _herm(ember, _ember(A3))
    X = ember.linalg.ldl_solve(*ember.linalg.ldl_factor(H, hermitian=True), _ember(B3),
                               hermitian=True)
    _close(_np(H @ X), B3, 1e-10, 1e-10)


@needs_torch
def test_real_linalg_unchanged_dtype_rules():
    # real inputs keep real results; integer inputs are refused as torch does
    x = ember.tensor(REAL3)
    assert ember.linalg.slogdet(x).logabsdet.dtype is ember.float64
    assert ember.linalg.svdvals(x).dtype is ember.float64
    with pytest.raises(RuntimeError, match="floating point or complex"):
        ember.linalg.inv(ember.tensor([[1, 2], [3, 4]]))
    with pytest.raises(RuntimeError):
        torch.linalg.inv(torch.tensor([[1, 2], [3, 4]]))


# ---- gradients: finite differences ------------------------------------------------------------

def _svd_invariant(m, a):
    U, S, Vh = m.linalg.svd(a, full_matrices=False)
    # phase-invariant: |U|, U Vh, S
    return U.abs(), (U @ Vh) * (1 + 1j), S


def _svd_full_invariant(m, a):
    U, S, Vh = m.linalg.svd(a)
    k = S.shape[-1]
    return U[..., :k] @ Vh[..., :k, :], S


def _eigh_invariant(m, a, uplo="L"):
    w, V = m.linalg.eigh(_herm(m, a), uplo)
    return w, V.abs(), V[..., :2] @ V[..., :2].mH


def _eig_invariant(m, a):
    w, V = m.linalg.eig(a)
    return w, V.abs(), V[..., :1] @ V[..., :1].mH @ a.to(V.dtype)


def _qr_both(m, a):
    return tuple(m.linalg.qr(a))


_GRADS = [
    ("inv", lambda m, a: m.linalg.inv(a), [BATCH]),
    ("det", lambda m, a: m.linalg.det(a), [BATCH]),
    ("slogdet", lambda m, a: tuple(m.linalg.slogdet(a)), [A3]),
    ("logdet", lambda m, a: m.logdet(a), [A3]),
    ("solve", lambda m, a, b: m.linalg.solve(a, b), [A3, B3]),
    ("solve_right", lambda m, a, b: m.linalg.solve(a, b.mT, left=False), [A3, B3]),
    ("solve_triangular", lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True),
     [A3, B3]),
    ("solve_triangular_unit",
     lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
     [A3, B3]),
    ("cholesky", lambda m, a: m.linalg.cholesky(_herm(m, a)), [BATCH]),
    ("cholesky_upper", lambda m, a: m.linalg.cholesky(_herm(m, a), upper=True), [A3]),
    ("qr_tall", _qr_both, [TALL]),
    ("qr_square", _qr_both, [A3]),
    ("qr_wide", _qr_both, [WIDE]),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), [TALL]),
    ("svd_tall", _svd_invariant, [TALL]),
    ("svd_wide", _svd_invariant, [WIDE]),
    ("svd_full", _svd_full_invariant, [TALL]),
    ("eigh", _eigh_invariant, [A3]),
    ("eigh_U", lambda m, a: _eigh_invariant(m, a, "U"), [A3]),
    ("eigvalsh", lambda m, a: m.linalg.eigvalsh(_herm(m, a)), [BATCH]),
    ("pinv_tall", lambda m, a: m.linalg.pinv(a), [TALL]),
    ("pinv_wide", lambda m, a: m.linalg.pinv(a), [WIDE]),
    ("pinv_hermitian", lambda m, a: m.linalg.pinv(_herm(m, a), hermitian=True), [A3]),
    ("lstsq", lambda m, a, b: m.linalg.lstsq(a, b).solution, [TALL, _crandn(4, 2)]),
    ("matrix_exp", lambda m, a: m.linalg.matrix_exp(a), [A3]),
    ("matrix_power", lambda m, a: m.linalg.matrix_power(a, -2), [A3]),
    ("lu_factor", lambda m, a: m.linalg.lu_factor(a).LU, [A3]),
    ("lu_tall", lambda m, a: tuple(m.linalg.lu(a))[1:], [TALL]),
    ("lu_wide", lambda m, a: tuple(m.linalg.lu(a))[1:], [WIDE]),
    ("lu_solve_adjoint",
     lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b, adjoint=True), [A3, B3]),
    ("lu_solve_right",
     lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b.mT, left=False), [A3, B3]),
    ("norms", lambda m, a: (m.linalg.matrix_norm(a, "nuc"), m.linalg.matrix_norm(a, 2),
                            m.linalg.vector_norm(a, 3), m.linalg.matrix_norm(a, 1)), [TALL]),
    ("cond", lambda m, a: m.linalg.cond(a), [A3]),
    ("householder_product", lambda m, a, t: m.linalg.householder_product(a, t),
     [TALL, _crandn(3) * 0.3]),
    ("eigvals", lambda m, a: m.linalg.eigvals(a), [BATCH]),
    ("eig", _eig_invariant, [A3]),
]


@pytest.mark.parametrize("name, fn, args", _GRADS, ids=[c[0] for c in _GRADS])
def test_gradcheck(name, fn, args):
    xs = tuple(_ember(a).requires_grad_() for a in args)
    assert ember.autograd.gradcheck(lambda *x: fn(ember, *x), xs, eps=1e-6, atol=1e-5,
                                    rtol=1e-4)


@pytest.mark.parametrize("name, fn", [
    ("eig", lambda a: _eig_invariant(ember, a)),
    ("eigvals", lambda a: ember.linalg.eigvals(a)),
    ("eigh", lambda a: ember.linalg.eigh(a @ a.mT).eigenvalues),
])
def test_gradcheck_real_input_complex_result(name, fn):
    x = ember.tensor(REAL3, dtype=ember.float64).requires_grad_()
    assert ember.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_det_gradient_at_a_singular_complex_matrix_is_the_cofactor_matrix():
    # rank 2 (row 2 = 2 * row 1): the gradient of Re(w det A) is conj(w) conj(cof(A)).
    # NOTE: not compared with torch: torch 2.13 misses its singular branch here (its det is
    # not exactly 0) and returns values far from the cofactors.
    a = np.array([[1 + 1j, 2 - 1j, 0.5j], [2 + 2j, 4 - 2j, 1j], [0.3, 1j, 2]])
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                     for j in range(3)] for i in range(3)])
    w = 0.7 - 0.2j
    x = _ember(a).requires_grad_()
    (ember.linalg.det(x) * w).real.backward()
    _close(_np(x.grad), np.conj(w) * cof.conj(), 1e-6, 1e-6)


def test_gradgradcheck_inv_det():
    x = _ember(A3).requires_grad_()
    assert ember.autograd.gradgradcheck(lambda a: ember.linalg.det(ember.linalg.inv(a)), (x,),
                                        eps=1e-6, atol=1e-5, rtol=1e-4)


def _weights(m, out, i):
    """Fixed complex weights w for the loss Re(sum(out * w)) (real weights for real outs)."""
    n = np.arange(out.numel()).reshape(tuple(out.shape))
    w = np.cos(n * (i + 1.3)) + (1j * np.sin(n + i) if out.dtype.is_complex else 0)
    return m.tensor(w, dtype=out.dtype)


def _loss(m, outs):
    outs = outs if isinstance(outs, tuple) else (outs,)
    total = 0
    for i, o in enumerate(outs):
        p = o * _weights(m, o, i)
        total = total + (p.real if o.dtype.is_complex else p).sum()
    return total


@needs_torch
@pytest.mark.parametrize("name, fn, args", _GRADS, ids=[c[0] for c in _GRADS])
def test_grads_match_torch(name, fn, args):
    es = [_ember(a).requires_grad_() for a in args]
    ts = [_torch(a).requires_grad_() for a in args]
    le, lt = _loss(ember, fn(ember, *es)), _loss(torch, fn(torch, *ts))
    _close(le.item(), lt.item(), 1e-8, 1e-8)
    le.backward()
    lt.backward()
    for e, t in zip(es, ts):
        assert e.grad.dtype is ember.complex128
        _close(_np(e.grad), t.grad.numpy(), 1e-6, 1e-8)


@needs_torch
@pytest.mark.parametrize("name, fn", [
    ("eig", lambda m, a: _eig_invariant(m, a)), ("eigvals", lambda m, a: m.linalg.eigvals(a)),
    ("det", lambda m, a: m.linalg.det(a.to(m.complex128) * (1 + 1j))),
])
def test_real_input_grads_match_torch(name, fn):
    e = ember.tensor(REAL3).requires_grad_()
    t = torch.tensor(REAL3).requires_grad_()
    le, lt = _loss(ember, fn(ember, e)), _loss(torch, fn(torch, t))
    le.backward()
    lt.backward()
    assert e.grad.dtype is ember.float64
    _close(_np(e.grad), t.grad.numpy(), 1e-6, 1e-8)


@pytest.mark.parametrize("name, fn", [
    ("svd", lambda a: ember.linalg.svd(a, full_matrices=False).U.sum().real),
    ("eigh", lambda a: ember.linalg.eigh(_herm(ember, a)).eigenvectors.sum().imag),
    ("eig", lambda a: ember.linalg.eig(a).eigenvectors.sum().real),
])
def test_phase_dependent_losses_are_refused(name, fn):
    # torch refuses them too (the phases of complex singular/eigen vectors are arbitrary)
    x = _ember(A3).requires_grad_()
    with pytest.raises(RuntimeError, match="e\\^\\{i phi\\}"):
        fn(x).backward()


# ---- stft / istft -------------------------------------------------------------------------------

def _hann(m, n):
    return m.hann_window(n, dtype=m.float64)


_STFT = [
    ("plain", lambda m, x: m.stft(x, 8, return_complex=True), SIG),
    ("hann", lambda m, x: m.stft(x, 8, window=_hann(m, 8), return_complex=True), SIG),
    ("hop_win", lambda m, x: m.stft(x, 8, hop_length=3, win_length=6, window=_hann(m, 6),
                                    return_complex=True), SIG),
    ("win_no_window", lambda m, x: m.stft(x, 8, hop_length=3, win_length=5,
                                          return_complex=True), SIG),
    ("constant_normalized", lambda m, x: m.stft(x, 8, pad_mode="constant", normalized=True,
                                                return_complex=True), SIG),
    ("replicate", lambda m, x: m.stft(x, 6, pad_mode="replicate", return_complex=True), SIG),
    ("no_center_twosided", lambda m, x: m.stft(x, 8, center=False, onesided=False,
                                               return_complex=True), SIG),
    ("align_to_window", lambda m, x: m.stft(x, 8, win_length=4, hop_length=2, center=False,
                                            align_to_window=True, return_complex=True), SIG),
    ("batch", lambda m, x: m.stft(x, 8, window=_hann(m, 8), return_complex=True), SIG_B),
    ("complex_input", lambda m, x: m.stft(x, 8, window=_hann(m, 8), return_complex=True),
     CSIG),
    ("complex_window", lambda m, x: m.stft(x, 8, window=_hann(m, 8) * (1 + 1j),
                                           return_complex=True), SIG),
    ("method", lambda m, x: x.stft(8, window=_hann(m, 8), return_complex=True), SIG),
    ("float32", lambda m, x: m.stft(x.float(), 8, window=m.hann_window(8),
                                    return_complex=True), SIG),
    ("istft", lambda m, x: m.istft(m.stft(x, 8, 2, window=_hann(m, 8), return_complex=True),
                                   8, 2, window=_hann(m, 8)), SIG),
    ("istft_length", lambda m, x: m.istft(m.stft(x, 8, 2, window=_hann(m, 8),
                                                 return_complex=True), 8, 2,
                                          window=_hann(m, 8), length=37), SIG),
    ("istft_normalized", lambda m, x: m.istft(
        m.stft(x, 8, 3, window=_hann(m, 8), normalized=True, return_complex=True), 8, 3,
        window=_hann(m, 8), normalized=True), SIG),
    ("istft_no_center", lambda m, x: m.istft(
        m.stft(x, 8, 2, window=m.ones(8, dtype=m.float64), center=False, return_complex=True),
        8, 2, window=m.ones(8, dtype=m.float64), center=False), SIG),
    ("istft_twosided", lambda m, x: m.istft(
        m.stft(x, 8, 2, window=_hann(m, 8), onesided=False, return_complex=True), 8, 2,
        window=_hann(m, 8)), SIG),
    ("istft_complex", lambda m, x: m.istft(
        m.stft(x, 8, 2, window=_hann(m, 8), return_complex=True), 8, 2, window=_hann(m, 8),
        return_complex=True), CSIG),
    ("istft_win_length", lambda m, x: m.istft(
        m.stft(x, 8, 2, 6, window=_hann(m, 6), return_complex=True), 8, 2, 6,
        window=_hann(m, 6)), SIG),
    ("istft_batch_method", lambda m, x: m.stft(x, 8, 2, window=_hann(m, 8),
                                               return_complex=True).istft(
        8, 2, window=_hann(m, 8), length=33), SIG_B),
]


@needs_torch
@pytest.mark.parametrize("name, fn, arg", _STFT, ids=[c[0] for c in _STFT])
def test_stft_values_match_torch(name, fn, arg):
    e, t = fn(ember, ember.tensor(arg)), fn(torch, torch.tensor(arg))
    assert e.dtype.name == _dtype_name(t) and tuple(e.shape) == tuple(t.shape)
    tol = 1e-5 if e.dtype in (ember.float32, ember.complex64) else 1e-10
    _close(_np(e), t.numpy(), tol, tol)


def test_istft_inverts_stft():
    x = ember.tensor(SIG)
    w = ember.hann_window(16, dtype=ember.float64)
    S = ember.stft(x, 16, 4, window=w, return_complex=True)
    _close(_np(ember.istft(S, 16, 4, window=w, length=40)), SIG, 1e-10, 1e-10)


@needs_torch
def test_stft_return_complex_false_and_long_length_warn_like_torch():
    x = SIG
    with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
        e = ember.stft(ember.tensor(x), 8, window=ember.ones(8, dtype=ember.float64),
                       return_complex=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.stft(torch.tensor(x), 8, window=torch.ones(8, dtype=torch.float64),
                       return_complex=False)
    assert tuple(e.shape) == tuple(t.shape) and e.dtype is ember.float64
    _close(_np(e), t.numpy(), 1e-10, 1e-10)
    S = ember.stft(ember.tensor(x), 8, 2, window=ember.ones(8, dtype=ember.float64),
                   return_complex=True)
    with pytest.warns(UserWarning, match="padded with zeros"):
        y = ember.istft(S, 8, 2, window=ember.ones(8, dtype=ember.float64), length=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ty = torch.istft(torch.tensor(_np(S)), 8, 2, window=torch.ones(8, dtype=torch.float64),
                         length=50)
    assert tuple(y.shape) == (50,)
    _close(_np(y), ty.numpy(), 1e-10, 1e-10)
    _close(_np(y)[44:], np.zeros(6), 0, 0)   # (the signal ends at 48 - n_fft // 2)


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m, x: m.stft(x, 8),                                      # return_complex missing
    lambda m, x: m.stft(x, 50, return_complex=True, center=False),  # n_fft too long
    lambda m, x: m.stft(x, 8, hop_length=0, return_complex=True),
    lambda m, x: m.stft(x, 8, win_length=9, return_complex=True),
    lambda m, x: m.stft(x, 8, window=m.ones(6, dtype=m.float64), return_complex=True),
    lambda m, x: m.stft(x.reshape(2, 2, 10), 4, return_complex=True),
    lambda m, x: m.stft(x.to(m.int64), 8, return_complex=True),
    lambda m, x: m.stft(x * 1j, 8, onesided=True, return_complex=True),
    lambda m, x: m.stft(x, 8, align_to_window=True, return_complex=True),
    lambda m, x: m.istft(x, 8),                                     # a real input
    lambda m, x: m.istft(m.stft(x, 8, return_complex=True), 8, hop_length=9),
    lambda m, x: m.istft(m.stft(x, 8, return_complex=True), 8, onesided=False),
    lambda m, x: m.istft(m.stft(x, 8, return_complex=True), 8,
                         window=m.zeros(8, dtype=m.float64)),
    lambda m, x: m.istft(m.stft(x, 8, return_complex=True), 8, return_complex=True),
])
def test_stft_errors_like_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError) as t:
            call(torch, torch.tensor(SIG))
        with pytest.raises(RuntimeError) as e:
            call(ember, ember.tensor(SIG))
    # (the first line: torch appends a C++ backtrace-like tail to some)
    assert str(e.value).splitlines()[0] == str(t.value).splitlines()[0]


_STFT_GRADS = [
    ("stft", lambda x: ember.stft(x, 8, 3, window=_hann(ember, 8), return_complex=True), "r"),
    ("stft_constant_normalized", lambda x: ember.stft(
        x, 6, 2, 4, pad_mode="constant", normalized=True, return_complex=True), "r"),
    ("stft_twosided", lambda x: ember.stft(x, 8, 3, window=_hann(ember, 8), onesided=False,
                                           return_complex=True), "r"),
    ("stft_complex", lambda z: ember.stft(z, 8, 3, window=_hann(ember, 8),
                                          return_complex=True), "c"),
    ("istft", lambda z: ember.istft(z.reshape(5, 7), 8, 2, window=_hann(ember, 8)), "c"),
    ("istft_length_normalized", lambda z: ember.istft(
        z.reshape(5, 7), 8, 3, window=_hann(ember, 8), normalized=True, length=20), "c"),
    ("istft_complex", lambda z: ember.istft(z.reshape(8, 5), 8, 2, window=_hann(ember, 8),
                                            return_complex=True), "c"),
]


@pytest.mark.parametrize("name, fn, kind", _STFT_GRADS, ids=[c[0] for c in _STFT_GRADS])
def test_stft_gradcheck(name, fn, kind):
    if kind == "r":
        x = ember.tensor(SIG[:20], dtype=ember.float64).requires_grad_()
    else:
        n = 40 if name == "istft_complex" else 35
        x = _ember(_crandn(n)).requires_grad_()
    assert ember.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


@needs_torch
@pytest.mark.parametrize("name, fn, arg", [
    ("stft", lambda m, x: m.stft(x, 8, 3, window=_hann(m, 8), return_complex=True), SIG),
    ("stft_complex", lambda m, x: m.stft(x, 8, 3, win_length=6, window=_hann(m, 6),
                                         return_complex=True), CSIG),
    ("stft_istft", lambda m, x: m.istft(m.stft(x, 8, 2, window=_hann(m, 8),
                                               return_complex=True) * (1 + 0.5j), 8, 2,
                                        window=_hann(m, 8), length=40), SIG),
    ("istft_normalized", lambda m, x: m.istft(
        m.stft(x, 8, 2, window=_hann(m, 8), normalized=True, return_complex=True) ** 2, 8, 2,
        window=_hann(m, 8), normalized=True), SIG),
], ids=["stft", "stft_complex", "stft_istft", "istft_normalized"])
def test_stft_grads_match_torch(name, fn, arg):
    e, t = ember.tensor(arg).requires_grad_(), torch.tensor(arg).requires_grad_()
    le, lt = _loss(ember, fn(ember, e)), _loss(torch, fn(torch, t))
    _close(le.item(), lt.item(), 1e-9, 1e-9)
    le.backward()
    lt.backward()
    _close(_np(e.grad), t.grad.numpy(), 1e-8, 1e-10)


# ---- backends: cuda through the NumPy stand-in, opencl keeps real linalg ------------------------

_CUDA_SCRIPT = r"""
from ember.backends.cuda import fakecupy
fakecupy.install()
import numpy as np
import ember
rng = np.random.default_rng(0)
A = rng.standard_normal((2, 3, 3)) + 1j * rng.standard_normal((2, 3, 3))
a = ember.tensor(A, dtype=ember.complex64, device="cuda").requires_grad_()
H = a @ a.mH + 3 * ember.eye(3, dtype=ember.complex64, device="cuda")
outs = [ember.linalg.inv(a), ember.linalg.det(a), ember.linalg.cholesky(H),
        ember.linalg.eigh(H).eigenvalues, ember.linalg.svdvals(a), ember.linalg.qr(a).R,
        ember.linalg.eigvals(a), ember.linalg.solve(a, H), ember.linalg.slogdet(a).logabsdet,
        ember.linalg.pinv(a), ember.linalg.matrix_exp(a), ember.linalg.lu_factor(a).LU,
        ember.linalg.matrix_norm(a, "nuc")]
for o in outs:
    assert o.device.type == "cuda", o.device
np.testing.assert_allclose(outs[0].detach().cpu().numpy(), np.linalg.inv(A), rtol=1e-4,
                           atol=1e-4)
np.testing.assert_allclose(outs[1].detach().cpu().numpy(), np.linalg.det(A), rtol=1e-4,
                           atol=1e-4)
sum(o.abs().sum() for o in outs).backward()
assert a.grad.device.type == "cuda" and a.grad.dtype is ember.complex64
x = ember.tensor(rng.standard_normal(32), dtype=ember.float32, device="cuda")
w = ember.hann_window(8, device="cuda")
S = ember.stft(x, 8, 2, window=w, return_complex=True)
assert S.device.type == "cuda" and S.dtype is ember.complex64
y = ember.istft(S, 8, 2, window=w, length=32)
np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy(), rtol=1e-5, atol=1e-5)
print("ok")
"""


def test_cuda_complex_linalg_with_fakecupy(tmp_path):
    if importlib.util.find_spec("ember") is None:
        pytest.skip("ember is not importable by a subprocess here")
    env = dict(os.environ, EMBER_FALLBACK="silent")
    proc = subprocess.run([sys.executable, "-c", _CUDA_SCRIPT], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok"), proc.stdout


def test_opencl_real_linalg_still_works():
    if "opencl" not in ember.backends.available():
        pytest.skip("no opencl device here (pyopencl with PoCL is needed)")
    x = ember.tensor(REAL3 + 3 * np.eye(3), dtype=ember.float32, device="opencl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inv = ember.linalg.inv(x)
        w = ember.linalg.eigvalsh(x @ x.mT)
    assert inv.device.type == "opencl"
    _close(_np(inv), np.linalg.inv(REAL3 + 3 * np.eye(3)), 1e-4, 1e-4)
    _close(_np(w), np.linalg.eigvalsh(_np(x @ x.mT).astype(np.float64)), 1e-3, 1e-3)
