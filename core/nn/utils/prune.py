"""``ember.nn.utils.prune``: zero out entries or channels of a parameter through a mask.

Pruning ``module.<name>`` moves the parameter to ``<name>_orig``, stores the mask as the buffer
``<name>_mask`` and recomputes ``<name> = <name>_orig * <name>_mask`` in a forward pre-hook, so
the state_dict keys and the gradients are torch's. Pruning the same tensor again composes the
new mask with the old one (a :class:`PruningContainer`), the amount counting only the entries
(or channels) still unpruned; :func:`remove` makes the pruning permanent.

>>> import ember
>>> from ember.nn.utils import prune
>>> m = prune.l1_unstructured(ember.nn.Linear(4, 2), "weight", amount=0.5)
>>> sorted(m.state_dict()), int(m.weight_mask.sum())
(['bias', 'weight_mask', 'weight_orig'], 4)
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Optional

import ember

from ..modules.module import Module
from ._select import topk_indices
from .convert_parameters import parameters_to_vector

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class BasePruningMethod(ABC):
    """Base class of the pruning methods: subclasses define ``PRUNING_TYPE`` ("unstructured",
    "structured" or "global") and :meth:`compute_mask`.

    An instance is also the forward pre-hook that recomputes the pruned tensor before each call.
    """

    _tensor_name: str

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: ember.Tensor, default_mask: ember.Tensor) -> ember.Tensor:
        """The mask to apply to ``t`` on top of ``default_mask`` (the previous mask; all ones
        for a tensor not yet pruned), same shape as ``t``."""

    def apply_mask(self, module: Module) -> ember.Tensor:
        """``<name>_orig * <name>_mask``, read from ``module``."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with any pruning
        already applied to it, and return the method now acting as its forward pre-hook."""
        method = _composite_method(cls, module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is not None:
            if importance_scores.shape != orig.shape:
                raise AssertionError(
                    f"importance_scores should have the same shape as parameter {name} of "
                    f"{module}, got {importance_scores.shape} vs {orig.shape}")
        else:
            importance_scores = orig
        first_pruning = not isinstance(method, PruningContainer)
        if first_pruning:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ember.ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone().contiguous()
        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first_pruning:
                module.register_parameter(name, module._parameters.pop(name + "_orig"))
            raise
        return method

    def prune(self, t: ember.Tensor, default_mask: Optional[ember.Tensor] = None,
              importance_scores: Optional[ember.Tensor] = None) -> ember.Tensor:
        """``t`` times the mask :meth:`compute_mask` gives (no module involved)."""
        if importance_scores is not None:
            if importance_scores.shape != t.shape:
                raise AssertionError("importance_scores should have the same shape as tensor "
                                     f"t, got {importance_scores.shape} vs {t.shape}")
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else ember.ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: ``<name>`` becomes a plain parameter holding the pruned
        values, and ``<name>_orig`` and ``<name>_mask`` go away."""
        if self._tensor_name is None:
            raise AssertionError(
                f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        if hasattr(module, self._tensor_name):
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        # NOTE: the Parameter object itself is kept, so optimizers holding it keep working
        with ember.no_grad():
            orig.copy_(weight.detach())
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


def _composite_method(cls, module: Module, name: str, *args, **kwargs) -> BasePruningMethod:
    """``cls(*args, **kwargs)`` for tensor ``name``, chained after the pruning hook already on
    it (if any), which is taken off the module's hooks."""
    old_ids = [k for k, hook in module._forward_pre_hooks.items()
               if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
    if len(old_ids) > 1:
        raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of "
                             f"module {module}. Use a PruningContainer.")
    old = module._forward_pre_hooks.pop(old_ids[0]) if old_ids else None
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if old is None:
        return method
    if not isinstance(old, PruningContainer):
        old = PruningContainer(old)
    old.add_pruning_method(method)
    return old


class PruningContainer(BasePruningMethod):
    """The sequence of pruning methods applied to one tensor; its mask is the last method's
    computed on what the earlier ones left unpruned."""

    def __init__(self, *args) -> None:
        self._pruning_methods: tuple = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append ``method``, which must act on this container's tensor."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError("Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t: ember.Tensor, default_mask: ember.Tensor) -> ember.Tensor:
        """Run the newest method on the entries ("unstructured"), the channels ("structured")
        or the whole tensor ("global") that ``default_mask`` left, and merge its mask in."""
        method = self._pruning_methods[-1]
        new_mask = default_mask.to(dtype=t.dtype)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            slc = default_mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have '
                                     "the attribute `dim` defined.")
            n_dims = t.dim()
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            keep_channel = default_mask.sum(dim=[d for d in range(n_dims) if d != dim]) != 0
            slc = tuple(keep_channel if d == dim else slice(None) for d in range(n_dims))
        elif kind == "global":
            slc = tuple(slice(None) for _ in range(t.dim()))
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial = method.compute_mask(t[slc], default_mask=default_mask[slc])
        new_mask[slc] = partial.to(dtype=new_mask.dtype)
        return new_mask


