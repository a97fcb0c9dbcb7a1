"""autocast's float32 lists: the ops torch runs in float32 under autocast, per device type.

On cpu the list is checked against torch's cpu autocast directly (dtype and values). torch's
cuda list applies to cuda and every other accelerator; it runs here on the NumPy stand-in for
CuPy (fakecupy) in a subprocess, each op against the same op computed from the float32-widened
input outside autocast, as torch documents ("ops that can autocast to float32").
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import ember
from ember.core import amp

RNG = np.random.default_rng(11)


def _cpu_cases(m, F, b):
    """name -> f() over bfloat16 operands, the same code for torch (m) and ember."""
    rng = np.random.default_rng(5)

    def t(*shape, scale=1.0, shift=0.0):
        return m.tensor(rng.standard_normal(shape) * scale + shift, dtype=m.float32).to(b)
    x3, x4, x5 = t(1, 2, 6), t(1, 2, 4, 4), t(1, 2, 4, 4, 4)
    a = m.tensor(rng.standard_normal((3, 3)) + 3 * np.eye(3), dtype=m.float32)
    spd = (a @ a.T + m.eye(3)).to(b)
    a = a.to(b)
    return {
        "max_pool3d": lambda: F.max_pool3d(x5, 2),
        "avg_pool3d": lambda: F.avg_pool3d(x5, 2),
        "adaptive_avg_pool3d": lambda: F.adaptive_avg_pool3d(x5, 2),
        "adaptive_max_pool3d": lambda: F.adaptive_max_pool3d(x5, 2),
        "max_unpool2d": lambda: F.max_unpool2d(*F.max_pool2d(x4, 2, return_indices=True), 2),
        "max_unpool3d": lambda: F.max_unpool3d(*F.max_pool3d(x5, 2, return_indices=True), 2),
        "reflect_pad1d": lambda: F.pad(x3, (1, 1), mode="reflect"),
        "reflect_pad2d": lambda: F.pad(x4, (1, 1, 1, 1), mode="reflect"),
        "reflect_pad3d": lambda: F.pad(x5, (1,) * 6, mode="reflect"),  # (not on torch's list)
        "replicate_pad1d": lambda: F.pad(x3, (1, 1), mode="replicate"),
        "replicate_pad3d": lambda: F.pad(x5, (1,) * 6, mode="replicate"),
        "circular_pad2d": lambda: F.pad(x4, (1,) * 4, mode="circular"),
        "grid_sample": lambda: F.grid_sample(x4, x4[:, :, :2].permute(0, 2, 3, 1) * 0.5,
                                             align_corners=False),
        "prod": lambda: x4.prod(),
        "prod_dim": lambda: x4.prod(1),
        "quantile": lambda: m.quantile(x3.flatten().float().to(b), 0.5),
        "trace": lambda: m.trace(a),
        "cdist": lambda: m.cdist(x4[0], x4[0]),
        "inverse": lambda: m.inverse(a),
        "linalg_inv": lambda: m.linalg.inv(a),
        "linalg_inv_ex": lambda: m.linalg.inv_ex(a)[0],
        "pinverse": lambda: m.pinverse(a),
        "linalg_cholesky": lambda: m.linalg.cholesky(spd),
        "linalg_qr": lambda: m.linalg.qr(a)[1],
        "linalg_svdvals": lambda: m.linalg.svdvals(a),
        "linalg_eigvalsh": lambda: m.linalg.eigvalsh(spd),
        "linalg_solve": lambda: m.linalg.solve(a, a[:, :1]),
        "linalg_lstsq": lambda: m.linalg.lstsq(a.float(), a.float()).solution,
        "linalg_cond": lambda: m.linalg.cond(a),
        "linalg_matrix_rank": lambda: m.linalg.matrix_rank(a),
        "linalg_tensorsolve": lambda: m.linalg.tensorsolve(a, a[0]),
        "cholesky_solve": lambda: m.cholesky_solve(a, m.linalg.cholesky(spd)),
        "binary_cross_entropy": lambda: F.binary_cross_entropy(x4.sigmoid(), x4.sigmoid() * 0.5),
        "nll_loss": lambda: F.nll_loss(x4[:, :, 0, 0], m.tensor([0])),
        # the cuda list's pointwise and reductions are not on cpu's: they keep bfloat16
        "exp": lambda: x4.exp(),
        "sum": lambda: x4.sum(),
        "softmax": lambda: x4.softmax(1),
        "layer_norm": lambda: F.layer_norm(x4, (4,)),
        "interpolate": lambda: F.interpolate(x4, scale_factor=2),
        "pow": lambda: x4 ** 2,
        "logsumexp": lambda: x4.logsumexp(1),
    }


CPU_CASES = sorted(_cpu_cases(torch, torch.nn.functional, torch.bfloat16))


@pytest.mark.parametrize("name", CPU_CASES)
def test_cpu_list_matches_torch(name):
    got = []
    for m, F in ((torch, torch.nn.functional), (ember, ember.nn.functional)):
        f = _cpu_cases(m, F, m.bfloat16)[name]
        with m.autocast("cpu", dtype=m.bfloat16):
            r = f()
        got.append((str(r.dtype).split(".")[-1], r.detach().to(m.float64).numpy()))
    (tdt, tv), (edt, ev) = got
    assert edt == tdt
    # (float32 results agree to float32 rounding; bfloat16 ones to a bfloat16 ulp)
    tol = 1e-4 if tdt in ("float32", "int64") else 2e-2
    np.testing.assert_allclose(ev, tv, rtol=tol, atol=tol)


def test_float32_ops_outside_autocast_keep_their_dtype():
    x = ember.randn(2, 4, 4, 4, 4, dtype=ember.bfloat16)
    assert ember.nn.functional.max_pool3d(x, 2).dtype is ember.bfloat16
    assert (2 / x).dtype is ember.bfloat16 and x.exp().dtype is ember.bfloat16


def test_lists_are_keyed_by_device_type():
    assert "exp" in amp.float32_ops("cuda") and "exp" not in amp.float32_ops("cpu")
    assert amp.float32_ops("opencl") is amp.float32_ops("cuda")  # torch's accelerator list
    assert "max_pool3d" in amp.float32_ops("cpu") and "mse_loss" in amp.float32_ops("cuda")


_CUDA_CHECK = r"""
import json
import numpy as np
from ember.backends.cuda import fakecupy; fakecupy.install()
import ember
import ember.nn.functional as F

