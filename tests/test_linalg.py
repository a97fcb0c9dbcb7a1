"""ember.linalg against torch.linalg: values, gradients, batching, info codes and error cases, on
every available backend; gradcheck and gradgradcheck in float64."""
import warnings

import numpy as np
import pytest
import torch

import ember

DEVICES = ember.backends.available()
LA = ember.linalg

pytestmark = pytest.mark.filterwarnings("ignore:ember.*has no .* kernel:UserWarning",
                                        "ignore:torch.*is deprecated:UserWarning")


def _np(t):
    return np.asarray(t.detach().to("cpu").numpy())


RNG = np.random.default_rng(7)


def _randn(*shape):
    return RNG.standard_normal(shape)


def _well_conditioned(*shape):
    return _randn(*shape) + 3 * np.eye(shape[-1])


def _spd(*shape):
    a = _randn(*shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sign_fixed(mod, U, Vh=None):
    """Singular/eigen vectors are unique up to sign: make each column's largest entry
    positive (the sign is a constant, so gradients are those of the decomposition)."""
    idx = U.abs().argmax(-2, keepdim=True)
    s = mod.sign(U.gather(-2, idx)).detach()
    return (U * s,) if Vh is None else (U * s, Vh * s.mT)


def _svd(mod):
    def f(a):
        U, S, Vh = mod.linalg.svd(a, full_matrices=False)
        return (*_sign_fixed(mod, U, Vh), S)
    return f


def _svd_full(mod):
    def f(a):  # (the columns of U past min(m, n) are any basis of the complement: left out)
        U, S, Vh = mod.linalg.svd(a, full_matrices=True)
        return (*_sign_fixed(mod, U[..., :S.shape[-1]], Vh), S)
    return f


def _eigh(mod, uplo="L"):
    def f(a):
        w, V = mod.linalg.eigh(a, uplo)
        return (w, *_sign_fixed(mod, V))
    return f


def _lstsq(mod, driver):
    return lambda a, b: tuple(mod.linalg.lstsq(a, b, driver=driver))


S44, S234 = (4, 4), (2, 3, 4)
# name -> (fn(module) -> callable over tensors, input arrays). Each runs on ember and torch.
CASES = {
    "det": (lambda m: m.linalg.det, [_randn(2, 4, 4)]),
    "slogdet": (lambda m: lambda a: tuple(m.linalg.slogdet(a)), [_randn(2, 4, 4)]),
    "logdet": (lambda m: m.logdet, [_spd(3, 3)]),
    "inv": (lambda m: m.linalg.inv, [_well_conditioned(2, 3, 3)]),
    "inv_ex": (lambda m: lambda a: tuple(m.linalg.inv_ex(a)), [_well_conditioned(3, 3)]),
    "solve": (lambda m: m.linalg.solve, [_well_conditioned(2, 3, 3), _randn(2, 3, 2)]),
    "solve_vector": (lambda m: m.linalg.solve, [_well_conditioned(2, 3, 3), _randn(2, 3)]),
    "solve_broadcast": (lambda m: m.linalg.solve, [_well_conditioned(2, 1, 3, 3),
                                                   _randn(4, 3, 2)]),
    "solve_right": (lambda m: lambda a, b: m.linalg.solve(a, b, left=False),
                    [_well_conditioned(3, 3), _randn(2, 2, 3)]),
    "solve_ex": (lambda m: lambda a, b: tuple(m.linalg.solve_ex(a, b)),
                 [_well_conditioned(3, 3), _randn(3, 2)]),
    "svd": (_svd, [_randn(2, 5, 3)]),
    "svd_wide": (_svd, [_randn(3, 5)]),
    "svd_full_tall": (_svd_full, [_randn(2, 5, 3)]),
    "svd_full_square": (lambda m: lambda a: m.linalg.svd(a).S, [_randn(4, 4)]),
    "svdvals": (lambda m: m.linalg.svdvals, [_randn(2, 3, 5)]),
    "qr_tall": (lambda m: lambda a: tuple(m.linalg.qr(a)), [_randn(2, 5, 3)]),
    "qr_wide": (lambda m: lambda a: tuple(m.linalg.qr(a)), [_randn(3, 5)]),
    "qr_complete": (lambda m: lambda a: tuple(m.linalg.qr(a, "complete")), [_randn(3, 3)]),
    "qr_r": (lambda m: lambda a: m.linalg.qr(a.detach(), "r").R, [_randn(4, 3)]),
    "eigh": (_eigh, [_randn(2, 4, 4)]),
    "eigh_upper": (lambda m: _eigh(m, "U"), [_randn(4, 4)]),
    "eigvalsh": (lambda m: m.linalg.eigvalsh, [_randn(2, 4, 4)]),
    "cholesky": (lambda m: m.linalg.cholesky, [_spd(2, 4, 4)]),
    "cholesky_upper": (lambda m: lambda a: m.linalg.cholesky(a, upper=True), [_spd(3, 3)]),
    "cholesky_ex": (lambda m: lambda a: tuple(m.linalg.cholesky_ex(a)), [_spd(3, 3)]),
    "pinv_tall": (lambda m: m.linalg.pinv, [_randn(2, 5, 3)]),
    "pinv_wide": (lambda m: m.linalg.pinv, [_randn(3, 5)]),
    "pinv_hermitian": (lambda m: lambda a: m.linalg.pinv(a + a.mT, hermitian=True),
                       [_randn(4, 4)]),
    "pinv_rank_deficient": (lambda m: lambda a: m.linalg.pinv(a @ a.mT),
                            [_randn(4, 2)]),
    "matrix_rank": (lambda m: m.linalg.matrix_rank, [_randn(2, 5, 3)]),
    "lu_factor": (lambda m: lambda a: tuple(m.linalg.lu_factor(a)), [_randn(2, 4, 4)]),
    "lu_factor_ex_tall": (lambda m: lambda a: tuple(m.linalg.lu_factor_ex(a)), [_randn(5, 3)]),
    "lu": (lambda m: lambda a: tuple(m.linalg.lu(a)), [_randn(2, 4, 4)]),
    "lu_tall": (lambda m: lambda a: tuple(m.linalg.lu(a)), [_randn(5, 3)]),
    "lu_wide": (lambda m: lambda a: tuple(m.linalg.lu(a)), [_randn(2, 3, 5)]),
    "matrix_exp": (lambda m: m.linalg.matrix_exp, [_randn(2, 3, 3)]),
    "matrix_exp_large_norm": (lambda m: m.linalg.matrix_exp, [4 * _randn(3, 3)]),
    "householder_product": (lambda m: m.linalg.householder_product,
                            [_randn(2, 5, 3), _randn(2, 2)]),
    "lstsq_gelsy": (lambda m: _lstsq(m, "gelsy"), [_randn(2, 5, 3), _randn(2, 5, 2)]),
    "lstsq_gels": (lambda m: _lstsq(m, "gels"), [_randn(5, 3), _randn(5, 2)]),
    "lstsq_gelsd": (lambda m: _lstsq(m, "gelsd"), [_randn(2, 5, 3), _randn(2, 5, 2)]),
    "lstsq_gelss_wide": (lambda m: _lstsq(m, "gelss"), [_randn(3, 5), _randn(3, 2)]),
    "lstsq_vector": (lambda m: lambda a, b: tuple(m.linalg.lstsq(a, b)),
                     [_randn(5, 3), _randn(5)]),
    "vander": (lambda m: lambda x: m.linalg.vander(x, N=4), [_randn(2, 3)]),
    # (not differentiable in torch either: inputs detached)
    "ldl_factor": (lambda m: lambda a: tuple(m.linalg.ldl_factor_ex((a + a.mT).detach())),
                   [_randn(3, 5, 5) * np.linspace(1e-3, 1, 5)]),
    "ldl_solve": (lambda m: lambda a, b: m.linalg.ldl_solve(
        *m.linalg.ldl_factor((a + a.mT).detach()), b.detach()), [_randn(2, 4, 4), _randn(4, 2)]),
    "diagonal": (lambda m: lambda a: m.linalg.diagonal(a, offset=1), [_randn(2, 3, 4)]),
    "tensorinv": (lambda m: lambda a: m.linalg.tensorinv(a, ind=2), [_randn(2, 3, 6)]),
    "tensorsolve": (lambda m: m.linalg.tensorsolve, [_randn(2, 3, 6), _randn(2, 3)]),
    "cond": (lambda m: m.linalg.cond, [_randn(2, 5, 3)]),
    # (detached: torch's cond(A, 1) fails in backward, an in-place write to inv_ex's output)
    "cond_1": (lambda m: lambda a: m.linalg.cond(a.detach(), 1), [_randn(2, 3, 3)]),
    "cond_fro_singular": (lambda m: lambda a: m.linalg.cond(a.detach(), "fro"),
                          [np.stack([np.ones((3, 3)), np.eye(3)])]),
    "matrix_norm_nuc": (lambda m: lambda a: m.linalg.matrix_norm(a, "nuc"), [_randn(4, 3)]),
    "triangular_solve": (lambda m: lambda b, a: tuple(m.triangular_solve(b, a, False, True)),
                         [_randn(2, 3, 2), _well_conditioned(3, 3)]),
    "torch_lu": (lambda m: lambda a: tuple(m.lu(a, get_infos=True)), [_randn(2, 3, 3)]),
    "torch_lu_unpack": (lambda m: lambda a: tuple(m.lu_unpack(*m.linalg.lu_factor(a))),
                        [_randn(4, 4)]),
    "torch_lu_solve": (lambda m: lambda a, b: m.lu_solve(b, *m.lu(a)),
                       [_randn(2, 3, 3), _randn(2, 3, 2)]),
    "tensor_methods": (lambda m: lambda a, b: (a.matrix_exp(), b.lu_solve(*a.lu()),
                                               b.triangular_solve(a).solution),
                       [_well_conditioned(3, 3), _randn(3, 2)]),
}
for _upper in (True, False):
    for _left in (True, False):
        for _unit in (True, False):
            CASES[f"solve_triangular_{'U' if _upper else 'L'}_{'left' if _left else 'right'}"
                  f"{'_unit' if _unit else ''}"] = (
                lambda m, up=_upper, le=_left, un=_unit: lambda a, b: m.linalg.solve_triangular(
                    a, b, upper=up, left=le, unitriangular=un),
                [_well_conditioned(2, 3, 3), _randn(2, 3, 2) if _left else _randn(2, 2, 3)])
for _left in (True, False):
    for _adjoint in (True, False):
        CASES[f"lu_solve_{'left' if _left else 'right'}{'_adjoint' if _adjoint else ''}"] = (
            lambda m, le=_left, ad=_adjoint: lambda a, b: m.linalg.lu_solve(
                *m.linalg.lu_factor(a), b, left=le, adjoint=ad),
            [_randn(2, 3, 3), _randn(2, 3, 2) if _left else _randn(2, 2, 3)])


def _outputs(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params())
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name, dev, dt):
    make, arrays = CASES[name]
    tol = dict(rtol=1e-4, atol=1e-4) if dt == "float32" else dict(rtol=1e-9, atol=1e-9)
    ember_in = [ember.tensor(a, dtype=getattr(ember, dt), device=dev, requires_grad=True)
                for a in arrays]
    torch_in = [torch.tensor(a, dtype=getattr(torch, dt), requires_grad=True) for a in arrays]
    ember_out = _outputs(make(ember)(*ember_in))
    torch_out = _outputs(make(torch)(*torch_in))
    assert len(ember_out) == len(torch_out)
    ember_loss = torch_loss = None
    weights = np.random.default_rng(0)
    for e, t in zip(ember_out, torch_out):
        assert tuple(e.shape) == tuple(t.shape), name
        assert e.dtype.name == str(t.dtype).replace("torch.", ""), name
        assert e.device == ember.device(dev) if ":" in dev else e.device.type == dev
        np.testing.assert_allclose(_np(e), t.detach().numpy(), **tol, err_msg=name)
        if t.requires_grad and t.numel():
            w = weights.standard_normal(tuple(t.shape))
            term_e = (e * ember.tensor(w, dtype=e.dtype, device=dev)).sum()
            term_t = (t * torch.tensor(w, dtype=t.dtype)).sum()
            ember_loss = term_e if ember_loss is None else ember_loss + term_e
            torch_loss = term_t if torch_loss is None else torch_loss + term_t
    if torch_loss is None:
        return
    torch_loss.backward()
    ember_loss.backward()
    grad_tol = dict(rtol=2e-3, atol=2e-3) if dt == "float32" else dict(rtol=1e-7, atol=1e-7)
    for i, (e, t) in enumerate(zip(ember_in, torch_in)):
        assert (e.grad is None) == (t.grad is None), f"{name}: input {i}"
        if t.grad is not None:
            np.testing.assert_allclose(_np(e.grad), t.grad.numpy(), **grad_tol,
                                       err_msg=f"{name}: gradient of input {i}")


