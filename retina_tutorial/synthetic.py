"""Synthetic DRIVE-like fundus images, so everything runs without DRIVE.

Explained in ``book/01_data_preparation.ipynb``.

Each picture is drawn from a seed: a circular field of view (FOV) on black,
orange-red fundus colour under uneven illumination, a darker macula, a bright
yellowish optic disc on one side, and vessel trees growing out of the disc.
Vessels curve smoothly, branch recursively and taper from about 9 pixels to
1 pixel; they are darkest in the green channel, as in real fundus photographs.
About 12% of the FOV is vessel, as in DRIVE. The "1st observer" mask is the
vessel tree as drawn; the "2nd observer" mask is drawn again from the same tree
with the small disagreements two people make (thin ends traced shorter or
longer, a few faint branches missed, widths off by one pixel, strokes shifted
by a fraction of a pixel), so the two agree with an F1 of about 0.78, as
DRIVE's observers do.

The synthetic set has DRIVE's splits, ids, shapes and dtypes, so code written
for one runs on the other. It is a stand-in for plumbing and teaching, not for
measuring: a model's scores on it say nothing about DRIVE.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from retina_tutorial import checks, drive, grid
from retina_tutorial.datasets import Dataset, Split

#: Bumped whenever the drawing changes, so a cache of the synthetic set made by
#: an older version can be recognised as stale.
VERSION = 1

# Colours (R, G, B) in [0, 1].
FUNDUS_COLOUR = (0.92, 0.52, 0.33)
DISC_COLOUR = (1.0, 0.86, 0.45)
CUP_COLOUR = (1.0, 0.93, 0.62)
#: How much a vessel of full contrast darkens each channel: most in green.
VESSEL_ABSORPTION = (0.30, 0.50, 0.38)
BACKGROUND_LEVEL = 0.03
NOISE = 0.008

# Geometry at DRIVE's size (565 pixels across); other sizes scale it.
REFERENCE_SIDE = 565.0
FOV_RADIUS = 268.0
STEP = 2.0
CURL_LENGTH = 20.0
BEND_LENGTH = 250.0
SUPERSAMPLE = 2
LIGHT_STEP = 4
#: Side of the occupancy cells that keep thin vessels from crossing.
CELL = 7.0

# Major trunks leaving the disc, for a disc on the left of the picture.
# (angle in degrees, image y pointing down; width in pixels; curvature bias in
# 1/pixel, positive turns clockwise, fading over BEND_LENGTH; length in pixels;
# contrast). The temporal arcades bend round the macula, then run straight on.
TRUNKS = (
    (-75.0, 8.5, 1 / 190, 640.0, 1.00),  # superior temporal vein
    (-62.0, 6.5, 1 / 210, 600.0, 0.80),  # superior temporal artery
    (75.0, 8.5, -1 / 190, 640.0, 1.00),  # inferior temporal vein
    (62.0, 6.5, -1 / 210, 600.0, 0.80),  # inferior temporal artery
    (-125.0, 4.5, 1 / 250, 320.0, 0.90),  # superior nasal
    (125.0, 4.5, -1 / 250, 320.0, 0.90),  # inferior nasal
    (180.0, 3.0, 0.0, 160.0, 0.85),  # nasal
    (-10.0, 2.5, 0.0, 220.0, 0.80),  # papillomacular
    (10.0, 2.5, 0.0, 220.0, 0.80),
)


def make_fundus(seed, shape=drive.IMAGE_SHAPE):
    """Draw one synthetic fundus photograph with two vessel annotations.

    Explained in ``book/01_data_preparation.ipynb``.

    Parameters
    ----------
    seed : int or sequence of int
        Non-negative seed (or seeds, e.g. ``(set_seed, image_number)``) for
        :func:`numpy.random.default_rng`; the same seed gives the same arrays.
    shape : tuple of int
        ``(height, width)`` in pixels, at least 64 each. DRIVE's is (584, 565);
        the drawing scales with the shorter side.

    Returns
    -------
    image : (H, W, 3) float32 ndarray
        RGB in [0, 1], multiples of 1/255 like an 8-bit photograph.
    vessels : (H, W) bool ndarray
        1st observer: True on vessels, only inside the FOV.
    vessels_2nd : (H, W) bool ndarray
        2nd observer: the same tree drawn slightly differently.
    fov : (H, W) bool ndarray
        Field of view: a disc about 0.95 of the width across.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer (or sequence of them), or
        ``shape`` is not two integers of at least 64.

    Examples
    --------
    >>> image, vessels, vessels_2nd, fov = make_fundus(0)
    >>> image.shape, image.dtype, vessels.dtype
    ((584, 565, 3), dtype('float32'), dtype('bool'))
    """
    rng = np.random.default_rng(_check_seed(seed))
    height, width = _check_shape(shape)
    scale = min(height, width) / REFERENCE_SIDE

    radius = FOV_RADIUS * scale * rng.uniform(0.985, 1.01)
    centre = np.array(
        [
            width / 2 - 4 * scale + rng.normal(0, 2 * scale),
            height / 2 + 6 * scale + rng.normal(0, 2 * scale),
        ]
    )
    # Drawn with the disc on the left; half of the eyes are mirrored at the end.
    disc = centre + np.array([-rng.uniform(0.68, 0.76) * radius, rng.uniform(-0.18, 0.06) * radius])
    fovea = disc + np.array([rng.uniform(0.70, 0.78) * radius, rng.uniform(0.06, 0.14) * radius])
    geometry = _Geometry(centre, radius, disc, fovea, 0.09 * radius, scale, (height, width))

    vessels = _grow_tree(rng, disc, geometry)
    first, second = _draw_masks(vessels, (height, width), scale)
    darkness = _draw_darkness(vessels, (height, width))

    image = _compose(rng, darkness, centre, radius, disc, fovea, scale)
    fov = _disc_mask((height, width), centre, radius)
    first &= fov
    second &= fov

    if rng.random() < 0.5:
        image, first, second, fov = (a[:, ::-1].copy() for a in (image, first, second, fov))
    return image, first, second, fov


def make_dataset(seed: int = 0, reason: str = "DRIVE not configured") -> Dataset:
    """The synthetic stand-in for DRIVE: 17 train, 3 validation, 20 test images.

    Explained in ``book/01_data_preparation.ipynb``.

    Ids, split sizes, shapes (584 x 565) and dtypes are DRIVE's, as given by
    :func:`retina_tutorial.drive.load_drive`; only the test split carries a
    2nd annotation. Image ``id`` is drawn with seed ``(seed, int(id))``, so a
    set is reproducible and different seeds give different pictures.

    Parameters
    ----------
    seed : int
        Non-negative seed of the set.
    reason : str
        Why the synthetic set is used, for its description (the line the
        notebooks and the CLI print): ``"DRIVE not configured"`` by default.

    Returns
    -------
    Dataset
        ``source="synthetic"``.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    seed = checks.integer(seed, "the synthetic set's seed", minimum=0)
    train_ids = tuple(i for i in drive.TRAINING_IDS if i not in drive.VALIDATION_IDS)
    return Dataset(
        train=_make_split(seed, train_ids, second=False),
        validation=_make_split(seed, drive.VALIDATION_IDS, second=False),
        test=_make_split(seed, drive.TEST_IDS, second=True),
        source="synthetic",
        description=f"synthetic fundus set (seed {seed}; {reason})",
    )


