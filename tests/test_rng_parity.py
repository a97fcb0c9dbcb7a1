"""The cpu generator reproduces torch's CPU stream: same seed, same values, bitwise.

Float32 normals of 16 or more elements are the exception: torch computes their Box-Muller with
vectorised float32 log/cos/sin, ember in float64 rounded once, so they agree to a few ulps.
"""
import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="parity with torch's CPU generator needs torch")


def _np(t):
    return np.asarray(t.detach().cpu().to(torch.float64 if isinstance(t, torch.Tensor)
                                          else ember.float64).numpy())


def _same(a, b):
    np.testing.assert_array_equal(_np(a), _np(b))


def _seed(s):
    torch.manual_seed(s)
    ember.manual_seed(s)


SIZES = [1, 2, 7, 15, 16, 17, 31, 32, 33, 100, 1000]
FLOATS = ["float32", "float64"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("seed", [0, 1, 2 ** 40 + 5])
def test_rand_and_uniform(dtype, seed):
    _seed(seed)
    for n in SIZES:
        _same(torch.rand(n, dtype=getattr(torch, dtype)), ember.rand(n, dtype=getattr(ember,
                                                                                      dtype)))
        for a, b in [(-0.3, 1.7), (2.5, 7.25), (-1 / math.sqrt(3), 1 / math.sqrt(3))]:
            _same(torch.empty(n, dtype=getattr(torch, dtype)).uniform_(a, b),
                  ember.empty(n, dtype=getattr(ember, dtype)).uniform_(a, b))
    # the stream stays in step afterwards
    _same(torch.rand(3, 4), ember.rand(3, 4))


@pytest.mark.parametrize("seed", [0, 9])
def test_normal_float64_exact(seed):
    _seed(seed)
    for n in SIZES:
        _same(torch.randn(n, dtype=torch.float64), ember.randn(n, dtype=ember.float64))
        _same(torch.empty(n, 2, dtype=torch.float64).normal_(1.7, 0.3),
              ember.empty(n, 2, dtype=ember.float64).normal_(1.7, 0.3))
    _same(torch.normal(0.5, 2.0, (5, 7), dtype=torch.float64),
          ember.normal(0.5, 2.0, (5, 7), dtype=ember.float64))
    _same(torch.rand(5), ember.rand(5))


def test_normal_small_paths_and_cache_are_exact():
    # fewer than 16 elements: float64 Box-Muller whose second sample waits for the next call,
    # shared between dtypes and dropped by manual_seed
    _seed(4)
    for n, dt in [(1, "float32"), (3, "float64"), (1, "float64"), (5, "float32"), (15, "float32"),
                  (2, "float64")]:
        _same(torch.randn(n, dtype=getattr(torch, dt)), ember.randn(n, dtype=getattr(ember, dt)))
    _seed(4)
    _same(torch.randn(1, dtype=torch.float64), ember.randn(1, dtype=ember.float64))
    _seed(4)
    _same(torch.randn(1, dtype=torch.float64), ember.randn(1, dtype=ember.float64))


@pytest.mark.parametrize("seed", [0, 3])
def test_normal_float32_blocks_close(seed):
    _seed(seed)
    for n in [16, 17, 33, 100, 1000, 4099]:
        t, e = torch.randn(n), ember.randn(n)
        np.testing.assert_allclose(_np(e), _np(t), rtol=4e-6, atol=1e-6)
        t, e = torch.empty(n).normal_(2.0, 0.5), ember.empty(n).normal_(2.0, 0.5)
        np.testing.assert_allclose(_np(e), _np(t), rtol=4e-6, atol=1e-6)
    _same(torch.rand(8), ember.rand(8))  # same number of draws


@pytest.mark.parametrize("low, high", [(0, 10), (-7, 3), (-100, -50), (0, 2 ** 28 - 1),
                                       (0, 2 ** 28), (-5, 2 ** 31), (0, 2 ** 32 + 5),
                                       (-2 ** 40, 2 ** 40), (-2 ** 63, 2 ** 63 - 1)])
def test_randint(low, high):
    _seed(11)
    _same(torch.randint(low, high, (37,)), ember.randint(low, high, (37,)))
    _same(torch.randint(low, high, (2, 3)), ember.randint(low, high, (2, 3)))
    _same(torch.rand(2), ember.rand(2))


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool", "float32",
                                   "float64", "float16", "bfloat16"])
