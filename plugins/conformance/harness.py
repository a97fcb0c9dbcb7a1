"""How the suite runs one OpInfo sample: upload, call, compare with the reference (and torch),
and check gradients against central finite differences.

Every check returns nothing when it passes and raises ``ConformanceError`` (an AssertionError)
with the op, dtype and sample when it does not.
"""
from __future__ import annotations

import numpy as np

from .opinfo import FLOATS, NP, Arg, OpInfo, Sample, is_float, make_rng

#: forward tolerances (rtol, atol) per output dtype, before the op's ``tol`` multiplier
TOL = {"float16": (2e-3, 2e-3), "bfloat16": (1.6e-2, 1.6e-2), "float32": (1e-5, 1e-6),
       "float64": (1e-9, 1e-12), "complex64": (1e-5, 1e-6), "complex128": (1e-9, 1e-12)}


class ConformanceError(AssertionError):
    pass


def dtype_name(t) -> str:
    return str(t.dtype).split(".")[-1]


def to_host(t) -> np.ndarray:
    """A host NumPy copy of an ember or torch tensor (bfloat16 as ml_dtypes.bfloat16)."""
    if type(t).__module__.startswith("torch"):
        import torch
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            return t.float().numpy().astype(NP["bfloat16"])
        return t.resolve_conj().numpy().copy()
    return np.array(t.detach().cpu().numpy(), copy=True)


def upload(m, arg: Arg, device, storage=None, requires_grad=False):
    """The tensor for ``arg`` on ``device`` in module m (ember or torch), with its layout."""
    st = arg.storage() if storage is None else storage
    if m.__name__ == "torch":
        if st.dtype == NP["bfloat16"]:
            t = m.from_numpy(st.astype(np.float32)).to(m.bfloat16)
        else:
            t = m.from_numpy(np.array(st))
        leaf = t.requires_grad_(requires_grad)
    else:
        leaf = m.tensor(st, device=device, requires_grad=requires_grad)
    return leaf, arg.view(leaf)


def call(m, info: OpInfo, sample: Sample, dtype, device, leaves=None):
    """Run the op; ``leaves`` maps arg position -> an already-uploaded leaf tensor."""
    if info.creation:
        return info.op(m, device=device, dtype=dtype, **sample.kwargs)
    args = []
    for i, a in enumerate(sample.args):
        if isinstance(a, Arg):
            if leaves is not None and i in leaves:
                args.append(a.view(leaves[i]))
            else:
                args.append(upload(m, a, device)[1])
        else:
            args.append(a)
    return info.op(m, *args, **sample.kwargs)


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def ref_inputs(sample: Sample):
    out = []
    for a in sample.args:
        if isinstance(a, Arg):
            v = np.asarray(a.value)
            if v.dtype.kind == "f" or v.dtype == NP["bfloat16"]:
                v = v.astype(np.float64)
            elif v.dtype.kind == "c":
                v = v.astype(np.complex128)
            elif v.dtype.kind in "iu":
                v = v.astype(np.int64)
            out.append(v)
        else:
            out.append(a)
    return out


def reference(info: OpInfo, sample: Sample):
    return as_tuple(info.ref(*ref_inputs(sample), **sample.kwargs))


