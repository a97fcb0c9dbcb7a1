"""ember.jit.trace with shapes read in the traced code: size reads are program values (torch
records them as aten::size), so a trace works at other input sizes; what torch bakes with a
TracerWarning (int(), len(), comparisons, float()) Ember bakes and warns about too. Also the
trace/script API around it: check_inputs, example_kwarg_inputs, strict, trace_module, freeze,
optimize_for_inference, save/load, the script decorators."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import jit, nn
from ember.core.jit import _tracer

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the torch comparisons skip, saying why
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the reference) is not installed")

# name -> (function of (lib, F, x), traced shape, replay shape)
DYNAMIC = {
    "view": (lambda L, F, x: x.view(x.size(0), -1), (2, 3, 4), (5, 3, 4)),
    "pad": (lambda L, F, x: F.pad(x, (0, 8 - x.shape[-1] % 8)), (2, 3), (2, 5)),
    "reshape": (lambda L, F, x: x.reshape(x.shape[0], -1, 2), (2, 4), (3, 8)),
    "new_zeros": (lambda L, F, x: x + x.new_zeros(x.shape), (2, 4), (3, 8)),
    "arange": (lambda L, F, x: x + L.arange(x.shape[1]), (2, 4), (3, 8)),
    "expand": (lambda L, F, x: x[:, :1].expand(x.size(0), x.size(1)), (2, 4), (3, 8)),
    "numel": (lambda L, F, x: x.view(x.numel()), (2, 4), (3, 8)),
    "scale": (lambda L, F, x: x * x.size(-1) ** -0.5, (2, 4), (3, 9)),
    "truediv": (lambda L, F, x: x * (x.size(1) / 2), (2, 4), (3, 9)),
    "slice": (lambda L, F, x: x[:, : x.size(1) // 2], (2, 4), (3, 8)),
    "negative_slice": (lambda L, F, x: x[:, -(x.shape[1] // 2):], (2, 4), (3, 8)),
    "shape_tuple": (lambda L, F, x: x.reshape(*x.shape[:-1], 2, -1), (2, 4), (3, 8)),
    "zeros": (lambda L, F, x: x + L.zeros(x.shape[0], x.shape[1]), (2, 4), (3, 8)),
    "full": (lambda L, F, x: x + L.full((x.shape[0], 1), 2.0), (2, 4), (3, 8)),
    "mod": (lambda L, F, x: x.view(-1, x.shape[1] % 3 + 1), (2, 4), (3, 2)),
    "product": (lambda L, F, x: x.view(x.shape[0] * x.shape[1]), (2, 4), (3, 8)),
    "size_tuple": (lambda L, F, x: x.flatten().view(x.size()), (2, 4), (3, 8)),
}
# what torch bakes as a constant, with a TracerWarning
BAKED = {
    "int": (lambda L, F, x: x.view(int(x.shape[0]), -1), (2, 4), (3, 8)),
    "len": (lambda L, F, x: x.view(len(x), -1), (2, 4), (3, 8)),
    "compare": (lambda L, F, x: x * 2 if x.size(0) > 2 else x, (2, 4), (3, 9)),
    "sqrt": (lambda L, F, x: x / math.sqrt(x.size(1)), (2, 4), (3, 9)),
    "float": (lambda L, F, x: x * float(x.shape[0]), (2, 4), (3, 8)),
}


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _tracer_warnings(record) -> list[str]:
    return [str(w.message) for w in record if w.category.__name__ == "TracerWarning"]


def _trace(lib, fn, x, **kw):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        traced = lib.jit.trace(fn, x, **kw)
    return traced, _tracer_warnings(record)


@pytest.mark.parametrize("name", sorted(DYNAMIC))
def test_size_reads_replay_at_new_shapes_without_warnings(name):
    body, first, second = DYNAMIC[name]
    traced, warned = _trace(ember, lambda x: body(ember, F, x), ember.tensor(_data(first)))
    assert warned == []
    x = _data(second, 1)
    got = traced(ember.tensor(x))
    want = body(ember, F, ember.tensor(x))
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    if torch is not None:  # and torch's trace generalizes the same way
        t_traced, t_warned = _trace(torch, lambda x: body(torch, TF, x),
                                    torch.tensor(_data(first)))
        assert t_warned == []
        np.testing.assert_allclose(got.numpy(), t_traced(torch.tensor(x)).numpy(),
                                   rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("name", sorted(BAKED))
def test_python_values_from_sizes_are_baked_with_a_warning_as_in_torch(name):
    body, first, second = BAKED[name]
    traced, warned = _trace(ember, lambda x: body(ember, F, x), ember.tensor(_data(first)),
                            check_trace=False)
    t_traced, t_warned = _trace(torch, lambda x: body(torch, TF, x),
                                torch.tensor(_data(first)), check_trace=False)
    assert t_warned and warned
    assert warned[0].split(" might")[0] == t_warned[0].split(" might")[0]
    x = _data(second, 1)
    got, want = traced(ember.tensor(x)), t_traced(torch.tensor(x))
    assert tuple(got.shape) == tuple(want.shape)  # the same baked value as torch's
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


def test_the_program_reads_sizes_and_eager_mode_is_untouched():
    def f(x):
        return x.view(x.size(0), -1)
    traced = jit.trace(f, ember.randn(2, 3, 4))
    assert "Tensor.size" in str(traced.graph)
    x = ember.randn(3, 2)
    assert type(x.shape[0]) is int and type(x.size(1)) is int and type(x.numel()) is int
    for name, original in _tracer._SHAPE_ORIGINALS.items():
        assert ember.Tensor.__dict__[name] is original


def test_a_size_kept_after_the_trace_is_a_plain_int():
    kept = []

    def f(x):
        kept.append(x.size(0) * 2)
        return x + 1
    jit.trace(f, ember.randn(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kept[0] == 6 and kept[0] + 1 == 7 and type(kept[0] + 1) is int
        assert int(kept[0]) == 6 and bool(kept[0])


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 6)

    def forward(self, x):
        b, t, _ = x.shape
        h = self.lin(x).view(b, t, 2, 3).transpose(1, 2).reshape(b * 2, -1)
        pad = (0, (4 - h.shape[-1] % 4) % 4)
        return F.pad(h, pad) + ember.arange(h.shape[-1] + pad[1], dtype=h.dtype)


def test_traced_module_save_load_round_trip_at_new_shapes(tmp_path):
    net = _Net().eval()
    traced = jit.trace(net, ember.randn(2, 3, 4))
    path = tmp_path / "net.pt"
    jit.save(traced, str(path))
    loaded = jit.load(str(path))
    for shape in ((5, 3, 4), (1, 7, 4)):
        x = ember.randn(*shape)
        want = net(x)
        for m in (traced, loaded):
            got = m(x)
            assert got.shape == want.shape
            np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(),
                                       rtol=1e-6)


def test_freeze_and_optimize_for_inference_keep_dynamic_shapes():
    net = _Net().eval()
    traced = jit.trace(net, ember.randn(2, 3, 4))
    x = ember.randn(4, 5, 4)
    want = net(x).detach().numpy()
    optimized = jit.optimize_for_inference(jit.trace(net, ember.randn(2, 3, 4)))
    for m in (jit.freeze(traced), optimized):
        np.testing.assert_allclose(m(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)


@needs_torch
def test_check_inputs_of_other_shapes_pass_and_baked_shapes_fail_as_in_torch():
    for lib in (ember, torch):
        _, warned = _trace(lib, lambda x: x.view(x.size(0), -1), lib.ones(2, 3, 4),
                           check_inputs=[(lib.ones(5, 3, 4),)])
        assert warned == []
    with pytest.raises(Exception) as t_err:
        _trace(torch, lambda x: x.view(int(x.shape[0]), -1), torch.ones(2, 3, 4),
               check_inputs=[(torch.ones(5, 3, 4),)])
    assert type(t_err.value).__name__ == "TracingCheckError"
    with pytest.raises(jit.TracingCheckError, match="Graphs differed"):
        _trace(ember, lambda x: x.view(int(x.shape[0]), -1), ember.ones(2, 3, 4),
               check_inputs=[(ember.ones(5, 3, 4),)])


def test_example_kwarg_inputs_and_trace_module_methods_are_dynamic():
    def g(x, y):
        return x + y.view(x.size(0), -1)
    traced = jit.trace(g, example_kwarg_inputs={"x": ember.ones(2, 3), "y": ember.ones(6)})
    assert traced(x=ember.ones(3, 2), y=ember.arange(6.0)).tolist() == \
        g(ember.ones(3, 2), ember.arange(6.0)).tolist()

    class M(nn.Module):
        def forward(self, x):
            return x.flatten(1)

        def other(self, x):
            return x.reshape(-1, x.shape[-1] * 2)
    tm = jit.trace_module(M(), {"forward": ember.randn(2, 3, 4), "other": ember.randn(2, 4)})
    assert tm(ember.randn(5, 3, 4)).shape == (5, 12)
    assert tm.other(ember.randn(6, 4)).shape == (3, 8)


def test_strict_rejects_dict_outputs_and_non_strict_keeps_them_dynamic():
    def f(x):
        return {"y": x.view(x.size(0), -1)}
    with pytest.raises(RuntimeError, match="strict=False"):
        jit.trace(f, ember.ones(2, 3, 4))
    traced = jit.trace(f, ember.ones(2, 3, 4), strict=False)
    assert traced(ember.ones(4, 3, 4))["y"].shape == (4, 12)


def test_traced_lstm_generalizes_over_batch_size():
    lstm = nn.LSTM(4, 5, batch_first=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jit.TracerWarning)  # its input-size check, as torch's
        traced = jit.trace(lstm, ember.randn(2, 3, 4))
    x = ember.randn(6, 3, 4)
    got, (h, c) = traced(x)
    want, (wh, wc) = lstm(x)
    for a, b in ((got, want), (h, wh), (c, wc)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


class _Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent: torch.jit.script keeps both branches
            return self.helper(self.lin(x)).view(x.size(0), -1)
        return -x

    @jit.ignore
    def helper(self, x):
        return x * 3

    @jit.unused
    def not_scripted(self, x):
        return x.numpy()

    @jit.export
    def halve(self, x):
        return x / 2


def test_script_keeps_data_dependent_control_flow_and_decorators():
    module = _Scripted().eval()
    scripted = jit.script(module)
    for sign in (1.0, -1.0, 1.0, -1.0):
        for batch in (1, 4):
            x = ember.full((batch, 3), sign)
            np.testing.assert_allclose(scripted(x).detach().numpy(),
                                       module(x).detach().numpy(), rtol=1e-6)
    assert scripted.halve(ember.ones(2)).tolist() == [0.5, 0.5]
    assert scripted.helper(ember.ones(1)).tolist() == [3.0]
    assert scripted.not_scripted(ember.ones(1)).tolist() == [1.0]


def test_script_records_modules_that_check_their_input_sizes():
    # (a program per input signature: a size check is a constant there, not data dependence)
    lstm = nn.LSTM(4, 5).eval()
    scripted = jit.script(lstm)
    x = ember.randn(3, 2, 4)
    out, _ = scripted(x)
    assert len(scripted._programs()) == 1
    np.testing.assert_allclose(out.detach().numpy(), lstm(x)[0].detach().numpy(), rtol=1e-6)
