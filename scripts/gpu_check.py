"""The cuda backend's GPU check: run by scripts/gpu_check.sh on a machine with a GPU.

Steps, each in its own process with its own time limit (under 11 minutes in all), results in
$OUT/summary.json (and each step's output in $OUT/gpu_check.log):
  env          cupy, the GPU, ember's backends and what cuda claims
  pytest       tests/test_cuda.py (its GPU-only tests run here)
  pytest_cuda  the cuda cases of every test file parametrised over ember.backends.available()
               (amp, special, distributions, func ...): `pytest -k cuda` on those files
  programs_cuda  the ordinary torch programs (tests/torch_programs) under Ember on cuda
  conformance  python -m ember.plugins.conformance --device cuda, in 12 shards at once, added up
               into $OUT/conformance_cuda.json
  mlp, cnn     benchmarks/mlp_train.py and cnn_train.py on cpu and cuda
  matmul       n=4096 float32/float16 products: ember cuda vs torch cuda vs raw cupy, TFLOP/s,
               agreement with torch, and how long queueing takes (asynchrony)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

OUT = os.environ.get("OUT", "out/gpu_check")
PY = sys.executable

ENV = r"""
import json, ember, cupy
from ember.plugins import registry
print(json.dumps({"cupy": cupy.__version__, "available": ember.backends.available(),
                  "failures": ember.backends.failures(),
                  "cuda": ember.backends.capabilities("cuda"),
                  "bfloat16_note": registry.backend("cuda").bfloat16_note}))
"""

MATMUL = r"""
import json, time
import numpy as np
import ember, cupy
n, reps, res = 4096, 20, {}

def bench(mm, sync):
    for _ in range(3):
        mm()
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        mm()
    t_queue = time.perf_counter() - t0
    sync()
    t = (time.perf_counter() - t0) / reps
    return round(2 * n ** 3 / t / 1e12, 1), round(t_queue / reps * 1e6, 1)

try:
    import torch
    has_torch = torch.cuda.is_available()
except ImportError:
    has_torch = False
host_a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
host_b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
for name in ("float32", "float16"):
    a = ember.tensor(host_a).to("cuda", getattr(ember, name))
    b = ember.tensor(host_b).to("cuda", getattr(ember, name))
    tf, q = bench(lambda: a @ b, ember.cuda.synchronize)
    res[f"ember_{name}_tflops"], res[f"ember_{name}_queue_us"] = tf, q
    ca, cb = cupy.asarray(host_a.astype(name)), cupy.asarray(host_b.astype(name))
    res[f"cupy_{name}_tflops"] = bench(lambda: ca @ cb, cupy.cuda.runtime.deviceSynchronize)[0]
    if has_torch:
        torch.backends.cuda.matmul.allow_tf32 = False
        ta = torch.from_numpy(host_a).cuda().to(getattr(torch, name))
        tb = torch.from_numpy(host_b).cuda().to(getattr(torch, name))
        res[f"torch_{name}_tflops"] = bench(lambda: ta @ tb, torch.cuda.synchronize)[0]
        want = (ta @ tb).float().cpu().numpy()
        got = (a @ b).float().cpu().numpy()
        res[f"max_rel_diff_vs_torch_{name}"] = float(np.abs(got - want).max() / np.abs(want).max())
