"""Grad modes, thread-local as torch's: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each is a context manager and a decorator.
"""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    def __init__(self):
        self.enabled = True
        self.inference = False


state = _State()


def is_grad_enabled() -> bool:
    """Whether ops record the graph now (``ember.is_grad_enabled()``)."""
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _Mode:
    """Base of the grad-mode context managers; subclasses set ``_target``."""

    _target = True

    def __enter__(self):
        self._prev = (state.enabled, state.inference)
        self._apply()

    def _apply(self):
        state.enabled = self._target

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)
        return wrapper

    def _args(self):
        return ()

    def clone(self):
        return self.__class__(*self._args())


class no_grad(_Mode):
    """Ops inside do not record the graph.

    >>> with ember.no_grad():
    ...     y = x * 2          # y.requires_grad is False
    """

    _target = False

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if callable(orig_func):  # used as @no_grad without parentheses
            return self(orig_func)
        return self

    def __enter__(self):
        # (inline: `with no_grad()` is common in loops)
        self._prev = (state.enabled, state.inference)
        state.enabled = self._target


class enable_grad(no_grad):
    """Re-enable recording inside a no_grad block."""

    _target = True


class set_grad_enabled(_Mode):
    """``set_grad_enabled(False)`` acts as no_grad; also works as a plain function call."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = (state.enabled, state.inference)
        state.enabled = self._mode  # torch applies it on construction, too

    def __enter__(self):
        state.enabled = self._mode  # _prev was taken before construction applied the mode

    def __call__(self, fn):
        state.enabled, state.inference = self._prev  # used as a decorator: undo construction
        return super().__call__(fn)

    def _args(self):
        return (self._mode,)


class inference_mode(_Mode):
    """Like no_grad; tensors made inside are inference tensors (never recorded later)."""

    def __init__(self, mode: bool = True):
        self._mode = bool(mode)

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):
            self.__init__(True)
            return self(mode)
        return self

    def _apply(self):
        if self._mode:
            state.enabled = False
            state.inference = True

    def _args(self):
        return (self._mode,)
