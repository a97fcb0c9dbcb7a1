"""Tensor creation and random numbers. Data enters a backend through ``from_numpy`` or its
creation kernels; random numbers come from per-device generators seeded by ``manual_seed``."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes as _dt
from ..device import canonical, device as _device
from ..tensor import Tensor
from .registry import _state

_wrap = Tensor._wrap


def _shape_args(size, op):
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)) and not (
            isinstance(size[0], Tensor) and size[0].ndim == 0):
        size = size[0]
    try:
        shape = tuple(int(s) if isinstance(s, (int, np.integer)) else s.__index__() for s in size)
    except (AttributeError, TypeError):
        raise TypeError(f"{op}(): argument 'size' must be tuple of ints, but found element of "
                        f"type {type(size).__name__}") from None
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def _finish(t, requires_grad):
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_np(data, dtype):
    """Host array for ``data`` (nested lists, scalars, arrays, tensors) in torch's dtype."""
    if isinstance(data, Tensor):
        arr = data._host()
        return arr, data._dtype
    if isinstance(data, np.ndarray):
        d = _dt.from_numpy_dtype(data.dtype) if data.dtype != object else None
        if d is None:
            return _infer_np(data.tolist(), dtype)
        return data, d
    if isinstance(data, np.generic):
        return np.asarray(data), _dt.from_numpy_dtype(data.dtype)
    if isinstance(data, bool):
        return np.asarray(data), _dt.bool_
    if isinstance(data, numbers.Integral):
        return np.asarray(int(data), dtype=np.int64), _dt.int64
    if isinstance(data, numbers.Real):
        return np.asarray(float(data), dtype=np.float64), _dt.get_default_dtype()
    if isinstance(data, numbers.Complex):
        return np.asarray(complex(data), dtype=np.complex128), _dt.default_complex()
    if isinstance(data, (list, tuple)):
        flat, shape = [], []
        kind = _flatten(data, flat, shape, 0)
        if kind == 3:
            d = _dt.default_complex()
            arr = np.array(flat, dtype=np.complex128)
        elif kind == 2:
            d = _dt.get_default_dtype()
            arr = np.array(flat, dtype=np.float64)
        elif kind == 1:
            d = _dt.int64
            arr = np.array(flat, dtype=np.int64) if flat else np.zeros(0, np.int64)
        elif kind == 0:
            d = _dt.bool_
            arr = np.array(flat, dtype=np.bool_)
        else:  # empty
            d = _dt.get_default_dtype()
            arr = np.zeros(0, dtype=np.float64)
        return arr.reshape(shape), d
    if hasattr(data, "__array__"):
        return _infer_np(np.asarray(data), dtype)
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _flatten(seq, flat, shape, depth):
    if len(shape) <= depth:
        shape.append(len(seq))
    elif shape[depth] != len(seq):
        raise ValueError(f"expected sequence of length {shape[depth]} at dim {depth} (got "
                         f"{len(seq)})")
    kind = -1
    for v in seq:
        if isinstance(v, (list, tuple)):
            k = _flatten(v, flat, shape, depth + 1)
        elif isinstance(v, Tensor):
            if v.ndim == 0:
                flat.append(v.item())
                k = v._dtype.category
                if len(shape) > depth + 1:
                    raise ValueError("mixed nesting of tensors and sequences")
            else:
                k = _flatten(v.tolist(), flat, shape, depth + 1)
                k = max(k, v._dtype.category)
        elif isinstance(v, np.ndarray):
            k = _flatten(v.tolist(), flat, shape, depth + 1)
        elif isinstance(v, bool) or isinstance(v, np.bool_):
            flat.append(bool(v))
            k = 0
        elif isinstance(v, numbers.Integral):
            flat.append(int(v))
            k = 1
        elif isinstance(v, numbers.Real):
            flat.append(float(v))
            k = 2
        elif isinstance(v, numbers.Complex):
            flat.append(complex(v))
            k = 3
        else:
            raise TypeError(f"new(): invalid data type '{type(v).__name__}'")
        kind = max(kind, k)
    return kind


