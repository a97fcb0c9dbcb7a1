"""The torch.backends switches training scripts set (cudnn.benchmark, cuda.matmul.allow_tf32,
sdp toggles) exist under ember.backends and behave as torch's."""
import importlib.util

import ember


def test_allow_tf32_is_the_matmul_precision():
    before = ember.get_float32_matmul_precision()
    try:
        ember.backends.cuda.matmul.allow_tf32 = True
        assert ember.get_float32_matmul_precision() == "high"
        ember.set_float32_matmul_precision("medium")
        assert ember.backends.cuda.matmul.allow_tf32 is True
        ember.backends.cuda.matmul.allow_tf32 = False
        assert ember.get_float32_matmul_precision() == "highest"
    finally:
        ember.set_float32_matmul_precision(before)


def test_sdp_switches_and_context_manager():
    cuda = ember.backends.cuda
    assert cuda.flash_sdp_enabled() and cuda.math_sdp_enabled()
    with cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False):
        assert not cuda.flash_sdp_enabled() and not cuda.mem_efficient_sdp_enabled()
        assert cuda.math_sdp_enabled()
    assert cuda.flash_sdp_enabled() and cuda.mem_efficient_sdp_enabled()
    cuda.enable_math_sdp(False)
    try:
        assert not cuda.math_sdp_enabled()
    finally:
        cuda.enable_math_sdp(True)


def test_probed_namespaces():
    b = ember.backends
    b.cudnn.benchmark = True
    b.cudnn.deterministic = True
    try:
        assert b.cudnn.benchmark and b.cudnn.version() is None and not b.cudnn.is_available()
    finally:
        b.cudnn.benchmark = b.cudnn.deterministic = False
    assert not b.mps.is_available() and not b.mkldnn.is_available()
    assert not b.openmp.is_available() and not b.opt_einsum.is_available()
    # is_built(): the cuda plugin can run here at all, i.e. CuPy is installed
    assert b.cuda.is_built() == (importlib.util.find_spec("cupy") is not None)
