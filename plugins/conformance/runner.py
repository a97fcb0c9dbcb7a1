"""The runner: pytest, driven programmatically over ``suite.py``, with a small plugin object that
takes the device as an option, parametrises the tests over the op table and the dtypes the
device claims, watches the cpu fallback counter, and collects the op x dtype table.

    $ python -m ember.plugins.conformance --device cpu --ops 'add,sum' --dtypes float32
"""
from __future__ import annotations

import argparse
import fnmatch
import html
import importlib
import json
import os
import sys
import time
import zlib

import pytest

SUITE_MODULE = "ember.plugins.conformance.suite"
PKG_DIR = os.path.dirname(os.path.abspath(__file__))
SUITE_PATH = os.path.join(PKG_DIR, "suite.py")

OP_KINDS = ("forward", "parity", "grad", "gradgrad")
ALL_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
              "float32", "float64", "complex64", "complex128")
ANY = "-"   # the column of checks that do not depend on a dtype

# status of a cell, worst first
ORDER = ("fail", "fallback", "pass", "skip", "unsupported")


class _SuiteModule(pytest.Module):
    """The suite module, imported as ``ember.plugins.conformance.suite`` (never by path: the
    repository root is the package, and a path import would load a second copy of ember)."""

    def _getobj(self):
        return importlib.import_module(SUITE_MODULE)


