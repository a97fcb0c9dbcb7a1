"""Training-step throughput of an MLP (784-256-128-10, batch 128, SGD momentum 0.9,
cross-entropy): Ember on every available device, PyTorch (CPU, and CUDA when an Ember device is
cuda; if importable) and the same math hand-written in NumPy, in one run, as a table with ratios
against torch (on the same kind of device).

Run::

    python benchmarks/mlp_train.py [--seconds 3] [--rounds 5] [--threads N] [--devices cpu,opencl]

Every contender runs with the same thread count (``--threads``, default: all cores): it is set
for the BLAS behind NumPy (and so Ember's cpu backend) through the usual environment variables
before NumPy is imported, and for torch with ``torch.set_num_threads``. On a machine that other
work keeps busy, BLAS thread pools oversubscribe the cores and every multi-threaded figure
collapses (10x here); ``--threads 1`` then gives the comparable numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

BATCH, SIZES, LR, MOMENTUM = 128, (784, 256, 128, 10), 0.01, 0.9
SETTLE_S = 0.25


def parse_args(doc: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per contender")
    p.add_argument("--rounds", type=int, default=5,
                   help="the contenders take turns this many times (the seconds are shared)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--devices", default=None,
                   help="comma-separated ember devices (default: every available one)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-numpy", action="store_true")
    args = p.parse_args()
    # NOTE: BLAS libraries read these once, when loaded; so set them before numpy is imported.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    return args


def time_steps(step: Callable[[], object], sync: Callable[[object], None], seconds: float,
               warmup: int) -> tuple[float, int]:
    """Run ``step`` for about ``seconds`` after ``warmup`` untimed steps; return (steps/s, n).
    ``sync(out)`` waits for the last step's result (for asynchronous devices)."""
    out = None
    for _ in range(warmup):
        out = step()
    sync(out)
    n, t0 = 0, time.perf_counter()
    deadline = t0 + seconds
    while True:
        out = step()
        n += 1
        if time.perf_counter() >= deadline:
            break
    sync(out)
    return n / (time.perf_counter() - t0), n


def print_table(title: str, rows: list[tuple[str, list[float] | None, str]], threads: int,
                rounds: int) -> None:
    """rows: (contender, steps/s of each round or None, note). A contender's ratio is the median
    over rounds of its rate over torch's rate in the same round."""
    def kind(name):  # "ember (cuda:0)" -> "cuda"
        return name.rsplit("(", 1)[-1].rstrip(")").split(":")[0]

    torch_rates = {kind(name): r for name, r, _ in rows if name.startswith("torch") and r}
    print()
    print(f"{title}  ({threads} thread{'s' if threads != 1 else ''} for every contender; "
          f"median of {rounds} interleaved rounds)")
    print(f"{'contender':<32}{'steps/s':>10}{'vs torch':>10}  note")
    print("-" * 80)
    for name, rates, note in rows:
        rs = f"{statistics.median(rates):10.1f}" if rates else f"{'-':>10}"
        # an accelerator is compared with torch on the same kind of device where torch has one
        ref = torch_rates.get(kind(name), torch_rates.get("cpu"))
        ratio = (f"{statistics.median([r / t for r, t in zip(rates, ref)]):9.2f}x"
                 if (rates and ref) else f"{'-':>10}")
        spread = f"rounds {min(rates):.0f}-{max(rates):.0f}/s" if rates else ""
        print(f"{name:<32}{rs}{ratio}  {'; '.join(x for x in (spread, note) if x)}")
    print("(vs torch: steps/s divided by torch's in the same round, on the same kind of device "
          "where torch has it, else torch cpu; above 1 is faster than torch)")


def ember_devices(args) -> list[str]:
    import ember
    if args.devices:
        return [d.strip() for d in args.devices.split(",") if d.strip()]
    return list(ember.backends.available())


