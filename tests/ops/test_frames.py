"""rosmo.ops.frames: device-side frame stacks (hand-computed)."""

import numpy as np
import pytest

from rosmo.ops.frames import stack_frames


def test_stack_frames_is_a_sliding_window_of_frames():
    frames = np.arange(1, 7, dtype=np.uint8)[None, :, None, None] * np.ones((2, 6, 2, 3), np.uint8)  # value = step + 1
    out = np.asarray(stack_frames(frames, 4))  # L = 3
    assert out.shape == (2, 3, 2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0, 0], [[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 6]])
    with pytest.raises(ValueError, match="cannot hold a stack of 4"):
        stack_frames(frames[:, :3], 4)
