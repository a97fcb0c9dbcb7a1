"""Where a training step's time goes on cuda (run on a machine with a GPU, from the repository
root with ember importable): steps/s, CuPy's per-launch cost, a cProfile of the step's host
side, and each primitive's host time (queueing) and device-synchronised time.

    python scripts/gpu_profile.py [mlp|cnn ...]
"""
from __future__ import annotations

import cProfile
import collections
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import cupy  # noqa: E402

import ember  # noqa: E402
from ember.plugins import registry  # noqa: E402


def rate(step, sync, seconds=1.5):
    for _ in range(5):
        out = step()
    sync(out)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        out = step()
        n += 1
    sync(out)
    return n / (time.perf_counter() - t0)


def launch_costs():
    a = cupy.ones(1024, cupy.float32)
    b = cupy.ones(1024, cupy.float32)
    ek = cupy.ElementwiseKernel("T x, T y", "T z", "z = x + y", "probe_add")
    rk = cupy.RawKernel(r'extern "C" __global__ void probe(float* z, const float* x, '
                        r'const float* y, int n) { int i = blockIdx.x * blockDim.x + '
                        r'threadIdx.x; if (i < n) z[i] = x[i] + y[i]; }', "probe")
    out = cupy.empty_like(a)
    cases = {"a + b": lambda: a + b, "cupy.add(a, b, out=out)": lambda: cupy.add(a, b, out=out),
             "ElementwiseKernel(a, b)": lambda: ek(a, b),
             "ElementwiseKernel(a, b, out)": lambda: ek(a, b, out),
             "RawKernel": lambda: rk((4,), (256,), (out, a, b, cupy.int32(1024))),
             "a.sum()": lambda: a.sum(), "cupy.empty(1024)": lambda: cupy.empty(1024),
             "float(a[0]) (sync)": lambda: float(a[0])}
    for name, f in cases.items():
        for _ in range(100):
            f()
        cupy.cuda.runtime.deviceSynchronize()
        t0 = time.perf_counter()
        for _ in range(2000):
            f()
        t = (time.perf_counter() - t0) / 2000
        cupy.cuda.runtime.deviceSynchronize()
        print(f"  {name:<30} {t * 1e6:7.1f} us per call (host)")


def per_primitive(step, sync, steps=100):
    be = registry.backend("cuda")
    host, synced, calls = (collections.Counter() for _ in range(3))
    saved = dict(be.kernels)
    try:
        for mode in ("host", "synced"):
            for name, k in saved.items():
                def wrap(k=k, name=name, mode=mode):
                    def f(*a, **kw):
                        if mode == "synced":
                            cupy.cuda.runtime.deviceSynchronize()
                        t0 = time.perf_counter()
                        r = k(*a, **kw)
                        if mode == "synced":
                            cupy.cuda.runtime.deviceSynchronize()
                            synced[name] += time.perf_counter() - t0
                        else:
                            host[name] += time.perf_counter() - t0
                            calls[name] += 1
                        return r
                    return f
                be.kernels[name] = wrap()
            for _ in range(steps):
                out = step()
            sync(out)
    finally:
        be.kernels.update(saved)
    print(f"  {'primitive':<28}{'calls/step':>10}{'host us/step':>14}{'synced us/step':>16}")
    for name, t in synced.most_common(25):
        print(f"  {name:<28}{calls[name] / steps:>10.1f}{host[name] / steps * 1e6:>14.1f}"
              f"{t / steps * 1e6:>16.1f}")
    print(f"  {'total':<28}{sum(calls.values()) / steps:>10.1f}"
          f"{sum(host.values()) / steps * 1e6:>14.1f}{sum(synced.values()) / steps * 1e6:>16.1f}")


def main(which):
    import cnn_train
    import mlp_train
    print("CuPy launch costs:")
    launch_costs()
    for name in which:
        make = {"mlp": mlp_train.ember_mlp, "cnn": cnn_train.ember_cnn}[name]
        tmake = {"mlp": mlp_train.torch_mlp, "cnn": cnn_train.torch_cnn}[name]
        step, sync = make("cuda")
        tstep, tsync = tmake("cuda")
        print(f"\n== {name}: ember cuda {rate(step, sync):.0f} steps/s, torch cuda "
              f"{rate(tstep, tsync):.0f} steps/s")
        pool = cupy.get_default_memory_pool()
        cupy.cuda.set_allocator(pool.malloc)
        print(f"   without the peak-tracking allocator: {rate(step, sync):.0f} steps/s")
        registry.backend("cuda")._install_peak_tracking()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(200):
            out = step()
        sync(out)
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(28)
        print("\n".join(s.getvalue().splitlines()[6:40]))
        per_primitive(step, sync)


if __name__ == "__main__":
    main(sys.argv[1:] or ["mlp", "cnn"])
