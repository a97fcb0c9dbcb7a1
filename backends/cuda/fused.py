"""The training hot path on the GPU, fused: one launch, and no host synchronisation, per kernel.

On the GPU a small training step is bound by the host: each CuPy call costs 6-45 us of Python
and driver work (measured on an H100 machine: ``a + b`` 8.9 us, a reduction 10.6 us, ``matmul``
about 44 us), while the device finishes each of these small kernels in a few microseconds. The
shared cpu kernels compose several CuPy calls per primitive and read values back (a relu
gradient's finiteness, max-pool's NaN checks, cross-entropy's target range), and every read
waits for the whole queue. The kernels here do the same math in one ``ElementwiseKernel`` each
(named ``ember_<op>``), and products go straight to cuBLAS.

Each ``fused_kernels(generic)`` entry takes the generic kernel of the same name and falls back
to it for what it does not cover (other dtypes, layouts or shapes).
"""
from __future__ import annotations

import numpy as np
import cupy

from ..cpu.kernels import reduce_losses

_F64 = np.dtype(np.float64)
_FLOATS = frozenset(np.dtype(d) for d in ("float16", "float32", "float64"))

# Half precision computes in float, double in double (as torch's opmath).
PREAMBLE = r"""
template <typename T> struct ember_wide { typedef float type; };
template <> struct ember_wide<double> { typedef double type; };
"""


def _wide(dt):
    return _F64 if dt == _F64 else np.dtype(np.float32)