# ---- gradcheck / gradgradcheck (float64, cpu) ----------------------------------------------

def _sym(a):
    return (a + a.mT) / 2


def _pd(a):
    return a @ a.mT + a.shape[-1] * ember.eye(a.shape[-1], dtype=a.dtype)


GRAD_CASES = {
    "det": (LA.det, [(2, 3, 3)]),
    "slogdet": (lambda a: LA.slogdet(a).logabsdet, [(3, 3)]),
    "inv": (LA.inv, [(3, 3)]),
    "solve": (LA.solve, [(2, 3, 3), (2, 3, 2)]),
    "solve_vector_right": (lambda a, b: LA.solve(a, b, left=False), [(3, 3), (2, 3)]),
    "solve_triangular": (lambda a, b: LA.solve_triangular(a, b, upper=True), [(3, 3), (3, 2)]),
    "solve_triangular_unit_right": (
        lambda a, b: LA.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        [(3, 3), (2, 3)]),
    "svd": (lambda a: (*_sign_fixed(ember, *LA.svd(a, full_matrices=False)[::2]),
                       LA.svd(a, full_matrices=False).S), [(4, 3)]),
    "svd_wide": (lambda a: _sign_fixed(ember, *LA.svd(a, full_matrices=False)[::2]), [(2, 3)]),
    "svdvals": (LA.svdvals, [(3, 4)]),
    "qr": (lambda a: tuple(LA.qr(a)), [(4, 3)]),
    "qr_wide": (lambda a: tuple(LA.qr(a)), [(2, 3)]),
    "eigh": (lambda a: (LA.eigh(_sym(a)).eigenvalues,
                        *_sign_fixed(ember, LA.eigh(_sym(a)).eigenvectors)), [(3, 3)]),
    "eigvalsh": (lambda a: LA.eigvalsh(_sym(a)), [(3, 3)]),
    "cholesky": (lambda a: LA.cholesky(_pd(a)), [(3, 3)]),
    "pinv": (LA.pinv, [(4, 3)]),
    "pinv_wide": (LA.pinv, [(2, 3)]),
    "lu_factor": (lambda a: LA.lu_factor(a).LU, [(3, 3)]),
    "lu_tall": (lambda a: tuple(LA.lu(a))[1:], [(4, 3)]),
    "lu_wide": (lambda a: tuple(LA.lu(a))[1:], [(2, 3)]),
    "lu_solve": (lambda a, b: LA.lu_solve(*LA.lu_factor(a), b, adjoint=True), [(3, 3), (3, 2)]),
    "matrix_exp": (LA.matrix_exp, [(3, 3)]),
    "householder_product": (LA.householder_product, [(4, 3), (2,)]),
    "lstsq": (lambda a, b: LA.lstsq(a, b).solution, [(4, 3), (4, 2)]),
    "vander": (lambda x: LA.vander(x), [(3,)]),
    "cond": (LA.cond, [(3, 2)]),
    "tensorsolve": (LA.tensorsolve, [(2, 3, 6), (2, 3)]),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradcheck_and_gradgradcheck(name):
    fn, shapes = GRAD_CASES[name]
    rng = np.random.default_rng(3)
    inputs = []
    for i, shape in enumerate(shapes):
        a = rng.standard_normal(shape)
        if i == 0 and len(shape) >= 2 and shape[-1] == shape[-2]:
            a = a + 2 * np.eye(shape[-1])  # (invertible: solve, inv, lu_solve)
        inputs.append(ember.tensor(a, dtype=ember.float64, requires_grad=True))
    assert ember.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)
    # (one output: several outputs of one node as roots of autograd.grad hit an engine bug)
    flat = (lambda *a: ember.cat([o.reshape(-1) for o in _outputs(fn(*a))]))
    assert ember.autograd.gradgradcheck(flat, inputs, eps=1e-6, atol=1e-4)


