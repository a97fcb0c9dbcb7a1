"""Automatic mixed precision, as torch.amp: ``autocast`` regions and ``GradScaler``.

Inside ``autocast(device_type)`` the ops torch runs in lower precision (matmul, mm, bmm, addmm,
baddbmm, addbmm, linear, conv1d, conv2d, conv_transpose1d, conv_transpose2d) cast their
floating-point tensors of that device type to the autocast dtype (bfloat16 on cpu, float16
elsewhere); every other op runs unchanged. The casts are ember's differentiable ``.to``, so
gradients reach float32 parameters in float32.

Those ops call ``cast`` only while ``active`` is non-zero: outside autocast a hooked op pays one
module-attribute check.

>>> import ember
>>> from ember.core import amp
>>> with amp.autocast("cpu"):
...     (ember.ones(2, 2) @ ember.ones(2, 2)).dtype
ember.bfloat16
"""
from __future__ import annotations

import collections
import copy
import enum
import functools
import math
import sys
import threading
import types
import warnings

from . import dtypes as _dt
from .autograd import grad_mode
from .tensor import Tensor

__all__ = ["autocast", "GradScaler", "cuda_autocast", "cpu_autocast", "CudaGradScaler",
           "CpuGradScaler", "custom_fwd", "custom_bwd", "is_autocast_available",
           "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype",
           "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
           "clear_autocast_cache", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype",
           "is_autocast_cpu_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision"]

# ---- autocast state ---------------------------------------------------------------------------

# torch's defaults: bfloat16 on cpu, float16 on cuda (and here on every other device type)
_DEFAULT_DTYPE = {"cpu": _dt.bfloat16}
_LOWER = (_dt.bfloat16, _dt.float16)  # the dtypes an autocast region may compute in
# device types torch knows: an unknown string is an error there, so it is here
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep",
                       "hip", "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta",
                       "hpu", "mtia", "privateuseone")


class _Local(threading.local):
    """Autocast state of one thread (torch's is thread-local too)."""

    def __init__(self):
        self.enabled = {}       # device type -> True while autocast is on for it
        self.dtype = {}         # device type -> dtype set for it (absent: the default)
        self.cache_enabled = True
        self.cache = {}         # id(parameter) -> (parameter, version, dtype, its cast)
        self.nesting = 0        # autocast regions open; the cache is dropped when it is 0


_local = _Local()
# Enabled (thread, device type) pairs in the process: the hooked ops look at this alone, so
# it must change only through _set_enabled.
active = 0
_lock = threading.Lock()


def _default_dtype(device_type):
    return _DEFAULT_DTYPE.get(device_type, _dt.float16)


def _set_enabled(device_type, enabled):
    global active
    enabled = bool(enabled)
    was = _local.enabled.get(device_type, False)
    if was == enabled:
        return
    with _lock:  # (+= on a module global is not atomic across threads)
        active += 1 if enabled else -1
    if enabled:
        _local.enabled[device_type] = True
    else:
        del _local.enabled[device_type]


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can run on ``device_type`` (a loaded ember backend)."""
    from ..plugins.registry import available
    return device_type in available()


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` in this thread (no argument: cuda, as
    torch's deprecated form)."""
    return _local.enabled.get("cuda" if device_type is None else device_type, False)


