"""ember.core.amp against torch.amp: autocast (which ops cast, nesting, decorator, threads,
gradients), GradScaler (its scale trajectory, errors, state) and the matmul precision setting."""
import pickle
import threading
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.core import amp

DEVICES = ember.backends.available()
LOWER = ("bfloat16", "float16")


def _lower_params():
    """(device, lower dtype) pairs; the ones a backend lacks are skipped, saying so."""
    for dev in DEVICES:
        have = ember.backends.capabilities(dev)["dtypes"]
        for name in LOWER:
            marks = () if name in have else pytest.mark.skip(
                reason=f"the {dev} backend has no {name}: autocast cannot run there")
            yield pytest.param(dev, name, marks=marks, id=f"{dev}-{name}")


def _np(t):
    return np.asarray(t.detach().to("cpu").to(ember.float64).numpy())


def _name(dt):
    return str(dt).split(".")[-1]


@pytest.fixture(autouse=True)
def _no_leftover_state():
    yield
    # every region a test opened is closed again: the hooks' check is back to zero
    assert amp.active == 0
    assert not amp.is_autocast_enabled("cpu")


RNG = np.random.default_rng(7)


def _operands():
    """name -> (ember call, torch call) on shared float32 data, for the ops autocast lists."""
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((5, 3))
    c = RNG.standard_normal((4, 3))
    ba, bb, bc = (RNG.standard_normal(s) for s in ((2, 4, 5), (2, 5, 3), (2, 4, 3)))
    w, bias = RNG.standard_normal((6, 5)), RNG.standard_normal(6)
    img, k = RNG.standard_normal((2, 3, 6, 6)), RNG.standard_normal((4, 3, 3, 3))
    sig, k1 = RNG.standard_normal((2, 3, 7)), RNG.standard_normal((4, 3, 3))
    kt, kt1 = RNG.standard_normal((3, 2, 3, 3)), RNG.standard_normal((3, 2, 3))
    return {
        "matmul": (lambda m, f, t: m.matmul(t(a), t(b))),
        "@": (lambda m, f, t: t(a) @ t(b)),
        "mm": (lambda m, f, t: m.mm(t(a), t(b))),
        "bmm": (lambda m, f, t: m.bmm(t(ba), t(bb))),
        "matmul-batched": (lambda m, f, t: m.matmul(t(ba), t(b))),
        "matmul-1d": (lambda m, f, t: m.matmul(t(a[0]), t(b))),
        "addmm": (lambda m, f, t: m.addmm(t(c), t(a), t(b), beta=0.5, alpha=2)),
        "baddbmm": (lambda m, f, t: m.baddbmm(t(bc), t(ba), t(bb))),
        "addbmm": (lambda m, f, t: m.addbmm(t(c), t(ba), t(bb))),
        "einsum": (lambda m, f, t: m.einsum("ij,jk->ik", t(a), t(b))),
        "linear": (lambda m, f, t: f.linear(t(a), t(w), t(bias))),
        "linear-nobias": (lambda m, f, t: f.linear(t(ba), t(w))),
        "conv2d": (lambda m, f, t: f.conv2d(t(img), t(k), t(bias[:4]), padding=1)),
        "conv2d-groups": (lambda m, f, t: f.conv2d(t(img[:, :2]), t(k[:, :1]), groups=2)),
        "conv1d": (lambda m, f, t: f.conv1d(t(sig), t(k1), stride=2)),
        "conv_transpose2d": (lambda m, f, t: f.conv_transpose2d(t(img), t(kt), stride=2)),
        "conv_transpose1d": (lambda m, f, t: f.conv_transpose1d(t(sig), t(kt1))),
    }


OPERANDS = _operands()


def _run(op, dev):
    """(ember result, torch result) of ``op`` on float32 operands."""
    fn = OPERANDS[op]
    e = fn(ember, F, lambda x: ember.tensor(x, dtype=ember.float32, device=dev))
    t = fn(torch, torch.nn.functional, lambda x: torch.tensor(x, dtype=torch.float32))
    return e, t


# ---- autocast: which ops cast -------------------------------------------------------------------

