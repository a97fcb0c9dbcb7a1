"""How tensors cross process boundaries: through shared memory, never by copying their values.

``init_reductions`` registers a reducer for ``Tensor`` and ``Parameter`` with
``multiprocessing.reduction.ForkingPickler``, the pickler behind every multiprocessing queue,
pipe, pool and spawned process's arguments. A cpu tensor sent that way is first moved into
shared memory (``Tensor.share_memory_``, as torch does), then only a handle to the memory travels:
a file descriptor (strategy ``file_descriptor``) or a file name (``file_system``).
"""
from __future__ import annotations

import gc
import pickle
from multiprocessing import reduction as _reduction

import numpy as np

from . import _shared

__all__ = ["init_reductions", "share_memory_", "is_shared", "module_share_memory",
           "get_sharing_strategy", "set_sharing_strategy", "get_all_sharing_strategies"]

_STRATEGIES = frozenset({"file_descriptor", "file_system"})
_strategy = "file_descriptor"


def get_all_sharing_strategies() -> set:
    """The strategies this platform supports (torch.multiprocessing's names).

    >>> sorted(ember.multiprocessing.get_all_sharing_strategies())
    ['file_descriptor', 'file_system']
    """
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    """How cpu tensors are shared: ``'file_descriptor'`` (the default) or ``'file_system'``.

    >>> ember.multiprocessing.get_sharing_strategy()
    'file_descriptor'
    """
    return _strategy


def set_sharing_strategy(new_strategy: str) -> None:
    """Set the strategy for sharing cpu tensors (one of ``get_all_sharing_strategies()``).

    >>> ember.multiprocessing.set_sharing_strategy("file_descriptor")
    """
    global _strategy
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"invalid sharing strategy {new_strategy!r}; expected one of "
                         f"{sorted(_STRATEGIES)}")
    _strategy = new_strategy


# ---- Tensor.share_memory_ / is_shared / Module.share_memory ----------------------------------
def _shareable(t) -> bool:
    return t._device.type == "cpu" and isinstance(t._data, np.ndarray)


def is_shared(self) -> bool:
    """Whether the tensor's storage is in shared memory (``share_memory_``).

    >>> t = ember.zeros(3); t.is_shared()
    False
    """
    if self._device.type == "cuda":
        return True  # (as torch: device memory is reachable from other processes by IPC)
    return _shareable(self) and _shared.storage_of(self._data) is not None


def share_memory_(self):
    """Move the tensor's storage into shared memory, in place (a no-op when it is there
    already, or not on the cpu); returns ``self`` with its shape, strides, dtype and
    requires_grad unchanged. Processes the tensor is then sent to see the same values.

    >>> t = ember.zeros(3)
    >>> t.share_memory_() is t, t.is_shared()
    (True, True)
    """
    share_tensors([self])
    return self


def share_tensors(tensors) -> None:
    """``share_memory_`` for several tensors at once.

    As torch moves a whole storage, every tensor that views the same memory (views, ``detach``
    aliases, a Parameter and the tensor it was made from) moves with it and keeps aliasing. Ember
    keeps no list of a buffer's views, so they are found among the live tensors (one pass over
    ``gc.get_objects()`` for the whole batch: ``Module.share_memory`` shares all its tensors in
    one call).
    """
    from ..tensor import Tensor
    roots = {}
    for t in tensors:
        if _shareable(t) and _shared.storage_of(t._data) is None:
            root = _shared.root_array(t._data)
            roots[id(root)] = root
    if not roots:
        return
    holders = {key: {} for key in roots}  # root id -> {id(tensor): tensor}
    read = object.__getattribute__  # (lazy modules' uninitialized tensors guard attributes)
    for o in gc.get_objects() + list(tensors):
        # (type(), not isinstance: that would read __class__ of every object on the heap)
        if issubclass(type(o), Tensor):
            try:
                data = read(o, "_data")
            except AttributeError:
                continue
            if isinstance(data, np.ndarray):
                root = _shared.root_array(data)
                if roots.get(id(root)) is root:
                    holders[id(root)][id(o)] = o
    for key, found in holders.items():
        ts = list(found.values())
        arrays = [read(t, "_data") for t in ts]
        moved = _shared.share_array(roots[key], _strategy, arrays)
        for t, old, new in zip(ts, arrays, moved[1:]):
            if new is not None:
                if not old.flags.writeable:
                    new.flags.writeable = False
                t._data = new


def module_share_memory(self):
    """Move every parameter and buffer (and existing gradient) of the module into shared
    memory (``Tensor.share_memory_``); returns the module. The Hogwild pattern: share, then let
    several processes update the one set of parameters.

    >>> m = ember.nn.Linear(2, 2).share_memory()
    >>> m.weight.is_shared()
    True
    """
    from ..nn._parameter_extra import UninitializedTensorMixin
    tensors = list(self.parameters()) + list(self.buffers())
    for t in tensors:
        if isinstance(t, UninitializedTensorMixin):
            t.share_memory_()  # (raises torch's error: a lazy module must run forward first)
    share_tensors(tensors + [t.grad for t in tensors if t.grad is not None])
    return self


# ---- pickling through shared memory ----------------------------------------------------------
# NOTE: a file shared by name must outlive the sender's tensor until the receiver opened it, and
# nothing tells the sender when that happened (torch runs a manager process to count): the
# storages sent by name stay alive until this process exits.
_sent_by_name: dict[int, np.ndarray] = {}


def _storage_handle(storage: _shared.SharedStorage):
    if _strategy == "file_system" and storage.name is not None:
        root = storage.root()
        _sent_by_name[id(root)] = root
        return ("name", storage.name, storage.size)
    return ("fd", _reduction.DupFd(storage.fd), storage.size)


def _open_handle(handle) -> np.ndarray:
    kind, ref, size = handle
    if kind == "name":
        return _shared.open_storage(None, size, ref)
    return _shared.open_storage(ref.detach(), size, None)


def reduce_tensor(t):
    """The ForkingPickler reducer for ember tensors (see the module docstring)."""
    if t._requires_grad and t._grad_fn is not None:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, "
                           "since autograd does not support crossing process boundaries.  If "
                           "you just want to transfer the data, call detach() on the tensor "
                           "before serializing (e.g., putting it on the queue).")
    if not _shareable(t):
        return t.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    share_memory_(t)
    storage, root = _shared.storage_of(t._data)
    a = t._data
    meta = (a.shape, a.strides, _shared.offset_in(a, root), t._dtype, t._requires_grad)
    return (_rebuild_tensor, (type(t), _storage_handle(storage), meta))


def _rebuild_tensor(cls, handle, meta):
    from ..ops import creation
    shape, strides, offset, dtype, requires_grad = meta
    root = _open_handle(handle)
    t = creation.from_numpy(_shared.view(root, shape, dtype.np, strides, offset))
    if cls is not type(t):
        from ..nn.parameter import Parameter
        if issubclass(cls, Parameter):
            return cls(t, requires_grad)
        o = object.__new__(cls)
        o._adopt(t)
        t = o
    t.requires_grad_(requires_grad)
    return t


_initialised = False


def init_reductions() -> None:
    """Register the tensor reducers with multiprocessing's ForkingPickler (done on import)."""
    global _initialised
    if _initialised:
        return
    from ..tensor import Tensor
    from ..nn.parameter import Parameter
    for cls in (Tensor, Parameter):
        _reduction.ForkingPickler.register(cls, reduce_tensor)
    _initialised = True