def test_random_(dtype):
    _seed(5)
    _same(torch.empty(19, dtype=getattr(torch, dtype)).random_(),
          ember.empty(19, dtype=getattr(ember, dtype)).random_())
    if dtype != "bool":
        _same(torch.empty(9, dtype=getattr(torch, dtype)).random_(3, 100),
              ember.empty(9, dtype=getattr(ember, dtype)).random_(3, 100))
        _same(torch.empty(9, dtype=getattr(torch, dtype)).random_(50),
              ember.empty(9, dtype=getattr(ember, dtype)).random_(50))
    _same(torch.rand(2), ember.rand(2))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 17, 1000, 60000])
def test_randperm(n):
    _seed(6)
    _same(torch.randperm(n), ember.randperm(n))
    _same(torch.randperm(n, dtype=torch.int32), ember.randperm(n, dtype=ember.int32))
    _same(torch.rand(2), ember.rand(2))


def test_generator_objects():
    tg, eg = torch.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    _same(torch.rand(5, generator=tg), ember.rand(5, generator=eg))
    _same(torch.randn(20, dtype=torch.float64, generator=tg),
          ember.randn(20, dtype=ember.float64, generator=eg))
    _same(torch.randint(-3, 9, (6,), generator=tg), ember.randint(-3, 9, (6,), generator=eg))
    _same(torch.randperm(50, generator=tg), ember.randperm(50, generator=eg))
    _same(torch.empty(30).uniform_(-2, 2, generator=tg),
          ember.empty(30).uniform_(-2, 2, generator=eg))
    # a seed above 32 bits: torch keeps only its low 32 bits for mt19937
    tg, eg = torch.Generator().manual_seed(2 ** 33 + 1), ember.Generator().manual_seed(2 ** 33 + 1)
    _same(torch.rand(4, generator=tg), ember.rand(4, generator=eg))


def test_rng_state_round_trip():
    ember.manual_seed(1)
    ember.randn(3, dtype=ember.float64)  # leaves a cached normal in the state
    state = ember.get_rng_state()
    a = ember.randn(5, dtype=ember.float64), ember.rand(40), ember.randperm(30)
    ember.set_rng_state(state)
    b = ember.randn(5, dtype=ember.float64), ember.rand(40), ember.randperm(30)
    for x, y in zip(a, b):
        _same(x, y)
    g = ember.Generator().manual_seed(3)
    s = g.get_state()
    x = ember.rand(10, generator=g)
    _same(x, ember.rand(10, generator=g.set_state(s)))


def test_default_init_of_layers():
    _seed(0)
    pairs = [(torch.nn.Linear(20, 7), ember.nn.Linear(20, 7)),
             (torch.nn.Conv2d(3, 5, 3), ember.nn.Conv2d(3, 5, 3)),
             (torch.nn.Linear(784, 128), ember.nn.Linear(784, 128)),
             (torch.nn.Conv2d(1, 6, 5, bias=False), ember.nn.Conv2d(1, 6, 5, bias=False))]
    for t, e in pairs:
        _same(t.weight, e.weight)
        if t.bias is not None:
            _same(t.bias, e.bias)
    _same(torch.nn.init.kaiming_uniform_(torch.empty(6, 40)),
          ember.nn.init.kaiming_uniform_(ember.empty(6, 40)))
    _same(torch.nn.init.xavier_uniform_(torch.empty(9, 4, dtype=torch.float64)),
          ember.nn.init.xavier_uniform_(ember.empty(9, 4, dtype=ember.float64)))


def test_dataloader_shuffle_and_random_split():
    tds = torch.utils.data.TensorDataset(torch.arange(103))
    eds = ember.utils.data.TensorDataset(ember.arange(103))
    _seed(3)
    for _ in range(2):  # two epochs: each draws its own seeds from the global stream
        t = [b[0].tolist() for b in torch.utils.data.DataLoader(tds, batch_size=8, shuffle=True)]
        e = [b[0].tolist() for b in ember.utils.data.DataLoader(eds, batch_size=8, shuffle=True)]
        assert t == e
    tl = torch.utils.data.DataLoader(tds, batch_size=10, shuffle=True,
                                     generator=torch.Generator().manual_seed(8))
    el = ember.utils.data.DataLoader(eds, batch_size=10, shuffle=True,
                                     generator=ember.Generator().manual_seed(8))
    assert [b[0].tolist() for b in tl] == [b[0].tolist() for b in el]
    _seed(12)
    t = torch.utils.data.random_split(range(30), [0.7, 0.3])
    e = ember.utils.data.random_split(range(30), [0.7, 0.3])
    assert [list(s) for s in t] == [list(s) for s in e]
    t = torch.utils.data.random_split(range(40), [10, 30],
                                      generator=torch.Generator().manual_seed(42))
    e = ember.utils.data.random_split(range(40), [10, 30],
                                      generator=ember.Generator().manual_seed(42))
    assert [list(s) for s in t] == [list(s) for s in e]


