"""The ``ember`` command: ``ember devices`` lists the installed backends and what they claim.

    $ ember devices
    cpu  (plugin 'cpu', numpy 2.4.6)
      devices: cpu
      dtypes:  bool uint8 int8 int16 int32 int64 float16 bfloat16 float32 float64
      kernels: 87/87 primitives native, +7 other
    ...
    failed to load:
      cuda: ImportError: cupy is not installed ...

Also ``python -m ember.plugins.cli devices``; ``--json`` prints the same as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import registry
from .api import PRIMITIVES


def device_table() -> dict:
    """What ``ember devices`` shows: {"backends": [...], "failed": {name: cause}, "notes": [...]}.

    >>> "cpu" in [b["name"] for b in device_table()["backends"]]
    True
    """
    available = set(registry.available())
    failed = registry.failures()
    rows = []
    for name, plugin in sorted(registry.registered().items(),
                               key=lambda kv: (kv[0] != "cpu", kv[0])):
        if name not in available:
            continue
        caps = registry.capabilities(name)
        native = [op for op in caps["ops"] if op in PRIMITIVES]
        rows.append({"name": name, "plugin": plugin, "version": caps["version"],
                     "devices": caps["devices"], "dtypes": caps["dtypes"],
                     "primitives": len(native), "primitives_total": len(PRIMITIVES),
                     "missing": caps["missing"],
                     "other_kernels": sorted(op for op in caps["ops"] if op not in PRIMITIVES)})
    return {"backends": rows, "failed": dict(sorted(failed.items())), "notes": registry.notes()}


_DTYPE_ORDER = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                "float32", "float64")


def _dtypes(names) -> str:
    order = {n: i for i, n in enumerate(_DTYPE_ORDER)}
    return " ".join(sorted(names, key=lambda n: (order.get(n, len(order)), n)))


def _kernels(row) -> str:
    text = f"{row['primitives']}/{row['primitives_total']} primitives native"
    if row["other_kernels"]:
        text += f", +{len(row['other_kernels'])} other ({' '.join(row['other_kernels'])})"
    if row["missing"]:
        shown = " ".join(row["missing"][:6]) + (" ..." if len(row["missing"]) > 6 else "")
        text += f" (cpu fallback: {shown})"
    return text


def format_table(table: dict) -> str:
    out = []
    for r in table["backends"]:
        out += [f"{r['name']}  (plugin {r['plugin']!r}, {r['version']})",
                f"  devices: {', '.join(r['devices'])}",
                f"  dtypes:  {_dtypes(r['dtypes'])}",
                f"  kernels: {_kernels(r)}"]
    if table["failed"]:
        out += ["", "installed but failed to load:"]
        out += [f"  {name}: {cause}" for name, cause in table["failed"].items()]
    if table["notes"]:
        out += ["", "notes:"] + [f"  {n}" for n in table["notes"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ember`` console script."""
    parser = argparse.ArgumentParser(prog="ember", description="Ember command-line tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    dev = sub.add_parser("devices", help="list backends, their devices, dtypes and kernels, and "
                                         "the plugins that failed to load")
    dev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    table = device_table()
    print(json.dumps(table, indent=2) if args.json else format_table(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
