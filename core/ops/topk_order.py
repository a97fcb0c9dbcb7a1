"""The order in which torch's CPU ``topk`` returns its entries, replayed.

torch's CPU ``topk`` fills a row of (value, index) pairs and, comparing values alone, runs
libstdc++'s ``std::partial_sort`` over the first ``k`` places when ``64 * k <= n``; otherwise
``std::nth_element`` at place ``k - 1`` followed (``sorted=True``) by ``std::sort`` of the first
``k - 1`` places. Neither algorithm is stable, so which of several equal values win, and in
which order they come out (and, for ``sorted=False``, the whole order), is decided by those
algorithms' swaps. This module replays them on plain Python keys: ``rank`` below is a list of
ints where equal values share a key and a larger key sorts first. It is host code on small
integer lists, only used for the rows where the answer depends on it.
"""
from __future__ import annotations

__all__ = ["topk_order"]

_THRESHOLD = 16  # libstdc++'s _S_threshold: introsort hands ranges this short to insertion sort


class _Replay:
    """libstdc++'s selection and sorting algorithms on ``v``, a list of (key, index) pairs,
    ordered by ``key`` descending (``comp(a, b)`` is ``a.key > b.key``)."""

    __slots__ = ("v",)

    def __init__(self, v: list) -> None:
        self.v = v

    def _c(self, i: int, j: int) -> bool:
        return self.v[i][0] > self.v[j][0]

    def _swap(self, i: int, j: int) -> None:
        v = self.v
        v[i], v[j] = v[j], v[i]

    # ---------------------------------------------------------------- heaps
    def _push_heap(self, first: int, hole: int, top: int, value) -> None:
        v = self.v
        parent = (hole - 1) // 2
        while hole > top and v[first + parent][0] > value[0]:
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

    def _heap_select(self, first: int, middle: int, last: int) -> None:
        self._make_heap(first, middle)
        for i in range(middle, last):
            if self._c(i, first):
                self._pop_heap(first, middle, i)

    def _sort_heap(self, first: int, last: int) -> None:
        while last - first > 1:
            last -= 1
            self._pop_heap(first, last, last)

    def partial_sort(self, first: int, middle: int, last: int) -> None:
        self._heap_select(first, middle, last)
        self._sort_heap(first, middle)

    # ---------------------------------------------------------------- quicksort pieces
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

    def _partition_pivot(self, first: int, last: int) -> int:
        mid = first + (last - first) // 2
        self._move_median_to_first(first, first + 1, mid, last - 1)
        return self._unguarded_partition(first + 1, last, first)

    def _linear_insert(self, i: int) -> None:
        v = self.v
        value = v[i]
        j = i
        while value[0] > v[j - 1][0]:
            v[j] = v[j - 1]
            j -= 1
        v[j] = value

    def _insertion_sort(self, first: int, last: int) -> None:
        v = self.v
        for i in range(first + 1, last):
            if self._c(i, first):
                value = v[i]
                v[first + 1:i + 1] = v[first:i]
                v[first] = value
            else:
                self._linear_insert(i)

    def nth_element(self, first: int, nth: int, last: int) -> None:
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self._heap_select(first, nth + 1, last)
                self._swap(first, nth)
                return
            depth -= 1
            cut = self._partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion_sort(first, last)

    def _introsort_loop(self, first: int, last: int, depth: int) -> None:
        while last - first > _THRESHOLD:
            if depth == 0:
                self.partial_sort(first, last, last)
                return
            depth -= 1
            cut = self._partition_pivot(first, last)
            self._introsort_loop(cut, last, depth)
            last = cut

    def sort(self, first: int, last: int) -> None:
        if last - first < 2:
            return
        self._introsort_loop(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > _THRESHOLD:
            self._insertion_sort(first, first + _THRESHOLD)
            for i in range(first + _THRESHOLD, last):
                self._linear_insert(i)
        else:
            self._insertion_sort(first, last)


def topk_order(rank: list, k: int, sorted: bool = True) -> list:
    """The source indices of the ``k`` entries torch's CPU ``topk`` returns for one row, in its
    output order. ``rank[j]`` is entry ``j``'s key: equal values share a key, and the entry
    torch ranks first (the largest for ``largest=True``, NaN first) has the largest key."""
    n = len(rank)
    if k <= 0:
        return []
    r = _Replay([(key, j) for j, key in enumerate(rank)])
    if k * 64 <= n:
        r.partial_sort(0, k, n)
    else:
        r.nth_element(0, k - 1, n)
        if sorted:
            r.sort(0, k - 1)
    return [j for _, j in r.v[:k]]