# ---- info codes, singular inputs ------------------------------------------------------------

def _singular_batch():
    return np.stack([np.eye(3), np.zeros((3, 3)), np.diag([1.0, 0.0, 1.0])])


@pytest.mark.parametrize("dev", DEVICES)
def test_info_codes_match_torch(dev):
    a = _singular_batch()
    e = ember.tensor(a, dtype=ember.float32, device=dev)
    t = torch.tensor(a, dtype=torch.float32)
    pairs = [
        (LA.inv_ex(e).info, torch.linalg.inv_ex(t).info),
        (LA.solve_ex(e, ember.ones(3, 3, 1, device=dev)).info,
         torch.linalg.solve_ex(t, torch.ones(3, 3, 1)).info),
        (LA.lu_factor_ex(e).info, torch.linalg.lu_factor_ex(t).info),
        (LA.lu_factor_ex(e).pivots, torch.linalg.lu_factor_ex(t).pivots),
        (LA.cholesky_ex(e).info, torch.linalg.cholesky_ex(t).info),
        (LA.cholesky_ex(-e).info, torch.linalg.cholesky_ex(-t).info),
    ]
    for got, want in pairs:
        assert got.dtype == ember.int32
        np.testing.assert_array_equal(_np(got), want.numpy())
    good = LA.inv_ex(e).inverse[0]
    np.testing.assert_allclose(_np(good), np.eye(3))


