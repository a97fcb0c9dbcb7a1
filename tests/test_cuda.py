"""The cuda backend: its plugin without cupy or a GPU, its kernel table on a NumPy stand-in for
CuPy (ember.backends.cuda.fakecupy), and, where a GPU is present, the GPU-only behaviour.

Each check that needs a fresh plugin registry runs in a subprocess of its own.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember


def _run(code: str, env: dict | None = None, timeout: int = 300) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    full_env = dict(os.environ, EMBER_FALLBACK="error", **(env or {}))
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=full_env, timeout=timeout)
    assert p.returncode == 0, f"subprocess failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- without a GPU
def test_plugin_registers_without_cupy():
    r = _run("""
        import json, sys
        sys.modules["cupy"] = None  # NOTE: makes `import cupy` raise ImportError, as when absent
        import ember
        import ember.backends.cuda
        out = {"cupy_imported": sys.modules.get("cupy") is not None,
               "registered": ember.backends.registered().get("cuda"),
               "available": ember.backends.available(), "is_available": ember.cuda.is_available(),
               "device_count": ember.cuda.device_count()}
        try:
            ember.zeros(1, device="cuda")
            out["error"] = None
        except RuntimeError as e:
            out["error"] = str(e)
        out["failure"] = ember.backends.failures().get("cuda")
        print(json.dumps(out))
    """)
    assert not r["cupy_imported"]
    assert r["registered"] == "cuda"
    assert "cuda" not in r["available"] and "cpu" in r["available"]
    assert r["is_available"] is False and r["device_count"] == 0
    assert r["error"] is not None
    assert "'cuda' is installed but failed to load" in r["error"]
    assert "cupy is not installed (pip install 'ember[cuda]')" in r["error"]
    assert "cupy is not installed" in r["failure"]


def test_no_driver_is_reported():
    r = _run("""
        import json
        from ember.backends.cuda import fakecupy; fakecupy.install()
        import ember
        try:
            ember.zeros(1, device="cuda:0")
            err = None
        except RuntimeError as e:
            err = str(e)
        print(json.dumps({"error": err, "is_available": ember.cuda.is_available()}))
    """, env={"EMBER_FAKECUPY_NO_DEVICE": "cudaErrorInsufficientDriver: CUDA driver version "
                                          "is insufficient for CUDA runtime version"})
    assert r["is_available"] is False
    assert "failed to load" in r["error"] and "no CUDA driver/GPU" in r["error"]
    assert "cudaErrorInsufficientDriver" in r["error"]


def test_plugin_module_does_not_import_cupy():
    import ember.backends.cuda as plugin
    src = open(plugin.__file__).read()
    top = [l for l in src.splitlines() if l.startswith(("import ", "from "))]
    assert not any("cupy" in l for l in top), top


# ------------------------------------------------------- the kernel table on a NumPy stand-in
_FAKE_OPS = """
    import json
    import numpy as np
    from ember.backends.cuda import fakecupy; fakecupy.install()
    import ember
    res = {}
    rng = np.random.default_rng(0)

    def same(name, f, *arrays, dtype=None):
        cpu = [ember.tensor(a) if dtype is None else ember.tensor(a, dtype=dtype) for a in arrays]
        gpu = [t.to("cuda") for t in cpu]
        want, got = f(*cpu), f(*gpu)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        ok = all(str(g.device) == "cuda:0" and g.dtype == w.dtype and
                 np.allclose(g.cpu().numpy().astype(np.float64), w.numpy().astype(np.float64),
                             rtol=1e-5, atol=1e-6, equal_nan=True) for g, w in zip(got, want))
        res[name] = ok

    a = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    for op in ("exp", "log1p", "tanh", "sigmoid", "erf", "sqrt", "floor", "round", "sign"):
        same(op, lambda x, op=op: getattr(x, op)(), np.abs(a) if op in ("sqrt",) else a)
    same("sigmoid_f16", lambda x: x.sigmoid(), a.astype(np.float16))
    same("erf_f64", lambda x: x.erf(), a.astype(np.float64))
    same("add_bcast", lambda x, y: x + y * 2, a, a[:1])
    same("remainder_int", lambda x, y: x % y, np.array([-7, 7, 5]), np.array([3, -3, 2]))
    same("matmul", lambda x, y: x @ y, a, b)
    same("matmul_f16", lambda x, y: x @ y, a.astype(np.float16), b.astype(np.float16))
    same("matmul_bf16", lambda x, y: (x.to(ember.bfloat16) @ y.to(ember.bfloat16)).float(), a, b)
    same("sum_max", lambda x: (x.sum(1), x.amax(0), x.argmax(1)), a)
    same("cumsum", lambda x: x.cumsum(1), a)
    same("sort_stable_nan", lambda x: x.sort(descending=True),
         np.array([1.0, np.nan, 3.0, 1.0, 3.0], np.float32))
    same("view_noncontig", lambda x: x.t()[1:3].reshape(-1), a)
    same("view_ok", lambda x: x[:, ::2].unsqueeze(0).view(1, 4, 3), a)
    same("permute_contig", lambda x: x.permute(1, 0).contiguous(), a)
    same("getitem_adv", lambda x: x[ember.tensor([3, -1, 0]).to(x.device), 1:4], a)
    def idx(x, v):
        return ember.tensor(v).to(x.device)
    same("gather", lambda x: x.gather(1, idx(x, [[0, 4], [1, 1], [2, 3], [4, 0]])), a)
    same("scatter_add", lambda x: x.scatter_add(1, idx(x, [[0, 0]] * 4), x[:, :2]), a)
    for red in ("prod", "amax", "amin"):
        same(f"scatter_reduce_{red}", lambda x, r=red: x.scatter_reduce(
            1, idx(x, [[0, 0, 4]] * 4), x[:, :3], r, include_self=False), a)
        same(f"scatter_reduce_{red}_int8", lambda x, r=red: x.scatter_reduce(
            0, idx(x, [[1, 1, 1, 0, 2]] * 3), x[:3], r), (a * 40).astype(np.int8))
    same("nonzero", lambda x: (x > 0).nonzero(), a)
    same("cat_flip", lambda x: ember.cat([x, x.flip(0)], 1), a)
    same("where", lambda x: ember.where(x > 0, x, 0.5), a)

    def index_add(x):
        y = x.clone()
        y.index_add_(0, idx(x, [1, 1, 3]), ember.ones(3, 5, dtype=x.dtype, device=x.device))
        return y
    for dt in (np.float32, np.int8, np.int16, np.uint8, np.int64):
        same(f"index_add_{np.dtype(dt).name}", index_add, (a * 3).astype(dt))
    same("index_add_bool", index_add, a > 0)

    def setitem(x):
        y = x.clone()
        y[ember.tensor([0, 2]).to(x.device)] = 7.0
        y[1, 1:3] = x[0, :2]
        return y
    same("setitem", setitem, a)

    def train(x, y):
        ember.manual_seed(0)
        m = ember.nn.Sequential(ember.nn.Linear(5, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
        m.to(x.device)
        opt = ember.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            loss = ember.nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
        return loss.detach(), m[0].weight.grad
    same("train_step", train, a, rng.standard_normal((4, 3)).astype(np.float32))

    x = ember.zeros(3, device="cuda").expand(2, 3)
    try:
        x[0] = 1.0
        res["expand_write_raises"] = False
    except RuntimeError as e:
        res["expand_write_raises"] = "more than one element" in str(e)
    x = ember.zeros(3, device="cuda")
    try:
        x[ember.tensor([0, 3], device="cuda")]
        res["index_oob_raises"] = False
    except IndexError as e:
        res["index_oob_raises"] = "index 3 is out of bounds for dimension 0 with size 3" in str(e)
    try:
        x.gather(0, ember.tensor([5], device="cuda"))
        res["gather_oob_raises"] = False
    except RuntimeError as e:  # (torch's class: a device-side assert on a GPU)
        res["gather_oob_raises"] = "index 5 is out of bounds for dimension 0 with size 3" in str(e)

    g = ember.Generator(device="cuda")
    g.manual_seed(3)
    state = g.get_state()
    r1 = [ember.rand(5, generator=g, device="cuda"), ember.randn(3, generator=g, device="cuda"),
          ember.randint(0, 10, (4,), generator=g, device="cuda")]
    g.set_state(state)
    r2 = [ember.rand(5, generator=g, device="cuda"), ember.randn(3, generator=g, device="cuda"),
          ember.randint(0, 10, (4,), generator=g, device="cuda")]
    res["rng_state_roundtrip"] = all(bool((p == q).all()) for p, q in zip(r1, r2))
    res["rng_draws_differ"] = not bool((r1[0] == ember.rand(5, generator=g, device="cuda")).all())
    u = ember.rand(10000, device="cuda", dtype=ember.float16)
    res["rand_f16_range"] = bool(((u >= 0) & (u < 1)).all()) and u.dtype == ember.float16

    caps = ember.backends.capabilities("cuda")
    res["no_missing_primitives"] = caps["missing"] == []
    ember.cuda.synchronize()
    ember.cuda.reset_peak_memory_stats()
    res["memory_api"] = ember.cuda.max_memory_allocated() >= ember.cuda.memory_allocated() >= 0
    ember.cuda.empty_cache()
    print(json.dumps(res))
"""


def test_kernel_table_on_fake_cupy():
    r = _run(_FAKE_OPS)
    failed = sorted(k for k, ok in r.items() if not ok)
    assert not failed, f"cuda kernels (on fakecupy) disagree with cpu or misbehave: {failed}"


def test_conformance_on_fake_cupy(tmp_path):
    report = tmp_path / "conformance_cuda.json"
    code = ("import runpy, sys\n"
            "from ember.backends.cuda import fakecupy; fakecupy.install()\n"
            f"sys.argv = ['conformance', '--device', 'cuda', '--report', {str(report)!r}]\n"
            "runpy.run_module('ember.plugins.conformance', run_name='__main__')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=900, env=dict(os.environ, EMBER_FALLBACK="error"))
    assert p.returncode == 0, f"conformance failed on cuda (fakecupy):\n{p.stdout[-6000:]}\n" \
                              f"{p.stderr[-3000:]}"


# ----------------------------------------- the fused training kernels (backends/cuda/fused.py)
# The same script runs on fakecupy (the wiring and the NumPy stand-ins) and, on a GPU, on CuPy
# (the CUDA C): each case's values and gradients on cuda against cpu's.
_FUSED_OPS = """
    import json
    import numpy as np
    import ember
    import ember.nn.functional as F
    res = {}
    rng = np.random.default_rng(1)

    def check(name, f, *arrays, tol=1e-5):
        outs = []
        for dev in ("cpu", "cuda"):
            ts = [ember.tensor(a).to(dev) for a in arrays]
            for t in ts:
                if t.dtype.is_floating_point:
                    t.requires_grad_()
            out = f(*ts)
            out.sum().backward() if out.dtype.is_floating_point else None
            outs.append([out.detach().cpu().double().numpy()] +
                        [t.grad.cpu().double().numpy() for t in ts if t.grad is not None])
        res[name] = all(w.shape == g.shape and
                        np.allclose(g, w, rtol=tol, atol=tol, equal_nan=True)
                        for w, g in zip(*outs))

    for dt, tol in ((np.float32, 1e-5), (np.float64, 1e-10), (np.float16, 2e-2)):
        n = dt.__name__
        x = rng.standard_normal((6, 5)).astype(dt)
        t = np.array([0, 4, 2, 2, 1, 3])
        for red in ("mean", "sum", "none"):
            check(f"ce_{red}_{n}", lambda a, tt=t, r=red: F.cross_entropy(
                a, ember.tensor(tt).to(a.device), reduction=r), x, tol=tol)
            check(f"ce_ignore_weight_{red}_{n}", lambda a, w, tt=t, r=red: F.cross_entropy(
                a, ember.tensor(tt).to(a.device), weight=w, ignore_index=2, reduction=r),
                x, rng.random(5).astype(dt), tol=tol)
        img = rng.standard_normal((2, 3, 7, 9)).astype(dt)
        img[0, 0, 0, 1] = img[0, 0, 1, 0] = img[0, 0, 0, 0]  # a tie: the first one wins
        img[1, 2, 3, 3] = np.nan
        check(f"max_pool_{n}", lambda a: F.max_pool2d(a, 2), img, tol=tol)
        check(f"max_pool_3x2_{n}", lambda a: F.max_pool2d(a, (3, 2)), img, tol=tol)
        check(f"relu_{n}", lambda a: F.relu(a) * 3, img, tol=tol)
        for stride, dil in ((1, 1), (2, 1), (1, 2), (2, 3)):
            check(f"conv_s{stride}_d{dil}_{n}", lambda a, w, s=stride, d=dil: F.conv2d(
                a, w, stride=s, dilation=d, padding=1), img.astype(np.float64).astype(dt),
                rng.standard_normal((4, 3, 3, 2)).astype(dt), tol=tol * 10)
        check(f"linear_{n}", lambda a, w, b: F.linear(a, w, b), x,
              rng.standard_normal((3, 5)).astype(dt), rng.standard_normal(3).astype(dt), tol=tol)
        check(f"matmul_T_{n}", lambda a, b: a.t() @ b.t(), x,
              rng.standard_normal((4, 6)).astype(dt), tol=tol)
    # a bad target is found on the device and reported at the next read, as torch's
    # device-side assert; the read after that is clean again
    try:
        loss = F.cross_entropy(ember.zeros(2, 3, device="cuda"),
                               ember.tensor([0, 3], device="cuda"))
        loss.item()
        res["ce_bad_target_raises"] = False
    except IndexError as e:
        res["ce_bad_target_raises"] = "Target 3 is out of bounds" in str(e)
    ok = F.cross_entropy(ember.zeros(2, 3, device="cuda"), ember.tensor([0, 2], device="cuda"))
    res["ce_after_error_clean"] = abs(ok.item() - float(np.log(3))) < 1e-6

    for nesterov, damp in ((False, 0.0), (True, 0.0), (False, 0.3)):
        params = []
        init = rng.standard_normal((4, 3)).astype(np.float32)
        for dev in ("cpu", "cuda"):
            w = ember.nn.Parameter(ember.tensor(init).to(dev))
            opt = ember.optim.SGD([w], lr=0.1, momentum=0.9, nesterov=nesterov, dampening=damp,
                                  weight_decay=0.01)
            for step in range(4):
                opt.zero_grad()
                ((w * w).sum() + w.sum() * step).backward()
                opt.step()
            buf = opt.state[w]["momentum_buffer"]
            params.append((w.detach().cpu().numpy(), buf.cpu().numpy()))
        res[f"sgd_nesterov{nesterov}_damp{damp}"] = all(
            np.allclose(a, b, rtol=1e-6, atol=1e-6) for a, b in zip(*params))
    print(json.dumps(res))
"""


def _check_fused(prefix: str):
    r = _run(prefix + _FUSED_OPS)
    failed = sorted(k for k, ok in r.items() if not ok)
    assert len(r) > 45 and not failed, f"fused cuda kernels disagree with cpu: {failed}"


def test_fused_kernels_on_fake_cupy():
    _check_fused("""
    from ember.backends.cuda import fakecupy; fakecupy.install()""")


# ------------------------------------------------------------------------- on a real GPU
def _gpu_reason() -> str | None:
    """None when a real CUDA GPU is usable, else why not."""
    try:
        import cupy
    except ImportError as e:
        return f"needs a CUDA GPU; cupy could not start: cupy is not installed ({e})"
    if getattr(cupy, "__version__", "").endswith("fakecupy"):
        return "needs a CUDA GPU; cupy could not start: this is fakecupy"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return f"needs a CUDA GPU; cupy could not start: {type(e).__name__}: {e}"
    return None if n > 0 else "needs a CUDA GPU; cupy could not start: 0 devices"


_NO_GPU = _gpu_reason()
gpu = pytest.mark.skipif(_NO_GPU is not None, reason=_NO_GPU or "")


@gpu
def test_gpu_available():
    assert ember.cuda.is_available()
    assert "cuda" in ember.backends.available()
    assert ember.cuda.device_count() >= 1


@gpu
def test_gpu_memory_stats():
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    base = ember.cuda.memory_allocated()
    ember.cuda.reset_peak_memory_stats()
    x = ember.empty(1 << 20, device="cuda")            # 4 MiB
    assert ember.cuda.memory_allocated() >= base + (4 << 20)
    del x
    assert ember.cuda.memory_allocated() == base
    assert ember.cuda.max_memory_allocated() >= base + (4 << 20)
    ember.cuda.reset_peak_memory_stats()
    assert ember.cuda.max_memory_allocated() == base


@gpu
def test_gpu_fused_kernels_match_cpu():
    x = ember.randn(1000, dtype=ember.float64)
    for dt in (ember.float16, ember.float32, ember.float64):
        g = x.to("cuda", dt)
        for op in ("sigmoid", "erf"):
            want = getattr(x, op)().to(dt).double().numpy()
            got = getattr(g, op)().cpu().double().numpy()
            tol = 1e-3 if dt is ember.float16 else 1e-6
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{op} {dt}")


@gpu
def test_gpu_fused_relu_kernel():
    b = ember.backends.capabilities("cuda")
    assert "relu" in b["ops"]
    import cupy
    from ember.plugins import registry
    k = registry.backend("cuda").kernels["relu"]
    got = cupy.asnumpy(k(cupy.asarray(np.array([-1.0, 0.0, 2.0, np.nan], np.float32))))
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.0, np.nan])


@gpu
def test_gpu_fused_kernels_match_cpu_kernels():
    _check_fused("")


@gpu
def test_gpu_index_out_of_range_raises():
    x = ember.zeros(3, device="cuda")
    with pytest.raises(IndexError, match="out of bounds"):
        x[ember.tensor([3], device="cuda")]
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_add_(0, ember.tensor([-4], device="cuda"), ember.ones(1, device="cuda"))


# ------------------------------------- device queries, events and streams (torch.cuda's API)
# The same script runs on fakecupy (the wiring) and, on a GPU, on CuPy.
_EVENTS_AND_STREAMS = """
    import json
    import numpy as np
    import ember
    cuda = ember.cuda
    res = {}
    props = cuda.get_device_properties(0)
    res["properties"] = (isinstance(props.name, str) and props.total_memory > 0 and
                         cuda.get_device_capability() == (props.major, props.minor) and
                         "_CudaDeviceProperties(name=" in repr(props))
    free, total = cuda.mem_get_info()
    res["mem_get_info"] = 0 <= free <= total and total > 0
    a = ember.randn(256, 256, device="cuda")
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    start.record()
    b = a @ a
    end.record()
    end.synchronize()
    res["elapsed_time"] = start.elapsed_time(end) >= 0 and end.query()
    try:
        cuda.Event().elapsed_time(cuda.Event())
        res["timing_error"] = False
    except RuntimeError as e:
        res["timing_error"] = "enable_timing=True" in str(e)
    s = cuda.Stream()
    with cuda.stream(s):
        c = a @ a + 1
        res["current_stream"] = cuda.current_stream() == s
    s.synchronize()
    res["stream_result"] = bool(np.allclose(c.cpu().numpy(), b.cpu().numpy() + 1, atol=1e-3))
    res["default_stream"] = cuda.current_stream() == cuda.default_stream()
    cuda.default_stream().wait_stream(s)
    print(json.dumps(res))
"""


def _check_events_and_streams(prefix: str):
    r = _run(prefix + _EVENTS_AND_STREAMS)
    failed = sorted(k for k, ok in r.items() if not ok)
    assert len(r) == 7 and not failed, f"ember.cuda events/streams misbehave: {failed}"


def test_events_and_streams_on_fake_cupy():
    _check_events_and_streams("""
    from ember.backends.cuda import fakecupy; fakecupy.install()""")


@gpu
def test_gpu_events_and_streams():
    _check_events_and_streams("")