def _kernels():
    ek = cupy.ElementwiseKernel
    return {
        # torch's relu gradient: 0 where the output is <= 0 (whatever grad holds there), else
        # grad (also where the output is NaN)
        "threshold_backward": ek("T g, T o", "T r", "r = o <= (T)0 ? (T)0 : g",
                                 "ember_threshold_backward"),
        # torch's SGD with momentum, for one parameter, in place: buf = m * buf + (1 - d) * g;
        # p -= lr * (nesterov ? g + m * buf : buf); each step rounds to T, as separate ops do
        "sgd": ek("T g, float64 lr, float64 m, float64 damp, int32 nesterov", "T p, T buf",
                  "typedef typename ember_wide<T>::type W;"
                  "T b = (T)((W)buf * (W)m);"
                  "b = (T)((W)b + (damp == 0.0 ? (W)g : (W)g * (W)(1.0 - damp)));"
                  "buf = b;"
                  "const T s = nesterov ? (T)((W)g + (W)b * (W)m) : b;"
                  "p = (T)((W)p + (W)s * (W)(-lr));",
                  "ember_sgd_momentum", preamble=PREAMBLE),
        # one thread per output element: the max of its kh x kw block (NaN wins, as torch's)
        "pool": ek("raw T x, int64 h, int64 w, int64 oh, int64 ow, int64 kh, int64 kw", "T y",
                   "const long long c = i % ow, t = i / ow, r = t % oh, plane = t / oh;"
                   "const long long base = (plane * h + r * kh) * w + c * kw;"
                   "T best = x[base];"
                   "for (long long a = 0; a < kh; a++)"
                   "  for (long long b = 0; b < kw; b++) {"
                   "    const T v = x[base + a * w + b];"
                   "    if (!(best != best) && (v > best || v != v)) best = v;"
                   "  }"
                   "y = best;",
                   "ember_max_pool2d_blocks"),
        # the gradient goes to the first maximum of each block (the first NaN where the max is
        # NaN), as torch's; gx starts zeroed
        "pool_grad": ek("G g, T o, raw T x, int64 h, int64 w, int64 oh, int64 ow, int64 kh, "
                        "int64 kw", "raw G gx",
                        "const long long c = i % ow, t = i / ow, r = t % oh, plane = t / oh;"
                        "const long long base = (plane * h + r * kh) * w + c * kw;"
                        "bool done = false;"
                        "for (long long a = 0; a < kh && !done; a++)"
                        "  for (long long b = 0; b < kw && !done; b++) {"
                        "    const long long p = base + a * w + b;"
                        "    const T v = x[p];"
                        "    if (v == o || (v != v && o != o)) { gx[p] = g; done = true; }"
                        "  }",
                        "ember_max_pool2d_blocks_backward"),
        # col2im as a gather: each input pixel sums the window entries that cover it, in the
        # (i, j) order of the generic kernel; g is (N, C, OH, OW, KH, KW), contiguous
        "fold": ek("raw T g, int64 h, int64 w, int64 oh, int64 ow, int64 kh, int64 kw, "
                   "int64 sh, int64 sw, int64 dh, int64 dw", "T out",
                   "typedef typename ember_wide<T>::type W;"
                   "const long long x = i % w, t = i / w, y = t % h, plane = t / h;"
                   "W acc = 0;"
                   "for (long long a = 0; a < kh; a++) {"
                   "  const long long ry = y - a * dh;"
                   "  if (ry < 0) break;"
                   "  if (ry % sh != 0 || ry / sh >= oh) continue;"
                   "  for (long long b = 0; b < kw; b++) {"
                   "    const long long rx = x - b * dw;"
                   "    if (rx < 0) break;"
                   "    if (rx % sw != 0 || rx / sw >= ow) continue;"
                   "    const long long cell = (plane * oh + ry / sh) * ow + rx / sw;"
                   "    acc += (W)g[(cell * kh + a) * kw + b];"
                   "  }"
                   "}"
                   "out = (T)acc;",
                   "ember_fold_windows", preamble=PREAMBLE),
        # one thread per row of (N, C) logits: log_softmax into logp, the row's loss and weight,
        # and the target with ignored rows set to 0; a target out of range is recorded in bad
        "ce": ek("raw T x, int64 t, int64 ncls, int64 ignore, raw W wt, int32 has_w",
                 "raw T logp, W loss, W wrow, int64 safe, raw int64 bad",
                 "const long long r = i * ncls;"
                 "W m = (W)x[r];"
                 "for (long long j = 1; j < ncls; j++) {"
                 "  const W v = (W)x[r + j];"
                 "  if (!(m != m) && (v > m || v != v)) m = v;"
                 "}"
                 "W s = 0;"
                 "for (long long j = 0; j < ncls; j++) s += exp((W)x[r + j] - m);"
                 "const W lse = log(s);"
                 "for (long long j = 0; j < ncls; j++) logp[r + j] = (T)((W)x[r + j] - m - lse);"
                 "const bool valid = t != ignore;"
                 "if (valid && (t < 0 || t >= ncls)) { bad[0] = 1; bad[1] = t; }"
                 "const long long k = (valid && t >= 0 && t < ncls) ? t : 0;"
                 "const W wi = valid ? (has_w ? wt[k] : (W)1) : (W)0;"
                 "wrow = wi;"
                 "safe = k;"
                 "loss = -(W)(T)((W)x[r + k] - m - lse) * wi;",
                 "ember_cross_entropy_forward"),
        # (softmax - onehot(target)) * coef * grad, one thread per logit
        "ce_grad": ek("raw T logp, raw int64 t, raw T coef, raw T g, int64 ncls, int32 per_row",
                      "T r",
                      "typedef typename ember_wide<T>::type W;"
                      "const long long row = i / ncls;"
                      "W p = exp((W)logp[i]);"
                      "if (i % ncls == t[row]) p -= (W)1;"
                      "r = (T)(p * (W)(T)((W)coef[row] * (W)g[per_row ? row : 0]));",
                      "ember_cross_entropy_backward", preamble=PREAMBLE),
    }


class DeviceErrors:
    """Errors found by kernels, raised at the next host read, as torch's device-side asserts.

    A kernel that validates its input (cross-entropy's target range) writes (1, the bad value)
    into its device's error word instead of making the host wait for the answer; ``check()``,
    called wherever a value reaches the host and by ``synchronize``, reads the words of the
    devices that ran such a kernel since (one small read) and raises the first error found."""

    def __init__(self):
        self.words = {}     # device index -> int64[2] on that device
        self.armed = {}     # device index -> error class and message for a flagged word

    def word(self, device: int, error, message: str):
        w = self.words.get(device)
        if w is None:
            w = self.words[device] = cupy.zeros(2, np.int64)
        self.armed.setdefault(device, (error, message))
        return w

    def check(self):
        while self.armed:
            device, (error, message) = self.armed.popitem()
            w = self.words[device]
            flag, value = cupy.asnumpy(w)
            if flag:
                w.fill(0)
                self.armed.clear()
                raise error(message.format(value))