def test_slogdet_does_not_overflow_where_det_does():
    a = np.diag(np.full(400, 10.0))
    sign, logabsdet = LA.slogdet(ember.tensor(a, dtype=ember.float32))
    assert float(sign) == 1.0
    np.testing.assert_allclose(float(logabsdet), 400 * np.log(10.0), rtol=1e-5)
    assert float(LA.det(ember.tensor(a, dtype=ember.float32))) == float("inf")


@pytest.mark.parametrize("dev", DEVICES)
def test_det_gradient_at_singular_matrix_is_the_cofactor_matrix(dev):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    e = ember.tensor(a, dtype=ember.float64, device=dev, requires_grad=True)
    LA.det(e).backward()
    np.testing.assert_allclose(_np(e.grad), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    # (not a parity case: torch's plain backward gives the cofactor matrix or zeros at a
    # singular matrix depending on whether its LU meets an exact zero pivot, which varies with
    # the CPU's LAPACK kernels; its create_graph backward, the SVD rule, is the cofactor matrix)
    a = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])
    w = np.random.default_rng(3).standard_normal()
    for dt in ("float32", "float64"):
        e = ember.tensor(a, dtype=getattr(ember, dt), device=dev, requires_grad=True)
        (LA.det(e) * w).backward()
        t = torch.tensor(a, dtype=getattr(torch, dt), requires_grad=True)
        expected, = torch.autograd.grad(torch.linalg.det(t) * w, t, create_graph=True)
        np.testing.assert_allclose(_np(e.grad), w * np.array([[4, 4, -4], [-2, -2, 2], [0, 0, 0]]),
                                   atol=1e-5 if dt == "float32" else 1e-12)
        np.testing.assert_allclose(_np(e.grad), expected.detach().numpy(),
                                   atol=1e-5 if dt == "float32" else 1e-12)


