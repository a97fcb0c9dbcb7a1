"""Ember's conformance suite: checks any installed backend against the op table.

    $ python -m ember.plugins.conformance --device opencl --ops 'add,sum*' --report out.json

It runs pytest over ``suite.py`` (forward vs NumPy float64 references and torch, gradients and
double backward vs finite differences, views and in-place semantics, errors, RNG statistics,
nn training), prints an op x dtype table, and exits non-zero when a claimed check fails.
"""
from __future__ import annotations


def main(argv=None) -> int:
    """Run the suite with command-line style arguments; returns the exit status."""
    from .runner import main as _main
    return _main(argv)


__all__ = ["main"]