@pytest.mark.parametrize("dev,dt", list(_lower_params()))
@pytest.mark.parametrize("op", list(OPERANDS))
def test_listed_ops_compute_in_the_autocast_dtype(dev, dt, op):
    with amp.autocast(dev, dtype=getattr(ember, dt)):
        e, _ = _run(op, dev)
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        _, t = _run(op, dev)
    assert _name(e.dtype) == _name(t.dtype) == dt
    # the same rounding of the operands, one rounding of a float32-accumulated result
    tol = 2e-2 if dt == "bfloat16" else 3e-3
    np.testing.assert_allclose(_np(e), t.double().numpy(), rtol=tol, atol=tol * 4)
    # and outside the region the same op is float32 again
    e32, t32 = _run(op, dev)
    assert e32.dtype is ember.float32 and t32.dtype is torch.float32
    np.testing.assert_allclose(_np(e32), t32.double().numpy(), rtol=1e-5, atol=1e-5)


UNLISTED = {
    "add": lambda m, x, y: x + y,
    "softmax": lambda m, x, y: m.softmax(x, 1),
    "sum": lambda m, x, y: x.sum(),
    "exp": lambda m, x, y: m.exp(x),
    "relu": lambda m, x, y: m.relu(x),
    "mv": lambda m, x, y: m.mv(x, y[0]),
    "dot": lambda m, x, y: m.dot(x[0], y[0]),
    "addmv": lambda m, x, y: m.addmv(x[:, 0], x, y[0]),
    "outer": lambda m, x, y: m.outer(x[0], y[0]),
    "cdist": lambda m, x, y: m.cdist(x, y),
    "mse_loss": lambda m, x, y: m.nn.functional.mse_loss(x, y),
}


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
@pytest.mark.parametrize("op", list(UNLISTED))
def test_unlisted_ops_run_unchanged(dev, dt, op):
    x, y = RNG.standard_normal((4, 4)), RNG.standard_normal((4, 4))
    ex, ey = (ember.tensor(v, dtype=ember.float32, device=dev) for v in (x, y))
    tx, ty = (torch.tensor(v, dtype=torch.float32) for v in (x, y))
    plain = UNLISTED[op](ember, ex, ey)
    with amp.autocast(dev, dtype=getattr(ember, dt)):
        inside = UNLISTED[op](ember, ex, ey)
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        ref = UNLISTED[op](torch, tx, ty)
    assert inside.dtype is ember.float32 and ref.dtype is torch.float32
    np.testing.assert_array_equal(_np(inside), _np(plain))
    np.testing.assert_allclose(_np(inside), ref.double().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
def test_which_tensors_cast(dev, dt):
    low = getattr(ember, dt)
    a = ember.ones(3, 3, device=dev)
    with amp.autocast(dev, dtype=low):
        # float64 stays (torch never narrows double); other floats go to the autocast dtype
        assert (a.double() @ a.double()).dtype is ember.float64
        other = "float16" if dt == "bfloat16" else "bfloat16"
        assert (a.to(getattr(ember, other)) @ a.to(getattr(ember, other))).dtype is low
        # integers are not floating point: untouched
        i = ember.ones(3, 3, dtype=ember.int64, device=dev)
        assert (i @ i).dtype is ember.int64
        # a product already in the dtype is not cast again: the same storage is used
        x = a.to(low)
        assert ember.core.amp.cast(x)[0] is x


def test_other_device_types_are_not_cast():
    others = [d for d in DEVICES if d != "cpu"]
    if not others:
        pytest.skip("only the cpu backend is available: no other device type to leave alone")
    a = ember.ones(3, 3, device=others[0])
    with amp.autocast("cpu"):
        assert (a @ a).dtype is ember.float32
        assert (ember.ones(3, 3) @ ember.ones(3, 3)).dtype is ember.bfloat16


# ---- autocast: the region ---------------------------------------------------------------------

def test_state_nesting_and_restoring_matches_torch():
    log = {"ember": [], "torch": []}

    def record(lib, mod, mm):
        a = lib.ones(2, 2)
        log[lib.__name__].append((mod.is_autocast_enabled("cpu"),
                                  _name(mod.get_autocast_dtype("cpu")), _name(mm(a, a).dtype)))

    for lib, mod, ac in ((ember, amp, amp.autocast), (torch, torch, torch.autocast)):
        mm = lib.mm
        record(lib, mod, mm)
        with ac("cpu"):
            record(lib, mod, mm)
            with ac("cpu", enabled=False):
                record(lib, mod, mm)
                with ac("cpu", dtype=lib.float16):
                    record(lib, mod, mm)
                record(lib, mod, mm)
            with ac("cpu", dtype=lib.float16):
                record(lib, mod, mm)
            record(lib, mod, mm)
        record(lib, mod, mm)
    assert log["ember"] == log["torch"]
    assert log["ember"][1] == (True, "bfloat16", "bfloat16")
    assert log["ember"][2] == (False, "bfloat16", "float32")


def test_disabled_region_changes_nothing():
    a = ember.ones(2, 2)
    with amp.autocast("cpu", enabled=False):
        assert not amp.is_autocast_enabled("cpu")
        assert (a @ a).dtype is ember.float32
    assert amp.active == 0


def test_state_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with amp.autocast("cpu"):
            1 / 0
    assert not amp.is_autocast_enabled("cpu") and amp.active == 0


def test_decorator_form():
    @amp.autocast("cpu")
    def product(x, depth=0):
        # re-entering the same region (recursion) nests and unwinds correctly
        return product(x, depth + 1) if depth < 2 else x @ x

    a = ember.ones(2, 2)
    assert product(a).dtype is ember.bfloat16
    assert not amp.is_autocast_enabled("cpu")
    assert (a @ a).dtype is ember.float32
    assert product.__name__ == "product"


def test_regions_are_thread_local():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        with amp.autocast("cpu"):
            seen["worker"] = (ember.ones(2, 2) @ ember.ones(2, 2)).dtype
            inside.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    assert inside.wait(10)
    try:
        # the worker's region is open, yet this thread computes in float32
        assert amp.active == 1
        assert not amp.is_autocast_enabled("cpu")
        assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype is ember.float32
    finally:
        release.set()
        t.join(10)
    assert seen["worker"] is ember.bfloat16


def test_low_level_setters():
    assert amp.get_autocast_dtype("cpu") is ember.bfloat16
    assert amp.get_autocast_dtype("cuda") is ember.float16
    amp.set_autocast_enabled("cpu", True)
    try:
        assert amp.active == 1 and amp.is_autocast_enabled("cpu")
        assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype is ember.bfloat16
        amp.set_autocast_enabled("cpu", True)  # idempotent: the count does not grow
        assert amp.active == 1
    finally:
        amp.set_autocast_enabled("cpu", False)
    assert amp.active == 0
    assert amp.is_autocast_cache_enabled()


@pytest.mark.parametrize("dev", DEVICES)
def test_default_dtype_per_device(dev):
    default = "bfloat16" if dev == "cpu" else "float16"
    assert amp.get_autocast_dtype(dev) is getattr(ember, default)
    if default in ember.backends.capabilities(dev)["dtypes"]:
        region = amp.autocast(dev)
        assert region.fast_dtype is getattr(ember, default)
        with region:
            assert (ember.ones(2, 2, device=dev) @ ember.ones(2, 2, device=dev)).dtype is \
                getattr(ember, default)
    else:  # the backend cannot hold the dtype: torch's rule, a warning and no autocast
        with pytest.warns(UserWarning, match="Disabling autocast"):
            region = amp.autocast(dev)
        assert region.fast_dtype is getattr(ember, default)
        with region:
            assert not amp.is_autocast_enabled(dev)
            assert (ember.ones(2, 2, device=dev) @ ember.ones(2, 2, device=dev)).dtype is \
                ember.float32


def test_unsupported_requests_warn_or_raise_as_torch():
    for dt in (ember.float32, ember.float64):
        with pytest.warns(UserWarning, match="target dtype is not supported"):
            region = amp.autocast("cpu", dtype=dt)
        with region:
            assert not amp.is_autocast_enabled("cpu")
    if "cuda" not in DEVICES:
        with pytest.warns(UserWarning, match="Disabling autocast"):
            region = amp.autocast("cuda")
        with region:
            assert not amp.is_autocast_enabled("cuda")
    with pytest.raises(RuntimeError, match="device type at start of device string: foo"):
        amp.autocast("foo")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        amp.autocast(3)


def test_deprecated_cuda_and_cpu_forms():
    with pytest.warns(FutureWarning, match="deprecated"):
        region = amp.cpu_autocast()
    assert region.device == "cpu" and region.fast_dtype is ember.bfloat16
    with region:
        assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype is ember.bfloat16
    with pytest.warns(FutureWarning, match="deprecated"):
        region = amp.cpu_autocast(dtype=ember.float16, enabled=False)
    assert region.fast_dtype is ember.float16 and not region._enabled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (and cuda's unavailability warning, where so)
        region = amp.cuda_autocast(enabled=False)
    assert isinstance(region, amp.autocast) and region.device == "cuda"
    assert region.fast_dtype is ember.float16


# ---- autocast: gradients ----------------------------------------------------------------------

def _mlp_pair(dev):
    ember.manual_seed(0)
    e = ember.nn.Sequential(ember.nn.Linear(5, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    t = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for pe, pt in zip(e.parameters(), t.parameters()):
            pt.copy_(torch.tensor(_np(pe), dtype=torch.float32))
    return e.to(dev), t


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
def test_gradients_reach_float32_parameters(dev, dt):
    e, t = _mlp_pair(dev)
    x = RNG.standard_normal((6, 5))
    with amp.autocast(dev, dtype=getattr(ember, dt)):
        out = e(ember.tensor(x, dtype=ember.float32, device=dev))
        loss = (out.float() ** 2).mean()
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        tout = t(torch.tensor(x, dtype=torch.float32))
        tloss = (tout.float() ** 2).mean()
    assert _name(out.dtype) == _name(tout.dtype) == dt
    loss.backward()
    tloss.backward()
    for pe, pt in zip(e.parameters(), t.parameters()):
        assert pe.dtype is ember.float32 and pe.grad.dtype is ember.float32
        np.testing.assert_allclose(_np(pe.grad), pt.grad.double().numpy(), rtol=5e-2, atol=2e-2)


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
def test_backward_inside_the_region(dev, dt):
    # not recommended by torch, but it works there: the backward ops see low-precision
    # operands already, and the gradients still arrive in float32
    e, t = _mlp_pair(dev)
    x = RNG.standard_normal((6, 5))
    with amp.autocast(dev, dtype=getattr(ember, dt)):
        (e(ember.tensor(x, dtype=ember.float32, device=dev)).float() ** 2).mean().backward()
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        (t(torch.tensor(x, dtype=torch.float32)).float() ** 2).mean().backward()
    for pe, pt in zip(e.parameters(), t.parameters()):
        assert pe.grad.dtype is ember.float32
        np.testing.assert_allclose(_np(pe.grad), pt.grad.double().numpy(), rtol=5e-2, atol=2e-2)


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
def test_conv_gradients_reach_float32_parameters(dev, dt):
    x = RNG.standard_normal((2, 3, 6, 6))
    w, b = RNG.standard_normal((4, 3, 3, 3)) * 0.3, RNG.standard_normal(4)
    ew = ember.tensor(w, dtype=ember.float32, device=dev, requires_grad=True)
    eb = ember.tensor(b, dtype=ember.float32, device=dev, requires_grad=True)
    tw = torch.tensor(w, dtype=torch.float32, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float32, requires_grad=True)
    with amp.autocast(dev, dtype=getattr(ember, dt)):
        y = F.conv2d(ember.tensor(x, dtype=ember.float32, device=dev), ew, eb, padding=1)
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        ty = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float32), tw, tb, padding=1)
    y.float().square().sum().backward()
    ty.float().square().sum().backward()
    for e, t in ((ew, tw), (eb, tb)):
        assert e.grad.dtype is ember.float32
        np.testing.assert_allclose(_np(e.grad), t.grad.double().numpy(), rtol=5e-2, atol=0.5)


def test_cast_cache_reuses_a_parameter_cast_and_sees_in_place_updates():
    lin = ember.nn.Linear(4, 4)
    x = ember.ones(2, 4)
    with amp.autocast("cpu"):
        first = amp.cast(lin.weight)[0]
        assert amp.cast(lin.weight)[0] is first  # one cast per region
        y = lin(x) + lin(x)  # both uses feed the same cast: the gradients add up
        with ember.no_grad():
            lin.weight.mul_(2)  # an in-place update invalidates the cached cast
        assert amp.cast(lin.weight)[0] is not first
        with amp.autocast("cpu", cache_enabled=False):
            assert amp.cast(lin.bias)[0] is not amp.cast(lin.bias)[0]
    y.float().sum().backward()
    np.testing.assert_allclose(_np(lin.weight.grad), np.full((4, 4), 4.0))
    with amp.autocast("cpu"):
        assert amp.cast(lin.weight)[0] is not first  # the cache lives for one outer region


def test_custom_fwd_and_bwd():
    seen = {}

    class Square(ember.autograd.Function):
        @staticmethod
        @amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        def forward(ctx, x):
            seen["fwd"] = (x.dtype, amp.is_autocast_enabled("cpu"))
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = amp.is_autocast_enabled("cpu")
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = ember.ones(3, dtype=ember.bfloat16, requires_grad=True)
    with amp.autocast("cpu"):
        y = Square.apply(x)
    assert seen["fwd"] == (ember.float32, False) and y.dtype is ember.float32
    y.sum().backward()
    assert seen["bwd"] is False and x.grad.dtype is ember.bfloat16
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


# ---- GradScaler ---------------------------------------------------------------------------------

def _train(lib, dev, steps, bad, scaler_kwargs, unscale_at=()):
    """Run SGD on a linear model with a GradScaler; steps in ``bad`` get an inf or NaN input.
    Returns per step (scale, growth tracker, step's return value, weight)."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((2, 3)).astype(np.float32)
    kw = {} if lib is torch else {"device": dev}
    model = lib.nn.Linear(3, 2, bias=False)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(w0))
    model = model.to(dev) if lib is ember else model
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    scaler = (amp.GradScaler if lib is ember else torch.amp.GradScaler)(**scaler_kwargs)
    out = []
    for i in range(steps):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        if i in bad:
            x[1, 2] = bad[i]
        opt.zero_grad()
        loss = (model(lib.tensor(x, **kw)) ** 2).mean()
        scaler.scale(loss).backward()
        if i in unscale_at:
            scaler.unscale_(opt)
        ret = scaler.step(opt)
        scaler.update()
        w = model.weight.detach()
        out.append((scaler.get_scale(), scaler._get_growth_tracker(), ret,
                    _np(w) if lib is ember else w.double().numpy()))
    return out, scaler


@pytest.mark.parametrize("dev", DEVICES)
def test_scaler_trajectory_matches_torch(dev):
    kwargs = dict(init_scale=2.0 ** 10, growth_factor=2.0, backoff_factor=0.5,
                  growth_interval=3)
    bad = {4: float("inf"), 5: float("nan"), 9: float("-inf")}
    ours, scaler = _train(ember, dev, 14, bad, dict(device=dev, **kwargs), unscale_at=(2, 4))
    ref, tscaler = _train(torch, "cpu", 14, bad, dict(device="cpu", **kwargs), (2, 4))
    scales = [o[0] for o in ours]
    assert scales == [r[0] for r in ref]
    assert [o[1] for o in ours] == [r[1] for r in ref]
    assert [o[2] for o in ours] == [r[2] for r in ref]
    # growth after 3 clean steps, back-off on each bad step
    assert scales[:6] == [1024.0, 1024.0, 2048.0, 2048.0, 1024.0, 512.0]
    for i, (o, r) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(o[3], r[3], rtol=1e-5, atol=1e-6, err_msg=f"step {i}")
    # skipped steps left the weights alone
    np.testing.assert_array_equal(ours[4][3], ours[3][3])
    np.testing.assert_array_equal(ours[5][3], ours[4][3])
    assert scaler.state_dict() == tscaler.state_dict()


def _one_backward(scaler, dev="cpu", value=1.0):
    p = ember.nn.Parameter(ember.full((3,), value, device=dev))
    opt = ember.optim.SGD([p], lr=0.1)
    scaler.scale((p * 2).sum()).backward()
    return p, opt


def test_scaler_unscale_and_step_errors_match_torch():
    scaler = amp.GradScaler("cpu")
    p = ember.nn.Parameter(ember.ones(3))
    opt = ember.optim.SGD([p], lr=0.1)
    for call in (lambda: scaler.unscale_(opt), lambda: scaler.step(opt), scaler.update):
        with pytest.raises(AssertionError, match="but _scale is None"):
            call()
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)
    np.testing.assert_array_equal(_np(p.grad), [2.0, 2.0, 2.0])  # unscaled in place
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this "
                                           r"optimizer since the last update\(\)\."):
        scaler.unscale_(opt)
    assert scaler.step(opt) is None  # SGD's step returns None
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last "
                                           r"update\(\)\."):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)\."):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)
    scaler.update()
    np.testing.assert_allclose(_np(p), [0.8, 0.8, 0.8], rtol=1e-6)


def test_scaler_step_returns_the_optimizer_value_and_skips_on_inf():
    class Counting(ember.optim.SGD):
        calls = 0

        def step(self, closure=None, tag=None):
            Counting.calls += 1
            super().step()
            return ("stepped", tag)

    scaler = amp.GradScaler("cpu", init_scale=4.0)
    p = ember.nn.Parameter(ember.ones(2))
    opt = Counting([p], lr=1.0)
    scaler.scale(p.sum()).backward()
    assert scaler.step(opt, tag=7) == ("stepped", 7)
    scaler.update()
    opt.zero_grad()
    scaler.scale(p.sum() * float("inf")).backward()
    assert scaler.step(opt, tag=8) is None and Counting.calls == 1
    scaler.update()
    assert scaler.get_scale() == 2.0 and scaler._get_growth_tracker() == 0


def test_scaler_scale_structures():
    scaler = amp.GradScaler("cpu", init_scale=4.0)
    a, b = ember.ones(2), ember.full((2,), 2.0)
    out = scaler.scale([a, (b, a)])
    assert type(out) is list and type(out[1]) is tuple
    assert out[0].tolist() == [4.0, 4.0] and out[1][0].tolist() == [8.0, 8.0]
    lazy = scaler.scale(iter([a]))
    assert not isinstance(lazy, (list, tuple)) and next(lazy).tolist() == [4.0, 4.0]
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale([a, 3])
    # dtypes as torch: a bfloat16 tensor stays bfloat16 (the scale is a 0-d float32)
    t = torch.amp.GradScaler("cpu", init_scale=4.0)
    for shape in ((2,), ()):
        e = scaler.scale(ember.ones(shape, dtype=ember.bfloat16))
        r = t.scale(torch.ones(shape, dtype=torch.bfloat16))
        assert _name(e.dtype) == _name(r.dtype)


def test_scaler_disabled_passes_through():
    scaler = amp.GradScaler("cpu", enabled=False)
    p = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([p], lr=1.0)
    loss = p.sum()
    assert scaler.scale(loss) is loss
    loss.backward()
    scaler.unscale_(opt)
    assert scaler.step(opt) is None
    scaler.update()
    assert p.tolist() == [0.0, 0.0]
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()
    scaler.load_state_dict({})  # ignored when disabled


def test_scaler_rejects_float16_gradients():
    scaler = amp.GradScaler("cpu")
    p = ember.nn.Parameter(ember.ones(2, dtype=ember.float16))
    opt = ember.optim.SGD([p], lr=1.0)
    scaler.scale(p.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        scaler.unscale_(opt)


def test_scaler_growth_rounding_and_overflow_match_torch():
    for kwargs in (dict(init_scale=3.0, growth_factor=1.1, growth_interval=1),
                   dict(init_scale=2.0 ** 127, growth_interval=1),
                   dict(init_scale=5.0, backoff_factor=0.3, growth_interval=1)):
        ours, _ = _train(ember, "cpu", 3, {1: float("nan")}, dict(device="cpu", **kwargs))
        ref, _ = _train(torch, "cpu", 3, {1: float("nan")}, dict(device="cpu", **kwargs))
        assert [o[:2] for o in ours] == [r[:2] for r in ref], kwargs


def test_scaler_update_with_new_scale_and_setters():
    scaler = amp.GradScaler("cpu")
    _one_backward(scaler)
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0
    scaler.update(new_scale=ember.tensor(4.0))
    assert scaler.get_scale() == 4.0
    with pytest.raises(AssertionError):
        scaler.update(new_scale=ember.tensor([1.0, 2.0]))
    scaler.set_growth_factor(3.0)
    scaler.set_backoff_factor(0.25)
    scaler.set_growth_interval(5)
    assert (scaler.get_growth_factor(), scaler.get_backoff_factor(),
            scaler.get_growth_interval()) == (3.0, 0.25, 5)


def test_scaler_state_dict_round_trip_and_pickle():
    scaler = amp.GradScaler("cpu", init_scale=256.0, growth_interval=4)
    p, opt = _one_backward(scaler)
    scaler.step(opt)
    scaler.update()
    state = scaler.state_dict()
    assert state == {"scale": 256.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                     "growth_interval": 4, "_growth_tracker": 1}
    other = amp.GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    _one_backward(other)  # the lazily made tensors start from the loaded state
    assert other.get_scale() == 256.0 and other._get_growth_tracker() == 1
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        other.load_state_dict({})
    copy = pickle.loads(pickle.dumps(scaler))
    assert copy.state_dict() == state
    _one_backward(scaler)  # mid-iteration (stepped, not updated) it refuses, as torch
    scaler.unscale_(opt)
    with pytest.raises(AssertionError, match="may only be pickled"):
        pickle.dumps(scaler)


def test_scaler_arguments_and_devices():
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
        amp.GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="The backoff factor must be < 1.0."):
        amp.GradScaler("cpu", backoff_factor=1.0)
    assert not amp.GradScaler("cpu", growth_factor=0.5, enabled=False).is_enabled()
    if "cuda" not in DEVICES:  # torch's rule: a warning and a disabled scaler
        with pytest.warns(UserWarning, match="Disabling"):
            assert not amp.GradScaler().is_enabled()
        with pytest.warns(UserWarning, match="Disabling"):
            assert not amp.CudaGradScaler().is_enabled()
    cpu = amp.CpuGradScaler(init_scale=8.0)
    assert isinstance(cpu, amp.GradScaler) and cpu.is_enabled() and cpu.get_scale() == 8.0


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"] or [pytest.param(
    "none", marks=pytest.mark.skip(reason="only the cpu backend is available"))])
def test_scaler_parameters_on_two_devices(dev):
    # the scale lives where the loss is; each device's gradients get their own check
    scaler = amp.GradScaler("cpu", init_scale=4.0)
    a = ember.nn.Parameter(ember.ones(2))
    b = ember.nn.Parameter(ember.ones(2, device=dev))
    opt = ember.optim.SGD([a, b], lr=1.0)
    loss = a.sum() + (b * float("inf")).sum().to("cpu")
    scaler.scale(loss).backward()
    assert scaler.step(opt) is None
    scaler.update()
    assert scaler.get_scale() == 2.0 and a.tolist() == [1.0, 1.0]
    opt.zero_grad()
    scaler.scale(a.sum() + b.sum().to("cpu")).backward()
    scaler.step(opt)
    scaler.update()
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dev,dt", list(_lower_params()))
def test_autocast_with_grad_scaler_training(dev, dt):
    # the usual float16 loop: forward in a region, scaled backward and step outside
    e, t = _mlp_pair(dev)
    eo, to = ember.optim.SGD(e.parameters(), lr=0.1), torch.optim.SGD(t.parameters(), lr=0.1)
    es = amp.GradScaler(dev, init_scale=2.0 ** 8, growth_interval=2)
    ts = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2)
    rng = np.random.default_rng(5)
    for _ in range(5):
        x = rng.standard_normal((8, 5))
        for lib, model, opt, scaler, kind in ((ember, e, eo, es, dev), (torch, t, to, ts, "cpu")):
            opt.zero_grad()
            kw = {"device": dev} if lib is ember else {}
            ac = amp.autocast if lib is ember else torch.autocast
            with ac(kind, dtype=getattr(lib, dt)):
                loss = model(lib.tensor(x, dtype=lib.float32, **kw)).float().square().mean()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    assert es.get_scale() == ts.get_scale()
    for pe, pt in zip(e.parameters(), t.parameters()):
        assert pe.dtype is ember.float32
        np.testing.assert_allclose(_np(pe), pt.detach().double().numpy(), rtol=2e-2, atol=2e-2)


# ---- float32 matmul precision -------------------------------------------------------------

@pytest.fixture
def _restore_precision():
    before = amp.get_float32_matmul_precision()
    yield
    amp.set_float32_matmul_precision(before)


def test_matmul_precision_setting(_restore_precision):
    assert amp.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    for p in ("high", "medium", "highest"):
        amp.set_float32_matmul_precision(p)
        assert amp.get_float32_matmul_precision() == p
    amp.set_float32_matmul_precision("medium")
    # torch warns and keeps the setting for an unknown string
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        amp.set_float32_matmul_precision("HIGH")
    assert amp.get_float32_matmul_precision() == "medium"
    with pytest.raises(RuntimeError, match="expects a str, but got int"):
        amp.set_float32_matmul_precision(3)
    # a recorded setting: float32 products are float32 products whatever it says
    a = ember.tensor(RNG.standard_normal((8, 8)), dtype=ember.float32)
    amp.set_float32_matmul_precision("highest")
    exact = _np(a @ a)
    amp.set_float32_matmul_precision("medium")
    np.testing.assert_array_equal(_np(a @ a), exact)


def test_public_spellings_are_wired():
    import importlib
    import ember as torch
    assert torch.amp.autocast is torch.autocast
    assert importlib.import_module("ember.cuda.amp").GradScaler is amp.CudaGradScaler
    assert importlib.import_module("ember.cpu.amp").GradScaler is amp.CpuGradScaler
    assert torch.cpu.amp.autocast is amp.cpu_autocast
    assert importlib.import_module("ember.special").expit is torch.special.expit
    assert importlib.import_module("ember.distributions").Normal is torch.distributions.Normal
    with torch.cpu.amp.autocast():
        assert torch.nn.Linear(3, 2)(torch.ones(1, 3)).dtype == torch.bfloat16
    previous = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)


# ---- torch's float32 list: the losses; and the mixed-dtype normalisations ---------------------

LOSSES = {
    "mse_loss": lambda F, x, t, y: F.mse_loss(x, t),
    "l1_loss": lambda F, x, t, y: F.l1_loss(x, t),
    "smooth_l1_loss": lambda F, x, t, y: F.smooth_l1_loss(x, t),
    "huber_loss": lambda F, x, t, y: F.huber_loss(x, t, delta=0.5),
    "cross_entropy": lambda F, x, t, y: F.cross_entropy(x, y, label_smoothing=0.1),
    "nll_loss": lambda F, x, t, y: F.nll_loss(F.log_softmax(x, -1), y),
    "bce_with_logits": lambda F, x, t, y: F.binary_cross_entropy_with_logits(x, t.sigmoid()),
    "binary_cross_entropy": lambda F, x, t, y: F.binary_cross_entropy(x.sigmoid(), t.sigmoid()),
    "kl_div": lambda F, x, t, y: F.kl_div(F.log_softmax(x, -1), t.softmax(-1),
                                          reduction="batchmean"),
    "soft_margin_loss": lambda F, x, t, y: F.soft_margin_loss(x, t.sign()),
    "hinge_embedding_loss": lambda F, x, t, y: F.hinge_embedding_loss(x, t.sign()),
    "margin_ranking_loss": lambda F, x, t, y: F.margin_ranking_loss(x[:, 0], x[:, 1],
                                                                    t[:, 0].sign()),
    "poisson_nll_loss": lambda F, x, t, y: F.poisson_nll_loss(x, t.abs()),
    "triplet_margin_loss": lambda F, x, t, y: F.triplet_margin_loss(x, t, x * 0.5),
    "multi_margin_loss": lambda F, x, t, y: F.multi_margin_loss(x, y),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_run_in_float32_under_autocast(name):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    results = []
    for m, FF in ((torch, torch.nn.functional), (ember, F)):
        xb = m.tensor(x).to(m.bfloat16).requires_grad_()
        with m.autocast(device_type="cpu", dtype=m.bfloat16):
            loss = LOSSES[name](FF, xb, m.tensor(t).to(m.bfloat16), m.tensor(y))
        loss.backward()
        results.append((_name(loss.dtype), float(loss), xb.grad.float()))
    (tdt, tv, tg), (edt, ev, eg) = results
    assert edt == tdt == "float32"
    # (the bfloat16 ops some cases run before the loss, log_softmax or sigmoid, may differ from
    # torch's by one bfloat16 ulp, 2**-8 relative: torch's vectorised exp/log round otherwise)
    np.testing.assert_allclose(ev, tv, rtol=4e-3, atol=1e-6)
    np.testing.assert_allclose(_np(eg), tg.double().numpy(), rtol=1e-2, atol=1e-3)


def test_losses_keep_their_dtype_outside_autocast():
    x = ember.randn(4, 3, dtype=ember.bfloat16)
    assert F.mse_loss(x, x * 2).dtype is ember.bfloat16


@pytest.mark.parametrize("dt", LOWER)
def test_normalisations_return_the_input_dtype_with_float32_parameters(dt):
    # torch's "mixed dtype" norms: computed in float32, returned in the input's dtype
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    for call in (
            lambda m, FF, xx: FF.layer_norm(xx, (3,), m.tensor(w[:3]), m.tensor(b[:3])),
            lambda m, FF, xx: FF.group_norm(xx, 2, m.tensor(w), m.tensor(b)),
            lambda m, FF, xx: FF.batch_norm(xx, m.zeros(4), m.ones(4), m.tensor(w),
                                            m.tensor(b), training=True),
            lambda m, FF, xx: FF.instance_norm(xx)):
        want = call(torch, torch.nn.functional, torch.tensor(x).to(getattr(torch, dt)))
        got = call(ember, F, ember.tensor(x).to(getattr(ember, dt)))
        assert _name(got.dtype) == _name(want.dtype) == dt
        np.testing.assert_allclose(_np(got), want.double().numpy(), rtol=1e-2, atol=1e-2)


def test_top_level_autocast_state_functions():
    assert not ember.is_autocast_enabled("cpu") and not ember.is_autocast_cpu_enabled()
    with ember.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu") and ember.is_autocast_cpu_enabled()
        assert ember.get_autocast_dtype("cpu") is ember.bfloat16
        assert ember.get_autocast_cpu_dtype() is ember.bfloat16
    assert ember.is_autocast_cache_enabled()
    ember.clear_autocast_cache()
