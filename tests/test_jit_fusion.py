"""ember.jit's elementwise fusion: runs of elementwise ops in a traced, scripted or frozen
program become one fused step on a device whose backend has ``fused_elementwise`` (opencl,
cuda); the results equal the unfused program's (and torch's), autograd keeps the unfused path,
and the cpu backend (no kernel) runs its programs as before."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import jit
from ember.core.jit import _fuse

try:
    import torch
except ImportError:  # the torch comparisons skip, saying why
    torch = None

DEVICES = ember.backends.available()
needs_opencl = pytest.mark.skipif(
    "opencl" not in DEVICES, reason="no OpenCL platform with a device here (pyopencl sees none; "
    "pip install pocl-binary-distribution for a CPU one)")
needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")


def chain(m, x):
    # benchmarks/op_overhead.py's 10 elementwise ops
    y = x * 1.01
    y = y + 0.5
    y = m.tanh(y)
    y = y * y
    y = y - 0.25
    y = m.sigmoid(y)
    y = y / 1.5
    y = m.exp(y)
    y = y + x
    return m.relu(y)


def _np(t):
    return t.detach().cpu().numpy()


def _fused_nodes(fn, *args):
    """The fused steps of the program that runs ``fn`` for ``args``."""
    prog = fn._current() if not hasattr(fn, "_dispatch") or fn._dispatch is None else None
    if prog is None:
        prog = fn._dispatch.cache[fn._dispatch.key(args, {})]
    g = prog.run_graph
    return [] if g is None else [n for n in g.nodes if n.target == _fuse.TARGET]


def _trace(fn, *args, fuse=True):
    previous = jit.set_fusion_enabled(fuse)
    try:
        return jit.trace(fn, args, check_trace=False)
    finally:
        jit.set_fusion_enabled(previous)


def _same(got, want, rtol=1e-5, atol=0.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


class _Counter:
    """Counts the calls of the device's fused kernel (and can make it decline)."""

    def __init__(self, monkeypatch, device, decline=False):
        kernels = ember.device(device).backend.kernels
        real = kernels[_fuse.KERNEL]
        self.calls = 0

        def counted(program, *arrays):
            self.calls += 1
            return None if decline else real(program, *arrays)
        monkeypatch.setitem(kernels, _fuse.KERNEL, counted)


# ---- the chain ------------------------------------------------------------------------------

@needs_opencl
@needs_torch
def test_chain_is_one_fused_step_equal_to_unfused_and_torch(monkeypatch):
    x_np = np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32)
    x = ember.tensor(x_np, device="opencl")
    fused = _trace(lambda x: chain(ember, x), x)
    plain = _trace(lambda x: chain(ember, x), x, fuse=False)
    nodes = fused._current().run_graph.nodes
    assert [n.target for n in nodes] == [_fuse.TARGET]  # ten ops, one step
    assert len(nodes[0].args[0].program.outputs) == 1  # no intermediate is stored
    assert "fused_elementwise" in fused.graph_for(x)
    assert plain._current().run_graph is None
    counter = _Counter(monkeypatch, "opencl")
    with ember.no_grad():
        got, want = _np(fused(x)), _np(plain(x))
    assert counter.calls == 1
    _same(got, want)
    _same(got, chain(torch, torch.from_numpy(x_np)).numpy(), rtol=1e-5, atol=1e-6)


@needs_opencl
def test_fusion_off_leaves_the_program_alone():
    x = ember.randn(4, 4, device="opencl")
    assert _fused_nodes(_trace(lambda x: chain(ember, x), x, fuse=False), x) == []


def test_cpu_programs_do_not_fuse():
    x = ember.randn(8, 8)
    f = _trace(lambda x: chain(ember, x), x)
    assert _fused_nodes(f, x) == []
    assert "fused" not in f.graph_for(x)
    with ember.no_grad():
        _same(_np(f(x)), _np(chain(ember, x)))


# ---- many random expressions ------------------------------------------------------------------

