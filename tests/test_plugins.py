"""Third-party backends: installed with pip, found through entry points, failing softly.

The example plugins under plugins/examples/ are pip-installed (``--no-deps --no-build-isolation``,
offline) into a throw-away virtual environment that sees this one's site-packages through a .pth
file, so each check runs in a fresh process exactly as a user's would, and ``pip uninstall`` is
the real one. Broken plugins are tiny generated packages: a module next to a ``<name>.dist-info``
folder whose entry_points.txt is all importlib.metadata needs.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

import ember
from ember.plugins import PRIMITIVES, cli

ROOT = Path(ember.__file__).resolve().parent
EXAMPLES = ROOT / "plugins" / "examples"


class PluginEnv:
    """A virtual environment with ember (from this one) and some plugins pip-installed."""

    def __init__(self, path: Path):
        self.path = path
        venv.EnvBuilder(with_pip=False).create(path)
        self.python = str(path / ("Scripts" if os.name == "nt" else "bin") / "python")
        purelib = self.run("import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
        self.site = Path(purelib)
        dirs = [d for d in site.getsitepackages() + [site.getusersitepackages()]
                if os.path.isdir(d)]
        (self.site / "_ember_test_parent.pth").write_text(
            "import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dirs) + "\n")

    def pip(self, *args: str) -> str:
        cmd = [sys.executable, "-m", "pip", "--python", self.python, "--disable-pip-version-check",
               "-q", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    def install(self, *examples: str) -> None:
        srcs = []
        for name in examples:
            # Build from a copy: an in-tree build would leave build/ and *.egg-info in the repo.
            src = self.path.parent / f"src-{name}"
            if not src.exists():
                shutil.copytree(EXAMPLES / name, src,
                                ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                              "__pycache__"))
            srcs.append(str(src))
        self.pip("install", "--no-deps", "--no-build-isolation", "--no-index", *srcs)

    def run(self, code: str, *args: str, env: dict | None = None, check=True) -> str:
        full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        full_env.update(env or {})
        r = subprocess.run([self.python, "-c", textwrap.dedent(code), *args], capture_output=True,
                           text=True, timeout=120, env=full_env, cwd=self.path)
        if check:
            assert r.returncode == 0, f"subprocess failed:\n{r.stdout}\n{r.stderr}"
        return r.stdout if check else r


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    env = PluginEnv(tmp_path_factory.mktemp("plugins") / "venv")
    env.install("ember-strict", "ember-tracer")
    return env


def test_installed_plugins_are_listed(both):
    out = both.run("""
        import json, ember
        print(json.dumps({"available": ember.backends.available(),
                          "registered": ember.backends.registered()}))
    """)
    got = json.loads(out)
    assert {"cpu", "strict", "tracer"} <= set(got["available"])
    assert got["registered"]["strict"] == "strict" and got["registered"]["tracer"] == "tracer"


def test_strict_tensors_and_transfers(both):
    out = both.run("""
        import ember
        x = ember.ones(3, device="strict")
        print(x.device, x.dtype, x.tolist())
        h = ember.arange(6.0).reshape(2, 3)
        s = h.to("strict")
        s.add_(1)                              # a transfer copies: h must not change
        print(h.sum().item(), s.sum().item(), s.T.contiguous().cpu().tolist())
        caps = ember.backends.capabilities("strict")
        print(len(caps["missing"]), caps["version"].startswith("ember-strict"))
    """).splitlines()
    assert out[0] == "strict:0 ember.float32 [1.0, 1.0, 1.0]"
    assert out[1] == "15.0 21.0 [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]"
    assert out[2] == "0 True"  # every primitive is native: nothing falls back to cpu


TRAIN = """
    import sys, ember, ember.nn as nn
    dev = sys.argv[1]
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    x = ember.randn(32, 4)
    y = x.sum(1, keepdim=True)
    model, x, y = model.to(dev), x.to(dev), y.to(dev)
    opt = ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        print(repr(loss.item()))
    print(model[0].weight.device, model[0].weight.grad.device)
