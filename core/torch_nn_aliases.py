"""The torch-namespace spellings of nn functions: ``ember.conv2d``, ``ember.layer_norm``,
``ember.dropout`` ... with the positional signatures of torch's ATen-level functions (which
differ from ``F``'s: ``torch.dropout(input, p, train)``, ``torch.batch_norm(input, weight, bias,
running_mean, running_var, training, momentum, eps, cudnn_enabled)``, integer reductions ...).

Each is a thin wrapper over the ``ember.nn.functional`` function; none repeats its math.

>>> import ember
>>> ember.layer_norm(ember.tensor([[1.0, 3.0]]), [2], None, None, 1e-5, True).tolist()
[[-0.9999949932098389, 0.9999949932098389]]
"""
from __future__ import annotations

from typing import Optional, Sequence

import ember

from .nn import functional as F

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "convolution", "dropout",
    "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout", "alpha_dropout_",
    "feature_alpha_dropout", "feature_alpha_dropout_", "layer_norm", "group_norm", "batch_norm",
    "instance_norm", "rms_norm", "embedding", "embedding_bag", "max_pool1d", "max_pool2d",
    "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "cosine_similarity",
    "pairwise_distance", "pdist", "pixel_shuffle", "pixel_unshuffle", "prelu", "selu", "selu_",
    "celu", "celu_", "rrelu", "rrelu_", "threshold", "threshold_", "hardshrink", "kl_div",
    "bilinear", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "hinge_embedding_loss", "margin_ranking_loss", "triplet_margin_loss", "poisson_nll_loss",
    "ctc_loss", "constant_pad_nd", "native_layer_norm", "native_batch_norm",
    "native_group_norm", "native_dropout", "grid_sampler", "affine_grid_generator",
    "channel_shuffle", "native_channel_shuffle", "conv3d", "conv_transpose3d", "max_pool3d",
    "max_pool1d_with_indices", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
]

# the signatures of these already agree with torch's top-level functions
conv1d = F.conv1d
conv2d = F.conv2d
conv_transpose1d = F.conv_transpose1d
conv_transpose2d = F.conv_transpose2d
conv3d = F.conv3d
conv_transpose3d = F.conv_transpose3d
rms_norm = F.rms_norm
adaptive_avg_pool1d = F.adaptive_avg_pool1d
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance
pdist = F.pdist
pixel_shuffle = F.pixel_shuffle
pixel_unshuffle = F.pixel_unshuffle
prelu = F.prelu
selu_ = F.selu_
celu_ = F.celu_
threshold_ = F.threshold_
hardshrink = F.hardshrink
bilinear = F.bilinear
channel_shuffle = F.channel_shuffle
native_channel_shuffle = F.native_channel_shuffle

# ATen's Reduction enum, which the torch-level losses take instead of a string.
# NOTE: torch's Python bindings default these to 0 ('none'), not the schema's Mean; match them
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction: int) -> str:
    if reduction not in (0, 1, 2):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


def _stride_or_none(stride):
    # NOTE: ATen's pools default stride to [] (= kernel_size), which F spells None
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) else stride


# ---------------------------------------------------------------------------------- conv
def convolution(input, weight, bias, stride: Sequence[int], padding: Sequence[int],
                dilation: Sequence[int], transposed: bool, output_padding: Sequence[int],
                groups: int):
    """ATen's generic convolution: dispatches on ``weight``'s rank and ``transposed``."""
    nd = weight.dim() - 2
    if transposed:
        conv = getattr(F, f"conv_transpose{nd}d", None)
        if conv is None:
            raise NotImplementedError(f"convolution: no {nd}-d transposed convolution")
        return conv(input, weight, bias, stride, padding, output_padding, groups, dilation)
    conv = getattr(F, f"conv{nd}d", None)
    if conv is None:
        raise NotImplementedError(f"convolution: no {nd}-d convolution")
    return conv(input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------------------------- dropout
def _in_place(fn):
    def inplace_variant(input, p: float, train: bool):
        out = fn(input, p, train)
        if out is not input:
            input.copy_(out)
        return input
    inplace_variant.__name__ = fn.__name__ + "_"
    inplace_variant.__doc__ = f"In-place ``{fn.__name__}``."
    return inplace_variant


def dropout(input, p: float, train: bool):
    """``F.dropout(input, p, train)``."""
    return F.dropout(input, p, train)


def feature_dropout(input, p: float, train: bool):
    """Dropout of whole channels (dim 1) of an input with at least 2 dims."""
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return F._feature_dropout(input, p, train, False, input.dim())


def alpha_dropout(input, p: float, train: bool):
    """``F.alpha_dropout(input, p, train)``."""
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input, p: float, train: bool):
    """``F.feature_alpha_dropout(input, p, train)``."""
    return F.feature_alpha_dropout(input, p, train)


dropout_ = _in_place(dropout)
feature_dropout_ = _in_place(feature_dropout)
alpha_dropout_ = _in_place(alpha_dropout)
feature_alpha_dropout_ = _in_place(feature_alpha_dropout)