def _to_device_array(arr, dt, dev):
    arr = np.asarray(arr)
    if arr.dtype != dt.np:
        arr = arr.astype(dt.np)
    return dev._backend.from_numpy(arr, dev.index)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (torch.tensor).

    >>> ember.tensor([[1, 2], [3, 4]]).dtype
    ember.int64
    """
    dev = canonical(device)
    arr, d = _infer_np(data, dtype)
    d = _dt.to_dtype(dtype) if dtype is not None else d
    if d.is_integer and not isinstance(data, (np.ndarray, Tensor)):
        _check_python_ints(arr, d)
    arr = np.array(arr, dtype=d.np, copy=True)
    t = _wrap(dev._backend.from_numpy(arr, dev.index), d, dev)
    return _finish(t, requires_grad)


def _check_python_ints(arr, d):
    """torch.tensor refuses Python numbers that overflow an integer dtype (an unsigned one
    takes a negative whose magnitude fits); a NumPy array's values are cast as NumPy casts."""
    a = np.asarray(arr)
    if not a.size or a.dtype.kind not in "iuf":
        return
    info = np.iinfo(d.np)
    lo = -int(info.max) if not d.is_signed else int(info.min)
    if a.min() < lo or a.max() > int(info.max):
        raise RuntimeError(f"value cannot be converted to type {d.name} without overflow")


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a tensor or cpu NumPy array when it can."""
    if isinstance(data, Tensor):
        t = data
        if dtype is not None:
            t = t.to(_dt.to_dtype(dtype))
        if device is not None:
            t = t.to(device)
        return t
    dev = canonical(device)
    if isinstance(data, np.ndarray) and dev.type == "cpu" and dtype is None:
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=dev)


asarray = as_tensor


def from_numpy(array):
    """A cpu tensor sharing memory with a NumPy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    d = _dt.from_numpy_dtype(array.dtype)
    dev = canonical("cpu")
    return _wrap(array if array.ndim else array.reshape(()), d, dev)


