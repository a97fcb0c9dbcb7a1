"""The cuda backend's GPU check: run by scripts/gpu_check.sh on a machine with a GPU.

Steps, each in its own process with its own time limit (about 6.5 minutes in all), results in
$OUT/summary.json (and each step's output in $OUT/gpu_check.log):
  env          cupy, the GPU, ember's backends and what cuda claims
  pytest       tests/test_cuda.py (its GPU-only tests run here)
  conformance  python -m ember.plugins.conformance --device cuda --report $OUT/conformance_cuda.json
  mlp, cnn     benchmarks/mlp_train.py and cnn_train.py on cpu and cuda
  matmul       n=4096 float32/float16 products: ember cuda vs torch cuda vs raw cupy, TFLOP/s,
               agreement with torch, and how long queueing takes (asynchrony)
"""
from __future__ import annotations

import importlib.util
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


def step(name: str, cmd: list[str], limit: int, log) -> dict:
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
    r = {"rc": rc, "seconds": secs, "tail": out[-1500:]}
    try:
        r["result"] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    return r


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    summary = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(os.path.join(OUT, "steps.log"), "w") as log:
        summary["env"] = step("env", [PY, "-c", ENV], 60, log)
        summary["pytest"] = step("pytest", [PY, "-m", "pytest", "-q", "-rs",
                                            "tests/test_cuda.py"], 90, log)
        if importlib.util.find_spec("ember.plugins.conformance.__main__") is not None:
            summary["conformance"] = step(
                "conformance", [PY, "-m", "ember.plugins.conformance", "--device", "cuda",
                                "--report", os.path.join(OUT, "conformance_cuda.json")], 180, log)
        else:
            summary["conformance"] = {"rc": "skipped", "why": "ember.plugins.conformance has "
                                      "no __main__ yet"}
        for b, limit in (("mlp", 50), ("cnn", 60)):
            summary[b] = step(b, [PY, f"benchmarks/{b}_train.py", "--seconds", "2",
                                  "--devices", "cpu,cuda"], limit, log)
        summary["matmul"] = step("matmul", [PY, "-c", MATMUL], 60, log)
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    failed = [k for k, v in summary.items()
              if isinstance(v, dict) and v["rc"] not in (0, "skipped")]
    print("failed steps:", failed or "none")
    print(json.dumps(summary.get("matmul", {}).get("result"), indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