_UNARY = [lambda m, v: m.tanh(v), lambda m, v: m.sigmoid(v), lambda m, v: m.relu(v),
          lambda m, v: m.exp(v), lambda m, v: m.abs(v), lambda m, v: -v,
          lambda m, v: m.sqrt(v), lambda m, v: m.log1p(v), lambda m, v: m.sin(v),
          lambda m, v: m.floor(v), lambda m, v: m.nn.functional.gelu(v),
          lambda m, v: m.nn.functional.gelu(v, approximate="tanh"),
          lambda m, v: m.nn.functional.silu(v), lambda m, v: m.erf(v),
          lambda m, v: m.reciprocal(v), lambda m, v: m.nn.functional.leaky_relu(v, 0.2),
          lambda m, v: v.double().float(), lambda m, v: m.round(v), lambda m, v: m.sign(v)]
_BINARY = [lambda m, v, x, y, c: v * c, lambda m, v, x, y, c: v + c,
           lambda m, v, x, y, c: c - v, lambda m, v, x, y, c: v / c,
           lambda m, v, x, y, c: c / v, lambda m, v, x, y, c: v * y,
           lambda m, v, x, y, c: v - x, lambda m, v, x, y, c: m.maximum(v, y),
           lambda m, v, x, y, c: m.minimum(x, v), lambda m, v, x, y, c: m.atan2(v, y),
           lambda m, v, x, y, c: v ** 2.0, lambda m, v, x, y, c: m.pow(y, v),
           lambda m, v, x, y, c: m.where(v > y, v, x * 0.5),
           lambda m, v, x, y, c: m.where(m.isnan(v), 0.0, v),
           lambda m, v, x, y, c: (v > c).float() * v + (x <= y).float(),
           lambda m, v, x, y, c: m.where(m.logical_and(v > 0, y < 0), v, -1.0)]


def _random_expression(seed):
    rng = np.random.default_rng(seed)
    picks = []
    for _ in range(int(rng.integers(3, 9))):
        if rng.random() < 0.45:
            picks.append(("u", int(rng.integers(len(_UNARY))), 0.0))
        else:
            picks.append(("b", int(rng.integers(len(_BINARY))),
                          float(np.float32(rng.choice([0.5, -1.25, 3.0, 1e-3, 7.5])))))

    def expr(m, x, y):
        v = x
        for kind, i, c in picks:
            v = _UNARY[i](m, v) if kind == "u" else _BINARY[i](m, v, x, y, c)
        return v
    return expr


def _special_inputs(seed, shape_x=(6, 7), shape_y=(6, 7)):
    rng = np.random.default_rng(1000 + seed)
    x = rng.standard_normal(shape_x).astype(np.float32) * 3
    y = rng.standard_normal(shape_y).astype(np.float32)
    flat = x.reshape(-1)
    flat[:8] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1000.0, -1000.0, 1e-30]
    return x, y


@needs_opencl
@pytest.mark.parametrize("seed", range(24))
def test_random_expressions_fused_equal_unfused_and_torch(seed):
    expr = _random_expression(seed)
    shape_y = [(6, 7), (7,), (1, 7), (6, 1)][seed % 4]
    x_np, y_np = _special_inputs(seed, shape_y=shape_y)
    x, y = ember.tensor(x_np, device="opencl"), ember.tensor(y_np, device="opencl")
    with np.errstate(all="ignore"):
        fused = _trace(lambda a, b: expr(ember, a, b), x, y)
        plain = _trace(lambda a, b: expr(ember, a, b), x, y, fuse=False)
        assert _fused_nodes(fused, x, y), fused.graph_for(x, y)
        with ember.no_grad():
            got, want = _np(fused(x, y)), _np(plain(x, y))
            eager = _np(expr(ember, x, y))
    _same(got, want)
    _same(got, eager)
    if torch is not None:
        with np.errstate(all="ignore"):
            ref = expr(torch, torch.from_numpy(x_np), torch.from_numpy(y_np)).numpy()
        finite = np.isfinite(ref) & np.isfinite(got)
        # (torch's vectorised tanh/exp/erf differ from the C library's in the last bits, which
        # a chain can amplify: the comparison with torch is looser than with unfused Ember)
        np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-3, atol=1e-4)