def set_autocast_enabled(device_type, enabled=None):
    """Turn autocast on or off for ``device_type`` without a region (torch's low-level
    setter); ``set_autocast_enabled(flag)`` is the deprecated cuda form."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _set_enabled(device_type, enabled)


def get_autocast_dtype(device_type: str):
    """The dtype autocast computes in on ``device_type`` (its default outside regions)."""
    dtype = _local.dtype.get(device_type)
    return _default_dtype(device_type) if dtype is None else dtype


def set_autocast_dtype(device_type: str, dtype):
    _local.dtype[device_type] = dtype


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled() -> bool:
    return _local.cache_enabled


def set_autocast_cache_enabled(enabled: bool):
    _local.cache_enabled = bool(enabled)


def clear_autocast_cache():
    _local.cache.clear()


# ---- the hook ---------------------------------------------------------------------------------

def cast(*args):
    """``args`` as a lower-precision op sees them under autocast: each floating-point tensor on
    a device type with autocast on, cast to that type's autocast dtype. float64 stays (as
    torch: autocast never narrows double), and so does everything that is not a tensor.
    The hooked ops call this only while ``active``."""
    enabled = _local.enabled
    if not enabled:  # (on in another thread only)
        return args
    out = []
    for a in args:
        if isinstance(a, Tensor):
            dt = a._dtype
            if dt.is_floating_point and dt is not _dt.float64:
                kind = a._device.type
                if kind in enabled:
                    to = _local.dtype.get(kind)
                    to = _default_dtype(kind) if to is None else to
                    if dt is not to:
                        a = _cached_cast(a, to)
        out.append(a)
    return out


# torch's float32 lists: under autocast these ops widen their float16/bfloat16 tensor arguments
# to float32 first, so they compute and return float32. torch keys them by device type: one
# list for cpu, and cuda's for every other device type (torch's accelerators share it).
_LOSSES = frozenset({
    "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy",
    "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
    "mse_loss", "multi_margin_loss", "multilabel_margin_loss", "nll_loss", "poisson_nll_loss",
    "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss"})
_FLOAT32_OPS = {
    "cpu": _LOSSES | {
        "binary_cross_entropy", "ctc_loss", "avg_pool3d", "max_pool3d", "adaptive_avg_pool3d",
        "adaptive_max_pool3d", "max_unpool2d", "max_unpool3d", "fractional_max_pool2d",
        "fractional_max_pool3d", "reflection_pad", "replication_pad", "grid_sample", "prod",
        "quantile", "nanquantile", "cdist", "trace", "cholesky", "cholesky_inverse",
        "cholesky_solve", "inverse", "lu_solve", "pinverse", "qr", "svd", "triangular_solve",
        "linalg_cholesky", "linalg_cholesky_ex", "linalg_inv", "linalg_inv_ex", "linalg_eig",
        "linalg_eigvals", "linalg_eigh", "linalg_eigvalsh", "linalg_householder_product",
        "linalg_tensorinv", "linalg_tensorsolve", "linalg_qr", "linalg_svd", "linalg_svdvals",
        "linalg_lstsq", "linalg_solve", "linalg_cond", "linalg_matrix_rank"},
    None: _LOSSES | {
        "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
        "reciprocal", "rsqrt", "sinh", "tan", "pow", "softplus", "layer_norm", "group_norm",
        "norm", "cosine_similarity", "normalize", "dist", "pdist", "cdist", "renorm",
        "logsumexp", "interpolate",
        # (these only when no dtype argument is given: torch's "fp32_set_opt_dtype" ops)
        "softmax", "log_softmax", "softmin", "cumsum", "cumprod", "sum", "prod",
        "linalg_vector_norm", "linalg_matrix_norm"},
}


def is_float32_listed(name) -> bool:
    """Whether op ``name`` is on torch's float32 list of some device type."""
    return any(name in ops for ops in _FLOAT32_OPS.values())


def float32_ops(device_type) -> frozenset:
    """The names of the ops autocast runs in float32 on ``device_type``."""
    return _FLOAT32_OPS.get(device_type) or _FLOAT32_OPS[None]


# The modules of ember's op implementations. An op they call is part of another op (mean's
# sum, elu's exp): like the inside of one of torch's kernels, autocast leaves it alone. Calls
# from anywhere else (user code, nn.Module forwards, distributions) are autocast's to decide.
_PACKAGE = __name__.rsplit(".", 2)[0]
_OP_MODULES = tuple(f"{_PACKAGE}.{m}" for m in (
    "core.ops.", "core.nn.functional", "core.nn._functional", "core.special",
    "core.linalg_api", "core.amp"))


_PROFILER = f"{_PACKAGE}.core.profiler"


