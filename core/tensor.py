"""Tensor: a backend's native array plus dtype, device and autograd state.

Views share their base's native buffer and version counter; in-place ops bump the counter and,
when autograd records them, rebase the graph (see ``Tensor._commit_inplace``).
"""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from .autograd import grad_mode
from .autograd import graph as _graph
from .autograd.graph import AccumulateGrad

_state = grad_mode.state
_new = object.__new__


class Size(tuple):
    """``tensor.shape``: a tuple of ints, as torch.Size."""

    def __repr__(self):
        return f"ember.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))


def _layout_order(memory_format, ndim: int):
    """The dims from outermost to innermost stride of ``memory_format`` (channels_last: NHWC,
    channels_last_3d: NDHWC); None for the plain row-major layout. A channels-last format on a
    tensor of the wrong rank raises torch's RuntimeError."""
    name = getattr(memory_format, "_name", None)
    if name == "channels_last" or name == "channels_last_3d":
        rank = 4 if name == "channels_last" else 5
        if ndim != rank:
            raise RuntimeError(f"required rank {rank} tensor to use {name} format")
        return (0,) + tuple(range(2, rank)) + (1,)
    return None


def _check_inplace_shape(out: tuple, got: tuple) -> None:
    """An in-place result may broadcast into self but never grow it: torch raises
    ``output with shape [3] doesn't match the broadcast shape [2, 3]``."""
    n = max(len(out), len(got))
    po, pg = (1,) * (n - len(out)) + tuple(out), (1,) * (n - len(got)) + tuple(got)
    if len(got) > len(out) or any(g != o and g != 1 for o, g in zip(po, pg)):
        full = [max(o, g) if 1 in (o, g) else o for o, g in zip(po, pg)]
        raise RuntimeError(f"output with shape {list(out)} doesn't match the broadcast shape "
                           f"{full}")


class _UntypedStorage:
    """What ``Tensor.untyped_storage()`` returns: the buffer of a tensor and all its views, as
    far as code asks about it (identity through ``data_ptr``, size in bytes, device)."""

    __slots__ = ("_root",)

    def __init__(self, root: "Tensor") -> None:
        self._root = root

    def data_ptr(self) -> int:
        return self._root.data_ptr()

    def nbytes(self) -> int:
        return self._root.numel() * self._root.element_size()

    size = nbytes

    def __len__(self) -> int:
        return self.nbytes()

    def element_size(self) -> int:
        return 1

    @property
    def device(self):
        return self._root.device

    def __repr__(self) -> str:
        return f"ember.UntypedStorage(nbytes={self.nbytes()}, device={self.device})"


