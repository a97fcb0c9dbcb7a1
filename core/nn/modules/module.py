"""``Module``: the base class of every layer, with PyTorch's registration, state_dict and hooks."""
from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

import ember

from ..parameter import Parameter
from .._parameter_extra import Buffer

__all__ = ["Module", "RemovableHandle", "register_module_forward_pre_hook",
           "register_module_forward_hook", "register_module_full_backward_pre_hook",
           "register_module_full_backward_hook", "register_module_backward_hook",
           "register_module_buffer_registration_hook",
           "register_module_module_registration_hook",
           "register_module_parameter_registration_hook"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks_dict: dict, *extra_dicts: dict):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.extra_dict_refs = tuple(weakref.ref(d) for d in extra_dicts)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref,) + self.extra_dict_refs:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


# Hooks every Module runs, before its own (torch.nn.modules.module's globals). The ids of the
# call hooks (forward, backward) are also kept in _global_call_hooks, so Module.__call__ can tell
# with one truth check that there are none.
_global_buffer_registration_hooks: dict = OrderedDict()
_global_module_registration_hooks: dict = OrderedDict()
_global_parameter_registration_hooks: dict = OrderedDict()
_global_forward_pre_hooks: dict = OrderedDict()
_global_forward_hooks: dict = OrderedDict()
_global_forward_hooks_with_kwargs: dict = OrderedDict()
_global_forward_hooks_always_called: dict = OrderedDict()
_global_backward_hooks: dict = OrderedDict()
_global_backward_pre_hooks: dict = OrderedDict()
# whether _global_backward_hooks are full ones (True), deprecated ones (False) or none yet (None);
# as torch, a kind once chosen stays, and the other kind is refused
_global_is_full_backward_hook = None
_global_call_hooks: dict = OrderedDict()


def register_module_buffer_registration_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, name, buffer) -> None or new buffer``, called by every module's
    ``register_buffer`` (and buffer assignment) before the buffer is stored.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_buffer_registration_hook
    >>> h = register_module_buffer_registration_hook(lambda m, n, b: b * 2)
    >>> m = ember.nn.Module()
    >>> m.register_buffer("b", ember.ones(2))
    >>> m.b
    tensor([2., 2.])
    >>> h.remove()
    """
    handle = RemovableHandle(_global_buffer_registration_hooks)
    _global_buffer_registration_hooks[handle.id] = hook
    return handle


def register_module_module_registration_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, name, submodule) -> None or new submodule``, called whenever any
    module registers a child (``add_module``, ``register_module`` or assignment).

    >>> import ember
    >>> from ember.nn.modules.module import register_module_module_registration_hook
    >>> seen = []
    >>> h = register_module_module_registration_hook(lambda m, n, s: seen.append(n))
    >>> _ = ember.nn.Sequential(ember.nn.ReLU())
    >>> h.remove(); seen
    ['0']
    """
    handle = RemovableHandle(_global_module_registration_hooks)
    _global_module_registration_hooks[handle.id] = hook
    return handle