def _called_by_an_op(depth):
    """Whether the function ``depth`` frames above the caller is ember op code (the
    profiler's timing wrappers in between are looked through)."""
    frame = sys._getframe(depth + 1)
    name = frame.f_globals.get("__name__", "")
    while name.startswith(_PROFILER) and frame.f_back is not None:
        frame = frame.f_back
        name = frame.f_globals.get("__name__", "")
    return name.startswith(_OP_MODULES)


def _widened(name, t):
    if isinstance(t, Tensor) and t._dtype in _LOWER:
        kind = t._device.type
        if kind in _local.enabled and name in float32_ops(kind):
            return t.to(_dt.float32)
    return t


def widen(name, t):
    """``t`` as op ``name`` sees it under autocast: a float16/bfloat16 tensor on a device type
    with autocast on, whose list has ``name``, becomes float32 (a recorded cast, so gradients
    flow back in t's dtype), unless the op was called by another op. Anything else is returned
    as it is. Call it from the op's own function, and only while ``active`` (outside autocast
    an op pays one module-attribute read)."""
    w = _widened(name, t)
    if w is not t and _called_by_an_op(2):
        return t
    return w


def float32_op(fn=None, *, name=None, unsafe_on=()):
    """Decorator: ``fn`` is on torch's autocast float32 list (``name``, default the function's
    name, is looked up per device type): under autocast, its float16/bfloat16 tensor arguments
    are widened to float32 first, so it computes and returns float32. On the device types in
    ``unsafe_on`` autocast refuses the op instead (torch's "unsafe to autocast" ops)."""
    if fn is None:
        return functools.partial(float32_op, name=name, unsafe_on=unsafe_on)
    name = name or fn.__name__

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if active:
            enabled = _local.enabled
            if enabled:
                for kind in unsafe_on:
                    if kind in enabled and any(isinstance(a, Tensor) and a._device.type == kind
                                               for a in args):
                        raise RuntimeError(_UNSAFE.get(fn.__name__, f"{fn.__name__} is unsafe "
                                                                    f"to autocast."))
                if not _called_by_an_op(1):
                    args = [_widened(name, a) for a in args]
                    kwargs = {k: _widened(name, v) for k, v in kwargs.items()}
                # (computed in float32 throughout, as torch's kernels: the lower-precision ops
                # some are built from, matmul in lstsq, must not cast back)
                _local.enabled = {}
                try:
                    return fn(*args, **kwargs)
                finally:
                    _local.enabled = enabled
        return fn(*args, **kwargs)
    return op


_UNSAFE = {"binary_cross_entropy": (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_"
    "logits\nor torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and "
    "BCEWithLogits are\nsafe to autocast.")}


def uncast(fn, *args):
    """``fn(*args)`` with autocast suspended in this thread: an op off torch's lists that is
    built on a listed one (mv and dot on matmul) runs unchanged, as torch's own ops do."""
    loc = _local
    saved = loc.enabled
    if not saved:
        return fn(*args)
    # (a region entered inside fn balances itself against the empty dict; `active` is kept)
    loc.enabled = {}
    try:
        return fn(*args)
    finally:
        loc.enabled = saved


def _cached_cast(t, dtype):
    """``t.to(dtype)``; a float32 leaf that requires grad (a parameter) is cast once per
    region and reused, as torch's cast cache, unless it was modified in place since."""
    loc = _local
    if not (loc.cache_enabled and t._requires_grad and t._grad_fn is None and t._base is None
            and t._dtype is _dt.float32 and grad_mode.state.enabled):
        return t.to(dtype)
    hit = loc.cache.get(id(t))
    if hit is not None and hit[0] is t and hit[1] == t._version and hit[2] is dtype:
        return hit[3]
    c = t.to(dtype)
    # (the entry keeps t alive, so its id cannot be reused while the entry exists)
    loc.cache[id(t)] = (t, t._version, dtype, c)
    return c


# ---- autocast ---------------------------------------------------------------------------------