rng = np.random.default_rng(0)
x = ember.tensor(rng.uniform(0.2, 0.8, (2, 4, 3, 3)), dtype=ember.float16, device="cuda")
y = ember.tensor(rng.uniform(0.2, 0.8, (2, 4, 3, 3)), dtype=ember.float16, device="cuda")
x2, y2 = x[0, 0], y[0, 0]
target = ember.tensor([1, 0], device="cuda")
LISTED = {
    "exp": lambda x: x.exp(), "log": lambda x: x.log(), "log10": lambda x: x.log10(),
    "log2": lambda x: x.log2(), "log1p": lambda x: x.log1p(), "expm1": lambda x: x.expm1(),
    "reciprocal": lambda x: x.reciprocal(), "rsqrt": lambda x: x.rsqrt(),
    "sinh": lambda x: x.sinh(), "cosh": lambda x: x.cosh(), "tan": lambda x: x.tan(),
    "acos": lambda x: x.acos(), "asin": lambda x: x.asin(), "erfinv": lambda x: x.erfinv(),
    "pow": lambda x: x ** 2, "pow_tensor": lambda x: ember.pow(x, x), "rdiv": lambda x: 2 / x,
    "softplus": lambda x: F.softplus(x), "layer_norm": lambda x: F.layer_norm(x, (3,)),
    "group_norm": lambda x: F.group_norm(x, 2), "norm": lambda x: x.norm(),
    "vector_norm": lambda x: ember.linalg.vector_norm(x),
    "cosine_similarity": lambda x: F.cosine_similarity(x, x * 0.5),
    "normalize": lambda x: F.normalize(x), "dist": lambda x: ember.dist(x, x * 0.5),
    "pdist": lambda x: F.pdist(x[0, 0]), "cdist": lambda x: ember.cdist(x[0], x[1]),
    "renorm": lambda x: x.renorm(2, 0, 1.0), "logsumexp": lambda x: x.logsumexp(1),
    "interpolate": lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
    "softmax": lambda x: x.softmax(1), "log_softmax": lambda x: F.log_softmax(x, 1),
    "softmin": lambda x: F.softmin(x, 1), "cumsum": lambda x: x.cumsum(1),
    "cumprod": lambda x: x.cumprod(1), "sum": lambda x: x.sum(), "sum_dim": lambda x: x.sum(1),
    "prod": lambda x: x.prod(1), "mse_loss": lambda x: F.mse_loss(x, x * 0.5),
    "cross_entropy": lambda x: F.cross_entropy(x[:, :, 0, 0], target),
    # the function spellings, the torch-namespace aliases and the modules
    "fn_exp": lambda x: ember.exp(x), "fn_sum": lambda x: ember.sum(x, 1),
    "fn_softmax": lambda x: ember.softmax(x, 1), "F_softmax": lambda x: F.softmax(x, 1),
    "fn_pow": lambda x: ember.pow(x, 3), "fn_layer_norm": lambda x: ember.layer_norm(x, (3,)),
    "LayerNorm": lambda x: ember.nn.LayerNorm(3, device="cuda")(x),
    "Softmax": lambda x: ember.nn.Softmax(1)(x), "MSELoss": lambda x: ember.nn.MSELoss()(x, y),
    "Upsample": lambda x: ember.nn.Upsample(scale_factor=2)(x),
    "GroupNorm": lambda x: ember.nn.GroupNorm(2, 4, device="cuda")(x),
    "Softplus": lambda x: ember.nn.Softplus()(x),
}
UNLISTED = {
    "tanh": lambda x: x.tanh(), "relu": lambda x: x.relu(), "add": lambda x: x + x,
    "mul": lambda x: x * 2, "sigmoid": lambda x: x.sigmoid(), "div": lambda x: x / 2,
    "sum_dtype": lambda x: x.sum(dtype=ember.float16),
    "softmax_dtype": lambda x: x.softmax(1, dtype=ember.float16),
    "area": lambda x: F.interpolate(x, size=(2, 2), mode="area"),
    # composites built on listed ops must not widen (torch's are single kernels)
    "mean": lambda x: x.mean(), "mean_dim": lambda x: x.mean(1), "var": lambda x: x.var(1),
    "std": lambda x: x.std(), "gelu": lambda x: F.gelu(x), "gelu_tanh": lambda x: F.gelu(
        x, approximate="tanh"), "silu": lambda x: F.silu(x), "elu": lambda x: F.elu(x),
    "selu": lambda x: F.selu(x), "celu": lambda x: F.celu(x), "mish": lambda x: F.mish(x),
    "logsigmoid": lambda x: F.logsigmoid(x), "softsign": lambda x: F.softsign(x),
    "hardswish": lambda x: F.hardswish(x), "avg_pool2d": lambda x: F.avg_pool2d(x, 2),
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, 1),
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
    "instance_norm": lambda x: F.instance_norm(x), "dropout_eval": lambda x: F.dropout(
        x, 0.5, training=False), "sqrt": lambda x: x.sqrt(), "erf": lambda x: x.erf(),
    "sin": lambda x: x.sin(), "atan": lambda x: x.atan(), "clamp": lambda x: x.clamp(0.3),
    "amax": lambda x: x.amax(1), "cummax": lambda x: x.cummax(1)[0],
    "sdpa": lambda x: F.scaled_dot_product_attention(x[0], x[0], x[0]),
    "matmul": lambda x: x[0, 0] @ x[0, 1], "linear": lambda x: F.linear(x, x[0, 0]),
}
out = {"listed": {}, "unlisted": {}}
for name, f in LISTED.items():
    want = f(x.float())
    with ember.autocast("cuda"):
        got = f(x)
    out["listed"][name] = [str(got.dtype), float((got.float() - want).abs().max())]