@needs_opencl
@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool", "float64"])
def test_other_dtypes(dtype):
    rng = np.random.default_rng(7)
    if dtype == "bool":
        a_np, b_np = rng.random((5, 6)) > 0.5, rng.random((5, 6)) > 0.3

        def f(a, b):
            return (a & b) | ~a, ember.logical_xor(a, b), (a == b).int() * 3
    else:
        lo, hi = (0, 200) if dtype == "uint8" else (-100, 100)
        a_np = rng.integers(lo, hi, (5, 6)).astype(dtype)
        b_np = rng.integers(lo, hi, (5, 6)).astype(dtype)
        if dtype == "float64":
            a_np = a_np / 7.0
            b_np[0, 0] = np.nan

        def f(a, b):
            s = ember.maximum(a * 3 + b, b) - 1
            return s, ember.where(a > b, s, a), (s.float() / 4).tanh(), abs(a) >= 5
    a, b = ember.tensor(a_np, device="opencl"), ember.tensor(b_np, device="opencl")
    fused, plain = _trace(f, a, b), _trace(f, a, b, fuse=False)
    assert _fused_nodes(fused, a, b)
    with ember.no_grad():
        for got, want, ref in zip(fused(a, b), plain(a, b), f(ember.tensor(a_np),
                                                             ember.tensor(b_np))):
            _same(_np(got), _np(want))
            _same(_np(got), _np(ref), rtol=1e-6, atol=1e-7)


# ---- NaN and overflow semantics -----------------------------------------------------------------

@needs_opencl
def test_nan_and_overflow_semantics_are_torchs():
    x_np = np.array([np.nan, -1000.0, 1000.0, -0.0, 0.0, 3.0, -np.inf, np.inf], np.float32)
    y_np = np.array([1.0, np.nan, 2.0, 0.0, -0.0, np.nan, 1.0, -np.inf], np.float32)

    def f(x, y):
        return (ember.relu(x) * 1.0, ember.sigmoid(x) + 0.0, ember.maximum(x, y) * 1.0,
                ember.minimum(y, x) + 0.0, ember.where(x > y, x, y) * 1.0)
    x, y = ember.tensor(x_np, device="opencl"), ember.tensor(y_np, device="opencl")
    fused = _trace(f, x, y)
    assert len(_fused_nodes(fused, x, y)) == 1
    with ember.no_grad():
        got = [_np(t) for t in fused(x, y)]
    if torch is not None:
        want = [t.numpy() for t in _torch_f(torch.from_numpy(x_np), torch.from_numpy(y_np))]
        for g, w in zip(got, want):
            _same(g, w)
    assert np.isnan(got[0][0]) and got[1][1] == 0.0 and got[1][2] == 1.0
    assert np.isnan(got[2][:2]).all() and np.isnan(got[3][:2]).all()


def _torch_f(x, y):
    return (torch.relu(x) * 1.0, torch.sigmoid(x) + 0.0, torch.maximum(x, y) * 1.0,
            torch.minimum(y, x) + 0.0, torch.where(x > y, x, y) * 1.0)


# ---- what the fused step stores, broadcasting and layouts ---------------------------------------

@needs_opencl
def test_intermediates_used_later_are_outputs_of_the_step():
    def f(x, y):
        a = ember.tanh(x * 2.0 + y)
        b = ember.sigmoid(a) * 3.0
        return b, a.sum()  # a is needed by sum, after the run
    x, y = ember.randn(3, 4, device="opencl"), ember.randn(4, device="opencl")
    fused, plain = _trace(f, x, y), _trace(f, x, y, fuse=False)
    (node,) = _fused_nodes(fused, x, y)
    assert len(node.out) == 2 and len(node.args[0].program.outputs) == 2
    with ember.no_grad():
        for got, want in zip(fused(x, y), plain(x, y)):
            _same(_np(got), _np(want))


