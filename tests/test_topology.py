"""Centrelines, widths and pieces of vessel maps (retina_tutorial.topology)."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import skeletonize

from retina_tutorial import topology


def _bar(width, *, length=30, shape=(20, 40)):
    mask = np.zeros(shape, bool)
    top = shape[0] // 2 - width // 2
    mask[top : top + width, 5 : 5 + length] = True
    return mask


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7])
def test_skeleton_of_a_bar_is_one_pixel_line(width):
    centre = topology.skeleton(_bar(width))
    columns = centre.sum(axis=0)
    assert columns.max() == 1  # one pixel across
    # it runs along the bar, losing at most the rounded ends
    assert columns[5:35].sum() >= 30 - width - 1
    assert ndimage.label(centre, structure=np.ones((3, 3)))[1] == 1


def test_skeleton_keeps_pieces_and_stays_inside():
    blobs = _blobs(3)
    centre = topology.skeleton(blobs)
    assert centre.shape == blobs.shape
    assert not (centre & ~blobs).any()
    for mask, line in zip(blobs, centre):
        structure = np.ones((3, 3))
        assert ndimage.label(line, structure)[1] == ndimage.label(mask, structure)[1]


def _blobs(seed, shape=(3, 60, 60)):
    rng = np.random.default_rng(seed)
    return ndimage.binary_dilation(rng.random(shape) > 0.985, iterations=2)


def test_skeleton_is_one_pixel_wide():
    # without holes: a ring round a one-pixel hole may keep a 2 x 2 square
    masks = np.stack([ndimage.binary_fill_holes(mask) for mask in _blobs(4, (4, 120, 120))])
    centre = topology.skeleton(masks)
    # no 2 x 2 square is all centreline: a thicker line would hold one
    squares = centre[:, :-1, :-1] & centre[:, 1:, :-1] & centre[:, :-1, 1:] & centre[:, 1:, 1:]
    assert centre.any() and not squares.any()


def test_skeleton_thins_each_image_of_a_stack_as_scikit_image_thins_it_alone():
    blobs = _blobs(5)
    # the same image twice: thinned as one 3-D volume the two would merge
    blobs[1] = blobs[0]
    blobs[2, 20:] = blobs[2, :, 25:] = False  # vessels in one corner only
    centre = topology.skeleton(blobs)
    for mask, line in zip(blobs, centre):
        assert np.array_equal(line, skeletonize(mask))
    assert np.array_equal(topology.skeleton(blobs[2]), centre[2])


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6])
def test_vessel_widths_measure_bars(width):
    mask = _bar(width)
    widths = topology.vessel_widths(mask)
    assert (widths[~mask] == 0).all()
    middle = widths[:, 15:25][mask[:, 15:25]]  # away from the ends
    # 2d - 1 from the distance d to the edge: exact for odd widths, one less for even
    assert set(middle.tolist()) == {width if width % 2 else width - 1}


def test_thin_vessels_are_one_or_two_pixels_wide_and_wide_edges_are_not():
    mask = _bar(1, shape=(40, 40)) | np.roll(_bar(2, shape=(40, 40)), 8, axis=0)
    wide = np.roll(_bar(7, shape=(40, 40)), -10, axis=0)
    thin = topology.thin_vessels(mask | wide)
    assert thin[mask].all()
    assert not thin[wide].any()  # its edge rows are 1 pixel from background, yet wide


def test_thin_vessels_accepts_stacks():
    stack = np.stack([_bar(1), _bar(5)])
    thin = topology.thin_vessels(stack)
    assert thin[0].sum() == stack[0].sum() and thin[1].sum() == 0
    with pytest.raises(ValueError, match="thin_vessels"):
        topology.thin_vessels(np.zeros((2, 2, 2, 2)))


def test_components_count_pieces_inside_the_fov():
    mask = np.zeros((30, 30), bool)
    mask[2:20, 5] = True  # 18 pixels
    mask[25, 25] = True  # a speck
    mask[10, 20:23] = True  # 3 pixels
    assert topology.components(mask) == (3, 1)
    fov = np.ones_like(mask)
    fov[20:, 20:] = False
    assert topology.components(mask, fov) == (2, 1)
    diagonal = np.eye(12, dtype=bool)  # 8-connected: one piece
    assert topology.components(diagonal) == (1, 1)
    # one field of view for a stack of maps
    assert topology.components(np.stack([mask, mask]), fov) == (4, 2)


def test_tree_metrics_of_a_perfect_map():
    truth = _bar(3) | np.roll(_bar(1), 6, axis=0)
    fov = np.ones_like(truth)
    scores = topology.tree_metrics(truth, truth, fov)
    assert scores["centreline_recall"] == scores["centreline_precision"] == 1.0
    assert scores["cldice"] == 1.0
    assert scores["components"] == 2


def test_tree_metrics_count_missed_vessels_by_length_not_area():
    wide, thin = _bar(5, shape=(30, 40)), np.roll(_bar(1, shape=(30, 40)), 10, axis=0)
    fov = np.ones_like(wide)
    scores = topology.tree_metrics(wide, wide | thin, fov)  # the thin vessel missed
    # pixel recall would be 150 / 180; by length it is about one half
    assert 0.4 < scores["centreline_recall"] < 0.6
    assert scores["centreline_precision"] == 1.0
    spurious = wide | np.roll(_bar(1, shape=(30, 40)), -10, axis=0)
    extra = topology.tree_metrics(spurious, wide, fov)
    assert extra["centreline_recall"] == 1.0 and 0.4 < extra["centreline_precision"] < 0.6


def test_tree_metrics_pool_stacks_and_report_pieces_per_image():
    truth = np.stack([_bar(3), _bar(3)])
    broken = truth.copy()
    broken[1, :, 20] = False
    fov = np.ones_like(truth)
    scores = topology.tree_metrics(broken, truth, fov)
    assert scores["components"] == 1.5
    counts = topology.tree_counts(broken, truth, fov)
    assert list(counts) == list(topology.TREE_COUNT_NAMES)
    assert counts["truth_centreline_found"] == counts["truth_centreline"] - 1
    # the counts of a stack are those of its images, summed
    single = [topology.tree_counts(*image) for image in zip(broken, truth, fov)]
    assert counts == {name: sum(c[name] for c in single) for name in counts}


def test_tree_metrics_of_empty_maps_are_undefined_not_wrong():
    empty = np.zeros((10, 10), bool)
    scores = topology.tree_metrics(empty, _bar(1, shape=(10, 40))[:, :10], np.ones_like(empty))
    assert scores["centreline_recall"] == 0.0
    assert np.isnan(scores["centreline_precision"]) and np.isnan(scores["cldice"])
    with pytest.raises(ValueError, match="same shape"):
        topology.tree_counts(empty, np.zeros((5, 5), bool), empty)
