"""Anomaly detection: name the op whose backward produced NaN (torch.autograd.detect_anomaly)."""
from __future__ import annotations

import threading

class _State(threading.local):
    def __init__(self):
        self.on = False  # (set per thread: a missing attribute would cost an exception to read)
        # torch's two flags, as is_anomaly_enabled / is_anomaly_check_nan_enabled report them;
        # ``on`` (mode and check_nan) is what the engine reads
        self.mode = False
        self.check_nan = True


_state = _State()


def enabled() -> bool:
    return _state.on


class detect_anomaly:
    """Context manager / decorator: backward raises naming the node whose gradient is NaN."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (_state.mode, _state.check_nan)
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        set_anomaly_enabled(*self._prev)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly(self.check_nan):
                return fn(*a, **k)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan)
        self._prev = (_state.mode, _state.check_nan)
        set_anomaly_enabled(mode, check_nan)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (``detect_anomaly`` / ``set_anomaly_enabled``)."""
    return _state.mode


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward results for NaN (True unless turned off)."""
    return _state.check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off for this thread, as ``torch.set_anomaly_enabled``."""
    _state.mode = bool(enabled)
    _state.check_nan = bool(check_nan)
    _state.on = _state.mode and _state.check_nan


def check(node, grads):
    from ..ops.elementwise import isnan
    from ..ops.reduction import any as _any
    for i, g in enumerate(grads):
        if g is not None and g._dtype.is_floating_point and bool(_any(isnan(g))):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")