class Tensor:
    """A multi-dimensional array on a device, recorded by autograd when it requires grad.

    >>> x = ember.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = ("_data", "_dtype", "_device", "_requires_grad", "_grad_fn", "_output_nr",
                 "_vc", "_base", "_grad", "_aux", "__weakref__")
    # _aux: rarely used state in a dict (view function, accumulator, retain_grad, hooks, names)

    __array_priority__ = 1000  # NumPy defers to Tensor's reflected operators

    def __new__(cls, *args, **kwargs):
        # Legacy constructor: Tensor(2, 3) -> uninitialised float tensor, Tensor([1, 2]) -> data.
        from .ops import creation
        if len(args) == 1 and not isinstance(args[0], int):
            t = creation.tensor(args[0], dtype=_dt.get_default_dtype(), **kwargs)
        else:
            t = creation.empty(*args, **kwargs)
        if cls is not Tensor:
            o = _new(cls)
            o._adopt(t)
            return o
        return t

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def _wrap(data, dtype, device, cls=None):
        """A tensor (of class ``cls``: a subclass with slots of its own, which the caller then
        sets) over backend buffer ``data``, outside any graph."""
        t = _new(cls or Tensor)
        t._data = data
        t._dtype = dtype
        t._device = device
        t._requires_grad = False
        t._grad_fn = None
        t._output_nr = 0
        t._vc = [0]
        t._base = None
        t._grad = None
        t._aux = None
        return t

    def _adopt(self, t):
        for s in Tensor.__slots__[:-1]:
            object.__setattr__(self, s, getattr(t, s))

    # ---- metadata -------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        shape = self._data.shape
        if dim is None:
            return Size(shape)
        return shape[_norm_dim(dim, len(shape), "size")]

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    ndimension = dim

    def numel(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self._dtype.itemsize

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def is_cpu(self):
        return self._device.type == "cpu"

    @property
    def layout(self):
        from .compat import strided
        return strided

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def is_complex(self):
        return self._dtype.is_complex

    def is_signed(self):
        return self._dtype.is_signed

    def stride(self, dim=None):
        s = self._kernel("strides")(self._data)
        if dim is None:
            return tuple(s)
        return s[_norm_dim(dim, len(s), "stride")]

    def is_contiguous(self, memory_format=None) -> bool:
        shape = self._data.shape
        strides = self._kernel("strides")(self._data)
        try:
            order = _layout_order(memory_format, len(shape))
        except RuntimeError:
            return False
        if order is not None:
            shape = [shape[d] for d in order]
            strides = [strides[d] for d in order]
        expect = 1
        for n, s in zip(reversed(shape), reversed(strides)):
            if n != 1 and s != expect:
                return False
            expect *= n
        return True

    def _may_overlap(self) -> bool:
        """Whether elements may share memory (0-strides): only views can be expanded."""
        return self._base is not None and 0 in self.stride()

    def data_ptr(self):
        d = self._data
        if isinstance(d, np.ndarray):
            return d.__array_interface__["data"][0]
        return id(d)

    def storage_offset(self) -> int:
        """How many elements this tensor starts after the first element of its storage (the
        buffer of the tensor it is a view of; 0 for a tensor that is not a view).

        >>> ember.arange(12.0).reshape(3, 4)[1, 2:].storage_offset()
        6
        """
        if self._base is None:
            return 0
        address = self._device._backend.kernels.get("byte_address")
        if address is None:
            raise RuntimeError(f"storage_offset: the {self._device.type} backend does not say "
                               "where a view starts (it has no byte_address kernel)")
        return (address(self._data) - address(self._base._data)) // self._dtype.itemsize

    def untyped_storage(self) -> "_UntypedStorage":
        """The storage this tensor views: every view of one tensor reports the same one.

        >>> x = ember.zeros(4)
        >>> x[1:].untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
        True
        """
        return _UntypedStorage(self if self._base is None else self._base)

    def _kernel(self, name):
        return self._device._backend.kernels[name]

    # ---- autograd state -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if not isinstance(flag, bool):
            flag = bool(flag)
        if self._grad_fn is not None and not flag:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if flag and not self._dtype.is_inexact:
            raise RuntimeError("only Tensors of floating point dtype can require gradients, got "
                               f"{self._dtype}")
        self._requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: "
                                   f"{list(value.shape)} vs {list(self.shape)}")
            if value._device is not self._device:
                raise RuntimeError(f"assigned grad has data located on {value.device}, but the "
                                   f"tensor is on {self.device}")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def grad_fn(self):
        if self._base is not None and self._requires_grad:
            self._refresh_view_grad_fn()
        return self._grad_fn

    @property
    def _version(self) -> int:
        """How many times the storage was modified in place (shared with views, as torch)."""
        return self._vc[0]

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def output_nr(self):
        return self._output_nr

    def _aux_dict(self):
        a = self._aux
        if a is None:
            a = self._aux = {}
        return a

    def _grad_edge(self):
        """(node, output_nr) that gradients for this tensor flow into, or None."""
        if not self._requires_grad:
            return None
        if self._base is not None:
            self._refresh_view_grad_fn()
        fn = self._grad_fn
        if fn is not None:
            return (fn, self._output_nr)
        aux = self._aux_dict()
        acc = aux.get("accumulator")
        if acc is None:
            acc = aux["accumulator"] = AccumulateGrad(self)
        return (acc, 0)

    def _refresh_view_grad_fn(self):
        # A view whose base was modified in place since the view's graph was recorded gets its
        # grad_fn regenerated from the base, so gradients flow through the in-place op.
        aux = self._aux
        if aux is None:
            return
        ver = aux.get("view_version")
        if ver is None or ver == self._vc[0]:
            return
        base = self._base
        if not base._requires_grad:
            return
        view_fn = aux["view_fn"]
        with grad_mode.enable_grad():
            fresh = view_fn(base)
        self._grad_fn, self._output_nr = fresh._grad_fn, fresh._output_nr
        aux["view_version"] = self._vc[0]

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None:
            return
        aux = self._aux_dict()
        if aux.get("retains_grad"):
            return
        aux["retains_grad"] = True
        import weakref
        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                g2 = g.detach()
                t._grad = g2.clone() if t._grad is None else t._grad + g2
        self._grad_fn._set_retain_hook(self._output_nr, keep)

    @property
    def retains_grad(self):
        return bool(self._aux and self._aux.get("retains_grad"))

    def register_hook(self, hook):
        """Call ``hook(grad)`` when the gradient for this tensor is computed; it may return a
        replacement gradient. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node, nr = self._grad_edge()
        return node._add_tensor_hook(nr, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after a gradient was accumulated into this leaf's .grad."""
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        acc, _ = self._grad_edge()
        if acc._post_hooks is None:
            acc._post_hooks = []
        acc._post_hooks.append(hook)
        from .autograd.graph import _Handle
        return _Handle(acc._post_hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad (torch.Tensor.backward)."""
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self):
        """A tensor sharing storage with this one, outside the graph."""
        t = Tensor._wrap(self._data, self._dtype, self._device)
        t._vc = self._vc
        return t

    def share_memory_(self):
        """Move the storage into shared memory, in place, so the processes of
        ember.multiprocessing it is sent to see the same values; returns self."""
        from .multiprocessing import reductions
        return reductions.share_memory_(self)

    def is_shared(self) -> bool:
        """Whether the storage is in shared memory (share_memory_)."""
        from .multiprocessing import reductions
        return reductions.is_shared(self)

    def detach_(self):
        if self._base is not None and self._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data, self._dtype, self._device = value._data, value._dtype, value._device
        self._vc = value._vc

    # ---- in-place machinery ---------------------------------------------------------------
    def _check_inplace(self):
        if _state.enabled and self._requires_grad:
            multi = self._aux.get("multi_output") if self._base is not None else None
            if multi is not None:
                raise RuntimeError(
                    f"Output {multi[1]} of {multi[0]} is a view and is being modified inplace. "
                    "This view is the output of a function that returns multiple views. Such "
                    "functions do not allow the output views to be modified inplace. You should "
                    "replace the inplace operation by an out-of-place one.")
            if self._grad_fn is None and self._base is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation.")
            if self._base is not None and self._base._requires_grad and self._base.is_leaf \
                    and self._grad_fn is not None and self._base._grad_fn is None:
                raise RuntimeError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")

    def _commit_inplace(self, result):
        """Make ``result`` (computed out of place, graph recorded) the new value of ``self``:
        write it into self's storage, bump the version, and rebase autograd."""
        self._check_inplace()
        data = result._data
        if data.shape != self._data.shape:
            _check_inplace_shape(self._data.shape, data.shape)
        if result._dtype is not self._dtype:
            from .ops import elementwise
            if not _can_cast(result._dtype, self._dtype):
                raise RuntimeError(f"result type {_dt_name(result._dtype)} can't be cast to the "
                                   f"desired output type {_dt_name(self._dtype)}")
            data = self._device._backend.kernels["cast"](data, self._dtype)
        node = result._grad_fn
        if node is not None and _state.enabled:
            _graph.keep_saved_before_overwrite(node, self)
        self._device._backend.kernels["setitem"](self._data, (), data)
        self._vc[0] += 1
        if _state.enabled and (result._requires_grad or self._requires_grad):
            self._rebase(result)
        return self

    def _rebase(self, result):
        # result's graph now describes self's value.
        if result._dtype is not self._dtype:
            result = result.to(self._dtype)
        base = self._base
        if base is None:
            if result._requires_grad:
                if result._data.shape != self._data.shape:
                    from .ops.shape import expand
                    result = expand(result, self._data.shape)
                self._grad_fn, self._output_nr = result._grad_fn, result._output_nr
            else:
                # overwritten by values that carry no gradient: the old graph is cut off
                from .ops.shape import record_overwrite
                record_overwrite(self)
            self._requires_grad = True
            return
        from .ops import shape as shape_ops
        view_fn = self._aux["view_fn"]
        shape_ops.record_copy_slices(base, result, view_fn)
        with grad_mode.enable_grad():
            fresh = view_fn(base)
        self._grad_fn, self._output_nr = fresh._grad_fn, fresh._output_nr
        self._requires_grad = True
        self._aux["view_version"] = self._vc[0]

    # ---- conversion -----------------------------------------------------------------------
    def numpy(self, *, force=False):
        """The values as a NumPy array (shares memory on cpu, as torch)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._device.type != "cpu" and not force:
            raise TypeError(f"can't convert {self._device.type} tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return self._device._backend.to_numpy(self._data)

    def _host(self):
        """Host NumPy copy (or alias on cpu) of the values, whatever the device."""
        return self._device._backend.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self.detach().cpu()._data
        return a.astype(dtype) if dtype is not None else a

    def item(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"a Tensor with {n} elements cannot be converted to Scalar")
        v = self._host().reshape(()).item()
        return float(v) if self._dtype is _dt.bfloat16 else v

    def tolist(self):
        h = self._host()
        if self._dtype is _dt.bfloat16 or self._dtype is _dt.float16:
            h = h.astype(np.float32)
        return h.tolist()

    def __len__(self):
        shape = self._data.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __iter__(self):
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        n = self.numel()
        if n != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous"
                               if n > 1 else "Boolean value of Tensor with no values is ambiguous")
        return bool(self.item())

    def __float__(self):
        if self._dtype.is_complex:
            return float(_complex_scalar(self, "double"))
        return float(self.item())

    def __int__(self):
        if self._dtype.is_complex:
            return int(_complex_scalar(self, "int64_t"))
        return int(self.item())

    def __index__(self):
        if self._dtype.category >= 2 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._host().copy(), self._dtype.name, str(self._device),
                           self._requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        t = self.detach().clone()
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.clone()
        if type(self) is not Tensor:
            o = _new(type(self))
            o._adopt(t)
            if hasattr(self, "__dict__"):
                import copy
                o.__dict__.update(copy.deepcopy(self.__dict__, memo))
            t = o
        memo[id(self)] = t
        return t

    def __repr__(self, *, tensor_contents=None):
        from .printing import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self.dim() == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)


def _complex_scalar(t, c_name):
    # NOTE: torch refuses a complex value with an imaginary part (a real one converts)
    v = t.item()
    if v.imag:
        raise RuntimeError(f"value cannot be converted to type {c_name} without overflow")
    return v.real


def _rebuild(array, dtype_name, device_name, requires_grad):
    from .ops import creation
    from .device import device
    t = creation.from_numpy(array).to(device(device_name))
    t.requires_grad_(requires_grad)
    return t


def _dt_name(d):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
            "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
            "complex128": "ComplexDouble"}[d.name]


def _can_cast(src, dst) -> bool:
    # torch's canCast for in-place results: no float -> integral, no non-bool -> bool
    if src.category > dst.category:
        return False
    return True


def _norm_dim(dim, ndim, op="op"):
    if not isinstance(dim, int):
        try:
            dim = dim.__index__()
        except AttributeError:
            raise TypeError(f"{op}(): dim must be an int, got {type(dim).__name__}") from None
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if dim < lo or dim > hi:
        raise IndexError(f"Dimension out of range (expected to be in range of [{lo}, {hi}], but "
                         f"got {dim})")
    return dim % ndim if ndim else 0


def _link():
    # graph.py cannot import this module at load time (this module imports it)
    global _autograd
    from . import autograd
    from .autograd import graph
    graph.Tensor = Tensor
    _autograd = autograd


_autograd = None
_link()

# torch.Tensor and torch.Size say they live in the top-level package (``<class 'torch.Tensor'>``)
Tensor.__module__ = Size.__module__ = "ember"
