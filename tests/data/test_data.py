"""ember.utils.data: datasets, samplers, collation and the DataLoader (0 and >0 workers)."""
import collections
import os

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                              IterableDataset, RandomSampler, SequentialSampler, Subset,
                              TensorDataset, default_collate, get_worker_info, random_split)

Point = collections.namedtuple("Point", ["x", "y"])


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"i": i, "sq": ember.tensor([float(i * i)]), "name": f"s{i}"}


class Stream(IterableDataset):
    """0..n-1, sharded across workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return i


def _seeded(seed):
    g = ember.Generator()
    g.manual_seed(seed)
    return g


def _np(t):
    return t.detach().numpy()


# -- datasets ----------------------------------------------------------------------------

def test_tensor_dataset():
    x = ember.tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    y = ember.tensor(np.arange(6))
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    np.testing.assert_array_equal(_np(a), [8.0, 9.0])
    assert b.item() == 4
    # torch asserts the sizes agree, so code written for torch catches AssertionError
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(x, ember.tensor(np.arange(5)))


def test_subset_and_concat():
    ds = Squares(5)
    sub = Subset(ds, [4, 0, 2])
    assert len(sub) == 3 and sub[0]["i"] == 4 and sub[2]["i"] == 2
    cat = ConcatDataset([Squares(3), Squares(4)])
    assert len(cat) == 7
    assert [cat[i]["i"] for i in range(7)] == [0, 1, 2, 0, 1, 2, 3]
    assert cat[-1]["i"] == 3
    with pytest.raises(IndexError):
        cat[7]
    assert len(Squares(2) + Squares(3)) == 5


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    a, b = random_split(ds, [7, 3], generator=_seeded(0))
    assert (len(a), len(b)) == (7, 3)
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    # same generator seed, same split; another seed, (almost surely) another split
    a2, _ = random_split(ds, [7, 3], generator=_seeded(0))
    assert list(a.indices) == list(a2.indices)
    a3, _ = random_split(ds, [7, 3], generator=_seeded(1))
    assert list(a.indices) != list(a3.indices)
    parts = random_split(Squares(11), [0.5, 0.3, 0.2], generator=_seeded(0))
    assert [len(p) for p in parts] == [6, 3, 2]  # leftovers go round-robin, as torch
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])


# -- samplers ------------------------------------------------------------------------------

def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(20), generator=_seeded(3)))
    assert sorted(perm) == list(range(20)) and perm != list(range(20))
    assert perm == list(RandomSampler(range(20), generator=_seeded(3)))
    draws = list(RandomSampler(range(5), replacement=True, num_samples=70, generator=_seeded(0)))
    assert len(draws) == 70 and set(draws) <= set(range(5))
    more = list(RandomSampler(range(5), num_samples=12, generator=_seeded(0)))
    assert len(more) == 12 and sorted(more[:5]) == list(range(5))
    bs = BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    bs = BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5]] and len(bs) == 2
    with pytest.raises(ValueError):
        BatchSampler(range(3), batch_size=0, drop_last=False)


def test_unseeded_shuffle_follows_global_seed():
    ember.manual_seed(123)
    a = list(RandomSampler(range(30)))
    ember.manual_seed(123)
    b = list(RandomSampler(range(30)))
    assert a == b


# -- collation -----------------------------------------------------------------------------

def test_default_collate_types():
    batch = [{"x": ember.tensor([1.0, 2.0]), "n": 1, "f": 0.5, "s": "a", "b": True,
              "a": np.array([1, 2], dtype=np.int32), "p": Point(1, 2.0), "t": (3, 4)},
             {"x": ember.tensor([3.0, 4.0]), "n": 2, "f": 1.5, "s": "b", "b": False,
              "a": np.array([3, 4], dtype=np.int32), "p": Point(5, 6.0), "t": (7, 8)}]
    out = default_collate(batch)
    assert list(out) == ["x", "n", "f", "s", "b", "a", "p", "t"]
    assert tuple(out["x"].shape) == (2, 2)
    np.testing.assert_array_equal(_np(out["x"]), [[1, 2], [3, 4]])
    assert out["n"].dtype == ember.int64 and _np(out["n"]).tolist() == [1, 2]
    assert out["f"].dtype == ember.float64
    assert out["b"].dtype == ember.bool and _np(out["b"]).tolist() == [True, False]
    assert out["s"] == ["a", "b"]
    assert out["a"].dtype == ember.int32 and tuple(out["a"].shape) == (2, 2)
    assert isinstance(out["p"], Point) and _np(out["p"].y).tolist() == [2.0, 6.0]
    assert isinstance(out["t"], list) and _np(out["t"][1]).tolist() == [4, 8]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_default_collate_matches_torch_structure():
    torch = pytest.importorskip("torch", reason="torch is the reference for default_collate")
    from torch.utils.data import default_collate as tcollate
    batch = [(np.float32(1.5), [1, 2], {"k": 3.0}), (np.float32(2.5), [3, 4], {"k": 4.0})]
    ours, ref = default_collate(batch), tcollate(batch)
    assert type(ours) is type(ref) and len(ours) == len(ref)
    assert str(ours[0].dtype).split(".")[-1] == str(ref[0].dtype).split(".")[-1]
    assert [_np(t).tolist() for t in ours[1]] == [t.numpy().tolist() for t in ref[1]]
    assert _np(ours[2]["k"]).tolist() == ref[2]["k"].numpy().tolist()


# -- DataLoader --------------------------------------------------------------------------

def test_loader_batches_and_len():
    dl = DataLoader(Squares(10), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    assert _np(batches[0]["i"]).tolist() == [0, 1, 2, 3]
    assert tuple(batches[2]["sq"].shape) == (2, 1)
    assert batches[1]["name"] == ["s4", "s5", "s6", "s7"]
    dl = DataLoader(Squares(10), batch_size=4, drop_last=True)
    assert len(dl) == 2 and len(list(dl)) == 2


def test_loader_shuffle_with_generator():
    ds = TensorDataset(ember.tensor(np.arange(50)))
    def order(seed):
        return np.concatenate([_np(b[0]) for b in
                               DataLoader(ds, batch_size=8, shuffle=True,
                                          generator=_seeded(seed))]).tolist()
    a, b = order(7), order(7)
    assert a == b and sorted(a) == list(range(50)) and a != list(range(50))
    assert order(8) != a


def test_loader_sampler_batch_sampler_and_no_batching():
    ds = Squares(6)
    dl = DataLoader(ds, batch_size=2, sampler=[5, 3, 1])
    assert [_np(b["i"]).tolist() for b in dl] == [[5, 3], [1]]
    dl = DataLoader(ds, batch_sampler=[[0, 5], [2]])
    assert [_np(b["i"]).tolist() for b in dl] == [[0, 5], [2]] and len(dl) == 2
    dl = DataLoader(ds, batch_size=None)
    first = next(iter(dl))
    assert first["i"] == 0 and len(dl) == 6
    dl = DataLoader(ds, batch_size=3, collate_fn=lambda items: [d["i"] for d in items])
    assert list(dl) == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)


def test_loader_pin_memory_accepted():
    dl = DataLoader(Squares(4), batch_size=2, pin_memory=True)
    assert len(list(dl)) == 2


def test_iterable_dataset_single_process():
    dl = DataLoader(Stream(10), batch_size=4)
    assert [_np(b).tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = DataLoader(Stream(10), batch_size=4, drop_last=True)
    assert len(list(dl)) == 2
    with pytest.raises(ValueError):
        DataLoader(Stream(3), shuffle=True)


def _init_fn(worker_id):
    os.environ["EMBER_TEST_WORKER"] = str(worker_id)


class WorkerTagged(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "wid": info.id, "env": int(os.environ.get("EMBER_TEST_WORKER", -1)),
                "x": ember.tensor(np.full(3, i, dtype=np.float32)),
                "bf": ember.tensor([float(i)], dtype=ember.bfloat16)}


def test_workers_ordered_results_and_init_fn():
    dl = DataLoader(WorkerTagged(), batch_size=2, num_workers=2, worker_init_fn=_init_fn)
    batches = list(dl)
    assert len(batches) == 6
    assert np.concatenate([_np(b["i"]) for b in batches]).tolist() == list(range(12))
    wids = [set(_np(b["wid"]).tolist()) for b in batches]
    assert wids[0] == {0} and wids[1] == {1}  # round-robin across the workers
    for b in batches:
        assert _np(b["env"]).tolist() == _np(b["wid"]).tolist()
        assert b["x"].dtype == ember.float32 and tuple(b["x"].shape) == (2, 3)
        assert b["bf"].dtype == ember.bfloat16
    assert get_worker_info() is None
    # a second epoch starts fresh workers and gives the same batches
    again = list(dl)
    assert [_np(b["i"]).tolist() for b in again] == [_np(b["i"]).tolist() for b in batches]


def test_workers_match_single_process_with_shuffle():
    ds = TensorDataset(ember.tensor(np.arange(40, dtype=np.float32)), ember.tensor(np.arange(40)))
    single = [_np(x).tolist() for x, _ in DataLoader(ds, batch_size=6, shuffle=True,
                                                      generator=_seeded(5))]
    multi = [_np(x).tolist() for x, _ in DataLoader(ds, batch_size=6, shuffle=True,
                                                     generator=_seeded(5), num_workers=3)]
    assert single == multi


def test_workers_iterable_dataset_sharded():
    dl = DataLoader(Stream(11), batch_size=2, num_workers=2)
    items = sorted(np.concatenate([_np(b) for b in dl]).tolist())
    assert items == list(range(11))


def test_worker_error_is_reraised_with_context():
    dl = DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError, match="(?s)DataLoader worker process.*bad sample 5"):
        list(dl)
