"""torch's ``_foreach_*`` functions: one op applied over lists of tensors (``torch._foreach_add_(
params, grads, alpha=-lr)``, ``torch._foreach_lerp_(target, source, tau)``).

Each is a loop over Ember's own ops and Tensor methods, so dtype promotion, broadcasting, the
in-place checks and autograd are theirs. The overloads follow torch's: the second argument may be
a Python number, a list of numbers (one per tensor), a 0-dim tensor or a list of tensors, where
torch accepts that form. Out-of-place versions return a tuple of new tensors; in-place versions
(``_foreach_X_``) modify the tensors and return the list they were given.
"""
from __future__ import annotations

from numbers import Number

from ..tensor import Tensor
from . import elementwise as E

_UNARY = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1",
          "floor", "frac", "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal",
          "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "sqrt", "tan", "tanh", "trunc")

__all__ = (["_foreach_" + n for n in _UNARY] + ["_foreach_" + n + "_" for n in _UNARY]
           + ["_foreach_" + n + s for n in ("add", "sub", "mul", "div", "maximum", "minimum",
                                           "clamp_min", "clamp_max", "pow", "lerp", "addcmul",
                                           "addcdiv") for s in ("", "_")]
           + ["_foreach_norm", "_foreach_max", "_foreach_copy_", "_foreach_zero_",
              "_foreach_clone"])


# ---- argument checks -------------------------------------------------------------------------

def _type_name(x):
    return "Tensor" if isinstance(x, Tensor) else type(x).__name__


def _invalid(name, args, kwargs, signatures):
    got = ", ".join([_type_name(a) for a in args]
                    + [f"{k}={_type_name(v)}" for k, v in kwargs.items()])
    lines = [f"{name}() received an invalid combination of arguments - got ({got}), "
             "but expected one of:"]
    lines += [f" * ({s})" for s in signatures]
    return TypeError("\n".join(lines) + "\n")


def _is_number(x):
    return isinstance(x, Number) and not isinstance(x, Tensor)


def _tensor_list(x, position):
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {position}, but got "
                            f"{type(t).__name__}")
    return x


def _kind(x):
    """'number', 'scalars' (a list of numbers), 'tensor', 'tensors' or None."""
    if isinstance(x, Tensor):
        return "tensor"
    if _is_number(x):
        return "number"
    if isinstance(x, (list, tuple)):
        if x and all(_is_number(v) for v in x):
            return "scalars"
        return "tensors"
    return None


def _self_list(name, self, args, kwargs, signatures):
    if not isinstance(self, (list, tuple)):
        raise _invalid(name, args, kwargs, signatures)
    _tensor_list(self, 0)
    if not self:
        raise RuntimeError("Tensor list must have at least one tensor.")
    return self


def _same_length(self, other):
    if len(self) != len(other):
        raise RuntimeError("Tensor lists must have the same number of tensors, got "
                           f"{len(self)} and {len(other)}")


def _scalars_length(self, scalars):
    if len(self) != len(scalars):
        raise RuntimeError("Tensor list must have same number of elements as scalar list.")


def _scalar_tensor(t):
    if t.ndim != 0:
        raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {t.ndim} dimensions "
                           f"and {t.numel()} elements.")
    return t


def _per_tensor(name, self, other, kind, position=1):
    """One operand per tensor of self, for an ``other`` of the given kind."""
    if kind == "number":
        return [other] * len(self)
    if kind == "scalars":
        _scalars_length(self, other)
        return list(other)
    if kind == "tensor":
        return [_scalar_tensor(other)] * len(self)
    _tensor_list(other, position)
    _same_length(self, other)
    return list(other)


def _finish(self, results, inplace):
    return self if inplace else tuple(results)


# ---- unary -----------------------------------------------------------------------------------

def _make_unary(op, inplace):
    name = f"_foreach_{op}{'_' if inplace else ''}"
    method = op + "_" if inplace else op
    signatures = ["tuple of Tensors self"]

    def fn(self):
        _self_list(name, self, (self,), {}, signatures)
        return _finish(self, [getattr(t, method)() for t in self], inplace)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}: ``{method}`` applied to each tensor of the list."
    return fn


# ---- binary: add / sub (with alpha), mul / div, maximum / minimum / clamp_min / clamp_max ---