def test_lstsq_empty_fields_follow_torch():
    a, b = _randn(2, 5, 3), _randn(2, 5, 2)
    a[1, :, 2] = a[1, :, 1]   # rank deficient: no residuals even for gelsd
    for driver in ("gels", "gelsy", "gelsd", "gelss"):
        got = LA.lstsq(ember.tensor(a), ember.tensor(b), driver=driver)
        want = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        for field in ("residuals", "rank", "singular_values"):
            g, w = getattr(got, field), getattr(want, field)
            assert tuple(g.shape) == tuple(w.shape), (driver, field)
            assert g.dtype.name == str(w.dtype).replace("torch.", ""), (driver, field)
        np.testing.assert_array_equal(_np(got.rank), want.rank.numpy())


def test_lu_unpack_partial_and_torch_lu_errors():
    LU, piv = LA.lu_factor(ember.tensor(_randn(3, 3)))
    P, L, U = ember.lu_unpack(LU, piv, unpack_data=False)
    assert L.numel() == 0 and U.numel() == 0 and tuple(P.shape) == (3, 3)
    P, L, U = ember.lu_unpack(LU, piv, unpack_pivots=False)
    assert P.numel() == 0 and tuple(L.shape) == (3, 3)


# ---- errors ---------------------------------------------------------------------------------