ember.cuda.reset_peak_memory_stats()
x = ember.empty(1 << 28, device="cuda")          # 1 GiB
del x
res["peak_after_1GiB_temp_MiB"] = ember.cuda.max_memory_allocated() / 2 ** 20
res["allocated_MiB"] = ember.cuda.memory_allocated() / 2 ** 20
print(json.dumps(res))
"""


def step(name: str, cmd: list[str], limit: int, log, show: int = 0) -> dict:
    log.write(f"\n===== {name}: {' '.join(cmd)} (limit {limit} s)\n")
    log.flush()
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc = "timeout"
        out = "".join((b or b"").decode(errors="replace") for b in (e.stdout, e.stderr))
    secs = round(time.perf_counter() - t0, 1)
    log.write(out)
    log.write(f"\n----- {name}: rc={rc} in {secs} s\n")
    log.flush()
    print(f"{name:<12} rc={rc} {secs:>6} s", flush=True)
    if show or rc != 0:
        print("\n".join(out.strip().splitlines()[-(show or 8):]), flush=True)
    r = {"rc": rc, "seconds": secs, "tail": out[-1500:]}
    try:
        r["result"] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    return r


SHARDS = 12


def conformance(shards: int, limit: int, log) -> dict:
    """The conformance suite on cuda in ``shards`` processes at once (most of its time is NVRTC
    compiling each op's kernel per dtype, on the CPU); their reports are added up into
    $OUT/conformance_cuda.json."""
    t0 = time.perf_counter()
    parts = [os.path.join(OUT, f"conformance_part{i}.json") for i in range(shards)]
    procs = [subprocess.Popen([PY, "-m", "ember.plugins.conformance", "--device", "cuda", "-q",
                               "--shard", f"{i}/{shards}", "--report", part],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i, part in enumerate(parts)]
    rcs, tails = [], []
    deadline = t0 + limit
    for p in procs:
        try:
            out, _ = p.communicate(timeout=max(1.0, deadline - time.perf_counter()))
            rcs.append(p.returncode)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            rcs.append("timeout")
        log.write(out)
        tails.append(out[-300:])
    merged = {"counts": {}, "cells": {}, "rows": {}, "failures": [], "fallbacks": {},
              "parity_checks_ran": 0, "shards_reported": 0}
    for part in parts:
        try:
            with open(part) as f:
                t = json.load(f)
        except (OSError, ValueError):
            continue
        os.remove(part)
        merged["shards_reported"] += 1
        for key in ("counts", "cells"):
            for k, v in t[key].items():
                merged[key][k] = merged[key].get(k, 0) + v
        merged["rows"].update(t["rows"])
        merged["failures"] += t["failures"]
        merged["fallbacks"].update(t["fallbacks"])
        merged["parity_checks_ran"] += t["parity_checks_ran"]
        for k in ("device", "backend", "claimed_dtypes", "parity_skipped"):
            merged[k] = t[k]
    with open(os.path.join(OUT, "conformance_cuda.json"), "w") as f:
        json.dump(merged, f, indent=1)
    secs = round(time.perf_counter() - t0, 1)
    rc = 0 if all(r == 0 for r in rcs) and merged["shards_reported"] == shards else 1
    print(f"{'conformance':<12} rc={rc} {secs:>6} s  {merged['counts']}", flush=True)
    for f in merged["failures"][:40]:
        print(f"  FAIL {f['row']} [{f['dtype']}] {f['check']}: "
              f"{' | '.join(f['message'].splitlines()[:2])[:160]}")
    log.write(f"\n----- conformance: rc={rcs} in {secs} s\n")
    return {"rc": rc, "seconds": secs, "shard_rcs": rcs, "counts": merged["counts"],
            "cells": merged["cells"], "failures": len(merged["failures"]),
            "fallbacks": merged["fallbacks"], "tails": [t for t, r in zip(tails, rcs) if r]}


def _device_test_files() -> list[str]:
    """The test files whose cases are parametrised over every available backend."""
    found = []
    for root, _, files in os.walk("tests"):
        for name in sorted(files):
            path = os.path.join(root, name)
            # (the conformance run, test_cuda.py and the torch programs have steps of their own)
            if name in ("test_conformance.py", "test_cuda.py", "test_torch_programs.py"):
                continue
            if name.startswith("test_") and name.endswith(".py"):
                with open(path) as f:
                    if "backends.available()" in f.read():
                        found.append(path)
    return sorted(found)


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    summary = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(os.path.join(OUT, "steps.log"), "w") as log:
        summary["env"] = step("env", [PY, "-c", ENV], 60, log)
        summary["pytest"] = step("pytest", [PY, "-m", "pytest", "-q", "-rs",
                                            "tests/test_cuda.py"], 60, log)
        summary["conformance"] = conformance(SHARDS, 120, log)
        summary["pytest_cuda"] = step("pytest_cuda", [PY, "-m", "pytest", "-q", "-k", "cuda",
                                                      "-p", "no:warnings", *_device_test_files()],
                                      150, log, show=15)
        summary["programs_cuda"] = step("programs_cuda", [PY, "-m", "pytest", "-q", "-k", "cuda",
                                                          "-p", "no:warnings",
                                                          "tests/test_torch_programs.py"],
                                        120, log, show=15)
        summary["matmul"] = step("matmul", [PY, "-c", MATMUL], 60, log, show=1)
        for b, limit in (("mlp", 50), ("cnn", 60)):
            summary[b] = step(b, [PY, f"benchmarks/{b}_train.py", "--seconds", "2",
                                  "--devices", "cpu,cuda"], limit, log, show=8)
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    failed = [k for k, v in summary.items()
              if isinstance(v, dict) and v["rc"] not in (0, "skipped")]
    print("failed steps:", failed or "none")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
