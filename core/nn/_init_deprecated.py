"""The deprecated no-underscore spellings of ``ember.nn.init`` (``normal``, ``uniform`` ...):
each warns (FutureWarning, as torch) and calls the in-place ``*_`` function."""
from __future__ import annotations

import functools
import warnings

from . import init as _init

__all__ = ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


def _make_deprecate(method):
    new_name = method.__name__
    old_name = new_name[:-1]

    @functools.wraps(method)
    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return method(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated: use ``ember.nn.init.{new_name}``."
    return deprecated_init


for _name in __all__:
    globals()[_name] = _make_deprecate(getattr(_init, _name + "_"))