def register_module_parameter_registration_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, name, param) -> None or new param``, called by every module's
    ``register_parameter`` (and Parameter assignment) before the parameter is stored.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_parameter_registration_hook
    >>> seen = []
    >>> h = register_module_parameter_registration_hook(lambda m, n, p: seen.append(n))
    >>> _ = ember.nn.Linear(2, 2)
    >>> h.remove(); seen
    ['weight', 'bias']
    """
    handle = RemovableHandle(_global_parameter_registration_hooks)
    _global_parameter_registration_hooks[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, args) -> None or new args`` to run before every module's
    forward, ahead of the module's own forward pre-hooks.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_forward_pre_hook
    >>> h = register_module_forward_pre_hook(lambda m, args: (args[0] + 1,))
    >>> ember.nn.Identity()(ember.zeros(2))
    tensor([1., 1.])
    >>> h.remove()
    """
    handle = RemovableHandle(_global_forward_pre_hooks, _global_call_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    _global_call_hooks[handle.id] = True
    return handle


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> "RemovableHandle":
    """Register ``hook(module, args, output) -> None or new output`` (``hook(module, args,
    kwargs, output)`` with ``with_kwargs``) to run after every module's forward, ahead of the
    module's own forward hooks; ``always_call`` runs it even when forward raises.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_forward_hook
    >>> h = register_module_forward_hook(lambda m, args, out: out * 10)
    >>> ember.nn.Identity()(ember.ones(2))
    tensor([10., 10.])
    >>> h.remove()
    """
    handle = RemovableHandle(_global_forward_hooks, _global_forward_hooks_with_kwargs,
                             _global_forward_hooks_always_called, _global_call_hooks)
    _global_forward_hooks[handle.id] = hook
    _global_call_hooks[handle.id] = True
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, grad_output) -> None or new grad_output``, run for every module
    when the gradients of its outputs are computed, ahead of the module's own.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_full_backward_pre_hook
    >>> h = register_module_full_backward_pre_hook(lambda m, g: (g[0] * 3,))
    >>> x = ember.ones(2, requires_grad=True)
    >>> ember.nn.Identity()(x).sum().backward()
    >>> h.remove(); x.grad
    tensor([3., 3.])
    """
    handle = RemovableHandle(_global_backward_pre_hooks, _global_call_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    _global_call_hooks[handle.id] = True
    return handle


def register_module_full_backward_hook(hook: Callable) -> "RemovableHandle":
    """Register ``hook(module, grad_input, grad_output) -> None or new grad_input``, run for
    every module when the gradients of its inputs are computed, ahead of the module's own.

    >>> import ember
    >>> from ember.nn.modules.module import register_module_full_backward_hook
    >>> h = register_module_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    >>> x = ember.ones(2, requires_grad=True)
    >>> ember.nn.Identity()(x).sum().backward()
    >>> h.remove(); x.grad
    tensor([2., 2.])
    """
    return _register_global_backward_hook(hook, True)


def register_module_backward_hook(hook: Callable) -> "RemovableHandle":
    """Deprecated (as torch's): ``hook(module, grad_input, grad_output)`` for every module, on
    the autograd node that made its output, so ``grad_input`` holds the gradients of the
    module's last op's inputs only. Use ``register_module_full_backward_hook`` instead.

    >>> from ember.nn.modules.module import register_module_backward_hook
    >>> h = register_module_backward_hook(lambda m, grad_input, grad_output: None)
    >>> h.remove()
    """
    return _register_global_backward_hook(hook, False)


def _register_global_backward_hook(hook, full: bool) -> "RemovableHandle":
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = full
    handle = RemovableHandle(_global_backward_hooks, _global_call_hooks)
    _global_backward_hooks[handle.id] = hook
    _global_call_hooks[handle.id] = True
    return handle


def _run_registration_hooks(hooks: dict, module: "Module", name: str, value):
    for hook in hooks.values():
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


class _ReturningStateDictHook:
    """A state-dict hook registered through the private ``_register_state_dict_hook``: what
    it returns (when not None) replaces the state dict, as torch's private hooks do."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, *args):
        return self.hook(*args)


class _WithoutModule:
    """A load-state-dict pre hook registered with ``with_module=False``: called without the
    module argument, as torch calls it."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, module, *args):
        return self.hook(*args)


def _addindent(s_: str, num_spaces: int) -> str:
    s = s_.split("\n")
    if len(s) == 1:
        return s_
    first = s.pop(0)
    s = [(num_spaces * " ") + line for line in s]
    return first + "\n" + "\n".join(s)


def _is_tensor(x) -> bool:
    return isinstance(x, ember.Tensor)


class Module:
    """Base class for all neural network modules; subclasses define ``forward``.

    Assigning a ``Parameter``, a ``Module`` or (via ``register_buffer``) a Tensor to an attribute
    registers it, so ``parameters()``, ``state_dict()`` and ``to()`` see it.

    >>> import ember
    >>> class Net(ember.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = ember.nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.fc(x)
    >>> [n for n, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    _version: int = 1
    training: bool
    call_super_init: bool = False

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected argument: Module.__init__ "
                "takes no arguments")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_forward_hooks_always_called", OrderedDict())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())
        setattr_(self, "_is_full_backward_hook", None)

    forward: Callable[..., Any]

    def forward(self, *input):  # noqa: F811 - documented placeholder, as in torch
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ------------------------------------------------------------------ registration
    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not _is_tensor(tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(ember Tensor or None required)")
        if _global_buffer_registration_hooks:
            tensor = _run_registration_hooks(_global_buffer_registration_hooks, self, name,
                                             tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (ember.nn.Parameter or None required)")
        elif param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                "created explicitly. To express '{name}' as a function of another Tensor, compute "
                "the value in the forward() method.")
        else:
            if _global_parameter_registration_hooks:
                param = _run_registration_hooks(_global_parameter_registration_hooks, self, name,
                                                param)
            self._parameters[name] = param

    def add_module(self, name: str, module: "Module | None") -> None:
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        if _global_module_registration_hooks:
            module = _run_registration_hooks(_global_module_registration_hooks, self, name,
                                             module)
        self._modules[name] = module

    def register_module(self, name: str, module: "Module | None") -> None:
        self.add_module(name, module)

    def get_submodule(self, target: str) -> "Module":
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target: str, module: "Module", strict: bool = False) -> None:
        """Replace (or, unless ``strict``, create) the submodule at dotted path ``target``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self if len(atoms) == 1 else self.get_submodule(".".join(atoms[:-1]))
        if strict and not hasattr(parent, atoms[-1]):
            raise AttributeError(parent._get_name() + " has no attribute `" + atoms[-1] + "`")
        if hasattr(parent, atoms[-1]) and not isinstance(getattr(parent, atoms[-1]), Module):
            raise AttributeError("`" + atoms[-1] + "` is not an nn.Module")
        setattr(parent, atoms[-1], module)

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return mod._buffers[name]

    # ------------------------------------------------------------------ attribute protocol
    def __getattr__(self, name: str):
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_buffers" in d and name in d["_buffers"]:
            return d["_buffers"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        def remove_from(*dicts_or_sets):
            for d in dicts_or_sets:
                if name in d:
                    if isinstance(d, dict):
                        del d[name]
                    else:
                        d.discard(name)

        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(self.__dict__, self._buffers, self._modules,
                        self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{ember.typename(value)}' as parameter "
                                f"'{name}' (ember.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = self.__dict__.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                remove_from(self.__dict__, self._parameters, self._buffers,
                            self._non_persistent_buffers_set)
                if _global_module_registration_hooks:
                    value = _run_registration_hooks(_global_module_registration_hooks, self,
                                                    name, value)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                    f"'{name}' (ember.nn.Module or None expected)")
                if _global_module_registration_hooks:
                    value = _run_registration_hooks(_global_module_registration_hooks, self,
                                                    name, value)
                modules[name] = value
            else:
                buffers = self.__dict__.get("_buffers")
                if isinstance(value, Buffer):  # torch 2.5+: assigning an nn.Buffer registers it
                    self.register_buffer(name, value, value.persistent)
                elif buffers is not None and name in buffers:
                    if value is not None and not _is_tensor(value):
                        raise TypeError(f"cannot assign '{type(value).__name__}' as buffer "
                                        f"'{name}' (ember.Tensor or None expected)")
                    if _global_buffer_registration_hooks:
                        value = _run_registration_hooks(_global_buffer_registration_hooks, self,
                                                        name, value)
                    buffers[name] = value
                else:
                    object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(self.__dict__) + list(dir(type(self)))
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ------------------------------------------------------------------ iteration
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or id(v) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                name = module_prefix + ("." if module_prefix else "") + k
                yield name, v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            submodule_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, submodule_prefix, remove_duplicate)

    # ------------------------------------------------------------------ modes and conversion
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                else:
                    p.grad.requires_grad_(False)
                with ember.no_grad():
                    p.grad.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Callable, recurse: bool = True) -> "Module":
        if recurse:
            for module in self.children():
                module._apply(fn)
        for key, param in self._parameters.items():
            if param is None:
                continue
            with ember.no_grad():
                param_applied = fn(param)
            if param_applied is not param:
                # NOTE: like torch (without overwrite_module_params_on_conversion), keep the
                # Parameter object so optimizers that hold it see the converted data.
                try:
                    param.data = param_applied
                    new_param = param
                except (AttributeError, TypeError):
                    new_param = Parameter(param_applied, param.requires_grad)
                    self._parameters[key] = new_param
                if param.grad is not None:
                    with ember.no_grad():
                        grad_applied = fn(param.grad)
                    new_param.grad = grad_applied
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``; floating point
        parameters and buffers take the dtype, every one takes the device."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        fmt = kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if _is_tensor(a):
                device, dtype = a.device, a.dtype
            elif isinstance(a, ember.dtype):
                dtype = a
            elif a is not None:
                device = a
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError("nn.Module.to only accepts floating point dtypes, but got desired "
                            f"dtype={dtype}")

        def convert(t):
            if device is not None:
                t = t.to(device)
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            # like torch, a memory format applies to the 4-D (5-D for channels_last_3d) ones
            if fmt is not None and t.dim() == {"channels_last": 4, "channels_last_3d": 5}.get(
                    getattr(fmt, "_name", None)):
                t = t.contiguous(memory_format=fmt)
            return t

        return self._apply(convert)

    def share_memory(self) -> "Module":
        """Move every parameter and buffer into shared memory (Tensor.share_memory_), as
        Hogwild training across ember.multiprocessing processes needs; returns self."""
        from ...multiprocessing import reductions
        return reductions.module_share_memory(self)

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def _cast_floats(self, dtype) -> "Module":
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self) -> "Module":
        return self._cast_floats(ember.float32)

    def double(self) -> "Module":
        return self._cast_floats(ember.float64)

    def half(self) -> "Module":
        return self._cast_floats(ember.float16)

    def bfloat16(self) -> "Module":
        return self._cast_floats(ember.bfloat16)

    def type(self, dst_type) -> "Module":
        return self._apply(lambda t: t.to(dst_type))

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name, as torch names them."""
        for hook in self._state_hooks("_state_dict_pre_hooks").values():
            hook(self, prefix, keep_vars)
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_hooks("_state_dict_hooks").values():
            result = hook(self, destination, prefix, local_metadata)
            if result is not None:
                if not isinstance(hook, _ReturningStateDictHook):
                    raise RuntimeError("state_dict post-hook must return None")
                destination = result
        return destination

    # state-dict hooks live in dicts made on first registration, so that modules built or
    # unpickled without them need nothing
    _NO_HOOKS: dict = {}

    def _state_hooks(self, attr: str) -> dict:
        return self.__dict__.get(attr, Module._NO_HOOKS)

    def _add_state_hook(self, attr: str, hook) -> RemovableHandle:
        hooks = self.__dict__.get(attr)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, attr, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` saves this module."""
        return self._add_state_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict`` saved
        this module and its children; it may edit state_dict in place and returns None."""
        return self._add_state_hook("_state_dict_hooks", hook)

    def _register_state_dict_hook(self, hook) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict`` saved
        this module and its children; unlike a post hook it may return a new state_dict.
        (Private in torch too, and used by libraries: kept with torch's behaviour.)"""
        return self._add_state_hook("_state_dict_hooks", _ReturningStateDictHook(hook))

    def _register_load_state_dict_pre_hook(self, hook, with_module: bool = False):
        """``hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)``, with the module first when ``with_module``, runs before this module
        loads. (Private in torch too; checkpoint-migration code uses it.)"""
        return self._add_state_hook("_load_state_dict_pre_hooks",
                                    hook if with_module else _WithoutModule(hook))

    def register_load_state_dict_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module loads, and may rename or add
        keys of state_dict in place (checkpoint migration)."""
        return self._add_state_hook("_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` runs after this module and its children loaded;
        it may edit ``incompatible_keys.missing_keys``/``unexpected_keys`` in place before
        ``strict`` checks them, and returns None."""
        return self._add_state_hook("_load_state_dict_post_hooks", hook)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, assign=False):
        for hook in self._state_hooks("_load_state_dict_pre_hooks").values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        persistent_buffers = {k: v for k, v in self._buffers.items()
                              if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(),
                                                         persistent_buffers.items())
                       if v is not None}
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            input_param = state_dict[key]
            if not _is_tensor(input_param):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  "ember.Tensor or Tensor-like object from checkpoint but "
                                  f"received {type(input_param)}")
                continue
            if len(param.shape) == 0 and len(input_param.shape) == 1:
                input_param = input_param[0]
            if tuple(input_param.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{input_param.shape} from checkpoint, the shape in current "
                                  f"model is {param.shape}.")
                continue
            try:
                with ember.no_grad():
                    if assign:
                        if isinstance(param, Parameter):
                            input_param = Parameter(input_param, param.requires_grad)
                        setattr(self, name, input_param)
                    else:
                        param.copy_(input_param)
            except Exception as ex:  # noqa: BLE001 - reported like torch, with the key
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions '
                                  f"in the model are {param.shape} and whose dimensions in the "
                                  f"checkpoint are {input_param.shape}, an exception occurred : "
                                  f"{ex.args}.")
        if strict:
            for key in state_dict.keys():
                if key.startswith(prefix):
                    input_name = key[len(prefix):].split(".", 1)[0]
                    if input_name not in self._modules and input_name not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict``; returns ``(missing_keys,
        unexpected_keys)``. With ``strict`` any mismatch raises a RuntimeError listing them."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list[str] = []
        unexpected_keys: list[str] = []
        error_msgs: list[str] = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else metadata.get(prefix[:-1], {})
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True,
                                         missing_keys, unexpected_keys, error_msgs, assign)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    child_state = {k: v for k, v in local_state_dict.items()
                                   if k.startswith(child_prefix)}
                    load(child, child_state, child_prefix)
            post = module._state_hooks("_load_state_dict_post_hooks")
            if post:
                incompatible = _IncompatibleKeys(missing_keys, unexpected_keys)
                for hook in post.values():
                    if hook(module, incompatible) is not None:
                        raise RuntimeError("load_state_dict post-hook must return None")

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ------------------------------------------------------------------ hooks and calling
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs,
                                 self._forward_hooks_always_called)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output) -> new grad_input or None``, called when the
        gradients with respect to the module's tensor inputs have been computed."""
        self._choose_backward_hook_kind(True)
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_backward_hook(self, hook) -> RemovableHandle:
        """Deprecated (as torch's): ``hook(module, grad_input, grad_output) -> new grad_input or
        None`` on the autograd node that made the module's output, so ``grad_input`` holds the
        gradients of the module's last op's inputs only. Use ``register_full_backward_hook``.

        >>> import ember
        >>> m = ember.nn.ReLU()
        >>> h = m.register_backward_hook(lambda mod, gi, go: None)
        >>> h.remove()
        """
        self._choose_backward_hook_kind(False)
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def _choose_backward_hook_kind(self, full: bool) -> None:
        if getattr(self, "_is_full_backward_hook", None) is (not full):
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        object.__setattr__(self, "_is_full_backward_hook", full)

    def _backward_hook_lists(self):
        """(full hooks, deprecated non-full hooks), the global ones first."""
        full, partial = [], []
        (full if _global_is_full_backward_hook else partial).extend(
            _global_backward_hooks.values())
        (full if getattr(self, "_is_full_backward_hook", None) else partial).extend(
            self._backward_hooks.values())
        return full, partial

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output) -> new grad_output or None``, called when the gradients
        with respect to the module's outputs have been computed, before the module's own."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def _call_impl(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks or _global_call_hooks):
            return self.forward(*args, **kwargs)
        if self._forward_hooks_always_called or _global_forward_hooks_always_called:
            return self._call_always_called(args, kwargs)
        return self._call_with_hooks(args, kwargs, None)

    def _call_with_hooks(self, args, kwargs, state):
        """Forward with the hooks, global ones first; ``state`` (a dict or None) records the
        args, the result and which forward hooks ran, for ``_call_always_called``."""
        pre_hooks = self._forward_pre_hooks
        if _global_forward_pre_hooks:
            pre_hooks = {**_global_forward_pre_hooks, **pre_hooks}
        for hook_id, hook in list(pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        if state is not None:
            state["args"] = args
        bw = None
        backward_hooks, partial_hooks = self._backward_hook_lists()
        backward_pre_hooks = [*_global_backward_pre_hooks.values(),
                              *self._backward_pre_hooks.values()]
        if backward_hooks or backward_pre_hooks:
            from ._backward_hook import BackwardHook
            bw = BackwardHook(self, backward_hooks, backward_pre_hooks)
            if backward_hooks:
                args = bw.setup_input_hook(args)
        result = self.forward(*args, **kwargs)
        hooks = self._forward_hooks
        if _global_forward_hooks:
            hooks = {**_global_forward_hooks, **hooks}
        for hook_id, hook in list(hooks.items()):
            if state is not None:
                state["result"] = result
                state["called"].add(hook_id)
            if hook_id in self._forward_hooks_with_kwargs \
                    or hook_id in _global_forward_hooks_with_kwargs:
                hook_result = hook(self, args, kwargs, result)
            else:
                hook_result = hook(self, args, result)
            if hook_result is not None:
                result = hook_result
        if bw is not None:
            result = bw.setup_output_hook(result)
        if partial_hooks:
            _attach_partial_backward_hooks(self, partial_hooks, args, result)
        return result

    def _call_always_called(self, args, kwargs):
        state = {"args": args, "result": None, "called": set()}
        try:
            return self._call_with_hooks(args, kwargs, state)
        except Exception:
            # NOTE: as torch, the always_call forward hooks that did not run yet run now (global
            # ones first) with the output so far; their own errors only warn
            result = state["result"]
            for always, hooks, where in (
                    (_global_forward_hooks_always_called, _global_forward_hooks, "global module"),
                    (self._forward_hooks_always_called, self._forward_hooks, "module")):
                for hook_id, hook in list(hooks.items()):
                    if hook_id not in always or hook_id in state["called"]:
                        continue
                    try:
                        hook_result = hook(self, state["args"], result)
                        if hook_result is not None:
                            result = hook_result
                    except Exception as e:
                        warnings.warn(f"{where} forward hook with ``always_call=True`` raised an "
                                      "exception that was silenced as another error was raised "
                                      f"in forward: {e}", stacklevel=2)
            raise

    __call__: Callable[..., Any] = _call_impl

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra_lines = []
        extra_repr = self.extra_repr()
        if extra_repr:
            extra_lines = extra_repr.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main_str = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main_str += extra_lines[0]
            else:
                main_str += "\n  " + "\n  ".join(lines) + "\n"
        return main_str + ")"


def _attach_partial_backward_hooks(module, hooks, args, result) -> None:
    """The deprecated ``register_backward_hook``: each hook runs on the autograd node that made
    the module's (first) output tensor, seeing that node's grad_inputs and grad_outputs, with
    torch's FutureWarning where the node cannot stand for the whole module."""
    out = result
    while not isinstance(out, ember.Tensor):
        if isinstance(out, dict):
            out = next(v for v in out.values() if isinstance(v, ember.Tensor))
        else:
            out = out[0]
    node = out.grad_fn
    if node is None:
        return
    for hook in hooks:
        node.register_hook(lambda gi, go, hook=hook: hook(module, gi, go))
    _warn_partial_backward_hook(args, result, node)


def _warn_partial_backward_hook(args, result, node) -> None:
    def tensors(x):
        if isinstance(x, ember.Tensor):
            return (x,)
        if isinstance(x, tuple) and all(isinstance(t, ember.Tensor) for t in x):
            return x
        return None

    outs, ins = tensors(result), tensors(args)
    if outs is None:
        msg = ("Using non-full backward hooks on a Module that does not return a single Tensor "
               "or a tuple of Tensors is deprecated and will be removed in future versions. "
               "This hook will be missing some of the grad_output.")
    elif ins is None:
        msg = ("Using non-full backward hooks on a Module that does not take as input a single "
               "Tensor or a tuple of Tensors is deprecated and will be removed in future "
               "versions. This hook will be missing some of the grad_input.")
    else:
        out_nodes = {t.grad_fn for t in outs if t.grad_fn is not None}
        if len(out_nodes) > 1:
            msg = ("Using a non-full backward hook when outputs are generated by different "
                   "autograd Nodes is deprecated and will be removed in future versions. This "
                   "hook will be missing some grad_output.")
        elif node not in out_nodes:
            msg = ("Using a non-full backward hook when outputs are nested in python data "
                   "structure is deprecated and will be removed in future versions. This hook "
                   "will be missing some grad_output.")
        elif ({t.grad_fn for t in ins if t.grad_fn is not None}
              != {e[0] if e is not None else None for e in node.next_functions}):
            msg = ("Using a non-full backward hook when the forward contains multiple autograd "
                   "Nodes is deprecated and will be removed in future versions. This hook will "
                   "be missing some grad_input.")
        else:
            return
    warnings.warn(msg + " Please use register_full_backward_hook to get the documented "
                  "behavior.", FutureWarning, stacklevel=4)
