"""The conformance suite on every available backend, through its command line (a subprocess, so
the suite's own pytest session is separate from this one); a failing check shows up here with
the suite's table and failure list.

Also checks that the suite catches a broken kernel: a suite that cannot fail is a defect.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import ember

BACKENDS = ember.backends.available()
TIMEOUT = {"cpu": 300}   # seconds; device backends compile kernels on first use


def _run(args, timeout=900, prelude=None):
    code = "import sys; from ember.plugins.conformance import main; "
    if prelude:
        code += prelude + "; "
    code += "sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, EMBER_FALLBACK="silent")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__))))


def _tail(p, n=12000):
    return (p.stdout + "\n" + p.stderr)[-n:]


@pytest.mark.parametrize("device", BACKENDS)
def test_conformance(device, tmp_path):
    report = tmp_path / "report.json"
    html = tmp_path / "report.html"
    p = _run(["--device", device, "-q", "--report", str(report), "--html", str(html)],
             timeout=TIMEOUT.get(device, 900))
    assert report.exists(), _tail(p)
    t = json.loads(report.read_text())
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert t["counts"]["passed"] > 500, _tail(p)
    assert t["parity_checks_ran"] > 0 or t["parity_skipped"], _tail(p)
    failures = "\n".join(f"{f['row']} [{f['dtype']}] {f['check']}: {f['message'][:300]}"
                         for f in t["failures"])
    assert p.returncode == 0, (f"{t['counts']['failed']} conformance checks failed on "
                               f"{device} ({t['seconds']} s):\n{failures}")


def test_suite_catches_a_broken_kernel():
    """A wrong cpu 'exp' kernel must fail the exp row, and exit non-zero."""
    prelude = ("import numpy as np; from ember.plugins.registry import backend; "
               "backend('cpu').kernels['exp'] = lambda x: np.exp(x) + 1e-3")
    p = _run(["--device", "cpu", "--ops", "exp", "--dtypes", "float32,float64"],
             prelude=prelude, timeout=300)
    assert p.returncode == 1, _tail(p)
    assert "exp [float32] forward" in p.stdout and "exp [float64] parity" in p.stdout, _tail(p)


def test_suite_reports_fallback_and_unsupported():
    """A backend without a kernel (a cpu fallback) is reported as such; a dtype it does not
    claim is 'unsupported', not skipped or passed."""
    if "opencl" not in BACKENDS:
        pytest.skip("needs a non-cpu backend (opencl is not available here)")
    prelude = ("from ember.plugins.registry import backend, _make_fallback; "
               "b = backend('opencl'); b.kernels['exp'] = _make_fallback(b, 'exp')")
    p = _run(["--device", "opencl", "--ops", "exp", "--dtypes", "float32,bfloat16",
              "--report", "/dev/stdout"], prelude=prelude, timeout=600)
    assert p.returncode == 0, _tail(p)
    assert '"exp|float32": {' in p.stdout and '"exp": ' in p.stdout, _tail(p)
    assert '"bfloat16": "unsupported"' in p.stdout, _tail(p)
