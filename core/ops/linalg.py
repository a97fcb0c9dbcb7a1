"""Matrix products (matmul and everything built on it, einsum) and ember.linalg."""
from __future__ import annotations

from .. import amp as _amp, dtypes as _dt
from ..tensor import Tensor
from .registry import _state, composite, defop, device_mismatch, record
from . import shape as S

_wrap = Tensor._wrap


def _g_matmul(ctx, g):
    a, b = ctx.inputs
    ga = gb = None
    plain = a.ndim == 2 and b.ndim == 2  # batched products keep the direct formulas
    if a._requires_grad:
        ga = _grad_in_layout_of(a, plain, lambda: _matmul2(g, S.transpose(b, -1, -2)),
                                lambda: _matmul2(b, S.transpose(g, -1, -2)))
    if b._requires_grad:
        gb = _grad_in_layout_of(b, plain, lambda: _matmul2(S.transpose(a, -1, -2), g),
                                lambda: _matmul2(S.transpose(g, -1, -2), a))
    return ga, gb


def _grad_in_layout_of(x, plain, direct, transposed):
    """The gradient for x, laid out like x's storage: when x is a transposed view (the weight in
    ``x @ w.t()``), compute the transposed product and view it, so the gradient reaching the
    parameter is contiguous (optimizer updates then stream through memory)."""
    if plain:
        (n0, n1), (s0, s1) = x._data.shape, x.stride()
        # transposed storage: row-major as x.T, and not row-major as x
        if (s0 == 1 or n0 == 1) and (s1 == n0 or n1 == 1) and not (s1 == 1 or n1 == 1):
            return S.transpose(transposed(), 0, 1)
    return direct()


_matmul_op = defop("matmul", _g_matmul, inputs=True, node_name="MmBackward0")


def _matmul2(a, b):
    """Product of two >= 2-d tensors with broadcast batch dims (the primitive)."""
    if a._device is not b._device:
        raise RuntimeError(device_mismatch("matmul", a, b))
    dt = a._dtype if a._dtype is b._dtype else None
    if dt is None:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a._dtype} != {b._dtype}")
    sa, sb = a._data.shape, b._data.shape
    if sa[-1] != sb[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[-2]}x{sa[-1]} and "
                           f"{sb[-2]}x{sb[-1]})")
    if len(sa) > 2 or len(sb) > 2:
        from .elementwise import broadcast_shapes
        broadcast_shapes("matmul", sa[:-2], sb[:-2])
    if dt is _dt.bool_:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    res = _wrap(a._device._backend.kernels["matmul"](a._data, b._data), dt, a._device)
    if _state.enabled and (a._requires_grad or b._requires_grad):
        record(_matmul_op, (a, b), res)
    return res


def matmul(input, other, *, out=None):
    """Matrix product with torch's rules for 1-d operands and batch broadcasting."""
    if _amp.active:  # autocast: a lower-precision op (mm and bmm come through here)
        input, other = _amp.cast(input, other)
    a, b = input, other
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): arguments must be Tensors")
    if len(a._data.shape) == 2 and len(b._data.shape) == 2 and out is None:
        return _matmul2(a, b)  # (the common case first: _matmul2 checks the rest)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a._dtype} != "
                           f"{b._dtype}")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                               f"[{b.shape[0]}] to have the same number of elements, but got "
                               f"{a.shape[0]} and {b.shape[0]} elements respectively")
        r = S.reshape(_matmul2(S.unsqueeze(a, 0), S.unsqueeze(b, 1)), ())
    elif a.ndim == 1:
        r = S.squeeze(_matmul2(S.unsqueeze(a, 0), b), -2)
    elif b.ndim == 1:
        r = S.squeeze(_matmul2(a, S.unsqueeze(b, 1)), -1)
    else:
        r = _matmul2(a, b)
    if out is not None:
        from .elementwise import _out
        return _out(r, out)
    return r


def mm(input, mat2, *, out=None):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"self must be a matrix" if input.ndim != 2 else "mat2 must be a "
                           "matrix")
    return matmul(input, mat2, out=out)


def bmm(input, mat2, *, out=None):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if input.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2, out=out)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{input.ndim}, {vec.ndim}")
    if _amp.active:  # autocast: mv is not a lower-precision op; the matmul inside must not cast
        return _amp.uncast(matmul, input, vec)
    return matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    if _amp.active:  # autocast: dot is not a lower-precision op; the matmul inside must not cast
        return _amp.uncast(matmul, input, other)
    return matmul(input, other)


inner = dot
def vdot(input, other):
    """The dot product with ``input`` conjugated (torch.vdot; dot for real tensors)."""
    from .complex import conj
    return dot(conj(input), other)


def outer(input, vec2):
    return S.unsqueeze(input, 1) * S.unsqueeze(vec2, 0)


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    if _amp.active:  # autocast: the added input joins the product's lower precision
        input, mat1, mat2 = _amp.cast(input, mat1, mat2)
    r = matmul(mat1, mat2)
    if alpha != 1:
        r = r * alpha
    return r + (input if beta == 1 else input * beta) if beta != 0 else r