def _apply_binary(op, t, o, alpha, inplace):
    if op in ("add", "sub"):
        if inplace:
            return getattr(t, op + "_")(o, alpha=alpha)
        return getattr(t, op)(o, alpha=alpha)
    if op in ("mul", "div"):
        return getattr(t, op + "_")(o) if inplace else getattr(t, op)(o)
    lower = op in ("maximum", "clamp_min")
    if isinstance(o, Tensor):
        res = E.maximum(t, o) if lower else E.minimum(t, o)
    else:
        res = t.clamp_min(o) if lower else t.clamp_max(o)
    return t._commit_inplace(res) if inplace else res


def _make_binary(op, inplace):
    name = f"_foreach_{op}{'_' if inplace else ''}"
    has_alpha = op in ("add", "sub")
    tail = ", *, Number alpha = 1" if has_alpha else ""
    signatures = ["tuple of Tensors self, Number scalar",
                  "tuple of Tensors self, tuple of Scalars scalars",
                  f"tuple of Tensors self, Tensor other{tail}",
                  f"tuple of Tensors self, tuple of Tensors other{tail}"]

    def fn(*args, **kwargs):
        if len(args) != 2:
            raise _invalid(name, args, kwargs, signatures)
        self, other = args
        _self_list(name, self, args, kwargs, signatures)
        kind = _kind(other)
        extra = set(kwargs) - ({"alpha"} if has_alpha else set())
        if kind is None or extra or ("alpha" in kwargs and kind in ("number", "scalars")):
            raise _invalid(name, args, kwargs, signatures)
        alpha = kwargs.get("alpha", 1)
        if not _is_number(alpha):
            raise _invalid(name, args, kwargs, signatures)
        others = _per_tensor(name, self, other, kind)
        return _finish(self, [_apply_binary(op, t, o, alpha, inplace)
                              for t, o in zip(self, others)], inplace)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"torch.{name}: ``{op}`` of each tensor with a number, one number per tensor, "
                  "a 0-dim tensor or a list of tensors.")
    return fn


def _make_pow(inplace):
    name = f"_foreach_pow{'_' if inplace else ''}"
    signatures = ["tuple of Tensors self, tuple of Tensors exponent",
                  "tuple of Tensors self, Number exponent",
                  "tuple of Tensors self, tuple of Scalars exponent"]
    if not inplace:
        signatures.append("Number self, tuple of Tensors exponent")

    def fn(self, exponent):
        args = (self, exponent)
        if not inplace and _is_number(self) and isinstance(exponent, (list, tuple)):
            _tensor_list(exponent, 1)
            if not exponent:
                raise RuntimeError("Tensor list must have at least one tensor.")
            return tuple(E.pow(self, t) for t in exponent)
        _self_list(name, self, args, {}, signatures)
        kind = _kind(exponent)
        if kind is None or kind == "tensor":
            raise _invalid(name, args, {}, signatures)
        exps = _per_tensor(name, self, exponent, kind)
        return _finish(self, [t.pow_(e) if inplace else E.pow(t, e)
                              for t, e in zip(self, exps)], inplace)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}: each tensor raised to a power (or a number to each tensor)."
    return fn


# ---- ternary: lerp, addcmul, addcdiv ---------------------------------------------------------

def _make_lerp(inplace):
    name = f"_foreach_lerp{'_' if inplace else ''}"
    signatures = ["tuple of Tensors self, tuple of Tensors tensors1, Number weight",
                  "tuple of Tensors self, tuple of Tensors tensors1, tuple of Scalars weight",
                  "tuple of Tensors self, tuple of Tensors tensors1, tuple of Tensors weights"]

    def fn(self, tensors1, *rest, **kwargs):
        args = (self, tensors1) + rest
        _self_list(name, self, args, kwargs, signatures)
        if len(rest) + len(kwargs) != 1 or (kwargs and not set(kwargs) <= {"weight",
                                                                           "weights"}):
            raise _invalid(name, args, kwargs, signatures)
        weight = rest[0] if rest else next(iter(kwargs.values()))
        if not isinstance(tensors1, (list, tuple)) or _kind(weight) is None:
            raise _invalid(name, args, kwargs, signatures)
        _tensor_list(tensors1, 1)
        _same_length(self, tensors1)
        weights = _per_tensor(name, self, weight, _kind(weight), 2)
        return _finish(self, [t.lerp_(e, w) if inplace else t.lerp(e, w)
                              for t, e, w in zip(self, tensors1, weights)], inplace)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}: self + weight * (tensors1 - self), per tensor."
    return fn


