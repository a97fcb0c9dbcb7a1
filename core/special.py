"""torch.special's common functions, written with ember ops: they run on every backend, and each
is differentiable with torch's derivative formula (edge cases included).

The new functions compute their value with autograd off (in float32 for float16 and bfloat16
inputs, as torch's opmath) and record one graph node whose backward is torch's formula in ember
ops, so gradients are exact where a composition of ops would give NaN (``xlogy`` at x = 0,
``sinc`` at 0) and second derivatives work. The erf family and the Bessel functions follow
Cephes (the coefficients torch uses; see torch's aten/src/ATen/native/Math.h).

Left out: the orthogonal polynomials, Airy and other Bessel kinds, zeta, gammainc(c).

>>> import ember
>>> from ember.core import special
>>> special.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 1.0]))
tensor([0., 0.])
"""
from __future__ import annotations

import math

from . import dtypes as _dt
from .ops import elementwise as E, extra as X, reduction as R
from .ops.registry import _state, defop, record, unrecorded
from .tensor import Tensor

__all__ = ["erf", "erfc", "erfcx", "erfinv", "expit", "logit", "xlogy", "xlog1py", "log1p",
           "expm1", "exp2", "logsumexp", "softmax", "log_softmax", "sinc", "entr", "ndtr",
           "ndtri", "log_ndtr", "i0", "i0e", "i1", "i1e", "gammaln", "digamma", "psi",
           "polygamma", "multigammaln", "round", "gammainc", "gammaincc"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_INF, _NAN = float("inf"), float("nan")


# ---- plumbing ---------------------------------------------------------------------------------

def _as_float(x, name):
    """``x`` as a floating-point tensor: integer and bool tensors give the default dtype."""
    if not isinstance(x, Tensor):
        raise TypeError(f"special_{name}(): argument 'input' must be Tensor, not "
                        f"{type(x).__name__}")
    return x if x._dtype.is_floating_point else x.to(_dt.get_default_dtype())


def _value(impl, dtype, *args):
    """``impl(*args)`` with recording off, its tensors cast to ``dtype`` (float32 for the half
    types, as torch's opmath), the result in ``dtype``."""
    work = _dt.float32 if dtype is _dt.float16 or dtype is _dt.bfloat16 else dtype

    def run():
        r = impl(*[a.to(work) if isinstance(a, Tensor) else a for a in args])
        return r if r._dtype is dtype else r.to(dtype)
    return unrecorded(run)


def _unary(name, impl, grad, doc):
    """The special function ``name``: value ``impl(x)``, gradient ``grad(x, out, g)``."""
    op = defop(f"special_{name}", lambda ctx, g: (grad(ctx.inputs[0], ctx.out, g),),
               inputs=True, out=True)

    def fn(input):
        x = _as_float(input, name)
        out = _value(impl, x._dtype, x)
        if _state.enabled and x._requires_grad:
            record(op, (x,), out)
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _binary(name, impl, grads, doc):
    """The special function ``name`` of two operands (tensors or numbers, broadcast and
    promoted as torch's): value ``impl(x, y)``, gradients ``grads(x, y, out, g)``."""
    op = defop(f"special_{name}", lambda ctx, g: grads(*ctx.inputs, ctx.out, g),
               inputs=True, out=True)

    def fn(input, other):
        tx, ty = isinstance(input, Tensor), isinstance(other, Tensor)
        if not (tx or ty):
            raise TypeError(f"special_{name}(): expected a Tensor for input or other, got "
                            f"{type(input).__name__} and {type(other).__name__}")
        dt = _dt.result_type(input, other)
        if not dt.is_floating_point:
            dt = _dt.get_default_dtype()
        dev = (input if tx else other)._device
        # numbers become 0-d tensors of the result dtype (they get no gradient)
        x = input if tx else _scalar(input, dt, dev)
        y = other if ty else _scalar(other, dt, dev)
        out = _value(impl, dt, x, y)
        if _state.enabled and (x._requires_grad or y._requires_grad):
            record(op, (x, y), out)
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _scalar(v, dtype, device):
    from .ops.creation import tensor
    return tensor(v, dtype=dtype, device=device)


def _poly(x, coeffs):
    """coeffs[0] * x^n + ... + coeffs[n] (Horner; Cephes' polevl)."""
    r = x * coeffs[0] + coeffs[1]
    for c in coeffs[2:]:
        r = r * x + c
    return r


def _poly1(x, coeffs):
    """x^n + coeffs[0] * x^(n-1) + ... (Cephes' p1evl: an implicit leading 1)."""
    r = x + coeffs[0]
    for c in coeffs[1:]:
        r = r * x + c
    return r


def _chbevl(x, coeffs):
    """Cephes' chbevl: the Chebyshev series sum coeffs[i] T_i(x / 2), zero order last."""
    b0 = x * 0.0 + coeffs[0]
    b1 = b2 = x * 0.0
    for c in coeffs[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return (b0 - b2) * 0.5


# ---- the error function family (Cephes ndtr.c) -------------------------------------------------

# erf(x) = x T(x^2) / U(x^2) for |x| <= 1
_ERF_T = [9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
          7.00332514112805075473E3, 5.55923013010394962768E4]
_ERF_U = [3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
          2.26290000613890934246E4, 4.92673942608635921086E4]
# erfc(x) = exp(-x^2) P(x) / Q(x) for 1 <= x < 8, exp(-x^2) R(x) / S(x) beyond
_ERFC_P = [2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2]
_ERFC_Q = [1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2]
_ERFC_R = [5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0]
_ERFC_S = [2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0]


def _erf_small(x):
    """erf for |x| <= 1 (x is clamped there)."""
    z = x * x
    return x * _poly(z, _ERF_T) / _poly1(z, _ERF_U)


def _erfcx_pos(a):
    """exp(a^2) erfc(a) for a >= 1: Cephes' rational factors up to 50, then the continued
    fraction torch uses (Faddeeva package); 1 / (a sqrt(pi)) beyond 5e7."""
    a = E.clamp(a, 1.0, None)
    mid = E.clamp(a, None, 50.0)
    rational = E.where(mid < 8, _poly(mid, _ERFC_P) / _poly1(mid, _ERFC_Q),
                       _poly(mid, _ERFC_R) / _poly1(mid, _ERFC_S))
    far = E.clamp(a, 50.0, 5e7)
    f2 = far * far
    frac = (1 / _SQRT_PI) * (f2 * (f2 + 4.5) + 2) / (far * (f2 * (f2 + 5) + 3.75))
    return E.where(a <= 50, rational, E.where(a > 5e7, (1 / _SQRT_PI) / a, frac))


def _exp_neg_sq(a):
    """exp(-a^2) without the rounding error of a^2 blown up by exp: a = m + f with m a
    multiple of 1/128, so m^2 is exact (Cephes' expx2)."""
    m = E.floor(a * 128) * (1 / 128)
    f = a - m
    return E.exp(-m * m) * E.exp(-(2 * m * f + f * f))


def _erfc_pos(a):
    """erfc(a) for a >= 1 (a is clamped there; from 28 on it underflows to 0 in every
    dtype)."""
    a = E.clamp(a, 1.0, 28.0)
    return _exp_neg_sq(a) * _erfcx_pos(a)


def _erfc_impl(x):
    a = E.abs(x)
    small = a < 1
    y = _erfc_pos(a)
    big = E.where(x < 0, 2 - y, y)
    r = E.where(small, 1 - _erf_small(E.where(small, x, 0.0)), big)
    return E.where(E.isnan(x), x, r)


def _erfcx_impl(x):
    a = E.abs(x)
    small = a < 1
    xs = E.where(small, x, 0.0)
    inner = E.exp(xs * xs) * (1 - _erf_small(xs))
    pos = _erfcx_pos(a)
    # erfcx(-a) = 2 exp(a^2) - erfcx(a): inf once exp overflows, as torch's
    neg = 2 * E.exp(x * x) - pos
    r = E.where(small, inner, E.where(x > 0, pos, neg))
    return E.where(E.isnan(x), x, r)


_TWO_SQRTPI = 2 / _SQRT_PI

def erf(input):
    """The error function, 2 / sqrt(pi) * integral_0^x exp(-t^2) dt (ember.erf itself)."""
    return E.erf(_as_float(input, "erf"))
erfc = _unary("erfc", _erfc_impl, lambda x, out, g: -g * _TWO_SQRTPI * E.exp(-x * x),
              """1 - erf(x), accurate where erf(x) is close to 1.""")
erfcx = _unary("erfcx", _erfcx_impl,
               lambda x, out, g: g * (2 * x * out - _TWO_SQRTPI),
               """The scaled complementary error function, exp(x^2) * erfc(x).""")

# Pavlis' rational start for erfinv, refined by two Newton steps (torch's calc_erfinv)
_ERFINV_A = [-0.140543331, 0.914624893, -1.645349621, 0.886226899]
_ERFINV_B = [0.012229801, -0.329097515, 1.442710462, -2.118377725, 1.0]
_ERFINV_C = [1.641345311, 3.429567803, -1.624906493, -1.970840454]
_ERFINV_D = [1.637067800, 3.543889200, 1.0]


def _erfinv_impl(y):
    a = E.abs(y)
    central = a <= 0.7
    yc = E.where(central, y, 0.0)
    z = yc * yc
    xc = yc * _poly(z, _ERFINV_A) / _poly(z, _ERFINV_B)
    at = E.where(central | (a >= 1), 0.85, a)  # (kept inside the tail's domain)
    zt = E.sqrt(-E.log((1 - at) / 2))
    xt = E.where(y < 0, -1.0, 1.0) * _poly(zt, _ERFINV_C) / _poly(zt, _ERFINV_D)
    x = E.where(central, xc, xt)
    for _ in range(2):
        x = x - (E.erf(x) - y) / (_TWO_SQRTPI * E.exp(-x * x))
    x = E.where(a == 1, E.where(y < 0, -_INF, _INF), x)
    return E.where(a > 1, _NAN, x)


erfinv = _unary("erfinv", _erfinv_impl,
                lambda x, out, g: g * (_SQRT_PI / 2) * E.exp(out * out),
                """The inverse of erf on (-1, 1); +-inf at +-1, NaN outside.""")


def _ndtr_impl(x):
    t = x * _SQRT1_2
    z = E.abs(t)
    central = 0.5 + 0.5 * E.erf(t)
    tail = 0.5 * _erfc_impl(z)
    return E.where(z < _SQRT1_2, central, E.where(t > 0, 1 - tail, tail))


def _log_ndtr_impl(x):
    t = x * _SQRT1_2
    # below -1, through erfcx: log(erfc(-t) / 2) without erfc underflowing
    tl = E.where(x < -1, t, -1.0)
    low = E.log(_erfcx_impl(-tl) / 2) - tl * tl
    high = E.log1p(-_erfc_impl(E.where(x < -1, 0.0, t)) / 2)
    return E.where(x < -1, low, high)


ndtr = _unary("ndtr", _ndtr_impl, lambda x, out, g: g * E.exp(-0.5 * x * x) / _SQRT_2PI,
              """The standard normal CDF, integral_-inf^x exp(-t^2 / 2) dt / sqrt(2 pi).""")
log_ndtr = _unary("log_ndtr", _log_ndtr_impl,
                  lambda x, out, g: g / _SQRT_2PI * E.exp(-(out + x * x / 2)),
                  """log(ndtr(x)), accurate far into the lower tail.""")

# ndtri: Cephes' ndtri.c (central rational, two tail rationals in z = sqrt(-2 log y))
_NDTRI_P0 = [-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
             1.39312609387279679503E1, -1.23916583867381258016E0]
_NDTRI_Q0 = [1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
             -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
             1.59056225126211695515E1, -1.18331621121330003142E0]
_NDTRI_P1 = [4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
             4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
             -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4]
_NDTRI_Q1 = [1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
             1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
             -3.80806407691578277194E-2, -9.33259480895457427372E-4]
_NDTRI_P2 = [3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
             1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
             3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9]
_NDTRI_Q2 = [1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
             2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
             2.89247864745380683936E-6, 6.79019408009981274425E-9]
_EXP_M2 = 0.13533528323661269189  # exp(-2): where the tails start


def _ndtri_impl(p):
    upper = p > 1 - _EXP_M2
    y = E.where(upper, 1 - p, p)
    central = y > _EXP_M2
    yc = E.where(central, p, 0.5) - 0.5
    y2 = yc * yc
    xc = (yc + yc * (y2 * _poly(y2, _NDTRI_P0) / _poly(y2, _NDTRI_Q0))) * _SQRT_2PI
    yt = E.where(central | ~(y > 0), _EXP_M2, y)  # (kept inside the tails' domain)
    x = E.sqrt(-2 * E.log(yt))
    x0 = x - E.log(x) / x
    z = 1 / x
    x1 = E.where(x < 8, z * _poly(z, _NDTRI_P1) / _poly(z, _NDTRI_Q1),
                 z * _poly(z, _NDTRI_P2) / _poly(z, _NDTRI_Q2))
    xt = E.where(upper, x0 - x1, x1 - x0)
    r = E.where(central, xc, xt)
    r = E.where(p == 0, -_INF, E.where(p == 1, _INF, r))
    return E.where((p >= 0) & (p <= 1), r, _NAN)  # (NaN fails both tests)


ndtri = _unary("ndtri", _ndtri_impl,
               lambda x, out, g: g * _SQRT_2PI * E.exp(out * out / 2),
               """The inverse of ndtr: the x with ndtr(x) = p; +-inf at 1 and 0.""")


# ---- modified Bessel functions of order 0 and 1 (Cephes i0.c, i1.c) ----------------------------

_I0E_A = [-4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
          1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
          -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
          9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
          -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
          1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
          -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
          1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
          -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
          1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1]
_I0E_B = [-7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
          3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
          1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
          -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
          7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
          -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
          3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
          2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
          8.04490411014108831608E-1]
_I1E_A = [2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16,
          -1.10559694773538630805E-15, 7.60068429473540693410E-15, -5.04218550472791168711E-14,
          3.22379336594557470981E-13, -1.98397439776494371520E-12, 1.17361862988909016308E-11,
          -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
          9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7,
          -8.56872026469545474066E-7, 3.47025130813767847674E-6, -1.32731636560394358279E-5,
          4.78156510755005422638E-5, -1.61760815825896745588E-4, 5.12285956168575772895E-4,
          -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
          2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1,
          -1.76416518357834055153E-1, 2.52587186443633654823E-1]
_I1E_B = [7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17,
          -3.20952592199342395980E-17, 2.96262899764595013876E-16, 3.30820231092092828324E-16,
          -1.88035477551078244854E-15, -3.81440307243700780478E-15, 1.04202769841288027642E-14,
          4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
          -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11,
          3.25260358301548823856E-11, -1.89749581235054123450E-11, -5.58974346219658380687E-10,
          -3.83538038596423702205E-9, -2.63146884688951950684E-8, -2.51223623787020892529E-7,
          -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
          7.78576235018280120474E-1]


def _bessel_parts(x, coeffs_a, coeffs_b):
    """(|x|, |x| <= 8, the series on [0, 8], the series beyond divided by sqrt(|x|))."""
    a = E.abs(x)
    small = a <= 8
    inner = _chbevl(E.where(small, a, 8.0) / 2 - 2, coeffs_a)
    ab = E.where(small, 8.0, a)
    outer = _chbevl(32 / ab - 2, coeffs_b) / E.sqrt(ab)
    return a, small, inner, outer


def _i0e_impl(x):
    _, small, inner, outer = _bessel_parts(x, _I0E_A, _I0E_B)
    return E.where(small, inner, outer)


def _i0_impl(x):
    a, small, inner, outer = _bessel_parts(x, _I0E_A, _I0E_B)
    return E.exp(a) * E.where(small, inner, outer)


def _i1e_impl(x):
    a, small, inner, outer = _bessel_parts(x, _I1E_A, _I1E_B)
    r = E.where(small, inner * a, outer)
    return E.where(x < 0, -r, r)


def _i1_impl(x):
    a, small, inner, outer = _bessel_parts(x, _I1E_A, _I1E_B)
    r = E.exp(a) * E.where(small, inner * a, outer)
    return E.where(x < 0, -r, r)


def _i1_grad(x, out, g):
    # i1'(x) = i0(x) - i1(x) / x, 1/2 at 0
    safe = E.where(x == 0, 1.0, x)
    return g * E.where(x == 0, 0.5, i0(x) - out / safe)


def _i1e_grad(x, out, g):
    safe = E.where(x == 0, 1.0, x)
    return g * E.where(x == 0, 0.5, i0e(x) - out * (E.sign(x) + 1 / safe))


i0 = _unary("i0", _i0_impl, lambda x, out, g: g * i1(x),
            """The modified Bessel function of the first kind of order 0.""")
i0e = _unary("i0e", _i0e_impl, lambda x, out, g: g * (i1e(x) - E.sign(x) * out),
             """exp(-|x|) * i0(x).""")
i1 = _unary("i1", _i1_impl, _i1_grad,
            """The modified Bessel function of the first kind of order 1.""")
i1e = _unary("i1e", _i1e_impl, _i1e_grad, """exp(-|x|) * i1(x).""")


# ---- logs and entropies -----------------------------------------------------------------------

def _xlogy_impl(x, y):
    # 0 where x == 0, unless y is NaN (torch's)
    r = E.where(x == 0, 0.0, x * E.log(y))
    return E.where(E.isnan(y), _NAN, r)


def _xlogy_grads(x, y, out, g):
    gx = E.where((x == 0) & (y <= 0), 0.0, xlogy(g, y))
    return gx, g * x / y


def _xlog1py_impl(x, y):
    r = E.where(x == 0, 0.0, x * E.log1p(y))
    return E.where(E.isnan(y), _NAN, r)


def _xlog1py_grads(x, y, out, g):
    gx = E.where((x == 0) & (y <= -1), 0.0, xlog1py(g, y))
    return gx, g * x / (1 + y)


xlogy = _binary("xlogy", _xlogy_impl, _xlogy_grads,
                """x * log(y), 0 where x is 0 (unless y is NaN).""")
xlog1py = _binary("xlog1py", _xlog1py_impl, _xlog1py_grads,
                  """x * log1p(y), 0 where x is 0 (unless y is NaN).""")


def _entr_impl(x):
    safe = E.where(x > 0, x, 1.0)
    r = E.where(x > 0, -safe * E.log(safe), E.where(x == 0, 0.0, -_INF))
    return E.where(E.isnan(x), x, r)


entr = _unary("entr", _entr_impl, lambda x, out, g: g * -(1 + E.log(x)),
              """Elementwise entropy: -x * log(x) for x > 0, 0 at 0, -inf below.""")


def _sinc_impl(x):
    px = E.where(x == 0, 1.0, x) * math.pi
    return E.where(x == 0, 1.0, E.sin(px) / px)


def _sinc_grad(x, out, g):
    safe = E.where(x == 0, 1.0, x)
    px = safe * math.pi
    d = (px * E.cos(px) - E.sin(px)) / (px * safe)
    # 0 at 0, as torch's; written as -pi^2 x / 3 (the slope there) so that the second
    # derivative at 0 is right too (torch's is NaN there)
    return g * E.where(x == 0, x * (-math.pi ** 2 / 3), d)


sinc = _unary("sinc", _sinc_impl, _sinc_grad,
              """The normalized sinc, sin(pi x) / (pi x), 1 at 0.""")


# logit keeps eps as a parameter of its node: its gradient is 0 outside [eps, 1 - eps]
def _g_logit(ctx, g):
    x = ctx.inputs[0]
    eps = ctx.params["eps"]
    d = g / (x * (1 - x))
    if eps is None:
        return (E.where((x < 0) | (x > 1), _NAN, d),)
    return (E.where((x < eps) | (x > 1 - eps), 0.0, d),)


_logit_op = defop("special_logit", _g_logit, inputs=True)


def _logit_impl(x, eps):
    if eps is not None:
        x = E.where(x < eps, eps, E.where(x > 1 - eps, 1 - eps, x))
    return E.log(x / (1 - x))


def logit(input, eps=None):
    """log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps] (a negative eps is
    no clamp, as torch's)."""
    x = _as_float(input, "logit")
    if eps is not None and eps < 0:
        eps = None
    out = _value(_logit_impl, x._dtype, x, eps)
    if _state.enabled and x._requires_grad:
        record(_logit_op, (x,), out, {"eps": eps})
    return out


def expit(input):
    """The logistic sigmoid, 1 / (1 + exp(-x))."""
    return E.sigmoid(_as_float(input, "expit"))


# ---- torch.special names for ember ops ----------------------------------------------------------

def log1p(input):
    """log(1 + x), accurate for small x."""
    return E.log1p(input)


def expm1(input):
    """exp(x) - 1, accurate for small x."""
    return E.expm1(input)


def exp2(input):
    """2 ** x."""
    return E.exp2(input)


def round(input, *, decimals=0):
    """Round half to even, at ``decimals`` decimal places."""
    return E.round(input, decimals=decimals)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed stably."""
    return R.logsumexp(input, dim, keepdim)


def softmax(input, dim, *, dtype=None):
    """exp(x) / sum(exp(x)) over ``dim`` (computed in ``dtype`` when given)."""
    return R.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """log(softmax(x)) over ``dim``, computed stably."""
    return R.log_softmax(input, dim, dtype=dtype)


def gammaln(input):
    """log |Gamma(x)|."""
    return X.lgamma(input)


def digamma(input):
    """d/dx log Gamma(x)."""
    return X.digamma(input)


psi = digamma


def polygamma(n, input):
    """The n-th derivative of digamma."""
    return X.polygamma(n, input)


def multigammaln(input, p):
    """The multivariate log-gamma of dimension ``p``."""
    return X.mvlgamma(input, p)


# ---- the regularized incomplete gamma functions ------------------------------------------------

from .tensor import _dt_name  # noqa: E402  (torch's "Float", "Long" ...)


def _gamma_inc_grads(sign, name):
    def grads(a, x, out, g):
        # NOTE: torch has no derivative with respect to a (its "input")
        if a.requires_grad:
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        density = E.exp((a - 1) * E.log(x) - x - X.lgamma(a))  # d/dx P(a, x)
        return None, g * density * sign
    return grads


def _gamma_inc(name, upper, public, doc):
    from .ops.extra2 import regularized_gamma
    fn = _binary(name, lambda a, x: regularized_gamma(a, x, upper),
                 _gamma_inc_grads(-1.0 if upper else 1.0, name), doc)

    def checked(input, other):
        if not _dt.result_type(input, other).is_floating_point:
            # NOTE: unlike the other special functions, torch does not promote integers here
            raise NotImplementedError(f'"{name}" not implemented for '
                                      f"'{_dt_name(_dt.result_type(input, other))}'")
        return fn(input, other)
    checked.__name__ = checked.__qualname__ = public
    checked.__doc__ = doc
    return checked


gammainc = _gamma_inc("igamma", False, "gammainc",
                      """The regularized lower incomplete gamma function P(a, x).""")
gammaincc = _gamma_inc("igammac", True, "gammaincc",
                       """Q(a, x) = 1 - P(a, x): the regularized upper incomplete gamma.""")
