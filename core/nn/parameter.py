"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable parameters."""
from __future__ import annotations

import ember

__all__ = ["Parameter", "is_parameter"]

_Tensor = ember.Tensor


def _share(cls, data, requires_grad: bool):
    """A new ``cls`` instance that views ``data``'s storage, with no autograd history."""
    data = data.detach()
    make = getattr(_Tensor, "_make_subclass", None)
    if make is not None:
        return make(cls, data, requires_grad)
    # NOTE: core's Tensor keeps its state in __slots__; copy every slot so the Parameter shares
    # the buffer (and the version counter) with ``data`` exactly as torch's _make_subclass does.
    obj = object.__new__(cls)
    for klass in type(data).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__"):
                continue
            try:
                object.__setattr__(obj, name, object.__getattribute__(data, name))
            except AttributeError:
                pass
    obj.requires_grad_(requires_grad)
    return obj


class Parameter(_Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    ``Parameter(t)`` shares ``t``'s storage and requires grad by default.

    >>> import ember
    >>> p = ember.nn.Parameter(ember.zeros(2))
    >>> p.requires_grad
    True
    """

    def __new__(cls, data=None, requires_grad: bool = True):
        if data is None:
            data = ember.empty(0)
        return _share(cls, data, requires_grad)

    def __init__(self, *args, **kwargs):  # noqa: D107 - state is set up in __new__
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.detach().clone(), self.requires_grad))

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _rebuild_parameter(data, requires_grad):
    return Parameter(data, requires_grad)


def is_parameter(obj) -> bool:
    return isinstance(obj, Parameter)
