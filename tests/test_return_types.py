"""torch.return_types: the named tuples ops return print, unpack and pickle as torch's."""
import pickle
import re

import numpy as np
import pytest
import torch

import ember

X = np.array([[1.0, 3.0, 2.0], [4.0, 2.0, 0.5], [0.5, 1.0, 3.0]], dtype=np.float32)
SPD = X @ X.T + 3 * np.eye(3, dtype=np.float32)

CASES = {
    "max": lambda m, x, s: x.max(1), "min": lambda m, x, s: m.min(x, 0),
    "sort": lambda m, x, s: x.sort(1), "topk": lambda m, x, s: x.topk(2),
    "kthvalue": lambda m, x, s: x.kthvalue(2, 1), "median": lambda m, x, s: x.median(0),
    "mode": lambda m, x, s: x.mode(1), "cummax": lambda m, x, s: x.cummax(1),
    "cummin": lambda m, x, s: m.cummin(x, 0), "nanmedian": lambda m, x, s: x.nanmedian(1),
    "aminmax": lambda m, x, s: m.aminmax(x), "frexp": lambda m, x, s: m.frexp(x),
    "histogram": lambda m, x, s: m.histogram(x.flatten(), bins=3),
    "linalg_slogdet": lambda m, x, s: m.linalg.slogdet(s),
    "linalg_inv_ex": lambda m, x, s: m.linalg.inv_ex(s),
    "linalg_cholesky_ex": lambda m, x, s: m.linalg.cholesky_ex(s),
    "linalg_eigh": lambda m, x, s: m.linalg.eigh(s),
    "linalg_lu_factor": lambda m, x, s: m.linalg.lu_factor(s),
    "linalg_solve_ex": lambda m, x, s: m.linalg.solve_ex(s, x),
}


def _text(r, lib):
    # (the values are compared below: here the names, the field order and the layout)
    return [type(r).__name__, type(r).__module__.replace(lib, "torch"),
            re.findall(r"\n(\w+)=", repr(r)), repr(r).split("(")[0].replace(lib, "torch")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_tuples_as_torch(name):
    t = CASES[name](torch, torch.tensor(X), torch.tensor(SPD))
    e = CASES[name](ember, ember.tensor(X), ember.tensor(SPD))
    assert _text(e, "ember") == _text(t, "torch")
    assert len(e) == len(t)
    for a, b in zip(e, t):
        np.testing.assert_allclose(np.asarray(a), b.numpy(), rtol=1e-5, atol=1e-5)


def test_unpack_index_and_pickle():
    r = ember.tensor(X).max(1)
    values, indices = r
    assert values is r.values and indices is r[1]
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is type(r) and ember.equal(back.indices, r.indices)
    assert type(r) is ember.return_types.max
