"""The cpu backend pins glibc malloc's thresholds when it loads (see README), unless
EMBER_MALLOC_TUNING=0."""
import ctypes
import sys

import pytest

from ember.backends import cpu


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    monkeypatch.setattr(sys, "platform", "linux")
    return fake


def test_thresholds_pinned_on_linux(libc, monkeypatch):
    monkeypatch.delenv("EMBER_MALLOC_TUNING", raising=False)
    cpu._pin_malloc_thresholds()
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    assert libc.calls == [(m_mmap_threshold, 32 << 20), (m_trim_threshold, 64 << 20)]


def test_env_opt_out_leaves_malloc_alone(libc, monkeypatch):
    monkeypatch.setenv("EMBER_MALLOC_TUNING", "0")
    cpu._pin_malloc_thresholds()
    assert libc.calls == []