def _make_split(seed, ids, *, second) -> Split:
    drawn = [make_fundus((int(seed), int(image_id))) for image_id in ids]
    return Split(
        images=np.stack([d[0] for d in drawn]),
        vessels=np.stack([d[1] for d in drawn]),
        fov=np.stack([d[3] for d in drawn]),
        ids=tuple(ids),
        vessels_2nd=np.stack([d[2] for d in drawn]) if second else None,
    )


def _disc_mask(shape, centre, radius):
    dx = np.arange(shape[1]) - centre[0]
    dy = np.arange(shape[0]) - centre[1]
    return dx[None, :] ** 2 + dy[:, None] ** 2 <= radius**2


def _check_seed(seed):
    values = seed if isinstance(seed, (tuple, list)) else (seed,)
    if not values:
        raise ValueError("seed=(): give a non-negative integer or a sequence of them.")
    return [checks.integer(value, "seed", minimum=0) for value in values]


def _check_shape(shape):
    try:
        height, width = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape={shape!r}: give (height, width) as two integers.") from None
    if min(height, width) < 64:
        raise ValueError(f"shape={shape!r}: both sides must be at least 64 pixels.")
    return height, width


class _Geometry:
    """Where vessels may go: inside the FOV, off the avascular fovea, and
    (for thin vessels) not into the cells another vessel already holds."""

    def __init__(self, centre, radius, disc, fovea, fovea_radius, scale, shape):
        self.centre, self.radius, self.disc = centre, radius, disc
        self.fovea, self.fovea_radius = fovea, fovea_radius
        self.scale = scale
        self.cell = CELL * scale
        self.owner = np.zeros(
            (int(shape[0] / self.cell) + 2, int(shape[1] / self.cell) + 2), np.int32
        )

    def _cells(self, points):
        cells = (points * (1 / self.cell) + 1).astype(int)
        rows = np.minimum(np.maximum(cells[:, 1], 0), self.owner.shape[0] - 1)
        columns = np.minimum(np.maximum(cells[:, 0], 0), self.owner.shape[1] - 1)
        return rows, columns

    def allowed_length(self, points, owner, parent, crossing) -> int:
        """How many leading points stay where this vessel may go."""
        ok = np.hypot(*(points - self.centre).T) < self.radius - 1.0
        ok &= np.hypot(*(points - self.fovea).T) > self.fovea_radius
        if not crossing:
            # Thin vessels stop short of others instead of crossing them; the
            # first few points, still inside the parent, are exempt.
            held = self.owner[self._cells(points)]
            free = (held == 0) | (held == owner) | (held == parent)
            ok[int(12 / STEP) :] &= free[int(12 / STEP) :]
        bad = np.flatnonzero(~ok)
        return len(points) if bad.size == 0 else int(bad[0])

    def claim(self, points, angles, widths, owner):
        """Mark the cells a vessel covers, its full width included."""
        normal = np.stack([-np.sin(angles), np.cos(angles)], axis=1)
        reach = (widths / 2 + 1.5 * self.scale)[:, None] * normal
        for offset in (0.0, 1.0, -1.0):
            self.owner[self._cells(points + offset * reach)] = owner