def _zero_entries(default_mask: ember.Tensor, flat_indices) -> ember.Tensor:
    """A copy of ``default_mask`` with the given flat positions set to 0."""
    flat = default_mask.reshape(-1).clone()
    if len(flat_indices):
        idx = ember.tensor(flat_indices, dtype=ember.int64, device=flat.device)
        flat[idx] = 0
    return flat.reshape(default_mask.shape)


def _channel_mask(t: ember.Tensor, dim: int, channels) -> ember.Tensor:
    """Zeros like ``t`` with ones on the given channels along ``dim``."""
    mask = ember.zeros_like(t)
    slc = [slice(None)] * t.dim()
    slc[dim] = channels
    mask[tuple(slc)] = 1
    return mask


def _host(t: ember.Tensor):
    return t.detach().cpu().numpy()


class Identity(BasePruningMethod):
    """Prunes nothing: the mask stays all ones (still reparametrizes the tensor)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _Unstructured(BasePruningMethod):
    """Prunes ``amount`` entries (int) or that fraction of them (float): the flat indices
    ``_chosen(t, n)`` picks."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        tensor_size = t.nelement()
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        if nparams_toprune == 0:
            return default_mask.clone()
        return _zero_entries(default_mask, self._chosen(t, nparams_toprune))


class RandomUnstructured(_Unstructured):
    """Prune ``amount`` entries (int) or that fraction of them (float), chosen at random."""

    def _chosen(self, t, n):
        prob = ember.rand_like(t)
        return ember.topk(prob.reshape(-1), k=n).indices.cpu().numpy()

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prune the ``amount`` entries (int, or fraction as float) of smallest absolute value."""

    def _chosen(self, t, n):
        # NOTE: the entries picked among equal magnitudes are torch.topk's (see _select)
        return topk_indices(_host(ember.abs(t)), n, largest=False)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class RandomStructured(BasePruningMethod):
    """Prune ``amount`` whole channels along ``dim``, chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim: int = -1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        _validate_pruning_amount(nparams_toprune, tensor_size)
        if nparams_toprune == 0:
            return default_mask
        prob = ember.rand(tensor_size)
        threshold = ember.kthvalue(prob, k=nparams_toprune).values
        mask = _channel_mask(t, self.dim, (prob > threshold).to(t.device))
        return mask * default_mask.to(dtype=mask.dtype)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prune the ``amount`` channels along ``dim`` of smallest L``n`` norm (``n`` as
    ``ember.norm``'s ``p``: a number, ``inf``, ``-inf`` or ``"fro"``)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim: int = -1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        tensor_size = t.shape[self.dim]
        nparams_toprune = _compute_nparams_toprune(self.amount, tensor_size)
        nparams_tokeep = tensor_size - nparams_toprune
        _validate_pruning_amount(nparams_toprune, tensor_size)
        norm = _compute_norm(t, self.n, self.dim)
        if nparams_toprune == 0:
            return default_mask
        # NOTE: the channels kept among equal norms are torch.topk's (see _select)
        keep = topk_indices(_host(norm), nparams_tokeep, largest=True)
        if len(keep):
            mask = _channel_mask(t, self.dim, ember.tensor(keep, device=t.device))
        else:
            mask = ember.zeros_like(t)
        return mask * default_mask.to(dtype=mask.dtype)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune with a given mask (multiplied into any previous one)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: ember.Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if default_mask.shape != self.mask.shape:
            raise AssertionError(f"default_mask shape {default_mask.shape} must match "
                                 f"self.mask shape {self.mask.shape}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module: Module, name: str) -> Module:
    """Reparametrize ``module.<name>`` as ``<name>_orig * <name>_mask`` with an all-ones mask.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = prune.identity(ember.nn.Linear(2, 3), "bias")
    >>> m.bias_mask
    tensor([1., 1., 1.])
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount) -> Module:
    """Prune ``amount`` (int) or a fraction ``amount`` (float) of the unpruned entries of
    ``module.<name>``, chosen at random.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = prune.random_unstructured(ember.nn.Linear(5, 2), "weight", amount=3)
    >>> int((m.weight_mask == 0).sum())
    3
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    """Prune the ``amount`` unpruned entries of ``module.<name>`` with the smallest
    ``|importance_scores|`` (default: the parameter itself).

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = ember.nn.Linear(3, 1, bias=False)
    >>> with ember.no_grad():
    ...     _ = m.weight.copy_(ember.tensor([[0.5, -0.1, 2.0]]))
    >>> prune.l1_unstructured(m, "weight", amount=1).weight_mask
    tensor([[1., 0., 1.]])
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount, dim: int) -> Module:
    """Prune ``amount`` whole channels of ``module.<name>`` along ``dim``, chosen at random.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = prune.random_structured(ember.nn.Linear(3, 4), "weight", amount=2, dim=0)
    >>> int((m.weight_mask.sum(1) == 0).sum())
    2
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount, n, dim: int,
                  importance_scores=None) -> Module:
    """Prune the ``amount`` channels of ``module.<name>`` along ``dim`` with the smallest
    L``n`` norm of ``importance_scores`` (default: the parameter itself).

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = ember.nn.Linear(2, 3, bias=False)
    >>> with ember.no_grad():
    ...     _ = m.weight.copy_(ember.tensor([[1., 1.], [0., 0.1], [3., 0.]]))
    >>> prune.ln_structured(m, "weight", amount=1, n=2, dim=0).weight_mask
    tensor([[1., 1.],
            [0., 0.],
            [1., 1.]])
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the (module, name) pairs in ``parameters`` together: ``pruning_method(**kwargs)``
    (an "unstructured" method such as :class:`L1Unstructured`) sees all their entries as one
    vector, so the amount is spread over them by importance.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> a, b = ember.nn.Linear(4, 4), ember.nn.Linear(4, 2)
    >>> prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured,
    ...                           amount=10)
    >>> int((a.weight_mask == 0).sum() + (b.weight_mask == 0).sum())
    10
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    scores = parameters_to_vector([importance_scores.get((m, n), getattr(m, n))
                                   for m, n in parameters])
    default_mask = parameters_to_vector([getattr(m, n + "_mask") if hasattr(m, n + "_mask")
                                         else ember.ones_like(getattr(m, n))
                                         for m, n in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
                        f"Found method {pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final_mask = container.compute_mask(scores, default_mask)
    start = 0
    for module, name in parameters:
        param = getattr(module, name)
        count = param.numel()
        custom_from_mask(module, name, mask=final_mask[start:start + count].view_as(param))
        start += count


def custom_from_mask(module: Module, name: str, mask: ember.Tensor) -> Module:
    """Prune ``module.<name>`` where ``mask`` is 0.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = prune.custom_from_mask(ember.nn.Linear(2, 2), "bias", ember.tensor([0., 1.]))
    >>> m.bias_mask
    tensor([0., 1.])
    """
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.<name>`` permanent: it becomes a plain parameter again,
    holding the pruned values.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> m = prune.remove(prune.identity(ember.nn.Linear(2, 2), "weight"), "weight")
    >>> sorted(m.state_dict())
    ['bias', 'weight']
    """
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     "can be removed")