ERRORS = DeviceErrors()


class _Gemm:
    """C = A @ B for 2-D float32/float64 operands, each C- or F-contiguous, through cuBLAS
    directly (CuPy's matmul spends about 44 us of host time per call around the same call).

    cuBLAS is column-major: a C-contiguous (r, c) array reads as its (c, r) transpose, so the
    row-major product C = A @ B is the column-major C^T = B^T @ A^T."""

    def __init__(self):
        from cupy_backends.cuda.libs import cublas
        self.cublas = cublas
        self.gemm = {np.dtype(np.float32): cublas.sgemm, _F64: cublas.dgemm}
        # alpha and beta live in host memory (cuBLAS's default pointer mode); their addresses
        # are looked up once
        self._scalars = [np.array(v, dt) for dt in self.gemm for v in (0, 1)]
        self.scalars = {(a.dtype, int(a)): a.ctypes.data for a in self._scalars}
        self.handle = cupy.cuda.device.get_cublas_handle
        self.ones = {}

    def covers(self, a, b) -> bool:
        return (a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in self.gemm
                and a.size and b.size and a.shape[1] and
                (a.flags.c_contiguous or a.flags.f_contiguous) and
                (b.flags.c_contiguous or b.flags.f_contiguous))

    def __call__(self, a, b, out=None, beta=0):
        m, k = a.shape
        n = b.shape[1]
        if out is None:
            out = cupy.empty((m, n), a.dtype)
        op_n, op_t = self.cublas.CUBLAS_OP_N, self.cublas.CUBLAS_OP_T
        # B^T: a C-contiguous B is already B^T to cuBLAS (ld n); an F-contiguous one is B (ld k)
        if b.flags.c_contiguous:
            opb, ldb = op_n, max(n, 1)
        else:
            opb, ldb = op_t, max(k, 1)
        if a.flags.c_contiguous:
            opa, lda = op_n, max(k, 1)
        else:
            opa, lda = op_t, max(m, 1)
        dt = a.dtype
        handle = self.handle()
        # NOTE: the handle is CuPy's, shared: queue on the current stream (ember.cuda.stream)
        self.cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
        self.gemm[dt](handle, opb, opa, n, m, k, self.scalars[dt, 1], b.data.ptr, ldb,
                      a.data.ptr, lda, self.scalars[dt, beta], out.data.ptr, max(n, 1))
        return out

    def column_sums(self, g):
        """g.sum(0) of a 2-D g, as a product with a ones row (one cuBLAS call instead of a
        reduction's host work)."""
        key = (g.shape[0], g.dtype, g.data.device_id)
        ones = self.ones.get(key)
        if ones is None:
            ones = self.ones[key] = cupy.ones((1, g.shape[0]), g.dtype)
        return self(ones, g).reshape(g.shape[1])


