"""Training-step throughput of a LeNet-style CNN on 1x28x28 inputs (batch 64: conv 6@5x5, relu,
maxpool 2, conv 16@5x5, relu, maxpool 2, linear 256-120-84-10, SGD momentum 0.9,
cross-entropy): Ember on every available device, PyTorch (CPU, and CUDA when an Ember device is
cuda; if importable) and the same math hand-written in NumPy (im2col convolutions), in one run,
as a table with ratios against torch (on the same kind of device).

Run::

    python benchmarks/cnn_train.py [--seconds 3] [--rounds 5] [--threads N] [--devices cpu,opencl]

Thread counts are set as in ``mlp_train.py`` (the same for every contender, stated in the output).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mlp_train import (  # noqa: E402
    MOMENTUM, framework_step, numpy_sgd, parse_args, run_contenders)

BATCH = 64


def _data(seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    return x, y


def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def ember_cnn(device: str):
    return framework_step("ember", _lenet, _data(), device)


def torch_cnn(device: str):
    return framework_step("torch", _lenet, _data(), device)


def numpy_cnn():
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    rng = np.random.default_rng(0)

    def uniform(shape, fan_in):
        b = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-b, b, shape).astype(np.float32)

    params = [uniform((6, 1, 5, 5), 25), uniform(6, 25),
              uniform((16, 6, 5, 5), 150), uniform(16, 150),
              uniform((256, 120), 256), uniform(120, 256),
              uniform((120, 84), 120), uniform(84, 120),
              uniform((84, 10), 84), uniform(10, 84)]
    bufs = [np.zeros_like(p) for p in params]
    x, y = _data()
    onehot = np.eye(10, dtype=np.float32)[y]

    def conv_forward(inp, w, b):
        n, c, h, wd = inp.shape
        o, _, k, _ = w.shape
        ho, wo = h - k + 1, wd - k + 1
        cols = sliding_window_view(inp, (k, k), axis=(2, 3))          # n, c, ho, wo, k, k
        cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
        out = cols @ w.reshape(o, -1).T + b                            # n*ho*wo, o
        return out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols

    def conv_backward(dout, cols, inp_shape, w, need_dx):
        n, c, h, wd = inp_shape
        o, _, k, _ = w.shape
        ho, wo = h - k + 1, wd - k + 1
        d = dout.transpose(0, 2, 3, 1).reshape(n * ho * wo, o)
        dw = (d.T @ cols).reshape(w.shape)
        db = d.sum(0)
        if not need_dx:
            return None, dw, db
        dcols = (d @ w.reshape(o, -1)).reshape(n, ho, wo, c, k, k)
        dx = np.zeros(inp_shape, np.float32)
        for i in range(k):          # col2im: scatter-add each kernel offset back
            for j in range(k):
                dx[:, :, i:i + ho, j:j + wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dx, dw, db

    def pool_forward(inp):
        n, c, h, w = inp.shape
        r = inp.reshape(n, c, h // 2, 2, w // 2, 2)
        out = r.max(axis=(3, 5))
        mask = r == out[:, :, :, None, :, None]
        return out, mask

    def pool_backward(dout, mask):
        n, c, h2, _, w2, _ = mask.shape
        return (mask * dout[:, :, :, None, :, None]).reshape(n, c, h2 * 2, w2 * 2)

    def step():
        w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
        a1, cols1 = conv_forward(x, w1, b1)
        r1 = np.maximum(a1, 0)
        p1, m1 = pool_forward(r1)
        a2, cols2 = conv_forward(p1, w2, b2)
        r2 = np.maximum(a2, 0)
        p2, m2 = pool_forward(r2)
        f = p2.reshape(BATCH, -1)
        a3 = f @ w3 + b3
        h3 = np.maximum(a3, 0)
        a4 = h3 @ w4 + b4
        h4 = np.maximum(a4, 0)
        logits = h4 @ w5 + b5
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(BATCH), y]))
        g = [None] * 10
        d = (e / s - onehot) / BATCH
        g[8], g[9] = h4.T @ d, d.sum(0)
        d = (d @ w5.T) * (a4 > 0)
        g[6], g[7] = h3.T @ d, d.sum(0)
        d = (d @ w4.T) * (a3 > 0)
        g[4], g[5] = f.T @ d, d.sum(0)
        d = (d @ w3.T).reshape(p2.shape)
        d = pool_backward(d, m2) * (a2 > 0)
        d, g[2], g[3] = conv_backward(d, cols2, p1.shape, w2, need_dx=True)
        d = pool_backward(d, m1) * (a1 > 0)
        _, g[0], g[1] = conv_backward(d, cols1, x.shape, w1, need_dx=False)
        numpy_sgd(params, g, bufs)
        return loss

    return step, lambda loss: None


def main() -> None:
    args = parse_args(__doc__)
    run_contenders(args, f"LeNet-style CNN on 1x28x28 training step, batch {BATCH}, "
                         f"SGD momentum {MOMENTUM}, cross_entropy",
                   ember_cnn, torch_cnn, numpy_cnn)


if __name__ == "__main__":
    main()
