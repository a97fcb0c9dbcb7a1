"""Factorizations and solvers for ember.linalg, written for any NumPy-like array namespace ``xp``.

NumPy has no LU, triangular solve or ``*_ex`` (error code) variants; these are column loops
vectorized over the batch (O(n) Python steps, each a batched array operation), so they run on
cupy as well. Where LAPACK has the function (solve, inv, cholesky) it is used, and the slower
loop only runs to find the error code of a batch that failed.
"""
from __future__ import annotations

import numpy as np


def linalg_extra_kernels(xp):
    la = xp.linalg
    lapack_error = getattr(la, "LinAlgError", np.linalg.LinAlgError)

    def batch_view(a):
        return a.reshape((-1,) + a.shape[-2:])

    def lu_factor_ex(a):
        """LAPACK getrf: partial pivoting, 1-based int32 pivots, info = first zero pivot."""
        shape = a.shape
        lu = batch_view(a).copy()
        b, m, n = lu.shape
        k = min(m, n)
        rows = xp.arange(b)
        pivots = xp.zeros((b, k), dtype=xp.int32)
        info = xp.zeros(b, dtype=xp.int32)
        # NOTE: LAPACK's complex getrf picks the pivot by |Re| + |Im| (izamax), not |z|
        magnitude = ((lambda c: xp.abs(c.real) + xp.abs(c.imag)) if lu.dtype.kind == "c"
                     else xp.abs)
        for j in range(k):
            p = j + xp.argmax(magnitude(lu[:, j:, j]), axis=1)
            pivots[:, j] = (p + 1).astype(xp.int32)
            row_j = lu[rows, j].copy()
            lu[rows, j] = lu[rows, p]
            lu[rows, p] = row_j
            pivot = lu[:, j, j]
            zero = pivot == 0
            info = xp.where((info == 0) & zero, j + 1, info).astype(xp.int32)
            # NOTE: getrf leaves the column unscaled when the pivot is zero
            lu[:, j + 1:, j] /= xp.where(zero, 1, pivot)[:, None]
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
        return (lu.reshape(shape), pivots.reshape(shape[:-2] + (k,)),
                info.reshape(shape[:-2]))

    def lu_permutation(pivots, m):
        """The row order the pivots' swaps produce: row i of P^T A is row perm[i] of A."""
        piv = pivots.reshape((-1, pivots.shape[-1])).astype(xp.int64) - 1
        b = piv.shape[0]
        rows = xp.arange(b)
        perm = xp.broadcast_to(xp.arange(m, dtype=xp.int64), (b, m)).copy()
        for i in range(piv.shape[1]):
            j = piv[:, i]
            at_i = perm[:, i].copy()
            perm[:, i] = perm[rows, j]
            perm[rows, j] = at_i
        return perm.reshape(pivots.shape[:-1] + (m,))

    def solve_triangular(a, b, upper, unitriangular):
        """X with A X = B, A triangular (substitution; a zero diagonal gives inf/nan)."""
        n = a.shape[-1]
        x = xp.zeros(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:],
                     dtype=b.dtype)
        order = range(n - 1, -1, -1) if upper else range(n)
        for i in order:
            done = slice(i + 1, n) if upper else slice(0, i)
            r = b[..., i, :] - (a[..., i:i + 1, done] @ x[..., done, :])[..., 0, :]
            x[..., i, :] = r if unitriangular else r / a[..., i, i][..., None]
        return x

    def cholesky_loop(a):
        """Cholesky by columns, with LAPACK potrf's info (the first non-positive minor)."""
        n = a.shape[-1]
        low = xp.zeros_like(a)
        info = xp.zeros(a.shape[:-2], dtype=xp.int32)
        for j in range(n):
            row = low[..., j, :j]
            # (Hermitian: the diagonal is real, |l|^2 for a complex matrix)
            d = (a[..., j, j] - (row * row.conj()).sum(-1)).real
            bad = ~(d > 0)
            info = xp.where((info == 0) & bad, j + 1, info).astype(xp.int32)
            ljj = xp.sqrt(d)
            low[..., j, j] = ljj
            rest = a[..., j + 1:, j] - (low[..., j + 1:, :j] @ row.conj()[..., None])[..., 0]
            low[..., j + 1:, j] = rest / ljj[..., None]
        return low, info

    def ok_info(a):
        return xp.zeros(a.shape[:-2], dtype=xp.int32)

    def lapack_or_info(run, a, *rest):
        """run(a, *rest) through LAPACK; where it fails, the info of getrf and NaN results."""
        try:
            out = run(a, *rest)
            if bool(xp.isfinite(out).all()):
                return out, ok_info(a)
        except lapack_error:
            pass
        info = lu_factor_ex(a)[2]
        good = info == 0
        shape = a.shape[:-2] + (rest[0].shape[-2:] if rest else a.shape[-2:])
        out = xp.full(shape, xp.nan, dtype=a.dtype)
        if bool(good.any()):
            out[good] = run(a[good], *(r[good] for r in rest))
        return out, info

    def inv_ex(a):
        return lapack_or_info(la.inv, a)

    def solve_ex(a, b):
        return lapack_or_info(la.solve, a, b)

    def cholesky_ex(a):
        try:
            low = la.cholesky(a)
            if bool(xp.isfinite(low).all()):
                return low, ok_info(a)
        except lapack_error:
            pass
        return cholesky_loop(a)

    def slogdet(a):
        sign, logabs = la.slogdet(a)
        # (log|det| is real for a complex matrix: the dtype of its parts)
        return xp.asarray(sign, dtype=a.dtype), xp.asarray(logabs, dtype=a.real.dtype)

    def ldl_factor_ex(a, hermitian=False):
        """LAPACK sytrf (lower; hetrf for a complex ``a`` when ``hermitian``): Bunch-Kaufman
        pivoting, 1x1 and 2x2 blocks of D; pivots > 0 for a 1x1 block (the row swapped in),
        -p twice for a 2x2 block; info = first zero D."""
        shape = a.shape
        mats = batch_view(a)
        herm = bool(hermitian) and mats.dtype.kind == "c"
        ld = xp.zeros_like(mats)
        pivots = xp.zeros(mats.shape[:2], dtype=xp.int32)
        info = xp.zeros(mats.shape[0], dtype=xp.int32)
        for b in range(mats.shape[0]):
            ld[b], pivots[b], info[b] = _ldl_one(xp.tril(mats[b]), herm)
        return ld.reshape(shape), pivots.reshape(shape[:-1]), info.reshape(shape[:-2])

    def _cabs1(z):
        # NOTE: LAPACK's complex sytf2/hetf2 pick pivots by |Re| + |Im| (cabs1, izamax), not |z|
        return xp.abs(z.real) + xp.abs(z.imag)

    def _real_diagonal(w):
        """hetf2 keeps D's diagonal real: zero the imaginary parts on w's diagonal."""
        i = xp.arange(w.shape[0])
        w[i, i] = w[i, i].real

    def _ldl_one(w, herm):
        """sytf2 (zsytf2 for complex symmetric, zhetf2 when ``herm``) on the lower triangle w."""
        n = w.shape[0]
        alpha = (1 + 17 ** 0.5) / 8
        mag = _cabs1 if w.dtype.kind == "c" else xp.abs
        # (hetf2 reads only the real part of a diagonal entry)
        diag_mag = (lambda z: xp.abs(z.real)) if herm else mag
        conj = xp.conj if herm else (lambda z: z)
        piv = [0] * n
        info = 0
        k = 0
        while k < n:
            kstep = 1
            absakk = float(diag_mag(w[k, k]))
            imax, colmax = k, 0.0
            if k + 1 < n:
                imax = k + 1 + int(xp.argmax(mag(w[k + 1:, k])))
                colmax = float(mag(w[imax, k]))
            singular = max(absakk, colmax) == 0 or absakk != absakk
            if singular:
                info = info or k + 1
                kp = k
                if herm:
                    w[k, k] = w[k, k].real
            elif absakk >= alpha * colmax:
                kp = k
            else:
                rowmax = float(mag(w[imax, k:imax]).max())
                if imax + 1 < n:
                    rowmax = max(rowmax, float(mag(w[imax + 1:, imax]).max()))
                if absakk >= alpha * colmax * (colmax / rowmax):
                    kp = k
                elif float(diag_mag(w[imax, imax])) >= alpha * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if singular:
                pass
            elif kp != kk:  # swap rows and columns kk, kp of the trailing (lower) matrix
                tail = w[kp + 1:, kk].copy()
                w[kp + 1:, kk] = w[kp + 1:, kp]
                w[kp + 1:, kp] = tail
                # (Hermitian: what crosses the diagonal is conjugated)
                mid = w[kk + 1:kp, kk].copy()
                w[kk + 1:kp, kk] = conj(w[kp, kk + 1:kp])
                w[kp, kk + 1:kp] = conj(mid)
                if herm:
                    w[kp, kk] = xp.conj(w[kp, kk])
                    w[kk, kk], w[kp, kp] = w[kp, kp].real, w[kk, kk].real
                    w[k, k] = w[k, k].real
                else:
                    w[kk, kk], w[kp, kp] = w[kp, kp].copy(), w[kk, kk].copy()
                if kstep == 2:
                    w[k + 1, k], w[kp, k] = w[kp, k].copy(), w[k + 1, k].copy()
            elif herm:
                w[k, k] = w[k, k].real
                if kstep == 2:
                    w[k + 1, k + 1] = w[k + 1, k + 1].real
            if singular or k + kstep >= n:
                pass
            elif kstep == 1 and herm:
                d11 = 1 / w[k, k].real
                col = w[k + 1:, k].copy()
                w[k + 1:, k + 1:] -= xp.tril(xp.outer(col, d11 * col.conj()))  # (zher)
                _real_diagonal(w[k + 1:, k + 1:])
                w[k + 1:, k] = col * d11
            elif kstep == 1:
                x = w[k + 1:, k] / w[k, k]
                w[k + 1:, k + 1:] -= xp.tril(xp.outer(x, w[k + 1:, k]))
                w[k + 1:, k] = x
            elif herm:
                # D's block [[d_kk, conj(b)], [b, d_k+1]] with b = w[k+1, k] and a real diagonal
                b = w[k + 1, k]
                d = abs(b)
                d11, d22 = w[k + 1, k + 1].real / d, w[k, k].real / d
                d21 = b / d
                dd = (1 / (d11 * d22 - 1)) / d
                wk = dd * (d11 * w[k + 2:, k] - d21 * w[k + 2:, k + 1])
                wkp1 = dd * (d22 * w[k + 2:, k + 1] - xp.conj(d21) * w[k + 2:, k])
                w[k + 2:, k + 2:] -= xp.tril(xp.outer(w[k + 2:, k], wk.conj())
                                             + xp.outer(w[k + 2:, k + 1], wkp1.conj()))
                _real_diagonal(w[k + 2:, k + 2:])
                w[k + 2:, k] = wk
                w[k + 2:, k + 1] = wkp1
            else:
                d21 = w[k + 1, k]
                d11 = w[k + 1, k + 1] / d21
                d22 = w[k, k] / d21
                d21 = (1 / (d11 * d22 - 1)) / d21
                wk = d21 * (d11 * w[k + 2:, k] - w[k + 2:, k + 1])
                wkp1 = d21 * (d22 * w[k + 2:, k + 1] - w[k + 2:, k])
                w[k + 2:, k + 2:] -= xp.tril(xp.outer(w[k + 2:, k], wk)
                                             + xp.outer(w[k + 2:, k + 1], wkp1))
                w[k + 2:, k] = wk
                w[k + 2:, k + 1] = wkp1
            if kstep == 1:
                piv[k] = kp + 1
            else:
                piv[k] = piv[k + 1] = -(kp + 1)
            k += kstep
        return w, xp.asarray(piv, dtype=xp.int32), info

    def ldl_solve(ld, pivots, b, hermitian=False):
        """LAPACK sytrs (lower; hetrs for a complex ``ld`` when ``hermitian``) for each matrix
        of the batch."""
        herm = bool(hermitian) and ld.dtype.kind == "c"
        batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
        lds = xp.broadcast_to(ld, batch + ld.shape[-2:]).reshape((-1,) + ld.shape[-2:])
        pvs = xp.broadcast_to(pivots, batch + pivots.shape[-1:]).reshape(
            (-1, pivots.shape[-1]))
        x = xp.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:]).copy()
        for i in range(x.shape[0]):
            _ldl_solve_one(lds[i], [int(p) for p in pvs[i]], x[i], herm)
        return x.reshape(batch + b.shape[-2:])

    def _swap_rows(x, i, j):
        if i != j:
            x[i], x[j] = x[j].copy(), x[i].copy()

    def _ldl_solve_one(a, piv, x, herm):
        n = a.shape[0]
        # (L^H for hetrs, L^T for sytrs: the back substitution conjugates L when Hermitian)
        conj = xp.conj if herm else (lambda z: z)
        k = 0
        while k < n:  # L D y = b
            if piv[k] > 0:
                _swap_rows(x, k, piv[k] - 1)
                x[k + 1:] -= xp.outer(a[k + 1:, k], x[k])
                x[k] /= a[k, k].real if herm else a[k, k]
                k += 1
                continue
            _swap_rows(x, k + 1, -piv[k] - 1)
            x[k + 2:] -= xp.outer(a[k + 2:, k], x[k]) + xp.outer(a[k + 2:, k + 1], x[k + 1])
            akm1k = a[k + 1, k]
            akm1, ak = a[k, k] / conj(akm1k), a[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1
            bkm1, bk = x[k] / conj(akm1k), x[k + 1] / akm1k
            x[k], x[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
        k = n - 1
        while k >= 0:  # L^T P^T x = y  (L^H when Hermitian)
            if piv[k] > 0:
                x[k] -= conj(a[k + 1:, k]) @ x[k + 1:]
                _swap_rows(x, k, piv[k] - 1)
                k -= 1
                continue
            x[k] -= conj(a[k + 1:, k]) @ x[k + 1:]
            x[k - 1] -= conj(a[k + 1:, k - 1]) @ x[k + 1:]
            _swap_rows(x, k, -piv[k] - 1)
            k -= 2

    return {"linalg_ldl_factor_ex": ldl_factor_ex, "linalg_ldl_solve": ldl_solve,
            "linalg_lu_factor_ex": lu_factor_ex, "linalg_lu_permutation": lu_permutation,
            "linalg_solve_triangular": solve_triangular, "linalg_inv_ex": inv_ex,
            "linalg_solve_ex": solve_ex, "linalg_cholesky_ex": cholesky_ex,
            "linalg_slogdet": slogdet}
