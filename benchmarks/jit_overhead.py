"""Host overhead of replaying a traced program: eager Ember vs ember.jit.trace (and freeze) vs
torch eager and torch.jit.trace, one run, cpu.

Small models, where the time is mostly Python and dispatch rather than arithmetic:
- an MLP (3 Linear layers, batch 8, width 64), forward under no_grad;
- a small CNN (Conv2d, BatchNorm2d in eval, ReLU, MaxPool2d, Linear) on 2x3x16x16, forward
  under no_grad;
- the MLP forward + backward.
Reports microseconds per call and ratios: traced over eager (below 1.0: replay saves time) and
Ember over torch for the same mode.
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

import ember

from op_overhead import best_us

try:
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
except ImportError:  # torch is optional: the torch columns are then empty
    torch = None


def mlp(m):
    return m.Sequential(m.Linear(32, 64), m.ReLU(), m.Linear(64, 64), m.ReLU(), m.Linear(64, 10))


def cnn(m):
    return m.Sequential(m.Conv2d(3, 8, 3, padding=1), m.BatchNorm2d(8), m.ReLU(), m.MaxPool2d(2),
                        m.Conv2d(8, 16, 3), m.ReLU(), m.Flatten(), m.Linear(16 * 6 * 6, 10))


def copy_weights(src, dst):
    dst.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy())
                         for k, v in src.state_dict().items()})


def contenders(name, make, shape, backward):
    """{contender: fn} for one case."""
    ember.manual_seed(0)
    model = make(ember.nn).eval()
    x_np = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = ember.tensor(x_np)
    traced = ember.jit.trace(model, x)
    fns = {}
    if backward:
        fns["ember"] = lambda: model(x).sum().backward()
        fns["ember-jit"] = lambda: traced(x).sum().backward()
    else:
        frozen = ember.jit.freeze(traced)

        def no_grad(f):
            def run():
                with ember.no_grad():
                    f(x)
            return run
        fns["ember"] = no_grad(model)
        fns["ember-jit"] = no_grad(traced)
        fns["ember-frozen"] = no_grad(frozen)
    if torch is not None:
        ref = make(torch.nn).eval()
        copy_weights(model, ref)
        tx = torch.from_numpy(x_np)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ttraced = torch.jit.trace(ref, tx)
        if backward:
            fns["torch"] = lambda: ref(tx).sum().backward()
            fns["torch-jit"] = lambda: ttraced(tx).sum().backward()
        else:
            def t_no_grad(f):
                def run():
                    with torch.no_grad():
                        f(tx)
                return run
            fns["torch"] = t_no_grad(ref)
            fns["torch-jit"] = t_no_grad(ttraced)
    return fns


def main():
    cases = {"mlp fwd": (mlp, (8, 32), False), "cnn fwd": (cnn, (2, 3, 16, 16), False),
             "mlp fwd+bwd": (mlp, (8, 32), True)}
    numbers = {"mlp fwd": 2000, "cnn fwd": 300, "mlp fwd+bwd": 500}
    results = {case: best_us(contenders(case, *spec), numbers[case])
               for case, spec in cases.items()}
    print(f"threads: torch {torch.get_num_threads() if torch else '-'}; "
          f"python {sys.version.split()[0]}; cpu; best of 7 interleaved turns")
    cols = ["ember", "ember-jit", "ember-frozen", "torch", "torch-jit"]
    print(f"{'case':12s} " + " ".join(f"{c + ' us':>15s}" for c in cols) +
          f" {'jit/eager':>10s} {'frozen/eager':>13s} {'jit x torch-jit':>16s}")
    for case, res in results.items():
        nan = float("nan")
        line = f"{case:12s} " + " ".join(f"{res.get(c, nan):15.2f}" for c in cols)
        line += f" {res['ember-jit'] / res['ember']:10.2f}"
        line += f" {res.get('ember-frozen', nan) / res['ember']:13.2f}"
        line += f" {res['ember-jit'] / res.get('torch-jit', nan):16.2f}"
        print(line)
    print("(jit/eager: traced Ember's time over eager Ember's; below 1.0 means the replay saves "
          "host time. jit x torch-jit: traced Ember over traced torch)")


if __name__ == "__main__":
    main()
