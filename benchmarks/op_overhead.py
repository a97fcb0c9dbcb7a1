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


def best_us(fns, number, rounds=7):
    """Best time per call in us of each fn in ``fns`` (a dict), the fns taking turns ``rounds``
    times: on a shared machine the speed drifts, and turns make every contender see the same
    drift."""
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, float("inf"))
    order = list(fns.items())
    for r in range(rounds):
        # (every other round in reverse: each contender follows both of its neighbours)
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number * 1e6)
    return best


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
    devices = list(ember.backends.available())
    a_np = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    x_np = np.random.default_rng(1).standard_normal((32, 32)).astype(np.float32)
    nb = a_np.copy()
    # case -> {contender: fn}
    cases = {"add 4x4": {"numpy": lambda: a_np + nb},
             "chain10 32x32 fwd": {"numpy": lambda: chain_np(x_np)},
             "chain10 32x32 fwd+bwd": {"numpy": lambda: chain_np_fwd_bwd(x_np)}}
    if torch is not None:
        ta, tb = torch.from_numpy(a_np), torch.from_numpy(a_np.copy())
        tx = torch.from_numpy(x_np)
        txg = torch.from_numpy(x_np.copy()).requires_grad_(True)
        cases["add 4x4"]["torch"] = lambda: ta + tb
        cases["chain10 32x32 fwd"]["torch"] = lambda: chain(torch, tx)
        cases["chain10 32x32 fwd+bwd"]["torch"] = lambda: chain(torch, txg).sum().backward()
    for dev in devices:
        ea = ember.tensor(a_np, device=dev)
        eb = ember.tensor(a_np, device=dev)
        ex = ember.tensor(x_np, device=dev)
        exg = ember.tensor(x_np, device=dev, requires_grad=True)
        sync = (lambda: ember.accelerator.synchronize()) if dev != "cpu" else (lambda: None)

        def timed(fn, sync=sync):
            def run():
                fn()
                sync()
            return run
        cases["add 4x4"][dev] = timed(lambda ea=ea, eb=eb: ea + eb)
        cases["chain10 32x32 fwd"][dev] = timed(lambda ex=ex: chain(ember, ex))
        cases["chain10 32x32 fwd+bwd"][dev] = timed(
            lambda exg=exg: chain(ember, exg).sum().backward())
    numbers = {"add 4x4": 4000, "chain10 32x32 fwd": 400, "chain10 32x32 fwd+bwd": 200}
    results = {}
    for case, fns in cases.items():
        # accelerators pay a launch per op: fewer calls keep their turns short
        fast = {k: f for k, f in fns.items() if k in ("numpy", "torch", "cpu")}
        slow = {k: f for k, f in fns.items() if k not in fast}
        results[case] = best_us(fast, numbers[case])
        if slow:
            results[case].update(best_us(slow, max(1, numbers[case] // 10)))
    print(f"threads: torch {torch.get_num_threads() if torch else '-'}; "
          f"python {sys.version.split()[0]}; best of 7 interleaved turns")
    print(f"{'case':24s} {'numpy us':>9s} {'torch us':>9s} " +
          " ".join(f"{'ember-' + d + ' us':>16s} {'x torch':>8s}" for d in devices))
    for case, res in results.items():
        t = res.get("torch")
        line = f"{case:24s} {res['numpy']:9.2f} {t if t is not None else float('nan'):9.2f} "
        for dev in devices:
            ratio = res[dev] / t if t else float("nan")
            line += f"{res[dev]:16.2f} {ratio:8.2f} "
        print(line)
    print("(x torch: Ember's time over torch's; below 1.0 is faster than torch)")


if __name__ == "__main__":
    main()