class _Vessel:
    """One unbranched piece of the tree and how each observer drew it."""

    __slots__ = ("contrast", "delta_2nd", "end_1st", "end_2nd", "points", "shift_2nd", "widths")


def _grow_tree(rng, disc, geometry):
    scale = geometry.scale
    # Widest first: trunks are laid down, then branches fill the space left.
    # Entries: (-width, order, (start, angle, bias, length, contrast, depth,
    # parent number, index of the branch point along the parent)).
    pending, order = [], itertools.count()
    for angle, width, bias, length, contrast in TRUNKS:
        heapq.heappush(
            pending,
            (
                -width * rng.uniform(0.9, 1.1),
                next(order),
                (
                    disc + rng.normal(0, 3 * scale, 2),
                    np.radians(angle + rng.normal(0, 5)),
                    bias * rng.uniform(0.8, 1.2) / scale,
                    length * scale * rng.uniform(0.9, 1.1),
                    contrast,
                    0,
                    0,
                    0,
                ),
            ),
        )
    vessels = []
    while pending:
        width, _, (start, angle, bias, length, contrast, depth, parent, index) = heapq.heappop(
            pending
        )
        vessel, branches = _grow_vessel(
            rng,
            start,
            angle,
            -width,
            bias,
            length,
            contrast,
            depth,
            geometry,
            owner=len(vessels) + 1,
            parent=parent,
        )
        if vessel is None:
            continue
        if parent:
            # An observer who stopped tracing the parent before this branch
            # point (or missed it) does not draw the branch either.
            above = vessels[parent - 1]
            if above.end_1st <= index:
                vessel.end_1st = 0
            if above.end_2nd <= index:
                vessel.end_2nd = 0
        vessels.append(vessel)
        for child_width, *child in branches:
            heapq.heappush(pending, (-child_width, next(order), tuple(child)))
    return vessels


