"""The U-Net: one function that builds it, an optional front layer, and helpers that read it back.

Explained in ``book/02_unet_architecture.ipynb``.

A U-Net (Ronneberger, Fischer and Brox, 2015) is an encoder-decoder with
skip connections. The contracting path halves the image ``depth`` times and
doubles the number of feature maps each time, so deep layers see a wide
context; the expanding path doubles it back, and the skip connections hand
each level's fine detail across, so thin vessels are located to the pixel.

Three presets:

``"article"``
    The classic U-Net, the size the 2019 article trains: 64 filters at the
    top, 4 down-steps, 1024 at the bottom, dropout at the end of the
    contracting path as in the 2015 paper; 31,031,745 parameters.
``"wide"``
    The recipe of the shipped pretrained model: 32 filters, 3 down-steps,
    batch normalisation; 1,929,825 parameters (1,927,009 of them trainable).
``"compact"`` (default)
    Small and fast enough for a laptop CPU (about 0.15 s per DRIVE image on
    two cores): 16 filters, 3 down-steps, batch normalisation; 484,145
    parameters (482,737 of them trainable).

Because every layer is convolutional, one model takes any image whose sides
are multiples of ``2 ** depth``: 64-pixel training patches and whole DRIVE
images padded to 592 x 576 alike.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from retina_tutorial import scale

#: Defaults of the three U-Net sizes; explicit arguments of :func:`build_unet` win.
PRESETS = {
    "article": {"base_filters": 64, "depth": 4, "batch_norm": False, "dropout": 0.5},
    "wide": {"base_filters": 32, "depth": 3, "batch_norm": True, "dropout": 0.0},
    "compact": {"base_filters": 16, "depth": 3, "batch_norm": True, "dropout": 0.0},
}


def build_unet(
    input_shape=(None, None, 3),
    preset: str = "compact",
    *,
    base_filters: int | None = None,
    depth: int | None = None,
    batch_norm: bool | None = None,
    dropout: float | None = None,
    contrast_sigma: float = 0.0,
    name: str | None = None,
    seed: int | None = None,
    training_scale: scale.Scale | None = scale.DRIVE,
) -> keras.Model:
    """Build a U-Net that maps RGB images to vessel probabilities.

    Explained in ``book/02_unet_architecture.ipynb``.

    Parameters
    ----------
    input_shape : tuple of (int or None)
        ``(height, width, channels)``. ``None`` sides (the default) accept any
        size that is a multiple of ``2 ** depth``; fixed sides must be one.
    preset : {'compact', 'wide', 'article'}
        Supplies the defaults below. ``"compact"`` has 484,145 parameters
        (16 base filters, depth 3, batch norm), ``"wide"`` 1,929,825 (32 base
        filters, depth 3, batch norm); ``"article"`` has 31,031,745
        (64 base filters, depth 4, dropout 0.5 at the bottleneck).
    base_filters : int, optional
        Feature maps of the first level; each level down doubles them.
    depth : int, optional
        Number of down-sampling steps (2 x 2 max pooling).
    batch_norm : bool, optional
        Normalise after each 3 x 3 convolution (before its ReLU).
    dropout : float, optional
        Dropout rate after the bottleneck, in [0, 1); 0 turns it off.
    contrast_sigma : float
        When positive, the network sees each colour channel twice: as given
        and locally contrast-normalised by :class:`LocalContrastNormalization`
        with this Gaussian width in pixels. 0 (the default, in every preset)
        turns it off.
    name : str, optional
        Model name; ``"unet_<preset>"`` by default.
    seed : int, optional
        Seeds the initial weights (and dropout) from a generator of its
        own, so that the same seed builds the same model and the process's
        random state (``random``, NumPy, TensorFlow) is neither used nor
        changed. ``None`` draws them as Keras does by default.
    training_scale : retina_tutorial.scale.Scale or None
        The image scale the model is meant to see, recorded on it
        (:func:`retina_tutorial.scale.attach`) for prediction to resize
        photographs to: DRIVE's by default; :func:`retina_tutorial.train.train`
        records the scale it trains at.

    Returns
    -------
    keras.Model
        Input (B, H, W, C) float32 images; output (B, H, W, 1) float32
        probabilities (float32 even under a mixed-precision policy).

    Raises
    ------
    ValueError
        Unknown preset, a non-positive size, or a fixed input side that is not
        a multiple of ``2 ** depth``.

    Examples
    --------
    >>> model = build_unet()
    >>> model.count_params()
    484145
    >>> model.output_shape
    (None, None, None, 1)
    """
    if preset not in PRESETS:
        known = ", ".join(repr(p) for p in sorted(PRESETS))
        raise ValueError(f"build_unet: unknown preset {preset!r}; choose one of {known}.")
    settings = PRESETS[preset]
    base_filters = settings["base_filters"] if base_filters is None else base_filters
    depth = settings["depth"] if depth is None else depth
    batch_norm = settings["batch_norm"] if batch_norm is None else bool(batch_norm)
    dropout = settings["dropout"] if dropout is None else float(dropout)
    for argument, value in (("base_filters", base_filters), ("depth", depth)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"build_unet: {argument} must be a positive integer, got {value!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"build_unet: dropout must lie in [0, 1), got {dropout!r}.")
    if (
        isinstance(contrast_sigma, bool)
        or not isinstance(contrast_sigma, (int, float))
        or contrast_sigma < 0
    ):
        raise ValueError(
            "build_unet: contrast_sigma must be a number >= 0 (0 turns it off), "
            f"got {contrast_sigma!r}."
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"build_unet: input_shape must be (height, width, channels), got {input_shape!r}."
        )
    multiple = 2**depth
    for side, size in zip(("height", "width"), input_shape[:2]):
        if size is not None and (size < 1 or size % multiple):
            raise ValueError(
                f"build_unet: input {side} {size} is not a multiple of {multiple} "
                f"(2 ** depth, depth={depth}). Use None for any size, or pad the "
                f"image to a multiple of {multiple} (inference.pad_to_multiple does)."
            )

    # One generator for the whole model: each layer draws its own seed from it.
    draws = None if seed is None else np.random.default_rng(_check_seed(seed))

    def initializer(kind: str):
        if draws is None:
            return kind
        return keras.initializers.get(
            {"class_name": kind, "config": {"seed": int(draws.integers(2**31 - 1))}}
        )

    def conv_block(x, filters, prefix):
        # Two 3 x 3 convolutions; "same" padding keeps the size, so the
        # skip connections line up without the 2015 paper's cropping.
        for i in (1, 2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not batch_norm,
                kernel_initializer=initializer("HeNormal"),
                name=f"{prefix}_conv{i}",
            )(x)
            if batch_norm:
                # momentum 0.9, not Keras's 0.99: the running statistics used
                # for validation settle within ~30 steps, not ~300, so even the
                # quick profile's 60 steps validate with the right ones.
                x = keras.layers.BatchNormalization(momentum=0.9, name=f"{prefix}_norm{i}")(x)
            x = keras.layers.Activation("relu", name=f"{prefix}_relu{i}")(x)
        return x

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if contrast_sigma > 0:
        normalised = LocalContrastNormalization(contrast_sigma, name="local_contrast")(inputs)
        x = keras.layers.Concatenate(name="image_and_contrast")([inputs, normalised])

    # Contracting path: convolve, keep the result for the skip, halve the size.
    skips = []
    for level in range(depth):
        x = conv_block(x, base_filters * 2**level, f"down{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)

    # Bottleneck: the coarsest grid and the most feature maps.
    x = conv_block(x, base_filters * 2**depth, "bottleneck")
    if dropout > 0:
        dropout_seed = None if draws is None else int(draws.integers(2**31 - 1))
        x = keras.layers.Dropout(dropout, seed=dropout_seed, name="bottleneck_dropout")(x)

    # Expanding path: double the size, join the matching skip, convolve.
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = keras.layers.Conv2DTranspose(
            filters,
            2,
            strides=2,
            kernel_initializer=initializer("GlorotUniform"),
            name=f"up{level + 1}_transpose",
        )(x)
        x = keras.layers.Concatenate(name=f"up{level + 1}_skip")([skips[level], x])
        x = conv_block(x, filters, f"up{level + 1}")

    # One probability per pixel. float32 so mixed-precision training never
    # rounds probabilities near 0 or 1 to float16.
    outputs = keras.layers.Conv2D(
        1,
        1,
        activation="sigmoid",
        kernel_initializer=initializer("GlorotUniform"),
        dtype="float32",
        name="vessel_probability",
    )(x)
    unet = keras.Model(inputs, outputs, name=name or f"unet_{preset}")
    scale.attach(unet, training_scale)
    return unet


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"build_unet: seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


@keras.saving.register_keras_serializable(package="retina_tutorial")
class LocalContrastNormalization(keras.layers.Layer):
    """Subtract each channel's local mean and divide by its local spread.

    Explained in ``book/02_unet_architecture.ipynb``. Both are Gaussian
    averages of width ``sigma`` pixels, so a faint vessel in a dark corner of
    the fundus and a dark vessel near the bright optic disc come out with
    similar contrast. No weights are learnt; the layer keeps the input's
    shape, ``(B, H, W, C)``.

    Parameters
    ----------
    sigma : float
        Standard deviation of the Gaussian window, in pixels.
    epsilon : float
        Added to the local variance so flat regions are not amplified into
        noise (a local standard deviation below ``sqrt(epsilon)`` counts as
        that much).
    """

    def __init__(self, sigma: float = 10.0, epsilon: float = 1e-4, **kwargs):
        super().__init__(**kwargs)
        if not sigma > 0 or not epsilon > 0:
            raise ValueError(
                "LocalContrastNormalization: sigma and epsilon must be positive, "
                f"got {sigma!r} and {epsilon!r}."
            )
        self.sigma = float(sigma)
        self.epsilon = float(epsilon)
        self.radius = math.ceil(3 * self.sigma)

    def build(self, input_shape):
        offsets = np.arange(-self.radius, self.radius + 1, dtype="float32")
        weights = np.exp(-0.5 * (offsets / self.sigma) ** 2)
        weights /= weights.sum()
        channels = int(input_shape[-1])
        # Separable depthwise kernels: a column pass, then a row pass, per channel.
        self._column = np.tile(weights.reshape(-1, 1, 1, 1), (1, 1, channels, 1))
        self._row = np.tile(weights.reshape(1, -1, 1, 1), (1, 1, channels, 1))

    def _blur(self, x):
        x = keras.ops.depthwise_conv(x, keras.ops.cast(self._column, x.dtype), padding="same")
        return keras.ops.depthwise_conv(x, keras.ops.cast(self._row, x.dtype), padding="same")

    def call(self, inputs):
        centred = inputs - self._blur(inputs)
        spread = keras.ops.sqrt(self._blur(centred * centred) + self.epsilon)
        return centred / spread

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sigma": self.sigma, "epsilon": self.epsilon}


def model_depth(model: keras.Model) -> int:
    """Number of down-sampling steps, counted from the model's layers.

    Explained in ``book/02_unet_architecture.ipynb``.

    Works on a model read back from a ``.keras`` file as well as on one
    just built. Returns 0 for a model without pooling.

    Examples
    --------
    >>> model_depth(build_unet(preset="article"))
    4
    """
    return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)


def receptive_field(depth: int, convolutions: int = 2, kernel: int = 3) -> int:
    """Width in input pixels of the square one output pixel depends on.

    Explained in ``book/02_unet_architecture.ipynb``: walking back from one
    output pixel, each ``kernel`` x ``kernel`` convolution widens the region
    by ``kernel - 1`` pixels of its own grid, a stride-2 transposed
    convolution maps ``r`` fine pixels to at most ``r // 2 + 1`` coarse ones,
    and each 2 x 2 pooling doubles the width on the way down to the input.

    Parameters
    ----------
    depth : int
        Number of down-sampling steps (``model_depth``).
    convolutions : int
        Convolutions per level (``build_unet`` uses 2).
    kernel : int
        Side of the convolution kernels.

    Examples
    --------
    >>> receptive_field(3), receptive_field(4)
    (100, 204)
    """
    for name, value in (("depth", depth), ("convolutions", convolutions), ("kernel", kernel)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (0 if name == "depth" else 1)
        ):
            raise ValueError(f"receptive_field: {name} must be a positive integer, got {value!r}.")
    widen = convolutions * (kernel - 1)
    size = 1
    for _ in range(depth):  # back up the expanding path
        size = (size + widen) // 2 + 1
    size += widen  # the bottleneck
    for _ in range(depth):  # back down the contracting path
        size = 2 * size + widen
    return size


def contrast_radius(model: keras.Model) -> int:
    """How far, in pixels, local contrast normalisation reaches: 0 without it.

    Explained in ``book/02_unet_architecture.ipynb``. The layer blurs twice
    (once for the local mean, once for the local spread), each time with a
    Gaussian cut off at three standard deviations, so an output pixel of
    :class:`LocalContrastNormalization` depends on input pixels up to two
    cut-off radii away. The U-Net's own receptive field
    (:func:`receptive_field`) comes on top.

    Examples
    --------
    >>> contrast_radius(build_unet()), contrast_radius(build_unet(contrast_sigma=10.0))
    (0, 60)
    """
    return sum(
        2 * layer.radius for layer in model.layers if isinstance(layer, LocalContrastNormalization)
    )


def required_multiple(model: keras.Model) -> int:
    """The number both image sides must be a multiple of: ``2 ** depth``.

    Explained in ``book/02_unet_architecture.ipynb``.

    Examples
    --------
    >>> required_multiple(build_unet())
    8
    """
    return 2 ** model_depth(model)
