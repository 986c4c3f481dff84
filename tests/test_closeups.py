"""Where the close-ups of chapter 06 go: the optic disc, the densest square."""

import numpy as np
import pytest

from retina_tutorial import closeups


def test_optic_disc_centre_finds_the_bright_spot_inside_the_fov():
    size = 200
    rows, cols = np.mgrid[:size, :size]
    fov = np.hypot(rows - 100, cols - 100) < 90
    glow = 0.6 * np.exp(-(np.hypot(rows - 80, cols - 130) ** 2) / (2 * 12**2))
    image = np.repeat((0.3 + glow)[..., None], 3, axis=2).astype(np.float32)
    image[~fov] = 0.0
    row, column = closeups.optic_disc_centre(image, fov)
    # Within a few pixels: the blurred map is rounded to 8 bits, so its top is flat.
    assert abs(row - 80) <= 5 and abs(column - 130) <= 5
    with pytest.raises(ValueError, match="smaller margin"):
        closeups.optic_disc_centre(image, fov, margin=95)
    with pytest.raises(ValueError, match="must match"):
        closeups.optic_disc_centre(image[:-1], fov)


def test_densest_square_counts_on_a_grid_and_can_look_away():
    mask = np.zeros((64, 64), bool)
    mask[8:24, 40:56] = True
    mask[40:56, 4:20] = True
    mask[24, 40:56] = True  # makes the first block the denser one
    assert closeups.densest_square(mask, 16) == (8, 40)
    # Away from the first block, the second one wins.
    assert closeups.densest_square(mask, 16, away_from=(16, 48), distance=20) == (40, 4)
    top, left = closeups.densest_square(mask, 12)
    assert top % 3 == 0 and left % 3 == 0  # on the grid of side // 4
    for side in (0, 65, 2.5, True):
        with pytest.raises(ValueError, match="densest_square"):
            closeups.densest_square(mask, side)
