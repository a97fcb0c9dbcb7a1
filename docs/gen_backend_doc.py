"""Regenerate the tables of docs/writing-a-backend.md from the contract in ember/plugins/api.py.

    python docs/gen_backend_doc.py           # rewrite the generated sections in place
    python docs/gen_backend_doc.py --check   # exit 1 if the document is stale (tests run this)

Each generated section sits between ``<!-- BEGIN GENERATED: key -->`` and
``<!-- END GENERATED: key -->``; everything outside the markers is hand-written.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DOC = Path(__file__).with_name("writing-a-backend.md")
_SECTION = re.compile(r"(<!-- BEGIN GENERATED: (?P<key>[a-z-]+) -->\n)(?P<body>.*?)"
                      r"(<!-- END GENERATED: (?P=key) -->)", re.S)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def primitives_table() -> str:
    """One row per primitive, in the contract's order: name, signature and meaning, fallback."""
    from ember.plugins.api import NO_FALLBACK, PRIMITIVES
    rows = ["| primitive | contract | cpu fallback |", "|---|---|---|"]
    for name, contract in PRIMITIVES.items():
        fallback = "never" if name in NO_FALLBACK else "allowed"
        rows.append(f"| `{name}` | {_cell(contract)} | {fallback} |")
    return "\n".join(rows) + f"\n\n{len(PRIMITIVES)} primitives.\n"


def composites_list() -> str:
    """The composite ops a plugin may give a fused kernel (``ember.core.ops.COMPOSITES``)."""
    import ember  # noqa: F401  (importing ember defines the op table)
    from ember.core.ops import COMPOSITES
    if not COMPOSITES:
        return "None yet: a `KernelSpec` may name a primitive only.\n"
    return "".join(f"- `{n}`\n" for n in sorted(COMPOSITES))


SECTIONS = {"primitives": primitives_table, "composites": composites_list}


def render(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    def fill(m):
        key = m.group("key")
        if key not in SECTIONS:
            raise SystemExit(f"{DOC.name}: unknown generated section {key!r}")
        return m.group(1) + SECTIONS[key]() + m.group(4)
    out, n = _SECTION.subn(fill, text)
    missing = set(SECTIONS) - {m.group("key") for m in _SECTION.finditer(text)}
    if missing:
        raise SystemExit(f"{DOC.name}: no markers for generated section(s) {sorted(missing)}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the document is out of date")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is stale: run python docs/gen_backend_doc.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new)
        print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