def _f32(*shape):
    return np.ones(shape, dtype=np.float32)


ERROR_CASES = [
    ("inv", lambda m, T: m.linalg.inv(T(_f32(2, 3)))),
    ("inv_1d", lambda m, T: m.linalg.inv(T(_f32(3)))),
    ("inv_int", lambda m, T: m.linalg.inv(T(np.ones((3, 3), dtype=np.int64)))),
    ("inv_singular", lambda m, T: m.linalg.inv(T(np.zeros((3, 3), np.float32)))),
    ("inv_singular_batch", lambda m, T: m.linalg.inv(T(_singular_batch().astype(np.float32)))),
    ("det", lambda m, T: m.linalg.det(T(_f32(2, 3)))),
    ("slogdet", lambda m, T: m.linalg.slogdet(T(_f32(2, 3)))),
    ("eigh", lambda m, T: m.linalg.eigh(T(_f32(2, 3)))),
    ("eigh_uplo", lambda m, T: m.linalg.eigh(T(_f32(3, 3)), "X")),
    ("svd_int", lambda m, T: m.linalg.svd(T(np.ones((3, 2), dtype=np.int64)))),
    ("svdvals_1d", lambda m, T: m.linalg.svdvals(T(_f32(3)))),
    ("qr_mode", lambda m, T: m.linalg.qr(T(_f32(3, 3)), "x")),
    ("solve_singular", lambda m, T: m.linalg.solve(T(np.zeros((3, 3), np.float32)),
                                                   T(_f32(3)))),
    ("solve_singular_batch", lambda m, T: m.linalg.solve(T(np.zeros((2, 3, 3), np.float32)),
                                                         T(_f32(3)))),
    ("solve_shapes", lambda m, T: m.linalg.solve(T(_f32(3, 3)), T(_f32(4, 1)))),
    ("solve_batch_shapes", lambda m, T: m.linalg.solve(T(_f32(2, 3, 3)), T(_f32(3, 3, 1)))),
    ("solve_dtypes", lambda m, T: m.linalg.solve(T(_f32(3, 3)), T(np.ones(3)))),
    ("cholesky_not_pd", lambda m, T: m.linalg.cholesky(T(-np.eye(3, dtype=np.float32)))),
    ("cholesky_not_pd_batch", lambda m, T: m.linalg.cholesky(
        T(np.stack([np.eye(3), -np.eye(3)]).astype(np.float32)))),
    ("lu_factor_singular_batch", lambda m, T: m.linalg.lu_factor(
        T(_singular_batch().astype(np.float32)))),
    ("lu_factor_no_pivot", lambda m, T: m.linalg.lu_factor(T(_f32(3, 3)), pivot=False)),
    ("solve_triangular_1d", lambda m, T: m.linalg.solve_triangular(T(_f32(3, 3)), T(_f32(3)),
                                                                   upper=True)),
    ("solve_triangular_shapes", lambda m, T: m.linalg.solve_triangular(
        T(_f32(3, 3)), T(_f32(4, 1)), upper=True)),
    ("lu_solve_1d", lambda m, T: m.linalg.lu_solve(
        *m.linalg.lu_factor(T(np.eye(3, dtype=np.float32))), T(_f32(3)))),
    ("lu_solve_shapes", lambda m, T: m.linalg.lu_solve(
        *m.linalg.lu_factor(T(np.eye(3, dtype=np.float32))), T(_f32(4, 1)))),
    ("matrix_exp", lambda m, T: m.linalg.matrix_exp(T(_f32(2, 3)))),
    ("matrix_exp_int", lambda m, T: m.linalg.matrix_exp(T(np.ones((3, 3), dtype=np.int64)))),
    ("householder_wide", lambda m, T: m.linalg.householder_product(T(_f32(2, 3)), T(_f32(1)))),
    ("householder_tau", lambda m, T: m.linalg.householder_product(T(_f32(3, 2)), T(_f32(3)))),
    ("vander_N", lambda m, T: m.linalg.vander(T(_f32(2, 3)), N=0)),
    ("lstsq_rows", lambda m, T: m.linalg.lstsq(T(_f32(3, 2)), T(_f32(4, 1)))),
    ("lstsq_driver", lambda m, T: m.linalg.lstsq(T(_f32(3, 2)), T(_f32(3, 1)), driver="foo")),
    ("pinv_1d", lambda m, T: m.linalg.pinv(T(_f32(3)))),
    ("tensorinv_ind", lambda m, T: m.linalg.tensorinv(T(_f32(2, 3, 6)), ind=0)),
    ("ldl_factor_shape", lambda m, T: m.linalg.ldl_factor(T(_f32(2, 3)))),
    ("ldl_solve_dtype", lambda m, T: m.linalg.ldl_solve(
        *m.linalg.ldl_factor(T(np.eye(3))), T(_f32(3, 1)))),
    ("ldl_solve_shapes", lambda m, T: m.linalg.ldl_solve(
        *m.linalg.ldl_factor(T(np.eye(3, dtype=np.float32))), T(_f32(4, 1)))),
]