def _grow_vessel(
    rng, start, angle, width, bias, length, contrast, depth, geometry, *, owner, parent
):
    scale = geometry.scale
    count = max(int(length / (STEP * scale)), 2)
    # Curvature is a smooth random process (AR(1), correlation length
    # CURL_LENGTH) plus a bias: the angle is its running sum, so paths bend
    # smoothly; thin vessels are more tortuous than trunks.
    step = STEP * scale
    curl = CURL_LENGTH / 2 if width < 2.5 else CURL_LENGTH
    if depth == 0 and width > 4:
        spread = 0.003
    else:
        spread = 0.006 + 0.014 * min(max((4.5 - width) / 3.5, 0.0), 1.0)
    decay = np.exp(-STEP / curl)
    taps = decay ** np.arange(int(4 * curl / STEP))
    noise = rng.normal(0, spread / scale * np.sqrt(1 - decay**2), count + len(taps) - 1)
    curvature = np.convolve(noise, taps, mode="valid")
    bend = bias * np.exp(-np.arange(count) * STEP / BEND_LENGTH)
    angles = angle + np.cumsum((curvature + bend) * step)
    steps = step * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = start + np.concatenate([[[0.0, 0.0]], np.cumsum(steps, axis=0)[:-1]])
    # Thick vessels keep some width at their end; thin ones fade to one pixel.
    end_ratio = 0.45 if width > 3 else rng.uniform(0.5, 0.8)
    widths = width * np.linspace(1.0, end_ratio, count) * max(scale, 0.3)
    kept = geometry.allowed_length(points, owner, parent, crossing=depth == 0)
    if kept < 10:
        return None, []
    points, widths = points[:kept], widths[:kept]
    geometry.claim(points, angles[:kept], widths, owner)

    vessel = _Vessel()
    vessel.points, vessel.widths, vessel.contrast = points, widths, contrast
    thin = width < 2.2
    n = len(points)
    # The two observers stop thin vessels at different places, and each
    # misses a few faint branches altogether.
    vessel.end_1st = n if not thin else int(n * rng.uniform(0.8, 1.0))
    vessel.end_2nd = n if not thin else int(n * rng.uniform(0.65, 1.0))
    if thin and rng.random() < 0.04:
        vessel.end_1st = 0
    if thin and rng.random() < 0.12:
        vessel.end_2nd = 0
    vessel.delta_2nd = rng.choice([-1, 0, 1]) if width >= 2.5 else rng.choice([0, 0, 0, 1])
    vessel.shift_2nd = rng.normal(0, 0.6, 2)

    branches = []
    if depth < 5:
        position = rng.uniform(12, 40) * scale
        while True:
            position += rng.uniform(12, 32) * scale
            index = int(position / (STEP * scale))
            if index >= n - 3:
                break
            parent_width = widths[index] / max(scale, 0.3)
            child_width = parent_width * rng.uniform(0.3, 0.7)
            if child_width < 0.8:
                if rng.random() < 0.6:
                    continue
                child_width = rng.uniform(0.8, 1.2)
            # Branches mostly head away from the disc, so the tree fills the eye.
            turn = np.radians(rng.uniform(30, 75))
            outward = np.arctan2(*(points[index] - geometry.disc)[::-1])
            side = (
                1.0
                if np.cos(angles[index] + turn - outward) > np.cos(angles[index] - turn - outward)
                else -1.0
            )
            if rng.random() < 0.35:
                side = -side
            child_angle = angles[index] + side * turn
            child_length = (60 + 70 * child_width) * rng.uniform(0.6, 1.4) * scale
            child_bias = rng.normal(0, 1 / 250) / scale
            branches.append(
                (
                    child_width,
                    points[index],
                    child_angle,
                    child_bias,
                    child_length,
                    contrast * rng.uniform(0.85, 1.0),
                    depth + 1,
                    owner,
                    index,
                )
            )
    return vessel, branches


def _runs(keys):
    """Index ranges [start, stop] (inclusive stop) of equal consecutive keys."""
    breaks = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(keys) - 1]])
    return zip(starts, stops)