def native_dropout(input, p: float, train: Optional[bool]):
    """``(output, mask)``: the dropout result and its boolean keep-mask; ``train=None``
    means training, as ATen's (whose gradient then is not rescaled)."""
    if train is not None and not train:
        return input.clone(), ember.ones(input.shape, dtype=ember.bool, device=input.device)
    F._check_p(p)
    if p == 1.0:
        keep = ember.zeros(input.shape, dtype=input.dtype, device=input.device)
        return input * keep, keep.to(ember.bool)
    scaled_keep = F._dropout_mask(tuple(input.shape), p, input)
    keep = scaled_keep != 0
    if train is None:
        # NOTE: torch's backward scales by 1 (not 1/(1-p)) when train is None; the detached
        # term carries the scaling in the forward only, so the gradient is torch's
        dropped = input * keep.to(input.dtype)
        return dropped + (input * scaled_keep - dropped).detach(), keep
    return input * scaled_keep, keep


# ---------------------------------------------------------------------------------- norms
def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enable: bool = True):
    """``F.layer_norm``; ``cudnn_enable`` is accepted and ignored, as on torch's cpu."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5,
               cudnn_enabled: bool = True):
    """``F.group_norm``; ``cudnn_enabled`` is accepted and ignored."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training: bool,
               momentum: float, eps: float, cudnn_enabled: bool):
    """``F.batch_norm`` with ATen's argument order (weight and bias first)."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats: bool,
                  momentum: float, eps: float, cudnn_enabled: bool):
    """``F.instance_norm`` with ATen's argument order (weight and bias first)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def _mean_rstd(x, dims, eps):
    mean = x.mean(dim=dims, keepdim=True)
    return mean, (x.var(dim=dims, unbiased=False, keepdim=True) + eps).rsqrt()


def native_layer_norm(input, normalized_shape, weight, bias, eps: float):
    """``(output, mean, rstd)``; mean and rstd keep the normalised dims as size 1."""
    nd = len(normalized_shape)
    dims = tuple(range(input.dim() - nd, input.dim()))
    mean, rstd = _mean_rstd(input.detach(), dims, eps)
    return F.layer_norm(input, normalized_shape, weight, bias, eps), mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training: bool,
                      momentum: float, eps: float):
    """``(output, save_mean, save_invstd)``: the batch statistics in training, empty tensors
    in eval, as ATen's cpu kernel."""
    if training:
        dims = (0,) + tuple(range(2, input.dim()))
        mean, invstd = _mean_rstd(input.detach(), dims, eps)
        stats = (mean.reshape(-1), invstd.reshape(-1))
    else:
        stats = tuple(ember.empty(0, dtype=input.dtype, device=input.device) for _ in range(2))
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    return (out,) + stats


def native_group_norm(input, weight, bias, N: int, C: int, HxW: int, group: int, eps: float):
    """``(output, mean, rstd)`` with mean and rstd of shape (N, group)."""
    mean, rstd = _mean_rstd(input.detach().reshape(N, group, -1), (2,), eps)
    out = F.group_norm(input, group, weight, bias, eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


# ---------------------------------------------------------------------------------- embedding
def embedding(weight, indices, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False):
    """``F.embedding`` with ATen's order (weight first); a negative ``padding_idx`` means
    none."""
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq: bool = False, mode: int = 0,
                  sparse: bool = False, per_sample_weights=None,
                  include_last_offset: bool = False, padding_idx: Optional[int] = None):
    """``(output, offset2bag, bag_size, max_indices)`` with ATen's integer ``mode`` (0 sum,
    1 mean, 2 max); the auxiliary outputs follow torch's cpu kernel."""
    out = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq,
                          _BAG_MODES[mode], sparse, per_sample_weights, include_last_offset,
                          padding_idx)
    num_bags = out.shape[0]
    dev, long = weight.device, ember.int64
    if mode == 0:
        zeros = ember.zeros(num_bags, dtype=long, device=dev)
        return out, ember.empty(0, dtype=long, device=dev), zeros, zeros.clone()
    n = indices.shape[0]
    bag_of = (ember.arange(n, device=dev).reshape(-1, 1)
              >= offsets[:num_bags].reshape(1, -1)).to(long).sum(1) - 1
    bag_size = (bag_of.reshape(1, -1) == ember.arange(num_bags, device=dev).reshape(-1, 1)
                ).to(long).sum(1)
    if mode == 1:
        return out, bag_of, bag_size, bag_size.clone()
    # max: the index (into weight) of the row that won each (bag, feature)
    in_bag = bag_of.reshape(1, -1) == ember.arange(num_bags, device=dev).reshape(-1, 1)
    rows = weight.detach()[indices].unsqueeze(0)
    masked = ember.where(in_bag.unsqueeze(-1), rows, ember.full((), float("-inf"),
                                                                  dtype=rows.dtype, device=dev))
    winner = masked.argmax(dim=1)
    return out, bag_of, bag_size, indices[winner]


