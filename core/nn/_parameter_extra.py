"""``Buffer``, ``UninitializedParameter`` and ``UninitializedBuffer`` (torch.nn.parameter's).

``Buffer(t)`` assigned to a Module attribute registers a buffer. The uninitialized kinds hold no
data until ``materialize(shape)``; lazy modules create them and fill them on the first call.
Using one before that raises, as torch's do.
"""
from __future__ import annotations

import ember

from .parameter import Parameter, _share

__all__ = ["Buffer", "UninitializedTensorMixin", "UninitializedParameter",
           "UninitializedBuffer", "is_lazy"]

_Tensor = ember.Tensor


def _set_persistent(tensor, persistent: bool) -> None:
    # NOTE: Tensor keeps its state in __slots__ (no __dict__), so the flag lives in the rarely
    # used ``_aux`` dict; a fresh dict, since ``_share`` copied the source tensor's one
    tensor._aux = dict(tensor._aux or {}, persistent=bool(persistent))


class _BufferMeta(type):
    # NOTE: as torch's, an UninitializedBuffer counts as a Buffer, so assigning one to a Module
    # attribute registers it (with its ``persistent`` flag)
    def __instancecheck__(cls, instance) -> bool:
        if cls is Buffer and isinstance(instance, UninitializedBuffer):
            return True
        return super().__instancecheck__(instance)


class Buffer(_Tensor, metaclass=_BufferMeta):
    """A tensor that registers itself as a module buffer when assigned to a Module attribute.

    >>> import ember
    >>> m = ember.nn.Module()
    >>> m.stats = ember.nn.Buffer(ember.zeros(2), persistent=False)
    >>> [n for n, _ in m.named_buffers()], list(m.state_dict())
    (['stats'], [])
    """

    __slots__ = ()

    def __new__(cls, data=None, *, persistent: bool = True):
        if data is None:
            data = ember.empty(0)
        buffer = _share(cls, data, data.requires_grad)
        _set_persistent(buffer, persistent)
        return buffer

    @property
    def persistent(self) -> bool:
        return self._aux.get("persistent", True)


_UNINITIALIZED_USE = ("Attempted to use an uninitialized parameter in {}. This error happens "
                      "when you are using a `LazyModule` or explicitly manipulating "
                      "`torch.nn.parameter.{}` objects. When using LazyModules Call `forward` "
                      "with a dummy batch to initialize the parameters before calling torch "
                      "functions")

# the attributes that work before materialize(): autograd and placement metadata, and the
# internals a Module touches to register the tensor; everything else raises, as torch's
# __torch_function__ does for all but a short list of methods
_CONVERSIONS = ("to", "cpu", "cuda", "float", "double", "half", "bfloat16", "type")
_ALLOWED = frozenset(_CONVERSIONS + (
    "materialize", "cls_to_become", "persistent", "dtype", "device", "requires_grad",
    "requires_grad_", "grad", "grad_fn", "is_leaf", "is_floating_point", "is_complex",
    "get_device", "_requires_grad", "_grad_fn", "_grad", "_aux", "_vc", "_base", "_dtype",
    "_device", "_output_nr", "_aux_dict", "data", "size", "_converted",
))


class UninitializedTensorMixin:
    """Blocks every use of the tensor until ``materialize`` gives it a shape."""

    __slots__ = ()
    cls_to_become = None

    def __getattribute__(self, name: str):
        if name in _ALLOWED or (name.startswith("__") and name.endswith("__")):
            return object.__getattribute__(self, name)
        if name == "shape":
            raise RuntimeError(
                "Can't access the shape of an uninitialized parameter or buffer. This error "
                "usually happens in `load_state_dict` when trying to load an uninitialized "
                "parameter into an initialized one. Call `forward` to initialize the "
                "parameters before accessing their attributes.")
        if name == "share_memory_":
            raise RuntimeError(
                "Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                "initialize the parameters before calling `module.share_memory()`.")
        raise ValueError(_UNINITIALIZED_USE.format(repr(name), type(self).__name__))

    @property
    def data(self):
        return _Tensor._wrap(object.__getattribute__(self, "_data"), self._dtype, self._device)

    @data.setter
    def data(self, value):
        # NOTE: read ``value``'s storage directly: it may be uninitialized too (Module.to()
        # converts an uninitialized parameter into another one and assigns its data)
        read = object.__getattribute__
        self._data, self._dtype, self._device = (read(value, "_data"), read(value, "_dtype"),
                                                 read(value, "_device"))
        self._vc = read(value, "_vc")

    def size(self, *args, **kwargs):
        return self.data.size(*args, **kwargs)

    def _converted(self, converted):
        """An uninitialized tensor of this kind on ``converted``'s device and dtype."""
        if converted.device == self._device and converted.dtype == self._dtype:
            return self
        result = _share(type(self), converted, self.requires_grad)
        if isinstance(self, UninitializedBuffer):
            _set_persistent(result, self.persistent)
        return result

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor storage of ``shape`` (uninitialised values), on ``device`` and of
        ``dtype`` (default: those it was created with), and turn it into ``cls_to_become``."""
        device = self._device if device is None else device
        dtype = self._dtype if dtype is None else dtype
        self.data = ember.empty(tuple(shape), device=device, dtype=dtype)
        object.__setattr__(self, "__class__", type(self).cls_to_become)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, proto):
        return (type(self), (self.requires_grad,))


def _conversion(name: str):
    def convert(self, *args, **kwargs):
        return self._converted(getattr(self.data, name)(*args, **kwargs))
    convert.__name__ = name
    convert.__doc__ = f"``Tensor.{name}`` for an uninitialized tensor: an uninitialized one."
    return convert


# device and dtype conversions work before materialize(), as torch's (``model.to(device)``
# usually comes before the first call)
for _name in _CONVERSIONS:
    setattr(UninitializedTensorMixin, _name, _conversion(_name))


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter with no shape yet; ``materialize`` turns it into a ``Parameter``.

    >>> import ember
    >>> p = ember.nn.UninitializedParameter()
    >>> p.materialize((2, 3)); type(p).__name__, tuple(p.shape)
    ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        return _share(cls, ember.empty(0, device=device, dtype=dtype), requires_grad)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self._device, self._dtype)
        memo[id(self)] = result
        return result


class UninitializedBuffer(UninitializedTensorMixin, _Tensor):
    """A buffer with no shape yet; ``materialize`` turns it into a plain ``Tensor``."""

    __slots__ = ()
    cls_to_become = _Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None,
                persistent: bool = True):
        buffer = _share(cls, ember.empty(0, device=device, dtype=dtype), requires_grad)
        _set_persistent(buffer, persistent)
        return buffer

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self._device, self._dtype, self.persistent)
        memo[id(self)] = result
        return result

    @property
    def persistent(self) -> bool:
        return self._aux.get("persistent", True)


def is_lazy(tensor) -> bool:
    """Whether ``tensor`` is an uninitialized parameter or buffer."""
    return isinstance(tensor, UninitializedTensorMixin)
