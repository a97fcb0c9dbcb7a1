"""ember.fft: discrete Fourier transforms, as torch.fft.

Three primitives do the transforms, as torch's ``_fft_c2c``, ``_fft_r2c`` and ``_fft_c2r``:
complex to complex (either direction), real to the onesided half spectrum, and that half
spectrum back to real. Each takes the dims, a normalisation mode ("none", "sqrt" or "n": the
scale 1, 1/sqrt(n) or 1/n, whatever the direction) and gives a result in the input's precision
(float32 -> complex64). The public functions resize their input (``n``/``s``: trim, or pad with
zeros) with differentiable ember ops, then call one primitive; the backward rules below are
torch's, written in ember ops:

- c2c: the same normalisation in the other direction;
- r2c: the half-spectrum gradient zero-padded to full length, c2c the other way, its real part;
- c2r: r2c of the gradient, the entries that stand for two conjugate bins doubled.

>>> x = ember.tensor([1.0, 2.0, 3.0, 4.0])
>>> ember.fft.fft(x)
tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
"""
from __future__ import annotations

from . import dtypes as _dt
from .ops.registry import _state, defop, record
from .tensor import Tensor, _dt_name, _norm_dim

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
_SWAPPED = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _mode(norm, forward: bool) -> str:
    """torch's fft_norm_mode: the scale of a transform in direction ``forward``."""
    if norm is None:
        norm = "backward"
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    if norm == "ortho":
        return "sqrt"
    return "none" if (norm == "backward") == forward else "n"


# ---- the primitives ---------------------------------------------------------------------------