def fused_kernels(generic: dict) -> dict:
    """Overrides for ``generic`` (the cuda kernel table so far), by primitive name."""
    generic = dict(generic)  # (the table is about to be updated with these overrides)
    f = _kernels()
    try:
        gemm = _Gemm()
    except (ImportError, AttributeError):  # a CuPy without these (fakecupy): CuPy's matmul
        gemm = None
    matmul_generic = generic["matmul"]

    def matmul(a, b):
        if gemm is not None and type(b) is cupy.ndarray and gemm.covers(a, b):
            return gemm(a, b)
        return matmul_generic(a, b)

    def linear_forward(x, w, b):
        if gemm is not None and gemm.covers(x, w):
            out = gemm(x, w.T)
            if b is not None:
                out += b
            return out
        return generic["linear_forward"](x, w, b)

    def linear_backward(g, x, w, need_x, need_w, need_b):
        if gemm is None or not (gemm.covers(g, w) and gemm.covers(g, x)):
            return generic["linear_backward"](g, x, w, need_x, need_w, need_b)
        return (gemm(g, w) if need_x else None, gemm(g.T, x) if need_w else None,
                gemm.column_sums(g) if need_b else None)

    def threshold_backward(g, out):
        if g.dtype != out.dtype or g.dtype.kind == "b":
            return generic["threshold_backward"](g, out)
        return f["threshold_backward"](g, out)

    def sgd_momentum_update_(param, grad, buf, lr, momentum, dampening, nesterov):
        if not (param.dtype == grad.dtype == buf.dtype and param.dtype in _FLOATS):
            return generic["sgd_momentum_update_"](param, grad, buf, lr, momentum, dampening,
                                                   nesterov)
        f["sgd"](grad, float(lr), float(momentum), float(dampening), int(bool(nesterov)),
                 param, buf)

    def max_pool2d_blocks(x, kernel):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = h // kh, w // kw
        out = cupy.empty((n, c, oh, ow), x.dtype)
        if out.size:
            f["pool"](cupy.ascontiguousarray(x), h, w, oh, ow, kh, kw, out)
        return out

    def max_pool2d_blocks_backward(grad, x, out, kernel):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = out.shape[2:]
        gx = cupy.zeros(x.shape, grad.dtype)
        if out.size:
            f["pool_grad"](grad, out, cupy.ascontiguousarray(x), h, w, oh, ow, kh, kw, gx)
        return gx

    def fold_windows(grad, shape, kernel, stride, dilation):
        if len(shape) != 4 or grad.ndim != 6 or grad.dtype not in _FLOATS:
            return generic["fold_windows"](grad, shape, kernel, stride, dilation)
        out = cupy.empty(shape, grad.dtype)
        if out.size:
            oh, ow = grad.shape[2:4]
            f["fold"](cupy.ascontiguousarray(grad), shape[2], shape[3], oh, ow, *kernel,
                      *stride, *dilation, out)
        else:
            out.fill(0)
        return out

    def cross_entropy_forward(x, target, weight, ignore_index, reduction):
        if not (x.ndim == 2 and x.dtype in _FLOATS and target.dtype == np.int64 and
                target.ndim == 1 and x.shape[0] and 0 < x.shape[1] <= 4096 and
                (weight is None or weight.dtype == x.dtype)):
            return generic["cross_entropy_forward"](x, target, weight, ignore_index, reduction)
        n, ncls = x.shape
        wdt = _wide(x.dtype)
        logp = cupy.empty(x.shape, x.dtype)
        loss = cupy.empty(n, wdt)
        wrow = cupy.empty(n, wdt)
        safe = cupy.empty(n, np.int64)
        # NOTE: the target range is checked on the device and reported at the next host read
        # (a loss.item(), say): a read-back here would stall the step until the GPU caught up
        bad = ERRORS.word(cupy.cuda.runtime.getDevice(), IndexError,
                          "Target {} is out of bounds (found by cross_entropy on cuda).")
        wt = weight.astype(wdt) if weight is not None else loss  # (unread without weights)
        f["ce"](cupy.ascontiguousarray(x), target, ncls, ignore_index, wt,
                int(weight is not None), logp, loss, wrow, safe, bad)
        out, coef = reduce_losses(loss, wrow, reduction)
        return out.astype(x.dtype, copy=False), logp, safe, coef.astype(x.dtype, copy=False)

    def cross_entropy_backward(g, logp, target, coef):
        if not (logp.ndim == 2 and logp.dtype in _FLOATS and g.dtype == coef.dtype ==
                logp.dtype and target.dtype == np.int64 and g.ndim <= 1):
            return generic["cross_entropy_backward"](g, logp, target, coef)
        r = cupy.empty(logp.shape, logp.dtype)
        if r.size:
            f["ce_grad"](cupy.ascontiguousarray(logp), target, coef, g.reshape(-1),
                         logp.shape[1], int(g.ndim == 1), r)
        return r

    def full(shape, value, dtype, index):
        # (an empty array and a fill kernel: the shared kernel's 0-d case copies from the host)
        return cupy.full(shape, value, dtype.np)

    return {"full": full, "matmul": matmul, "linear_forward": linear_forward,
            "linear_backward": linear_backward, "threshold_backward": threshold_backward,
            "sgd_momentum_update_": sgd_momentum_update_,
            "max_pool2d_blocks": max_pool2d_blocks,
            "max_pool2d_blocks_backward": max_pool2d_blocks_backward,
            "fold_windows": fold_windows, "cross_entropy_forward": cross_entropy_forward,
            "cross_entropy_backward": cross_entropy_backward}
