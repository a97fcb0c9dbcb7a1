"""DataLoader: batches from a dataset, in the main process or in worker processes.

With ``num_workers > 0`` each worker is a separate process (``multiprocessing``); a worker
fetches and collates whole batches, and tensors cross the process boundary as NumPy arrays
(with their dtype and device recorded), so no backend state is shared between processes.
Batches come back in sampler order whatever order the workers finish in.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

import ember

from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its id, the number of workers, its seed and its copy of the
    dataset; ``None`` in the main process.

    Example::

        >>> class Shards(IterableDataset):
        ...     def __iter__(self):
        ...         info = get_worker_info()
        ...         start = 0 if info is None else info.id
        ...         step = 1 if info is None else info.num_workers
        ...         return iter(range(start, 100, step))
    """
    return _worker_info


# -- fetching ----------------------------------------------------------------------------------

class _MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto, self.collate_fn = dataset, auto_collation, collate_fn

    def fetch(self, index):
        if self.auto:
            getitems = getattr(self.dataset, "__getitems__", None)
            data = getitems(index) if getitems else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.it = iter(dataset)
        self.auto, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto:
            data = []
            for _ in index:
                try:
                    data.append(next(self.it))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.it)
        return self.collate_fn(data)


# -- crossing the process boundary ---------------------------------------------------------------

class _TensorPayload:
    """A tensor in transit from a worker: host bytes as a NumPy array, plus dtype and device."""

    __slots__ = ("array", "dtype", "device")

    def __init__(self, array, dtype, device):
        self.array, self.dtype, self.device = array, dtype, device

    def __reduce__(self):
        return (_TensorPayload, (self.array, self.dtype, self.device))


def _dtype_name(d: Any) -> str:
    return str(d).rsplit(".", 1)[-1]  # "ember.float32" -> "float32"


