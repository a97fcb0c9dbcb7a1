"""F.grid_sample details checked against torch on every available device."""
import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch", reason="torch is the reference for grid_sample")


@pytest.mark.parametrize("device", list(ember.backends.available()))
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_grid_sample_zeros_padding_gives_positive_zero_outside(device, mode):
    # a negative image sampled wholly outside: torch skips those points (+0.0); a multiply by
    # the in-bounds mask used to give -0.0
    img = -np.arange(1.0, 17.0, dtype=np.float32).reshape(1, 1, 4, 4)
    grid = np.full((1, 2, 3, 2), 5.0, dtype=np.float32)
    want = torch.nn.functional.grid_sample(torch.tensor(img), torch.tensor(grid), mode=mode,
                                           padding_mode="zeros", align_corners=False)
    got = EF.grid_sample(ember.tensor(img, device=device), ember.tensor(grid, device=device),
                         mode=mode, padding_mode="zeros", align_corners=False)
    got, want = got.cpu().numpy(), want.numpy()
    np.testing.assert_array_equal(got, want)
    assert (np.signbit(got) == np.signbit(want)).all(), (got, want)
