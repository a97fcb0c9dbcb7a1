"""Sequence helpers: pad_sequence, PackedSequence, pack/pad helpers (as torch.nn.utils.rnn)."""
from __future__ import annotations

from collections import namedtuple

import ember

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Variable-length sequences packed time-step-major: ``data`` holds, for t = 0, 1, ..., the
    rows of the (length-sorted) sequences still running at step t; ``batch_sizes[t]`` counts them.

    >>> import ember
    >>> from ember.nn.utils.rnn import pack_padded_sequence
    >>> p = pack_padded_sequence(ember.tensor([[1, 2, 3], [4, 5, 0]]), [3, 2], batch_first=True)
    >>> p.data.tolist(), p.batch_sizes.tolist()
    ([1, 4, 2, 5, 3], [2, 2, 1])
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        idx = [None if t is None else t.to(data.device)
               for t in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *idx)

    @property
    def is_cuda(self):
        return self.data.device.type == "cuda"


def _invert_permutation(permutation):
    order = permutation.tolist()
    inverse = [0] * len(order)
    for i, j in enumerate(order):
        inverse[j] = i
    return ember.tensor(inverse, dtype=ember.int64, device=permutation.device)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right"):
    """Stack variable-length (L_i, *) tensors into (L_max, B, *) (or (B, L_max, *)).

    >>> import ember
    >>> ember.nn.utils.rnn.pad_sequence([ember.ones(2), ember.ones(1)], batch_first=True).tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        if extra:
            fill = ember.full((extra,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                              device=s.device)
            s = ember.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return ember.stack(padded, 0 if batch_first else 1)


def _lengths_list(lengths) -> list[int]:
    if isinstance(lengths, ember.Tensor):
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def _pack_time_major(x, sorted_lengths, sorted_indices, device):
    """x: (T, B, *) already in sorted order -> PackedSequence."""
    steps = sorted_lengths[0] if sorted_lengths else 0
    batch_sizes = [sum(1 for n in sorted_lengths if n > t) for t in range(steps)]
    data = ember.cat([x[t, :batch_sizes[t]] for t in range(steps)], 0)
    return PackedSequence(data, ember.tensor(batch_sizes, dtype=ember.int64), sorted_indices,
                          None)


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) (or (B, T, *)) batch whose sequence b has ``lengths[b]`` steps."""
    lengths = _lengths_list(lengths)
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    x = input.transpose(0, 1) if batch_first else input
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
        sorted_lengths = lengths
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = ember.tensor(order, dtype=ember.int64, device=input.device)
        x = x.index_select(1, sorted_indices)
        sorted_lengths = [lengths[i] for i in order]
    if sorted_lengths[0] > x.shape[0]:
        raise RuntimeError(f"Expected sequence length to be at most {x.shape[0]}, but got "
                           f"{sorted_lengths[0]}")
    packed = _pack_time_major(x, sorted_lengths, sorted_indices, input.device)
    return packed


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length=None):
    """Inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), int64 lengths)."""
    data = sequence.data
    batch_sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    steps, batch = len(batch_sizes), batch_sizes[0]
    max_len = steps if total_length is None else total_length
    if max_len < steps:
        raise ValueError("Expected total_length to be at least the length of the longest "
                         f"sequence in input, but got total_length={total_length} and max "
                         f"sequence length being {steps}")
    tail = tuple(data.shape[1:])
    rows, offset = [], 0
    for t in range(max_len):
        n = batch_sizes[t] if t < steps else 0
        parts = [data[offset:offset + n]] if n else []
        if n < batch:
            parts.append(ember.full((batch - n,) + tail, padding_value, dtype=data.dtype,
                                    device=data.device))
        rows.append(ember.cat(parts, 0) if len(parts) > 1 else parts[0])
        offset += n
    padded = ember.stack(rows, 0)
    lengths = [sum(1 for b in batch_sizes if b > i) for i in range(batch)]
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = [lengths[j] for j in sequence.unsorted_indices.tolist()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, ember.tensor(lengths, dtype=ember.int64)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length (L_i, *) tensors."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:n] for seq, n in zip(padded_sequences, _lengths_list(lengths))]


def unpack_sequence(packed_sequences: PackedSequence):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
