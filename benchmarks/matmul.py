"""float32 matmul GFLOP/s: Ember on each backend vs NumPy vs PyTorch, in one run.

    python benchmarks/matmul.py [--sizes 256 1024 2048] [--seconds 1.0]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ember

try:
    import torch
except ImportError:  # torch is optional
    torch = None


def gflops(fn, n, seconds):
    fn()  # warm up: kernel build, allocation
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and reps >= 3:
            break
    return 2.0 * n ** 3 * reps / elapsed / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048])
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    threads = os.cpu_count()
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    devices = ember.backends.available()
    print(f"float32 matmul GFLOP/s ({threads} threads; torch {torch.__version__ if torch else '-'}"
          f", numpy {np.__version__})")
    header = f"{'n':>6s} {'numpy':>8s} {'torch':>8s} " + " ".join(
        f"{'ember-' + d:>13s} {'% numpy':>8s}" for d in devices)
    print(header)
    for n in args.sizes:
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        row = {"numpy": gflops(lambda: a @ b, n, args.seconds)}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            row["torch"] = gflops(lambda: ta @ tb, n, args.seconds)
        line = f"{n:6d} {row['numpy']:8.1f} {row.get('torch', float('nan')):8.1f} "
        for d in devices:
            ea, eb = ember.tensor(a, device=d), ember.tensor(b, device=d)
            be = ember.backends

            def run():
                (ea @ eb)
                if d != "cpu":
                    ember.accelerator.synchronize(d)
            g = gflops(run, n, args.seconds)
            err = np.abs((ea @ eb).cpu().numpy() - a @ b).max() / np.abs(a @ b).max()
            assert err < 1e-4, f"ember-{d} matmul is wrong at n={n} (relative error {err:.2e})"
            line += f"{g:13.1f} {100 * g / row['numpy']:7.0f}% "
            del be
        print(line)


if __name__ == "__main__":
    main()