def _pack(obj: Any) -> Any:
    if isinstance(obj, ember.Tensor):
        t = obj.detach()
        return _TensorPayload(np.ascontiguousarray(t.cpu().numpy()), _dtype_name(t.dtype),
                              str(t.device))
    if isinstance(obj, dict):
        return type(obj)((k, _pack(v)) for k, v in obj.items()) if type(obj) is not dict \
            else {k: _pack(v) for k, v in obj.items()}
    if _is_namedtuple(obj):
        return type(obj)(*(_pack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    return obj


def _unpack(obj: Any) -> Any:
    if isinstance(obj, _TensorPayload):
        t = ember.from_numpy(obj.array)
        if _dtype_name(t.dtype) != obj.dtype:
            t = t.to(getattr(ember, obj.dtype))
        return t if obj.device == "cpu" else t.to(obj.device)
    if isinstance(obj, dict):
        return type(obj)((k, _unpack(v)) for k, v in obj.items()) if type(obj) is not dict \
            else {k: _unpack(v) for k, v in obj.items()}
    if _is_namedtuple(obj):
        return type(obj)(*(_unpack(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    return obj


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


class _WorkerError:
    """An exception raised in a worker, carried to the main process as text."""

    def __init__(self, exc: BaseException, worker_id: int) -> None:
        self.exc_type = type(exc)
        self.msg = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\n"
                    "Original " + "".join(traceback.format_exception(exc)))

    def reraise(self):
        try:
            err = self.exc_type(self.msg)
        except Exception:
            err = RuntimeError(self.msg)
        raise err


class _Stop:
    """Sent by an iterable-dataset worker whose iterator is exhausted."""


def _worker_loop(dataset, index_q, result_q, auto_collation, collate_fn, drop_last, seed,
                 init_fn, worker_id, num_workers, is_iterable):
    global _worker_info
    try:
        random.seed(seed)
        ember.manual_seed(seed)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher_cls = _IterableFetcher if is_iterable else _MapFetcher
            fetcher = fetcher_cls(dataset, auto_collation, collate_fn, drop_last)
        except Exception as e:  # reported with the first task, as torch
            init_error = _WorkerError(e, worker_id)
        while True:
            try:
                task = index_q.get(timeout=5.0)
            except queue.Empty:
                if os.getppid() == 1:  # the main process died; do not linger as an orphan
                    return
                continue
            if task is None:
                return
            idx, index = task
            if init_error is not None:
                result_q.put((idx, init_error))
                init_error = None
                continue
            try:
                data = _pack(fetcher.fetch(index))
            except StopIteration:
                data = _Stop()
            except Exception as e:
                data = _WorkerError(e, worker_id)
            result_q.put((idx, data))
    except KeyboardInterrupt:
        pass


# -- the loader ----------------------------------------------------------------------------

class DataLoader:
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__``/``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch (``None`` turns automatic batching off).
        shuffle: visit the samples in a random order each epoch (``generator`` seeds it).
        sampler / batch_sampler: a custom order of indices / of lists of indices.
        num_workers: worker processes (0 loads in the main process).
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: accepted for torch compatibility and ignored: Ember's host buffers are plain
            NumPy memory, and no backend here uses page-locked staging.
        drop_last: drop the last, incomplete batch.
        timeout: seconds to wait for a worker's batch (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker.
        multiprocessing_context: a start method name or context (default: the platform's).
        generator: an ``ember.Generator`` for shuffling and worker seeds.
        prefetch_factor: batches in flight per worker (default 2).
        persistent_workers: accepted; workers are started afresh for each epoch.

    Example::

        >>> ds = TensorDataset(ember.randn(100, 3), ember.arange(100))
        >>> for x, y in DataLoader(ds, batch_size=32, shuffle=True):
        ...     pass
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if (num_workers > 0 and prefetch_factor is None) \
            else prefetch_factor
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)  # TypeError if the dataset has no length, as torch
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return self._single_process_iter()
        return _MultiProcessIter(self)

    def _single_process_iter(self) -> Iterator[Any]:
        _base_seed(self)  # drawn, though unused, so shuffles match those with workers (as torch)
        fetcher_cls = _IterableFetcher if self._is_iterable else _MapFetcher
        fetcher = fetcher_cls(self.dataset, self._auto_collation, self.collate_fn,
                              self.drop_last)
        for index in self._index_sampler:
            try:
                yield fetcher.fetch(index)
            except StopIteration:
                return


def _base_seed(loader: DataLoader) -> int:
    """The epoch's worker seed, drawn from the loader's generator (or the global RNG)."""
    # NOTE: random_() as torch draws it, so the global stream stays in step with torch's
    g = loader.generator
    return int(ember.empty((), dtype=ember.int64, device=g.device if g is not None else None)
               .random_(generator=g).item())


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: ``None`` forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


class _MultiProcessIter:
    """One epoch over worker processes; yields batches in sampler order."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = mp.get_context("fork" if sys.platform.startswith("linux") else None)
        elif isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        n = loader.num_workers
        base_seed = _base_seed(loader)
        self.result_q = ctx.Queue()
        self.index_qs, self.workers = [], []
        for wid in range(n):
            iq = ctx.Queue()
            w = ctx.Process(target=_worker_loop, daemon=True, args=(
                loader.dataset, iq, self.result_q, loader._auto_collation, loader.collate_fn,
                loader.drop_last, base_seed + wid, loader.worker_init_fn, wid, n,
                loader._is_iterable))
            w.start()
            self.index_qs.append(iq)
            self.workers.append(w)
        self.sampler_iter = iter(loader._index_sampler)
        self.active = [True] * n       # iterable datasets: workers not yet exhausted
        self.task_worker: dict[int, int] = {}
        self.results: dict[int, Any] = {}
        self.send_idx = 0               # next task id to send
        self.rcvd_idx = 0               # next task id to yield
        self.next_worker = itertools.cycle(range(n))
        self.shutdown_done = False
        for _ in range(loader.prefetch_factor * n):
            self._try_put()

    def __iter__(self):
        return self

    def __len__(self):
        return len(self.loader)

    def _try_put(self) -> None:
        if not any(self.active):
            return
        try:
            index = next(self.sampler_iter)
        except StopIteration:
            return
        for _ in range(len(self.workers)):
            wid = next(self.next_worker)
            if self.active[wid]:
                break
        self.index_qs[wid].put((self.send_idx, index))
        self.task_worker[self.send_idx] = wid
        self.send_idx += 1

    def _get(self) -> tuple[int, Any]:
        timeout = self.loader.timeout or None
        waited = 0.0
        while True:
            try:
                return self.result_q.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
                dead = [w for w in self.workers if not w.is_alive()]
                if dead:
                    self._shutdown()
                    pids = ", ".join(str(w.pid) for w in dead)
                    raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                       f"(exit code {dead[0].exitcode})") from None
                if timeout is not None and waited >= timeout:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def __next__(self) -> Any:
        while True:
            if self.rcvd_idx >= self.send_idx:
                self._shutdown()
                raise StopIteration
            if self.rcvd_idx in self.results:
                data = self.results.pop(self.rcvd_idx)
                wid = self.task_worker.pop(self.rcvd_idx)
                self.rcvd_idx += 1
                if isinstance(data, _Stop):
                    self.active[wid] = False
                    self._try_put()  # keep the workers that still have data busy
                    continue
                self._try_put()
                if isinstance(data, _WorkerError):
                    self._shutdown()
                    data.reraise()
                return _unpack(data)
            idx, data = self._get()
            self.results[idx] = data
            if isinstance(data, _Stop):
                # stop feeding a worker whose iterator has ended; later tasks sent to it
                # come back as _Stop too
                self.active[self.task_worker[idx]] = False

    def _shutdown(self) -> None:
        if self.shutdown_done:
            return
        self.shutdown_done = True
        for q in self.index_qs:
            try:
                q.put(None)
            except Exception:
                pass
        for w in self.workers:
            w.join(timeout=2.0)
            if w.is_alive():
                w.terminate()
        for q in self.index_qs + [self.result_q]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown()
        except Exception:
            pass