def compare(actual: np.ndarray, expected, out_dtype: str, tol: float, what: str) -> str | None:
    """None when actual (a host array of out_dtype) matches expected; else the reason."""
    expected = np.asarray(expected)
    if tuple(actual.shape) != tuple(expected.shape):
        return f"{what}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    if actual.size == 0:
        return None
    if out_dtype in ("complex64", "complex128"):
        # each part against the reference's, with the tolerance of the parts' dtype
        part = "float32" if out_dtype == "complex64" else "float64"
        for name, f in (("real part", np.real), ("imaginary part", np.imag)):
            p = compare(f(actual).astype(NP[part]), f(expected), part, tol, f"{what} ({name})")
            if p:
                return p
        return None
    if is_float(out_dtype):
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        rtol, atol = TOL[out_dtype]
        rtol, atol = rtol * tol, atol * tol
        ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        ok &= ~(np.isinf(a) ^ np.isinf(e))
        if not ok.all():
            bad = np.argwhere(~ok)[:4]
            show = ", ".join(f"at {tuple(int(j) for j in b)}: got {a[tuple(b)]!r}, "
                             f"expected {e[tuple(b)]!r}" for b in bad)
            return (f"{what}: {int((~ok).sum())} of {ok.size} values differ beyond "
                    f"rtol={rtol:g}, atol={atol:g}: {show}")
        return None
    e = expected.astype(NP[out_dtype]) if expected.dtype != NP[out_dtype] else expected
    if not np.array_equal(actual, e):
        bad = np.argwhere(actual != e)[:4]
        show = ", ".join(f"at {tuple(int(j) for j in b)}: got {actual[tuple(b)]!r}, "
                         f"expected {e[tuple(b)]!r}" for b in bad)
        return f"{what}: values differ (exact dtype {out_dtype}): {show}"
    return None


def check_outputs(info, sample, dtype, outs, expected, label, device_name=None):
    """Compare dtype, shape and values of op outputs (ember or torch tensors) with expected
    host arrays; outputs checked by ``info.check`` are validated by it instead."""
    problems = []
    want = info.out_dtypes(dtype, sample)
    if len(outs) != len(expected):
        return [f"{label}: {len(outs)} outputs, expected {len(expected)}"]
    hosts = []
    for k, (o, e) in enumerate(zip(outs, expected)):
        wd = want[k] if k < len(want) else want[-1]
        name = f"{label} output {k}" if len(outs) > 1 else label
        if not hasattr(o, "dtype") or not hasattr(o, "shape"):
            problems.append(f"{name}: not a tensor ({type(o).__name__})")
            continue
        if dtype_name(o) != wd:
            problems.append(f"{name}: dtype {dtype_name(o)}, expected {wd}")
            continue
        if device_name is not None and o.device.type != device_name:
            problems.append(f"{name}: on device {o.device}, expected {device_name}")
        h = to_host(o)
        hosts.append(h)
        if info.check is not None and k > 0:
            continue  # indices: validated by info.check below
        p = compare(h, e, wd, info.tol, name)
        if p:
            problems.append(p)
    if info.check is not None and not problems:
        inputs = [to_host_arg(a) for a in sample.args if isinstance(a, Arg)]
        p = info.check(inputs, sample.kwargs, hosts)
        if p:
            problems.append(f"{label}: {p}")
    return problems


def to_host_arg(a: Arg):
    v = np.asarray(a.value)
    return v.astype(np.float64) if v.dtype.kind == "f" or v.dtype == NP["bfloat16"] else v


class Failures:
    """Collects the failing samples of one test, so one bad sample does not hide the others."""

    def __init__(self):
        self.messages = []
        self.total = 0

    def sample(self, sample):
        return _Catch(self, sample)

    def check(self):
        if self.messages:
            shown = "\n".join(self.messages[:6])
            more = f"\n  ... and {len(self.messages) - 6} more" if len(self.messages) > 6 else ""
            raise ConformanceError(f"{len(self.messages)} of {self.total} samples failed:\n"
                                   f"{shown}{more}")


class _Catch:
    def __init__(self, owner, sample):
        self.owner, self.sample = owner, sample

    def __enter__(self):
        self.owner.total += 1
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, ConformanceError):
            self.owner.messages.append(str(exc))
        elif isinstance(exc, Exception):
            self.owner.messages.append(f"sample {self.sample}: raised {typ.__name__}: {exc}")
        else:
            return False
        return True


def fail(info, dtype, sample, problems):
    raise ConformanceError(f"{info.name} [{dtype}] sample {sample}:\n  " + "\n  ".join(problems))


# ---- autograd ----------------------------------------------------------------------------------

#: finite-difference settings per dtype: (eps, rtol, atol)
FD = {"float64": (1e-6, 1e-5, 1e-6), "float32": (1e-3, 2e-2, 2e-3)}