def run_contenders(args, title: str, ember_step, torch_step, numpy_step) -> None:
    """Time every contender; each *_step(...) builds its model and returns (step, sync).

    The contenders take turns, ``--rounds`` times, each for an equal share of ``--seconds``: on
    a shared machine the speed drifts by tens of percent over a minute, and a contender timed
    all at once would carry the drift into its ratio."""
    rows: list[tuple[str, list[float] | None, str]] = []
    steps: list[tuple[str, object, object, str]] = []  # (name, step, sync, note)
    try:
        devices = ember_devices(args)
    except Exception as e:  # ember itself failed to import: report it, time the rest
        devices, rows = [], [("ember", None, f"failed: {type(e).__name__}: {e}")]
    for dev in devices:
        try:
            step, sync = ember_step(dev)
            steps.append((f"ember ({dev})", step, sync, ""))
        except Exception as e:
            rows.append((f"ember ({dev})", None, f"failed: {type(e).__name__}: {e}"[:200]))
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
            torch_devices = ["cpu"]
            if any(d.startswith("cuda") for d in devices) and torch.cuda.is_available():
                torch_devices.append("cuda")
            for dev in torch_devices:
                step, sync = torch_step(dev)
                steps.append((f"torch {torch.__version__.split('+')[0]} ({dev})", step, sync,
                              f"torch.get_num_threads()={torch.get_num_threads()}"))
        except ImportError:
            rows.append(("torch", None, "not installed"))
    if not args.no_numpy:
        import numpy as np
        step, sync = numpy_step()
        steps.append((f"numpy {np.__version__} (hand-written)", step, sync, ""))
    rates: dict[str, list[float]] = {name: [] for name, *_ in steps}
    failed: dict[str, str] = {}
    for r in range(args.rounds):
        # every other round in reverse order: a turn runs on a machine left in another state by
        # the turn before it (measured on 2 cores, medians of 6, before the settling pause
        # below: torch's MLP steps/s 848 right after an opencl turn against 755 after a numpy
        # turn; Ember's 761 against 733), so each contender follows both of its neighbours
        for name, step, sync, _note in (steps if r % 2 == 0 else steps[::-1]):
            if name in failed:
                continue
            # NOTE: after its last call OpenBLAS (NumPy's BLAS, so Ember's cpu backend) keeps a
            # worker spinning on a core for about 100 ms (measured: 105 ms of CPU time in the
            # 0.5 s after a product; torch's pool spins about 8 ms). A turn starting at once
            # would run on one core less: each turn starts on a settled machine.
            time.sleep(SETTLE_S)
            try:
                rate, _n = time_steps(step, sync, args.seconds / args.rounds, args.warmup)
                rates[name].append(rate)
            except Exception as e:
                failed[name] = f"failed: {type(e).__name__}: {e}"[:200]
    for name, _step, _sync, note in steps:
        if name in failed:
            rows.append((name, None, failed[name]))
        else:
            rows.append((name, rates[name], note))
    print_table(title, rows, args.threads, args.rounds)


# -- the three implementations of one MLP training step --------------------------------------

def _data(seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int64)
    return x, y


def framework_step(lib_name: str, make_model, data, device: str):
    """(step, sync) of one SGD training step of ``make_model(nn)`` on ``data`` (numpy arrays
    x, y), in Ember or torch: the same code for both, which is the point of the comparison."""
    import importlib
    lib = importlib.import_module(lib_name)
    lib.manual_seed(0)
    model = make_model(lib.nn).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    cross_entropy = lib.nn.functional.cross_entropy
    x, y = data
    xb, yb = lib.tensor(x).to(device), lib.tensor(y).to(device)

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return step, lambda loss: loss.item()


def numpy_sgd(params, grads, bufs) -> None:
    """SGD with momentum in place, as torch.optim.SGD (dampening 0, no nesterov)."""
    for p, g, b in zip(params, grads, bufs):
        b *= MOMENTUM
        b += g
        p -= LR * b


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def ember_mlp(device: str):
    return framework_step("ember", _mlp, _data(), device)


def torch_mlp(device: str):
    return framework_step("torch", _mlp, _data(), device)


def numpy_mlp():
    import numpy as np
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    bufs = [np.zeros_like(p) for p in params]
    x, y = _data()
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        a1 = x @ w1 + b1
        h1 = np.maximum(a1, 0)
        a2 = h1 @ w2 + b2
        h2 = np.maximum(a2, 0)
        logits = h2 @ w3 + b3
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(BATCH), y]))
        d = (e / s - onehot) / BATCH
        grads = [None] * 6
        grads[4], grads[5] = h2.T @ d, d.sum(0)
        d = (d @ w3.T) * (a2 > 0)
        grads[2], grads[3] = h1.T @ d, d.sum(0)
        d = (d @ w2.T) * (a1 > 0)
        grads[0], grads[1] = x.T @ d, d.sum(0)
        numpy_sgd(params, grads, bufs)
        return loss

    return step, lambda loss: None


def main() -> None:
    args = parse_args(__doc__)
    run_contenders(args, f"MLP {'-'.join(map(str, SIZES))} training step, batch {BATCH}, "
                         f"SGD momentum {MOMENTUM}, cross_entropy",
                   ember_mlp, torch_mlp, numpy_mlp)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
