"""RNN, LSTM, GRU (and their cells) with torch's parameter names, gate order and init, so
weights copied from torch give torch's numbers. The input projection of every time step is one
matmul; only the recurrence loops over time."""
from __future__ import annotations

import math

import ember

from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _cell_step(mode, gx, h, c, w_hh, b_hh, w_hr=None):
    """One recurrence step; ``gx`` is the input projection (with b_ih) for this step. With
    ``w_hr`` (an LSTM with projections) the new h is W_hr (o * tanh(c)), of size proj_size."""
    gh = ember.matmul(h, w_hh.t())
    if b_hh is not None:
        gh = gh + b_hh
    # NOTE: the gate width comes from W_hh, not from h: a projected h is narrower than the gates
    hs = w_hh.shape[0] // _GATES[mode]
    if mode == "LSTM":
        g = gx + gh
        # NOTE: torch's gate order is input, forget, cell, output
        i = g[..., 0:hs].sigmoid()
        f = g[..., hs:2 * hs].sigmoid()
        cand = g[..., 2 * hs:3 * hs].tanh()
        o = g[..., 3 * hs:4 * hs].sigmoid()
        c = f * c + i * cand
        h = o * c.tanh()
        return (h if w_hr is None else ember.matmul(h, w_hr.t())), c
    if mode == "GRU":
        # NOTE: torch's gate order is reset, update, new; the reset gate scales W_hn h + b_hn
        r = (gx[..., 0:hs] + gh[..., 0:hs]).sigmoid()
        z = (gx[..., hs:2 * hs] + gh[..., hs:2 * hs]).sigmoid()
        n = (gx[..., 2 * hs:3 * hs] + r * gh[..., 2 * hs:3 * hs]).tanh()
        return (1.0 - z) * n + z * h, None
    pre = gx + gh
    return (pre.tanh() if mode == "RNN_TANH" else F.relu(pre)), None