def grad_positions(sample: Sample, dtype):
    return [i for i, a in enumerate(sample.args)
            if isinstance(a, Arg) and a.grad and np.asarray(a.value).dtype == NP[dtype]]


def grad_samples(info: OpInfo, dtype, rng):
    out = []
    for s in info.samples(dtype, rng):
        if not s.grad or not grad_positions(s, dtype):
            continue
        if any(isinstance(a, Arg) and np.asarray(a.value).size == 0 for a in s.args):
            continue
        out.append(s)
    # NOTE: the first samples are the plain ones; keep the non-contiguous ones too
    plain = out[:info.grad_samples]
    odd = [s for s in out[info.grad_samples:]
           if any(isinstance(a, Arg) and a.layout != "contiguous" for a in s.args)][:2]
    return plain + odd


class _Fn:
    """The op as a function of its differentiable args' storages (host arrays)."""

    def __init__(self, E, info, sample, dtype, device):
        self.E, self.info, self.sample, self.dtype, self.device = E, info, sample, dtype, device
        self.pos = grad_positions(sample, dtype)
        self.storages = [sample.args[i].storage() for i in self.pos]

    def leaves(self, storages, requires_grad=True):
        return [upload(self.E, self.sample.args[i], self.device, st, requires_grad)[0]
                for i, st in zip(self.pos, storages)]

    def __call__(self, leaves):
        outs = as_tuple(call(self.E, self.info, self.sample, self.dtype, self.device,
                             dict(zip(self.pos, leaves))))
        return [o for o in outs if o.dtype.is_floating_point]


def _host64(t):
    return to_host(t).astype(np.float64)


def _dot(a, b):
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


def _first_grads(E, fn, leaves, cot, create_graph=False):
    outs = fn(leaves)
    if not outs:
        return None, outs
    gouts = [E.tensor(c, device=fn.device, dtype=o.dtype) for c, o in zip(cot, outs)]
    use = [(o, g) for o, g in zip(outs, gouts) if o.requires_grad]
    if not use:
        return [None] * len(leaves), outs
    grads = E.autograd.grad([o for o, _ in use], leaves, [g for _, g in use],
                            create_graph=create_graph, allow_unused=True)
    return list(grads), outs


def _close(num, ana, mag, rtol, atol):
    return abs(num - ana) <= atol * max(1.0, mag) + rtol * max(abs(num), abs(ana))


