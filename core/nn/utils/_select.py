"""Which ``k`` entries ``torch.topk`` picks when values tie.

torch's CPU ``topk`` selects with libstdc++'s ``std::partial_sort`` (when ``64 * k <= n``) or
``std::nth_element`` on (value, index) pairs compared by value alone, so among equal values the
winners depend on those algorithms' swaps. Pruning masks are built from ``topk`` indices; to give
torch's masks on ties we replay the same selection here. Values are plain floats: the selection
only decides a mask, it is never differentiated.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["topk_indices"]


def _less(a: float, b: float) -> bool:
    # NOTE: torch ranks NaN above every number (numpy's convention)
    return (not math.isnan(a) and math.isnan(b)) or a < b


def _greater(a: float, b: float) -> bool:
    return (math.isnan(a) and not math.isnan(b)) or a > b


class _Selector:
    """The libstdc++ selection algorithms on a list ``v`` of (value, index) pairs."""

    def __init__(self, v: list, comp) -> None:
        self.v = v
        self.comp = comp

    def _c(self, i: int, j: int) -> bool:
        return self.comp(self.v[i][0], self.v[j][0])

    def _swap(self, i: int, j: int) -> None:
        v = self.v
        v[i], v[j] = v[j], v[i]

    # ---------------------------------------------------------------- heaps
    def _push_heap(self, first: int, hole: int, top: int, value) -> None:
        v, comp = self.v, self.comp
        parent = (hole - 1) // 2
        while hole > top and comp(v[first + parent][0], value[0]):
            v[first + hole] = v[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        v[first + hole] = value

    def _adjust_heap(self, first: int, hole: int, length: int, value) -> None:
        v = self.v
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if self._c(first + child, first + child - 1):
                child -= 1
            v[first + hole] = v[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            v[first + hole] = v[first + child - 1]
            hole = child - 1
        self._push_heap(first, hole, top, value)

    def _make_heap(self, first: int, last: int) -> None:
        length = last - first
        if length < 2:
            return
        parent = (length - 2) // 2
        while True:
            self._adjust_heap(first, parent, length, self.v[first + parent])
            if parent == 0:
                return
            parent -= 1

    def _pop_heap(self, first: int, last: int, result: int) -> None:
        v = self.v
        value = v[result]
        v[result] = v[first]
        self._adjust_heap(first, 0, last - first, value)

    def heap_select(self, first: int, middle: int, last: int) -> None:
        self._make_heap(first, middle)
        for i in range(middle, last):
            if self._c(i, first):
                self._pop_heap(first, middle, i)

    # ---------------------------------------------------------------- introselect
    def _move_median_to_first(self, result: int, a: int, b: int, c: int) -> None:
        c_ = self._c
        if c_(a, b):
            if c_(b, c):
                self._swap(result, b)
            elif c_(a, c):
                self._swap(result, c)
            else:
                self._swap(result, a)
        elif c_(a, c):
            self._swap(result, a)
        elif c_(b, c):
            self._swap(result, c)
        else:
            self._swap(result, b)

    def _unguarded_partition(self, first: int, last: int, pivot: int) -> int:
        while True:
            while self._c(first, pivot):
                first += 1
            last -= 1
            while self._c(pivot, last):
                last -= 1
            if not first < last:
                return first
            self._swap(first, last)
            first += 1

    def _insertion_sort(self, first: int, last: int) -> None:
        v, comp = self.v, self.comp
        for i in range(first + 1, last):
            value = v[i]
            if comp(value[0], v[first][0]):
                v[first + 1:i + 1] = v[first:i]
                v[first] = value
            else:
                j = i
                while comp(value[0], v[j - 1][0]):
                    v[j] = v[j - 1]
                    j -= 1
                v[j] = value

    def nth_element(self, nth: int) -> None:
        first, last = 0, len(self.v)
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self.heap_select(first, nth + 1, last)
                self._swap(first, nth)
                return
            depth -= 1
            mid = first + (last - first) // 2
            self._move_median_to_first(first, first + 1, mid, last - 1)
            cut = self._unguarded_partition(first + 1, last, first)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion_sort(first, last)


def _ambiguous(values: np.ndarray, k: int, largest: bool) -> bool:
    """Whether equal values straddle the k-th place (only then does the algorithm matter)."""
    if np.isnan(values).any():
        return True
    s = -values if largest else values
    kth = np.partition(s, k - 1)[k - 1]
    return int((s < kth).sum()) + int((s == kth).sum()) != k


def topk_indices(values: np.ndarray, k: int, largest: bool = True) -> np.ndarray:
    """The set of indices ``torch.topk(values, k, largest=largest).indices`` holds (1-D CPU
    input), as a sorted int64 array; ties are broken as torch breaks them."""
    values = np.asarray(values).reshape(-1)
    n = values.size
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k >= n:
        return np.arange(n, dtype=np.int64)
    if not _ambiguous(values, k, largest):
        order = np.argpartition(-values if largest else values, k - 1)[:k]
        return np.sort(order).astype(np.int64)
    sel = _Selector([(float(x), i) for i, x in enumerate(values.tolist())],
                    _greater if largest else _less)
    if k * 64 <= n:
        sel.heap_select(0, k, n)
    else:
        sel.nth_element(k - 1)
    return np.sort(np.array([i for _, i in sel.v[:k]], dtype=np.int64))
