"""The cpu backend's fused convolution kernels: ``conv2d``, ``conv2d_input_grad`` and
``conv2d_weight_grad``, the composites of core/ops/nn.py.

They compute what the decompositions compute (im2col, a GEMM, col2im), laid out for NumPy and
BLAS. On small images the decomposition spends its time on strided copies and adds whose rows
are one window row long (8 pixels in LeNet's second conv: NumPy pays per row), and on GEMMs
whose multi-megabyte operands stream through memory. Here

- columns are taken per image and, for stride 1, over whole input rows (position p = oh * W + ow;
  the positions past a row's last window are computed and dropped), so that each kernel offset
  copies one contiguous run of the image;
- the forward runs one GEMM over chunks of the batch (one chunk at LeNet's sizes), through one
  buffer per call;
- the gradients work in a (C, H, W, N) layout, where a window row of the whole batch is one run
  of OW * N, over chunks of output rows.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .kernels import _LOW_PRECISION

# Elements of the columns of one chunk: 512 KB of float32 stays in L2 with the GEMM's operands.
_CHUNK = 1 << 17
# Elements of the forward's columns per chunk (16 MB of float32): LeNet-sized batches take one
# chunk, and so one GEMM; larger inputs keep the buffer bounded.
_BATCH_CHUNK = 1 << 22

# NOTE: OpenBLAS splits a GEMM of about 2^20 multiply-adds or more over its threads. For the GEMMs
# of a small convolution (~0.2 ms) that gains little, and on a busy machine waking the threads
# stalls 1 call in 10 for a scheduler tick (8-16 ms, measured on 2 cores). So GEMMs of up to
# _THREADED multiply-adds run as batches of blocks of _ONE_THREAD, each on the calling thread.
_ONE_THREAD = 1 << 18
_THREADED = 1 << 24
_SMALL_PRODUCT = 1 << 10


def _wide(a):
    # NOTE: half precision GEMMs and sums run in float32 and round once, as the matmul kernel's
    return a.astype(np.float32) if a is not None and a.dtype in _LOW_PRECISION else a


class _Windows:
    """Where the windows of a conv lie in an (N, C, H, W) input: ``view(x)`` is the im2col view
    (N, C, kh, kw, *positions) and ``grid(a)`` views a (..., P) result, P = prod(positions), as
    (..., OH, OW)."""

    def __init__(self, shape, kernel, stride, dilation):
        n, c, h, w = shape
        (kh, kw), (self.sh, self.sw), (self.dh, self.dw) = kernel, stride, dilation
        self.oh = (h - self.dh * (kh - 1) - 1) // self.sh + 1
        self.ow = (w - self.dw * (kw - 1) - 1) // self.sw + 1
        self.kernel = kernel
        # (unless the dropped positions would outnumber the kept ones)
        self.whole_rows = (self.sh, self.sw) == (1, 1) and w <= 2 * self.ow
        # one output row's stride among the positions
        self.row = w if self.whole_rows else self.ow
        self.positions = ((self.oh - 1) * w + self.ow,) if self.whole_rows else (self.oh, self.ow)
        self.count = int(np.prod(self.positions))

    def view(self, x):
        n, c = x.shape[:2]
        kh, kw = self.kernel
        s0, s1, s2, s3 = x.strides
        lead, lead_strides = (n, c, kh, kw), (s0, s1, self.dh * s2, self.dw * s3)
        if self.whole_rows:
            return as_strided(x, lead + self.positions, lead_strides + (s3,))
        return as_strided(x, lead + self.positions, lead_strides + (self.sh * s2, self.sw * s3))

    def grid(self, a):
        st = a.strides[-1]
        return as_strided(a, a.shape[:-1] + (self.oh, self.ow),
                          a.strides[:-1] + (self.row * st, st))

    def chunks(self, x):
        """(start, columns) over chunks of the batch; columns (C*kh*kw, m * P), in (C, kh, kw,
        m, P) order, are a buffer that the next chunk overwrites."""
        win = self.view(x).transpose(1, 2, 3, 0, *range(4, 4 + len(self.positions)))
        c, kh, kw, n = win.shape[:4]
        rows = c * kh * kw
        step = max(1, min(n, _BATCH_CHUNK // max(1, rows * self.count)))
        buf = np.empty(win.shape[:3] + (step,) + win.shape[4:], x.dtype)
        for s in range(0, n, step):
            m = min(step, n - s)
            cols = buf[:, :, :, :m]
            np.copyto(cols, win[:, :, :, s:s + m])
            yield s, cols.reshape(rows, m * self.count)


def conv2d(x, weight, bias, stride, dilation):
    dtype = x.dtype
    x, weight, bias = np.ascontiguousarray(_wide(x)), _wide(weight), _wide(bias)
    n = x.shape[0]
    c_out = weight.shape[0]
    win = _Windows(x.shape, weight.shape[2:], stride, dilation)
    w2 = weight.reshape(c_out, -1)
    out = np.empty((n, c_out, win.oh, win.ow), x.dtype)
    for s, cols in win.chunks(x):
        m = cols.shape[1] // win.count
        # NOTE: one GEMM over the whole chunk (C_out rows, m * P columns) runs faster than a
        # batch of per-image GEMMs (NumPy calls BLAS per image)
        res = (w2 @ cols).reshape(c_out, m, win.count)
        out[s:s + m] = win.grid(res).transpose(1, 0, 2, 3)
    if bias is not None:
        out += bias.reshape(c_out, 1, 1)
    return out.astype(dtype, copy=False)


def _batch_last(a):
    """(N, C, H, W) -> contiguous (C, H, W, N)."""
    n = a.shape[0]
    if n <= 8 or a[0].nbytes % 4096 or not a.flags.c_contiguous:
        return np.ascontiguousarray(a.transpose(1, 2, 3, 0))
    # NOTE: where an image's size is a multiple of 4 KB, reading the images' same element
    # strides by 4 KB and the reads evict each other from the cache's sets (64 x 16 x 8 x 8:
    # 90 us at once, 32 us in blocks of 8 images)
    out = np.empty(a.shape[1:] + (n,), a.dtype)
    for s in range(0, n, 8):
        out[..., s:s + 8] = a[s:s + 8].transpose(1, 2, 3, 0)
    return out


def _matmul_inner(a, b):
    """a @ b for 2-d a (M, K) with K contiguous and b (K, P), as a sum over blocks of K (see
    _ONE_THREAD)."""
    m, k = a.shape
    p = b.shape[1]
    step = max(1, _ONE_THREAD // max(1, m * p))
    # NOTE: measured, the blocks pay only where the product is tiny (LeNet's first conv's
    # 25 x 6); from a few thousand elements one threaded GEMM is faster
    if step >= k or m * k * p > _THREADED or m * p >= _SMALL_PRODUCT:
        return a @ b
    whole = k - k % step
    out = np.matmul(a[:, :whole].reshape(m, -1, step).transpose(1, 0, 2),
                    b[:whole].reshape(-1, step, p)).sum(0)
    if whole < k:
        out += a[:, whole:] @ b[whole:]
    return out


def _row_blocks(rows, per_row, size=_CHUNK):
    """Blocks [r0, r1) of output rows whose columns, ``per_row`` elements a row, fill ``size``."""
    step = max(1, min(rows, size // max(1, per_row)))
    return [(r, min(r + step, rows)) for r in range(0, rows, step)]


def conv2d_weight_grad(grad, x, kernel, stride, dilation):
    dtype = grad.dtype
    grad, x = _wide(grad), _wide(x)
    n, c = x.shape[:2]
    c_out, oh, ow = grad.shape[1:]
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    # the batch innermost: a window row of every image is one run of OW * N
    g = _batch_last(grad).reshape(c_out, oh, ow * n)
    xt = _batch_last(x)
    s0, s1, s2, s3 = xt.strides
    win = as_strided(xt, (c, kh, kw, oh, ow, n),
                     (s0, dh * s1, dw * s2, sh * s1, sw * s2, s3))
    acc = np.zeros((c * kh * kw, c_out), grad.dtype)
    for r0, r1 in _row_blocks(oh, c * kh * kw * ow * n, 16 * _CHUNK):
        cols = np.ascontiguousarray(win[:, :, :, r0:r1]).reshape(c * kh * kw, -1)
        acc += _matmul_inner(cols, g[:, r0:r1].reshape(c_out, -1).T)
    return np.ascontiguousarray(acc.T.reshape(c_out, c, kh, kw), dtype=dtype)


def conv2d_input_grad(grad, weight, shape, stride, dilation):
    dtype = grad.dtype
    grad, weight = _wide(grad), _wide(weight)
    n, c, h, w = shape
    c_out, _, kh, kw = weight.shape
    oh, ow = grad.shape[2:]
    (sh, sw), (dh, dw) = stride, dilation
    g = _batch_last(grad).reshape(c_out, oh, ow * n)
    # columns in (C, kw, kh, OH, OW * N) order; col2im then sums over the kernel rows into
    # t (C, kw, H, OW * N) and over the kernel columns into (C, H, W, N): 2 * k adds of long
    # runs instead of k * k
    wt = weight.transpose(1, 3, 2, 0).reshape(c * kw * kh, c_out)
    t = np.zeros((c, kw, h, ow * n), grad.dtype)
    # NOTE: measured, col2im runs fastest on few large blocks (each block adds 2 * k runs)
    for r0, r1 in _row_blocks(oh, c * kh * kw * ow * n, 16 * _CHUNK):
        # NOTE: measured, one plain GEMM here runs faster than single-threaded blocks of columns
        # (388 against 527 us for LeNet's second conv, 2 cores)
        cols = wt @ g[:, r0:r1].reshape(c_out, -1)
        cols = cols.reshape(c, kw, kh, r1 - r0, ow * n)
        for i in range(kh):
            top = i * dh + r0 * sh
            t[:, :, top:top + sh * (r1 - r0 - 1) + 1:sh] += cols[:, :, i]
    gx = np.zeros((c, h, w, n), grad.dtype)
    t = t.reshape(c, kw, h, ow, n)
    for j in range(kw):
        gx[:, :, j * dw:j * dw + sw * (ow - 1) + 1:sw] += t[:, j]
    return np.ascontiguousarray(gx.transpose(3, 0, 1, 2), dtype=dtype)


def conv_kernels():
    return {"conv2d": conv2d, "conv2d_input_grad": conv2d_input_grad,
            "conv2d_weight_grad": conv2d_weight_grad}