@needs_opencl
def test_broadcast_and_strided_inputs_use_the_strided_kernel():
    def f(x, y, s):
        return ember.exp(x * y - s) + 1.0
    x = ember.randn(5, 6, device="opencl").t()  # (6, 5), not contiguous
    y = ember.randn(6, 1, device="opencl")
    s = ember.tensor(0.5, device="opencl")  # 0-d
    fused, plain = _trace(f, x, y, s), _trace(f, x, y, s, fuse=False)
    assert _fused_nodes(fused, x, y, s)
    with ember.no_grad():
        _same(_np(fused(x, y, s)), _np(plain(x, y, s)))


@needs_opencl
def test_other_shapes_at_replay_fuse_or_fall_back_correctly(monkeypatch):
    f = _trace(lambda x, y: ember.relu(x * y + 1.0), ember.randn(4, 5, device="opencl"),
               ember.randn(4, 5, device="opencl"))
    counter = _Counter(monkeypatch, "opencl")
    a, b = ember.randn(7, 3, device="opencl"), ember.randn(7, 3, device="opencl")
    with ember.no_grad():
        _same(_np(f(a, b)), _np(ember.relu(a * b + 1.0)))  # same-shape inputs: fused
        assert counter.calls == 1
        c = ember.randn(3, device="opencl")  # another broadcast pattern: the unfused ops
        _same(_np(f(a, c)), _np(ember.relu(a * c + 1.0)))
        assert counter.calls == 1


@needs_opencl
def test_a_declining_kernel_runs_the_unfused_ops(monkeypatch):
    x = ember.randn(4, 4, device="opencl")
    f = _trace(lambda x: chain(ember, x), x)
    counter = _Counter(monkeypatch, "opencl", decline=True)
    with ember.no_grad():
        _same(_np(f(x)), _np(chain(ember, x)))
    assert counter.calls == 1


# ---- autograd: the unfused path -----------------------------------------------------------------

@needs_opencl
def test_inputs_requiring_grad_run_the_unfused_ops(monkeypatch):
    x_np = np.random.default_rng(3).standard_normal((5, 5)).astype(np.float32)
    x = ember.tensor(x_np, device="opencl", requires_grad=True)
    f = _trace(lambda x: chain(ember, x), x)
    assert _fused_nodes(f, x)
    counter = _Counter(monkeypatch, "opencl")
    out = f(x)
    assert counter.calls == 0 and out.requires_grad
    out.sum().backward()
    x2 = ember.tensor(x_np, device="opencl", requires_grad=True)
    chain(ember, x2).sum().backward()
    _same(_np(x.grad), _np(x2.grad))
    with ember.no_grad():
        f(x)
    assert counter.calls == 1  # under no_grad the same program fuses
    y = f(x.detach())
    assert counter.calls == 2 and not y.requires_grad