class ConformancePlugin:
    """The pytest plugin object: ``--ember-device`` option, parametrisation, fallback watch,
    and the results table."""

    def __init__(self, ops: str | None = None, dtypes: str | None = None,
                 shard: tuple[int, int] = (0, 1)):
        self.op_patterns = [p.strip() for p in ops.split(",")] if ops else None
        self.shard = shard
        self.dtype_filter = [d.strip() for d in dtypes.split(",")] if dtypes else None
        self.cells: dict[str, tuple] = {}       # nodeid -> (row, dtype, kind)
        self.results: dict[tuple, dict] = {}    # (row, dtype) -> {"checks": {kind: outcome}}
        self.failures: list[dict] = []
        self.fallbacks: dict[tuple, dict] = {}
        self.device_name = None
        self.claimed_dtypes: list[str] = []
        self.claimed_ops: set[str] = set()
        self.parity_ran = 0
        self.parity_skipped = None

    # -- options and setup -------------------------------------------------------------------

    def pytest_addoption(self, parser):
        group = parser.getgroup("ember", "ember conformance")
        group.addoption("--ember-device", default="cpu", help="device type under test")

    def pytest_configure(self, config):
        import ember
        self.device_name = config.getoption("--ember-device")
        caps = ember.backends.capabilities(self.device_name)   # a clear error if missing
        self.caps = caps
        self.claimed_dtypes = list(caps["dtypes"])
        self.claimed_ops = set(caps["ops"])
        self.dtypes = [d for d in ALL_DTYPES
                       if self.dtype_filter is None or d in self.dtype_filter]

    def wanted(self, row: str) -> bool:
        index, count = self.shard
        if count > 1 and zlib.crc32(row.encode()) % count != index:
            return False
        if self.op_patterns is None:
            return True
        base = row.split(".")[0]
        return any(fnmatch.fnmatchcase(row, p) or fnmatch.fnmatchcase(base, p)
                   for p in self.op_patterns)

    # -- fixtures ----------------------------------------------------------------------------

    @pytest.fixture
    def device(self):
        import ember
        return ember.device(self.device_name)

    @pytest.fixture
    def torch_module(self):
        try:
            import torch
        except Exception as e:
            self.parity_skipped = f"torch is not importable ({type(e).__name__}: {e})"
            pytest.skip(self.parity_skipped)
        return torch

    @pytest.fixture
    def torch_or_none(self):
        try:
            import torch
            return torch
        except Exception:
            return None

    # -- parametrisation ---------------------------------------------------------------------

    def _row_cells(self, kind):
        """(row, dtype, param) for each cell of this kind the device claims; records the
        unclaimed ones as unsupported."""
        from . import opinfo, suite
        out = []

        def add(row, defined, param_of, fd_only=False):
            if not self.wanted(row):
                return
            for d in self.dtypes:
                if d not in defined and d != ANY:
                    continue
                if d != ANY and d not in self.claimed_dtypes:
                    self.results.setdefault((row, d), {"checks": {}})["checks"][kind] = \
                        "unsupported"
                    continue
                out.append((row, d, param_of(d)))
            if ANY in defined:
                out.append((row, ANY, param_of(ANY)))

        if kind in OP_KINDS:
            fd = next((d for d in ("float64", "float32") if d in self.claimed_dtypes), None)
            for info in opinfo.OPS.values():
                dts = info.dtypes
                if kind in ("grad", "gradgrad"):
                    if not info.grad:
                        continue
                    dts = [d for d in dts if opinfo.is_float(d)]
                    if fd is None:
                        dts = []
                    if kind == "gradgrad":
                        dts = [fd] if info.gradgrad and fd in info.dtypes else []
                    # NOTE: without a finite-difference dtype there is nothing to compare with
                add(info.name, dts, lambda d, i=info: (i, d))
        elif kind == "inplace":
            for name, (_, _, which) in suite.INPLACE.items():
                dts = opinfo.ALL if which == "all" else opinfo.NUMERIC
                add(f"inplace.{name}", dts, lambda d, n=name: (n, d))
        elif kind == "views":
            add("views.semantics", opinfo.ALL, lambda d: ("semantics", d))
        elif kind == "errors":
            for name in suite.ERRORS:
                add(f"errors.{name}", (ANY,), lambda d, n=name: (n, d))
        elif kind == "rng":
            for name, (_, dts) in suite.RNG.items():
                add(f"rng.{name}", dts, lambda d, n=name: (n, d))
        elif kind == "nn":
            for name, (_, dts) in suite.NN.items():
                add(f"nn.{name}", dts, lambda d, n=name: (n, d))
        return out

    def pytest_generate_tests(self, metafunc):
        kind = getattr(metafunc.function, "ember_kind", None)
        if kind is None:
            return
        argname = "cell" if kind in OP_KINDS else "case"
        cells = self._row_cells(kind)
        ids = [f"{row}-{d}" for row, d, _ in cells]
        self._pending = getattr(self, "_pending", {})
        for row, d, _ in cells:
            self._pending[(metafunc.function.__name__, f"{row}-{d}")] = (row, d, kind)
        metafunc.parametrize(argname, [p for _, _, p in cells], ids=ids)

    def pytest_collection_modifyitems(self, items):
        for item in items:
            cs = getattr(item, "callspec", None)
            if cs is None:
                continue
            key = (item.function.__name__, cs.id)
            if key in self._pending:
                self.cells[item.nodeid] = self._pending[key]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path, parent):
        # NOTE: a plain Dir, not a Package: pytest would import the package's __init__.py by
        # path, under the checkout's folder name (the repository root is the package)
        return pytest.Dir.from_parent(parent, path=path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path, parent):
        if os.path.abspath(str(module_path)) == SUITE_PATH:
            return _SuiteModule.from_parent(parent, path=module_path)
        return None

    # -- the fallback watch ------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        from ember import backends
        before = backends.fallback_count(self.device_name) if self.device_name != "cpu" else {}
        result = yield
        if self.device_name == "cpu":
            return result
        after = backends.fallback_count(self.device_name)
        grown = {op: n - before.get(op, 0) for op, n in after.items() if n > before.get(op, 0)}
        if grown:
            cell = self.cells.get(item.nodeid)
            if cell:
                self.fallbacks.setdefault(cell[:2], {}).update(grown)
            claimed = sorted(op for op in grown if op in self.claimed_ops)
            if claimed:
                raise AssertionError(f"primitives the {self.device_name} backend claims ran on "
                                     f"cpu instead (fallback_count grew): {claimed}")
        return result

    # -- results -----------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report):
        cell = self.cells.get(report.nodeid)
        if cell is None:
            return
        row, d, kind = cell
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
            checks = self.results.setdefault((row, d), {"checks": {}})["checks"]
            checks[kind] = outcome
            if outcome == "fail":
                self.failures.append({"row": row, "dtype": d, "check": kind,
                                      "message": _message(report)})
            if outcome == "skip" and kind in ("errors",):
                checks[kind] = "skip"

        elif report.when == "teardown" and report.failed:
            self.results.setdefault((row, d), {"checks": {}})["checks"][kind] = "fail"
            self.failures.append({"row": row, "dtype": d, "check": kind,
                                  "message": _message(report)})

    def pytest_sessionfinish(self, session):
        from . import suite
        self.parity_ran = suite.PARITY["ran"]

    def status(self, key) -> str:
        checks = self.results[key]["checks"]
        vals = set(checks.values())
        if "fail" in vals:
            return "fail"
        if key in self.fallbacks:
            return "fallback"
        if "pass" in vals:
            return "pass"
        if "skip" in vals:
            return "skip"
        return "unsupported"

    def table(self) -> dict:
        rows: dict[str, dict] = {}
        for (row, d) in self.results:
            rows.setdefault(row, {})[d] = self.status((row, d))
        counts = {"passed": 0, "failed": 0, "skipped": 0, "unsupported": 0}
        for r in self.results.values():
            for v in r["checks"].values():
                counts[{"pass": "passed", "fail": "failed", "skip": "skipped",
                        "unsupported": "unsupported"}[v]] += 1
        cells = {s: sum(1 for row in rows.values() for v in row.values() if v == s)
                 for s in ORDER}
        return {"device": self.device_name, "backend": {k: self.caps[k] for k in
                                                       ("name", "version", "devices")},
                "claimed_dtypes": self.claimed_dtypes,
                "dtypes": [d for d in self.dtypes] + [ANY],
                "rows": rows,
                "checks": {f"{r}|{d}": v["checks"] for (r, d), v in self.results.items()},
                "failures": self.failures,
                "fallbacks": {f"{r}|{d}": v for (r, d), v in self.fallbacks.items()},
                "counts": counts, "cells": cells,
                "parity_checks_ran": self.parity_ran,
                "parity_skipped": self.parity_skipped}


