"""Regressions found by torch programs 37/38: the zero-vector subgradient of vector norms (through
F.normalize, F.cosine_similarity and linalg.vector_norm of any order), index_add_'s and
index_select's checks (dtypes, shapes, negative and out-of-range indices), F.embedding's and
F.embedding_bag's index checks, cdist's and cosine_embedding_loss's argument checks, the
broadcast error message, and the class names of Tensor and Size; each checked against torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

RNG = np.random.default_rng(3738)
LIBS = (torch, ember)


def _err(fn):
    """(exception class name, message with ember. read as torch.) of what fn raises."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the class is what is compared)
        return type(exc).__name__, str(exc).replace("ember.", "torch.")
    return None


def _same_error(make):
    ref, got = _err(lambda: make(torch)), _err(lambda: make(ember))
    assert ref is not None, "torch raises nothing: the case is wrong"
    assert got == ref


def _grad(lib, fn, x):
    t = lib.tensor(x, requires_grad=True)
    fn(lib, t).sum().backward()
    return t.grad.numpy()


ZEROS = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype="float32")
WITH_ZERO = np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]], dtype="float32")


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 0.5, float("inf")])
def test_normalize_zero_vector_gradient(p):
    fn = lambda lib, t: lib.nn.functional.normalize(t, p=p, dim=1)  # noqa: E731
    ref, got = _grad(torch, fn, ZEROS), _grad(ember, fn, ZEROS)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-5)


def test_cosine_similarity_zero_vector_gradient():
    fn = lambda lib, t: lib.nn.functional.cosine_similarity(t, lib.ones(2, 3))  # noqa: E731
    np.testing.assert_allclose(_grad(ember, fn, ZEROS), _grad(torch, fn, ZEROS), rtol=1e-5)


@pytest.mark.parametrize("p", [0.5, 1.5, 3.0, -1.0, float("inf"), float("-inf")])
def test_vector_norm_general_order_gradient_at_zeros(p):
    fn = lambda lib, t: lib.linalg.vector_norm(t, ord=p, dim=1)  # noqa: E731
    got = _grad(ember, fn, WITH_ZERO)
    np.testing.assert_allclose(got, _grad(torch, fn, WITH_ZERO), rtol=1e-5, atol=1e-7)
    x = RNG.standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(_grad(ember, fn, x), _grad(torch, fn, x), rtol=1e-4, atol=1e-6)


def test_vector_norm_order_zero_has_grad_fn_but_no_gradient():
    for lib in LIBS:
        x = lib.tensor([[0.0, 1.0, -2.0]], requires_grad=True)
        n = lib.linalg.vector_norm(x, ord=0, dim=1)
        assert n.grad_fn is not None
        n.sum().backward()
        assert x.grad is None


def _f(*shape, dtype=None):
    return lambda lib: lib.ones(*shape, dtype=None if dtype is None else getattr(lib, dtype))


@pytest.mark.parametrize("case", [
    lambda L: L.zeros(3, 2).index_add_(0, L.tensor([0]), L.ones(1, 2, dtype=L.float64)),
    lambda L: L.zeros(3, 2).index_add(0, L.tensor([0]), L.ones(1, 2, dtype=L.float64)),
    lambda L: L.zeros(3).index_add(0, L.tensor([0]), L.ones(1, dtype=L.long)),
    lambda L: L.zeros(3).index_add_(0, L.tensor([3]), L.ones(1)),
    lambda L: L.zeros(3).index_add_(0, L.tensor([-1]), L.ones(1)),
    lambda L: L.zeros(3, 2).index_add(0, L.tensor([5]), L.ones(1, 2)),
    lambda L: L.zeros(3, 2).index_add_(0, L.tensor([1, 7, -1]), L.ones(3, 2)),
    lambda L: L.zeros(3).index_add_(0, L.tensor([0.0]), L.ones(1)),
    lambda L: L.zeros(3).index_add_(0, L.tensor([[0]]), L.ones(1)),
    lambda L: L.zeros(3, 2).index_add_(0, L.tensor([0, 1]), L.ones(3, 2)),
    lambda L: L.zeros(3, 2).index_add_(0, L.tensor([0, 1]), L.ones(2, 3)),
    lambda L: L.zeros(3, 2).index_add_(0, L.tensor([0, 1]), L.ones(2)),
    lambda L: L.zeros(3).index_add_(0, L.tensor([1]), L.tensor(2.0)),
    lambda L: L.arange(3).index_select(0, L.tensor([-1])),
    lambda L: L.arange(6).view(3, 2).index_select(0, L.tensor([3])),
], ids=["dtype_inplace", "dtype_out", "long_source", "oob_1d", "negative_1d", "oob_2d",
        "first_bad_2d", "float_index", "index_2d", "count", "shape", "ndim", "scalar_source",
        "index_select_negative", "index_select_oob"])
def test_index_add_and_index_select_errors(case):
    _same_error(case)