@needs_opencl
def test_module_parameters_requiring_grad_keep_autograd(monkeypatch):
    class Scale(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ember.nn.Parameter(ember.full((4,), 0.5))

        def forward(self, x):
            return ember.tanh(x * self.w + 1.0) * 2.0
    m = Scale().to("opencl")
    x = ember.randn(3, 4, device="opencl")
    t = jit.trace(m, x)
    counter = _Counter(monkeypatch, "opencl")
    t(x).sum().backward()
    assert counter.calls == 0 and m.w.grad is not None
    g = m.w.grad.clone()
    m.w.grad = None
    m(x).sum().backward()
    _same(_np(g), _np(m.w.grad))
    frozen = jit.freeze(t.eval())
    assert _fused_nodes(frozen, x)
    with ember.no_grad():
        _same(_np(frozen(x)), _np(m(x)))
    assert counter.calls >= 1


# ---- script, freeze, save/load ------------------------------------------------------------------

@needs_opencl
def test_script_freeze_and_save_load_fuse(tmp_path):
    x = ember.randn(6, 6, device="opencl")
    s = jit.script(lambda x: chain(ember, x))
    with ember.no_grad():
        _same(_np(s(x)), _np(chain(ember, x)))
        assert _fused_nodes(s, x)
    f = _trace(lambda x: chain(ember, x), x)
    jit.save(f, tmp_path / "chain.ejit")  # the saved program is the recorded, unfused one
    loaded = jit.load(tmp_path / "chain.ejit")
    assert all(n.target != _fuse.TARGET for n in loaded._current().graph.nodes)
    assert _fused_nodes(loaded, x)
    with ember.no_grad():
        _same(_np(loaded(x)), _np(f(x)))


# ---- cuda, on the NumPy stand-in of CuPy --------------------------------------------------------

_CUDA_CODE = r"""
import json
from ember.backends.cuda import fakecupy
fakecupy.install()
import numpy as np
import ember
from ember import jit
import ember.nn.functional as F
from ember.core.jit import _fuse

def f(x, y, n):
    a = ember.tanh(x * 1.01 + 0.5)
    b = ember.where(a > y, a, F.gelu(y))
    return F.relu(b) + x, a, (x > 0).int() + n, ember.sigmoid(-x * 1000.0)

rng = np.random.default_rng(0)
x_np = rng.standard_normal((5, 6)).astype(np.float32)
x_np[0, :3] = [np.nan, -np.inf, np.inf]
y_np = rng.standard_normal((5, 6)).astype(np.float32)
n_np = rng.integers(-5, 5, (5, 6)).astype(np.int32)
out = {}
for dev in ("cuda", "cpu"):
    args = [ember.tensor(v, device=dev) for v in (x_np, y_np, n_np)]
    t = jit.trace(f, tuple(args), check_trace=False)
    g = t._current().run_graph
    out[dev + "_fused"] = 0 if g is None else sum(n.target == _fuse.TARGET for n in g.nodes)
    with ember.no_grad():
        out[dev] = [r.cpu().numpy().tolist() for r in t(*args)]
        out[dev + "_dtypes"] = [str(r.dtype) for r in t(*args)]
print(json.dumps(out))
"""


def test_cuda_fused_step_on_fakecupy():
    p = subprocess.run([sys.executable, "-c", _CUDA_CODE], capture_output=True, text=True,
                       env=dict(os.environ, EMBER_FALLBACK="error"), timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1], parse_constant=float)
    assert r["cuda_fused"] >= 1 and r["cpu_fused"] == 0
    assert r["cuda_dtypes"] == r["cpu_dtypes"]
    for got, want in zip(r["cuda"], r["cpu"]):
        _same(np.array(got, dtype=float), np.array(want, dtype=float))


# ---- the CUDA C++ of the fused kernels, compiled and run on the host ---------------------------

def _cxx_literal(v, dt):
    if dt == "bool":
        return "true" if v else "false"
    if np.dtype(dt).kind in "iu":
        return f"({CTYPE_CUDA()[dt]})({int(v)}LL)"
    v = float(v)
    if np.isnan(v):
        return "NAN"
    if np.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return f"({CTYPE_CUDA()[dt]}){v.hex()}"


def CTYPE_CUDA():
    from ember.backends.cuda.fusion import CTYPE
    return CTYPE


