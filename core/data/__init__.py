"""``ember.utils.data``: datasets, samplers and the DataLoader, as ``torch.utils.data``.

Example::

    >>> from ember.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(ember.randn(100, 3), ember.arange(100))
    >>> for x, y in DataLoader(ds, batch_size=32, shuffle=True):
    ...     pass
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader, WorkerInfo, get_worker_info
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset,
                      Subset, TensorDataset, random_split)
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                      SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "BatchSampler", "WeightedRandomSampler",
           "DistributedSampler", "ChainDataset", "StackDataset", "DataLoader", "default_collate",
           "default_convert", "get_worker_info", "WorkerInfo"]