@pytest.mark.parametrize("seed", [0, 3])
def test_bernoulli_and_dropout(seed):
    # torch 2.13's cpu bernoulli_(float p) draws a 53-bit uniform per element (checked against
    # it: not MKL's stream); bernoulli(probabilities) a 24-bit one; dropout is bernoulli_(1 - p)
    # followed by a division
    F, TF = ember.nn.functional, torch.nn.functional
    _seed(seed)
    for shape, p in (((30,), 0.4), ((7, 5), 0.1), ((64, 33), 0.5)):
        _same(torch.empty(*shape).bernoulli_(p), ember.empty(*shape).bernoulli_(p))
        _same(torch.empty(*shape, dtype=torch.float64).bernoulli_(p),
              ember.empty(*shape, dtype=ember.float64).bernoulli_(p))
        _same(torch.bernoulli(torch.ones(*shape), p), ember.bernoulli(ember.ones(*shape), p))
        probs = np.random.default_rng(seed).random(shape).astype(np.float32)
        _same(torch.bernoulli(torch.tensor(probs)), ember.bernoulli(ember.tensor(probs)))
        _same(TF.dropout(torch.ones(*shape), p), F.dropout(ember.ones(*shape), p))
        _same(torch.nn.Dropout(p)(torch.full(shape, 3.0)), ember.nn.Dropout(p)(
            ember.full(shape, 3.0)))
    _same(TF.dropout2d(torch.ones(2, 3, 4, 4), 0.5), F.dropout2d(ember.ones(2, 3, 4, 4), 0.5))
    _same(torch.rand(3, 4), ember.rand(3, 4))  # (the stream stays in step afterwards)


def test_dropout_on_a_backend_without_the_kernel():
    if "opencl" not in ember.backends.available():
        pytest.skip("the opencl backend is not available here (pyopencl/PoCL missing)")
    y = ember.nn.functional.dropout(ember.ones(10000, device="opencl"), 0.25)
    kept = _np(y) != 0
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_allclose(_np(y)[kept], 1 / 0.75, rtol=1e-6)


def _train(lib):
    """An ordinary seeded training script: random data and init, shuffling, dropout, Adam."""
    nn, F = lib.nn, lib.nn.functional
    lib.manual_seed(0)
    x = lib.randn(256, 20)
    y = (x[:, 0] > 0).long()
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, y), batch_size=32,
                                       shuffle=True)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 2))
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _epoch in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def test_a_seeded_training_script_gives_torchs_losses():
    np.testing.assert_allclose(_train(ember), _train(torch), rtol=1e-5)


@pytest.mark.parametrize("dtype", FLOATS)
def test_exponential_(dtype):
    # the same float64 uniforms; NumPy's log1p may differ from the C library's in the last bit
    # of a float64 result (exact once rounded to float32)
    _seed(4)
    for n in (3, 20, 100):
        want = torch.empty(n, dtype=getattr(torch, dtype)).exponential_(2.0)
        got = ember.empty(n, dtype=getattr(ember, dtype)).exponential_(2.0)
        if dtype == "float32":
            _same(want, got)
        else:
            np.testing.assert_allclose(_np(got), _np(want), rtol=1e-15, atol=0)


@pytest.mark.parametrize("shape", [(5,), (3, 7), (4, 100)])
@pytest.mark.parametrize("num_samples,replacement", [(1, False), (1, True), (3, False),
                                                     (4, True)])
def test_multinomial(shape, num_samples, replacement):
    # torch's algorithms: p / Exp(1) draws (argmax or topk) without replacement or for one
    # sample; a uniform against the cumulative distribution with replacement
    weights = np.random.default_rng(7).random(shape).astype(np.float32)
    weights.flat[1] = 0.0  # a category that must never be drawn
    _seed(11)
    for _ in range(3):
        want = torch.multinomial(torch.from_numpy(weights), num_samples, replacement)
        got = ember.multinomial(ember.tensor(weights), num_samples, replacement)
        assert got.dtype is ember.int64 and tuple(got.shape) == tuple(want.shape)
        _same(want, got)


def test_multinomial_errors_as_torch():
    for bad, message in (([0.5, -0.1], "element < 0"), ([float("nan"), 1.0], "`nan`"),
                         ([0.0, 0.0], "sum of probabilities <= 0")):
        with pytest.raises(RuntimeError, match=message):
            ember.multinomial(ember.tensor(bad), 1)
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        ember.multinomial(ember.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        ember.multinomial(ember.rand(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        ember.multinomial(ember.rand(3), 0)
    with pytest.raises(RuntimeError, match="without replacement"):
        ember.multinomial(ember.rand(3), 4)
