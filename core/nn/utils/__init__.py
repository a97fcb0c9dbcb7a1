"""``ember.nn.utils``: gradient clipping, parameter <-> vector conversion, rnn helpers,
parametrizations, pruning and the older hook-based weight and spectral norms."""
from . import clip_grad, convert_parameters, rnn, parametrize, parametrizations, prune
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .weight_norm import weight_norm, remove_weight_norm
from .spectral_norm import spectral_norm, remove_spectral_norm
from . import fusion, init
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .init import skip_init
from ._clip_grad_deprecated import clip_grad_norm
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters", "rnn", "parametrize",
           "parametrizations", "prune", "weight_norm", "remove_weight_norm", "spectral_norm",
           "remove_spectral_norm", "fusion", "init", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "skip_init", "clip_grad_norm",
           "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]
