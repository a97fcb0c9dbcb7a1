"""torch.return_types: the named tuples ops return (``values``/``indices`` of max and sort,
``sign``/``logabsdet`` of linalg.slogdet ...), printed and pickled as torch's.

>>> import ember
>>> ember.tensor([[1.0, 3.0], [4.0, 2.0]]).max(1)
ember.return_types.max(
values=tensor([3., 4.]),
indices=tensor([1, 0]))
"""
from __future__ import annotations

from collections import namedtuple

_PUBLIC = __name__.rsplit(".", 2)[0] + ".return_types"  # what the package exposes it as


def make(name: str, fields) -> type:
    """The return type ``name`` with ``fields``: a named tuple that prints each field on a line
    of its own, as torch's, and pickles by its public path (``ember.return_types.<name>``)."""
    base = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"{_PUBLIC}.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": _PUBLIC})
    globals()[name] = cls  # (pickle finds the class here, under its name)
    return cls