def addmv(input, mat, vec, *, beta=1, alpha=1):
    r = mv(mat, vec) * alpha
    return r + input * beta if beta != 0 else r


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if _amp.active:  # autocast: as addmm
        input, batch1, batch2 = _amp.cast(input, batch1, batch2)
    r = bmm(batch1, batch2) * alpha
    return r + input * beta if beta != 0 else r


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if _amp.active:  # autocast: as addmm
        input, batch1, batch2 = _amp.cast(input, batch1, batch2)
    from .reduction import sum as _sum
    r = _sum(bmm(batch1, batch2), 0) * alpha
    return r + input * beta if beta != 0 else r


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return input * beta + outer(vec1, vec2) * alpha


def tensordot(a, b, dims=2):
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else [d % a.ndim for d in da]
        db = [db] if isinstance(db, int) else [d % b.ndim for d in db]
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [i for i in range(b.ndim) if i not in db]
    ka = 1
    for d in da:
        ka *= a.shape[d]
    A = S.reshape(S.permute(a, fa + da), (-1, ka))
    B = S.reshape(S.permute(b, db + fb), (ka, -1))
    return S.reshape(matmul(A, B), [a.shape[i] for i in fa] + [b.shape[i] for i in fb])


def einsum(equation, *operands):
    """Einstein summation, contracted pairwise through matmul (torch.einsum)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the "
                           f"equation" if len(operands) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the "
                           "equation")
    # Ellipsis: give the broadcast dims reserved upper-case-free letters.
    ell_letters = "".join(chr(c) for c in range(0x3b1, 0x3b1 + 16))
    n_ell = 0
    for t, op in zip(terms, operands):
        if "..." in t:
            n_ell = max(n_ell, op.ndim - (len(t) - 3))
    ell = ell_letters[:n_ell]
    terms = [t.replace("...", ell[len(ell) - (op.ndim - (len(t) - 3)):]) if "..." in t else t
             for t, op in zip(terms, operands)]
    for t, op in zip(terms, operands):
        if len(t) != op.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) "
                               f"does not match the number of dimensions ({op.ndim}) for "
                               f"operand {terms.index(t)} and no ellipsis was given")
    if out is None:
        counts = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    ops = []
    for t, op in zip(terms, operands):
        t, op = _einsum_diagonal(t, op)
        ops.append((t, op))
    sizes = {}
    for t, op in ops:
        for c, s in zip(t, op.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = s
    while len(ops) > 1:
        (ta, a), (tb, b) = ops[0], ops[1]
        rest = "".join(t for t, _ in ops[2:]) + out
        ta, a = _sum_unique(ta, a, tb + rest)
        tb, b = _sum_unique(tb, b, ta + rest)
        batch = [c for c in ta if c in tb and c in rest]
        contract = [c for c in ta if c in tb and c not in rest]
        left = [c for c in ta if c not in tb]
        right = [c for c in tb if c not in ta]
        A = S.permute(a, [ta.index(c) for c in batch + left + contract])
        B = S.permute(b, [tb.index(c) for c in batch + contract + right])
        bs = [max(A.shape[i], B.shape[i]) for i in range(len(batch))]
        ls = [sizes[c] for c in left]
        rs = [sizes[c] for c in right]
        cs = 1
        for c in contract:
            cs *= sizes[c]
        A = S.expand(A, bs + list(A.shape[len(batch):]))
        B = S.expand(B, bs + list(B.shape[len(batch):]))
        ln = 1
        for v in ls:
            ln *= v
        rn = 1
        for v in rs:
            rn *= v
        r = matmul(S.reshape(A, bs + [ln, cs]), S.reshape(B, bs + [cs, rn]))
        r = S.reshape(r, bs + ls + rs)
        ops = [("".join(batch + left + right), r)] + ops[2:]
    t, r = ops[0]
    t, r = _sum_unique(t, r, out)
    return S.permute(r, [t.index(c) for c in out]) if t != out else r


def _sum_unique(t, x, keep):
    drop = [i for i, c in enumerate(t) if c not in keep]
    if not drop:
        return t, x
    from .reduction import sum as _sum
    return "".join(c for c in t if c in keep), _sum(x, drop)


def _einsum_diagonal(t, x):
    while True:
        dup = next((c for c in t if t.count(c) > 1), None)
        if dup is None:
            return t, x
        i = t.index(dup)
        j = t.index(dup, i + 1)
        x = S.diagonal(x, 0, i, j)
        t = t[:i] + t[i + 1:j] + t[j + 1:] + dup


def kron(a, b):
    r = S.unsqueeze(S.unsqueeze(a, -1), 1) * S.unsqueeze(S.unsqueeze(b, 0), 2) if a.ndim == 2 \
        else outer(a, b)
    if a.ndim == 2:
        return S.reshape(r, (a.shape[0] * b.shape[0], a.shape[1] * b.shape[1]))
    return S.reshape(r, (-1,))


@_amp.float32_op
def trace(x):
    from .reduction import sum as _sum
    return _sum(S.diagonal(x))


def chain_matmul(*ms):
    r = ms[0]
    for m in ms[1:]:
        r = matmul(r, m)
    return r


@_amp.float32_op
def cdist(x1, x2, p=2.0):
    from ..tensor import _dt_name
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{x.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dt_name(x.dtype)}")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"expected scalar type {_dt_name(x1.dtype)} but found "
                           f"{_dt_name(x2.dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    d = S.unsqueeze(x1, -2) - S.unsqueeze(x2, -3)
    from .reduction import norm
    return norm(d, p, dim=-1)
