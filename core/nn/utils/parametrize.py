"""``ember.nn.utils.parametrize``: express a parameter or buffer as a function of other tensors.

After ``register_parametrization(module, "weight", P())`` reading ``module.weight`` returns
``P()(original)``, where ``original`` now lives at ``module.parametrizations.weight.original``
(``original0``, ``original1``, ... when ``P.right_inverse`` returns several tensors), so the
state_dict keys are torch's.

>>> import ember
>>> from ember.nn.utils import parametrize
>>> class Sym(ember.nn.Module):
...     def forward(self, x):
...         return x.triu() + x.triu(1).transpose(0, 1)
>>> m = ember.nn.Linear(3, 3)
>>> _ = parametrize.register_parametrization(m, "weight", Sym())
>>> bool((m.weight == m.weight.T).all())
True
"""
from __future__ import annotations

import contextlib
from typing import Optional

import ember

from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = ["cached", "register_parametrization", "remove_parametrizations", "is_parametrized",
           "type_before_parametrizations", "transfer_parametrizations_and_params",
           "ParametrizationList"]

_cache_enabled = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Within this context each parametrized tensor is computed once, on first access."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _as_originals(value, like):
    """Wrap a right_inverse result like the tensor it replaces: a Parameter stays a Parameter."""
    if isinstance(like, Parameter):
        return Parameter(value.detach(), requires_grad=like.requires_grad)
    return value.detach()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s)."""

    def __init__(self, modules, original, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        new = original
        with ember.no_grad():
            for m in reversed(list(modules)):
                if hasattr(m, "right_inverse"):
                    # NOTE: as torch, a right_inverse that raises NotImplementedError counts as
                    # the identity here (orthogonal's matrix_exp without trivialization does)
                    try:
                        new = m.right_inverse(new)
                    except NotImplementedError:
                        pass
        self.is_tensor = isinstance(new, ember.Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe and (new.shape != original.shape or new.dtype != original.dtype):
                raise ValueError(
                    f"When `right_inverse` outputs one tensor, it may not change the shape or "
                    f"dtype.\noriginal.shape: {tuple(original.shape)}\n"
                    f"right_inverse(original).shape: {tuple(new.shape)}")
            # NOTE: torch keeps the same Parameter object (updated in place) so optimizers that
            # already hold it keep training the right tensor
            with ember.no_grad():
                original.copy_(new)
            self._set_original("original", original)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, ember.Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of "
                                     f"tensors. Got element {i} of type {type(t).__name__}")
                self._set_original(f"original{i}", _as_originals(t, original))
        if not unsafe:
            out = self()
            if not isinstance(out, ember.Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(out).__name__}.")
            if out.dtype != original.dtype:
                raise ValueError(
                    f"Registering a parametrization may not change the dtype of the tensor, "
                    f"unless `unsafe` flag is enabled.\nunparametrized dtype: "
                    f"{original.dtype}\nparametrized dtype: {out.dtype}")
            if out.shape != original.shape:
                raise ValueError(
                    f"Registering a parametrization may not change the shape of the tensor, "
                    f"unless `unsafe` flag is enabled.\nunparametrized shape: "
                    f"{original.shape}\nparametrized shape: {out.shape}")

    def _set_original(self, name, tensor):
        if isinstance(tensor, Parameter):
            self.register_parameter(name, tensor)
        else:
            self.register_buffer(name, tensor)

    def originals(self) -> list:
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value) -> None:
        """Set the original tensor(s) so that the parametrized tensor equals ``value``."""
        with ember.no_grad():
            for m in reversed(list(self)):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement "
                                       "right_inverse.")
                value = m.right_inverse(value)
            values = [value] if self.is_tensor else list(value)
            if len(values) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of {self.ntensors} "
                                 f"tensors, got {len(values)}")
            for orig, v in zip(self.originals(), values):
                orig.copy_(v)

    def forward(self):
        mods = list(self)
        x = mods[0](*self.originals()) if not self.is_tensor else mods[0](self.original)
        for m in mods[1:]:
            x = m(x)
        return x


def _inject_class(module: Module) -> None:
    """Give this one module a subclass of its own, so properties added for its parametrized
    tensors do not leak into other instances of the same class."""
    cls = module.__class__
    param_cls = type(f"Parametrized{cls.__name__}", (cls,), {"_ember_orig_class": cls})
    module.__class__ = param_cls


def _inject_property(module: Module, name: str) -> None:
    def getter(self):
        plist = self.parametrizations[name]
        if _cache_enabled:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = plist()
            return _cache[key]
        return plist()

    def setter(self, value):
        self.parametrizations[name].right_inverse(value)

    setattr(module.__class__, name, property(getter, setter))


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Parametrize ``module.<tensor_name>`` by ``parametrization``; a second call on the same
    tensor chains the new parametrization after the first."""
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            before = getattr(module, tensor_name)
            after = parametrization(before)
            if not isinstance(after, ember.Tensor) or after.shape != before.shape \
                    or after.dtype != before.dtype:
                raise ValueError("Registering a parametrization may not change the shape or "
                                 "dtype of the tensor, unless `unsafe` flag is enabled.")
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    module._parameters.pop(tensor_name, None)
    module._buffers.pop(tensor_name, None)
    module._non_persistent_buffers_set.discard(tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module: Module, tensor_name: Optional[str] = None) -> bool:
    """Whether ``module`` has any parametrization (or one on ``tensor_name``)."""
    plists = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def remove_parametrizations(module: Module, tensor_name: str,
                            leave_parametrized: bool = True) -> Module:
    """Undo ``register_parametrization`` on ``tensor_name``: the tensor becomes plain again,
    holding its parametrized value (or the original one with ``leave_parametrized=False``)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with ember.no_grad():
                value = getattr(module, tensor_name)
            if value.shape != original.shape or value.dtype != original.dtype:
                raise ValueError("Cannot leave the tensor parametrized: its shape or dtype "
                                 "differs from the original's")
            with ember.no_grad():
                original.copy_(value)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with ember.no_grad():
            value = getattr(module, tensor_name)
        first = plist.original0
        original = Parameter(value.detach(), requires_grad=first.requires_grad) \
            if isinstance(first, Parameter) else value.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        module.__class__ = module.__class__._ember_orig_class
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class as it was before any parametrization was registered."""
    if is_parametrized(module):
        return module.__class__._ember_orig_class
    return type(module)


def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                         tensor_name: Optional[str] = None) -> Module:
    """Register ``from_module``'s parametrizations (of ``tensor_name`` or all) on
    ``to_module`` and copy the original tensors across."""
    if not is_parametrized(from_module):
        return to_module
    names = [tensor_name] if tensor_name is not None else list(from_module.parametrizations)
    for name in names:
        src = from_module.parametrizations[name]
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
        for p in src:
            register_parametrization(to_module, name, p)
        dst = to_module.parametrizations[name]
        with ember.no_grad():
            for a, b in zip(dst.originals(), src.originals()):
                a.copy_(b)
    return to_module