def gradcheck(E, info, sample, dtype, device, rng, second_order=False):
    """Directional central-difference check of the vector-Jacobian product, one input at a
    time: <v, f(x + eps u) - f(x - eps u)> against <grad_x <v, f>, 2 eps u>. With
    second_order, the same check on x -> <w, grad_x <v, f(x)>> (double backward)."""
    fn = _Fn(E, info, sample, dtype, device)
    eps0, rtol, atol = FD[dtype]
    leaves = fn.leaves(fn.storages)
    with E.no_grad():
        outs0 = fn(fn.leaves(fn.storages, False))
    if not outs0:
        return
    cot = [rng.standard_normal(tuple(o.shape)) for o in outs0]
    ws = [rng.standard_normal(st.shape) for st in fn.storages]

    if not second_order:
        grads, _ = _first_grads(E, fn, leaves, cot)

        def scalar(storages):
            with E.no_grad():
                outs = fn(fn.leaves(storages, False))
            return sum(_dot(_host64(o), c) for o, c in zip(outs, cot))
    else:
        g1, _ = _first_grads(E, fn, leaves, cot, create_graph=True)
        terms = [(g * E.tensor(w, device=device, dtype=g.dtype)).sum()
                 for g, w in zip(g1, ws) if g is not None and g.requires_grad]
        if terms:
            h = terms[0]
            for t in terms[1:]:
                h = h + t
            grads = list(E.autograd.grad([h], leaves, allow_unused=True))
        else:
            grads = [None] * len(leaves)

        def scalar(storages):
            g, _ = _first_grads(E, fn, fn.leaves(storages), cot)
            return sum(_dot(_host64(gi), w) for gi, w in zip(g, ws) if gi is not None)

    what = "double backward" if second_order else "gradient"
    for k, (i, st) in enumerate(zip(fn.pos, fn.storages)):
        g = grads[k]
        if g is not None and tuple(g.shape) != tuple(st.shape):
            raise ConformanceError(f"{info.name} [{dtype}] sample {sample}: {what} of input {i} "
                                   f"has shape {tuple(g.shape)}, expected {tuple(st.shape)}")
        if g is not None and dtype_name(g) != dtype:
            raise ConformanceError(f"{info.name} [{dtype}] sample {sample}: {what} of input {i} "
                                   f"has dtype {dtype_name(g)}, expected {dtype}")
        gh = np.zeros(st.shape) if g is None else _host64(g)
        u = rng.standard_normal(st.shape)
        results = []
        # NOTE: retry with other steps: a step may cross a kink (floor, abs, clamp ...)
        for eps in (eps0, eps0 / 10, eps0 * 10):
            xp = (st.astype(np.float64) + eps * u).astype(st.dtype)
            xm = (st.astype(np.float64) - eps * u).astype(st.dtype)
            delta = xp.astype(np.float64) - xm.astype(np.float64)
            sp = list(fn.storages)
            sm = list(fn.storages)
            sp[k], sm[k] = xp, xm
            num = (scalar(sp) - scalar(sm)) / (2 * eps)
            ana = _dot(gh, delta) / (2 * eps)
            mag = float(np.sum(np.abs(gh * delta))) / (2 * eps)
            results.append((eps, num, ana))
            if _close(num, ana, mag, rtol, atol):
                break
        else:
            show = "; ".join(f"eps={e:g}: finite differences {n:.8g}, autograd {a:.8g}"
                             for e, n, a in results)
            raise ConformanceError(f"{info.name} [{dtype}] sample {sample}: {what} of input {i} "
                                   f"disagrees with finite differences: {show}")


def grad_consistency(E, info, sample, dtype, ref_dtype, device, rng):
    """The gradient in a low-precision dtype against the same inputs' gradient in ref_dtype
    (both analytic): catches dtype-specific backward kernels without finite differences."""
    def grads_in(dt, samp):
        fn = _Fn(E, info, samp, dt, device)
        leaves = fn.leaves(fn.storages)
        outs = fn(leaves)
        if not outs:
            return None
        cot = [np.ones(tuple(o.shape)) for o in outs]
        g, _ = _first_grads(E, fn, leaves, cot)
        return [None if x is None else _host64(x) for x in g], [dtype_name(x) for x in g
                                                                 if x is not None]
    low = grads_in(dtype, sample)
    if low is None:
        return
    up = Sample(tuple(Arg(np.asarray(a.value).astype(NP[ref_dtype]), a.layout, a.grad,
                          None if a.base is None else a.base.astype(NP[ref_dtype]))
                      if isinstance(a, Arg) and np.asarray(a.value).dtype == NP[dtype] else a
                      for a in sample.args), sample.kwargs, sample.desc)
    high = grads_in(ref_dtype, up)
    for name in low[1]:
        if name != dtype:
            raise ConformanceError(f"{info.name} [{dtype}] sample {sample}: gradient dtype "
                                   f"{name}, expected {dtype}")
    for k, (a, b) in enumerate(zip(low[0], high[0])):
        if a is None and b is None:
            continue
        a = np.zeros_like(b) if a is None else a
        b = np.zeros_like(a) if b is None else b
        p = compare(a, b, dtype, 4 * max(info.tol, 1), f"gradient of input {k} vs {ref_dtype}")
        if p:
            raise ConformanceError(f"{info.name} [{dtype}] sample {sample}: {p}")


FD_DTYPES = ("float64", "float32")
__all__ = ["ConformanceError", "check_outputs", "reference", "call", "gradcheck",
           "grad_consistency", "FLOATS", "make_rng"]