def _polyline(draw, points, size, fill, cap=False):
    """A wide polyline without the seams PIL leaves at its joints.

    PIL draws a wide polyline segment by segment, leaving thin gaps where
    they meet; a second pass through the segment midpoints covers them.
    ``cap`` rounds the first end, where a vessel leaves its parent.
    """
    if len(points) == 1:
        points = np.concatenate([points, points])
    draw.line(points.ravel().tolist(), fill=fill, width=size)
    if size > 2:
        if len(points) > 2:
            middles = (points[1:] + points[:-1]) / 2
            draw.line(middles.ravel().tolist(), fill=fill, width=size)
        if cap:
            (x, y), r = points[0], (size - 1) / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _stroke(draw, points, sizes, fill):
    """Draw a polyline whose integer width changes along it, run by run."""
    for start, stop in _runs(sizes):
        run = points[start : max(stop, start + 1) + 1]
        _polyline(draw, run, int(sizes[start]), fill, cap=start == 0)


def _draw_masks(vessels, shape, scale):
    height, width = shape
    first = Image.new("1", (width, height), 0)
    second = Image.new("1", (width, height), 0)
    draw_first, draw_second = ImageDraw.Draw(first), ImageDraw.Draw(second)
    for vessel in vessels:
        sizes = np.maximum(np.rint(vessel.widths), 1).astype(int)
        if vessel.end_1st > 1:
            end = vessel.end_1st
            _stroke(draw_first, vessel.points[:end], sizes[:end], 1)
        if vessel.end_2nd > 1:
            end = vessel.end_2nd
            sizes_2nd = np.maximum(sizes + vessel.delta_2nd, 1)
            _stroke(draw_second, vessel.points[:end] + vessel.shift_2nd * scale, sizes_2nd[:end], 1)
    return np.array(first, dtype=bool), np.array(second, dtype=bool)


def _draw_darkness(vessels, shape):
    """Vessel darkness in [0, 1], drawn at 2x and averaged down (anti-aliased)."""
    height, width = shape
    canvas = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    strokes = []
    for vessel in vessels:
        n = len(vessel.points)
        # Thin vessels are faint, and their tips fade out.
        thickness = np.minimum(np.maximum(vessel.widths / 3.5, 0.3), 1)
        contrast = vessel.contrast * thickness**0.6
        fade = np.minimum(np.maximum((n - np.arange(n)) / 12.0, 0.35), 1)
        level = np.rint(contrast * fade * 16).astype(int) * 15
        sizes = np.maximum(np.rint(vessel.widths * SUPERSAMPLE), 1).astype(int)
        keys = level * 1000 + sizes
        for start, stop in _runs(keys):
            strokes.append(
                (level[start], sizes[start], vessel.points[start : stop + 2], start == 0)
            )
    # Darkest last, so a thin branch never lightens the trunk it leaves.
    strokes.sort(key=lambda s: s[0])
    for level, size, points, cap in strokes:
        _polyline(draw, (points + 0.5) * SUPERSAMPLE - 0.5, int(size), int(level), cap)
    canvas = canvas.resize((width, height), Image.Resampling.BOX)
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _smooth_noise(rng, shape, cells):
    """Low-frequency noise in about [-1, 1]: a small random grid upsampled."""
    height, width = shape
    grid = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    field = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32)