"""


def test_training_step_on_strict_matches_cpu(both):
    strict = both.run(TRAIN, "strict").splitlines()
    cpu = both.run(TRAIN, "cpu").splitlines()
    assert strict[-1] == "strict:0 strict:0"
    losses = [float(v) for v in strict[:-1]]
    assert losses[-1] < losses[0]
    # Same kernels underneath, every call checked: the numbers are the cpu backend's, bit for bit.
    assert strict[:-1] == cpu[:-1]


def test_two_plugins_in_one_process(both):
    out = both.run("""
        import ember, ember_tracer
        a = ember.tensor([-1.0, 0.0, 2.0], device="strict")
        b = ember.tensor([-1.0, 0.0, 2.0], device="tracer")
        ember_tracer.reset()
        r = b.relu()            # the fused kernel ember_tracer registers for the composite
        print(ember_tracer.counts(), r.tolist(), (a.relu().cpu() == r.cpu()).all().item())
        try:
            a + b
        except RuntimeError as e:
            print("mismatch:", e)
        print((a + b.to("strict")).device, ember.nn.functional.relu(a).device)
    """).splitlines()
    assert out[0] == "{'relu': 1} [0.0, 0.0, 2.0] True"
    assert out[1].startswith("mismatch: Expected all tensors to be on the same device")
    assert "strict:0" in out[1] and "tracer:0" in out[1]
    assert out[2] == "strict:0 strict:0"


def test_conformance_suite_runs_on_an_installed_plugin(both):
    """The one command a plugin author runs, here on a few rows (the full table is `make`-sized)."""
    rows = "add,exp,where,matmul,view,getitem.advanced,setitem.basic,rng.rand,nn.mlp_sgd"
    r = subprocess.run([both.python, "-m", "ember.plugins.conformance", "--device", "strict",
                        "--ops", rows, "-q"], capture_output=True, text=True, timeout=300,
                       cwd=both.path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "device strict (ember-strict" in r.stdout and " 0 failed" in r.stdout


def test_strict_reports_contract_violations(both):
    """The checks are real: a broken kernel is caught, a legitimate NaN is not."""
    out = both.run("""
        import numpy as np
        from ember_strict import ContractViolation, checked
        f32 = lambda *v: np.array(v, np.float32)
        bad = {
            "aliasing": (checked("add", lambda a, b: a), (f32(1, 2), f32(3, 4))),
            "dtype": (checked("mul", lambda a, b: (a * b).astype(np.float64)),
                      (f32(1, 2), f32(3, 4))),
            "shape": (checked("sum", lambda x, axes, keepdim: np.asarray(x.sum())),
                      (f32(1, 2), (0,), True)),
            "nan": (checked("exp", lambda x: x * np.nan), (f32(1, 2),)),
            "view": (checked("permute", lambda x, axes: x.transpose(axes).copy()),
                     (np.ones((2, 3), np.float32), (1, 0))),
            "mutation": (checked("neg", lambda x: -np.negative(x, out=x)), (f32(1, 2),)),
            "propagate": (checked("maximum", np.fmax), (f32(np.nan, 1), f32(0, 0))),
            "range": (checked("rand_uniform", lambda g, shape, dtype: np.ones(shape, dtype.np)),
                      (None, (3,), __import__("ember").float16)),
        }
        for what, (k, args) in bad.items():
            try:
                k(*args)
                print(what, "NOT CAUGHT")
            except ContractViolation as e:
                assert isinstance(e, AssertionError)
                print(what, "|", str(e).splitlines()[0])
        ok = [checked("log", np.log)(f32(-1, 0)), checked("div", np.true_divide)(f32(0), f32(0)),
              checked("sub", np.subtract)(f32(np.inf), f32(np.inf)),
              checked("sin", np.sin)(f32(np.inf)), checked("sqrt", np.sqrt)(f32(-4))]
        print("legit NaN accepted", all(np.isnan(r).any() for r in ok))
    """).splitlines()
    got = dict(line.split(" ", 1) for line in out[:-1])
    assert not [w for w, msg in got.items() if "NOT CAUGHT" in msg], out
    assert "kernel 'add'" in got["aliasing"] and "shares memory with input 0" in got["aliasing"]
    assert "dtype is float64, expected float32" in got["dtype"]
    assert "shape is (), expected (1,)" in got["shape"]
    assert "kernel 'exp'" in got["nan"] and "NaN" in got["nan"]
    assert "does not share memory" in got["view"]
    assert "modified its input 0" in got["mutation"]
    assert "must propagate NaN" in got["propagate"]
    assert "[0, 1)" in got["range"]
    assert out[-1] == "legit NaN accepted True"


def test_pip_uninstall_removes_a_plugin_cleanly(tmp_path):
    env = PluginEnv(tmp_path / "venv")
    env.install("ember-strict")
    probe = "import ember; print(ember.backends.available(), sorted(ember.backends.failures()))"
    assert "'strict'" in env.run(probe)
    env.pip("uninstall", "-y", "ember-strict")
    out = env.run(probe)
    assert "strict" not in out  # neither available nor recorded as a failure
    left = sorted(p.name for p in env.site.iterdir() if "strict" in p.name.lower())
    assert left == [], f"pip uninstall left {left} behind"
    r = env.run("import ember; ember.ones(1, device='strict')", check=False)
    assert r.returncode != 0 and "unknown device type 'strict'" in r.stderr


# ---- plugins that are broken, each in its own way -----------------------------------------------

BAD_PLUGINS = {
    # name: module source
    "badapi": """
        from ember.plugins import BackendSpec, hookimpl
        EMBER_PLUGIN_API = 2
        @hookimpl
        def ember_register_backends():
            return [BackendSpec(name="badapi", load=lambda: None, api_version=2)]
    """,
    "badimport": """
        raise ImportError("libfrobnicator.so.3: cannot open shared object file")
    """,
    "badkernel": """
        from ember.plugins import KernelSpec, hookimpl
        EMBER_PLUGIN_API = 1
        @hookimpl
        def ember_register_kernels():
            return [KernelSpec(backend="cpu", op="frobnicate", kernel=lambda x: x)]
    """,
    "badload": """
        from ember.plugins import BackendSpec, hookimpl
        EMBER_PLUGIN_API = 1
        def _load():
            raise RuntimeError("no frobnicator device found (is the driver loaded?)")
        @hookimpl
        def ember_register_backends():
            return [BackendSpec(name="badload", load=_load)]
    """,
}


def _fake_dist(root: Path, name: str, source: str) -> None:
    module = f"ember_{name}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ember]\n{name} = {module}\n")


@pytest.fixture(scope="module")
def bad_plugins(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_plugins")
    for name, source in BAD_PLUGINS.items():
        _fake_dist(root, name, source)
    return root


def _run_with(path: Path, code: str):
    env = dict(os.environ, PYTHONPATH=str(path), EMBER_FALLBACK="error")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=env)


def test_broken_plugins_are_reported_not_fatal(bad_plugins):
    r = _run_with(bad_plugins, """
        import json, ember
        out = {"sum": (ember.ones(3) * 2).sum().item(),   # import ember and cpu still work
               "available": ember.backends.available(), "failures": ember.backends.failures(),
               "cpu_kernel": "frobnicate" in ember.backends.capabilities("cpu")["ops"],
               "asked": {}}
        for name in ("badapi", "badimport", "badload"):
            try:
                ember.zeros(1, device=name)
            except RuntimeError as e:
                out["asked"][name] = str(e)
        print(json.dumps(out))
    """)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["sum"] == 6.0 and not got["cpu_kernel"]
    assert not {"badapi", "badimport", "badload"} & set(got["available"])
    fail = got["failures"]
    assert "targets ember plugin API version 2, but this ember provides version 1" in fail["badapi"]
    assert "ImportError: libfrobnicator.so.3" in fail["badimport"]
    assert "'badimport' (ember_badimport)" in fail["badimport"]
    assert ("plugin 'badkernel' registers a kernel for op 'frobnicate', which the ember op table "
            "does not define") in fail["badkernel (kernels)"]
    assert "RuntimeError: no frobnicator device found" in fail["badload"]
    for name in ("badapi", "badimport", "badload"):
        msg = got["asked"][name]
        assert msg.startswith(f"ember backend {name!r} is installed but failed to load: "), msg
        assert fail[name] in msg


def test_ember_devices_shows_backends_and_failures(bad_plugins):
    r = _run_with(bad_plugins, "from ember.plugins.cli import main; main(['devices'])")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert text.startswith("cpu  (plugin 'cpu', numpy ")
    assert f"kernels: {len(PRIMITIVES)}/{len(PRIMITIVES)} primitives native" in text
    failed = text.split("installed but failed to load:\n", 1)[1]
    for name in ("badapi", "badimport", "badload", "badkernel (kernels)"):
        assert f"\n  {name}: " in "\n" + failed
    r = subprocess.run([sys.executable, "-m", "ember.plugins.cli", "devices", "--json"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(bad_plugins)))
    assert r.returncode == 0, r.stderr
    table = json.loads(r.stdout)
    assert "badload" in table["failed"] and table["backends"][0]["name"] == "cpu"


def test_ember_devices_in_process(capsys):
    assert cli.main(["devices", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["backends"]}
    cpu = rows["cpu"]
    assert cpu["primitives"] == len(PRIMITIVES) and cpu["missing"] == []
    assert "float64" in cpu["dtypes"] and cpu["devices"] == ["cpu"]
    assert cli.main([]) == 2  # no command: usage


# ---- the document and the contract agree ---------------------------------------------------------

def _gen():
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_backend_doc",
                                                  ROOT / "docs" / "gen_backend_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_backend_doc_primitive_table_is_current():
    gen = _gen()
    text = gen.DOC.read_text()
    assert gen.render(text) == text, "docs/writing-a-backend.md is stale: run " \
                                     "python docs/gen_backend_doc.py"
    table = text.split("<!-- BEGIN GENERATED: primitives -->")[1].split("<!-- END")[0]
    listed = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert listed == list(PRIMITIVES)


def test_backend_doc_check_fails_when_stale(tmp_path, monkeypatch):
    gen = _gen()
    stale = tmp_path / "writing-a-backend.md"
    stale.write_text(gen.DOC.read_text().replace("| `exp` |", "| `expo` |"))
    monkeypatch.setattr(gen, "DOC", stale)
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
