"""Each scheduler's learning-rate sequence against torch's."""
import math
import warnings

import pytest

import ember
from ember.optim import lr_scheduler as ember_sched

torch = pytest.importorskip("torch", reason="torch is the reference for these parity tests")
from torch.optim import lr_scheduler as torch_sched  # noqa: E402

EPOCHS = 40


def _optimizers(opt_name="SGD", **kw):
    kw = kw or {"lr": 0.1, "momentum": 0.9}
    e = [ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)]
    t = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    # two groups with different base lrs, so per-group handling is checked
    eo = getattr(ember.optim, opt_name)([{"params": [e[0]]}, {"params": [e[1]], "lr": 0.03}], **kw)
    to = getattr(torch.optim, opt_name)([{"params": [t[0]]}, {"params": [t[1]], "lr": 0.03}], **kw)
    return eo, to


def _sequence(opt, sched, n=EPOCHS, momentum_key=None):
    lrs, moms = [sched.get_last_lr()], []
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        if momentum_key:
            moms.append([g[momentum_key] for g in opt.param_groups])
    return lrs, moms


CASES = {
    "StepLR": ("StepLR", dict(step_size=7, gamma=0.5)),
    "MultiStepLR": ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
    "ExponentialLR": ("ExponentialLR", dict(gamma=0.93)),
    "CosineAnnealingLR": ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    "CosineAnnealingLR-nomin": ("CosineAnnealingLR", dict(T_max=17)),
    "LambdaLR": ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e) + 0.01 * (e % 3))),
}


@pytest.mark.parametrize("case", list(CASES))
def test_sequence_matches_torch(case):
    name, kw = CASES[case]
    eo, to = _optimizers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, _ = _sequence(eo, getattr(ember_sched, name)(eo, **kw))
        ref, _ = _sequence(to, getattr(torch_sched, name)(to, **kw))
    assert ours == ref  # the same recursive formulas give the same floats, exactly
    assert ours[0] != ours[-1]


def test_lambda_lr_per_group():
    eo, to = _optimizers()
    fns = [lambda e: 0.9 ** e, lambda e: 1.0 + e]
    ours, _ = _sequence(eo, ember_sched.LambdaLR(eo, fns), n=10)
    ref, _ = _sequence(to, torch_sched.LambdaLR(to, fns), n=10)
    assert ours == ref


@pytest.mark.parametrize("opt_name,opt_kw,key", [
    ("SGD", dict(lr=0.1, momentum=0.9), "momentum"),
    ("Adam", dict(lr=0.01), "betas"),
])
@pytest.mark.parametrize("kw", [
    dict(max_lr=0.5, total_steps=40),
    dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=10, anneal_strategy="linear"),
    dict(max_lr=0.5, total_steps=40, three_phase=True, pct_start=0.25),
    dict(max_lr=0.5, total_steps=40, cycle_momentum=False, div_factor=10.0,
         final_div_factor=100.0),
])
def test_one_cycle_matches_torch(opt_name, opt_kw, key, kw):
    eo, to = _optimizers(opt_name, **opt_kw)
    es = ember_sched.OneCycleLR(eo, **kw)
    ours = _sequence(eo, es, n=40, momentum_key=key)
    ref = _sequence(to, torch_sched.OneCycleLR(to, **kw), n=40, momentum_key=key)
    assert ours == ref
    with pytest.raises(ValueError, match="Tried to step 41 times"):
        es.step()


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.1, cooldown=2, min_lr=0.004),
    dict(mode="min", factor=0.2, patience=1, threshold=0.05, threshold_mode="abs",
         min_lr=[0.001, 0.002]),
])
def test_reduce_on_plateau_matches_torch(kw):
    eo, to = _optimizers()
    es, ts = ember_sched.ReduceLROnPlateau(eo, **kw), torch_sched.ReduceLROnPlateau(to, **kw)
    metrics = [1.0 / (1 + i) if i < 5 else 0.2 + 0.01 * math.sin(i) for i in range(40)]
    ours, ref = [], []
    for m in metrics:
        eo.step(); to.step()
        es.step(m); ts.step(m)
        ours.append(es.get_last_lr())
        ref.append(ts.get_last_lr())
    assert ours == ref
    assert ours[0] != ours[-1]
    # a one-element tensor is accepted as the metric, as torch
    es.step(ember.tensor(0.5))


def test_state_dict_round_trip_and_resume():
    eo, _ = _optimizers()
    sched = ember_sched.CosineAnnealingLR(eo, T_max=10)
    for _ in range(4):
        eo.step(); sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    eo2, _ = _optimizers()
    for g, g_old in zip(eo2.param_groups, eo.param_groups):
        g["lr"] = g_old["lr"]
    sched2 = ember_sched.CosineAnnealingLR(eo2, T_max=10)
    sched2.load_state_dict(sd)
    for _ in range(3):
        eo.step(); sched.step(); eo2.step(); sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_base_class_and_warnings():
    eo, _ = _optimizers()
    assert issubclass(ember_sched.StepLR, ember_sched.LRScheduler)
    sched = ember_sched.StepLR(eo, step_size=2)
    assert sched.last_epoch == 0 and sched.base_lrs == [0.1, 0.03]
    assert eo.param_groups[0]["initial_lr"] == 0.1
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        ember_sched.StepLR(object(), step_size=2)
    with pytest.raises(KeyError, match="initial_lr"):
        fresh, _ = _optimizers()
        ember_sched.StepLR(fresh, step_size=2, last_epoch=3)
