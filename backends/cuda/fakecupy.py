"""A NumPy stand-in for the parts of CuPy the cuda backend touches, for machines without a GPU.

``install()`` puts modules named ``cupy``, ``cupyx`` and ``cupy_backends.cuda.libs.curand``
into ``sys.modules``; the cuda backend then loads on the host and its kernel table (the cpu
table built on "cupy", plus the cuda overrides) can be run through the conformance suite::

    python -c "from ember.backends.cuda import fakecupy; fakecupy.install(); \\
               from ember.plugins.conformance.__main__ import main; main(['--device', 'cuda'])"

What it cannot check: the CUDA C of the fused kernels (each ``ElementwiseKernel`` is replaced by
a NumPy function of the same name, below), CuPy's own deviations from NumPy that the backend does
not override, asynchrony, and memory accounting (the pool reports 0 bytes). Install it before
the cuda backend loads, in a process of its own: it replaces any real cupy.
"""
from __future__ import annotations

import math
import os
import sys
import time
import types

import numpy as np

_F32 = np.dtype(np.float32)


def _wide(x):
    return x.astype(np.float64) if x.dtype == np.float64 else x.astype(np.float32)


def _sigmoid(x):
    w = _wide(x)
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-w))).astype(x.dtype)


_erf_vec = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    return np.asarray(_erf_vec(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


def _relu(x):
    return np.where((x > 0) | (x != x), x, np.zeros((), x.dtype))


def _scatter(ufunc):
    # (p, v, acc): acc[p] = ufunc(acc[p], v), one element after another, as the CUDA loop
    def run(p, v, acc):
        ufunc.at(acc, p, v)
        return acc
    return run


def _threshold_backward(g, o):
    return np.where(o <= 0, np.zeros((), g.dtype), g)


def _sgd_momentum(g, lr, m, damp, nesterov, p, buf):
    w = _wide(p).dtype
    b = (buf.astype(w) * m).astype(buf.dtype)
    b = (b.astype(w) + g.astype(w) * (1 - damp)).astype(buf.dtype)
    buf[...] = b
    s = (g.astype(w) + b.astype(w) * m).astype(p.dtype) if nesterov else b
    p[...] = (p.astype(w) - s.astype(w) * lr).astype(p.dtype)


def _blocks(x, h, w, oh, ow, kh, kw):
    # (planes, oh, ow, kh * kw) view of x's flat data, in the kernels' scan order
    planes = x.size // (h * w)
    v = x.reshape(planes, h, w)[:, :oh * kh, :ow * kw].reshape(planes, oh, kh, ow, kw)
    return v.transpose(0, 1, 3, 2, 4).reshape(planes, oh, ow, kh * kw)


def _first_max(blocks):
    nan = np.isnan(blocks) if blocks.dtype.kind == "f" else np.zeros(blocks.shape, bool)
    return np.where(nan.any(-1), nan.argmax(-1), blocks.argmax(-1))


def _pool(x, h, w, oh, ow, kh, kw, y):
    b = _blocks(x, h, w, oh, ow, kh, kw)
    y[...] = np.take_along_axis(b, _first_max(b)[..., None], -1).reshape(y.shape)
    return y


def _pool_grad(g, o, x, h, w, oh, ow, kh, kw, gx):
    b = _blocks(x, h, w, oh, ow, kh, kw)
    k = _first_max(b)
    planes = b.shape[0]
    pl, r, c = np.meshgrid(np.arange(planes), np.arange(oh), np.arange(ow), indexing="ij")
    flat = (pl * h + r * kh + k // kw) * w + c * kw + k % kw
    gx.reshape(-1)[flat.reshape(-1)] = np.asarray(g).reshape(-1)
    return gx


def _fold(g, h, w, oh, ow, kh, kw, sh, sw, dh, dw, out):
    acc = np.zeros(out.shape, _wide(out).dtype)
    for a in range(kh):
        for b in range(kw):
            acc[:, :, a * dh:a * dh + sh * (oh - 1) + 1:sh,
                b * dw:b * dw + sw * (ow - 1) + 1:sw] += g[:, :, :, :, a, b]
    out[...] = acc
    return out


def _cross_entropy(x, t, ncls, ignore, wt, has_w, logp, loss, wrow, safe, bad):
    xw = x.astype(loss.dtype)
    m = xw.max(1, keepdims=True)
    lp = xw - m - np.log(np.exp(xw - m).sum(1, keepdims=True))
    logp[...] = lp
    valid = t != ignore
    wrong = valid & ((t < 0) | (t >= ncls))
    if wrong.any():
        bad[:] = 1, t[wrong][0]
    k = np.where(valid & ~wrong, t, 0)
    wi = np.where(valid, wt[k] if has_w else 1, 0).astype(loss.dtype)
    wrow[...] = wi
    safe[...] = k
    loss[...] = -lp.astype(x.dtype)[np.arange(len(k)), k].astype(loss.dtype) * wi


def _cross_entropy_grad(logp, t, coef, g, ncls, per_row, r):
    w = _wide(logp).dtype
    p = np.exp(logp.astype(w))
    p[np.arange(len(t)), t] -= 1
    cg = (coef.astype(w) * (g.astype(w) if per_row else g.astype(w)[0])).astype(logp.dtype)
    r[...] = (p * cg.astype(w)[:, None]).astype(r.dtype)
    return r


#: NumPy versions of the backend's fused kernels, by kernel name.
FUSED = {"ember_threshold_backward": _threshold_backward, "ember_sgd_momentum": _sgd_momentum,
         "ember_max_pool2d_blocks": _pool, "ember_max_pool2d_blocks_backward": _pool_grad,
         "ember_fold_windows": _fold, "ember_cross_entropy_forward": _cross_entropy,
         "ember_cross_entropy_backward": _cross_entropy_grad,
         "ember_sigmoid": _sigmoid, "ember_erf": _erf, "ember_relu": _relu,
         "ember_scatter_prod": _scatter(np.multiply), "ember_scatter_amax": _scatter(np.maximum),
         "ember_scatter_amin": _scatter(np.minimum)}


class _FusedProgram:
    """A fused kernel of ember.jit (backends/cuda/fusion.py), run from the program structure
    that its preamble carries, one primitive at a time with the cpu backend's kernels (the
    NumPy semantics the CuPy ufuncs follow); the kernel's CUDA C is not checked here."""

    def __init__(self, preamble):
        import json
        tag = "// ember-fused-program: "
        line = next(x for x in preamble.splitlines() if x.startswith(tag))
        self.doc = json.loads(line[len(tag):])

    def __call__(self, *args):
        from ember.core.dtypes import BY_NAME
        from ember.core.device import device
        kernels = device("cpu").backend.kernels
        doc = self.doc
        n_in = len(doc["inputs"])
        arrays, scalars = args[:n_in], args[n_in:]
        shape = np.broadcast_shapes(*[np.shape(a) for a in arrays])
        values = []

        def get(o):
            kind, k = o
            return arrays[k] if kind == "in" else scalars[k].item() if kind == "sc" else \
                values[k]
        for op, dt, ops in doc["steps"]:
            xs = [get(o) for o in ops]
            if op == "cast":
                r = kernels["cast"](np.asarray(xs[0]), BY_NAME[dt])
            else:
                r = kernels[op](*xs)
            values.append(np.asarray(r).astype(dt, copy=False))
        outs = tuple(np.array(np.broadcast_to(values[j], shape)) for j in doc["outputs"])
        return outs[0] if len(outs) == 1 else outs


class ElementwiseKernel:
    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", **kw):
        if name.startswith("ember_fused_"):
            self.name, self._f = name, _FusedProgram(preamble)
            return
        if name not in FUSED:
            raise NotImplementedError(f"fakecupy has no NumPy version of kernel {name!r}; add one "
                                      f"to ember.backends.cuda.fakecupy.FUSED")
        self.name = name
        self._f = FUSED[name]

    def __call__(self, *args):
        r = self._f(*args)
        if r is None or any(r is a for a in args):  # (written into an output argument)
            return r
        return np.array(r, copy=True)


class _Device:
    def __init__(self, index=0):
        self.id = int(index or 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


class _Runtime(types.ModuleType):
    @staticmethod
    def getDeviceCount():
        why = os.environ.get("EMBER_FAKECUPY_NO_DEVICE")
        if why:
            raise RuntimeError(why)
        return 1

    @staticmethod
    def getDevice():
        return 0

    @staticmethod
    def deviceSynchronize():
        pass

    @staticmethod
    def runtimeGetVersion():
        return 0

    @staticmethod
    def getDeviceProperties(i):
        return {"name": b"fakecupy (NumPy on the host)", "major": 0, "minor": 0,
                "totalGlobalMem": 2 ** 30, "multiProcessorCount": 1}

    @staticmethod
    def memGetInfo():
        return 2 ** 29, 2 ** 30


class Event:
    """cupy.cuda.Event on the host clock: work runs when queued, so a record is a timestamp."""

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing = disable_timing
        self.time = None

    def record(self, stream=None):
        self.time = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return True


def get_elapsed_time(start, end):
    if start.disable_timing or end.disable_timing:
        raise RuntimeError("cudaErrorInvalidResourceHandle: events created without timing")
    return (end.time - start.time) * 1e3


class Stream:
    """cupy.cuda.Stream: one in-order host queue, so every stream is the same queue."""

    _current = []

    def __init__(self, null=False, non_blocking=False, ptr=None, priority=None):
        self.ptr = 0 if null else id(self)

    def synchronize(self):
        pass

    @property
    def done(self):
        return True

    def wait_event(self, event):
        pass

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def __enter__(self):
        Stream._current.append(self)
        return self

    def __exit__(self, *exc):
        Stream._current.pop()
        return False


Stream.null = Stream(null=True)


def get_current_stream():
    return Stream._current[-1] if Stream._current else Stream.null


class _Pool:
    def malloc(self, size):
        raise NotImplementedError("fakecupy allocates through NumPy")

    def used_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class RandomState:
    """cupy.random.RandomState's interface on NumPy's PCG64 (another stream than cuRAND's)."""

    def __init__(self, seed=None, method=None):
        self.seed(seed)

    def seed(self, seed=None):
        self._g = np.random.Generator(np.random.PCG64(seed))

    def random_sample(self, size=None, dtype=float):
        return np.asarray(self._g.random(size, dtype=dtype))

    def standard_normal(self, size=None, dtype=float):
        return np.asarray(self._g.standard_normal(size, dtype=dtype))

    def randint(self, low, high=None, size=None, dtype=int):
        return np.asarray(self._g.integers(low, high, size=size, dtype=dtype))


_ATOMIC = {np.dtype(n) for n in ("int32", "int64", "uint32", "uint64", "float16", "float32",
                                 "float64")}


def scatter_add(a, slices, value):
    # NOTE: like CuPy's, only for dtypes CUDA has an atomicAdd for
    if a.dtype not in _ATOMIC and a.dtype.name != "bfloat16":
        raise TypeError(f"scatter_add does not support dtype {a.dtype}")
    np.add.at(a, slices, value)


class _Cupy(types.ModuleType):
    """Everything not defined here is NumPy's."""

    def __getattr__(self, name):
        return getattr(np, name)


def build() -> dict[str, types.ModuleType]:
    cp = _Cupy("cupy")
    cp.__version__ = "0+fakecupy"
    cp.ndarray = np.ndarray
    cp.asarray = lambda a, dtype=None: np.array(a, dtype=dtype, copy=True)
    cp.asnumpy = lambda a: np.asarray(a)
    cp.ElementwiseKernel = ElementwiseKernel
    cp.get_default_memory_pool = lambda _p=_Pool(): _p
    cp.get_default_pinned_memory_pool = lambda _p=_Pool(): _p
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device = _Device
    cuda.runtime = _Runtime("cupy.cuda.runtime")
    cuda.set_allocator = lambda f: None
    cuda.Event, cuda.Stream = Event, Stream
    cuda.get_elapsed_time, cuda.get_current_stream = get_elapsed_time, get_current_stream
    cp.cuda = cuda
    rnd = types.ModuleType("cupy.random")
    rnd.RandomState = RandomState
    cp.random = rnd
    lib = types.ModuleType("cupy.lib")
    lib.stride_tricks = np.lib.stride_tricks
    cp.lib = lib
    cupyx = types.ModuleType("cupyx")
    cupyx.scatter_add = scatter_add
    curand = types.ModuleType("cupy_backends.cuda.libs.curand")
    curand.CURAND_RNG_PSEUDO_PHILOX4_32_10 = 400
    curand.CURAND_RNG_PSEUDO_DEFAULT = 100
    mods = {"cupy": cp, "cupy.cuda": cuda, "cupy.cuda.runtime": cuda.runtime,
            "cupy.random": rnd, "cupy.lib": lib, "cupyx": cupyx,
            "cupy_backends": types.ModuleType("cupy_backends"),
            "cupy_backends.cuda": types.ModuleType("cupy_backends.cuda"),
            "cupy_backends.cuda.libs": types.ModuleType("cupy_backends.cuda.libs"),
            "cupy_backends.cuda.libs.curand": curand}
    mods["cupy_backends"].cuda = mods["cupy_backends.cuda"]
    mods["cupy_backends.cuda"].libs = mods["cupy_backends.cuda.libs"]
    mods["cupy_backends.cuda.libs"].curand = curand
    return mods


def install() -> None:
    """Make ``import cupy`` give this stand-in, in this process (before the cuda backend loads)."""
    if "ember.backends.cuda.backend" in sys.modules:
        raise RuntimeError("install fakecupy before the cuda backend loads")
    sys.modules.update(build())