def _message(report) -> str:
    lr = report.longrepr
    if hasattr(lr, "reprcrash") and lr.reprcrash is not None:
        msg = lr.reprcrash.message
    else:
        msg = str(lr)
    return msg.strip()


SYMBOL = {"pass": "ok", "fail": "FAIL", "unsupported": "unsup", "fallback": "fb",
          "skip": "skip"}


def format_table(t: dict) -> str:
    cols = [d for d in t["dtypes"] if any(d in r for r in t["rows"].values())]
    width = max([len(r) for r in t["rows"]] + [10])
    short = {"bool": "bool", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
             "int64": "i64", "float16": "f16", "bfloat16": "bf16", "float32": "f32",
             "float64": "f64", "complex64": "c64", "complex128": "c128", ANY: "any"}
    lines = [" " * width + " " + " ".join(f"{short[c]:>5}" for c in cols)]
    for row, cells in t["rows"].items():
        lines.append(f"{row:<{width}} " + " ".join(f"{SYMBOL.get(cells.get(c), ''):>5}"
                                                  for c in cols))
    return "\n".join(lines)


def format_html(t: dict) -> str:
    colour = {"pass": "#c8f7c5", "fail": "#f7a8a8", "unsupported": "#e0e0e0",
              "fallback": "#f7e3a1", "skip": "#d8e4f7"}
    cols = [d for d in t["dtypes"] if any(d in r for r in t["rows"].values())]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row, cells in t["rows"].items():
        tds = []
        for c in cols:
            s = cells.get(c)
            if s is None:
                tds.append("<td></td>")
            else:
                tds.append(f'<td style="background:{colour[s]}">{html.escape(s)}</td>')
        body.append(f"<tr><th style='text-align:left'>{html.escape(row)}</th>{''.join(tds)}</tr>")
    fails = "".join(f"<li><b>{html.escape(f['row'])} [{html.escape(f['dtype'])}] "
                    f"{html.escape(f['check'])}</b>: <pre>{html.escape(f['message'])}</pre></li>"
                    for f in t["failures"])
    c = t["counts"]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ember conformance: {html.escape(t['device'])}</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:2px 6px;font-size:12px;text-align:center}}