def _factory_dtype(dtype, default=None):
    return _dt.to_dtype(dtype) if dtype is not None else (default or _dt.get_default_dtype())


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    shape = _shape_args((size,) if not isinstance(size, (int, np.integer)) else (size,), "full")
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        d = (_dt.bool_ if isinstance(fill_value, bool) else _dt.int64
             if isinstance(fill_value, numbers.Integral) else _dt.get_default_dtype()
             if isinstance(fill_value, numbers.Real) else _dt.default_complex())
    else:
        d = _dt.to_dtype(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dev = canonical(device)
    fv = _dt.checked_scalar(fill_value, d)
    t = _wrap(dev._backend.kernels["full"](shape, fv, d, dev.index), d, dev)
    return _finish(t, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    shape = _shape_args(size, "zeros")
    d = _factory_dtype(dtype)
    dev = canonical(device)
    t = _wrap(dev._backend.kernels["full"](shape, 0 if not d.is_floating_point else 0.0, d,
                                           dev.index), d, dev)
    return _finish(t, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    shape = _shape_args(size, "ones")
    d = _factory_dtype(dtype)
    dev = canonical(device)
    t = _wrap(dev._backend.kernels["full"](shape, 1 if not d.is_floating_point else 1.0, d,
                                           dev.index), d, dev)
    return _finish(t, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None):
    shape = _shape_args(size, "empty")
    d = _factory_dtype(dtype)
    dev = canonical(device)
    t = _wrap(dev._backend.kernels["empty"](shape, d, dev.index), d, dev)
    return _finish(t, requires_grad)


def _like(x, dtype, device):
    return (_dt.to_dtype(dtype) if dtype is not None else x._dtype,
            canonical(device) if device is not None else x._device)


def _like_layout(input, memory_format, make, requires_grad=False):
    """``make(shape)`` for a tensor like ``input``, laid out as ``memory_format`` asks: torch's
    default, preserve_format, keeps input's layout (channels last, transposed ...), the values
    filling memory in order as torch's do."""
    from . import shape as S
    plan = S.layout_plan(input, memory_format)
    if plan is None:
        return _finish(make(input.shape), requires_grad)
    shape = tuple(input._data.shape)
    t = make(tuple(shape[d] for d in plan[0]))
    data = S.restore_layout(t._device._backend.kernels, t._data, shape, plan)
    return _finish(_wrap(data, t._dtype, t._device), requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: zeros(s, dtype=d, device=dev),
                        requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: ones(s, dtype=d, device=dev),
                        requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: empty(s, dtype=d, device=dev),
                        requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format,
                        lambda s: full(s, fill_value, dtype=d, device=dev), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    """Values from start (inclusive) to end (exclusive) every step (torch.arange)."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        d = (_dt.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dt.int64)
    else:
        d = _dt.to_dtype(dtype)
    n = max(math.ceil((end - start) / step), 0)
    dev = canonical(device)
    if d.is_floating_point:
        # NOTE: torch computes start + i*step in double, then rounds once
        arr = (start + np.arange(n, dtype=np.float64) * step).astype(d.np)
        t = _wrap(dev._backend.from_numpy(arr, dev.index), d, dev)
    else:
        t = _wrap(dev._backend.kernels["arange"](int(start), int(start) + n * int(step),
                                                 int(step), d, dev.index), d, dev)
    return _finish(t, requires_grad)


def range_(start, end, step=1, *, dtype=None, device=None, requires_grad=False):
    return arange(start, end + (step if step > 0 else -1) * 1e-9 if isinstance(end, float)
                  else end + (1 if step > 0 else -1), step, dtype=dtype or
                  _dt.get_default_dtype(), device=device, requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    d = _factory_dtype(dtype)
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if steps == 1:
        arr = np.array([start], dtype=np.float64)
    else:
        # torch fills the first half from start and the second half from end (symmetric)
        i = np.arange(steps, dtype=np.float64)
        step = (end - start) / (steps - 1) if steps > 1 else 0
        half = steps // 2
        arr = np.where(i < half, start + step * i, end - step * (steps - 1 - i))
    dev = canonical(device)
    arr = arr.astype(d.np) if d.is_inexact else np.trunc(arr).astype(d.np)
    return _finish(_wrap(dev._backend.from_numpy(arr, dev.index), d, dev), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    lin = linspace(start, end, steps, dtype=_dt.float64, device=device)
    from .elementwise import pow
    r = pow(base, lin).to(_factory_dtype(dtype))
    return _finish(r, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    m = n if m is None else m
    d = _factory_dtype(dtype)
    dev = canonical(device)
    return _finish(_wrap(dev._backend.from_numpy(np.eye(n, m, dtype=d.np), dev.index), d, dev),
                   requires_grad)


def _tri_mask(x, diagonal, upper):
    r, c = x.shape[-2], x.shape[-1]
    rows = arange(r, device=x.device).reshape(r, 1)
    cols = arange(c, device=x.device).reshape(1, c)
    return (cols - rows >= diagonal) if upper else (cols - rows <= diagonal)


def _zero_of(x):
    return False if x._dtype is _dt.bool_ else 0


def tril(input, diagonal=0):
    """Lower triangle of the last two dims, the rest zero."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    from .elementwise import where
    return where(_tri_mask(input, diagonal, False), input, _zero_of(input))


def triu(input, diagonal=0):
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    from .elementwise import where
    return where(_tri_mask(input, diagonal, True), input, _zero_of(input))


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.tril_indices(row, offset, col)
    return tensor(np.stack([r, c]), dtype=dtype or _dt.int64, device=device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    r, c = np.triu_indices(row, offset, col)
    return tensor(np.stack([r, c]), dtype=dtype or _dt.int64, device=device)


def diag(input, diagonal=0):
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        out = zeros(n, n, dtype=input.dtype, device=input.device)
        idx = arange(input.shape[0], device=input.device)
        r = idx + (0 if diagonal >= 0 else -diagonal)
        c = idx + (diagonal if diagonal >= 0 else 0)
        from .indexing import index_put
        return index_put(out, (r, c), input)
    from .shape import diagonal as _diagonal
    return _diagonal(input, diagonal)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    n = input.shape[-1]
    e = eye(n, dtype=input.dtype, device=input.device)
    return input.unsqueeze(-1) * e


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    n = len(tensors)
    shape = [t.numel() for t in tensors]
    if indexing == "xy" and n >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(tensors):
        view = [1] * n
        j = i
        if indexing == "xy" and n >= 2 and i < 2:
            j = 1 - i
        view[j] = -1
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors)
    from .shape import stack
    return stack([g.reshape(-1) for g in grids], 1)


def polar(abs, angle, *, out=None):
    """abs * (cos(angle) + i sin(angle)): defined with the complex ops (ember.polar)."""
    from .complex import polar as _polar
    return _polar(abs, angle, out=out)


# ---- random numbers -------------------------------------------------------------------------

class Generator:
    """A random-number generator for one device (torch.Generator).

    >>> g = ember.Generator().manual_seed(0)
    >>> ember.rand(2, generator=g).shape
    ember.Size([2])
    """

    def __init__(self, device=None):
        # NOTE: torch's default is "cpu"; Ember uses the default device, so a program written for
        # cpu that draws with its own generator runs unchanged after set_default_device().
        self.device = canonical(device)
        self._seed = 67280421310721  # torch's default seed
        self._impl = None

    def _gen(self):
        if self._impl is None:
            dev = self.device
            self._impl = dev._backend.generator(dev.index or 0, self._seed)
        return self._impl

    def manual_seed(self, seed):
        self._seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._impl = None
        return self

    def seed(self):
        import random
        self.manual_seed(random.getrandbits(63))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        import pickle
        state = pickle.dumps((self._seed, self._gen().get_state()))
        return tensor(np.frombuffer(state, dtype=np.uint8).copy(), dtype=_dt.uint8)

    def set_state(self, state):
        import pickle
        self._seed, inner = pickle.loads(bytes(state._host().tobytes()))
        self._gen().set_state(inner)
        return self


_default_generators: dict = {}
_global_seed = [67280421310721]


def default_generator(dev) -> Generator:
    g = _default_generators.get(dev)
    if g is None:
        g = Generator(dev)
        g.manual_seed(_global_seed[0])
        _default_generators[dev] = g
    return g


def manual_seed(seed):
    """Seed every device's default generator; runs become reproducible per device."""
    seed = int(seed)
    _global_seed[0] = seed
    for g in _default_generators.values():
        g.manual_seed(seed)
    return default_generator(canonical("cpu"))


def seed():
    import random
    s = random.getrandbits(63)
    manual_seed(s)
    return s


def initial_seed():
    return _global_seed[0]


def get_rng_state():
    return default_generator(canonical("cpu")).get_state()


def set_rng_state(state):
    default_generator(canonical("cpu")).set_state(state)


def _gen_for(generator, dev):
    if generator is None:
        return default_generator(dev)._gen()
    if generator.device is not dev:
        raise RuntimeError(f"Expected a '{dev.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator._gen()


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform random numbers in [0, 1)."""
    shape = _shape_args(size, "rand")
    d = _factory_dtype(dtype)
    if d.is_complex:  # (each part uniform in [0, 1), as torch's)
        return _complex_random(rand, shape, d, generator, device, requires_grad, 1.0)
    if not d.is_floating_point:
        raise RuntimeError(f"\"check_uniform_bounds\" not implemented for '{d.name}'")
    dev = canonical(device)
    t = _wrap(dev._backend.kernels["rand_uniform"](_gen_for(generator, dev), shape, d), d, dev)
    return _finish(t, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal random numbers."""
    shape = _shape_args(size, "randn")
    d = _factory_dtype(dtype)
    if d.is_complex:  # (each part normal with variance 1/2: |z|^2 has mean 1, as torch's)
        return _complex_random(randn, shape, d, generator, device, requires_grad,
                               math.sqrt(0.5))
    if not d.is_floating_point:
        raise RuntimeError(f"\"normal_kernel_cpu\" not implemented for '{d.name}'")
    dev = canonical(device)
    t = _wrap(dev._backend.kernels["rand_normal"](_gen_for(generator, dev), shape, d), d, dev)
    return _finish(t, requires_grad)


def _complex_random(real_fn, shape, d, generator, device, requires_grad, scale):
    from .complex import view_as_complex
    parts = real_fn(*shape, 2, generator=generator, dtype=d.to_real(), device=device)
    v = view_as_complex(parts * scale if scale != 1.0 else parts)
    # (a tensor of its own, not a view: nothing else refers to the parts)
    return _finish(_wrap(v._data, d, v._device), requires_grad)


def randint(low=None, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high): ``randint(10, (3,))`` or ``randint(0, 10, (3,))``."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing required argument 'size'")
    if high is None:
        low, high = 0, low
    shape = _shape_args((size,), "randint")
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dev = canonical(device)
    gen = _gen_for(generator, dev)
    if d.is_floating_point:
        x = dev._backend.kernels["rand_int"](gen, int(low), int(high), shape, _dt.int64)
        x = dev._backend.kernels["cast"](x, d)
    else:
        x = dev._backend.kernels["rand_int"](gen, int(low), int(high), shape, d)
    return _wrap(x, d, dev)


def _uniform_range(shape, low, high, dtype, device, generator=None):
    """Floats uniform in [low, high): the backend's ``rand_uniform_range`` when it has one (so
    its stream matches its reference), else ``rand * (high - low) + low``."""
    kernel = device._backend.kernels.get("rand_uniform_range")
    if kernel is None:
        u = rand(shape, generator=generator, dtype=dtype, device=device)
        return u * (high - low) + low
    return _wrap(kernel(_gen_for(generator, device), float(low), float(high), tuple(shape),
                        dtype), dtype, device)


def _normal_scaled(shape, mean, std, dtype, device, generator=None):
    """Normal samples: the backend's ``rand_normal_scaled`` if any, else ``randn * std + mean``."""
    kernel = device._backend.kernels.get("rand_normal_scaled")
    if kernel is None:
        return randn(shape, generator=generator, dtype=dtype, device=device) * std + mean
    return _wrap(kernel(_gen_for(generator, device), float(mean), float(std), tuple(shape),
                        dtype), dtype, device)


# significand bits of the floating dtypes: torch's random_() on them draws from [0, 2**digits]
_RANDOM_DIGITS = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}


def _random_bits(shape, dtype, device, generator=None):
    """torch's ``random_()`` without bounds: [0, 2**digits] for floats, [0, max] for integers."""
    kernel = device._backend.kernels.get("rand_bits")
    if kernel is not None:
        return _wrap(kernel(_gen_for(generator, device), tuple(shape), dtype), dtype, device)
    if dtype.is_floating_point:
        top = 2 ** _RANDOM_DIGITS[dtype.name] + 1
    elif dtype is _dt.bool_:
        top = 2
    else:
        top = int(np.iinfo(dtype.np).max) + 1
    return randint(0, top, shape, generator=generator, dtype=dtype, device=device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1.

    >>> sorted(ember.randperm(4).tolist())
    [0, 1, 2, 3]
    """
    dev = canonical(device)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    kernel = dev._backend.kernels.get("rand_perm")
    if kernel is not None:
        return _wrap(kernel(_gen_for(generator, dev), int(n), d), d, dev)
    keys = rand(n, generator=generator, dtype=_dt.float64 if "float64" in dev._backend.dtypes
                else _dt.float32, device=dev)
    from .reduction import argsort
    idx = argsort(keys)
    return idx if d is _dt.int64 else idx.to(d)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples with given mean/std (tensors broadcast, or floats with ``size``)."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        from .shape import broadcast_shapes
        shape = broadcast_shapes(getattr(mean, "shape", ()), getattr(std, "shape", ()))
        z = randn(shape, generator=generator, dtype=ref.dtype, device=ref.device)
        return (z * std + mean).detach()
    shape = _shape_args((size,), "normal") if size is not None else ()
    d = _factory_dtype(dtype)
    z = _normal_scaled(shape, mean, std, d, canonical(device), generator)
    return _finish(z.detach(), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: rand(s, dtype=d, device=dev),
                        requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: randn(s, dtype=d, device=dev),
                        requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    d, dev = _like(input, dtype, device)
    return _like_layout(input, memory_format, lambda s: randint(low, high, s, dtype=d,
                                                                device=dev), requires_grad)


def _bernoulli_scalar(shape, p, dtype, device, generator=None):
    """1 with probability ``p`` (a float), else 0, in ``dtype``: the backend's
    ``rand_bernoulli`` if any (torch's stream on cpu), else ``rand < p``."""
    kernel = device._backend.kernels.get("rand_bernoulli")
    if kernel is None:
        u = rand(shape, generator=generator, dtype=_dt.float32, device=device)
        return (u < p).to(dtype)
    return _wrap(kernel(_gen_for(generator, device), p, tuple(shape), dtype), dtype, device)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability input (or p), else 0, in input's dtype."""
    if p is not None and not isinstance(p, Tensor):
        return _bernoulli_scalar(input.shape, float(p), input.dtype, input.device, generator)
    prob = input if p is None else p
    u = rand(input.shape, generator=generator, dtype=input.dtype if input.is_floating_point()
             else _dt.float32, device=input.device)
    return (u < prob).to(input.dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices with probabilities proportional to the rows of input (torch's
    algorithms, so a seeded draw on cpu gives torch's indices)."""
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._dtype}")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    probs = input if input.ndim == 2 else input.unsqueeze(0)
    rows = probs.shape[0]
    from .reduction import argmax, cumsum, sum as _sum, topk
    if not replacement and num_samples > probs.shape[1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    bad = ((probs < 0) | ~probs.isfinite()).any().item()
    if bad:
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (_sum(probs, -1) <= 0).any().item():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement and num_samples > 1:
        p = probs.to(_dt.float64) / _sum(probs.to(_dt.float64), -1, keepdim=True)
        c = cumsum(p, -1)
        u = rand(rows, num_samples, generator=generator, dtype=_dt.float64, device=input.device)
        idx = _sum((u.unsqueeze(-1) >= c.unsqueeze(1)).to(_dt.int64), -1)
        idx = idx.clamp(max=probs.shape[1] - 1)
    else:
        # NOTE: torch's draw: the largest p / q with q ~ Exp(1) (the Gumbel-max trick in
        # exponential form); the k largest are a sample without replacement
        q = probs.detach() / empty(probs.shape, dtype=probs.dtype,
                                   device=input.device).exponential_(1, generator=generator)
        idx = argmax(q, -1, keepdim=True) if num_samples == 1 else topk(q, num_samples, -1)[1]
    return idx if input.ndim == 2 else idx[0]


def poisson(input, generator=None):
    h = input.detach().cpu().numpy()
    seed_src = rand((), generator=generator, dtype=_dt.float64, device=input.device).item()
    rng = np.random.default_rng(int(seed_src * 2 ** 53))
    return tensor(rng.poisson(h).astype(h.dtype), device=input.device)