def _no_projection(kwargs) -> None:
    """torch's RNN and GRU take **kwargs only to reject proj_size with a clear message."""
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            import warnings
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size > 0 and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        # NOTE: with projections the recurrent state h (and each layer's output) has proj_size
        # features; the cell state c keeps hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                params = [("weight_ih_l{}{}", (gate_size, layer_input)),
                          ("weight_hh_l{}{}", (gate_size, real_hidden))]
                if bias:
                    params += [("bias_ih_l{}{}", (gate_size,)), ("bias_hh_l{}{}", (gate_size,))]
                if proj_size > 0:
                    params.append(("weight_hr_l{}{}", (proj_size, hidden_size)))
                names = []
                for fmt, shape in params:
                    name = fmt.format(layer, suffix)
                    setattr(self, name, Parameter(ember.empty(shape, **kw)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _layer_params(self, layer, direction):
        """(w_ih, w_hh, b_ih, b_hh, w_hr) of one layer and direction; absent ones are None."""
        suffix = "_reverse" if direction == 1 else ""

        def get(kind, present=True):
            return getattr(self, f"{kind}_l{layer}{suffix}") if present else None
        return (get("weight_ih"), get("weight_hh"), get("bias_ih", self.bias),
                get("bias_hh", self.bias), get("weight_hr", self.proj_size > 0))

    def _hidden_shapes(self, batch):
        """torch's expected (h_0, c_0) shapes; c_0 is None for RNN and GRU."""
        layers = self.num_layers * (2 if self.bidirectional else 1)
        h = (layers, batch, self.proj_size if self.proj_size > 0 else self.hidden_size)
        return h, ((layers, batch, self.hidden_size) if self.mode == "LSTM" else None)

    def _check_hidden(self, h0, c0, batch):
        h_shape, c_shape = self._hidden_shapes(batch)
        if c_shape is None:
            if tuple(h0.shape) != h_shape:
                raise RuntimeError(f"Expected hidden size {h_shape}, got {list(h0.shape)}")
            return
        if tuple(h0.shape) != h_shape:
            raise RuntimeError(f"Expected hidden[0] size {h_shape}, got {list(h0.shape)}")
        if tuple(c0.shape) != c_shape:
            raise RuntimeError(f"Expected hidden[1] size {c_shape}, got {list(c0.shape)}")

    def _run(self, input, h0, c0, lengths=None):
        """input (T, N, I); h0 (L*D, N, P), c0 (L*D, N, H) -> output (T, N, D*P), h_n, c_n, where P
        is proj_size if set, else H. With ``lengths``
        (packed input) sequence b only updates its state during its first lengths[b] steps."""
        num_directions = 2 if self.bidirectional else 1
        steps = input.shape[0]
        h_n, c_n = [], []
        x = input
        masks = None
        if lengths is not None:
            # NOTE: a finished (or, going backwards, not yet started) sequence keeps its state,
            # which gives exactly torch's packed-sequence results
            lens = ember.tensor(lengths, dtype=ember.int64, device=input.device).unsqueeze(-1)
            masks = [lens > t for t in range(steps)]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(layer, direction)
                k = layer * num_directions + direction
                h = h0[k]
                c = c0[k] if c0 is not None else None
                gx_all = F.linear(x, w_ih, b_ih)  # one matmul for every time step
                seq = [None] * steps
                order = range(steps - 1, -1, -1) if direction == 1 else range(steps)
                for t in order:
                    h_new, c_new = _cell_step(self.mode, gx_all[t], h, c, w_hh, b_hh, w_hr)
                    if masks is None:
                        h, c = h_new, c_new
                    else:
                        h = ember.where(masks[t], h_new, h)
                        c = ember.where(masks[t], c_new, c) if c is not None else None
                    seq[t] = h
                outs.append(ember.stack(seq, 0))
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if num_directions == 1 else ember.cat(outs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        c_stack = ember.stack(c_n, 0) if c0 is not None else None
        return x, ember.stack(h_n, 0), c_stack

    def forward(self, input, hx=None):
        from ..utils.rnn import PackedSequence
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        is_lstm = self.mode == "LSTM"
        batched = input.dim() == 3
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D instead")
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        batch = input.shape[1]
        if hx is None:
            h0, c0 = self._zero_state(batch, input)
        else:
            h0, c0 = hx if is_lstm else (hx, None)
            self._check_state_dims(h0, c0, batched)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            self._check_hidden(h0, c0, batch)
        out, h_n, c_n = self._run(input, h0, c0)
        if not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def _zero_state(self, batch, like):
        h_shape, c_shape = self._hidden_shapes(batch)
        h0 = ember.zeros(h_shape, dtype=like.dtype, device=like.device)
        return h0, (None if c_shape is None else
                    ember.zeros(c_shape, dtype=like.dtype, device=like.device))

    def _check_state_dims(self, h0, c0, batched):
        """torch's rank checks of a given state against batched (3-d) or unbatched input."""
        want, kind = (3, "batched 3-D") if batched else (2, "unbatched 2-D")
        if c0 is None:
            if h0.dim() != want:
                raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                                   f"{h0.dim()}-D tensor")
        elif h0.dim() != want or c0.dim() != want:
            raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                               f"({h0.dim()}-D, {c0.dim()}-D) tensors")

    def _forward_packed(self, packed, hx):
        from ..utils.rnn import _pack_time_major, pad_packed_sequence
        is_lstm = self.mode == "LSTM"
        padded, lengths = pad_packed_sequence(packed)  # (T, B, I) in the caller's batch order
        if hx is None:
            h0, c0 = self._zero_state(padded.shape[1], padded)
        else:
            h0, c0 = hx if is_lstm else (hx, None)
            self._check_hidden(h0, c0, padded.shape[1])
        lengths = [int(n) for n in lengths.tolist()]
        out, h_n, c_n = self._run(padded, h0, c0, lengths)
        if packed.sorted_indices is not None:
            out = out.index_select(1, packed.sorted_indices)
            order = packed.sorted_indices.tolist()
            lengths = [lengths[i] for i in order]
        out = _pack_time_major(out, lengths, packed.sorted_indices, out.device)
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    >>> import ember
    >>> out, h = ember.nn.RNN(10, 20, 2)(ember.randn(5, 3, 10))
    >>> out.shape, h.shape
    (ember.Size([5, 3, 20]), ember.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None,
                 **kwargs):
        _no_projection(kwargs)
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def __setattr__(self, name, value):  # nonlinearity is set before Module.__init__
        if "_parameters" not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class LSTM(RNNBase):
    """LSTM with torch's gate order (i, f, g, o); returns output, (h_n, c_n).

    With ``proj_size > 0`` each step's h is projected, h_t = W_hr (o_t * tanh(c_t)), so outputs
    and h_n have proj_size features while c_n keeps hidden_size (torch's LSTMP).

    >>> import ember
    >>> out, (h, c) = ember.nn.LSTM(10, 20, 2, proj_size=5)(ember.randn(7, 3, 10))
    >>> out.shape, h.shape, c.shape
    (ember.Size([7, 3, 5]), ember.Size([2, 3, 5]), ember.Size([2, 3, 20]))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """GRU with torch's gate order (r, z, n); returns output, h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **kwargs):
        _no_projection(kwargs)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)


class RNNCellBase(Module):
    """The parameters every RNN cell holds: ``weight_ih`` (num_chunks * hidden_size,
    input_size), ``weight_hh`` and, with ``bias``, ``bias_ih`` / ``bias_hh``; uniform in
    +-1/sqrt(hidden_size). ``RNNCell``, ``LSTMCell`` and ``GRUCell`` derive from it."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(ember.empty((gates, input_size), **kw))
        self.weight_hh = Parameter(ember.empty((gates, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(ember.empty(gates, **kw))
            self.bias_hh = Parameter(ember.empty(gates, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)


class _CellBase(RNNCellBase):
    _mode = ""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, _GATES[self._mode], device, dtype)

    def _zeros(self, input):
        return ember.zeros((input.shape[0], self.hidden_size), dtype=input.dtype,
                           device=input.device)

    def forward(self, input, hx=None):
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if self._mode == "LSTM":
            if hx is None:
                h, c = self._zeros(input), self._zeros(input)
            else:
                h, c = (hx[0], hx[1]) if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        else:
            h = self._zeros(input) if hx is None else (hx if batched else hx.unsqueeze(0))
            c = None
        gx = F.linear(input, self.weight_ih, self.bias_ih)
        h, c = _cell_step(self._mode, gx, h, c, self.weight_hh, self.bias_hh)
        if self._mode == "LSTM":
            return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
        return h if batched else h.squeeze(0)


class RNNCell(_CellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class LSTMCell(_CellBase):
    _mode = "LSTM"


class GRUCell(_CellBase):
    _mode = "GRU"