def _make_addc(op, inplace):
    name = f"_foreach_{op}{'_' if inplace else ''}"
    signatures = ["tuple of Tensors self, tuple of Tensors tensor1, tuple of Tensors tensor2, "
                  "tuple of Scalars scalars",
                  "tuple of Tensors self, tuple of Tensors tensor1, tuple of Tensors tensor2, "
                  "Tensor scalars",
                  "tuple of Tensors self, tuple of Tensors tensor1, tuple of Tensors tensor2, "
                  "Number value = 1"]

    def fn(self, tensor1, tensor2, *rest, **kwargs):
        args = (self, tensor1, tensor2) + rest
        _self_list(name, self, args, kwargs, signatures)
        if len(rest) + len(kwargs) > 1 or (kwargs and not set(kwargs) <= {"value", "scalars"}):
            raise _invalid(name, args, kwargs, signatures)
        value = rest[0] if rest else next(iter(kwargs.values()), 1)
        kind = _kind(value)
        if kind is None or kind == "tensors" or not isinstance(tensor1, (list, tuple)) or \
                not isinstance(tensor2, (list, tuple)):
            raise _invalid(name, args, kwargs, signatures)
        _tensor_list(tensor1, 1)
        _tensor_list(tensor2, 2)
        _same_length(self, tensor1)
        _same_length(self, tensor2)
        if kind == "tensor":
            if value.ndim != 1:
                raise RuntimeError("Expected packed scalar Tensor to be of dimension 1. Got "
                                   f"{value.ndim} instead.")
            if value.numel() != len(self):
                raise RuntimeError(f"Expected length of scalars to match input of length "
                                   f"{len(self)} but got {value.numel()} instead.")
            values = value.tolist()
        else:
            values = _per_tensor(name, self, value, kind, 3)
        method = op + "_" if inplace else op
        return _finish(self, [getattr(t, method)(a, b, value=v)
                              for t, a, b, v in zip(self, tensor1, tensor2, values)], inplace)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.{name}: ``{op}`` per tensor, with one value or one value per tensor."
    return fn


# ---- reductions and copies -------------------------------------------------------------------

def _foreach_norm(self, ord=2, dtype=None):
    """torch._foreach_norm: the vector norm of each tensor (a tuple of 0-dim tensors)."""
    from ..linalg_api import vector_norm
    if not _is_number(ord):
        raise TypeError("_foreach_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    _self_list("_foreach_norm", self, (self, ord), {}, ["tuple of Tensors self, Number ord = 2, "
                                                         "ScalarType? dtype = None"])
    return tuple(vector_norm(t, ord, dtype=dtype) for t in self)


def _foreach_max(self):
    """torch._foreach_max: the largest element of each tensor (a tuple of 0-dim tensors)."""
    _self_list("_foreach_max", self, (self,), {}, ["tuple of Tensors self"])
    for t in self:
        if t.numel() == 0:
            raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max "
                               "over zero elements is undefined.")
    return tuple(t.max() for t in self)


def _foreach_copy_(self, src, non_blocking=False):
    """torch._foreach_copy_: copy each tensor of src into the matching tensor of self."""
    _self_list("_foreach_copy_", self, (self, src), {},
               ["tuple of Tensors self, tuple of Tensors src, bool non_blocking = False"])
    if not isinstance(src, (list, tuple)):
        raise _invalid("_foreach_copy_", (self, src), {},
                       ["tuple of Tensors self, tuple of Tensors src, bool non_blocking = False"])
    _tensor_list(src, 1)
    _same_length(self, src)
    for t, s in zip(self, src):
        t.copy_(s, non_blocking)
    return self


def _foreach_zero_(self):
    """torch._foreach_zero_: zero every tensor of the list in place."""
    _self_list("_foreach_zero_", self, (self,), {}, ["tuple of Tensors self"])
    for t in self:
        t.zero_()
    return self


def _foreach_clone(self):
    """torch._foreach_clone: a copy of each tensor."""
    _self_list("_foreach_clone", self, (self,), {}, ["tuple of Tensors self"])
    return tuple(t.clone() for t in self)


def _register():
    g = globals()
    for inplace in (False, True):
        s = "_" if inplace else ""
        for op in _UNARY:
            g[f"_foreach_{op}{s}"] = _make_unary(op, inplace)
        for op in ("add", "sub", "mul", "div", "maximum", "minimum", "clamp_min", "clamp_max"):
            g[f"_foreach_{op}{s}"] = _make_binary(op, inplace)
        g[f"_foreach_pow{s}"] = _make_pow(inplace)
        g[f"_foreach_lerp{s}"] = _make_lerp(inplace)
        for op in ("addcmul", "addcdiv"):
            g[f"_foreach_{op}{s}"] = _make_addc(op, inplace)


_register()
