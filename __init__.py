"""Ember: a PyTorch-style deep-learning framework whose hardware backends are plugins.

>>> import ember as torch
>>> x = torch.ones(2, 2, requires_grad=True)
>>> (x * 3).sum().backward(); x.grad
tensor([[3., 3.],
        [3., 3.]])
"""
if __name__ != "ember":
    # NOTE: the repository root is the package; importing it under another name (pytest's
    # rootdir import, `import main`) would create a second copy of every class and registry.
    raise ImportError(f"the ember package was imported as {__name__!r}; import it as 'ember' "
                      "(install it with `pip install -e .`, and run pytest from the repository "
                      "root so that --confcutdir=tests applies)")

import sys as _sys

from .core import dtypes as _dtypes
from .core.dtypes import (bfloat16, bool_ as bool, dtype, finfo, float16, float32,  # noqa
                          float64, complex64, complex128, get_default_dtype, iinfo, int8,
                          int16, int32, int64,
                          promote_types, result_type as _result_type, set_default_dtype, uint8)
from .core.device import device, get_default_device, set_default_device  # noqa: F401
from .core.tensor import Size, Tensor  # noqa: F401
from .core import methods as _methods  # noqa: F401  (binds Tensor methods)
from .core.autograd import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                            is_inference_mode_enabled, no_grad, set_grad_enabled)
from .core.ops.elementwise import *  # noqa: F401,F403
from .core.ops.elementwise import abs, pow, round, where, add, sub, mul, div  # noqa: F401
from .core.ops.reduction import *  # noqa: F401,F403
from .core.ops.reduction import (all, any, max, min, sum, mean, prod, std, var,  # noqa: F401
                                 sort, argsort, topk, cumsum, cumprod, norm, logsumexp,
                                 argmax, argmin, amax, amin, median, unique)
from .core.ops.shape import *  # noqa: F401,F403
from .core.ops.shape import (cat, stack, split, chunk, flatten, reshape, squeeze,  # noqa: F401
                             unsqueeze, transpose, permute, flip, roll, narrow, select,
                             unbind, movedim, broadcast_tensors, broadcast_shapes, clone,
                             view_as, expand as _expand)
from .core.ops.indexing import *  # noqa: F401,F403
from .core.ops.indexing import gather, scatter, scatter_add, index_select, masked_fill  # noqa
from .core.ops.linalg import *  # noqa: F401,F403
from .core.ops.extra import *  # noqa: F401,F403
from .core.ops.extra2 import *  # noqa: F401,F403
from .core.ops.foreach import *  # noqa: F401,F403  (torch._foreach_add_ ...)
from .core.ops.creation import *  # noqa: F401,F403
from .core.ops.complex import (angle, complex, conj, conj_physical, conj_physical_,  # noqa
                               imag, is_complex, is_conj, is_neg, polar, real, resolve_conj,
                               resolve_neg, sgn, view_as_complex, view_as_complex_copy,
                               view_as_real, view_as_real_copy)
from .core.ops.creation import (Generator, arange, as_tensor, empty, eye, from_numpy,  # noqa
                                full, linspace, manual_seed, ones, rand, randint, randn,
                                randperm, tensor, zeros, range_ as range)
from .core.ops.elementwise import relu, sigmoid, tanh, exp, log  # noqa: F401
from .core.printing import set_printoptions  # noqa: F401
from .core import autograd  # noqa: F401
from . import backends  # noqa: F401

from .core.compat import *  # noqa: F401,F403,E402
from .core.compat import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor,  # noqa: F401
                          DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor,
                          ShortTensor)

def _alias(name, module):
    """Expose ember.core.<x> as ember.<name> (one module object under both names)."""
    full = f"{__name__}.{name}"
    _sys.modules[full] = module
    prefix = module.__name__ + "."
    for mod_name, mod in list(_sys.modules.items()):
        if mod_name.startswith(prefix):
            _sys.modules[full + "." + mod_name[len(prefix):]] = mod
    if "." not in name:
        globals()[name] = module


