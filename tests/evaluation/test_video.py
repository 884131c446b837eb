"""Video helpers: observation frames and output paths."""

import numpy as np
import pytest

from rosmo.evaluation.video import observation_frame, resolve_path


def test_video_helpers():
    stack = np.zeros((84, 84, 4), np.uint8)
    stack[..., -1] = 7
    frame = observation_frame(stack)
    assert frame.shape == (168, 168) and (frame == 7).all()  # newest frame, enlarged x2
    board = observation_frame(np.eye(10, 5, dtype=np.float32))  # catch: 10x5 -> x34 (min side >= 168)
    assert board.shape == (340, 170) and board.max() == 255 and board.min() == 0
    with pytest.raises(ValueError, match="--video out.avi"):
        resolve_path("out.avi")