@pytest.mark.parametrize("name", [c[0] for c in ERROR_CASES])
def test_errors_match_torch(name):
    fn = dict(ERROR_CASES)[name]
    with pytest.raises(Exception) as want:
        fn(torch, torch.tensor)
    with pytest.raises(Exception) as got:
        fn(ember, ember.tensor)
    assert isinstance(got.value, RuntimeError)
    assert str(got.value) == str(want.value)
    if isinstance(want.value, torch.linalg.LinAlgError):
        assert isinstance(got.value, ember.linalg.LinAlgError)


def test_qr_backward_errors_match_torch():
    a = ember.tensor(_randn(4, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        ember.linalg.qr(a, "r").R.sum().backward()
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        ember.linalg.qr(a, "complete").Q.sum().backward()


def test_ldl_is_not_differentiable_as_in_torch():
    a = ember.tensor(_spd(3, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not"):
        LA.ldl_factor(a).LD.sum().backward()


def test_torch_namespace_spellings_exist_where_torch_has_them():
    for name in ("triangular_solve", "lu", "lu_solve", "lu_unpack", "matrix_exp"):
        assert hasattr(torch, name) and hasattr(ember, name), name
    for name in ("lu", "lu_solve", "matrix_exp", "triangular_solve"):
        assert hasattr(torch.Tensor, name) and hasattr(ember.Tensor, name), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("solve_triangular", "lu_factor", "lu_factor_ex", "lu", "lu_solve",
                     "matrix_exp", "lstsq", "cholesky_ex", "inv_ex", "solve_ex", "vander",
                     "diagonal", "householder_product", "tensorinv", "tensorsolve",
                     "ldl_factor", "ldl_factor_ex", "ldl_solve"):
            assert callable(getattr(ember.linalg, name)), name