def _run(op, kernel, x, out_dtype, params, *args):
    k = x._device._backend.kernels.get(kernel)
    if k is None:
        raise RuntimeError(f"ember.fft: the {x._device.type} backend has no {kernel} kernel "
                           f"(complex dtypes are not supported on {x._device})")
    res = Tensor._wrap(k(x._data, *args), out_dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(op, (x,), res, params)
    return res


def _g_c2c(ctx, g):
    p = ctx.params
    return (_c2c(g, p["axes"], p["norm"], not p["forward"]),)


def _g_r2c(ctx, g):
    from .ops.complex import real
    p = ctx.params
    axes = p["axes"]
    last = axes[-1]
    half = g._data.shape[last]
    if p["last_size"] > half:
        g = _pad(g, last, p["last_size"])
    return (real(_c2c(g, axes, p["norm"], False)).contiguous(),)


def _g_c2r(ctx, g):
    from .ops.creation import tensor
    p = ctx.params
    axes = p["axes"]
    last = axes[-1]
    gi = _r2c(g, axes, p["norm"])
    n, half = g._data.shape[last], gi._data.shape[last]
    double = n - half
    if double > 0:
        # NOTE: bins 1 .. n - half stand for themselves and their conjugate mirror
        scale = [1.0] + [2.0] * double + [1.0] * (half - 1 - double)
        shape = [1] * gi.ndim
        shape[last] = half
        gi = gi * tensor(scale, dtype=g._dtype, device=g._device).reshape(shape)
    return (gi,)


_c2c_op = defop("fft_c2c", _g_c2c, node_name="FftC2CBackward0")
_r2c_op = defop("fft_r2c", _g_r2c, node_name="FftR2CBackward0")
_c2r_op = defop("fft_c2r", _g_c2r, node_name="FftC2RBackward0")


def _c2c(x, axes, norm, forward):
    return _run(_c2c_op, "fft_c2c", x, x._dtype,
                {"axes": axes, "norm": norm, "forward": forward}, axes, norm, forward)


def _r2c(x, axes, norm):
    return _run(_r2c_op, "fft_r2c", x, x._dtype.to_complex(),
                {"axes": axes, "norm": norm, "last_size": x._data.shape[axes[-1]]},
                axes, norm, True)


def _c2r(x, axes, norm, last_size):
    return _run(_c2r_op, "fft_c2r", x, x._dtype.to_real(),
                {"axes": axes, "norm": norm}, axes, norm, last_size)


# ---- input dtypes, dims and sizes -------------------------------------------------------------

def _check(input, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    dt = input._dtype
    if dt is _dt.float16 or dt is _dt.bfloat16:
        # NOTE: torch's cpu FFT has no half-precision kernels either
        raise RuntimeError(f"Unsupported dtype {_dt_name(dt)}")
    if dt.category < 2:
        return input.to(_dt.get_default_dtype())
    return input


def _complex_input(input, op):
    x = _check(input, op)
    return x if x._dtype.is_complex else x.to(x._dtype.to_complex())


def _real_input(input, op):
    x = _check(input, op)
    if x._dtype.is_complex:
        raise RuntimeError(f"{op} expects a real input tensor, but got {_dt_name(x._dtype)}")
    return x


def _pad(x, dim, size):
    """x with dim ``dim`` zero-padded (at the end) to ``size``."""
    from .ops.creation import zeros
    from .ops.shape import cat
    shape = list(x._data.shape)
    shape[dim] = size - shape[dim]
    return cat([x, zeros(shape, dtype=x._dtype, device=x._device)], dim)


def _resize(x, dims, sizes):
    """x trimmed or zero-padded along each of ``dims`` to ``sizes`` (torch's
    _resize_fft_input); differentiable, as it is made of ember ops."""
    from .ops.shape import narrow
    for d, n in zip(dims, sizes):
        cur = x._data.shape[d]
        if n < cur:
            x = narrow(x, d, 0, n)
        elif n > cur:
            x = _pad(x, d, n)
    return x


def _check_size(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _one_dim(x, n, dim):
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _norm_dim(dim, x.ndim)
    if n is not None:
        _check_size(n)
    return d


def _dims_and_sizes(x, s, dim, last_default=None):
    """torch's canonicalize_fft_shape_and_dim_args: the dims (non-negative, unique) and the
    output size of each (``s``; -1 keeps a dim's size)."""
    ndim = x.ndim
    if dim is not None:
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = [_norm_dim(d, ndim) for d in dims]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = [s] if isinstance(s, int) else list(s)
        if dim is None:
            if len(s) > ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                                   f"{ndim} dimensions.")
            dims = list(range(ndim - len(s), ndim))
        elif len(s) != len(dims):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        sizes = [x._data.shape[d] if n == -1 else n for d, n in zip(dims, s)]
        for n in sizes:
            _check_size(n)
    else:
        if dim is None:
            dims = list(range(ndim))
        sizes = [x._data.shape[d] for d in dims]
        if last_default is not None and dims:
            sizes[-1] = last_default(x._data.shape[dims[-1]])
            _check_size(sizes[-1])
    return tuple(dims), sizes


def _irfft_len(m):
    return 2 * (m - 1)


# ---- complex to complex -----------------------------------------------------------------------

def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d discrete Fourier transform along ``dim`` (``n`` points: trimmed or zero-padded).

    >>> ember.fft.fft(ember.tensor([1.0, 0.0, 0.0, 0.0]))
    tensor([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    x = _complex_input(input, "fft")
    d = _one_dim(x, n, dim)
    if n is not None:
        x = _resize(x, [d], [n])
    return _out(_c2c(x, (d,), _mode(norm, True), True), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d inverse discrete Fourier transform (scaled by 1/n with norm="backward")."""
    x = _complex_input(input, "ifft")
    d = _one_dim(x, n, dim)
    if n is not None:
        x = _resize(x, [d], [n])
    return _out(_c2c(x, (d,), _mode(norm, False), False), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d discrete Fourier transform over ``dim`` (all dims by default; the last len(s)
    dims when only ``s`` is given)."""
    x = _complex_input(input, "fftn")
    dims, sizes = _dims_and_sizes(x, s, dim)
    x = _resize(x, dims, sizes)
    if not dims:
        return _out(x.clone(), out)
    return _out(_c2c(x, dims, _mode(norm, True), True), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d inverse discrete Fourier transform."""
    x = _complex_input(input, "ifftn")
    dims, sizes = _dims_and_sizes(x, s, dim)
    x = _resize(x, dims, sizes)
    if not dims:
        return _out(x.clone(), out)
    return _out(_c2c(x, dims, _mode(norm, False), False), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d discrete Fourier transform (over the last two dims by default)."""
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d inverse discrete Fourier transform."""
    return ifftn(input, s, dim, norm, out=out)


# ---- real input, half spectrum ----------------------------------------------------------------

def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d Fourier transform of a real signal: the n // 2 + 1 non-negative frequencies.

    >>> ember.fft.rfft(ember.tensor([1.0, 2.0, 3.0, 4.0]))
    tensor([10.+0.j, -2.+2.j, -2.+0.j])
    """
    x = _real_input(input, "rfft")
    d = _one_dim(x, n, dim)
    if n is not None:
        x = _resize(x, [d], [n])
    return _out(_r2c(x, (d,), _mode(norm, True)), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d Fourier transform of a real signal, halved along the last of ``dim``."""
    x = _real_input(input, "rfftn")
    dims, sizes = _dims_and_sizes(x, s, dim)
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    x = _resize(x, dims, sizes)
    return _out(_r2c(x, dims, _mode(norm, True)), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d Fourier transform of a real signal."""
    return rfftn(input, s, dim, norm, out=out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of rfft: ``n`` real points (2 * (m - 1) by default) from m half-spectrum
    bins; the imaginary parts of the zero (and Nyquist) bins are ignored.

    >>> ember.fft.irfft(ember.tensor([10 + 0j, -2 + 2j, -2 + 0j]))
    tensor([1., 2., 3., 4.])
    """
    x = _complex_input(input, "irfft")
    d = _one_dim(x, n, dim)
    if n is None:
        n = _irfft_len(x._data.shape[d])
        _check_size(n)
    x = _resize(x, [d], [n // 2 + 1])
    return _out(_c2r(x, (d,), _mode(norm, False), n), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of rfftn (the last of ``dim`` is the halved one)."""
    x = _complex_input(input, "irfftn")
    dims, sizes = _dims_and_sizes(x, s, dim, last_default=_irfft_len)
    if not dims:
        raise RuntimeError("irfftn must transform at least one axis")
    last = sizes[-1]
    x = _resize(x, dims, sizes[:-1] + [last // 2 + 1])
    return _out(_c2r(x, dims, _mode(norm, False), last), out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The inverse of rfft2."""
    return irfftn(input, s, dim, norm, out=out)


# ---- Hermitian input ----------------------------------------------------------------------------

def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The real spectrum of a signal with Hermitian symmetry, given its first half: irfft of
    the conjugate, with the opposite normalisation (torch's and NumPy's definition)."""
    from .ops.complex import conj
    x = _complex_input(input, "hfft")
    return irfft(conj(x), n, dim, _SWAPPED[_norm_name(norm)], out=out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of hfft: the conjugate of rfft, with the opposite normalisation."""
    from .ops.complex import conj
    x = _real_input(input, "ihfft")
    return _out(conj(rfft(x, n, dim, _SWAPPED[_norm_name(norm)])), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The n-d hfft (the last of ``dim`` is the halved one)."""
    from .ops.complex import conj
    x = _complex_input(input, "hfftn")
    return irfftn(conj(x), s, dim, _SWAPPED[_norm_name(norm)], out=out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of hfftn."""
    from .ops.complex import conj
    x = _real_input(input, "ihfftn")
    return _out(conj(rfftn(x, s, dim, _SWAPPED[_norm_name(norm)])), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ihfftn(input, s, dim, norm, out=out)


def _norm_name(norm):
    _mode(norm, True)  # (validates it)
    return "backward" if norm is None else norm


# ---- frequencies and shifts ---------------------------------------------------------------------

def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None,
            pin_memory=False):
    """The sample frequencies of an n-point fft: [0, 1, ..., -(n // 2), ..., -1] / (d * n).

    >>> ember.fft.fftfreq(4)
    tensor([ 0.0000,  0.2500, -0.5000, -0.2500])
    """
    from .ops.creation import arange
    from .ops.shape import cat
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    pos = arange((n - 1) // 2 + 1, dtype=_dt.int64, device=device)
    neg = arange(-(n // 2), 0, dtype=_dt.int64, device=device)
    r = cat([pos, neg]).to(dt) * (1.0 / (n * d))
    return r.requires_grad_() if requires_grad else r


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False):
    """The sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (d * n)."""
    from .ops.creation import arange
    dt = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    r = arange(n // 2 + 1, dtype=_dt.int64, device=device).to(dt) * (1.0 / (n * d))
    return r.requires_grad_() if requires_grad else r


def _shift(input, dim, sign):
    from .ops.shape import roll
    if dim is None:
        dims = list(range(input.ndim))
    else:
        dims = [dim] if isinstance(dim, int) else list(dim)
    if not dims:
        return input.clone()
    shape = input._data.shape
    shifts = [(shape[_norm_dim(d, input.ndim)] + (1 if sign < 0 else 0)) // 2 for d in dims]
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """Move the zero frequency to the middle (roll by n // 2 along each of ``dim``).

    >>> ember.fft.fftshift(ember.tensor([0, 1, 2, 3, 4]))
    tensor([3, 4, 0, 1, 2])
    """
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of fftshift (roll by (n + 1) // 2)."""
    return _shift(input, dim, -1)


def _out(res, out):
    if out is None:
        return res
    from .ops.elementwise import _out as write
    return write(res, out)


# ---- short-time Fourier transforms (torch.stft, torch.istft) -----------------------------------
# (top-level in torch, not in torch.fft: exported as ember.stft / ember.istft and as Tensor
# methods, but not in this module's __all__)

_TYPE_NAMES = {"float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
               "complex64": "ComplexFloat", "complex128": "ComplexDouble", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _type_name(t):
    return _TYPE_NAMES.get(t._dtype.name, t._dtype.name)


def _opt(v):
    return "None" if v is None else str(int(v) if isinstance(v, bool) else v)


def _window_repr(window):
    if window is None:
        return "None"
    return f"torch.{_type_name(window)}Tensor{{{list(window.shape)}}}"


def _window_of(window, win_length, n_fft, like):
    """The window padded with zeros on both sides to n_fft (torch centers it); ones when None."""
    from .ops.creation import ones
    if window is None:
        dt = like._dtype.to_real() if like._dtype.is_complex else like._dtype
        window = ones(win_length, dtype=dt, device=like._device)
    if win_length < n_fft:
        from .nn import functional as F
        left = (n_fft - win_length) // 2
        window = F.pad(window, [left, n_fft - win_length - left])
    return window


def _overlap_add(frames, hop, length):
    """Sum of the frames (..., T, n) placed hop apart, the first ``length`` samples (torch's
    unfold_backward): the frames cut in hop-sized pieces, each piece j of every frame laid out
    contiguously (the frames' starts are hop apart) and shifted by j * hop."""
    from .nn import functional as F
    *batch, T, n = frames.shape
    pieces = -(-n // hop)
    if pieces * hop > n:
        frames = F.pad(frames, [0, pieces * hop - n])
    frames = frames.reshape(tuple(batch) + (T, pieces, hop))
    total = None
    for j in range(pieces):
        piece = frames.select(-2, j).reshape(tuple(batch) + (T * hop,))
        piece = F.pad(piece, [j * hop, (pieces - 1 - j) * hop])
        total = piece if total is None else total + piece
    return total.narrow(-1, 0, length)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """The short-time Fourier transform: the fft of windowed frames, hop_length apart, of a
    1-d signal or a batch of them; (..., n_fft // 2 + 1 or n_fft, frames). ``center`` pads
    n_fft // 2 on each side first (``pad_mode``); ``normalized`` scales by 1/sqrt(n_fft).
    Differentiable (through ember.fft).

    >>> x = ember.tensor([1.0, 2.0, 3.0, 4.0])
    >>> ember.stft(x, 2, 2, window=ember.ones(2), center=False, return_complex=True)
    tensor([[ 3.+0.j,  7.+0.j],
            [-1.+0.j, -1.+0.j]])
    """
    from .ops.complex import view_as_real
    if not isinstance(input, Tensor):
        raise TypeError(f"stft(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    x = input
    if center:
        from .nn import functional as F
        nd = x.ndim
        pad = n_fft // 2
        x = F.pad(x.reshape((1,) * (3 - nd) + tuple(x.shape)), [pad, pad], pad_mode)
        x = x.reshape(tuple(x.shape[x.ndim - nd:]))
    hop = n_fft >> 2 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    complex_in = x._dtype.is_complex or (window is not None and window._dtype.is_complex)

    def fail(message):
        raise RuntimeError(
            f"stft(torch.{_type_name(x)}Tensor{list(x.shape)}, n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win}, window={_window_repr(window)}, normalized={int(normalized)}, "
            f"onesided={_opt(onesided)}, return_complex={_opt(return_complex)}, "
            f"align_to_window={_opt(align_to_window)}) : {message}")

    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in "
                               "a future PyTorch release.")
        return_complex = True
    if window is None:
        import warnings
        warnings.warn("A window was not provided. A rectangular window will be applied,which is "
                      "known to cause spectral leakage. Other windows such as torch.hann_window "
                      "or torch.hamming_window are recommended to reduce spectral leakage.To "
                      "suppress this warning and use a rectangular window, explicitly set "
                      "`window=torch.ones(n_fft, device=<device>)`.", UserWarning, stacklevel=2)
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        fail("expected a tensor of floating point or complex values")
    if x.ndim not in (1, 2):
        fail("expected a 1D or 2D tensor")
    length = x.shape[-1]
    if n_fft <= 0 or n_fft > length:
        fail(f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        fail(f"expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        fail(f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        fail(f"expected a 1D window tensor of size equal to win_length={win}, but got window "
             f"with size {list(window.shape)}")
    if window is not None and window._device is not x._device:
        fail(f"expected the window on {x.device}, but it is on {window.device}")
    full_window = _window_of(window, win, n_fft, x)
    if align_to_window and win < n_fft:
        # frames start where the (centered) window starts, not where the fft frame does
        from .nn import functional as F
        left = (n_fft - win) // 2
        x = F.pad(x, [left, n_fft - win - left])
    frames = x.unfold(-1, n_fft, hop) * full_window   # (..., frames, n_fft)
    one_sided = (not frames._dtype.is_complex) if onesided is None else onesided
    norm = "ortho" if normalized else "backward"
    if frames._dtype.is_complex:
        if one_sided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = fft(frames, norm=norm)
    else:
        out = rfft(frames, norm=norm) if one_sided else fft(frames, norm=norm)
    out = out.transpose(-1, -2)
    if return_complex:
        return out
    import warnings
    warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, "
                  "stft will return complex tensors for all inputs, and return_complex=False "
                  "will raise an error.\nNote: you can still call torch.view_as_real on the "
                  "complex output to recover the old return format.", UserWarning, stacklevel=2)
    return view_as_real(out.contiguous())


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """The inverse of stft (least squares: the overlap-added inverse ffts of the frames,
    divided by the overlap-added squared window); ``length`` trims or zero-pads the result.
    Differentiable (through ember.fft).

    >>> x = ember.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    >>> S = ember.stft(x, 4, window=ember.ones(4), return_complex=True)
    >>> ember.istft(S, 4, window=ember.ones(4), length=8)
    tensor([1., 2., 3., 4., 5., 6., 7., 8.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"istft(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    hop = n_fft >> 2 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input._dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")

    def fail(message):
        raise RuntimeError(
            f"istft(CPU{_type_name(input)}Type{list(input.shape)}, n_fft={n_fft}, "
            f"hop_length={hop}, win_length={win}, window={_window_repr(window)}, "
            f"center={int(center)}, normalized={int(normalized)}, onesided={_opt(onesided)}, "
            f"length={_opt(length)}, return_complex={int(return_complex)}) {message}")

    if input.numel() == 0:
        fail(": input tensor cannot be empty.")
    if input.ndim not in (2, 3):
        fail(f": expected a tensor with 3 or 4 dimensions of complex dtype, but got "
             f"{input.ndim + 1}")
    n_frames, fft_size = input.shape[-1], input.shape[-2]
    one_sided = (fft_size != n_fft) if onesided is None else onesided
    if one_sided and n_fft // 2 + 1 != fft_size:
        fail(f": expected the frequency dimension (3rd to the last) of the input tensor to "
             f"match n_fft / 2 + 1 when onesided=True, but got {fft_size}")
    if not one_sided and n_fft != fft_size:
        fail(f": expected the frequency dimension (3rd to the last) of the input tensor to "
             f"match n_fft when onesided=False, but got {fft_size}")
    if not 0 < hop <= win:
        fail(": expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        fail(": expected 0 < win_length <= n_fft")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        fail(": Invalid window shape. window has to be 1D and length of `win_length`")
    if window is None:
        import warnings
        warnings.warn("A window was not provided. A rectangular window will be applied.Please "
                      "provide the same window used by stft to make the inversion lossless.To "
                      "suppress this warning and use a rectangular window, explicitly set "
                      "`window=torch.ones(n_fft, device=<device>)`.", UserWarning, stacklevel=2)
    full_window = _window_of(window, win, n_fft, input)
    frames = input.transpose(-1, -2)   # (..., frames, fft_size)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        if one_sided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        frames = ifft(frames, norm=norm)
    else:
        if window is not None and window._dtype.is_complex:
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not one_sided:
            frames = frames.narrow(-1, 0, n_fft // 2 + 1)
        frames = irfft(frames, n=n_fft, norm=norm)
    expected = n_fft + hop * (n_frames - 1)
    y = _overlap_add(frames * full_window, hop, expected)
    envelope = _overlap_add((full_window ** 2).expand((n_frames, n_fft)), hop, expected)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = expected - n_fft // 2 if center else expected
    stop = min(end, expected)
    y = y.narrow(-1, start, max(stop - start, 0))
    envelope = envelope.narrow(-1, start, max(stop - start, 0))
    low = envelope.abs().amin() if envelope.numel() else None
    if low is not None and bool(low < 1e-11):
        fail("window overlap add min: 1")
    y = y / envelope
    if end > expected:
        import warnings
        from .nn import functional as F
        warnings.warn("The length of signal is shorter than the length parameter. Result is "
                      "being padded with zeros in the tail. Please check your center and "
                      "hop_length settings.", UserWarning, stacklevel=2)
        y = F.pad(y, [0, end - expected])
    return y


def _bind_methods():
    Tensor.stft = stft
    Tensor.istft = istft


_bind_methods()
