"""The backend contract: what a backend plugin provides, and what each primitive kernel means.

A backend is data: a name, the dtypes it claims, and a dict from primitive name to a kernel that
works on the backend's native arrays (NumPy arrays on cpu, CuPy arrays on cuda, Ember's own
strided buffer type on opencl). Core computes shapes, dtypes, broadcasting checks, autograd and
error messages once; a kernel only computes.

Conventions every kernel can rely on (core guarantees them before the call):
- ``dtype`` arguments are ember dtype objects (``dtype.name`` is "float32", ``dtype.np`` the NumPy
  dtype); arrays passed to one kernel already share the compute dtype unless the entry says
  otherwise.
- Arrays may be non-contiguous views (any strides, including 0-strides from ``expand``); kernels
  that are not view kernels return new, contiguous arrays that share memory with nothing.
- Shapes are tuples of ints; ``axes`` are tuples of distinct non-negative ints, already checked.
- Binary elementwise kernels broadcast NumPy-style; core has already checked the shapes agree.
  At most one operand of a binary kernel may be a Python scalar (bool/int/float) instead of an
  array; it is representable in the compute dtype and must not change the result dtype.
- Index arguments may contain out-of-range values: kernels that take indices raise IndexError for
  them (a backend may synchronise to check).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

#: Version of the contract below. A plugin declares the version it was written against; a
#: different major version is refused with a clear message when the plugin is registered.
PLUGIN_API_VERSION = 1

UNARY_FLOAT = (
    "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "erf",
    "asin", "acos", "atan", "sinh", "cosh", "log2", "exp2", "reciprocal",
)
UNARY_SAME = ("neg", "abs", "sign", "floor", "ceil", "round", "trunc")
UNARY_PREDICATE = ("isnan", "isinf", "isfinite", "logical_not")
UNARY_BITWISE = ("bitwise_not",)
BINARY_ARITH = ("add", "sub", "mul", "div", "floor_divide", "remainder", "pow",
                "maximum", "minimum", "atan2")
BINARY_COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
BINARY_LOGICAL = ("logical_and", "logical_or", "logical_xor")
BINARY_BITWISE = ("bitwise_and", "bitwise_or", "bitwise_xor")

#: Primitive name -> its contract. Every backend implements these (or the dispatcher falls back
#: to cpu for the ones it may). docs/writing-a-backend.md is generated from this table.
PRIMITIVES: dict[str, str] = {}

for _n in UNARY_FLOAT:
    PRIMITIVES[_n] = (f"{_n}(x) -> array: elementwise; x is floating point, result has x's dtype")
for _n in UNARY_SAME:
    PRIMITIVES[_n] = (f"{_n}(x) -> array: elementwise, any numeric dtype, result has x's dtype "
                      "(round is half-to-even; sign of bool is itself)")
for _n in UNARY_PREDICATE:
    PRIMITIVES[_n] = f"{_n}(x) -> bool array: elementwise on any dtype"
PRIMITIVES["bitwise_not"] = "bitwise_not(x) -> array: integer or bool (bool: logical not)"
for _n in BINARY_ARITH:
    PRIMITIVES[_n] = (f"{_n}(a, b) -> array of the compute dtype: broadcasting. div is true "
                      "division (float dtypes only); floor_divide/remainder follow Python's sign "
                      "rules (remainder takes the divisor's sign); integer division by zero is "
                      "the backend's choice; maximum/minimum propagate NaN")
for _n in BINARY_COMPARE:
    PRIMITIVES[_n] = f"{_n}(a, b) -> bool array: broadcasting comparison"
for _n in BINARY_LOGICAL:
    PRIMITIVES[_n] = f"{_n}(a, b) -> bool array: broadcasting, nonzero is true"
for _n in BINARY_BITWISE:
    PRIMITIVES[_n] = f"{_n}(a, b) -> array: integer or bool dtypes"
PRIMITIVES.update({
    "where": "where(cond, a, b) -> array: cond is bool; a, b share a dtype (or one is a scalar); "
             "broadcasting over all three",
    "cast": "cast(x, dtype) -> new array of dtype (float->int truncates toward zero; to bool is x != 0)",
    "contiguous": "contiguous(x) -> new C-contiguous copy of x",
    # reductions
    "sum": "sum(x, axes, keepdim) -> array of x's dtype (core casts ints to int64 first)",
    "prod": "prod(x, axes, keepdim) -> array of x's dtype",
    "amax": "amax(x, axes, keepdim) -> array: maximum, NaN propagates; bool allowed (any)",
    "amin": "amin(x, axes, keepdim) -> array: minimum, NaN propagates; bool allowed (all)",
    "argmax": "argmax(x, axis, keepdim) -> int64 array: index of first maximum (NaN counts as max)",
    "argmin": "argmin(x, axis, keepdim) -> int64 array: index of first minimum (NaN counts as min)",
    "cumsum": "cumsum(x, axis) -> array of x's dtype",
    "cumprod": "cumprod(x, axis) -> array of x's dtype",
    "sort": "sort(x, axis, descending, stable) -> (values, int64 indices); NaN sorts as largest",
    "matmul": "matmul(a, b) -> array: a is (..., n, k), b is (..., k, m), both >= 2-d, batch dims "
              "broadcast; same dtype",
    # views: the result shares memory with x
    "view": "view(x, shape) -> view of x with the same elements in row-major order, or None when "
            "x's strides do not allow it without a copy",
    "permute": "permute(x, axes) -> view with axes reordered",
    "expand": "expand(x, shape) -> broadcast view (0-strides); shape has x's ndim",
    "getitem_basic": "getitem_basic(x, index) -> view: index is a tuple, one entry per dim of x "
                     "(after None entries), each an int (in range, non-negative), a slice with "
                     "non-negative start/stop and positive step (already clamped), or None "
                     "(new axis of size 1)",
    "as_strided": "as_strided(x, shape, strides) -> view starting at x's first element, strides "
                  "in elements (not bytes)",
    "strides": "strides(x) -> tuple of x's strides in elements",
    # copies that gather or scatter
    "getitem_advanced": "getitem_advanced(x, index) -> new array: NumPy advanced indexing; index "
                        "is a tuple of ints, slices (as above), None, and int64 arrays (on this "
                        "backend); bool masks are turned into int arrays by core",
    "setitem": "setitem(x, index, value) -> None: writes value (array of x's dtype broadcastable "
               "to the indexed shape, or a scalar) into x in place; index as getitem_advanced, or "
               "() for all of x; x may be a view and the write is seen through its base",
    "index_add": "index_add(x, index, values) -> None: in place x[index] += values, accumulating "
                 "repeated indices (NumPy's add.at); index as getitem_advanced",
    "gather": "gather(x, axis, index) -> array shaped like index: x[..., index[i], ...] along axis",
    "scatter": "scatter(x, axis, index, src) -> new array: copy of x with src written at index "
               "along axis (src shaped like index)",
    "scatter_add": "scatter_add(x, axis, index, src) -> new array: copy of x with src "
                   "accumulated at index along axis",
    "scatter_reduce": "scatter_reduce(x, axis, index, src, reduce) -> new array: copy of x "
                      "with each src element combined into it at index along axis by reduce, "
                      "'prod', 'amax' or 'amin' (bool: and, or, and; NaN propagates; integer "
                      "products wrap around); src is shaped like index, whose entries core has "
                      "checked are in [0, x.shape[axis])",
    "nonzero": "nonzero(x) -> int64 array (count, ndim) of indices of nonzero elements, row-major",
    "cat": "cat(arrays, axis) -> new array: concatenation of same-dtype arrays",
    "flip": "flip(x, axes) -> new array with the order of elements reversed along axes",
    # creation
    "empty": "empty(shape, dtype, index) -> new uninitialised array on device `index`",
    "full": "full(shape, value, dtype, index) -> new array filled with the scalar value",
    "arange": "arange(start, stop, step, dtype, index) -> 1-d array, like numpy.arange in dtype",
    # random numbers: gen is an object from Backend.generator(); each call advances it
    "rand_uniform": "rand_uniform(gen, shape, dtype) -> floats uniform in [0, 1)",
    "rand_normal": "rand_normal(gen, shape, dtype) -> floats from the standard normal",
    "rand_int": "rand_int(gen, low, high, shape, dtype) -> integers uniform in [low, high)",
})
del _n


#: Optional kernels: a backend that has them gets faster paths; core works without them.
OPTIONAL_KERNELS: dict[str, str] = {
    "add_": "add_(a, b) -> None: a += b in place (b an array of a's dtype broadcastable to a, or a "
            "scalar); a is never an expanded view. Used for in-place ops outside autograd.",
    "sub_": "sub_(a, b) -> None: a -= b in place (as add_)",
    "mul_": "mul_(a, b) -> None: a *= b in place (as add_)",
    "div_": "div_(a, b) -> None: a /= b in place, a floating point (as add_)",
    "relu": "relu(x) -> array: max(x, 0) with NaN kept (the fused relu composite)",
    "is_contiguous": "is_contiguous(x) -> bool: x is row-major, strides of size-1 dims aside "
                     "(the fast path of clone and the *_like factories; else from strides)",
    "byte_address": "byte_address(x) -> int: where x's first element lies in memory, in bytes; "
                    "only differences between views of one buffer are used (storage_offset, "
                    "and ember.save keeping views of one tensor shared)",
    "tanh_backward": "tanh_backward(g, out) -> g * (1 - out^2)",
    "sigmoid_backward": "sigmoid_backward(g, out) -> g * out * (1 - out)",
    "threshold_backward": "threshold_backward(g, out) -> g where out > 0, else 0",
    "conv2d": "conv2d(x, weight, bias, stride, dilation) -> (N, C_out, OH, OW) cross-correlation "
              "of a padded (N, C, H, W) x with (C_out, C, kh, kw) weights, plus bias (C_out,) "
              "or None; stride and dilation are (h, w) pairs (the conv2d composite)",
    "conv2d_input_grad": "conv2d_input_grad(grad, weight, shape, stride, dilation) -> the "
                         "gradient of conv2d with respect to its x of shape ``shape``",
    "conv2d_weight_grad": "conv2d_weight_grad(grad, x, kernel, stride, dilation) -> the "
                          "gradient of conv2d with respect to its weights, kernel = (kh, kw)",
    "linear_forward": "linear_forward(x, w, b) -> x @ w.T + b for x (..., in), w (out, in), "
                      "b (out,) or None (the linear composite)",
    "linear_backward": "linear_backward(g, x, w, need_x, need_w, need_b) -> (g @ w, g.T @ x, "
                       "g.sum(0)) for 2-d g (N, out) and x (N, in), None where not needed",
    "cross_entropy_forward": "cross_entropy_forward(x, target, weight, ignore_index, reduction) "
                             "-> (loss, log_softmax(x), target with ignored entries 0, per-row "
                             "gradient coefficient)",
    "cross_entropy_backward": "cross_entropy_backward(g, logp, target, coef) -> (exp(logp) - "
                              "onehot(target)) * coef * g, per row",
    "sgd_momentum_update_": "sgd_momentum_update_(p, g, buf, lr, momentum, dampening, nesterov) "
                            "-> None: buf = momentum * buf + (1 - dampening) * g; p -= lr * (g + "
                            "momentum * buf if nesterov else buf), in place",
    "rand_uniform_range": "rand_uniform_range(gen, low, high, shape, dtype) -> floats uniform "
                          "in [low, high) (uniform_; else rand_uniform * (high - low) + low)",
    "rand_normal_scaled": "rand_normal_scaled(gen, mean, std, shape, dtype) -> normal samples "
                          "(normal_; else rand_normal * std + mean)",
    "rand_bits": "rand_bits(gen, shape, dtype) -> random_() without bounds: integers in "
                 "[0, 2**digits] for floats, [0, max] for integer dtypes (else rand_int)",
    "rand_perm": "rand_perm(gen, n, dtype) -> a random permutation of 0..n-1 (randperm; else "
                 "the argsort of rand_uniform keys)",
    "rand_bernoulli": "rand_bernoulli(gen, p, shape, dtype) -> 1 with probability p (a float), "
                      "else 0, in dtype (bernoulli_(p), dropout; else rand_uniform < p)",
    "linalg_inv_ex": "linalg_inv_ex(a) -> (inverse, info) of (batched) square matrices; likewise "
                     "linalg_det, linalg_slogdet, linalg_svd, linalg_svd_full, linalg_qr, "
                     "linalg_eigh, linalg_eig (complex results), linalg_cholesky_ex, "
                     "linalg_solve_ex, linalg_solve_triangular, "
                     "linalg_lu_factor_ex, linalg_lu_permutation, linalg_ldl_factor_ex, "
                     "linalg_ldl_solve (missing ones run on cpu under the fallback policy; see "
                     "backends/cpu/linalg.py for each one's arguments and results)",
    "real_view": "real_view(x) -> a real view of complex x's real parts; likewise imag_view, "
                 "view_as_real (the parts in a new last dim of 2, a view), view_as_complex "
                 "(the inverse view, or None when the strides do not allow it), conj, angle, "
                 "complex(re, im) (complex tensors; a backend without them claims no complex "
                 "dtype: see backends/cpu/kernels.py complex_kernels)",
    "fused_elementwise": "fused_elementwise(program, *arrays) -> tuple of new contiguous "
                         "arrays, one per program.outputs, each shaped like the broadcast of "
                         "arrays, or None to decline (the jit then runs the ops one by one). "
                         "program (ember.core.jit._fuse.ElementwiseProgram) is a run of "
                         "primitive steps of this table (add, exp, lt, where, cast ...) over "
                         "the arrays and its scalars, with their meanings here; compile it once "
                         "and cache it by program.key (ember.jit's elementwise fusion)",
    "fft_c2c": "fft_c2c(x, axes, norm, forward) -> the complex FFT over axes (inverse unless "
               "forward), scaled by 1, 1/sqrt(n) or 1/n for norm 'none', 'sqrt', 'n', in x's "
               "precision; likewise fft_r2c(x, axes, norm, onesided) for real x and "
               "fft_c2r(x, axes, norm, last_size) back to real (ember.fft)",
}

#: Primitives that must never be replaced by the cpu fallback: the result would not share
#: memory with the device array (views, in-place writes) or would draw from the wrong
#: generator (RNG).
NO_FALLBACK = frozenset({
    "view", "permute", "expand", "getitem_basic", "as_strided", "strides",
    "setitem", "index_add", "rand_uniform", "rand_normal", "rand_int", "empty", "full", "arange",
})


class DeclineProgram(Exception):
    """Raised by a backend's compiler of a fused program (``fused_elementwise``) that cannot
    build it; the program then runs unfused."""


class ProgramCache:
    """What a backend compiled for each fused program, by ``program.key``: ``build(program)``
    runs once per key; a program it declines (DeclineProgram) is remembered as None."""

    def __init__(self, build: Callable[[Any], Any]):
        self._build = build
        self._plans: dict = {}

    def get(self, program):
        plan = self._plans.get(program.key, self)
        if plan is self:
            try:
                plan = self._build(program)
            except DeclineProgram:
                plan = None
            self._plans[program.key] = plan
        return plan


class Backend:
    """A loaded backend. Plugins build one in their ``BackendSpec.load``.

    Attributes:
        name: the device type, as in ``ember.device(name)``.
        version: a human-readable version string (shown by ``ember devices``).
        dtypes: the dtype names the backend claims (every kernel works for each of them, where
            the kernel's contract allows the dtype).
        kernels: primitive name -> kernel; may also hold kernels for composites (fused ops),
            which core uses instead of the composite's decomposition.
        api_version: the PLUGIN_API_VERSION the backend was written against.
        flushes_subnormals: True where the device flushes float32 subnormal results to zero
            (CuPy compiles every kernel with -ftz=true); torch's CUDA kernels keep them.
    """

    api_version: int = PLUGIN_API_VERSION
    version: str = "0"
    flushes_subnormals: bool = False

    def __init__(self, name: str, kernels: dict[str, Callable], dtypes, version: str = "0"):
        self.name = name
        self.kernels = dict(kernels)
        self.dtypes = frozenset(dtypes)
        self.version = version

    def device_count(self) -> int:
        """How many devices of this type exist (``name:0`` .. ``name:N-1``)."""
        return 1

    def device_names(self) -> list[str]:
        """Human-readable names of the devices, for ``ember devices``."""
        return [f"{self.name}:{i}" for i in range(self.device_count())]

    def from_numpy(self, array, index: int):
        """Copy a host NumPy array to device ``index``; returns a native array."""
        raise NotImplementedError

    def to_numpy(self, x):
        """Return a host NumPy array with x's values (may share memory on a host backend)."""
        raise NotImplementedError

    def generator(self, index: int, seed: int):
        """A new random generator for device ``index``, seeded with ``seed``. It must offer
        ``get_state()``/``set_state(state)`` (state: any picklable value) for ``ember.Generator``."""
        raise NotImplementedError

    def synchronize(self, index: int | None = None) -> None:
        """Wait until every queued kernel on the device has finished."""


@dataclass(frozen=True)
class BackendSpec:
    """What a plugin's ``ember_register_backends`` hook returns: a backend, not yet loaded.

    ``load`` imports the device library (cupy, pyopencl, ...) and returns a ``Backend``; it is
    called on first use, so ``import ember`` never pays for it. When it raises, the error is
    recorded and shown whenever the device is asked for.
    """

    name: str
    load: Callable[[], Backend]
    api_version: int = PLUGIN_API_VERSION
    description: str = ""


@dataclass(frozen=True)
class KernelSpec:
    """What ``ember_register_kernels`` returns: one kernel for an existing backend."""

    backend: str
    op: str
    kernel: Callable[..., Any]
    api_version: int = PLUGIN_API_VERSION
    source: str = field(default="", compare=False)
