"""Losses and metrics that only count pixels inside the field of view (FOV).

Explained in ``book/04_training.ipynb``.

A DRIVE photograph is a bright disc on black: a third of its pixels lie
outside the eye, where there are no vessels to find. Counting them would
reward a model for the easy job of calling black "background" and would
inflate every score, so the literature measures inside the FOV only, and so
do we, already while training.

Targets carry the FOV with them: ``y_true`` has shape (B, H, W, 2), channel 0
the vessel mask and channel 1 the FOV mask, both 0 or 1. Predictions
``y_pred`` are (B, H, W, 1) sigmoid probabilities. :func:`unstack_targets`
separates the two channels; every loss and metric here then ignores the
pixels whose FOV is 0 (outside the eye, padding, and the corners that
augmentation uncovers), whatever is predicted there.

Everything uses ``keras.ops``, so it runs on the TensorFlow and JAX backends,
and everything is registered, so a saved model loads with
``keras.saving.load_model(path, safe_mode=True)``.
"""

from __future__ import annotations

import keras
from keras import ops

from retina_tutorial import deprecated

#: Added to the numerator and denominator of the soft Dice: an empty patch
#: (no vessel, none predicted) scores 1 instead of 0 / 0.
DICE_SMOOTH = 1.0

_register = keras.saving.register_keras_serializable(package="retina_tutorial")


def unstack_targets(y_true):
    """Separate the vessel and FOV channels of the targets.

    Explained in ``book/04_training.ipynb``.

    Parameters
    ----------
    y_true : (B, H, W, 2) float tensor
        Channel 0 = vessel, channel 1 = FOV, values 0 or 1.

    Returns
    -------
    vessel, fov : (B, H, W, 1) float32 tensors

    Raises
    ------
    ValueError
        If the last axis does not have 2 channels.

    Examples
    --------
    >>> import numpy as np
    >>> vessel, fov = unstack_targets(np.zeros((1, 4, 4, 2), "float32"))
    >>> tuple(vessel.shape), tuple(fov.shape)
    ((1, 4, 4, 1), (1, 4, 4, 1))
    """
    y_true = ops.convert_to_tensor(y_true, dtype="float32")
    if y_true.shape[-1] != 2:
        raise ValueError(
            f"targets must have 2 channels (vessel, FOV) on the last axis, got shape "
            f"{tuple(y_true.shape)}. Make them with retina_tutorial.pipeline, which "
            "stacks the vessel and FOV masks."
        )
    return y_true[..., 0:1], y_true[..., 1:2]


def _inside(y_true, y_pred):
    """Vessel labels, probabilities and the FOV as a boolean mask, all (B, H, W, 1)."""
    vessel, fov = unstack_targets(y_true)
    y_pred = ops.cast(y_pred, "float32")
    if len(y_pred.shape) == len(vessel.shape) - 1:
        y_pred = ops.expand_dims(y_pred, -1)
    return vessel, y_pred, fov > 0.5


@_register
def masked_bce(y_true, y_pred):
    """Binary cross-entropy averaged over the FOV pixels of the whole batch.

    Explained in ``book/04_training.ipynb``.

    ``-(y log p + (1 - y) log(1 - p))`` with ``p`` clipped to
    ``[eps, 1 - eps]`` (``eps = keras.config.epsilon()``, as Keras's own
    cross-entropy does), summed over FOV pixels and divided by their number.
    Pixels outside the FOV contribute nothing, even NaN predictions.

    Parameters
    ----------
    y_true : (B, H, W, 2) float tensor
        Vessel and FOV channels.
    y_pred : (B, H, W, 1) float tensor
        Vessel probabilities in [0, 1].

    Returns
    -------
    () float32 tensor
        0 when the batch has no FOV pixel.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[[[1, 1], [0, 1], [1, 0]]]], "float32")  # (1, 1, 3, 2)
    >>> y_pred = np.array([[[[0.5], [0.5], [0.0]]]], "float32")
    >>> round(float(masked_bce(y_true, y_pred)), 4)  # ln 2: the third pixel is outside
    0.6931
    """
    vessel, y_pred, inside = _inside(y_true, y_pred)
    eps = keras.config.epsilon()
    p = ops.clip(y_pred, eps, 1.0 - eps)
    per_pixel = -(vessel * ops.log(p) + (1.0 - vessel) * ops.log(1.0 - p))
    # where, not a product: 0 * NaN would still be NaN.
    total = ops.sum(ops.where(inside, per_pixel, 0.0))
    count = ops.sum(ops.cast(inside, "float32"))
    return total / ops.maximum(count, 1.0)


@_register
def masked_dice_loss(y_true, y_pred):
    """Soft Dice loss, ``1 - Dice``, over the FOV pixels of the whole batch.

    Explained in ``book/04_training.ipynb``.

    ``Dice = (2 sum(p y) + s) / (sum(p) + sum(y) + s)`` with probabilities
    ``p`` (not thresholded, so it has gradients), labels ``y`` and
    ``s = DICE_SMOOTH``, sums over FOV pixels only. It is a ratio of overlap to
    size, so rare vessels (about an eighth of the eye) weigh as much as the
    background in it; the background still pushes, as chapter 06 measures.
    It is not a proper scoring rule, so minimising it drives probabilities
    towards 0 and 1: its maps are over-confident, unlike cross-entropy's.

    Parameters
    ----------
    y_true : (B, H, W, 2) float tensor
        Vessel and FOV channels.
    y_pred : (B, H, W, 1) float tensor
        Vessel probabilities in [0, 1].

    Returns
    -------
    () float32 tensor
        In [0, 1]: 0 for a perfect prediction.

    Examples
    --------
    >>> import numpy as np
    >>> y_true = np.array([[[[1, 1], [0, 1], [1, 0]]]], "float32")
    >>> float(masked_dice_loss(y_true, y_true[..., :1]))
    0.0
    """
    vessel, y_pred, inside = _inside(y_true, y_pred)
    p = ops.where(inside, y_pred, 0.0)
    y = ops.where(inside, vessel, 0.0)
    dice = (2.0 * ops.sum(p * y) + DICE_SMOOTH) / (ops.sum(p) + ops.sum(y) + DICE_SMOOTH)
    return 1.0 - dice