def is_pruned(module: Module) -> bool:
    """Whether ``module`` or any of its submodules has a pruned tensor.

    >>> import ember
    >>> from ember.nn.utils import prune
    >>> prune.is_pruned(prune.identity(ember.nn.Linear(2, 2), "weight"))
    True
    """
    return any(isinstance(hook, BasePruningMethod)
               for _, sub in module.named_modules()
               for hook in sub._forward_pre_hooks.values())


def _validate_pruning_amount_init(amount) -> None:
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if isinstance(amount, numbers.Integral):
        bad = amount < 0
    else:
        bad = float(amount) > 1.0 or float(amount) < 0.0
    if bad:
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         "non-negative integer")


def _validate_pruning_amount(amount, tensor_size: int) -> None:
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to "
                         f"prune={tensor_size}")


def _validate_structured_pruning(t: ember.Tensor) -> None:
    shape = t.shape
    if len(shape) <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. "
                         f"Found tensor of shape {shape} with {len(shape)} dims")


def _compute_nparams_toprune(amount, tensor_size: int) -> int:
    if isinstance(amount, numbers.Integral):
        return amount
    # NOTE: Python's round (half to even), as torch
    return round(amount * tensor_size)


def _validate_pruning_dim(t: ember.Tensor, dim: int) -> None:
    if dim >= t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _compute_norm(t: ember.Tensor, n, dim: int) -> ember.Tensor:
    dims = list(range(t.dim()))
    dims.remove(dims[dim])
    return ember.norm(t, p=n, dim=dims)
