"""Dispatch overhead of small ops: Ember (each backend) vs PyTorch vs raw NumPy, one run.

Reports microseconds per call and ratios against torch:
- add of two 4x4 float32 tensors (the hot path of dispatch);
- a chain of 10 elementwise ops on 32x32 float32 (forward);
- the same chain, forward + backward.
"""
from __future__ import annotations

import os
import sys
import timeit

import numpy as np

import ember

try:
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
except ImportError:  # torch is optional: ratios are then against NumPy only
    torch = None


def best_us(fn, number):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def chain(m, x):
    # 10 elementwise ops
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


def chain_np(x):
    y = x * np.float32(1.01)
    y = y + np.float32(0.5)
    y = np.tanh(y)
    y = y * y
    y = y - np.float32(0.25)
    y = 1 / (1 + np.exp(-y))
    y = y / np.float32(1.5)
    y = np.exp(y)
    y = y + x
    return np.maximum(y, 0)


def chain_np_fwd_bwd(x):
    # The same math with a hand-written backward, the floor for a Python framework.
    y1 = x * np.float32(1.01)
    y2 = y1 + np.float32(0.5)
    y3 = np.tanh(y2)
    y4 = y3 * y3
    y5 = y4 - np.float32(0.25)
    y6 = 1 / (1 + np.exp(-y5))
    y7 = y6 / np.float32(1.5)
    y8 = np.exp(y7)
    y9 = y8 + x
    out = np.maximum(y9, 0)
    g = (y9 > 0).astype(np.float32)
    gx = g.copy()
    g = g * y8 / np.float32(1.5)
    g = g * y6 * (1 - y6)
    g = g * 2 * y3
    g = g * (1 - y3 * y3)
    gx += g * np.float32(1.01)
    return out.sum(), gx


def main():
    rows = []
    devices = [d for d in ember.backends.available()]
    a_np = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    x_np = np.random.default_rng(1).standard_normal((32, 32)).astype(np.float32)
    ref = {}
    if torch is not None:
        ta, tb = torch.from_numpy(a_np), torch.from_numpy(a_np.copy())
        tx = torch.from_numpy(x_np)
        txg = torch.from_numpy(x_np.copy()).requires_grad_(True)
        ref["add 4x4"] = best_us(lambda: ta + tb, 20000)
        ref["chain10 32x32 fwd"] = best_us(lambda: chain(torch, tx), 2000)
        ref["chain10 32x32 fwd+bwd"] = best_us(lambda: chain(torch, txg).sum().backward(), 1000)
    nb = a_np.copy()
    numpy_t = {"add 4x4": best_us(lambda: a_np + nb, 20000),
               "chain10 32x32 fwd": best_us(lambda: chain_np(x_np), 2000),
               "chain10 32x32 fwd+bwd": best_us(lambda: chain_np_fwd_bwd(x_np), 1000)}
    for dev in devices:
        ea = ember.tensor(a_np, device=dev)
        eb = ember.tensor(a_np, device=dev)
        ex = ember.tensor(x_np, device=dev)
        exg = ember.tensor(x_np, device=dev, requires_grad=True)
        sync = (lambda: ember.accelerator.synchronize()) if dev != "cpu" else (lambda: None)

        def timed(fn):
            def run():
                fn()
                sync()
            return run
        res = {"add 4x4": best_us(timed(lambda: ea + eb), 20000 if dev == "cpu" else 2000),
               "chain10 32x32 fwd": best_us(timed(lambda: chain(ember, ex)), 2000 if dev ==
                                            "cpu" else 200),
               "chain10 32x32 fwd+bwd": best_us(timed(lambda: chain(ember, exg).sum().backward()),
                                                1000 if dev == "cpu" else 100)}
        rows.append((dev, res))
    print(f"threads: torch {torch.get_num_threads() if torch else '-'}; "
          f"python {sys.version.split()[0]}")
    print(f"{'case':24s} {'numpy us':>9s} {'torch us':>9s} " +
          " ".join(f"{'ember-' + d + ' us':>16s} {'x torch':>8s}" for d, _ in rows))
    for case in numpy_t:
        t = ref.get(case)
        line = f"{case:24s} {numpy_t[case]:9.2f} {t if t is not None else float('nan'):9.2f} "
        for _, res in rows:
            ratio = res[case] / t if t else float("nan")
            line += f"{res[case]:16.2f} {ratio:8.2f} "
        print(line)
    print("(x torch: Ember's time over torch's; below 1.0 is faster than torch)")


if __name__ == "__main__":
    main()
