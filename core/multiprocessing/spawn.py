"""``spawn``/``start_processes``: run ``fn(i, *args)`` in ``nprocs`` processes and report the
first failure with the child's traceback, as torch.multiprocessing does."""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
import warnings

__all__ = ["ProcessContext", "SpawnContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "spawn", "start_processes"]


class ProcessException(Exception):
    """A process of a ``ProcessContext`` failed: ``error_index`` is its index, ``error_pid``
    its pid."""

    def __init__(self, msg: str, error_index: int, error_pid: int):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A process raised an exception; the message carries its traceback."""


class ProcessExitedException(ProcessException):
    """A process exited with a non-zero exit code, or was killed by a signal."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i, args, error_file):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # (the parent is tearing the processes down)
    except Exception:
        import traceback
        with open(error_file, "wb") as f:
            pickle.dump(traceback.format_exc(), f)
        sys.exit(1)


class ProcessContext:
    """The processes that ``start_processes`` started; ``join`` waits for them and raises on
    the first failure (after terminating the others)."""

    def __init__(self, processes, error_files, error_dir=None):
        self.processes = processes
        self.error_files = error_files
        self._error_dir = error_dir
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.processes]

    def join(self, timeout: float | None = None, grace_period: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the processes; True when all have finished
        successfully, False when some still run. Raises ``ProcessRaisedException`` or
        ``ProcessExitedException`` for the first process that failed."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                failed = index
                break
        if failed is None:
            done = not self.sentinels
            if done:
                self._cleanup()
            return done
        self._terminate_all(grace_period)
        process = self.processes[failed]
        error_file = self.error_files[failed]
        if not os.path.exists(error_file):
            code = process.exitcode
            self._cleanup()
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, process.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, process.pid, code)
        with open(error_file, "rb") as f:
            original_trace = pickle.load(f)
        self._cleanup()
        msg = f"\n\n-- Process {failed} terminated with the following error:\n{original_trace}"
        raise ProcessRaisedException(msg, failed, process.pid)

    def _terminate_all(self, grace_period):
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + (grace_period if grace_period is not None else 30.0)
        for p in self.processes:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join()
        self.sentinels.clear()

    def _cleanup(self):
        if self._error_dir is not None:
            shutil.rmtree(self._error_dir, ignore_errors=True)
            self._error_dir = None


class SpawnContext(ProcessContext):
    """The ProcessContext that ``spawn(join=False)`` returns (torch's older name)."""


def start_processes(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn"):
    """Start ``nprocs`` processes with ``start_method`` ('spawn', 'fork' or 'forkserver'), each
    calling ``fn(i, *args)``; wait for them when ``join``, else return their ProcessContext.

    >>> ember.multiprocessing.start_processes(print, args=("hi",), nprocs=1,
    ...                                       start_method="fork")  # doctest: +SKIP
    0 hi
    """
    ctx = multiprocessing.get_context(start_method)
    error_dir = tempfile.mkdtemp(prefix="ember_spawn_")
    error_files, processes = [], []
    for i in range(nprocs):
        error_file = os.path.join(error_dir, f"error_{i}")
        process = ctx.Process(target=_wrap, args=(fn, i, args, error_file), daemon=daemon)
        process.start()
        error_files.append(error_file)
        processes.append(process)
    context = (SpawnContext if start_method == "spawn" else ProcessContext)(
        processes, error_files, error_dir)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Run ``fn(i, *args)`` for ``i`` in ``range(nprocs)``, each in a new process started with
    the 'spawn' method (``fn`` must be importable: defined at a module's top level). With
    ``join`` (the default) returns when all finished and raises ``ProcessRaisedException`` (with
    the child's traceback) or ``ProcessExitedException`` if one failed; otherwise returns the
    ``ProcessContext``.

    >>> def work(rank, n):
    ...     print(rank, n)
    >>> ember.multiprocessing.spawn(work, args=(10,), nprocs=2)  # doctest: +SKIP
    """
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t "
                      "torch.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method)