def _compose(rng, darkness, centre, radius, disc, fovea, scale):
    height, width = darkness.shape
    # Python floats keep the arithmetic in float32 (numpy scalars would not).
    cx, cy, radius = float(centre[0]), float(centre[1]), float(radius)

    # The background is smooth, so it is computed on a grid LIGHT_STEP times
    # coarser and enlarged: illumination (a bright centre, a tilt towards one
    # side, vignetting to the rim, slow blotches) and a darker, browner macula.
    small = (grid.ceil_div(height, LIGHT_STEP), grid.ceil_div(width, LIGHT_STEP))
    sx = np.arange(small[1], dtype=np.float32) * LIGHT_STEP + (LIGHT_STEP - 1) / 2
    sy = np.arange(small[0], dtype=np.float32) * LIGHT_STEP + (LIGHT_STEP - 1) / 2
    dx, dy = (sx - cx)[None, :], (sy - cy)[:, None]
    r = np.sqrt(dx**2 + dy**2) / radius
    tilt = rng.uniform(0, 2 * np.pi)
    gradient = (dx * np.cos(tilt) + dy * np.sin(tilt)) / radius
    light = (
        1.05
        - rng.uniform(0.28, 0.40) * r**2.5
        + rng.uniform(0.05, 0.14) * gradient
        + 0.035 * _smooth_noise(rng, small, 5)
    )
    sigma2 = 2 * (48 * scale) ** 2
    macula = (
        np.exp(-((sy - float(fovea[1])) ** 2) / sigma2)[:, None]
        * np.exp(-((sx - float(fovea[0])) ** 2) / sigma2)[None, :]
    )
    colour = np.array(FUNDUS_COLOUR) * rng.uniform(0.9, 1.07, 3)
    colour[0] = FUNDUS_COLOUR[0] * rng.uniform(0.95, 1.05)
    # Choroidal texture: a faint mottling at a scale of a few pixels.
    mottle = 1 + 0.015 * _smooth_noise(rng, (height, width), int(110 * max(scale, 0.3)))
    image = np.empty((height, width, 3), np.float32)
    for channel, (base, shade, absorption) in enumerate(
        zip(colour, (0.16, 0.22, 0.15), VESSEL_ABSORPTION)
    ):
        plane = light * (float(base) * (1 - shade * macula))
        plane = Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR)
        # Vessels absorb most in green.
        image[..., channel] = np.asarray(plane) * mottle * (1 - absorption * darkness)

    # Optic disc: a bright yellowish ellipse with a brighter cup and a soft
    # rim, computed on its bounding box only and laid under the vessels.
    semi = np.array([40.0, 45.0]) * scale * rng.uniform(0.9, 1.1)
    top = int(max(disc[1] - 2 * semi[1], 0))
    bottom = int(min(disc[1] + 2 * semi[1] + 1, height))
    left = int(max(disc[0] - 2 * semi[0], 0))
    right = int(min(disc[0] + 2 * semi[0] + 1, width))
    if top < bottom and left < right:
        ex = (np.arange(left, right, dtype=np.float32) - float(disc[0])) / float(semi[0])
        ey = (np.arange(top, bottom, dtype=np.float32) - float(disc[1])) / float(semi[1])
        e = np.sqrt(ex[None, :] ** 2 + ey[:, None] ** 2)
        rim = 1 / (1 + np.exp((e - 1) * 12))
        halo = np.exp(-(np.maximum(e - 1, 0) ** 2) / 0.05) * 0.2
        weight = np.maximum(rim, halo)[..., None]
        cup = 0.7 / (1 + np.exp((e - 0.45) * 14))[..., None]
        vessels = 1 - darkness[top:bottom, left:right, None] * np.array(
            VESSEL_ABSORPTION, np.float32
        )
        box = image[top:bottom, left:right] / vessels
        box = box * (1 - weight) + weight * np.array(DISC_COLOUR, np.float32)
        box = box * (1 - cup) + cup * np.array(CUP_COLOUR, np.float32)
        image[top:bottom, left:right] = box * vessels

    # Black outside the FOV with a soft edge.
    dx = (np.arange(width, dtype=np.float32) - cx)[None, :]
    dy = (np.arange(height, dtype=np.float32) - cy)[:, None]
    edge = np.clip((radius - np.sqrt(dx**2 + dy**2)) / 2.5 + 0.5, 0, 1)[..., None]
    image = image * edge + BACKGROUND_LEVEL * (1 - edge)
    # Sensor noise, grainy over 2 x 2 pixels as after demosaicing: the sum of
    # four uniform values, scaled to a standard deviation of NOISE.
    noise = rng.random((height + 1, width + 1, 3), dtype=np.float32) - np.float32(0.5)
    noise = noise[1:, 1:] + noise[:-1, 1:] + noise[1:, :-1] + noise[:-1, :-1]
    image += noise * np.float32(NOISE * np.sqrt(3))
    pixels = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return np.asarray(pixels, dtype=np.float32) / np.float32(255.0)
