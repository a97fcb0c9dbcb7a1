"""Elementwise fusion in ember.jit on opencl: the 10-op chain of op_overhead.py on 32x32 float32
(and 512x512), forward under no_grad, eager vs traced (one kernel per op) vs traced + fused (one
kernel for the chain), with torch eager on cpu for reference.

Each call waits for its kernels (ember.accelerator.synchronize), so the times are what a caller
that reads the result sees. Run: ``python benchmarks/jit_fusion.py`` (with ember importable).
"""
from __future__ import annotations

import os
import sys

import numpy as np

import ember

from op_overhead import best_us, chain

try:
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
except ImportError:  # torch is optional: its column is then empty
    torch = None


def contenders(shape, device="opencl"):
    x_np = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = ember.tensor(x_np, device=device)

    def fn(x):
        return chain(ember, x)
    previous = ember.jit.set_fusion_enabled(False)
    traced = ember.jit.trace(fn, x)
    ember.jit.set_fusion_enabled(True)
    fused = ember.jit.trace(fn, x)
    ember.jit.set_fusion_enabled(previous)
    with ember.no_grad():
        a, b = fused(x).cpu().numpy(), traced(x).cpu().numpy()
    assert np.array_equal(a, b), "fused and unfused results differ"
    assert "fused_elementwise" in fused.graph_for(x), "the chain did not fuse"

    def timed(f):
        def run():
            with ember.no_grad():
                f(x)
            ember.accelerator.synchronize()
        return run
    fns = {"eager": timed(fn), "traced": timed(traced), "traced+fused": timed(fused)}
    if torch is not None:
        tx = torch.from_numpy(x_np)

        def torch_run():
            with torch.no_grad():
                chain(torch, tx)
        fns["torch cpu"] = torch_run
    return fns


def main():
    if "opencl" not in ember.backends.available():
        print("no OpenCL device here:", ember.backends.failures().get("opencl"))
        return
    cols = ["eager", "traced", "traced+fused", "torch cpu"]
    dev = ember.device("opencl").backend.device_names()[0]
    print(f"device: {dev}; python {sys.version.split()[0]}; torch threads "
          f"{torch.get_num_threads() if torch else '-'}; best of 7 interleaved turns")
    print(f"{'case':14s} " + " ".join(f"{c + ' us':>16s}" for c in cols) +
          f" {'fused/traced':>13s}")
    for shape, number in (((32, 32), 300), ((512, 512), 30)):
        res = best_us(contenders(shape), number)
        nan = float("nan")
        line = f"chain {shape[0]}x{shape[1]:<6d} " + " ".join(
            f"{res.get(c, nan):16.2f}" for c in cols)
        print(line + f" {res['traced+fused'] / res['traced']:13.3f}")


if __name__ == "__main__":
    main()