pre{{white-space:pre-wrap;font-size:11px}}</style></head><body>
<h1>ember conformance: {html.escape(t['device'])}</h1>
<p>{html.escape(str(t['backend']))}</p>
<p>{c['passed']} passed, {c['failed']} failed, {c['unsupported']} unsupported,
{c['skipped']} skipped; {t['parity_checks_ran']} torch parity checks ran.</p>
<table><tr><th>op</th>{head}</tr>
{''.join(body)}
</table><h2>Failures</h2><ul>{fails}</ul></body></html>
"""


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes I/K, e.g. 0/4, not {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= I < K")
    return index, count


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m ember.plugins.conformance",
        description="Run ember's conformance suite against an installed backend.")
    p.add_argument("--device", required=True, help="backend name, e.g. cpu or opencl")
    p.add_argument("--ops", help="comma-separated fnmatch patterns of rows, e.g. 'add,sum*,"
                                 "inplace.*'")
    p.add_argument("--dtypes", help="comma-separated dtypes, e.g. float32,int64")
    p.add_argument("--shard", default="0/1", type=_shard, metavar="I/K",
                   help="run only the I-th of K disjoint parts of the rows (0 <= I < K), for "
                        "running the suite in K processes; the parts' reports add up")
    p.add_argument("--report", help="write the table as JSON to this file")
    p.add_argument("--html", help="write the table as a self-contained HTML page")
    p.add_argument("-q", "--quiet", action="store_true", help="less pytest output")
    p.add_argument("--pytest-args", default="", help="extra arguments for pytest (quoted)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Run the suite; returns the exit status (0: every claimed check passed)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import ember
    try:
        ember.backends.capabilities(args.device)
    except RuntimeError as e:
        print(f"ember conformance: {e}", file=sys.stderr)
        return 2
    plugin = ConformancePlugin(args.ops, args.dtypes, args.shard)
    pargs = [SUITE_PATH, f"--ember-device={args.device}",
             # NOTE: the repository root is the package: keep pytest from walking up to it for
             # conftests or ini files (see DESIGN.md's packaging pitfall)
             "-p", "no:cacheprovider", f"--confcutdir={PKG_DIR}", f"--rootdir={PKG_DIR}",
             "-c", os.devnull,
             "--tb=short", "-W", "ignore::DeprecationWarning"]
    pargs += ["-qq", "--no-header", "--no-summary"] if args.quiet else ["-q", "-rf"]
    pargs += args.pytest_args.split()
    t0 = time.perf_counter()
    rc = pytest.main(pargs, plugins=[plugin])
    elapsed = time.perf_counter() - t0
    if plugin.device_name is None:
        print(f"ember conformance: pytest did not run (exit status {rc})", file=sys.stderr)
        return int(rc) or 2
    t = plugin.table()
    t["seconds"] = round(elapsed, 1)
    print()
    print(f"ember conformance: device {args.device} ({t['backend']['version']}), claimed dtypes "
          f"{', '.join(t['claimed_dtypes'])}")
    print(format_table(t))
    if t["fallbacks"]:
        print("\nfell back to cpu (op|dtype: primitive calls):")
        for k, v in t["fallbacks"].items():
            print(f"  {k}: {v}")
    if t["failures"]:
        print(f"\nfailures ({len(t['failures'])}):")
        for f in t["failures"]:
            first = f["message"].splitlines()
            print(f"  {f['row']} [{f['dtype']}] {f['check']}: {' | '.join(first[:3])[:400]}")
    if t["parity_skipped"]:
        print(f"\ntorch parity: NOT RUN: {t['parity_skipped']}")
    else:
        print(f"\ntorch parity: {t['parity_checks_ran']} comparisons with torch ran")
    c = t["counts"]
    print(f"{c['passed']} passed, {c['failed']} failed, {c['unsupported']} unsupported, "
          f"{c['skipped']} skipped, {len(t['fallbacks'])} cells fell back "
          f"({elapsed:.1f} s)")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(t, f, indent=1)
    if args.html:
        with open(args.html, "w") as f:
            f.write(format_html(t))
    if c["failed"] or rc not in (0, 5):
        return 1
    return 0