# ---------------------------------------------------------------------------------- pooling
def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode: bool = False):
    """``F.max_pool1d`` (no indices); ATen's empty ``stride`` means ``kernel_size``."""
    return F.max_pool1d(input, kernel_size, _stride_or_none(stride), padding, dilation,
                        ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode: bool = False):
    """``F.max_pool2d`` (no indices); ATen's empty ``stride`` means ``kernel_size``."""
    return F.max_pool2d(input, kernel_size, _stride_or_none(stride), padding, dilation,
                        ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode: bool = False):
    """``F.max_pool3d`` (no indices); ATen's empty ``stride`` means ``kernel_size``."""
    return F.max_pool3d(input, kernel_size, _stride_or_none(stride), padding, dilation,
                        ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False):
    """(values, int64 indices) of ``F.max_pool1d``; ATen's empty ``stride`` means
    ``kernel_size``."""
    return F.max_pool1d_with_indices(input, kernel_size, _stride_or_none(stride), padding,
                                     dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True):
    """``F.avg_pool1d``; ATen's empty ``stride`` means ``kernel_size``."""
    return F.avg_pool1d(input, kernel_size, _stride_or_none(stride), padding, ceil_mode,
                        count_include_pad)


def adaptive_max_pool1d(input, output_size):
    """``(values, indices)``, as ATen's always returns both."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def constant_pad_nd(input, pad: Sequence[int], value=0):
    """``F.pad(input, pad, 'constant', value)``."""
    return F.pad(input, pad, "constant", value)


# ---------------------------------------------------------------------------------- activations
def selu(input):
    """``F.selu``."""
    return F.selu(input)


def celu(input, alpha: float = 1.0):
    """``F.celu``."""
    return F.celu(input, alpha)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator=None):
    """``F.rrelu``."""
    return F.rrelu(input, lower, upper, training)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
           generator=None):
    """``F.rrelu_``."""
    return F.rrelu_(input, lower, upper, training)


def threshold(input, threshold: float, value: float):
    """``F.threshold``."""
    return F.threshold(input, threshold, value)


# ---------------------------------------------------------------------------------- losses
def kl_div(input, target, reduction: int = 0, *, log_target: bool = False):
    """KL divergence with an integer reduction (default 0, none); ``1`` (mean) averages over
    every element, silently, as ATen's does."""
    loss = F.kl_div(input, target, reduction="none", log_target=log_target)
    return F._reduce(loss, _reduction(reduction))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction: int = 0):
    """``F.binary_cross_entropy_with_logits`` with an integer reduction."""
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(
        reduction), pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, reduction: int = 0):
    """``F.cosine_embedding_loss`` with an integer reduction."""
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: int = 0):
    """``F.hinge_embedding_loss`` with an integer reduction."""
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, reduction: int = 0):
    """``F.margin_ranking_loss`` with an integer reduction."""
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, reduction: int = 0):
    """``F.triplet_margin_loss`` with an integer reduction."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input: bool, full: bool, eps: float, reduction: int):
    """``F.poisson_nll_loss``; every argument is required, as ATen's."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: int = 0, zero_infinity: bool = False):
    """``F.ctc_loss`` with an integer reduction."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction(reduction), zero_infinity)


# ---------------------------------------------------------------------------------- sampling
_GRID_MODES = ("bilinear", "nearest", "bicubic")
_GRID_PADDINGS = ("zeros", "border", "reflection")


def grid_sampler(input, grid, interpolation_mode: int, padding_mode: int,
                 align_corners: bool):
    """``F.grid_sample`` with ATen's integer modes (0 bilinear, 1 nearest, 2 bicubic) and
    paddings (0 zeros, 1 border, 2 reflection)."""
    return F.grid_sample(input, grid, _GRID_MODES[interpolation_mode],
                         _GRID_PADDINGS[padding_mode], align_corners)


def affine_grid_generator(theta, size: Sequence[int], align_corners: bool):
    """``F.affine_grid`` with ``align_corners`` required."""
    return F.affine_grid(theta, size, align_corners)


# ---------------------------------------------------------------------------------- rnn cells
def _cell(mode, input, h, c, w_ih, w_hh, b_ih, b_hh):
    from .nn.modules.rnn import _cell_step
    gx = ember.matmul(input, w_ih.t())
    if b_ih is not None:
        gx = gx + b_ih
    return _cell_step(mode, gx, h, c, w_hh, b_hh)


def lstm_cell(input, hx: Sequence, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step, as ``nn.LSTMCell`` with these weights: ``hx`` is (h, c); returns (h, c).

    >>> import ember
    >>> h, c = ember.lstm_cell(ember.ones(1, 2), (ember.zeros(1, 3), ember.zeros(1, 3)),
    ...                        ember.zeros(12, 2), ember.zeros(12, 3))
    >>> c.tolist()
    [[0.0, 0.0, 0.0]]
    """
    if len(hx) != 2:
        raise RuntimeError(f"lstm_cell expects two hidden states, got {len(hx)}")
    return _cell("LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step, as ``nn.GRUCell`` with these weights; returns the new hidden state."""
    return _cell("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh), one ``nn.RNNCell`` step."""
    return _cell("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """relu(input W_ih^T + b_ih + hx W_hh^T + b_hh), one ``nn.RNNCell`` step."""
    return _cell("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]