for name, f in UNLISTED.items():
    want = f(x)
    with ember.autocast("cuda"):
        got = f(x)
    out["unlisted"][name] = [str(got.dtype), str(want.dtype),
                             float((got.float() - want.float()).abs().max())]
# gradients reach float16 leaves in float16 through the widening cast
xl = x.clone().requires_grad_()
with ember.autocast("cuda"):
    loss = xl.exp().sum()
loss.backward()
out["grad"] = [str(loss.dtype), str(xl.grad.dtype),
               float((xl.grad.float() - x.float().exp()).abs().max())]
# cpu autocast leaves cuda tensors alone, and the cpu list leaves exp alone
with ember.autocast("cpu"):
    out["cpu_region"] = str(x.exp().dtype)
print(json.dumps(out))
"""


def test_cuda_list_on_the_cupy_stand_in():
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(_CUDA_CHECK)],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, EMBER_FALLBACK="error"))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    wrong = {k: v for k, v in r["listed"].items()
             if v[0] != "ember.float32" or not v[1] <= 1e-5}
    assert not wrong, f"float32-listed ops not computed in float32 under cuda autocast: {wrong}"
    kept = {k: v for k, v in r["unlisted"].items() if v[0] != v[1] or v[2] != 0}
    assert not kept, f"unlisted ops changed under cuda autocast: {kept}"
    dtype, grad_dtype, err = r["grad"]
    assert dtype == "ember.float32" and grad_dtype == "ember.float16" and err < 1e-2
    assert r["cpu_region"] == "ember.float16"


def test_profiling_does_not_change_what_autocast_widens():
    # the profiler's timing wrappers sit between an op and its caller: they are looked through
    x = ember.randn(1, 2, 4, 4, 4, dtype=ember.bfloat16)
    with ember.autocast("cpu"):
        plain = (ember.nn.functional.max_pool3d(x, 2).dtype, x.exp().dtype)
        with ember.profiler.profile(activities=[ember.profiler.ProfilerActivity.CPU]):
            profiled = (ember.nn.functional.max_pool3d(x, 2).dtype, x.exp().dtype)
    assert plain == profiled == (ember.float32, ember.bfloat16)
