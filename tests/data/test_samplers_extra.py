"""WeightedRandomSampler, DistributedSampler, ChainDataset and StackDataset against torch."""
import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
from ember.utils.data import (BatchSampler, ChainDataset, DataLoader, DistributedSampler,
                              IterableDataset, StackDataset, TensorDataset,
                              WeightedRandomSampler)


def test_weighted_sampler_distribution_with_replacement():
    weights = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6]
    n = 20000
    g = ember.Generator().manual_seed(0)
    draws = list(WeightedRandomSampler(weights, n, generator=g))
    assert len(draws) == n and all(isinstance(i, int) for i in draws)
    counts = np.bincount(draws, minlength=len(weights))
    expected = n * np.asarray(weights) / sum(weights)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.5  # 5 degrees of freedom: p = 0.001


def test_weighted_sampler_without_replacement_and_seed():
    weights = [0.9, 0.4, 0.05, 0.2, 0.3, 0.1]
    first = [0] * len(weights)
    for seed in range(2000):
        s = WeightedRandomSampler(weights, 6, replacement=False,
                                  generator=ember.Generator().manual_seed(seed))
        out = list(s)
        assert sorted(out) == list(range(6))
        first[out[0]] += 1
    expected = 2000 * np.asarray(weights) / sum(weights)
    assert ((np.asarray(first) - expected) ** 2 / expected).sum() < 20.5
    a = list(WeightedRandomSampler(weights, 4, generator=ember.Generator().manual_seed(3)))
    b = list(WeightedRandomSampler(weights, 4, generator=ember.Generator().manual_seed(3)))
    assert a == b
    assert len(WeightedRandomSampler(weights, 4)) == 4
    assert WeightedRandomSampler(weights, 4).weights.dtype is ember.float64


@pytest.mark.parametrize("kwargs, exc", [
    (dict(weights=[1.0, 2.0], num_samples=0), ValueError),
    (dict(weights=[1.0, 2.0], num_samples=True), ValueError),
    (dict(weights=[1.0, 2.0], num_samples=2.0), ValueError),
    (dict(weights=[1.0, 2.0], num_samples=2, replacement=1), ValueError),
    (dict(weights=[[1.0, 2.0]], num_samples=2), ValueError),
])
def test_weighted_sampler_errors(kwargs, exc):
    with pytest.raises(exc) as theirs:
        tdata.WeightedRandomSampler(**kwargs)
    with pytest.raises(exc) as ours:
        WeightedRandomSampler(**kwargs)
    assert str(ours.value) == str(theirs.value)


def test_weighted_sampler_bad_draws():
    with pytest.raises(RuntimeError, match="without replacement"):
        list(WeightedRandomSampler([1.0, 2.0], 3, replacement=False))
    with pytest.raises(RuntimeError, match="element < 0"):
        list(WeightedRandomSampler([1.0, -2.0], 3))


@pytest.mark.parametrize("n, replicas", [(10, 3), (9, 3), (2, 5), (7, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_unshuffled_matches_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tdata.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def test_distributed_sampler_shuffle_partitions_and_epochs():
    n, replicas = 23, 4
    samplers = [DistributedSampler(range(n), replicas, r, seed=5) for r in range(replicas)]
    epoch0 = [list(s) for s in samplers]
    union = sorted(i for part in epoch0 for i in part)
    assert set(union) == set(range(n)) and len(union) == 24  # one index repeated as padding
    assert epoch0 == [list(s) for s in samplers]  # same epoch: same order
    for s in samplers:
        s.set_epoch(1)
    epoch1 = [list(s) for s in samplers]
    assert epoch1 != epoch0 and sorted(i for p in epoch1 for i in p) != []
    # cpu randperm is torch's, so the shuffle is torch's too
    theirs = [list(tdata.DistributedSampler(range(n), replicas, r, seed=5)) for r in
              range(replicas)]
    assert epoch0 == theirs


def test_distributed_sampler_errors():
    # without an initialised process group, torch's error from get_world_size()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        tdata.DistributedSampler(range(4))
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError) as theirs:
        tdata.DistributedSampler(range(4), num_replicas=2, rank=2)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)


class _Stream(IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_chain_dataset():
    ds = ChainDataset([_Stream([1, 2]), _Stream([3]), _Stream([])])
    assert list(ds) == [1, 2, 3] and len(ds) == 3
    bad = ChainDataset([_Stream([1]), [2, 3]])
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(bad)
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        len(bad)
    batches = list(DataLoader(ds, batch_size=2))
    assert [b.tolist() for b in batches] == [[1, 2], [3]]


def test_stack_dataset_tuple_and_dict():
    a, b = ember.arange(5), ember.arange(5) * 10
    t = StackDataset(TensorDataset(a), list(range(5)))
    assert len(t) == 5
    assert t[2][0][0].item() == 2 and t[2][1] == 2
    batch = t.__getitems__([1, 3])
    assert [x[1] for x in batch] == [1, 3] and batch[1][0][0].item() == 3
    d = StackDataset(x=a, y=b)
    assert d[4]["x"].item() == 4 and d[4]["y"].item() == 40
    loaded = list(DataLoader(d, batch_size=2))
    assert loaded[0]["x"].tolist() == [0, 1] and loaded[2]["y"].tolist() == [40]
    for args, kwargs, msg in [((a,), {"y": b}, "both types"), ((), {}, "At least one"),
                              ((a, ember.arange(3)), {}, "Size mismatch")]:
        with pytest.raises(ValueError, match=msg):
            StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=msg):
            tdata.StackDataset(*[torch.arange(len(x)) for x in args],
                               **{k: torch.arange(len(v)) for k, v in kwargs.items()})


def test_dataloader_accepts_new_samplers():
    ds = TensorDataset(ember.arange(12).float())
    ws = WeightedRandomSampler([0.0] * 6 + [1.0] * 6, 8,
                               generator=ember.Generator().manual_seed(1))
    values = [v for (batch,) in DataLoader(ds, sampler=ws, batch_size=4) for v in batch.tolist()]
    assert len(values) == 8 and all(v >= 6 for v in values)
    dsamp = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    (batch,), = list(DataLoader(ds, sampler=dsamp, batch_size=6))
    assert batch.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    bs = BatchSampler(dsamp, batch_size=4, drop_last=True)
    assert [b.tolist() for (b,) in DataLoader(ds, batch_sampler=bs)] == [[1.0, 3.0, 5.0, 7.0]]


@pytest.mark.parametrize("replacement", [True, False])
def test_weighted_sampler_seeded_draws_are_torchs_on_cpu(replacement):
    weights = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6]
    ours = WeightedRandomSampler(weights, 6, replacement=replacement,
                                 generator=ember.Generator().manual_seed(3))
    theirs = tdata.WeightedRandomSampler(weights, 6, replacement=replacement,
                                         generator=torch.Generator().manual_seed(3))
    assert list(ours) == list(theirs)