@needs_opencl
@pytest.mark.skipif(shutil.which("g++") is None, reason="no host C++ compiler (g++) here")
@pytest.mark.parametrize("seed", range(8))
def test_cuda_kernel_source_compiles_and_computes_as_opencl(tmp_path, seed):
    """The CUDA kernel body, compiled as host C++ (g++) with <cmath>: the same values as the
    OpenCL kernel of the same program, up to the math libraries' last bits."""
    from ember.backends.cuda.fusion import CTYPE, operation
    expr = _random_expression(seed)
    x_np, y_np = _special_inputs(seed)
    x, y = ember.tensor(x_np, device="opencl"), ember.tensor(y_np, device="opencl")
    fused = _trace(lambda a, b: expr(ember, a, b), x, y)
    nodes = _fused_nodes(fused, x, y)
    assert nodes
    group = nodes[0].args[0]
    program = group.program
    sources = {0: x_np, 1: y_np}
    if any(v.i not in sources for v in nodes[0].args[1:]):
        pytest.skip("the first fused step reads a value computed before it")
    inputs = [sources[v.i] for v in nodes[0].args[1:]]
    arrays = [a.reshape(-1) for a in inputs]
    with ember.no_grad():
        want = _np(group.fallback(*[ember.tensor(a, device="opencl") for a in inputs])[0])
        want = want.reshape(-1)
    lines = ["#include <cmath>", "#include <cstdio>", "using namespace std;", "int main() {"]
    for k, (a, dt) in enumerate(zip(arrays, program.inputs)):
        lines.append(f"static const {CTYPE[dt]} IN{k}[] = {{"
                     + ", ".join(_cxx_literal(v, dt) for v in a) + "};")
    lines.append(f"for (int i = 0; i < {arrays[0].size}; ++i) {{")
    for k, dt in enumerate(program.inputs):
        lines.append(f"const {CTYPE[dt]} in{k} = IN{k}[i];")
    for k, (dt, v) in enumerate(program.scalars):
        lines.append(f"const {CTYPE[dt]} s{k} = {_cxx_literal(v, dt)};")
    for j in program.outputs:
        lines.append(f"{CTYPE[program.steps[j][1]]} out{j};")
    lines.append("{\n" + operation(program) + "\n}")
    j = program.outputs[0]
    lines.append(f'printf("%a\\n", (double)out{j});' + "}\nreturn 0; }")
    src = tmp_path / "k.cpp"
    src.write_text("\n".join(lines))
    exe = tmp_path / "k"
    c = subprocess.run(["g++", "-O1", "-ffp-contract=off", "-o", str(exe), str(src)],
                       capture_output=True, text=True)
    assert c.returncode == 0, c.stderr + "\n" + src.read_text()
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    got = np.array([float.fromhex(v) if "nan" not in v else np.nan for v in out], np.float64)
    _same(got.astype(want.dtype), want, rtol=1e-4, atol=1e-5)


@needs_opencl
def test_opencl_cpu_device_runs_math_heavy_large_programs_unfused(monkeypatch):
    """On a CPU OpenCL device (PoCL) a kernel calling several math functions is slower than a
    kernel per function for large arrays: such programs are declined above CPU_MATH_LIMIT."""
    from ember.backends.opencl import fusion
    from ember.backends.opencl.runtime import device as cl_device
    dev = ember.device("opencl").backend
    if not fusion._is_cpu(cl_device(ember.device("opencl").index or 0)):
        pytest.skip("the rule is for CPU OpenCL devices; this one is a GPU")
    f = _trace(lambda x: chain(ember, x), ember.randn(4, 4, device="opencl"))
    (node,) = _fused_nodes(f, ember.randn(4, 4, device="opencl"))
    program = node.args[0].program
    kernel = dev.kernels[_fuse.KERNEL]
    side = int(fusion.CPU_MATH_LIMIT ** 0.5)
    small = ember.randn(side, side, device="opencl")
    large = ember.randn(side + 8, side + 8, device="opencl")
    assert kernel(program, small._data) is not None
    assert kernel(program, large._data) is None
    counter = _Counter(monkeypatch, "opencl")
    with ember.no_grad():
        _same(_np(f(large)), _np(chain(ember, large)))
    assert counter.calls == 1
    g = _trace(lambda x: ember.sqrt(ember.exp(x * 0.5) + 1.0), large)  # one math call: fused
    assert kernel(_fused_nodes(g, large)[0].args[0].program, large._data) is not None