from .core import linalg_api as linalg  # noqa: E402
_sys.modules[__name__ + ".linalg"] = linalg
globals().update(linalg.TORCH_FUNCTIONS)  # torch.lu, torch.triangular_solve, torch.matrix_exp ...
from .core import testing  # noqa: E402
_sys.modules[__name__ + ".testing"] = testing
from .backends import cuda_api as cuda, opencl_api as opencl  # noqa: E402
_sys.modules[__name__ + ".cuda"] = cuda
_sys.modules[__name__ + ".opencl"] = opencl
from .core import accelerator  # noqa: E402
_sys.modules[__name__ + ".accelerator"] = accelerator

from .core import autograd as _autograd  # noqa: E402
_alias("autograd", _autograd)
from .core import nn as _nn  # noqa: E402
_alias("nn", _nn)
from .core.torch_nn_aliases import *  # noqa: E402,F401,F403  (torch.conv2d, torch.dropout ...)
from .core.torch_extra_api import *  # noqa: E402,F401,F403  (windows, torch.solve ...)
from .core.quantization import *  # noqa: E402,F401,F403  (fake_quantize_per_*_affine)
from .core import optim as _optim  # noqa: E402
_alias("optim", _optim)
from .core import utils as _utils  # noqa: E402
_alias("utils", _utils)
from .core import data as _data  # noqa: E402
_alias("utils.data", _data)
from .core import distributions as _distributions  # noqa: E402
_alias("distributions", _distributions)
from .core import amp as _amp  # noqa: E402
_alias("amp", _amp)
from .core.amp import (autocast, clear_autocast_cache, get_autocast_cpu_dtype,  # noqa
                       get_autocast_dtype, get_autocast_gpu_dtype, get_float32_matmul_precision,
                       is_autocast_cache_enabled, is_autocast_cpu_enabled, is_autocast_enabled,
                       set_autocast_cache_enabled, set_autocast_dtype, set_autocast_enabled,
                       set_float32_matmul_precision)
cuda.amp = _amp.device_module("cuda")
_sys.modules[__name__ + ".cuda.amp"] = cuda.amp
from .core import cpu_api as cpu  # noqa: E402
_sys.modules[__name__ + ".cpu"] = cpu
_sys.modules[__name__ + ".cpu.amp"] = cpu.amp
from .core import special as _special  # noqa: E402
_alias("special", _special)
from .core import return_types as _return_types  # noqa: E402
_alias("return_types", _return_types)
xlogy = _special.xlogy
from .core import fft as _fft  # noqa: E402
_alias("fft", _fft)
stft, istft = _fft.stft, _fft.istft  # (torch.stft, torch.istft: top-level in torch)
from .core import func  # noqa: E402
_alias("func", func)
from .core.func import vmap  # noqa: E402,F401
from .core.serialization import load, save  # noqa: E402,F401
from .core import jit as _jit  # noqa: E402
_alias("jit", _jit)
from .core import profiler as _profiler  # noqa: E402
_alias("profiler", _profiler)
from .core.profiler import autograd_profiler as _autograd_profiler  # noqa: E402
_autograd.profiler = _autograd_profiler  # ember.autograd.profiler (torch.autograd.profiler)
_sys.modules[__name__ + ".autograd.profiler"] = _autograd_profiler
from .core import multiprocessing as _multiprocessing  # noqa: E402
_alias("multiprocessing", _multiprocessing)
from .core import distributed as _distributed  # noqa: E402
_alias("distributed", _distributed)
# (last: it makes the dense Tensor methods a sparse tensor lacks raise torch's error)
from .core import sparse as _sparse  # noqa: E402
_alias("sparse", _sparse)
_sparse.install(globals())

del _sys

# torch's dtype aliases (defined last: they shadow builtins in this module's namespace)
float = float32
double = float64
cfloat = complex64
cdouble = complex128
half = float16
long = int64
int = int32
short = int16
