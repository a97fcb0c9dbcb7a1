"""Time the OpenCL matmul for each tile configuration: python -m ember.backends.opencl.tune

Prints GFLOP/s (2 n^3 / time, best of a few runs after a warm-up that includes the build) at
n = 256, 1024, 2048 for every entry of matmul.CONFIGS, and NumPy's for reference.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from . import elementwise as ew
from . import matmul as mm
from .runtime import device


def gflops(fn, n: int, sync, repeat: int = 3) -> float:
    fn()
    sync()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="*", default=[256, 1024, 2048])
    p.add_argument("--configs", nargs="*", default=list(mm.CONFIGS))
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", type=int, default=0)
    p.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = p.parse_args(argv)
    dev = device(args.device)
    print(f"device: {dev.name}, dtype {args.dtype}")
    print(f"{'config':>18} " + " ".join(f"{'n=' + str(n):>9}" for n in args.sizes))
    rng = np.random.default_rng(0)
    hosts = {n: [rng.standard_normal((n, n)).astype(args.dtype) for _ in range(2)]
             for n in args.sizes}
    arrays = {n: [ew.from_host(h, dev) for h in hs] for n, hs in hosts.items()}
    for name in args.configs:
        row = []
        for n in args.sizes:
            a, b = arrays[n]
            row.append(gflops(lambda: mm.matmul(a, b, name), n, dev.queue.finish,
                              repeat=1 if n >= 2048 else args.repeat))
        print(f"{name:>18} " + " ".join(f"{g:9.1f}" for g in row))
    row = [gflops(lambda: hosts[n][0] @ hosts[n][1], n, lambda: None, args.repeat)
           for n in args.sizes]
    print(f"{'numpy':>18} " + " ".join(f"{g:9.1f}" for g in row))


if __name__ == "__main__":
    main()