@_register
def masked_bce_dice(y_true, y_pred):
    """Sum of :func:`masked_bce` and :func:`masked_dice_loss`.

    Explained in ``book/04_training.ipynb``.

    Cross-entropy gives every pixel a steady gradient; Dice keeps the rare
    vessel pixels from being outvoted by the background.

    Parameters
    ----------
    y_true : (B, H, W, 2) float tensor
        Vessel and FOV channels.
    y_pred : (B, H, W, 1) float tensor
        Vessel probabilities in [0, 1].

    Returns
    -------
    () float32 tensor
    """
    return masked_bce(y_true, y_pred) + masked_dice_loss(y_true, y_pred)


#: Loss names accepted by :func:`get_loss` (and ``Profile.loss``).
LOSSES = {"bce": masked_bce, "dice": masked_dice_loss, "bce_dice": masked_bce_dice}


def get_loss(name: str):
    """The FOV-restricted loss function called ``name``.

    Explained in ``book/04_training.ipynb``.

    Parameters
    ----------
    name : {'bce', 'dice', 'bce_dice'}

    Returns
    -------
    callable
        ``loss(y_true, y_pred) -> scalar``, ready for ``model.compile``.

    Raises
    ------
    ValueError
        For any other name.

    Examples
    --------
    >>> get_loss("bce").__name__
    'masked_bce'
    """
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(n) for n in LOSSES)
        raise ValueError(f"Unknown loss {name!r}: choose one of {known} (Profile.loss).") from None


@_register
class FovAUC(keras.metrics.AUC):
    """Area under the ROC curve of the FOV pixels.

    Explained in ``book/04_training.ipynb``.

    ``keras.metrics.AUC`` on the vessel channel, with the FOV channel as the
    sample weight, so pixels outside the FOV count zero times. Keras
    approximates the curve on ``num_thresholds`` evenly spaced thresholds;
    with the default 1000 it agrees with the exact
    (``sklearn.metrics.roc_auc_score``) value to about 1e-3.

    Parameters
    ----------
    num_thresholds : int
        Thresholds in [0, 1] at which the curve is sampled.
    name : str
        ``"auc"``, so Keras logs ``auc`` and ``val_auc``.
    **kwargs
        Passed to ``keras.metrics.AUC`` (``curve="PR"`` gives the PR AUC).
    """

    def __init__(self, num_thresholds: int = 1000, name: str = "auc", **kwargs):
        super().__init__(num_thresholds=num_thresholds, name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch: ``y_true`` (B, H, W, 2), ``y_pred`` (B, H, W, 1)."""
        vessel, y_pred, inside = _inside(y_true, y_pred)
        weight = ops.cast(inside, "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(sample_weight, "float32")
        # NaN outside the FOV must not reach the threshold counts either.
        y_pred = ops.where(inside, y_pred, 0.0)
        return super().update_state(vessel, y_pred, sample_weight=weight)


@_register
class FovDice(keras.metrics.Metric):
    """Dice of the prediction thresholded at 0.5, over all FOV pixels seen.

    Explained in ``book/04_training.ipynb``.

    A pixel counts as vessel when its probability is >= 0.5. The counts of
    true, predicted and overlapping vessel pixels are summed over every
    batch of the epoch before dividing, so the value is the pooled Dice
    (equal to the F1 score of :func:`retina_tutorial.metrics.pixel_metrics`
    at threshold 0.5), not an average over batches. It is 1 when there are
    no vessels and none are predicted.

    Parameters
    ----------
    threshold : float
        Probability at or above which a pixel is called vessel.
    name : str
        ``"dice"``, so Keras logs ``dice`` and ``val_dice``.
    """

    def __init__(self, threshold: float = 0.5, name: str = "dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = float(threshold)
        self.overlap = self.add_variable(shape=(), initializer="zeros", name="overlap")
        self.predicted = self.add_variable(shape=(), initializer="zeros", name="predicted")
        self.actual = self.add_variable(shape=(), initializer="zeros", name="actual")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch: ``y_true`` (B, H, W, 2), ``y_pred`` (B, H, W, 1)."""
        vessel, y_pred, inside = _inside(y_true, y_pred)
        weight = ops.cast(inside, "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(sample_weight, "float32")
        called = ops.cast(y_pred >= self.threshold, "float32")
        truth = ops.where(inside, vessel, 0.0)
        self.overlap.assign_add(ops.sum(weight * called * truth))
        self.predicted.assign_add(ops.sum(weight * called))
        self.actual.assign_add(ops.sum(weight * truth))

    def result(self):
        total = self.predicted + self.actual
        return ops.where(total > 0, 2.0 * self.overlap / ops.maximum(total, 1e-12), 1.0)

    def reset_state(self):
        for variable in (self.overlap, self.predicted, self.actual):
            variable.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


#: Renamed in 0.7, apart from pipeline.stack_targets that it undoes.
__getattr__ = deprecated.forwarder(__name__, {"split_targets": "losses.unstack_targets"})