def test_index_add_valid_cases_still_work():
    for make in [lambda L: L.zeros(3, 2).index_add_(-1, L.tensor([0, 1, 1]), L.ones(3, 3)),
                 lambda L: L.zeros(3).index_add_(0, L.tensor([0, 0], dtype=L.int32),
                                                 L.ones(2)),
                 lambda L: L.tensor(1.0).index_add_(0, L.tensor([0]), L.tensor(2.0)),
                 lambda L: L.zeros(3).index_add_(0, L.tensor(1), L.ones(1)),
                 lambda L: L.zeros(4, 2).index_add(0, L.tensor([3, 0, 3]),
                                                   L.arange(6.0).view(3, 2), alpha=0.5)]:
        assert make(ember).tolist() == make(torch).tolist()


@pytest.mark.parametrize("case", [
    lambda L: L.nn.functional.embedding(L.tensor([10]), L.ones(10, 2)),
    lambda L: L.nn.functional.embedding(L.tensor([-1]), L.ones(10, 2)),
    lambda L: L.nn.functional.embedding(L.tensor([1.0]), L.ones(10, 2)),
    lambda L: L.nn.Embedding(10, 2)(L.tensor([[1, 12]])),
    lambda L: L.nn.Embedding(10, 2, max_norm=1.0)(L.tensor([[1, -3]])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1, 12]), L.ones(10, 2), L.tensor([0])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([-2, 1]), L.ones(10, 2), L.tensor([0])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([1.0, 2.0]), L.ones(10, 2),
                                            L.tensor([0])),
    lambda L: L.nn.functional.embedding_bag(L.tensor([[1, 2]]), L.ones(10, 2), L.tensor([0])),
], ids=["oob", "negative", "float", "module_oob", "max_norm_negative", "bag_oob",
        "bag_negative", "bag_float", "bag_2d_offsets"])
def test_embedding_index_errors(case):
    _same_error(case)


def test_embedding_valid_indices_still_work():
    w = RNG.standard_normal((6, 3)).astype("float32")
    for idx in ([[0, 5], [2, 2]], [3]):
        for dt in ("int64", "int32"):
            outs = [lib.nn.functional.embedding(lib.tensor(idx, dtype=getattr(lib, dt)),
                                                lib.tensor(w)).numpy() for lib in LIBS]
            np.testing.assert_array_equal(outs[1], outs[0])
    outs = [lib.nn.functional.embedding(lib.tensor(2), lib.tensor(w)).numpy() for lib in LIBS]
    np.testing.assert_array_equal(outs[1], outs[0])


@pytest.mark.parametrize("case", [
    lambda L: L.cdist(L.ones(2, 3), L.ones(2, 4)),
    lambda L: L.cdist(L.ones(3), L.ones(3)),
    lambda L: L.cdist(L.ones(2, 3), L.ones(3)),
    lambda L: L.cdist(L.ones(2, 3), L.ones(2, 3), p=-1.0),
    lambda L: L.cdist(L.ones(2, 3, dtype=L.long), L.ones(2, 3, dtype=L.long)),
    lambda L: L.cdist(L.ones(2, 3), L.ones(2, 3, dtype=L.float64)),
    lambda L: L.cdist(L.ones(2, 2, 3), L.ones(3, 2, 3)),
    lambda L: L.nn.functional.pairwise_distance(L.ones(2, 3), L.ones(3, 3)),
    lambda L: L.ones(2, 3) + L.ones(3, 2),
], ids=["columns", "1d", "1d_x2", "negative_p", "long", "mixed_float", "batch", "pairwise",
        "broadcast_add"])
def test_cdist_and_broadcast_errors(case):
    _same_error(case)


@pytest.mark.parametrize("case", [
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(2, 3), L.ones(2, 3), L.ones(2, 1)),
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(3), L.ones(3), L.ones(1)),
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(2, 3, 1), L.ones(2, 3, 1),
                                                    L.ones(2)),
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(2, 3), L.ones(3), L.ones(2)),
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(2, 3), L.ones(2, 3),
                                                    L.tensor(1.0)),
    lambda L: L.nn.functional.cosine_embedding_loss(L.ones(2, 3), L.ones(2, 4), L.ones(2)),
], ids=["target_2d", "1d_target_1d_inputs", "3d_inputs", "mixed_inputs", "0d_target",
        "feature_mismatch"])
def test_cosine_embedding_loss_errors(case):
    _same_error(case)


def test_cosine_embedding_loss_0d_target():
    outs = [lib.nn.functional.cosine_embedding_loss(
        lib.tensor([1.0, 2.0, 0.0]), lib.tensor([0.5, -1.0, 2.0]), lib.tensor(-1.0),
        margin=-0.5).item() for lib in LIBS]
    assert outs[1] == pytest.approx(outs[0], rel=1e-6)


def test_tensor_and_size_class_names():
    assert str(type(ember.ones(1))) == str(type(torch.ones(1))).replace("torch", "ember")
    assert str(type(ember.ones(1).shape)) == str(type(torch.ones(1).shape)).replace("torch",
                                                                                  "ember")
    import pickle
    assert pickle.loads(pickle.dumps(ember.Tensor)) is ember.Tensor
    assert pickle.loads(pickle.dumps(ember.ones(2))).tolist() == [1.0, 1.0]