# (device type, dtype) -> True, or ("warn" | "raise", message): backends are fixed once loaded,
# and asking them (capabilities sorts every kernel name) would cost a region ~80 us
_verdicts = {}


def _verdict(kind, dtype):
    from ..plugins.registry import available, capabilities
    if kind not in available():
        if kind not in _TORCH_DEVICE_TYPES:
            return "raise", (f"Expected one of {', '.join(available())} device type at start of "
                             f"device string: {kind}")
        return "warn", (f"User provided device_type of '{kind}', but the {kind} backend is not "
                        "available. Disabling autocast.")
    if dtype not in _LOWER:
        return "warn", (f"In {kind} autocast, but the target dtype is not supported. Disabling "
                        f"autocast.\n{kind} Autocast only supports dtypes of ember.bfloat16, "
                        "ember.float16 currently.")
    if dtype.name not in capabilities(kind)["dtypes"]:
        return "warn", (f"In {kind} autocast, but the {kind} backend has no {dtype}. Disabling "
                        "autocast.")
    return True


class autocast:
    """Context manager and decorator: inside, the lower-precision ops on ``device_type`` run
    in ``dtype`` (default: bfloat16 on cpu, float16 elsewhere). Regions nest; the state is
    per thread, as torch's.

    >>> import ember
    >>> from ember.core import amp
    >>> @amp.autocast("cpu")
    ... def f(a, b):
    ...     return a @ b
    >>> f(ember.ones(2, 2), ember.ones(2, 2)).dtype
    ember.bfloat16
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else bool(cache_enabled))
        self._enabled = bool(enabled)
        if self._enabled:
            self._enabled = self._check()
        self._prev = []  # a stack: a decorated function may re-enter the same region

    def _check(self):
        """False (with torch's warning) where this region cannot compute in its dtype."""
        verdict = _verdicts.get((self.device, self.fast_dtype))
        if verdict is None:
            verdict = _verdicts[(self.device, self.fast_dtype)] = _verdict(self.device,
                                                                           self.fast_dtype)
        if verdict is True:
            return True
        kind, message = verdict
        if kind == "raise":
            raise RuntimeError(message)
        warnings.warn(message)
        return False

    def __enter__(self):
        kind = self.device
        self._prev.append((is_autocast_enabled(kind), _local.dtype.get(kind),
                           _local.cache_enabled))
        _local.nesting += 1
        _local.dtype[kind] = self.fast_dtype
        _local.cache_enabled = self._cache_enabled
        _set_enabled(kind, self._enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        kind = self.device
        enabled, dtype, cache_enabled = self._prev.pop()
        _local.nesting -= 1
        if _local.nesting == 0:
            _local.cache.clear()  # (as torch: casts live for the outermost region)
        _set_enabled(kind, enabled)
        if dtype is None:
            _local.dtype.pop(kind, None)
        else:
            _local.dtype[kind] = dtype
        _local.cache_enabled = cache_enabled
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            # (a copy per call: the decorated function may run in several threads at once)
            with copy.copy(self)._fresh():
                return func(*args, **kwargs)
        return decorate_autocast

    def _fresh(self):
        self._prev = []
        return self

    def __repr__(self):
        return (f"autocast(device_type={self.device!r}, dtype={self.fast_dtype}, "
                f"enabled={self._enabled})")


def cuda_autocast(enabled: bool = True, dtype=_dt.float16, cache_enabled: bool = True):
    """``torch.cuda.amp.autocast(...)`` (deprecated there): an autocast region for cuda."""
    warnings.warn("`ember.cuda.amp.autocast(args...)` is deprecated. Please use "
                  "`ember.amp.autocast('cuda', args...)` instead.", FutureWarning, stacklevel=2)
    return autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def cpu_autocast(enabled: bool = True, dtype=_dt.bfloat16, cache_enabled: bool = True):
    """``torch.cpu.amp.autocast(...)`` (deprecated there): an autocast region for cpu."""
    warnings.warn("`ember.cpu.amp.autocast(args...)` is deprecated. Please use "
                  "`ember.amp.autocast('cpu', args...)` instead.", FutureWarning, stacklevel=2)
    return autocast("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def _cast_tree(value, device_type, dtype):
    """``value`` with its floating-point tensors on ``device_type`` cast to ``dtype`` (float64
    stays), through lists, tuples and dicts."""
    if isinstance(value, Tensor):
        ok = (value._dtype.is_floating_point and value._dtype is not _dt.float64
              and value._device.type == device_type)
        return value.to(dtype) if ok else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _cast_tree(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_tree(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for the ``forward`` of a custom ``autograd.Function`` (torch.amp.custom_fwd):
    with ``cast_inputs``, an autocast region runs it with autocast off on inputs cast to that
    dtype; without, it runs under the caller's autocast state, which ``custom_bwd`` restores
    for the backward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast_tree(args, device_type, cast_inputs),
                       **_cast_tree(kwargs, device_type, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for the ``backward`` of a custom Function: runs it under the autocast state
    its forward saw (torch.amp.custom_bwd)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd


# ---- GradScaler -------------------------------------------------------------------------------

class OptState(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class GradScaler:
    """Loss scaling for float16 training, torch.amp.GradScaler's API and rules.

    ``scale(loss)`` multiplies by the scale; ``step(optimizer)`` unscales the gradients (unless
    ``unscale_`` did) and skips the step when any is inf or NaN; ``update()`` backs the scale
    off after a skipped step and grows it after ``growth_interval`` clean steps in a row. The
    scale lives on the device of the first outputs scaled; parameters may be on any device.
    Disabled, every method passes through.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True):
        self._device = device
        self._enabled = enabled
        if enabled and not is_autocast_available(device):
            warnings.warn(f"ember.amp.GradScaler is enabled, but {device} is not available.  "
                          "Disabling.")
            self._enabled = False
        if self._enabled:
            assert growth_factor > 1.0, "The growth factor must be > 1.0."
            assert backoff_factor < 1.0, "The backoff factor must be < 1.0."
            self._init_scale = init_scale
            self._scale = None  # a float32 scalar tensor, made by the first scale()
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None  # an int32 scalar tensor: clean steps in a row
            self._per_optimizer_states = collections.defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname):
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) earlier "
               "in the iteration.")
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, (f"Attempted {funcname} but _growth_tracker "
                                                  "is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev):
        from .ops.creation import full
        self._scale = full((), self._init_scale, dtype=_dt.float32, device=dev)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=_dt.int32, device=dev)

    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists and tuples of them) times the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(device=outputs.device)
        per_device = {}  # one copy of the scale per device, for every output on it

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker(val.device)
                s = per_device.get(val._device)
                if s is None:
                    s = per_device[val._device] = self._scale.to(device=val.device)
                return val * s
            if isinstance(val, collections.abc.Iterable):
                iterable = map(apply_scale, val)
                if isinstance(val, (list, tuple)):
                    return type(val)(iterable)
                return iterable
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        """Multiply every gradient of ``optimizer`` by ``inv_scale`` (a float) in place; per
        device, a float32 scalar tensor that is 1 where a gradient held an inf or NaN."""
        from .ops import creation, elementwise as E, shape as S
        grads = collections.defaultdict(list)
        for group in optimizer.param_groups:
            for param in group["params"]:
                g = param.grad
                if g is None:
                    continue
                if not allow_fp16 and g.dtype is _dt.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                grads[g._device].append(g)
        found = {}
        with grad_mode.no_grad():
            for dev, gs in grads.items():
                inv = creation.full((), inv_scale, dtype=_dt.float32, device=dev)
                # the check reads the scaled values, before the multiply (torch's order)
                finite = [E.isfinite(g).all() for g in gs]
                for g in gs:
                    g.mul_(inv)
                found[dev] = E.logical_not(S.stack(finite).all()).to(_dt.float32)
        return found

    def unscale_(self, optimizer):
        """Divide the gradients of ``optimizer`` by the scale, in place (once per step, before
        clipping them, say); ``step`` then does not unscale again."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # 1 / scale rounded once to float32 (torch: double reciprocal, then float)
        inv_scale = float(_dt_round_f32(1.0 / self._scale.item()))
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on unscaled gradients, skipped when any of them
        is inf or NaN; returns what the step returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        assert len(state["found_inf_per_device"]) > 0, ("No inf checks were recorded for this "
                                                         "optimizer.")
        retval = None
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Set the scale for the next iteration: ``new_scale`` (a float or a one-element
        tensor), or torch's rule: times ``backoff_factor`` after a skipped step, times
        ``growth_factor`` after ``growth_interval`` clean steps in a row."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                _scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element tensor with "
                          "requires_grad=False.")
                assert new_scale.device.type == _scale.device.type, reason
                assert new_scale.numel() == 1, reason
                assert new_scale.requires_grad is False, reason
                _scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [f.to(device=_scale.device)
                          for state in self._per_optimizer_states.values()
                          for f in state["found_inf_per_device"].values()]
            assert len(found_infs) > 0, "No inf checks were recorded prior to update."
            found = sum(f.item() for f in found_infs)
            # torch's _amp_update_scale_, on the host: the products in double, stored as float
            scale, tracker = _scale.item(), int(_growth_tracker.item())
            if found:
                scale, tracker = _dt_round_f32(scale * self._backoff_factor), 0
            elif tracker + 1 == self._growth_interval:
                grown = _dt_round_f32(scale * self._growth_factor)
                scale, tracker = (grown if math.isfinite(grown) else scale), 0
            else:
                tracker += 1
            _scale.fill_(scale)
            _growth_tracker.fill_(tracker)
        self._per_optimizer_states = collections.defaultdict(_refresh_per_optimizer_state)

    def _get_scale_async(self):
        return self._scale

    def get_scale(self) -> float:
        """The current scale as a float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        if self._growth_tracker is None:
            return self._init_growth_tracker
        return int(self._growth_tracker.item())

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker (an empty
        dict when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            assert len(self._per_optimizer_states) == 0, (
                "A GradScaler instance may only be pickled at the beginning of an iteration, or "
                "at the end after scaler.update().")
            # the tensors are rebuilt on the next scale(); a defaultdict of a local function
            # would not pickle
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
            state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._enabled:
            self._per_optimizer_states = collections.defaultdict(_refresh_per_optimizer_state)


class CudaGradScaler(GradScaler):
    """``torch.cuda.amp.GradScaler``: a GradScaler for cuda."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


class CpuGradScaler(GradScaler):
    """``torch.cpu.amp.GradScaler``: a GradScaler for cpu."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True):
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


def _dt_round_f32(x: float) -> float:
    """``x`` rounded to float32 (inf where it overflows), as a float."""
    import numpy as np
    with np.errstate(over="ignore"):
        return float(np.float32(x))


# ---- float32 matmul precision -----------------------------------------------------------------

_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Record torch's float32 matmul precision setting ("highest", "high" or "medium").

    A recorded setting only: Ember computes float32 products in float32 whatever it says (no
    TF32 or bfloat16 passes). An unknown string warns and changes nothing, as torch's.
    """
    global _matmul_precision
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _MATMUL_PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The recorded float32 matmul precision ("highest" unless set)."""
    return _matmul_precision


def device_module(device_type: str) -> types.ModuleType:
    """``torch.cuda.amp`` / ``torch.cpu.amp``: the deprecated per-device spellings, with the
    device type fixed."""
    mod = types.ModuleType(f"ember.{device_type}.amp")
    mod.autocast, mod.GradScaler = {"cuda": (cuda_autocast, CudaGradScaler),
                                    "cpu": (cpu_autocast, CpuGradScaler)}[device_type]
    mod.custom_fwd = functools.partial(custom_fwd, device_type=device_type)
    mod.custom_bwd = functools.partial(custom_bwd, device_type=device_type)
    return mod
